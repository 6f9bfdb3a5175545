/* rng.c — host side of the Philox RNG; the arithmetic is cl/rng.cl, compiled here as C. */
#include "internal.h"
#include "rng.cl"

ebm_rng_t ebm_rng_make(uint64_t seed, uint64_t stream) {
    ebm_rng_t r = {seed, stream, 0, 0, 0};
    return r;
}

void ebm_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    for (int i = 0; i < 4; i++) out[i] = ctr[i];
    philox4x32_10(out, key[0], key[1]);
}

static uint64_t blocks_for(size_t n) { return (n + 3) / 4; }

/* n host numbers of kind 0 (bits), 1 (uniform) or 2 (normal): element i is element e0 + i of the
 * stream's draw at its counter, e0 = part * n for a partitioned stream (else 0) */
static void host_draw(ebm_rng_t *r, void *out, size_t n, int kind) {
    size_t e0 = r->parts > 1 ? (size_t)r->part * n : 0;
    for (size_t e = e0; e < e0 + n;) {
        size_t b = e / 4;
        uint32_t w[4];
        float v[4];
        rng_block(r->seed, r->stream, r->counter + b, w);
        if (kind == 2) rng_normal2(w[0], w[1], &v[0], &v[1]), rng_normal2(w[2], w[3], &v[2], &v[3]);
        for (; e < e0 + n && e / 4 == b; e++) {
            size_t j = e % 4, i = e - e0;
            if (kind == 0) ((uint32_t *)out)[i] = w[j];
            else ((float *)out)[i] = kind == 1 ? rng_u01(w[j]) : v[j];
        }
    }
    r->counter += blocks_for(r->parts > 1 ? n * r->parts : n);
}

int ebm_rng_claim(ebm_ctx_t *ctx, ebm_rng_t *r, size_t n, uint64_t *start) {
    size_t e0 = r->parts > 1 ? (size_t)r->part * n : 0;
    if (e0 % 4) {
        ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT,
                 "a device draw of %zu numbers on part %u of %u of a partitioned random stream does not start at a Philox block "
                 "(part x numbers must be a multiple of 4): choose run.batch so that its rows per process times the numbers per "
                 "row is a multiple of 4",
                 n, r->part, r->parts);
        return 0;
    }
    *start = r->counter + e0 / 4;
    r->counter += blocks_for(r->parts > 1 ? n * r->parts : n);
    return 1;
}

void ebm_rng_host_bits(ebm_rng_t *r, uint32_t *out, size_t n) { host_draw(r, out, n, 0); }
void ebm_rng_host_uniform(ebm_rng_t *r, float *out, size_t n) { host_draw(r, out, n, 1); }
void ebm_rng_host_normal(ebm_rng_t *r, float *out, size_t n) { host_draw(r, out, n, 2); }

void ebm_rng_host_permutation(ebm_rng_t *r, int *perm, int n) {
    ebm_rng_t whole = *r;   /* the same permutation on every part */
    whole.parts = 0;
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {   /* Fisher-Yates, one draw (one Philox block) per swap */
        uint32_t w;
        ebm_rng_host_bits(&whole, &w, 1);
        int j = (int)(((uint64_t)w * (uint64_t)(i + 1)) >> 32), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    r->counter = whole.counter;
}

static ebm_status_t launch_rng(ebm_tensor_t *t, ebm_rng_t *r, ebm_kernel_id_t id, float p0, float p1) {
    if (!t || !r) return EBM_STATUS_INVALID_ARGUMENT;
    ebm_ctx_t *ctx = t->ctx;
    if (ctx->status != EBM_OK) return ctx->status;
    cl_kernel k = ebm_kernel(ctx, id);
    uint64_t c0;
    if (!k || !ebm_rng_claim(ctx, r, t->numel, &c0)) return ctx->status;
    ebm_status_t st = id == EBM_K_RNG_BITS
                          ? ebm_kargs(ctx, k, "mlllll", t->buf, t->off, (size_t)r->seed, (size_t)r->stream, (size_t)c0, t->numel)
                          : ebm_kargs(ctx, k, "mllllffl", t->buf, t->off, (size_t)r->seed, (size_t)r->stream, (size_t)c0,
                                      (double)p0, (double)p1, t->numel);
    if (st == EBM_OK) st = ebm_launch1(ctx, k, (size_t)blocks_for(t->numel));
    return st;
}

ebm_status_t ebm_tensor_fill_uniform(ebm_tensor_t *t, ebm_rng_t *r, float lo, float hi) {
    return launch_rng(t, r, EBM_K_RNG_UNIFORM, lo, hi);
}

ebm_status_t ebm_tensor_fill_normal(ebm_tensor_t *t, ebm_rng_t *r, float mean, float std) {
    return launch_rng(t, r, EBM_K_RNG_NORMAL, mean, std);
}

ebm_status_t ebm_tensor_fill_bits(ebm_tensor_t *t, ebm_rng_t *r) { return launch_rng(t, r, EBM_K_RNG_BITS, 0, 0); }

ebm_tensor_t *ebm_rand_uniform(ebm_ctx_t *ctx, ebm_rng_t *r, int ndim, const int *shape, float lo, float hi) {
    ebm_tensor_t *t = ebm_tensor_new(ctx, ndim, shape);
    if (t && ebm_tensor_fill_uniform(t, r, lo, hi) != EBM_OK) return NULL;
    return t;
}

ebm_tensor_t *ebm_rand_normal(ebm_ctx_t *ctx, ebm_rng_t *r, int ndim, const int *shape, float mean, float std) {
    ebm_tensor_t *t = ebm_tensor_new(ctx, ndim, shape);
    if (t && ebm_tensor_fill_normal(t, r, mean, std) != EBM_OK) return NULL;
    return t;
}

ebm_tensor_t *ebm_langevin_update(ebm_tensor_t *x, ebm_tensor_t *g, float eta, float sigma, float clip, float lo, float hi,
                                  ebm_rng_t *r) {
    if (!x || !g || !r) return NULL;
    ebm_ctx_t *ctx = x->ctx;
    if (ctx->status != EBM_OK) return NULL;
    if (g->numel != x->numel) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "langevin update: gradient has %zu elements, x has %zu", g->numel, x->numel);
        return NULL;
    }
    ebm_tensor_t *y = ebm_tensor_like(x);
    cl_kernel k = ebm_kernel(ctx, EBM_K_LANGEVIN_STEP);
    uint64_t c0;
    if (!y || !k || !ebm_rng_claim(ctx, r, x->numel, &c0)) return NULL;
    if (ebm_kargs(ctx, k, "mlmlmlffffflll" "l", y->buf, y->off, x->buf, x->off, g->buf, g->off, (double)eta, (double)sigma,
                  (double)clip, (double)lo, (double)hi, (size_t)r->seed, (size_t)r->stream, (size_t)c0, x->numel) != EBM_OK ||
        ebm_launch1(ctx, k, (size_t)blocks_for(x->numel)) != EBM_OK)
        return NULL;
    return y;
}

ebm_tensor_t *ebm_mh_accept(ebm_tensor_t *x, ebm_tensor_t *proposal, ebm_tensor_t *log_alpha, ebm_rng_t *r) {
    if (!x || !proposal || !log_alpha || !r) return NULL;
    ebm_ctx_t *ctx = x->ctx;
    if (ctx->status != EBM_OK) return NULL;
    int B = x->shape[0];
    if (proposal->numel != x->numel || (int)log_alpha->numel != B) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "MH accept: proposal/log_alpha do not match %d chains of %zu values", B, x->numel / B);
        return NULL;
    }
    ebm_tensor_t *u = ebm_rand_uniform(ctx, r, 1, &B, 0.0f, 1.0f);
    ebm_tensor_t *acc = ebm_tensor_new(ctx, 1, &B);
    cl_kernel k = ebm_kernel(ctx, EBM_K_MALA_SELECT);
    if (!u || !acc || !k) return NULL;
    if (ebm_kargs(ctx, k, "mlmlmlmlmlil", x->buf, x->off, proposal->buf, proposal->off, log_alpha->buf, log_alpha->off, u->buf,
                  u->off, acc->buf, acc->off, (int)(x->numel / B), x->numel) != EBM_OK ||
        ebm_launch1(ctx, k, x->numel) != EBM_OK)
        return NULL;
    return acc;
}

ebm_tensor_t *ebm_bernoulli(ebm_tensor_t *p, ebm_rng_t *r) {
    if (!p || !r) return NULL;
    ebm_ctx_t *ctx = p->ctx;
    if (ctx->status != EBM_OK) return NULL;
    ebm_tensor_t *y = ebm_tensor_like(p);
    cl_kernel k = ebm_kernel(ctx, EBM_K_BERNOULLI);
    uint64_t c0;
    if (!y || !k || !ebm_rng_claim(ctx, r, p->numel, &c0)) return NULL;
    if (ebm_kargs(ctx, k, "mlmlllll", y->buf, y->off, p->buf, p->off, (size_t)r->seed, (size_t)r->stream, (size_t)c0,
                  p->numel) != EBM_OK ||
        ebm_launch1(ctx, k, (size_t)blocks_for(p->numel)) != EBM_OK)
        return NULL;
    return y;
}
