/* env.c — every environment variable libebm reads, in one place. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "internal.h"

static ebm_env_t env;
static int env_loaded;

static int is_off(const char *v) {
    return v && (!strcmp(v, "0") || !strcasecmp(v, "off") || !strcasecmp(v, "no") || !strcasecmp(v, "false"));
}

/* A positive size limit, or 0 (none) when unset; a value that is not a positive integer is
 * ignored with a warning rather than silently read as 0. */
static size_t size_limit(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || n == 0 || v[0] == '-') {
        ebm_log_message(EBM_LOG_WARN, "%s=%s is not a positive integer; ignored", name, v);
        return 0;
    }
    return (size_t)n;
}

/* variable name set to a or b: that number; unset: 0; anything else: 0 and a warning */
static int either(const char *name, int a, int b) {
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (!*end && (n == a || n == b)) return (int)n;
    ebm_log_message(EBM_LOG_WARN, "%s=%s is neither %d nor %d; ignored", name, v, a, b);
    return 0;
}

/* variable name set to word a, b or (where given) c: 1, 2 or 3; unset: 0; anything else: 0 and a
 * warning */
static int word_of(const char *name, const char *a, const char *b, const char *c) {
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    if (!strcasecmp(v, a)) return 1;
    if (!strcasecmp(v, b)) return 2;
    if (c && !strcasecmp(v, c)) return 3;
    if (c)
        ebm_log_message(EBM_LOG_WARN, "%s=%s is not %s, %s or %s; ignored", name, v, a, b, c);
    else
        ebm_log_message(EBM_LOG_WARN, "%s=%s is neither %s nor %s; ignored", name, v, a, b);
    return 0;
}
static int word_a_or_b(const char *name, const char *a, const char *b) { return word_of(name, a, b, NULL); }
static int one_or_tiles(const char *name) { return word_a_or_b(name, "one", "tiles"); }

const ebm_env_t *ebm_env(void) {
    if (env_loaded) return &env;
    env_loaded = 1;
    /* first: the warnings below go through the logger, which reads it */
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    const char *log = getenv("EBM_LOG");
    env.log_level = EBM_LOG_WARN;
    for (int l = 0; log && *log && l < 4; l++)
        if (!strcasecmp(log, levels[l])) env.log_level = l, log = NULL;
    if (log && *log) ebm_log_message(EBM_LOG_WARN, "EBM_LOG=%s is not debug, info, warn or error; ignored", log);
    env.device = getenv("EBM_DEVICE");
    env.cl_dir = getenv("EBM_CL_DIR");
    env.build_options = getenv("EBM_CL_OPTIONS");
    const char *cache = getenv("EBM_KERNEL_CACHE");
    env.cache_off = is_off(cache);
    if (cache && !env.cache_off && *cache) {
        snprintf(env.cache_dir, sizeof env.cache_dir, "%s", cache);
    } else if (getenv("XDG_CACHE_HOME") && *getenv("XDG_CACHE_HOME")) {
        snprintf(env.cache_dir, sizeof env.cache_dir, "%s/ebm-cl", getenv("XDG_CACHE_HOME"));
    } else if (getenv("HOME") && *getenv("HOME")) {
        snprintf(env.cache_dir, sizeof env.cache_dir, "%s/.cache/ebm-cl", getenv("HOME"));
    } else {
        env.cache_off = 1;
    }
    const char *dbg = getenv("EBM_KERNEL_CACHE_DEBUG");
    env.cache_debug = dbg && *dbg && !is_off(dbg);
    const char *gemm = getenv("EBM_GEMM");
    env.gemm = !gemm || !*gemm || !strcasecmp(gemm, "auto") ? 0 : (!strcasecmp(gemm, "clblast") ? 1 : (!strcasecmp(gemm, "tile") ? 2 : 0));
    const char *conv = getenv("EBM_CONV");
    env.conv = !conv || !*conv || !strcasecmp(conv, "auto") ? 0
               : !strcasecmp(conv, "gemm") ? 1 : !strcasecmp(conv, "fft") ? 2 : !strcasecmp(conv, "tile") ? 3
               : !strcasecmp(conv, "implicit") ? 4 : 0;
    const char *prof = getenv("EBM_PROFILE");
    env.profile = prof && *prof && !is_off(prof) ? (atoi(prof) >= 3 ? 3 : atoi(prof) >= 2 ? 2 : 1) : 0;
    env.max_work_group = size_limit("EBM_MAX_WORK_GROUP");
    env.max_local_mem = size_limit("EBM_MAX_LOCAL_MEM");
    env.breaks = getenv("EBM_BREAK");
    env.clblast_tuned_off = is_off(getenv("EBM_CLBLAST_TUNED"));
    const char *exact = getenv("EBM_EXACT_BUFFERS");
    env.exact_buffers = !exact || !*exact || is_off(exact) ? 0 : !strcasecmp(exact, "retire") ? 2 : 1;
    env.tile_rows = either("EBM_TILE_ROWS", 6, 8);
    env.fwd_panels = either("EBM_FWD_PANELS", 1, 2);
    env.fwd_items = one_or_tiles("EBM_FWD_ITEMS");
    env.igrad_items = one_or_tiles("EBM_IGRAD_ITEMS");
    env.igrad_zload = word_a_or_b("EBM_IGRAD_ZLOAD", "vectors", "runs");
    env.gemm_panels = either("EBM_GEMM_PANELS", 1, 2);
    env.igrad_panels = either("EBM_IGRAD_PANELS", 1, 2);
    env.igrad_pack = word_a_or_b("EBM_TILE_IGRAD_B", "inplace", "packed") == 2;
    env.reduce_lanes = either("EBM_REDUCE_LANES", 1, 16);
    env.stream_stores = word_of("EBM_STREAM_STORES", "off", "large", "all");
    env.prefetch = word_a_or_b("EBM_PREFETCH", "off", "on");
    env.first_order_off = word_a_or_b("EBM_FIRST_ORDER", "on", "off") == 2;
    return &env;
}

int ebm_env_breaks(const char *what) {
    size_t n = strlen(what);
    for (const char *p = ebm_env()->breaks; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncasecmp(p, what, n)) return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}
