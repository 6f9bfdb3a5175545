/* test_nets.c — the generator-EBM networks (models/nets.h) against double-precision references:
 *  1. Kim & Bengio's product of experts E(x) = |x|^2/sigma^2 - b.x - sum_k softplus(w_k.f(x) + c_k);
 *  2. an MLP generator with batch norm (batch statistics, biased variance, eps 1e-5) and ReLU;
 *  3. MEG's DCGAN generator and conv trunk: output shapes for 28x28 and 32x32, tanh range, names;
 *  4. the energy a config with [model] net = dcgan builds (run_build, activation "auto"): MEG's trunk
 *     with leaky ReLU 0.2 (four conv5x5 s2 p2, fc), and the activation recorded in the config; the
 *     same net with swish differs from the reference by far more than the tolerance.
 * Tolerance: every output is a chain of at most ~40 float32 operations (products, sums of <= 5
 * terms, exp/log/sqrt) over values of magnitude <= S (the sum of the absolute terms), so its error is
 * below 40 * 2^-24 * S ~ 2.4e-6 S; 1e-5 (1 + S) bounds it with room, and a wrong formula (a missing
 * term, sigma instead of sigma^2, unbiased variance) is off by far more. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ebm.h"
#include "nets.h"
#include "run.h"
#include "testing.h"
#include "train.h"

static ebm_tensor_t *named(ebm_params_t *ps, const char *name) {
    for (int i = 0; i < ebm_params_count(ps); i++)
        if (!strcmp(ebm_params_name(ps, i), name)) return ebm_params_get(ps, i);
    return NULL;
}

/* a parameter's values on the host (n of them), randomised first when rnd */
static int fetch(ebm_params_t *ps, const char *name, double *out, size_t n, ebm_rng_t *rng, float lo, float hi) {
    ebm_tensor_t *t = named(ps, name);
    float buf[256];
    if (!t || ebm_tensor_numel(t) != n || n > 256) return 0;
    if (rng && ebm_tensor_fill_uniform(t, rng, lo, hi) != EBM_OK) return 0;
    if (ebm_tensor_read(t, buf) != EBM_OK) return 0;
    for (size_t i = 0; i < n; i++) out[i] = buf[i];
    return 1;
}

/* a parameter's n values on the host (malloc'd; NULL if absent or of another size) */
static double *fetch_all(ebm_params_t *ps, const char *name, size_t n) {
    ebm_tensor_t *t = named(ps, name);
    float *buf = malloc(sizeof(float) * n);
    double *out = malloc(sizeof(double) * n);
    if (!t || !buf || !out || ebm_tensor_numel(t) != n || ebm_tensor_read(t, buf) != EBM_OK) {
        free(buf), free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) out[i] = buf[i];
    free(buf);
    return out;
}

/* conv5x5 stride 2 pad 2 (cin x H x H -> cout x Ho x Ho) then leaky ReLU 0.2; *scale: sum of |terms| */
static void conv5s2_lrelu(const double *x, int cin, int H, const double *w, const double *b, int cout, double *y, double *scale) {
    int Ho = (H - 1) / 2 + 1;
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < Ho; i++)
            for (int j = 0; j < Ho; j++) {
                double sum = b[o], mag = fabs(b[o]);
                for (int c = 0; c < cin; c++)
                    for (int ki = 0; ki < 5; ki++)
                        for (int kj = 0; kj < 5; kj++) {
                            int ii = 2 * i - 2 + ki, jj = 2 * j - 2 + kj;
                            if (ii < 0 || jj < 0 || ii >= H || jj >= H) continue;
                            double t = w[((o * cin + c) * 5 + ki) * 5 + kj] * x[(c * H + ii) * H + jj];
                            sum += t, mag += fabs(t);
                        }
                y[(o * Ho + i) * Ho + j] = sum > 0 ? sum : 0.2 * sum;
                if (mag > *scale) *scale = mag;
            }
}

static double swish(double v) { return v / (1 + exp(-v)); }
static double softplus(double v) { return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)); }

int main(void) {
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) {
        fprintf(stderr, "test_nets: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    char msg[256];
    ebm_rng_t rng = ebm_rng_make(11, 0);
    /* 1. product of experts: 3 inputs, one hidden layer of 5 (swish), 4 experts, sigma 1.5 */
    {
        enum { D = 3, H = 5, K = 4, N = 6 };
        const float sigma = 1.5f;
        ebm_params_t *ps = ebm_params_new(ctx);
        ebm_net_t *net = ebm_net_poe(ps, "", D, (int[]){H}, 1, K, sigma);
        int ok = net && ebm_params_finalize(ps) == EBM_OK && ebm_net_init(net, &rng) == EBM_OK;
        double w1[H * D], b1[H], we[K * H], be[K], vb[D], worst = 0;
        ok = ok && fetch(ps, "features.0.weight", w1, H * D, NULL, 0, 0) && fetch(ps, "features.0.bias", b1, H, NULL, 0, 0) &&
             fetch(ps, "experts.weight", we, K * H, NULL, 0, 0) && fetch(ps, "experts.bias", be, K, NULL, 0, 0) &&
             fetch(ps, "visible_bias", vb, D, &rng, -1, 1);   /* initialised to 0: randomise so b.x counts */
        float x[N * D], e[N];
        ebm_rng_host_uniform(&rng, x, N * D);
        for (int i = 0; i < N * D; i++) x[i] = 4 * x[i] - 2;
        ebm_scope_begin(ctx);
        ebm_tensor_t *et = ok ? ebm_net_energy(net, ebm_tensor_from_host(ctx, 2, (int[]){N, D}, x)) : NULL;
        ok = et && ebm_tensor_read(et, e) == EBM_OK;
        ebm_scope_end(ctx);
        for (int i = 0; ok && i < N; i++) {
            double f[H], quad = 0, lin = 0, ex = 0;
            for (int h = 0; h < H; h++) {
                double a = b1[h];
                for (int d = 0; d < D; d++) a += w1[h * D + d] * x[i * D + d];
                f[h] = swish(a);
            }
            for (int k = 0; k < K; k++) {
                double a = be[k];
                for (int h = 0; h < H; h++) a += we[k * H + h] * f[h];
                ex += softplus(a);
            }
            for (int d = 0; d < D; d++) quad += (double)x[i * D + d] * x[i * D + d] / ((double)sigma * sigma), lin += vb[d] * x[i * D + d];
            double ref = quad - lin - ex, err = fabs(e[i] - ref) / (1e-5 * (1 + fabs(quad) + fabs(lin) + ex));
            if (err > worst) worst = err;
        }
        snprintf(msg, sizeof msg, "product of experts vs double reference: worst error %.3g of the tolerance", worst);
        check(ok && worst <= 1, msg);
        ebm_net_free(net);
        ebm_params_free(ps);
    }
    /* 2. generator MLP with batch norm: 2 -> 4 (BN, ReLU) -> 3, batch of 8 */
    {
        enum { Z = 2, H = 4, O = 3, B = 8 };
        ebm_params_t *ps = ebm_params_new(ctx);
        ebm_net_t *net = ebm_net_mlp_bn(ps, "", Z, (int[]){H}, 1, O);
        int ok = net && ebm_net_set_activation(net, "relu") == EBM_OK && ebm_params_finalize(ps) == EBM_OK &&
                 ebm_net_init(net, &rng) == EBM_OK;
        double w1[H * Z], b1[H], g[H], bt[H], w2[O * H], b2[O], worst = 0;
        ok = ok && fetch(ps, "0.weight", w1, H * Z, NULL, 0, 0) && fetch(ps, "0.bias", b1, H, NULL, 0, 0) &&
             fetch(ps, "1.weight", g, H, &rng, 0.5f, 2) && fetch(ps, "1.bias", bt, H, &rng, -1, 1) &&   /* BN starts at 1, 0 */
             fetch(ps, "3.weight", w2, O * H, NULL, 0, 0) && fetch(ps, "3.bias", b2, O, NULL, 0, 0);
        float z[B * Z], y[B * O];
        ebm_rng_host_normal(&rng, z, B * Z);
        ebm_scope_begin(ctx);
        ebm_tensor_t *yt = ok ? ebm_net_forward(net, ebm_tensor_from_host(ctx, 2, (int[]){B, Z}, z)) : NULL;
        ok = yt && ebm_tensor_dim(yt, 0) == B && ebm_tensor_dim(yt, 1) == O && ebm_tensor_read(yt, y) == EBM_OK;
        ebm_scope_end(ctx);
        double h[B][H];
        for (int i = 0; i < B; i++)
            for (int u = 0; u < H; u++) {
                h[i][u] = b1[u];
                for (int d = 0; d < Z; d++) h[i][u] += w1[u * Z + d] * z[i * Z + d];
            }
        for (int u = 0; u < H; u++) {   /* batch statistics, biased variance */
            double m = 0, v = 0;
            for (int i = 0; i < B; i++) m += h[i][u] / B;
            for (int i = 0; i < B; i++) v += (h[i][u] - m) * (h[i][u] - m) / B;
            for (int i = 0; i < B; i++) h[i][u] = fmax(0, g[u] * (h[i][u] - m) / sqrt(v + 1e-5) + bt[u]);
        }
        for (int i = 0; ok && i < B; i++)
            for (int o = 0; o < O; o++) {
                double ref = b2[o], scale = fabs(b2[o]);
                for (int u = 0; u < H; u++) ref += w2[o * H + u] * h[i][u], scale += fabs(w2[o * H + u] * h[i][u]);
                double err = fabs(y[i * O + o] - ref) / (1e-5 * (1 + scale));
                if (err > worst) worst = err;
            }
        snprintf(msg, sizeof msg, "batch-norm MLP generator vs double reference: worst error %.3g of the tolerance", worst);
        check(ok && worst <= 1, msg);
        ebm_tensor_t *gam[4];
        check(ebm_net_bn_gammas(net, gam, 4) == 1 && gam[0] == named(ps, "1.weight"), "the batch-norm scales are the generator's entropy parameters");
        ebm_net_free(net);
        ebm_params_free(ps);
    }
    /* 3. DCGAN generator and trunk: shapes, range, names */
    for (int size = 28; size <= 32; size += 4) {
        ebm_params_t *ps = ebm_params_new(ctx);
        ebm_net_t *gen = ebm_net_dcgan_generator(ps, "g.", 8, 2, 3, size), *trunk = ebm_net_dcgan_trunk(ps, "t.", 3, 2, size, 5);
        ebm_net_t *energy = ebm_net_dcgan_trunk(ps, "e.", 3, 2, size, 1);
        int ok = gen && trunk && energy && ebm_params_finalize(ps) == EBM_OK && ebm_net_init(gen, &rng) == EBM_OK &&
                 ebm_net_init(trunk, &rng) == EBM_OK && ebm_net_init(energy, &rng) == EBM_OK;
        ebm_tensor_t *w4 = named(ps, "g.deconv4.weight"), *fc = named(ps, "t.fc.weight");
        int s0 = (size + 15) / 16;   /* the ladder s0 -> ... -> size halves four times, rounding up */
        ok = ok && w4 && ebm_tensor_dim(w4, 0) == 2 && ebm_tensor_dim(w4, 1) == 3 && fc && ebm_tensor_dim(fc, 1) == 16 * s0 * s0 &&
             named(ps, "g.norm3.weight") && !named(ps, "g.norm4.weight");
        ebm_scope_begin(ctx);
        int was = ebm_grad_set_enabled(ctx, 0);
        ebm_tensor_t *x = ok ? ebm_net_forward(gen, ebm_rand_normal(ctx, &rng, 2, (int[]){4, 8}, 0, 1)) : NULL;
        ebm_tensor_t *f = x ? ebm_net_forward(trunk, x) : NULL, *e = x ? ebm_net_energy(energy, x) : NULL;
        ebm_grad_set_enabled(ctx, was);
        float *xv = malloc(sizeof(float) * 4 * 3 * size * size), lo = INFINITY, hi = -INFINITY;
        ok = ok && x && f && e && xv && ebm_tensor_ndim(x) == 4 && ebm_tensor_dim(x, 0) == 4 && ebm_tensor_dim(x, 1) == 3 &&
             ebm_tensor_dim(x, 2) == size && ebm_tensor_dim(x, 3) == size && ebm_tensor_dim(f, 1) == 5 && ebm_tensor_ndim(e) == 1 &&
             ebm_tensor_read(x, xv) == EBM_OK;
        for (int i = 0; ok && i < 4 * 3 * size * size; i++) lo = fminf(lo, xv[i]), hi = fmaxf(hi, xv[i]);
        ebm_scope_end(ctx);
        snprintf(msg, sizeof msg, "DCGAN %dx%d: generator (4, 3, %d, %d) in [%.3f, %.3f] within [-1, 1], trunk (4, 5), energy (4), names",
                 size, size, size, size, lo, hi);
        check(ok && lo >= -1 && hi <= 1 && hi > lo, msg);
        free(xv);
        ebm_net_free(gen), ebm_net_free(trunk), ebm_net_free(energy);
        ebm_params_free(ps);
    }
    /* 4. [model] net = dcgan from a config: leaky ReLU 0.2 unless the config names another activation */
    {
        enum { B = 2, S = 16 };
        ebm_config_t *cfg = ebm_train_config_new();
        char err[256];
        const char *sets[] = {"model.net=dcgan", "model.base=1", "buffer.capacity=0", "run.seed=5"};
        int ok = cfg != NULL;
        for (int i = 0; ok && i < 4; i++) ok = ebm_config_set(cfg, sets[i], err, sizeof err) == EBM_OK;
        run_t r = {0};
        ok = ok && run_build(&r, cfg, ebm_method_of(cfg), NULL, 3, (int[]){1, S, S});
        check(ok && !strcmp(ebm_config_str(cfg, "model", "activation"), "lrelu"),
              "dcgan energy with [model] activation = auto: the config records lrelu");
        /* x ~ U(0, 1); the reference: conv1..4 (1 -> 1 -> 2 -> 4 -> 8 channels, 16 -> 8 -> 4 -> 2 -> 1), fc */
        float xf[B * S * S];
        ebm_rng_host_uniform(&rng, xf, B * S * S);
        double *w[5] = {0}, *b[5] = {0};
        int ch[5] = {1, 1, 2, 4, 8};
        /* weights of unit size (PyTorch's init keeps pre-activations near 0, where swish and leaky ReLU
         * are both nearly linear and a wrong activation would hide) */
        for (int i = 0; ok && i < ebm_params_count(r.ps); i++) ok = ebm_tensor_fill_uniform(ebm_params_get(r.ps, i), &rng, -1, 1) == EBM_OK;
        for (int l = 0; ok && l < 4; l++) {
            char wn[32], bn_[32];
            snprintf(wn, sizeof wn, "conv%d.weight", l + 1), snprintf(bn_, sizeof bn_, "conv%d.bias", l + 1);
            w[l] = fetch_all(r.ps, wn, (size_t)ch[l + 1] * ch[l] * 25), b[l] = fetch_all(r.ps, bn_, (size_t)ch[l + 1]);
            ok = w[l] && b[l];
        }
        w[4] = ok ? fetch_all(r.ps, "fc.weight", 8) : NULL, b[4] = ok ? fetch_all(r.ps, "fc.bias", 1) : NULL;
        ok = ok && w[4] && b[4];
        float e[B], e_swish[B];
        for (int pass = 0; ok && pass < 2; pass++) {
            if (pass) ok = ebm_net_set_activation(r.net, "swish") == EBM_OK;
            ebm_scope_begin(r.ctx);
            int was = ebm_grad_set_enabled(r.ctx, 0);
            ebm_tensor_t *en = run_energy(&r, ebm_tensor_from_host(r.ctx, 4, (int[]){B, 1, S, S}, xf));
            ebm_grad_set_enabled(r.ctx, was);
            ok = ok && en && ebm_tensor_read(en, pass ? e_swish : e) == EBM_OK;
            ebm_scope_end(r.ctx);
        }
        double worst = 0, worst_swish = 0;
        for (int i = 0; ok && i < B; i++) {
            double a[S * S], h1[64], h2[32], h3[16], h4[8], scale = 0;
            for (int k = 0; k < S * S; k++) a[k] = xf[i * S * S + k];
            conv5s2_lrelu(a, 1, 16, w[0], b[0], 1, h1, &scale);
            conv5s2_lrelu(h1, 1, 8, w[1], b[1], 2, h2, &scale);
            conv5s2_lrelu(h2, 2, 4, w[2], b[2], 4, h3, &scale);
            conv5s2_lrelu(h3, 4, 2, w[3], b[3], 8, h4, &scale);
            double ref = b[4][0], mag = fabs(b[4][0]);
            for (int k = 0; k < 8; k++) ref += w[4][k] * h4[k], mag += fabs(w[4][k] * h4[k]);
            if (mag > scale) scale = mag;
            /* four layers of <= 101-term sums: rounding below 1e-5 (1 + S), as above */
            worst = fmax(worst, fabs(e[i] - ref) / (1e-5 * (1 + scale)));
            worst_swish = fmax(worst_swish, fabs(e_swish[i] - ref) / (1e-5 * (1 + scale)));
        }
        snprintf(msg, sizeof msg, "dcgan energy from a config vs double reference with leaky ReLU 0.2: worst error %.3g of the "
                 "tolerance (the same weights with swish: %.3g)", worst, worst_swish);
        check(ok && worst <= 1 && worst_swish > 1, msg);
        for (int l = 0; l < 5; l++) free(w[l]), free(b[l]);
        run_free(&r);
        ebm_config_free(cfg);
    }
    ebm_ctx_free(ctx);
    return test_summary();
}
