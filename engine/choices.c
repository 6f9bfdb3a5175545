/* choices.c — the measured fastest GEMM and convolution algorithms, and the algorithms that cannot
 * run on the device, saved per device next to the kernel cache when a context that made new
 * choices ends (one text line per choice, written atomically), so later processes on the same
 * device and driver make the same choices: the same arithmetic, run after run, and no second try
 * of a kernel the compiler rejected (until the kernels' text changes: the file's key hashes it).
 * Lines that do not parse are ignored; EBM_KERNEL_CACHE=off disables the file (delete it to
 * measure and try everything again). */
#include <stdio.h>
#include <string.h>
#include "internal.h"

static const struct { const char *key, *label; } algo_names[EBM_ALGO_COUNT] = {
#define EBM_ALGO_NAME(id, key, label) [id] = {key, label},
    EBM_ALGOS(EBM_ALGO_NAME)
#undef EBM_ALGO_NAME
};

/* The text of the programs the algorithms run, as they are built (EBM_CL_DIR's where set,
 * EBM_BREAK's failure included), hashed once per context: every save reads the file's key again. */
static uint64_t programs_hash(ebm_ctx_t *ctx) {
    static const char *const programs[3] = {"gemm.cl", "conv.cl", "fftconv.cl"};
    if (ctx->programs_hash) return ctx->programs_hash;
    uint64_t h = EBM_FNV_START;
    for (int i = 0; i < 3; i++) {
        char err[256];
        size_t len = 0;
        char *text = ebm_program_text(programs[i], &len, err, sizeof err);
        h = ebm_fnv1a(h, text ? text : programs[i]);
        free(text);
    }
    return ctx->programs_hash = h ? h : 1;   /* 0 means not yet */
}

static int choices_path(ebm_ctx_t *ctx, char *path, size_t n) {
    const ebm_env_t *env = ebm_env();
    /* a simulator keeps no file: each process measures, and so runs every algorithm's kernels under
     * its checks, whatever an earlier run chose */
    if (env->cache_off || ctx->simulated) return 0;
    uint64_t h = EBM_FNV_START;
    /* the work-group size too: algorithms measured, or failing, under one limit (EBM_MAX_WORK_GROUP,
     * a driver's setting) say nothing about another */
    /* and the algorithms there are: measurements made without one say nothing about it */
    /* and the tile kernels' rows and panels (EBM_TILE_ROWS, EBM_FWD_PANELS, EBM_GEMM_PANELS,
     * EBM_IGRAD_PANELS), the implicit kernels' work items (EBM_FWD_ITEMS, EBM_IGRAD_ITEMS) and fused
     * z loads (EBM_IGRAD_ZLOAD); and the revision of what the algorithms cover, raised when one of
     * them takes a new kind of op or a new kernel (2: the implicit path's weight gradient; 3: its
     * direct input gradient for 1-4 channels; 4: that weight gradient's new kernel, its patches
     * packed in local memory; 5: the tile path's input gradient reading the output gradient in
     * place where 16 divides H*W, EBM_TILE_IGRAD_B), so that no older file keeps it from being
     * measured; and whether the tile kernels stream their stores (EBM_STREAM_STORES: it moves the
     * forwards' times, so a file measured one way says little about the other), and whether the
     * implicit kernels prefetch (EBM_PREFETCH, the same) */
    enum { CHOICES_REVISION = 5 };
    /* and CLBlast's tuned parameters (clblast_tuned.c): tuned kernels are measured against the tile GEMM
     * again (none: the key is as before there were any) */
    char wg[160];
    int len = snprintf(wg, sizeof wg, "wg %zu %zu algos %d rev %d rows %d %d %d %d items %d %d z %d stream %d%s%s", ctx->wg_size,
                       ctx->info.max_work_group, (int)EBM_ALGO_COUNT, (int)CHOICES_REVISION, ctx->tile_rows, ctx->fwd_panels,
                       ctx->gemm_panels, ctx->igrad_panels, ctx->fwd_items, ctx->igrad_items, ctx->igrad_zload, ctx->stream_stores,
                       ebm_env()->igrad_pack ? " packed" : "", ctx->prefetch ? " prefetch" : "");
    if (ebm_clblast_tuned_hash(ctx) && len > 0 && len < (int)sizeof wg)
        snprintf(wg + len, sizeof wg - len, " clblast %016llx", (unsigned long long)ebm_clblast_tuned_hash(ctx));
    const char *parts[4] = {ctx->info.name, ctx->info.driver, ctx->info.platform, wg};
    for (int i = 0; i < 4; i++) h = ebm_fnv1a(h, parts[i]);
    /* and the text of the programs the algorithms run: changed kernels (a new version, a scratch
     * copy) are measured again, and a program the compiler rejected is tried again once its text
     * has changed, where a file kept under the old text had marked its algorithms unavailable for good */
    char ph[17];
    snprintf(ph, sizeof ph, "%016llx", (unsigned long long)programs_hash(ctx));
    h = ebm_fnv1a(h, ph);
    return snprintf(path, n, "%s/choices-%016llx.txt", env->cache_dir, (unsigned long long)h) < (int)n;
}

struct ebm_gemm_choice *ebm_gemm_choice_find(ebm_ctx_t *ctx, const struct ebm_gemm_choice *q) {
    for (int i = 0; i < ctx->n_gemm_choices; i++) {
        struct ebm_gemm_choice *g = &ctx->gemm_choices[i];
        if (g->m == q->m && g->n == q->n && g->k == q->k && g->batch == q->batch && g->ta == q->ta && g->tb == q->tb) return g;
    }
    return NULL;
}

struct ebm_conv_choice *ebm_conv_choice_find(ebm_ctx_t *ctx, int kind, const ebm_conv_geom_t *g) {
    for (int i = 0; i < ctx->n_conv_choices; i++)
        if (ctx->conv_choices[i].kind == kind && !memcmp(&ctx->conv_choices[i].g, g, sizeof *g)) return &ctx->conv_choices[i];
    return NULL;
}

/* q's algorithm into ctx: over the entry of the same key, else appended (0: out of host memory) */
static int put_gemm(ebm_ctx_t *ctx, const struct ebm_gemm_choice *q) {
    struct ebm_gemm_choice *g = ebm_gemm_choice_find(ctx, q);
    if (g) return g->algo = q->algo, 1;
    if (ctx->n_gemm_choices == ctx->cap_gemm_choices) {
        struct ebm_gemm_choice *nc = ebm_grow_array(ctx->gemm_choices, &ctx->cap_gemm_choices, sizeof *nc, 32);
        if (!nc) return 0;
        ctx->gemm_choices = nc;
    }
    ctx->gemm_choices[ctx->n_gemm_choices++] = *q;
    return 1;
}

static int put_conv(ebm_ctx_t *ctx, const struct ebm_conv_choice *q) {
    struct ebm_conv_choice *c = ebm_conv_choice_find(ctx, q->kind, &q->g);
    if (c) return c->algo = q->algo, 1;
    if (ctx->n_conv_choices == ctx->cap_conv_choices) {
        struct ebm_conv_choice *nc = ebm_grow_array(ctx->conv_choices, &ctx->cap_conv_choices, sizeof *nc, 16);
        if (!nc) return 0;
        ctx->conv_choices = nc;
    }
    ctx->conv_choices[ctx->n_conv_choices++] = *q;
    return 1;
}

int ebm_choices_record_gemm(ebm_ctx_t *ctx, const struct ebm_gemm_choice *q) {
    if (!put_gemm(ctx, q)) return ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed"), 0;
    ebm_choices_save(ctx);
    return ebm_gemm_choice_find(ctx, q)->algo;
}

int ebm_choices_record_conv(ebm_ctx_t *ctx, int kind, const ebm_conv_geom_t *g, int algo) {
    struct ebm_conv_choice c;
    memset(&c, 0, sizeof c);
    c.g = *g, c.kind = kind, c.algo = algo;
    if (!put_conv(ctx, &c)) return ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed"), 0;
    ebm_choices_save(ctx);
    return ebm_conv_choice_find(ctx, kind, g)->algo;
}

/* The file's choices into ctx: an entry ctx lacks is added, one it has takes the file's algorithm
 * (the file holds the first measurement any process saved). */
void ebm_choices_load(ebm_ctx_t *ctx) {
    char path[1200], line[512];
    if (!choices_path(ctx, path, sizeof path)) return;
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "unavailable ", 12)) {
            const char *key = line + 12, *reason = key + strcspn(key, " ");
            for (int a = 0; a < EBM_ALGO_COUNT; a++)
                if ((size_t)(reason - key) == strlen(algo_names[a].key) && !strncmp(key, algo_names[a].key, reason - key)) {
                    ctx->algo_unavailable |= 1u << a;
                    ctx->algo_saved |= 1u << a;
                    snprintf(ctx->algo_reason[a], sizeof ctx->algo_reason[a], "%s", *reason ? reason + 1 : "");
                }
            continue;
        }
        struct ebm_gemm_choice g;
        struct ebm_conv_choice c;
        memset(&c, 0, sizeof c);
        ebm_conv_geom_t *q = &c.g;
        if (sscanf(line, "gemm %zu %zu %zu %zu %d %d %d", &g.m, &g.n, &g.k, &g.batch, &g.ta, &g.tb, &g.algo) == 7 && g.algo >= 1 &&
            g.algo <= 2) {
            if (!put_gemm(ctx, &g)) break;
        } else if (sscanf(line, "conv %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d", &c.kind, &q->N, &q->C, &q->H, &q->W,
                          &q->O, &q->KH, &q->KW, &q->Ho, &q->Wo, &q->p.stride_h, &q->p.stride_w, &q->p.pad_h, &q->p.pad_w,
                          &q->p.dil_h, &q->p.dil_w, &c.algo) == 17 &&
                   c.algo >= 1 && c.algo <= 4 && c.kind >= 0 && c.kind < EBM_CONV_KINDS) {
            if (!put_conv(ctx, &c)) break;
        }
    }
    fclose(f);
}

void ebm_choices_save(ebm_ctx_t *ctx) {
    char path[1200];
    if (!choices_path(ctx, path, sizeof path)) return;
    ebm_choices_load(ctx);   /* what other processes saved since: kept, and theirs win */
    ctx->choices_dirty = 0;
    size_t cap = 64 + 96 * (size_t)(ctx->n_gemm_choices + ctx->n_conv_choices) + sizeof ctx->algo_reason, len = 0;
    char *buf = malloc(cap);
    if (!buf) return;
    len += (size_t)snprintf(buf + len, cap - len, "# ebm-cl algorithm choices for %s (%s)\n", ctx->info.name, ctx->info.driver);
    for (int i = 0; i < ctx->n_gemm_choices && len < cap; i++) {
        struct ebm_gemm_choice *g = &ctx->gemm_choices[i];
        len += (size_t)snprintf(buf + len, cap - len, "gemm %zu %zu %zu %zu %d %d %d\n", g->m, g->n, g->k, g->batch, g->ta, g->tb,
                                g->algo);
    }
    for (int i = 0; i < ctx->n_conv_choices && len < cap; i++) {
        struct ebm_conv_choice *c = &ctx->conv_choices[i];
        const ebm_conv_geom_t *q = &c->g;
        len += (size_t)snprintf(buf + len, cap - len, "conv %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d\n", c->kind, q->N,
                                q->C, q->H, q->W, q->O, q->KH, q->KW, q->Ho, q->Wo, q->p.stride_h, q->p.stride_w, q->p.pad_h,
                                q->p.pad_w, q->p.dil_h, q->p.dil_w, c->algo);
    }
    for (int a = 0; a < EBM_ALGO_COUNT && len < cap; a++)
        if (ctx->algo_saved & (1u << a))
            len += (size_t)snprintf(buf + len, cap - len, "unavailable %s %s\n", algo_names[a].key, ctx->algo_reason[a]);
    char err[256];
    /* the cache folder exists once a program was saved there; a failure only costs re-measuring */
    if (len < cap && ebm_write_atomic(path, buf, len, err, sizeof err) != EBM_OK)
        ebm_log_message(EBM_LOG_DEBUG, "algorithm choices not saved: %s", err);
    free(buf);
}

/* ---- algorithms that cannot run on this device ---- */

int ebm_algo_available(const ebm_ctx_t *ctx, ebm_algo_t a) { return !(ctx->algo_unavailable & (1u << a)); }

const char *ebm_ctx_algorithm_unavailable(const ebm_ctx_t *ctx, const char *algorithm) {
    for (int a = 0; a < EBM_ALGO_COUNT; a++)
        if (!strcmp(algorithm, algo_names[a].key)) return ebm_algo_available(ctx, (ebm_algo_t)a) ? NULL : ctx->algo_reason[a];
    return NULL;
}

void ebm_algo_try_begin(ebm_ctx_t *ctx) { ctx->algo_trying++; }

int ebm_algo_try_end(ebm_ctx_t *ctx, ebm_algo_t a) {
    EBM_ASSERT(ctx->algo_trying > 0);
    ctx->algo_trying--;
    ebm_status_t st = ctx->status;
    if (st == EBM_OK) return 1;
    if (st == EBM_STATUS_OUT_OF_MEMORY || st == EBM_STATUS_INVALID_ARGUMENT || st == EBM_STATUS_SHAPE) return -1;
    /* the message's first line without the status name (a build failure's message carries the
     * compiler's first error) */
    const char *msg = ctx->errmsg, *status = ebm_status_str(st);
    if (!strncmp(msg, status, strlen(status)) && !strncmp(msg + strlen(status), ": ", 2)) msg += strlen(status) + 2;
    char *reason = ctx->algo_reason[a];
    snprintf(reason, sizeof ctx->algo_reason[a], "%.*s", (int)strcspn(msg, "\n"), msg);
    ctx->algo_unavailable |= 1u << a;
    /* a program the compiler rejects, or a library that fails, fails again next time; a launch error
     * may be transient, so it is not saved */
    if (st == EBM_STATUS_BUILD || st == EBM_STATUS_BLAS) {
        ctx->algo_saved |= 1u << a;
        ctx->choices_dirty = 1;
    }
    ebm_log_message(EBM_LOG_WARN, "%s: %s cannot run, using another algorithm: %s", ctx->info.name, algo_names[a].label, reason);
    ebm_ctx_clear_error(ctx);
    return 0;
}

ebm_status_t ebm_algo_none_left(ebm_ctx_t *ctx, const char *op, const ebm_algo_t *algos, int n) {
    char msg[1400], path[1200];
    int len = snprintf(msg, sizeof msg, "%s: no algorithm runs on %s:", op, ctx->info.name), saved = 0;
    for (int i = 0; i < n && len < (int)sizeof msg; i++) {
        len += snprintf(msg + len, sizeof msg - len, " %s: %s;", algo_names[algos[i]].label,
                        ebm_algo_available(ctx, algos[i]) ? "not applicable" : ctx->algo_reason[algos[i]]);
        saved |= (ctx->algo_saved >> algos[i]) & 1u;
    }
    if (saved && len < (int)sizeof msg && choices_path(ctx, path, sizeof path))
        snprintf(msg + len, sizeof msg - len, " (failures are remembered in %s: delete it to try again)", path);
    return ebm_fail(ctx, EBM_STATUS_BUILD, "%s", msg);
}
