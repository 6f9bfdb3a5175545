/* test_autograd.c — higher-order gradients through a whole network, against a double reference.
 *
 * Net: x (B,2,6,6) -> conv3x3(2->3, pad 1) -> swish -> conv3x3 s2 (3->4, pad 1) -> swish
 *      -> conv3x3 (4->1, pad 1) -> sum over H,W  => E(x) per sample.
 * Checks, each against central differences (in double) of a double-precision implementation:
 *   1. MEG's penalty      P(theta) = || d/dx sum_b E(x_b) ||^2                 -> dP/dtheta
 *   2. improved CD's KL   K(theta) = sum_b E_{theta0}(clamp(x - eta dE_theta/dx, 0, 1))
 *                         with theta0 frozen (stop-gradient)                 -> dK/dtheta
 *   3. frozen parameters get no gradient; grad mode off records nothing
 *   4. a steady-state iteration (scope begin/end) allocates no new device buffers
 * Tolerance: eps32 * (U + 8 sqrt(K)) * S with U = 4, K = 36 (largest conv sum), S = 12 (three
 * layers, each rounded in the forward, the first backward and its differentiation, plus the
 * final reductions). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ebm.h"
#include "internal.h"   /* ebm_record: a backward rule of the test's own */
#include "testing.h"
#include "ref.h"

#define B 2
#define EPS32 1.1920928955078125e-07


/* ---- the network, parameters as one flat double vector ---- */
typedef struct { int O, C, k, s, p; } layer_t;
static const layer_t L[3] = {{3, 2, 3, 1, 1}, {4, 3, 3, 2, 1}, {1, 4, 3, 1, 1}};
static const int H0 = 6;

static int n_params(void) {
    int n = 0;
    for (int l = 0; l < 3; l++) n += L[l].O * L[l].C * L[l].k * L[l].k + L[l].O;
    return n;
}

static double sw(double x) { return x / (1 + exp(-x)); }
static double swd(double x) {
    double s = 1 / (1 + exp(-x));
    return s + x * s * (1 - s);
}

/* forward keeping pre-activations; returns sum_b E; optional dE/dx (sum over batch) */
static double net_ref(const double *th, const double *x, double *dx) {
    double *act[4], *pre[3];
    int H[4], C[4];
    H[0] = H0;
    C[0] = 2;
    act[0] = (double *)x;
    const double *p = th;
    const double *W[3], *bias[3];
    for (int l = 0; l < 3; l++) {
        W[l] = p;
        p += L[l].O * L[l].C * L[l].k * L[l].k;
        bias[l] = p;
        p += L[l].O;
        H[l + 1] = ref_conv_out(H[l], L[l].k, L[l].s, L[l].p, 1);
        C[l + 1] = L[l].O;
        size_t n = (size_t)B * C[l + 1] * H[l + 1] * H[l + 1];
        pre[l] = malloc(n * sizeof(double));
        act[l + 1] = malloc(n * sizeof(double));
        ref_conv_t cp = {L[l].s, L[l].s, L[l].p, L[l].p, 1, 1};
        ref_conv2d(act[l], B, C[l], H[l], H[l], W[l], L[l].O, L[l].k, L[l].k, cp, pre[l]);
        size_t hw = (size_t)H[l + 1] * H[l + 1];
        for (size_t i = 0; i < n; i++) {
            pre[l][i] += bias[l][(i / hw) % (size_t)L[l].O];
            act[l + 1][i] = l < 2 ? sw(pre[l][i]) : pre[l][i];
        }
    }
    size_t nout = (size_t)B * H[3] * H[3];
    double e = 0;
    for (size_t i = 0; i < nout; i++) e += act[3][i];
    if (dx) { /* backward to x */
        double *g = malloc(nout * sizeof(double));
        for (size_t i = 0; i < nout; i++) g[i] = 1;
        for (int l = 2; l >= 0; l--) {
            size_t n = (size_t)B * C[l + 1] * H[l + 1] * H[l + 1];
            if (l < 2)
                for (size_t i = 0; i < n; i++) g[i] *= swd(pre[l][i]);
            size_t nin = (size_t)B * C[l] * H[l] * H[l];
            double *gi = l == 0 ? dx : malloc(nin * sizeof(double));
            ref_conv_t cp = {L[l].s, L[l].s, L[l].p, L[l].p, 1, 1};
            ref_conv2d_igrad(g, B, L[l].O, H[l], H[l], W[l], C[l], L[l].k, L[l].k, cp, gi);
            free(g);
            g = gi;
        }
    }
    for (int l = 0; l < 3; l++) {
        free(pre[l]);
        free(act[l + 1]);
    }
    return e;
}

/* ---- the same network with the engine ---- */
static ebm_tensor_t *net_dev(ebm_tensor_t **w, ebm_tensor_t *x) {
    ebm_tensor_t *h = x;
    for (int l = 0; l < 3; l++) {
        h = ebm_conv2d(h, w[2 * l], w[2 * l + 1], EBM_CONV2D(L[l].s, L[l].p));
        if (l < 2) h = ebm_swish(h);
    }
    return ebm_sum(h, 0xEu, 0);   /* (B) */
}

static double pen_ref(const double *th, const double *x) {
    size_t nx = (size_t)B * 2 * H0 * H0;
    double *dx = malloc(nx * sizeof(double)), s = 0;
    net_ref(th, x, dx);
    for (size_t i = 0; i < nx; i++) s += dx[i] * dx[i];
    free(dx);
    return s;
}

static double kl_ref(const double *th, const double *th0, const double *x, double eta) {
    size_t nx = (size_t)B * 2 * H0 * H0;
    double *dx = malloc(nx * sizeof(double)), *xk = malloc(nx * sizeof(double));
    net_ref(th, x, dx);
    for (size_t i = 0; i < nx; i++) {
        double v = x[i] - eta * dx[i];
        xk[i] = v < 0 ? 0 : (v > 1 ? 1 : v);
    }
    double e = net_ref(th0, xk, NULL);
    free(dx);
    free(xk);
    return e;
}

/* d(2a + 2b): one fresh tensor for both inputs, as a rule may return */
static void shared_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    (void)n, (void)need;
    gx[0] = gx[1] = ebm_scale(gy, 2.0f);
}

int main(void) {
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) {
        fprintf(stderr, "test_autograd: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    ebm_params_t *ps = ebm_params_new(ctx);
    ebm_tensor_t *w[6];
    for (int l = 0; l < 3; l++) {
        char name[32];
        snprintf(name, sizeof name, "%d.weight", 2 * l);
        w[2 * l] = ebm_params_add(ps, name, 4, (int[]){L[l].O, L[l].C, L[l].k, L[l].k});
        snprintf(name, sizeof name, "%d.bias", 2 * l);
        w[2 * l + 1] = ebm_params_add(ps, name, 1, (int[]){L[l].O});
    }
    check(ebm_params_finalize(ps) == EBM_OK, "parameters in one flat buffer");
    int np = n_params();
    double *th = malloc(np * sizeof(double));
    unsigned s = 12345;
    for (int i = 0; i < np; i++) {
        s = s * 1103515245u + 12345u;
        th[i] = (double)(float)(((s >> 8) & 0xffff) / 65536.0 - 0.5);
    }
    size_t nx = (size_t)B * 2 * H0 * H0;
    double *x = malloc(nx * sizeof(double));
    for (size_t i = 0; i < nx; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (double)(float)(0.2 + 0.6 * (((s >> 8) & 0xffff) / 65536.0));
    }
    /* upload theta into the parameter views */
    int off = 0;
    for (int i = 0; i < 6; i++) {
        size_t n = ebm_tensor_numel(w[i]);
        float *f = malloc(n * sizeof *f);
        for (size_t k = 0; k < n; k++) f[k] = (float)th[off + k];
        ebm_tensor_write(w[i], f);
        free(f);
        off += (int)n;
    }
    float *xf = malloc(nx * sizeof *xf);
    for (size_t i = 0; i < nx; i++) xf[i] = (float)x[i];
    const double tol = EPS32 * (4 + 8 * sqrt(36.0)) * 12;
    const double eta = 0.05, h = 1e-6;

    for (int test = 0; test < 2; test++) {
        ebm_scope_begin(ctx);
        ebm_params_zero_grad(ps);
        ebm_tensor_t *xt = ebm_tensor_from_host(ctx, 4, (int[]){B, 2, H0, H0}, xf);
        ebm_tensor_set_requires_grad(xt, 1);
        ebm_tensor_t *e = ebm_sum_all(net_dev(w, xt)), *gx;
        ebm_grad(&e, 1, NULL, &xt, 1, &gx, EBM_GRAD_CREATE_GRAPH);
        ebm_tensor_t *obj;
        if (test == 0) {
            obj = ebm_sum_all(ebm_square(gx));
        } else {
            ebm_tensor_t *xk = ebm_clamp(ebm_sub(xt, ebm_scale(gx, (float)eta)), 0.0f, 1.0f);
            int was = ebm_params_set_frozen(ctx, 1);
            obj = ebm_sum_all(net_dev(w, xk));
            ebm_params_set_frozen(ctx, was);
        }
        ebm_status_t st = ebm_params_backward(ps, obj);
        float *gd = malloc(ebm_params_numel(ps) * sizeof *gd);
        ebm_tensor_read(ebm_params_flat_grad(ps), gd);
        double max_err = 0, max_ref = 0;
        int off2 = 0, flat_off = 0;
        for (int i = 0; i < 6; i++) {
            size_t n = ebm_tensor_numel(w[i]);
            for (size_t k = 0; k < n; k++) {
                double t0 = th[off2 + k];
                th[off2 + k] = t0 + h;
                double fp = test == 0 ? pen_ref(th, x) : 0;
                double *th0 = NULL;
                if (test == 1) {
                    th0 = malloc(np * sizeof(double));
                    memcpy(th0, th, np * sizeof(double));
                    th0[off2 + k] = t0;
                    fp = kl_ref(th, th0, x, eta);
                }
                th[off2 + k] = t0 - h;
                double fm = test == 0 ? pen_ref(th, x) : kl_ref(th, th0, x, eta);
                th[off2 + k] = t0;
                free(th0);
                double fd = (fp - fm) / (2 * h);
                double a = gd[flat_off + k];
                if (fabs(a - fd) > max_err) max_err = fabs(a - fd);
                if (fabs(fd) > max_ref) max_ref = fabs(fd);
            }
            off2 += (int)n;
            flat_off += (int)((n + 15) & ~(size_t)15);
        }
        free(gd);
        char msg[200];
        snprintf(msg, sizeof msg, "%s: d/dtheta vs finite differences, err %.2e (max |ref| %.2e) tol %.2e",
                 test == 0 ? "MEG penalty ||dE/dx||^2" : "improved-CD KL term E_frozen(x - eta dE/dx)",
                 max_err / max_ref, max_ref, tol);
        check(st == EBM_OK && max_ref > 1e-3 && max_err / max_ref <= tol, msg);
        ebm_scope_end(ctx);
    }

    /* frozen parameters: no gradient reaches theta, x still gets one */
    ebm_scope_begin(ctx);
    {
        ebm_tensor_t *xt = ebm_tensor_from_host(ctx, 4, (int[]){B, 2, H0, H0}, xf);
        ebm_tensor_set_requires_grad(xt, 1);
        int was = ebm_params_set_frozen(ctx, 1);
        ebm_tensor_t *e = ebm_sum_all(net_dev(w, xt));
        ebm_params_set_frozen(ctx, was);
        ebm_tensor_t *in[2] = {w[0], xt}, *g[2];
        ebm_grad(&e, 1, NULL, in, 2, g, EBM_GRAD_ALLOW_UNUSED);
        check(g[0] == NULL && g[1] != NULL, "frozen parameters: no gradient to theta, gradient to x");
        /* grad mode off: nothing recorded */
        ebm_grad_set_enabled(ctx, 0);
        ebm_tensor_t *e2 = ebm_sum_all(net_dev(w, xt));
        ebm_grad_set_enabled(ctx, 1);
        check(!ebm_tensor_requires_grad(e2) && ebm_grad(&e2, 1, NULL, &xt, 1, g, EBM_GRAD_ALLOW_UNUSED) == EBM_OK && g[0] == NULL,
              "grad mode off records no graph");
        /* the energies agree with the reference */
        float ev[B];
        ebm_tensor_read(net_dev(w, xt), ev);
        check(fabs(ev[0] + ev[1] - net_ref(th, x, NULL)) < 1e-5 * (1 + fabs(net_ref(th, x, NULL))), "network energy matches reference");
    }
    ebm_scope_end(ctx);

    /* steady state: a Langevin-like step allocates nothing new after the first */
    size_t allocs[6];
    for (int it = 0; it < 6; it++) {
        ebm_scope_begin(ctx);
        ebm_tensor_t *xt = ebm_tensor_from_host(ctx, 4, (int[]){B, 2, H0, H0}, xf);
        ebm_tensor_set_requires_grad(xt, 1);
        ebm_tensor_t *e = ebm_sum_all(net_dev(w, xt)), *gx;
        ebm_grad(&e, 1, NULL, &xt, 1, &gx, 0);
        ebm_tensor_t *xn = ebm_sub(xt, ebm_scale(gx, 0.01f));
        (void)xn;
        ebm_scope_end(ctx);
        ebm_pool_stats(ctx, NULL, NULL, &allocs[it]);
    }
    char msg[256];
    snprintf(msg, sizeof msg, "steady-state iterations allocate no device buffers (%zu after 2, %zu after 6)", allocs[1], allocs[5]);
    check(allocs[5] == allocs[1] && ebm_ctx_status(ctx) == EBM_OK, msg);

    /* scopes: a kept result survives its scope; everything else, including the storage owner of a
     * kept view that lives in an outer scope, is released when that outer scope ends */
    {
        size_t live0, live1;
        ebm_pool_stats(ctx, &live0, NULL, NULL);
        ebm_scope_begin(ctx);
        ebm_tensor_t *outer = ebm_tensor_zeros(ctx, 2, (int[]){64, 64});
        ebm_scope_begin(ctx);
        ebm_tensor_t *view = ebm_detach(outer), *kept = ebm_square(outer);
        ebm_tensor_keep(view);
        ebm_tensor_keep(kept);
        ebm_scope_end(ctx);
        static float v[64 * 64];
        v[0] = -1;
        int alive = ebm_tensor_read(kept, v) == EBM_OK && v[0] == 0.0f && ebm_tensor_numel(view) == 64 * 64;
        ebm_scope_end(ctx);
        ebm_pool_stats(ctx, &live1, NULL, NULL);
        snprintf(msg, sizeof msg, "scopes: kept tensors survive their scope; all device memory returns at the outer scope's end (%zu -> %zu bytes)",
                 live0, live1);
        check(alive && live1 == live0, msg);
    }

    /* the pool's high-water marks: the peak of live bytes is the largest live total since the reset,
     * kept after the tensors are gone; taking a cached buffer again raises neither mark */
    {
        size_t live0, both, after, pl, ph, pl2, ph2;
        ebm_pool_peak_reset(ctx);
        ebm_pool_stats(ctx, &live0, NULL, NULL);
        ebm_pool_peak(ctx, &pl, NULL);
        int ok = pl == live0;
        ebm_scope_begin(ctx);
        ebm_tensor_t *a = ebm_tensor_zeros(ctx, 2, (int[]){96, 96}), *b = ebm_tensor_zeros(ctx, 2, (int[]){40, 40});
        ebm_pool_stats(ctx, &both, NULL, NULL);
        ebm_scope_end(ctx);
        ebm_pool_peak(ctx, &pl, &ph);
        ebm_scope_begin(ctx);
        ebm_tensor_t *c = ebm_tensor_zeros(ctx, 2, (int[]){96, 96});   /* a's buffer, from the cache */
        ebm_scope_end(ctx);
        ebm_pool_stats(ctx, &after, NULL, NULL);
        ebm_pool_peak(ctx, &pl2, &ph2);
        ok = ok && a && b && c && both >= live0 + (96 * 96 + 40 * 40) * sizeof(float) && pl == both && ph >= pl && after == live0 &&
             pl2 == pl && ph2 == ph;
        ebm_pool_peak_reset(ctx);
        ebm_pool_peak(ctx, &pl2, NULL);
        snprintf(msg, sizeof msg, "pool peaks: live peak %zu = the live total with both tensors (%zu), held peak %zu; "
                 "unchanged by a cached reuse; reset to the live %zu", pl, both, ph, pl2);
        check(ok && pl2 == live0, msg);
    }

    /* A request takes a cached buffer of up to twice its size before it makes a new one: after a
     * 96x96 tensor has gone, an 80x80 one takes its buffer (no new buffer; the live total grows by
     * the larger buffer), a second 80x80 one beside it gets a new buffer, and a 40x40 one (less than
     * half of 96x96) does not take the cached 96x96 buffer. */
    {
        size_t a0, a1, a2, a3, a4, live0, live1;
        ebm_pool_trim(ctx);
        ebm_scope_begin(ctx);
        ebm_tensor_t *big = ebm_tensor_new(ctx, 2, (int[]){96, 96});
        ebm_scope_end(ctx);
        ebm_pool_stats(ctx, &live0, NULL, &a0);
        ebm_scope_begin(ctx);
        ebm_tensor_t *mid = ebm_tensor_new(ctx, 2, (int[]){80, 80});
        ebm_pool_stats(ctx, &live1, NULL, &a1);
        ebm_tensor_t *mid2 = ebm_tensor_new(ctx, 2, (int[]){80, 80});
        ebm_pool_stats(ctx, NULL, NULL, &a2);
        ebm_scope_end(ctx);
        ebm_pool_trim(ctx);
        ebm_scope_begin(ctx);
        ebm_tensor_t *big2 = ebm_tensor_new(ctx, 2, (int[]){96, 96});
        ebm_scope_end(ctx);
        ebm_pool_stats(ctx, NULL, NULL, &a3);
        ebm_scope_begin(ctx);
        ebm_tensor_t *small = ebm_tensor_new(ctx, 2, (int[]){40, 40});
        ebm_pool_stats(ctx, NULL, NULL, &a4);
        ebm_scope_end(ctx);
        int ok = big && mid && mid2 && big2 && small && a1 == a0 && live1 >= live0 + 96 * 96 * sizeof(float) && a2 == a1 + 1 &&
                 a4 == a3 + 1;
        snprintf(msg, sizeof msg, "pool fit: an 80x80 tensor takes a cached 96x96 buffer (%zu -> %zu buffers made), a second "
                 "one beside it and a 40x40 one make their own (%zu, %zu -> %zu)", a0, a1, a2, a3, a4);
        check(ok, msg);
    }

    /* A gradient without a graph frees as it goes. Through L layers h' = swish(h) + h / 2 on NF floats
     * (the add hands one gradient to both branches: two accumulators share it), the device memory
     * live during ebm_grad stays within a few tensors of NF (the incoming gradient, the two branches'
     * and their sum), where keeping every gradient and temporary to the scope's end holds ~4 L. The
     * gradient is the product of the layers' derivatives swish'(h) + 1/2 (double on the host, from
     * the float input); each layer's float forward and backward add a few roundings of relative 2^-24,
     * so 64 L 2^-24 relative bounds it. It is still right after new tensors have taken the freed
     * buffers (the result was kept), and the same to the bit with a graph (create_graph: nothing
     * freed, the same kernels in the same order). */
    {
        enum { NF = 4096, NL = 8 };
        static float xh[NF], g1[NF], g2[NF];
        for (int i = 0; i < NF; i++) xh[i] = (float)(2.5 * sin(0.013 * i));
        size_t live0, peak, per = NF * sizeof(float);
        ebm_scope_begin(ctx);
        ebm_tensor_t *xt = ebm_tensor_from_host(ctx, 1, (int[]){NF}, xh), *hh = xt, *gx = NULL, *gg = NULL;
        ebm_tensor_set_requires_grad(xt, 1);
        for (int l = 0; l < NL; l++) hh = ebm_add(ebm_swish(hh), ebm_scale(hh, 0.5f));
        ebm_tensor_t *tot = ebm_sum_all(hh);
        ebm_pool_stats(ctx, &live0, NULL, NULL);
        ebm_pool_peak_reset(ctx);
        int ok = ebm_grad(&tot, 1, NULL, &xt, 1, &gx, 0) == EBM_OK;
        ebm_pool_peak(ctx, &peak, NULL);
        for (int i = 0; i < 8; i++) ebm_tensor_full(ctx, 1, (int[]){NF}, 7.0f);   /* into the freed buffers */
        ok = ok && ebm_tensor_read(gx, g1) == EBM_OK && ebm_grad(&tot, 1, NULL, &xt, 1, &gg, EBM_GRAD_CREATE_GRAPH) == EBM_OK &&
             ebm_tensor_read(gg, g2) == EBM_OK;
        ebm_scope_end(ctx);
        double worst = 0, rtol = 64.0 * NL / 16777216.0;
        int same = 1;
        for (int i = 0; i < NF; i++) {
            same &= g1[i] == g2[i];
            double v = xh[i], d = 1;
            for (int l = 0; l < NL; l++) {
                double sg = 1 / (1 + exp(-v));
                d *= sg + v * sg * (1 - sg) + 0.5;
                v = v * sg + 0.5 * v;
            }
            worst = fmax(worst, fmax(fabs(g1[i] - d), fabs(g2[i] - d)) / (rtol * fabs(d) + 1e-30));
        }
        snprintf(msg, sizeof msg, "a gradient without a graph frees as it goes: %.1f tensors of %d floats live at most during "
                 "ebm_grad through %d layers (at most 6); the gradient (kept) within %.3f of the tolerance, %s with a graph",
                 (double)(peak - live0) / per, NF, NL, worst, same ? "the same" : "NOT the same");
        check(ok && peak - live0 <= 6 * per && worst <= 1 && same, msg);
    }

    /* A global average pool after an activation: without a graph the pool's backward takes the
     * activation's derivative into its own launch (expand_mul: scale, broadcast and f' at once;
     * expand_mul_pow2 where the map is 1 to 16 pixels, a power of two: 4x4 and 2x2 here).
     * e = sum of w[n, c] * mean over (h, w) of swish(1.3 x): de/dx = w[n, c] / (H W) * swish'(1.3 x)
     * * 1.3, in double on the host. The fused gradient has the bits of the graph's (the same
     * roundings in the same order), fewer launches, and is within a few roundings of relative 2^-24
     * of the largest value (swish' itself is a few operations, each within an ulp). */
    for (int pc = 0; pc < 3; pc++) {
        enum { PB = 3, PC = 5, PMAX = PB * PC * 6 * 7 };
        const int PH = pc == 0 ? 6 : (pc == 1 ? 4 : 2), PW = pc == 0 ? 7 : PH, PN = PB * PC * PH * PW;
        static float xh[PMAX], wh[PB * PC], g1[PMAX], g2[PMAX];
        for (int i = 0; i < PN; i++) xh[i] = (float)(2.2 * sin(0.37 * i + 0.5));
        for (int i = 0; i < PB * PC; i++) wh[i] = (float)(cos(0.9 * i) - 0.25);
        ebm_scope_begin(ctx);
        ebm_tensor_t *xt = ebm_tensor_from_host(ctx, 4, (int[]){PB, PC, PH, PW}, xh);
        ebm_tensor_t *wt = ebm_tensor_from_host(ctx, 2, (int[]){PB, PC}, wh), *gx = NULL, *gg = NULL;
        ebm_tensor_set_requires_grad(xt, 1);
        ebm_tensor_t *m = ebm_mean(ebm_swish(ebm_scale(xt, 1.3f)), 0xC, 0);
        ebm_tensor_t *tot = ebm_sum_all(ebm_mul(m, wt));
        unsigned long l0 = ebm_ctx_launches(ctx);
        int ok = ebm_grad(&tot, 1, NULL, &xt, 1, &gx, 0) == EBM_OK;
        unsigned long l1 = ebm_ctx_launches(ctx);
        ok = ok && ebm_grad(&tot, 1, NULL, &xt, 1, &gg, EBM_GRAD_CREATE_GRAPH) == EBM_OK;
        unsigned long l2 = ebm_ctx_launches(ctx);
        ok = ok && ebm_tensor_read(gx, g1) == EBM_OK && ebm_tensor_read(gg, g2) == EBM_OK;
        ebm_scope_end(ctx);
        double worst = 0, top = 0, ref[PMAX];
        int same = 1;
        for (int i = 0; i < PN; i++) {
            double z = 1.3 * (double)xh[i], sg = 1 / (1 + exp(-z));
            ref[i] = wh[i / (PH * PW)] / (PH * PW) * (sg + z * sg * (1 - sg)) * 1.3;
            top = fmax(top, fabs(ref[i]));
        }
        for (int i = 0; i < PN; i++) {
            same &= g1[i] == g2[i];
            worst = fmax(worst, fabs(g1[i] - ref[i]) / (16.0 / 16777216.0 * top));
        }
        snprintf(msg, sizeof msg, "pool of %dx%d maps after an activation: the gradient without a graph in %lu launches (%lu with "
                 "one), %s bits, within %.3f of the tolerance", PH, PW, l1 - l0, l2 - l1, same ? "the same" : "NOT the same", worst);
        check(ok && same && worst <= 1 && l1 - l0 < l2 - l1, msg);
    }

    /* A gradient penalty's backward: L = sum(r * de/dx), e = sum(v * swish(x)), so de/dx = v *
     * swish'(x) is a unary_mul node whose two inputs both need gradients. Without a graph its
     * backward takes both in one launch (unary_mul_pair): dL/dv = r * swish'(x), dL/dx = r * v *
     * swish''(x), in double on the host; the bits of the three launches it replaces (the same
     * gradients asked for with a graph), fewer launches, within a few roundings of relative 2^-24 of
     * the largest value. */
    {
        enum { QN = 1000 };
        static float xq[QN], vq[QN], rq[QN], gv1[QN], gx1[QN], gv2[QN], gx2[QN];
        for (int i = 0; i < QN; i++) {
            xq[i] = (float)(4.0 * sin(0.61 * i + 0.2));
            vq[i] = (float)(cos(0.37 * i) + 0.5);
            rq[i] = (float)(sin(1.7 * i) - 0.1);
        }
        ebm_scope_begin(ctx);
        ebm_tensor_t *xt = ebm_tensor_from_host(ctx, 1, (int[]){QN}, xq), *vt = ebm_tensor_from_host(ctx, 1, (int[]){QN}, vq);
        ebm_tensor_t *rt = ebm_tensor_from_host(ctx, 1, (int[]){QN}, rq), *dx = NULL;
        ebm_tensor_set_requires_grad(xt, 1);
        ebm_tensor_set_requires_grad(vt, 1);
        ebm_tensor_t *e = ebm_sum_all(ebm_mul(vt, ebm_swish(xt)));
        int ok = ebm_grad(&e, 1, NULL, &xt, 1, &dx, EBM_GRAD_CREATE_GRAPH) == EBM_OK;
        ebm_tensor_t *pl = ebm_sum_all(ebm_mul(rt, dx)), *in[2] = {vt, xt}, *g1[2] = {NULL, NULL}, *g2[2] = {NULL, NULL};
        unsigned long l0 = ebm_ctx_launches(ctx);
        ok = ok && ebm_grad(&pl, 1, NULL, in, 2, g1, 0) == EBM_OK;
        unsigned long l1 = ebm_ctx_launches(ctx);
        ok = ok && ebm_grad(&pl, 1, NULL, in, 2, g2, EBM_GRAD_CREATE_GRAPH) == EBM_OK;
        unsigned long l2 = ebm_ctx_launches(ctx);
        ok = ok && ebm_tensor_read(g1[0], gv1) == EBM_OK && ebm_tensor_read(g1[1], gx1) == EBM_OK &&
             ebm_tensor_read(g2[0], gv2) == EBM_OK && ebm_tensor_read(g2[1], gx2) == EBM_OK;
        ebm_scope_end(ctx);
        double worst = 0, topv = 0, topx = 0, rv[QN], rx[QN];
        int same = 1;
        for (int i = 0; i < QN; i++) {
            double z = xq[i], sg = 1 / (1 + exp(-z)), p = sg * (1 - sg);
            rv[i] = rq[i] * (sg + z * p);
            rx[i] = rq[i] * (double)vq[i] * p * (2 + z * (1 - 2 * sg));
            topv = fmax(topv, fabs(rv[i])), topx = fmax(topx, fabs(rx[i]));
        }
        for (int i = 0; ok && i < QN; i++) {
            same &= gv1[i] == gv2[i] && gx1[i] == gx2[i];
            worst = fmax(worst, fabs(gv1[i] - rv[i]) / (16.0 / 16777216.0 * topv));
            worst = fmax(worst, fabs(gx1[i] - rx[i]) / (16.0 / 16777216.0 * topx));
        }
        snprintf(msg, sizeof msg, "a gradient penalty's backward through f'(x): %lu launches without a graph (%lu with one), %s "
                 "bits, within %.3f of the tolerance", l1 - l0, l2 - l1, same ? "the same" : "NOT the same", worst);
        check(ok && same && worst <= 1 && l1 - l0 < l2 - l1, msg);
    }

    /* A rule may hand one fresh tensor to two inputs: freeing as it goes must hold it until both took
     * it. y = 2a + 2b through such a rule, out = sum(y + a): d/da = 3, d/db = 2, read after new
     * tensors have taken whatever buffers the call gave back. */
    {
        enum { NS = 64 };
        float ga[NS], gb[NS];
        ebm_scope_begin(ctx);
        ebm_tensor_t *a = ebm_tensor_full(ctx, 1, (int[]){NS}, 1.0f), *b = ebm_tensor_full(ctx, 1, (int[]){NS}, 1.0f);
        ebm_tensor_set_requires_grad(a, 1);
        ebm_tensor_set_requires_grad(b, 1);
        ebm_tensor_t *y = ebm_scale(ebm_add(a, b), 2.0f), *in[2] = {a, b}, *g[2] = {NULL, NULL};
        ebm_tensor_t *y2 = ebm_detach(y);   /* y's value with the test's rule as its node */
        int ok = y2 && ebm_record(y2, "shared", shared_backward, 2, in) != NULL;
        ebm_tensor_t *out = ebm_sum_all(ebm_add(y2, a));
        ok = ok && ebm_grad(&out, 1, NULL, in, 2, g, 0) == EBM_OK;
        for (int i = 0; i < 8; i++) ebm_tensor_full(ctx, 1, (int[]){NS}, 7.0f);
        ok = ok && ebm_tensor_read(g[0], ga) == EBM_OK && ebm_tensor_read(g[1], gb) == EBM_OK;
        ebm_scope_end(ctx);
        for (int i = 0; ok && i < NS; i++) ok = ga[i] == 3.0f && gb[i] == 2.0f;
        snprintf(msg, sizeof msg, "one fresh gradient for two inputs: d/da %g, d/db %g (3 and 2)", ok ? ga[0] : -1.0, ok ? gb[0] : -1.0);
        check(ok, msg);
    }

    /* batch norm in training updates running statistics (momentum 0.1, unbiased variance), without
     * recording a graph for them */
    ebm_scope_begin(ctx);
    {
        enum { BN = 4, BC = 3, BH = 5, BW = 6 };
        float xb[BN * BC * BH * BW], rm[BC] = {0.5f, -0.25f, 1.0f}, rv[BC] = {2.0f, 1.0f, 0.5f}, rm2[BC], rv2[BC];
        for (int i = 0; i < BN * BC * BH * BW; i++) xb[i] = (float)sin(0.37 * i) * (1 + i % 3);
        ebm_tensor_t *xt = ebm_tensor_from_host(ctx, 4, (int[]){BN, BC, BH, BW}, xb);
        ebm_tensor_t *m = ebm_tensor_from_host(ctx, 1, (int[]){BC}, rm), *v = ebm_tensor_from_host(ctx, 1, (int[]){BC}, rv);
        ebm_tensor_set_requires_grad(xt, 1);
        ebm_tensor_t *y = ebm_batch_norm(xt, NULL, NULL, m, v, 1, 0.1f, 1e-5f);
        ebm_tensor_read(m, rm2);
        ebm_tensor_read(v, rv2);
        double err = 0;
        int cnt = BN * BH * BW;
        for (int c = 0; c < BC; c++) {
            double mean = 0, var = 0;
            for (int n = 0; n < BN; n++)
                for (int k = 0; k < BH * BW; k++) mean += xb[(n * BC + c) * BH * BW + k];
            mean /= cnt;
            for (int n = 0; n < BN; n++)
                for (int k = 0; k < BH * BW; k++) var += pow(xb[(n * BC + c) * BH * BW + k] - mean, 2);
            var /= cnt - 1;
            err = fmax(err, fabs(rm2[c] - (0.9 * rm[c] + 0.1 * mean)));
            err = fmax(err, fabs(rv2[c] - (0.9 * rv[c] + 0.1 * var)));
        }
        /* sums of 120 values of magnitude <= 3: eps32 * (4 + 8 sqrt(120)) * 3 */
        snprintf(msg, sizeof msg, "batch norm running mean/var updated (max err %.2e); no gradient recorded for them", err);
        check(y && err <= EPS32 * (4 + 8 * sqrt(120.0)) * 3 * 3 && !ebm_tensor_requires_grad(m) && !ebm_tensor_requires_grad(v), msg);
    }
    ebm_scope_end(ctx);

    free(th);
    free(x);
    free(xf);
    ebm_params_free(ps);
    ebm_ctx_free(ctx);
    return test_summary();
}
