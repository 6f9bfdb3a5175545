/* test_rbm.c — restricted Boltzmann machines (models/methods/rbm.c, [model] net = rbm_free_energy) against exact
 * answers computed here in double precision:
 *   - ebm_bernoulli on the device draws the same 0/1 pattern as u < p with u = ebm_rng_host_uniform
 *     (the op's C reference) and advances the stream as far;
 *   - the free energy F(v) of the network (Bernoulli and Gaussian visible units) equals -log sum_h
 *     exp(-E(v, h)) summed here over h from E's definition (nets.h);
 *   - rbm_log_z_host (the smaller layer summed, Gray code) equals log Z by brute force over both layers
 *     (Bernoulli, both branches: H <= D and H > D); for Gaussian visible units it equals the sum over h of
 *     the integral over v done by the trapezoid rule; the device path rbm_log_z_exact agrees; and the
 *     probabilities exp(-F(v) - log Z) of the network's F sum to 1 over all 2^D states;
 *   - block Gibbs sampling (rbm_gibbs) on a 4-visible, 3-hidden RBM reproduces the exact distribution
 *     of the 16 visible states (chi-square test at a fixed seed), and the same test rejects the
 *     distribution of an RBM with one weight changed (the test has the power to see a wrong sampler);
 *     Gaussian visible units: the per-unit means and second moments of the Gibbs samples match the
 *     exact mixture's within 4 standard errors;
 *   - one and two iterations of the method (CD-1 and PCD-1 with the sparsity term, SGD) change every
 *     parameter as the host's CD update from the same replayed Philox draws, and PCD's second iteration
 *     starts from the first one's negatives;
 *   - toy:bars4 holds the 32 bars-and-stripes rows (30 distinct) and ebm_bars_best_loglik is their
 *     sum p log p; [data] binarize thresholds at 0.5, and its stochastic copy has the right frequencies
 *     and is the same on every open;
 *   - AIS (rbm_ais) agrees with the exact log Z within 3 of its reported standard errors, on Bernoulli
 *     and Gaussian RBMs small enough for both, and that error is small (< 0.05 nats) so the check has
 *     teeth. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data.h"
#include "rbm.h"
#include "testing.h"
#include "train.h"

static double softplus_d(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* E(v, h) of nets.h: Bernoulli -b.v - c.h - h.W v; Gaussian sum (v-b)^2/(2 s^2) - c.h - h.W (v/s) */
static double energy_vh(const double *w, const double *bv, const double *bh, const double *sg, int D, int H, const double *v,
                        const double *h) {
    double e = 0;
    for (int i = 0; i < D; i++) e += sg ? (v[i] - bv[i]) * (v[i] - bv[i]) / (2 * sg[i] * sg[i]) : -bv[i] * v[i];
    for (int j = 0; j < H; j++) {
        e -= bh[j] * h[j];
        for (int i = 0; i < D; i++) e -= h[j] * w[j * D + i] * (sg ? v[i] / sg[i] : v[i]);
    }
    return e;
}

static void bits(unsigned s, int n, double *out) {
    for (int i = 0; i < n; i++) out[i] = (s >> i) & 1;
}

/* log Z by brute force over both layers (Bernoulli) */
static double brute_log_z(const double *w, const double *bv, const double *bh, int D, int H) {
    double mx = -INFINITY, acc = 0, v[32], h[32];
    for (unsigned sv = 0; sv < 1u << D; sv++)
        for (unsigned sh = 0; sh < 1u << H; sh++) {
            bits(sv, D, v), bits(sh, H, h);
            double x = -energy_vh(w, bv, bh, NULL, D, H, v, h);
            if (x > mx) acc = acc * exp(mx - x) + 1, mx = x;
            else acc += exp(x - mx);
        }
    return mx + log(acc);
}

/* Gaussian visible units: sum over h of prod_i of the integral over v_i of exp(-E), each integral by the
 * trapezoid rule on [b - 40 s, b + 40 s] in 200 000 steps (the integrand is a Gaussian bump well inside;
 * the rule is exact to ~1e-12 for such smooth, decaying integrands) */
static double quad_log_z(const double *w, const double *bv, const double *bh, const double *sg, int D, int H) {
    double mx = -INFINITY, acc = 0, h[32];
    for (unsigned sh = 0; sh < 1u << H; sh++) {
        bits(sh, H, h);
        double x = 0;
        for (int j = 0; j < H; j++) x += bh[j] * h[j];
        for (int i = 0; i < D; i++) {
            double a = 0, lo = bv[i] - 40 * sg[i], hi = bv[i] + 40 * sg[i], step = (hi - lo) / 200000, s = 0;
            for (int j = 0; j < H; j++) a += h[j] * w[j * D + i];
            double peak = bv[i] + sg[i] * a, top = -(peak - bv[i]) * (peak - bv[i]) / (2 * sg[i] * sg[i]) + a * peak / sg[i];
            for (int k = 0; k <= 200000; k++) {
                double v = lo + k * step, f = exp(-(v - bv[i]) * (v - bv[i]) / (2 * sg[i] * sg[i]) + a * v / sg[i] - top);
                s += (k == 0 || k == 200000 ? 0.5 : 1) * f;
            }
            x += top + log(s * step);
        }
        if (x > mx) acc = acc * exp(mx - x) + 1, mx = x;
        else acc += exp(x - mx);
    }
    return mx + log(acc);
}

static double free_energy(const double *w, const double *bv, const double *bh, const double *sg, int D, int H, const double *v) {
    double f = 0;
    for (int i = 0; i < D; i++) f += sg ? (v[i] - bv[i]) * (v[i] - bv[i]) / (2 * sg[i] * sg[i]) : -bv[i] * v[i];
    for (int j = 0; j < H; j++) {
        double a = bh[j];
        for (int i = 0; i < D; i++) a += w[j * D + i] * (sg ? v[i] / sg[i] : v[i]);
        f -= softplus_d(a);
    }
    return f;
}

/* -log sum_h exp(-E(v, h)) by enumerating h */
static double free_energy_brute(const double *w, const double *bv, const double *bh, const double *sg, int D, int H,
                                const double *v) {
    double mx = -INFINITY, acc = 0, h[32];
    for (unsigned sh = 0; sh < 1u << H; sh++) {
        bits(sh, H, h);
        double x = -energy_vh(w, bv, bh, sg, D, H, v, h);
        if (x > mx) acc = acc * exp(mx - x) + 1, mx = x;
        else acc += exp(x - mx);
    }
    return -(mx + log(acc));
}

/* an RBM with weights N(0, ws^2) and biases N(0, bs^2) from a fixed host stream, on the device too */
typedef struct {
    int D, H;
    double w[512], bv[32], bh[32], sg[32];
    ebm_params_t *ps;
    ebm_net_t *net;
    rbm_view_t m;
} tiny_t;

static int tiny_make(ebm_ctx_t *ctx, tiny_t *t, int D, int H, int gaussian, double ws, double bs, uint64_t seed) {
    memset(t, 0, sizeof *t);
    t->D = D, t->H = H;
    ebm_rng_t rng = ebm_rng_make(seed, 7);
    float z[600];
    ebm_rng_host_normal(&rng, z, (size_t)(H * D + D + H + D));
    for (int k = 0; k < H * D; k++) t->w[k] = (float)(ws * z[k]);
    for (int i = 0; i < D; i++) t->bv[i] = (float)(bs * z[H * D + i]);
    for (int j = 0; j < H; j++) t->bh[j] = (float)(bs * z[H * D + D + j]);
    for (int i = 0; i < D; i++) t->sg[i] = (float)exp(0.3 * z[H * D + D + H + i]);   /* sigma around 1 */
    t->ps = ebm_params_new(ctx);
    t->net = ebm_net_rbm(t->ps, "", D, H, gaussian, 1.0f, gaussian);
    if (!t->net || ebm_params_finalize(t->ps) != EBM_OK) return 0;
    float f[512];
    const char *names[4] = {"weight", "visible_bias", "hidden_bias", "log_sigma"};
    const double *src[4] = {t->w, t->bv, t->bh, t->sg};
    int n[4] = {H * D, D, H, D};
    for (int p = 0; p < (gaussian ? 4 : 3); p++) {
        for (int k = 0; k < n[p]; k++) f[k] = (float)(p == 3 ? log(src[p][k]) : src[p][k]);
        if (ebm_tensor_write(ebm_params_find(t->ps, names[p]), f) != EBM_OK) return 0;
    }
    t->m = (rbm_view_t){.w = ebm_params_find(t->ps, "weight"), .bv = ebm_params_find(t->ps, "visible_bias"),
                        .bh = ebm_params_find(t->ps, "hidden_bias"), .sigma = ebm_net_rbm_sigma(t->net), .D = D, .H = H};
    if (gaussian) {   /* sigma as the device has it: exp of the float log sigma */
        if (!t->m.sigma || ebm_tensor_read(t->m.sigma, f) != EBM_OK) return 0;
        for (int i = 0; i < D; i++) t->sg[i] = f[i];
    }
    return t->m.w != NULL;
}

static void tiny_free(tiny_t *t) {
    ebm_net_free(t->net);
    ebm_params_free(t->ps);
}

static void test_bernoulli(ebm_ctx_t *ctx) {
    enum { N = 1003 };   /* not a multiple of 4: the last Philox block is partly used */
    float p[N], y[N], u[N];
    for (int i = 0; i < N; i++) p[i] = i % 7 == 0 ? (float)(i % 2) : (float)i / N;   /* 0 and 1 included */
    ebm_rng_t rd = ebm_rng_make(99, 5), rh = rd;
    rd.counter = rh.counter = 12;
    ebm_scope_begin(ctx);
    ebm_tensor_t *y_t = ebm_bernoulli(ebm_tensor_from_host(ctx, 1, (int[]){N}, p), &rd);
    int ok = y_t && ebm_tensor_read(y_t, y) == EBM_OK;
    ebm_scope_end(ctx);
    ebm_rng_host_uniform(&rh, u, N);
    int same = ok, edges = ok;
    for (int i = 0; ok && i < N; i++) {
        same &= y[i] == (u[i] < p[i] ? 1.0f : 0.0f);
        if (p[i] == 0.0f) edges &= y[i] == 0.0f;
        if (p[i] == 1.0f) edges &= y[i] == 1.0f;
    }
    check(same, "ebm_bernoulli: the device's 1003 draws are u < p with u = ebm_rng_host_uniform's, bit for bit");
    check(edges, "ebm_bernoulli: p = 0 never fires, p = 1 always does");
    check(rd.counter == rh.counter, "ebm_bernoulli advances the stream as the host draw of as many uniforms");
}

static void test_free_energy(ebm_ctx_t *ctx) {
    /* |F| is at most ~30 here; float32 evaluation of D + H terms of that size rounds by < 30 * 2^-24 * 20 ~ 4e-5 */
    for (int g = 0; g < 2; g++) {
        tiny_t t;
        int D = 5, H = 4, ok = tiny_make(ctx, &t, D, H, g, 1.0, 0.5, 11 + g);
        enum { B = 6 };
        float vf[B * 5], e[B];
        ebm_rng_t rng = ebm_rng_make(3, 3);
        ebm_rng_host_normal(&rng, vf, B * D);
        for (int k = 0; k < B * D; k++) vf[k] = g ? vf[k] * 2 : (vf[k] > 0);
        ebm_scope_begin(ctx);
        ebm_tensor_t *et = ok ? ebm_net_energy(t.net, ebm_tensor_from_host(ctx, 2, (int[]){B, D}, vf)) : NULL;
        ok = et && ebm_tensor_read(et, e) == EBM_OK;
        ebm_scope_end(ctx);
        double worst = 0;
        for (int b = 0; ok && b < B; b++) {
            double v[5];
            for (int i = 0; i < D; i++) v[i] = vf[b * D + i];
            double ref = free_energy_brute(t.w, t.bv, t.bh, g ? t.sg : NULL, D, H, v);
            worst = fmax(worst, fabs(e[b] - ref) / (1 + fabs(ref)));
            worst = fmax(worst, fabs(free_energy(t.w, t.bv, t.bh, g ? t.sg : NULL, D, H, v) - ref) / (1 + fabs(ref)) * 1e6);
        }
        char what[200];
        snprintf(what, sizeof what, "F(v) of net = rbm_free_energy (%s visible) equals -log sum_h exp(-E(v, h)) (worst relative %.2g)",
                 g ? "Gaussian" : "Bernoulli", worst);
        check(ok && worst < 1e-5, what);
        tiny_free(&t);
    }
}

static void test_log_z(ebm_ctx_t *ctx) {
    int shapes[3][2] = {{5, 4}, {3, 6}, {6, 6}};   /* sums over h, over v, and the tie */
    for (int s = 0; s < 3; s++) {
        tiny_t t;
        int D = shapes[s][0], H = shapes[s][1], ok = tiny_make(ctx, &t, D, H, 0, 1.5, 1.0, 20 + s);
        double ref = brute_log_z(t.w, t.bv, t.bh, D, H), got = rbm_log_z_host(t.w, t.bv, t.bh, NULL, D, H), dev = NAN;
        ok = ok && rbm_log_z_exact(&t.m, 20, &dev);
        char what[200];
        snprintf(what, sizeof what, "exact log Z (%d visible, %d hidden) = brute force over both layers: %.12f vs %.12f", D, H, got, ref);
        check(fabs(got - ref) < 1e-10 * (1 + fabs(ref)), what);   /* double precision, 2^(D+H) terms */
        snprintf(what, sizeof what, "  the device parameters' log Z (rbm_log_z_exact) is the same: %.12f", dev);
        check(ok && fabs(dev - ref) < 1e-10 * (1 + fabs(ref)), what);
        if (s == 0) {   /* sum over v of exp(-F(v) - log Z) = 1, F the network's (float32: ~1e-5 relative per term) */
            float vf[32 * 5], e[32];
            for (unsigned sv = 0; sv < 32; sv++)
                for (int i = 0; i < D; i++) vf[sv * D + i] = (float)((sv >> i) & 1);
            ebm_scope_begin(ctx);
            ebm_tensor_t *et = ebm_net_energy(t.net, ebm_tensor_from_host(ctx, 2, (int[]){32, D}, vf));
            int rd = et && ebm_tensor_read(et, e) == EBM_OK;
            ebm_scope_end(ctx);
            double tot = 0;
            for (int k = 0; rd && k < 32; k++) tot += exp(-e[k] - dev);
            snprintf(what, sizeof what, "  exp(-F(v) - log Z) of the network's F sums to 1 over the 32 states (%.7f)", tot);
            check(rd && fabs(tot - 1) < 1e-4, what);
        }
        tiny_free(&t);
    }
    tiny_t t;
    int ok = tiny_make(ctx, &t, 3, 4, 1, 0.7, 0.5, 30);
    double ref = quad_log_z(t.w, t.bv, t.bh, t.sg, 3, 4), got = rbm_log_z_host(t.w, t.bv, t.bh, t.sg, 3, 4), dev = NAN;
    ok = ok && rbm_log_z_exact(&t.m, 20, &dev);
    char what[200];
    snprintf(what, sizeof what, "Gaussian visible: exact log Z = sum over h of the quadrature over v: %.10f vs %.10f", got, ref);
    check(fabs(got - ref) < 1e-8, what);   /* the trapezoid rule's error, far below */
    snprintf(what, sizeof what, "  the device parameters' log Z is the same: %.10f", dev);
    check(ok && fabs(dev - ref) < 1e-8, what);
    tiny_free(&t);
}

/* p(v) of all 16 states of a Bernoulli RBM with D = 4 */
static void exact_pv(const tiny_t *t, double *p) {
    double z = rbm_log_z_host(t->w, t->bv, t->bh, NULL, t->D, t->H), v[4];
    for (unsigned s = 0; s < 16; s++) {
        bits(s, 4, v);
        p[s] = exp(-free_energy(t->w, t->bv, t->bh, NULL, 4, t->H, v) - z);
    }
}

static double chi_square(const int *count, const double *p, int n) {
    double x = 0;
    for (int s = 0; s < 16; s++) x += (count[s] - n * p[s]) * (count[s] - n * p[s]) / (n * p[s]);
    return x;
}

static void test_gibbs(ebm_ctx_t *ctx) {
    /* 20 000 independent chains from v ~ Bernoulli(1/2), 30 Gibbs steps each: the final states are 20 000
     * independent draws from a law within 1e-4 of p(v) in total variation (checked below with the exact
     * transition matrix; 1e-4 changes the expected counts by at most 2, far below the test's resolution). Pearson's chi-square over the 16 states has 15
     * degrees of freedom: P(X > 37.7) = 0.001 under the right law, so a correct sampler fails at this fixed
     * seed with probability 1e-3 (it passes at this seed: a fixed outcome). */
    enum { N = 20000, STEPS = 30 };
    tiny_t t;
    int ok = tiny_make(ctx, &t, 4, 3, 0, 1.2, 0.8, 42);
    ebm_rng_t rng = ebm_rng_make(5, 1);
    float *v = malloc(sizeof(float) * N * 4);
    ebm_scope_begin(ctx);
    ebm_tensor_t *v0 = ebm_bernoulli(ebm_tensor_full(ctx, 2, (int[]){N, 4}, 0.5f), &rng);
    ebm_tensor_t *vk = ok ? rbm_gibbs(&t.m, v0, STEPS, &rng) : NULL;
    ok = v && vk && ebm_tensor_read(vk, v) == EBM_OK;
    ebm_scope_end(ctx);
    int count[16] = {0}, binary = ok;
    for (int n = 0; ok && n < N; n++) {
        unsigned s = 0;
        for (int i = 0; i < 4; i++) {
            binary &= v[n * 4 + i] == 0.0f || v[n * 4 + i] == 1.0f;
            s |= (v[n * 4 + i] > 0.5f) << i;
        }
        count[s]++;
    }
    double p[16], q[16];
    exact_pv(&t, p);
    {   /* the law after STEPS steps from the uniform start, by the exact 16 x 16 transition matrix T[s][s'] =
         * sum_h p(h | s) p(s' | h): its distance to p(v) bounds how far the samples' law is from p(v) */
        double T[16][16] = {{0}}, d[16], hh[3], vv[4];
        for (unsigned a = 0; a < 16; a++)
            for (unsigned hs = 0; hs < 8; hs++) {
                bits(a, 4, vv), bits(hs, 3, hh);
                double ph = 1;
                for (int j = 0; j < 3; j++) {
                    double x = t.bh[j];
                    for (int i = 0; i < 4; i++) x += t.w[j * 4 + i] * vv[i];
                    ph *= hh[j] ? 1 / (1 + exp(-x)) : 1 / (1 + exp(x));
                }
                for (unsigned b = 0; b < 16; b++) {
                    double pv = 1;
                    bits(b, 4, vv);
                    for (int i = 0; i < 4; i++) {
                        double x = t.bv[i];
                        for (int j = 0; j < 3; j++) x += t.w[j * 4 + i] * hh[j];
                        pv *= vv[i] ? 1 / (1 + exp(-x)) : 1 / (1 + exp(x));
                    }
                    T[a][b] += ph * pv;
                }
            }
        for (int s = 0; s < 16; s++) d[s] = 1.0 / 16;
        for (int k = 0; k < STEPS; k++) {
            double e[16] = {0};
            for (int a = 0; a < 16; a++)
                for (int b = 0; b < 16; b++) e[b] += d[a] * T[a][b];
            memcpy(d, e, sizeof d);
        }
        double tv = 0;
        for (int s = 0; s < 16; s++) tv += fabs(d[s] - p[s]) / 2;
        char w[200];
        snprintf(w, sizeof w, "  the exact law after %d steps from the start is %.1e (< 1e-4) from p(v) in total variation", STEPS, tv);
        check(tv < 1e-4, w);
    }
    double x = chi_square(count, p, N);
    char what[200];
    snprintf(what, sizeof what, "Gibbs on a 4x3 RBM: chi-square of 20000 samples against the exact p(v) = %.2f (< 37.7, 15 dof, p = 0.001)", x);
    check(ok && binary && x < 37.7, what);
    /* power: the same samples against the law of the RBM with W[0][0] changed by 0.3 */
    t.w[0] += 0.3;
    exact_pv(&t, q);
    double xq = chi_square(count, q, N);
    snprintf(what, sizeof what, "  the same samples against an RBM with one weight off by 0.3: chi-square %.1f (> 37.7: rejected)", xq);
    check(ok && xq > 37.7, what);
    free(v);
    tiny_free(&t);
}

static void test_gibbs_gaussian(ebm_ctx_t *ctx) {
    /* p(v) = sum_h p(h) N(v; b + sigma W^T h, sigma^2), p(h) ∝ exp(c.h + sum_i (b_i a_i / s_i + a_i^2 / 2)),
     * a = W^T h. Means and second moments of 20 000 samples after 30 steps within 4 standard errors of the
     * exact ones for each of the 3 units (12 comparisons: a correct sampler fails one with probability
     * ~1e-3); the standard error of a second moment uses the exact fourth moment bound sqrt(Var(v^2) / N). */
    enum { N = 20000, STEPS = 30, D = 3, H = 3 };
    tiny_t t;
    int ok = tiny_make(ctx, &t, D, H, 1, 0.8, 0.5, 77);
    double ph[8], mx = -INFINITY, h[3];
    for (unsigned s = 0; s < 8; s++) {
        bits(s, H, h);
        double x = 0;
        for (int j = 0; j < H; j++) x += t.bh[j] * h[j];
        for (int i = 0; i < D; i++) {
            double a = 0;
            for (int j = 0; j < H; j++) a += h[j] * t.w[j * D + i];
            x += t.bv[i] * a / t.sg[i] + a * a / 2;
        }
        ph[s] = x, mx = fmax(mx, x);
    }
    double z = 0, m1[D] = {0}, m2[D] = {0}, m4[D] = {0};
    for (unsigned s = 0; s < 8; s++) z += ph[s] = exp(ph[s] - mx);
    for (unsigned s = 0; s < 8; s++) {
        bits(s, H, h);
        for (int i = 0; i < D; i++) {
            double a = 0;
            for (int j = 0; j < H; j++) a += h[j] * t.w[j * D + i];
            double mu = t.bv[i] + t.sg[i] * a, s2 = t.sg[i] * t.sg[i];
            m1[i] += ph[s] / z * mu;
            m2[i] += ph[s] / z * (mu * mu + s2);
            m4[i] += ph[s] / z * (mu * mu * mu * mu + 6 * mu * mu * s2 + 3 * s2 * s2);
        }
    }
    ebm_rng_t rng = ebm_rng_make(6, 1);
    float *v = malloc(sizeof(float) * N * D);
    ebm_scope_begin(ctx);
    ebm_tensor_t *vk = ok ? rbm_gibbs(&t.m, ebm_rand_normal(ctx, &rng, 2, (int[]){N, D}, 0.0f, 1.0f), STEPS, &rng) : NULL;
    ok = v && vk && ebm_tensor_read(vk, v) == EBM_OK;
    ebm_scope_end(ctx);
    double worst = 0;
    for (int i = 0; ok && i < D; i++) {
        double s1 = 0, s2 = 0;
        for (int n = 0; n < N; n++) s1 += v[n * D + i] / N, s2 += (double)v[n * D + i] * v[n * D + i] / N;
        worst = fmax(worst, fabs(s1 - m1[i]) / sqrt((m2[i] - m1[i] * m1[i]) / N));
        worst = fmax(worst, fabs(s2 - m2[i]) / sqrt((m4[i] - m2[i] * m2[i]) / N));
    }
    char what[200];
    snprintf(what, sizeof what, "Gibbs, Gaussian visible units: sample means and second moments within %.2f (< 4) standard errors of the exact", worst);
    check(ok && worst < 4, what);
    free(v);
    tiny_free(&t);
}

static void test_ais(ebm_ctx_t *ctx) {
    for (int g = 0; g < 2; g++) {
        tiny_t t;
        int D = g ? 8 : 14, H = g ? 6 : 10, ok = tiny_make(ctx, &t, D, H, g, g ? 0.5 : 1.0, 0.5, 50 + g);
        double exact = rbm_log_z_host(t.w, t.bv, t.bh, g ? t.sg : NULL, D, H), logz = NAN, se = NAN;
        ebm_rng_t rng = ebm_rng_make(8, 2);
        ok = ok && rbm_ais(&t.m, 1000, 200, &rng, &logz, &se);
        char what[240];
        snprintf(what, sizeof what, "AIS (%s, %d visible, %d hidden; 1000 betas, 200 runs): log Z %.4f +- %.4f vs exact %.4f (within 3 se)",
                 g ? "Gaussian" : "Bernoulli", D, H, logz, se, exact);
        check(ok && fabs(logz - exact) <= 3 * se, what);
        snprintf(what, sizeof what, "  its standard error %.4f is below 0.05 nats (the agreement is a real test)", se);
        check(ok && se < 0.05 && se > 0, what);
        tiny_free(&t);
    }
}

/* ---- the method's step: CD / PCD updates against the host ------------------------------------ */
enum { SB = 8, SD = 4, SH = 3 };   /* toy:bars2: its 8 rows of 2x2 images, 3 hidden units */

static double sig(double x) { return 1 / (1 + exp(-x)); }

/* One host CD-1 step from the negatives' start v0 (the data v+ for CD, the chains for PCD), the draws
 * replayed from the iteration's stream as ebm_bernoulli makes them: the expected change of W, b, c under
 * SGD (lr, no momentum) with the sparsity term, v- into vneg, mean F(v+) and F(v-). */
static void host_step(const double *w, const double *bv, const double *bh, const float *vp, const double *v0, ebm_rng_t rng,
                      double lr, double cost, double rho, double *dw, double *dbv, double *dbh, double *vneg, double *fp, double *fn) {
    float u[SB * SD];
    double h[SB * SH], vpd[SB * SD];
    for (int k = 0; k < SB * SD; k++) vpd[k] = vp[k];
    ebm_rng_host_uniform(&rng, u, SB * SH);
    for (int b = 0; b < SB; b++)
        for (int j = 0; j < SH; j++) {
            double a = bh[j];
            for (int i = 0; i < SD; i++) a += w[j * SD + i] * v0[b * SD + i];
            h[b * SH + j] = u[b * SH + j] < sig(a);
        }
    ebm_rng_host_uniform(&rng, u, SB * SD);
    for (int b = 0; b < SB; b++)
        for (int i = 0; i < SD; i++) {
            double a = bv[i];
            for (int j = 0; j < SH; j++) a += w[j * SD + i] * h[b * SH + j];
            vneg[b * SD + i] = u[b * SD + i] < sig(a);
        }
    /* d loss = mean_b dF(v+) - mean_b dF(v-), dF/dW_ji = -sig(a_j) v_i, dF/db = -v, dF/dc = -sig(a);
     * sparsity: cost sum_j (q_j - rho)^2, q_j = mean_b sig(a_bj(v+)) */
    double gw[SH * SD] = {0}, gb[SD] = {0}, gc[SH] = {0}, q[SH] = {0};
    *fp = *fn = 0;
    for (int ph = 0; ph < 2; ph++) {
        const double *v = ph ? vneg : vpd;
        double sgn = ph ? -1.0 / SB : 1.0 / SB;
        for (int b = 0; b < SB; b++) {
            double f = 0;
            for (int i = 0; i < SD; i++) gb[i] -= sgn * v[b * SD + i], f -= bv[i] * v[b * SD + i];
            for (int j = 0; j < SH; j++) {
                double a = bh[j];
                for (int i = 0; i < SD; i++) a += w[j * SD + i] * v[b * SD + i];
                f -= softplus_d(a);
                gc[j] -= sgn * sig(a);
                for (int i = 0; i < SD; i++) gw[j * SD + i] -= sgn * sig(a) * v[b * SD + i];
                if (!ph) q[j] += sig(a) / SB;
            }
            *(ph ? fn : fp) += f / SB;
        }
    }
    for (int j = 0; j < SH; j++)
        for (int b = 0; b < SB; b++) {
            double a = bh[j];
            for (int i = 0; i < SD; i++) a += w[j * SD + i] * vpd[b * SD + i];
            double d = cost * 2 * (q[j] - rho) * sig(a) * (1 - sig(a)) / SB;
            gc[j] += d;
            for (int i = 0; i < SD; i++) gw[j * SD + i] += d * vpd[b * SD + i];
        }
    for (int k = 0; k < SH * SD; k++) dw[k] = -lr * gw[k];
    for (int i = 0; i < SD; i++) dbv[i] = -lr * gb[i];
    for (int j = 0; j < SH; j++) dbh[j] = -lr * gc[j];
}

static int read_params(run_t *r, double *w, double *bv, double *bh) {
    float f[SH * SD];
    const char *names[3] = {"weight", "visible_bias", "hidden_bias"};
    double *dst[3] = {w, bv, bh};
    int n[3] = {SH * SD, SD, SH};
    for (int p = 0; p < 3; p++) {
        if (ebm_tensor_read(ebm_params_find(r->ps, names[p]), f) != EBM_OK) return 0;
        for (int k = 0; k < n[p]; k++) dst[p][k] = f[k];
    }
    return 1;
}

static void test_step(void) {
    /* Two iterations of run.method = rbm (k = 1, SGD lr 0.5 without momentum, sparsity cost 0.5, target
     * 0.2) on toy:bars2, CD and PCD, against host_step: the change of every parameter, mean F(v+) and
     * mean F(v-). For PCD the second iteration's chains must be the first one's negatives. Tolerance:
     * each change is lr times a mean of 8 products of float32 probabilities (rounding ~1e-7 relative),
     * read back as the difference of two float32 parameters of size ~1 (6e-8 each): 1e-6 absolute is
     * ~10x that; a missing phase, a sample instead of a probability, or the wrong chain start changes
     * them by ~1e-2 or more. */
    for (int pcd = 0; pcd < 2; pcd++) {
        const char *sets[] = {"run.method=rbm", "model.net=rbm_free_energy", "model.hidden=3", "run.batch=8", "optim.kind=sgd",
                              "optim.lr=0.5", "rbm.k=1", "rbm.sparsity_cost=0.5", "rbm.sparsity_target=0.2", "run.seed=3",
                              pcd ? "rbm.persistent=true" : "rbm.persistent=false", NULL};
        char err[512], what[240];
        ebm_config_t *cfg = ebm_train_config_new();
        ebm_dataset_t ds;
        run_t r = {0};
        int ok = cfg != NULL;
        for (int i = 0; ok && sets[i]; i++) ok = ebm_config_set(cfg, sets[i], err, sizeof err) == EBM_OK;
        ok = ok && ebm_dataset_open(&ds, "toy:bars2", &(ebm_data_opts_t){0}, err, sizeof err) == EBM_OK;
        const ebm_method_t *meth = ok ? ebm_method_of(cfg) : NULL;
        ok = meth && run_build(&r, cfg, meth, NULL, ds.ndim, ds.shape);
        if (ok) {   /* weights of size ~1 so that the probabilities are far from 1/2 */
            float wf[SH * SD], bf[SD + SH];
            ebm_rng_t g = ebm_rng_make(4, 4);
            ebm_rng_host_normal(&g, wf, SH * SD), ebm_rng_host_normal(&g, bf, SD + SH);
            ok = ebm_tensor_write(ebm_params_find(r.ps, "weight"), wf) == EBM_OK &&
                 ebm_tensor_write(ebm_params_find(r.ps, "visible_bias"), bf) == EBM_OK &&
                 ebm_tensor_write(ebm_params_find(r.ps, "hidden_bias"), bf + SD) == EBM_OK;
        }
        double chains[SB * SD];
        float xh[SB * SD];
        for (int it = 0; ok && it < 2; it++) {
            double w[SH * SD], bv[SD], bh[SH], w1[SH * SD], bv1[SD], bh1[SH], dw[SH * SD], dbv[SD], dbh[SH], vneg[SB * SD], fp, fn, v0[SB * SD];
            ok = read_params(&r, w, bv, bh);
            ebm_rng_t rng = run_iter_rng(&r, r.iter);
            stats_t st = {0};
            ok = ok && r.m->step(&r, &ds, xh, &st) == 1 && read_params(&r, w1, bv1, bh1);
            if (!ok) break;
            for (int k = 0; k < SB * SD; k++) v0[k] = pcd && it == 1 ? chains[k] : xh[k];
            host_step(w, bv, bh, xh, v0, rng, 0.5, 0.5, 0.2, dw, dbv, dbh, vneg, &fp, &fn);
            memcpy(chains, vneg, sizeof chains);
            double worst = 0;
            for (int k = 0; k < SH * SD; k++) worst = fmax(worst, fabs((w1[k] - w[k]) - dw[k]));
            for (int i = 0; i < SD; i++) worst = fmax(worst, fabs((bv1[i] - bv[i]) - dbv[i]));
            for (int j = 0; j < SH; j++) worst = fmax(worst, fabs((bh1[j] - bh[j]) - dbh[j]));
            snprintf(what, sizeof what, "%s step %d: every parameter change equals the host CD-1 update (worst |diff| %.2g)",
                     pcd ? "PCD" : "CD", it + 1, worst);
            check(worst < 1e-6, what);
            snprintf(what, sizeof what, "  mean F(v+) %.6f, F(v-) %.6f against the host's %.6f, %.6f", st.s[0].v, st.s[1].v, fp, fn);
            check(fabs(st.s[0].v - fp) < 1e-5 * (1 + fabs(fp)) && fabs(st.s[1].v - fn) < 1e-5 * (1 + fabs(fn)), what);
            r.iter++;
        }
        check(ok, pcd ? "PCD: two iterations ran" : "CD: two iterations ran");
        run_free(&r);
        ebm_dataset_free(&ds);
        ebm_config_free(cfg);
    }
}

/* ---- data: bars and stripes, binarisation ----------------------------------------------------- */
static void test_data(void) {
    ebm_dataset_t ds;
    char err[512], what[200];
    int ok = ebm_dataset_open(&ds, "toy:bars4", &(ebm_data_opts_t){0}, err, sizeof err) == EBM_OK;
    int n = ok ? ds.n : 0, distinct = 0, bars = 1;
    double ent = 0;
    for (int a = 0; a < n; a++) {   /* every row lights whole rows or whole columns; count and frequencies */
        const float *x = ds.x + 16 * a;
        int rows = 1, cols = 1, same = 0, first = 1;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) rows &= x[i * 4 + j] == x[i * 4], cols &= x[i * 4 + j] == x[j];
        bars &= rows || cols;
        for (int b = 0; b < n; b++) {
            int eq = !memcmp(x, ds.x + 16 * b, sizeof(float) * 16);
            same += eq;
            if (eq && b < a) first = 0;
        }
        distinct += first;
        ent += log((double)same / n) / n;   /* the mean over rows of log p(x) = sum_x p(x) log p(x) */
    }
    snprintf(what, sizeof what, "toy:bars4: 32 rows of 1x4x4 bars or stripes, %d distinct (30)", distinct);
    check(ok && n == 32 && ds.ndim == 3 && ds.shape[1] == 4 && bars && distinct == 30, what);
    snprintf(what, sizeof what, "  the best mean log-likelihood %.6f is the rows' sum p log p %.6f", ebm_bars_best_loglik(4), ent);
    check(ok && fabs(ebm_bars_best_loglik(4) - ent) < 1e-12, what);
    if (ok) ebm_dataset_free(&ds);
    /* binarisation of a CSV of 2000 rows (0.3, 0.5, 0.7, 1): threshold x > 0.5; stochastic: frequencies within
     * 4 standard errors of x, the same draws on every open */
    const char *path = "test_rbm_binarize.csv";
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < 2000; i++) fprintf(f, "0.3,0.5,0.7,1\n");
    if (f) fclose(f);
    ebm_dataset_t t, s1, s2;
    ok = f && ebm_dataset_open(&t, path, &(ebm_data_opts_t){.binarize = EBM_BINARIZE_THRESHOLD}, err, sizeof err) == EBM_OK;
    int thr = ok && t.x[0] == 0 && t.x[1] == 0 && t.x[2] == 1 && t.x[3] == 1;
    if (ok) ebm_dataset_free(&t);
    check(thr, "binarize = threshold: 0.3, 0.5 -> 0 and 0.7, 1 -> 1");
    ok = f && ebm_dataset_open(&s1, path, &(ebm_data_opts_t){.binarize = EBM_BINARIZE_STOCHASTIC}, err, sizeof err) == EBM_OK &&
         ebm_dataset_open(&s2, path, &(ebm_data_opts_t){.binarize = EBM_BINARIZE_STOCHASTIC, .seed = 99}, err, sizeof err) == EBM_OK;
    double worst = 0;
    int same = ok && !memcmp(s1.x, s2.x, sizeof(float) * 8000), binary = ok;
    const double p[4] = {0.3, 0.5, 0.7, 1};
    for (int j = 0; ok && j < 4; j++) {
        int ones = 0;
        for (int i = 0; i < 2000; i++) ones += s1.x[i * 4 + j] == 1, binary &= s1.x[i * 4 + j] == 0 || s1.x[i * 4 + j] == 1;
        worst = fmax(worst, j < 3 ? fabs(ones / 2000.0 - p[j]) / sqrt(p[j] * (1 - p[j]) / 2000) : (ones == 2000 ? 0 : 99));
    }
    snprintf(what, sizeof what, "binarize = stochastic: 0/1 with frequencies %.2f standard errors (< 4) from x, the same copy for any seed", worst);
    check(ok && binary && same && worst < 4, what);
    if (ok) ebm_dataset_free(&s1), ebm_dataset_free(&s2);
    remove(path);
}

int main(void) {
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) {
        fprintf(stderr, "%s\n", ebm_ctx_error(NULL));
        return 1;
    }
    test_bernoulli(ctx);
    test_free_energy(ctx);
    test_log_z(ctx);
    test_gibbs(ctx);
    test_gibbs_gaussian(ctx);
    test_ais(ctx);
    test_step();
    test_data();
    if (ebm_ctx_status(ctx) != EBM_OK) check_msg(0, "no engine error", ebm_ctx_error(ctx));
    ebm_ctx_free(ctx);
    return test_summary();
}
