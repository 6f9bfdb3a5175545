/* choices.c — the measured fastest GEMM and convolution algorithms, saved per device next to the
 * kernel cache when a context that made new choices ends (one text line per choice, written
 * atomically), so later processes on the same device and driver make the same choices: the same
 * arithmetic, run after run. Lines that do not parse are ignored; EBM_KERNEL_CACHE=off disables the
 * file. */
#include <stdio.h>
#include <string.h>
#include "internal.h"

static int choices_path(const ebm_ctx_t *ctx, char *path, size_t n) {
    const ebm_env_t *env = ebm_env();
    if (env->cache_off) return 0;
    uint64_t h = 14695981039346656037ULL;
    const char *parts[3] = {ctx->info.name, ctx->info.driver, ctx->info.platform};
    for (int i = 0; i < 3; i++)
        for (const char *c = parts[i]; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    return snprintf(path, n, "%s/choices-%016llx.txt", env->cache_dir, (unsigned long long)h) < (int)n;
}

void ebm_choices_load(ebm_ctx_t *ctx) {
    char path[1200], line[512];
    if (!choices_path(ctx, path, sizeof path)) return;
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        struct ebm_gemm_choice g;
        struct ebm_conv_choice c;
        memset(&c, 0, sizeof c);
        ebm_conv_geom_t *q = &c.g;
        if (sscanf(line, "gemm %zu %zu %zu %zu %d %d %d", &g.m, &g.n, &g.k, &g.batch, &g.ta, &g.tb, &g.algo) == 7 && g.algo >= 1 &&
            g.algo <= 2) {
            if (ctx->n_gemm_choices == ctx->cap_gemm_choices) {
                struct ebm_gemm_choice *nc = ebm_grow_array(ctx->gemm_choices, &ctx->cap_gemm_choices, sizeof *nc, 32);
                if (!nc) break;
                ctx->gemm_choices = nc;
            }
            ctx->gemm_choices[ctx->n_gemm_choices++] = g;
        } else if (sscanf(line, "conv %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d", &c.kind, &q->N, &q->C, &q->H, &q->W,
                          &q->O, &q->KH, &q->KW, &q->Ho, &q->Wo, &q->p.stride_h, &q->p.stride_w, &q->p.pad_h, &q->p.pad_w,
                          &q->p.dil_h, &q->p.dil_w, &c.algo) == 17 &&
                   c.algo >= 1 && c.algo <= 3 && c.kind >= 0 && c.kind <= 2) {
            if (ctx->n_conv_choices == ctx->cap_conv_choices) {
                struct ebm_conv_choice *nc = ebm_grow_array(ctx->conv_choices, &ctx->cap_conv_choices, sizeof *nc, 16);
                if (!nc) break;
                ctx->conv_choices = nc;
            }
            ctx->conv_choices[ctx->n_conv_choices++] = c;
        }
    }
    fclose(f);
}

void ebm_choices_save(ebm_ctx_t *ctx) {
    char path[1200];
    if (!choices_path(ctx, path, sizeof path)) return;
    size_t cap = 64 + 96 * (size_t)(ctx->n_gemm_choices + ctx->n_conv_choices), len = 0;
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
    char err[256];
    /* the cache folder exists once a program was saved there; a failure only costs re-measuring */
    if (len < cap && ebm_write_atomic(path, buf, len, err, sizeof err) != EBM_OK)
        ebm_log_message(EBM_LOG_DEBUG, "algorithm choices not saved: %s", err);
    free(buf);
}
