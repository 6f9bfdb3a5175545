/* clblast_tuned.c — CLBlast's kernel parameters tuned for the device. CLBlast picks its GEMM
 * kernels' tile sizes from a built-in database, and for a device the database does not know
 * (a new GPU) from its vendor's or a generic default. CLBlast's own tuners (clblast_tuner_*,
 * Debian's clblast-utils) measure better ones and write them as JSON; `ebm clblast-import` (run by
 * tools/clblast_tune.sh) checks those files, runs GEMMs with the parameters against a
 * double-precision host product, and keeps them per device next to the kernel cache
 * (clblast-<hash of the device's name, driver and platform>.txt, one line per kernel:
 * "KERNEL MS NAME=VALUE ..."). Every context on that device loads the file and hands the
 * parameters to CLBlast (CLBlastOverrideParameters) before its first GEMM. The GEMM choices'
 * key carries the file's hash, so a new tuning measures CLBlast against the tile GEMM again.
 * EBM_CLBLAST_TUNED=off ignores the file. */
#include <clblast_c.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "internal.h"

enum { MAX_PARAMS = EBM_CLBLAST_MAX_PARAMS, NAME_LEN = EBM_CLBLAST_NAME_LEN };
typedef struct ebm_clblast_set tuned_set_t;

struct ebm_clblast_tuned {
    tuned_set_t *sets;
    int n, applied, off;   /* off: EBM_CLBLAST_TUNED=off, the sets neither applied nor in the hash */
    uint64_t hash;         /* of the accepted lines, 0 without any */
    char path[1100];
};

/* The tuners' kernel families (with a phase suffix _1, _2, ... for the GEMM ones), the kernel names
 * CLBlast's database knows them by, and the parameters whose product is a work-group's size: the
 * kernels a single-precision GEMM runs, each of them run by the import's checks (not Copy: CLBlast's
 * fast copy serves only GEMMs of other shapes and layouts than the checks') */
static const struct { const char *family, *kernel, *wg_x, *wg_y; } families[] = {
    {"xgemm", "Xgemm", "MDIMC", "NDIMC"},       {"xgemm_direct", "XgemmDirect", "MDIMCD", "NDIMCD"},
    {"pad", "Pad", "PAD_DIMX", "PAD_DIMY"},     {"transpose", "Transpose", "TRA_DIM", "TRA_DIM"},
    {"padtranspose", "Padtranspose", "PADTRA_TILE", "PADTRA_TILE"},
};

static const char *kernel_of_family(const char *family) {
    size_t len = strlen(family);
    /* "xgemm_1" -> "xgemm", "xgemm_direct_2" -> "xgemm_direct" */
    size_t end = len;
    while (end > 0 && family[end - 1] >= '0' && family[end - 1] <= '9') end--;
    if (end < len && end > 0 && family[end - 1] == '_') len = end - 1;
    for (size_t i = 0; i < sizeof families / sizeof *families; i++)
        if (strlen(families[i].family) == len && !strncasecmp(family, families[i].family, len)) return families[i].kernel;
    return NULL;
}

static int known_kernel(const char *k) {
    for (size_t i = 0; i < sizeof families / sizeof *families; i++)
        if (!strcmp(k, families[i].kernel)) return 1;
    return 0;
}

/* CLBlast's on/off parameters of GEMM's kernels (0 or 1); every other one is a size or a count, at
 * least 1 (CLBlast divides by them: a 0 crashes it) */
static int is_switch(const char *name, size_t len) {
    static const char *sw[] = {"GEMMK", "SA", "SB", "STRM", "STRN", "PADA", "PADB", "TRA_PAD", "TRA_SHUFFLE", "PADTRA_PAD"};
    for (size_t i = 0; i < sizeof sw / sizeof *sw; i++)
        if (strlen(sw[i]) == len && !strncmp(name, sw[i], len)) return 1;
    return 0;
}

/* "NAME=V NAME=V ..." into s (PRECISION, which names the tuning's precision, skipped); NULL or why not */
static const char *parse_params(const char *text, tuned_set_t *s) {
    s->n = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        size_t nl = strcspn(p, "= \t");
        if (p[nl] != '=' || nl == 0 || nl >= NAME_LEN) return "a parameter is not NAME=VALUE";
        for (size_t i = 0; i < nl; i++)
            if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
                return "a parameter name is not upper case letters, digits and _";
        char *end;
        errno = 0;
        long v = strtol(p + nl + 1, &end, 10);
        if (end == p + nl + 1 || (*end && *end != ' ' && *end != '\t') || errno || v < 0 || v > 1 << 20)
            return "a parameter's value is not a whole number from 0 to 2^20";
        if (is_switch(p, nl) ? v > 1 : v < 1) return "an on/off parameter is not 0 or 1, or a size is 0";
        if (!(nl == 9 && !strncmp(p, "PRECISION", 9))) {
            if (s->n == MAX_PARAMS) return "more than 24 parameters";
            for (int i = 0; i < s->n; i++)
                if (strlen(s->names[i]) == nl && !strncmp(s->names[i], p, nl)) return "a parameter is given twice";
            memcpy(s->names[s->n], p, nl);
            s->names[s->n][nl] = 0;
            s->values[s->n++] = (size_t)v;
        }
        p = end;
    }
    return s->n ? NULL : "no parameters";
}

const char *ebm_clblast_parse_line(const char *line, struct ebm_clblast_set *s) {
    memset(s, 0, sizeof *s);
    const char *p = line;
    size_t kl = strcspn(p, " \t");
    if (kl == 0 || kl >= NAME_LEN || !p[kl]) return "not \"KERNEL MS NAME=VALUE ...\"";
    memcpy(s->kernel, p, kl);
    if (!known_kernel(s->kernel)) return "not a kernel of CLBlast's GEMM";
    p += kl + strspn(p + kl, " \t");
    char *end;
    s->ms = strtod(p, &end);
    if (end == p || (*end && *end != ' ' && *end != '\t') || !(s->ms >= 0) || !isfinite(s->ms))
        return "the time is not a number of ms";
    return parse_params(end, s);
}

static int tuned_path(const ebm_ctx_t *ctx, char *path, size_t n) {
    const ebm_env_t *env = ebm_env();
    if (env->cache_off) return 0;
    uint64_t h = ebm_fnv1a(ebm_fnv1a(ebm_fnv1a(EBM_FNV_START, ctx->info.name), ctx->info.driver), ctx->info.platform);
    return snprintf(path, n, "%s/clblast-%016llx.txt", env->cache_dir, (unsigned long long)h) < (int)n;
}

/* the value of s's parameter `name`, dflt where s has none */
static size_t param_value(const tuned_set_t *s, const char *name, size_t dflt) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name)) return s->values[i];
    return dflt;
}

static int put_set(struct ebm_clblast_tuned *t, const tuned_set_t *s) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->sets[i].kernel, s->kernel)) return t->sets[i] = *s, 1;
    tuned_set_t *ns = realloc(t->sets, (size_t)(t->n + 1) * sizeof *ns);
    if (!ns) return 0;
    t->sets = ns;
    t->sets[t->n++] = *s;
    return 1;
}

static void rehash(struct ebm_clblast_tuned *t) {
    t->hash = 0;
    if (!t->n) return;
    uint64_t h = EBM_FNV_START;
    for (int i = 0; i < t->n; i++) {
        char v[32];
        h = ebm_fnv1a(h, t->sets[i].kernel);
        for (int j = 0; j < t->sets[i].n; j++) {
            snprintf(v, sizeof v, "=%zu;", t->sets[i].values[j]);
            h = ebm_fnv1a(ebm_fnv1a(h, t->sets[i].names[j]), v);
        }
    }
    t->hash = h ? h : 1;
}

void ebm_clblast_tuned_load(ebm_ctx_t *ctx) {
    struct ebm_clblast_tuned *t = calloc(1, sizeof *t);
    if (!t) return;
    ctx->clblast_tuned = t;
    if (!tuned_path(ctx, t->path, sizeof t->path)) t->path[0] = 0;
    t->off = ebm_env()->clblast_tuned_off;   /* read all the same: an import merges with the file */
    if (!t->path[0]) return;
    FILE *f = fopen(t->path, "r");
    if (!f) return;
    char line[1024];
    for (int ln = 1; fgets(line, sizeof line, f); ln++) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        tuned_set_t s;
        const char *why = ebm_clblast_parse_line(line, &s);
        if (why) {
            if (!t->off) ebm_log_message(EBM_LOG_WARN, "%s:%d: %s; line ignored (CLBlast keeps its defaults there)", t->path, ln, why);
            continue;
        }
        if (!put_set(t, &s)) break;
    }
    fclose(f);
    rehash(t);
}

uint64_t ebm_clblast_tuned_hash(const ebm_ctx_t *ctx) {
    return ctx->clblast_tuned && !ctx->clblast_tuned->off ? ctx->clblast_tuned->hash : 0;
}

void ebm_clblast_tuned_free(ebm_ctx_t *ctx) {
    if (!ctx->clblast_tuned) return;
    free(ctx->clblast_tuned->sets);
    free(ctx->clblast_tuned);
    ctx->clblast_tuned = NULL;
}

/* the set to CLBlast for the context's device: CLBlast's status */
static int override(ebm_ctx_t *ctx, const tuned_set_t *s) {
    const char *names[MAX_PARAMS];
    for (int i = 0; i < s->n; i++) names[i] = s->names[i];
    return CLBlastOverrideParameters(ctx->device, s->kernel, CLBlastPrecisionSingle, (size_t)s->n, names, s->values);
}

void ebm_clblast_tuned_apply(ebm_ctx_t *ctx) {
    struct ebm_clblast_tuned *t = ctx->clblast_tuned;
    if (!t || t->applied || t->off) return;
    t->applied = 1;
    for (int i = 0; i < t->n; i++) {
        int st = override(ctx, &t->sets[i]);
        if (st != CLBlastSuccess)
            ebm_log_message(EBM_LOG_WARN, "%s: CLBlast refuses the parameters for %s (status %d); it keeps its defaults there",
                            t->path, t->sets[i].kernel, st);
    }
    if (t->n) ebm_log_message(EBM_LOG_DEBUG, "CLBlast: tuned parameters for %d kernel(s) from %s", t->n, t->path);
}

int ebm_ctx_clblast_tuned(const ebm_ctx_t *ctx, char *kernels, size_t n) {
    const struct ebm_clblast_tuned *t = ctx->clblast_tuned;
    if (kernels && n) kernels[0] = 0;
    if (!t || t->off) return 0;
    size_t len = 0;
    for (int i = 0; i < t->n && kernels && len < n; i++)
        len += (size_t)snprintf(kernels + len, n - len, "%s%s", i ? " " : "", t->sets[i].kernel);
    return t->n;
}

const char *ebm_ctx_clblast_tuned_path(const ebm_ctx_t *ctx) {
    return ctx->clblast_tuned && ctx->clblast_tuned->path[0] ? ctx->clblast_tuned->path : NULL;
}

/* ---- import ---- */

static const char *json_string(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

ebm_status_t ebm_clblast_parse_result(const char *text, size_t len, const char *device_name, struct ebm_clblast_set *s,
                                      char *why, size_t whyn) {
    memset(s, 0, sizeof *s);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        snprintf(why, whyn, "not JSON (error at byte %ld of %zu): not a CLBlast tuner's result", end ? (long)(end - text) : -1L, len);
        return EBM_STATUS_FORMAT;
    }
    ebm_status_t st = EBM_STATUS_FORMAT;
    const char *family = json_string(root, "kernel_family"), *prec = json_string(root, "precision");
    const char *best = json_string(root, "best_parameters"), *time = json_string(root, "best_time");
    const char *device = json_string(root, "device"), *kernel = family ? kernel_of_family(family) : NULL, *bad;
    char *tend = NULL;
    why[0] = 0;
    if (!cJSON_IsObject(root) || !family || !prec || !best || !time || !device)
        snprintf(why, whyn, "lacks kernel_family, precision, best_parameters, best_time or device (strings): not a CLBlast tuner's result");
    else if (!kernel)
        snprintf(why, whyn, "kernel family \"%.60s\" is not one of CLBlast's GEMM kernels the engine tunes (xgemm, "
                 "xgemm_direct, pad, transpose, padtranspose)", family);
    else if (strcmp(prec, "32"))
        snprintf(why, whyn, "precision %.20s; the engine computes in single precision (32)", prec);
    else if (strcmp(device, device_name))
        snprintf(why, whyn, "tuned on \"%.200s\", not on this device (\"%s\")", device, device_name),
            st = EBM_STATUS_INVALID_ARGUMENT;
    else if ((s->ms = strtod(time, &tend)), tend == time || *tend || !(s->ms >= 0) || !isfinite(s->ms))
        snprintf(why, whyn, "best_time \"%.40s\" is not a time in ms", time);
    else if ((bad = parse_params(best, s)))
        snprintf(why, whyn, "best_parameters \"%.200s\": %s", best, bad);
    else
        snprintf(s->kernel, sizeof s->kernel, "%s", kernel), st = EBM_OK;
    cJSON_Delete(root);
    return st;
}

/* One tuner result file into s; EBM_OK or a failure naming the file */
static ebm_status_t read_result(ebm_ctx_t *ctx, const char *path, tuned_set_t *s) {
    char err[1400], why[600];
    size_t len;
    char *text = ebm_read_file(path, 64u << 20, &len, err, sizeof err);
    if (!text) return ebm_fail(ctx, EBM_STATUS_IO, "%s", err);
    ebm_status_t st = ebm_clblast_parse_result(text, len, ctx->info.name, s, why, sizeof why);
    free(text);
    if (st != EBM_OK) return ebm_fail(ctx, st, "%s: %s", path, why);
    snprintf(s->source, sizeof s->source, "%s", path);
    return EBM_OK;
}

/* n values in [-1, 1) into x from the linear congruential sequence at *r */
static void fill_uniform(float *x, size_t n, uint32_t *r) {
    for (size_t i = 0; i < n; i++) *r = *r * 1664525u + 1013904223u, x[i] = (float)((*r >> 8) * 0x1p-23 - 1.0);
}

/* Worst |C - (A B + beta C0)| / (gamma sum(|a||b|) + |beta c0|) of a CLBlast GEMM (row-major; A, B
 * transposed where ta, tb; batch strided products) against a double-precision host computation,
 * gamma = (k+2)u / (1 - (k+2)u), u = 2^-24: <= 1 for any order of float32 sums and products (the
 * double reference's own error is 2^-29 times smaller); infinite where an output is NaN or Inf, -1
 * where CLBlast failed (ctx's error says why). */
static double check_gemm(ebm_ctx_t *ctx, int ta, int tb, int m, int n, int k, float beta, int batch) {
    size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * n;
    float *a = malloc(na * batch * sizeof *a), *b = malloc(nb * batch * sizeof *b), *c = malloc(nc * batch * sizeof *c);
    float *c0 = malloc(nc * batch * sizeof *c0);
    double worst = -1, u = 0x1p-24, gamma = (k + 2) * u / (1 - (k + 2) * u);
    if (!a || !b || !c || !c0) {
        ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
        goto out;
    }
    uint32_t r = 12345u;   /* a fixed sequence */
    fill_uniform(a, na * batch, &r), fill_uniform(b, nb * batch, &r), fill_uniform(c0, nc * batch, &r);
    ebm_scope_begin(ctx);
    ebm_tensor_t *A = ebm_tensor_from_host(ctx, 1, (int[]){(int)(na * batch)}, a);
    ebm_tensor_t *B = ebm_tensor_from_host(ctx, 1, (int[]){(int)(nb * batch)}, b);
    ebm_tensor_t *C = ebm_tensor_from_host(ctx, 1, (int[]){(int)(nc * batch)}, c0);
    if (ctx->status == EBM_OK)
        ebm_gemm_clblast(ctx, ta, tb, (size_t)m, (size_t)n, (size_t)k, 1.0f, A->buf, A->off, ta ? (size_t)m : (size_t)k, na, B->buf,
                         B->off, tb ? (size_t)k : (size_t)n, nb, beta, C->buf, C->off, (size_t)n, nc, (size_t)batch);
    if (ctx->status == EBM_OK) ebm_tensor_read(C, c);
    ebm_scope_end(ctx);
    if (ctx->status != EBM_OK) goto out;
    worst = 0;
    for (int q = 0; q < batch; q++)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                const float *aq = a + q * na, *bq = b + q * nb;
                size_t o = q * nc + (size_t)i * n + j;
                double s = beta * (double)c0[o], sa = 0;
                for (int l = 0; l < k; l++) {
                    double x = ta ? aq[(size_t)l * m + i] : aq[(size_t)i * k + l], y = tb ? bq[(size_t)j * k + l] : bq[(size_t)l * n + j];
                    s += x * y, sa += fabs(x * y);
                }
                if (!isfinite(c[o])) {
                    worst = INFINITY;
                    goto out;
                }
                double e = fabs(c[o] - s) / (gamma * (sa + fabs(beta * (double)c0[o])) + 1e-30);
                if (e > worst) worst = e;
            }
out:
    free(a), free(b), free(c), free(c0);
    return worst;
}

ebm_status_t ebm_clblast_import(ebm_ctx_t *ctx, const char *const *files, int n_files, FILE *report) {
    if (!ctx) return EBM_STATUS_INVALID_ARGUMENT;
    if (ctx->status != EBM_OK) return ctx->status;
    struct ebm_clblast_tuned *t = ctx->clblast_tuned;
    if (!t || !t->path[0])
        return ebm_fail(ctx, EBM_STATUS_IO, "no cache directory to keep the parameters in (EBM_KERNEL_CACHE is off)");
    if (n_files < 1) return ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "no tuner result files given");
    if (t->off)   /* the checks would run the new sets without the file's others, as no later process does */
        return ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "EBM_CLBLAST_TUNED=off: unset it to import tuned parameters");
    /* the fastest result per kernel among the files */
    tuned_set_t *got = calloc((size_t)n_files, sizeof *got);
    if (!got) return ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
    int n_got = 0;
    for (int i = 0; i < n_files && ctx->status == EBM_OK; i++) {
        tuned_set_t s;
        if (read_result(ctx, files[i], &s) != EBM_OK) break;
        int j = 0;
        while (j < n_got && strcmp(got[j].kernel, s.kernel)) j++;
        if (j == n_got) got[n_got++] = s;
        else if (s.ms < got[j].ms) got[j] = s;
    }
    if (ctx->status != EBM_OK) {
        free(got);
        return ctx->status;
    }
    /* work-groups the device runs: a set tuned on another driver's limits would fail at every launch */
    for (int j = 0; j < n_got; j++)
        for (size_t f = 0; f < sizeof families / sizeof *families; f++) {
            if (strcmp(families[f].kernel, got[j].kernel)) continue;
            size_t x = param_value(&got[j], families[f].wg_x, 0), y = param_value(&got[j], families[f].wg_y, 0);
            if (x * y > ctx->info.max_work_group) {
                ebm_fail(ctx, EBM_STATUS_FORMAT, "%s: %s's work-groups of %s x %s = %zu items; %s takes at most %zu", got[j].source,
                         got[j].kernel, families[f].wg_x, families[f].wg_y, x * y, ctx->info.name, ctx->info.max_work_group);
                free(got);
                return ctx->status;
            }
        }
    ebm_clblast_tuned_apply(ctx);   /* the file's sets for the other kernels, as every context runs them */
    for (int j = 0; j < n_got; j++) {
        int st = override(ctx, &got[j]);
        /* CLBlast checks that its kernel's parameters are all there, not that every name is one of
         * them: a name it still takes the set without is not */
        for (int i = 0; i < got[j].n && st == CLBlastSuccess; i++) {
            tuned_set_t less = got[j];
            less.n--;
            memmove(less.names[i], less.names[i + 1], (size_t)(less.n - i) * sizeof less.names[0]);
            memmove(less.values + i, less.values + i + 1, (size_t)(less.n - i) * sizeof less.values[0]);
            if (override(ctx, &less) == CLBlastSuccess) {
                ebm_fail(ctx, EBM_STATUS_FORMAT, "%s: %s is not a parameter of CLBlast's %s", got[j].source, got[j].names[i], got[j].kernel);
                free(got);
                return ctx->status;
            }
            st = override(ctx, &got[j]);
        }
        if (st != CLBlastSuccess) {
            ebm_fail(ctx, EBM_STATUS_FORMAT, "%s: CLBlast refuses these parameters for %s (status %d%s)", got[j].source, got[j].kernel, st,
                     st == CLBlastMissingOverrideParameter ? ": some of the kernel's are missing" : "");
            free(got);
            return ctx->status;
        }
    }
    /* each shape through CLBlast's direct kernel and through its indirect one (copying, padding and
     * transposing kernels, then Xgemm), its threshold between them forced each way: sizes that need
     * padding (A transposed), sizes that are multiples of every tile, A and B transposed (the
     * kernels that skip the padding: the fast transpose wants multiples of TRA_DIM * TRA_WPT, so
     * the size is the least multiple of 256 and of that, of the Transpose set in effect), and B
     * transposed with beta and two strided batches */
    size_t tile = 1;
    const char *tile_from = t->path;
    for (int pass = 0; pass < 2; pass++)   /* the file's Transpose set, then a new one over it */
        for (int j = 0; j < (pass ? n_got : t->n); j++) {
            const tuned_set_t *q = pass ? &got[j] : &t->sets[j];
            if (strcmp(q->kernel, "Transpose")) continue;
            tile = param_value(q, "TRA_DIM", 1) * param_value(q, "TRA_WPT", 1), tile_from = pass ? q->source : t->path;
        }
    size_t aligned = 256;
    while (aligned % tile) aligned += 256;
    if (aligned > 1024) {
        ebm_fail(ctx, EBM_STATUS_FORMAT, "%s: Transpose's TRA_DIM x TRA_WPT = %zu: the GEMMs that run it (sizes multiple of %zu) "
                 "are beyond what the import checks (1024)", tile_from, tile, aligned);
        free(got);
        return ctx->status;
    }
    const struct { int ta, tb, m, n, k, batch; float beta; } shapes[3] = {
        {1, 0, 67, 45, 33, 1, 0.0f}, {1, 1, (int)aligned, (int)aligned, (int)aligned, 1, 0.0f}, {0, 1, 96, 80, 64, 2, 0.5f}};
    static const size_t threshold[2] = {1, 4096};   /* GEMMs of fewer than threshold^3 FMAs: direct */
    for (int i = 0; i < 6; i++) {
        int h = i % 3;
        const char *name = "XGEMM_MIN_INDIRECT_SIZE";
        int st = CLBlastOverrideParameters(ctx->device, "GemmRoutine", CLBlastPrecisionSingle, 1, &name, &threshold[i / 3]);
        double w = st == CLBlastSuccess ? check_gemm(ctx, shapes[h].ta, shapes[h].tb, shapes[h].m, shapes[h].n, shapes[h].k,
                                                      shapes[h].beta, shapes[h].batch)
                                        : -1;
        if (w < 0 || !(w <= 1.0)) {
            char msg[sizeof ctx->errmsg], what[160], from[1200] = "";
            if (st != CLBlastSuccess) snprintf(msg, sizeof msg, "CLBlast refuses its direct/indirect threshold");
            else if (w < 0) snprintf(msg, sizeof msg, "%s", ctx->errmsg);
            else if (isinf(w)) snprintf(msg, sizeof msg, "NaN or Inf in the product");
            else snprintf(msg, sizeof msg, "an error of %.3g times float32's rounding bound", w);
            int len = 0;
            for (int j = 0; j < n_got && len < (int)sizeof from; j++)
                len += snprintf(from + len, sizeof from - len, "%s%s", j ? ", " : "", got[j].source);
            if (t->n && len < (int)sizeof from)   /* the file's sets run with them */
                snprintf(from + len, sizeof from - len, " and of the device's file %s", t->path);
            snprintf(what, sizeof what, "%dx%dx%d%s%s%s%s", shapes[h].m, shapes[h].n, shapes[h].k, shapes[h].ta ? ", A transposed" : "",
                     shapes[h].tb ? ", B transposed" : "", shapes[h].beta != 0.0f ? ", beta 0.5" : "", shapes[h].batch > 1 ? ", 2 batches" : "");
            ebm_ctx_clear_error(ctx);
            ebm_fail(ctx, EBM_STATUS_BLAS, "a GEMM (%s) through CLBlast's %s kernel with the parameters of %s %s: %s; nothing kept",
                     what, i / 3 ? "direct" : "indirect", from, w < 0 ? "failed" : "is wrong", msg);
            free(got);
            return ctx->status;
        }
    }
    for (int j = 0; j < n_got; j++)
        if (!put_set(t, &got[j])) {
            free(got);
            return ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
        }
    free(got);
    rehash(t);
    /* the file: every kernel's set, the new ones over the old */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
    fprintf(f, "# ebm-cl: CLBlast parameters tuned for %s (%s, %s): KERNEL TUNER_MS NAME=VALUE ...\n", ctx->info.name,
            ctx->info.driver, ctx->info.platform);
    fflush(f);
    size_t head = len;   /* the report prints the lines after it */
    for (int i = 0; i < t->n; i++) {
        fprintf(f, "%s %.4g", t->sets[i].kernel, t->sets[i].ms);
        for (int j = 0; j < t->sets[i].n; j++) fprintf(f, " %s=%zu", t->sets[i].names[j], t->sets[i].values[j]);
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(buf);
        return ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
    }
    char dir[1100], err[1400];
    snprintf(dir, sizeof dir, "%s", ebm_env()->cache_dir);
    ebm_status_t st = ebm_mkdir_p(dir) != 0 ? ebm_fail(ctx, EBM_STATUS_IO, "cannot create %s: %s", dir, strerror(errno))
                                            : ebm_write_atomic(t->path, buf, len, err, sizeof err);
    if (st != EBM_OK && ctx->status == EBM_OK) ebm_fail(ctx, st, "%s", err);
    if (ctx->status == EBM_OK && report)   /* the file's lines: KERNEL TUNER_MS NAME=VALUE ... */
        fprintf(report, "%.*skept in %s\n", (int)(len - head), buf + head, t->path);
    free(buf);
    return ctx->status;
}
