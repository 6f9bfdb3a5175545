/* test_samplers.c — samplers against known answers.
 *  1. the fused Langevin update gives the same bits as the same formula on the host with the host RNG;
 *  2. unadjusted Langevin x <- x - eta grad E + sigma N on a Gaussian E = sum (x - mu)^2 / (2 s^2)
 *     reaches the exact stationary law of that recursion: mean mu, variance
 *     v = sigma^2 / (1 - (1 - eta/s^2)^2)  (which differs from s^2: the test tells them apart);
 *  3. MALA on a two-component Gaussian mixture reproduces its mean and covariance (no step-size
 *     bias), with a sensible acceptance rate;
 *  4. gradient clipping and clamping act as specified;
 *  5. latent MALA (prior included) through a linear generator lands on the exact Gaussian posterior.
 * Statistical bounds: 5 standard errors of each estimator over independent chains. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ebm.h"
#include "sampler.h"
#include "testing.h"

typedef struct { ebm_tensor_t *mu, *inv2s2; } gauss_t;

static ebm_tensor_t *gauss_energy(void *user, ebm_tensor_t *x) {
    gauss_t *g = user;
    return ebm_sum(ebm_mul(ebm_square(ebm_sub(x, g->mu)), g->inv2s2), 0x2u, 0);
}

/* E(G(z)) for a linear generator G(z) = z At + b and the Gaussian energy above */
typedef struct { ebm_tensor_t *At, *b; gauss_t *e; } lin_gauss_t;

static ebm_tensor_t *lin_gauss_energy(void *user, ebm_tensor_t *z) {
    lin_gauss_t *l = user;
    return gauss_energy(l->e, ebm_add(ebm_matmul(z, l->At, 0, 0), l->b));
}

typedef struct { ebm_tensor_t *means; float inv2s2; } mix_t;

static ebm_tensor_t *mix_energy(void *user, ebm_tensor_t *x) {
    mix_t *m = user;
    return ebm_neg(ebm_logsumexp(ebm_scale(ebm_pairwise_sqdist(x, m->means), -m->inv2s2), 1, 0));
}

static void moments(const float *x, int n, int d, int dim, double *mean, double *var) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += x[i * d + dim];
    s /= n;
    for (int i = 0; i < n; i++) s2 += (x[i * d + dim] - s) * (x[i * d + dim] - s);
    *mean = s;
    *var = s2 / (n - 1);
}

int main(void) {
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) {
        fprintf(stderr, "test_samplers: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    char msg[256];
    /* 1. bit identity of the fused update */
    {
        const int n = 1003;
        float *x = malloc(n * sizeof *x), *g = malloc(n * sizeof *g), *h = malloc(n * sizeof *h), *d = malloc(n * sizeof *d);
        for (int i = 0; i < n; i++) {
            x[i] = (float)(0.5 + 0.4 * sin(i));
            g[i] = (float)(0.03 * cos(3.0 * i));
        }
        ebm_rng_t rh = ebm_rng_make(42, 3), rd = rh;
        ebm_rng_host_normal(&rh, h, n);
        const float eta = 10.0f, sigma = 0.005f, clip = 0.01f;
        for (int i = 0; i < n; i++) {
            float gi = fminf(fmaxf(g[i], -clip), clip);
            float r = x[i] - eta * gi + sigma * h[i];
            h[i] = fminf(fmaxf(r, 0.0f), 1.0f);
        }
        ebm_tensor_t *tx = ebm_tensor_from_host(ctx, 1, &n, x), *tg = ebm_tensor_from_host(ctx, 1, &n, g);
        ebm_tensor_read(ebm_langevin_update(tx, tg, eta, sigma, clip, 0.0f, 1.0f, &rd), d);
        int diff = 0, clipped = 0;
        for (int i = 0; i < n; i++) {
            diff += memcmp(&h[i], &d[i], 4) != 0;
            clipped += fabsf(g[i]) > clip;
        }
        snprintf(msg, sizeof msg, "fused Langevin update (clip %d of %d gradients, clamp [0,1]) equals the host formula bit for bit (%d differ)",
                 clipped, n, diff);
        check(diff == 0 && clipped > 0 && rh.counter == rd.counter, msg);
        free(x), free(g), free(h), free(d);
    }
    /* 2. ULA on a Gaussian */
    {
        const int B = 16384, D = 2, steps = 800;
        const float mu[2] = {1.0f, -2.0f}, s[2] = {0.5f, 1.5f}, eta = 0.05f, sigma = sqrtf(2 * 0.05f);
        float i2[2] = {1 / (2 * s[0] * s[0]), 1 / (2 * s[1] * s[1])};
        gauss_t gs = {ebm_tensor_from_host(ctx, 2, (int[]){1, D}, mu), ebm_tensor_from_host(ctx, 2, (int[]){1, D}, i2)};
        ebm_rng_t rng = ebm_rng_make(7, 0);
        ebm_tensor_t *x0 = ebm_rand_normal(ctx, &rng, 2, (int[]){B, D}, 0.0f, 1.0f);
        ebm_langevin_cfg_t cfg = {.steps = steps, .step_size = eta, .noise = sigma};
        ebm_tensor_t *x = ebm_langevin(ctx, gauss_energy, &gs, x0, &cfg, &rng);
        float *h = malloc(sizeof(float) * B * D);
        int ok = x && ebm_tensor_read(x, h) == EBM_OK;
        for (int dim = 0; dim < D && ok; dim++) {
            double m, v, a = 1 - eta / (s[dim] * s[dim]);
            moments(h, B, D, dim, &m, &v);
            double vexp = sigma * sigma / (1 - a * a), se_m = sqrt(vexp / B), se_v = vexp * sqrt(2.0 / B);
            snprintf(msg, sizeof msg, "Langevin on a Gaussian, dim %d: mean %.4f (exact %.4f), variance %.4f (ULA law %.4f; s^2 = %.4f)",
                     dim, m, mu[dim], v, vexp, s[dim] * s[dim]);
            check(fabs(m - mu[dim]) < 5 * se_m && fabs(v - vexp) < 5 * se_v, msg);
        }
        if (!ok) check(0, ebm_ctx_error(ctx));
        free(h);
    }
    /* 3. MALA on a mixture of two Gaussians at (+-1, 0), s = 0.6: mean 0, var_x = 1 + s^2, var_y = s^2 */
    {
        const int B = 8192, steps = 500;
        const float sd = 0.6f, means[4] = {-1, 0, 1, 0};
        mix_t mx = {ebm_tensor_from_host(ctx, 2, (int[]){2, 2}, means), 1 / (2 * sd * sd)};
        ebm_rng_t rng = ebm_rng_make(11, 0);
        ebm_tensor_t *x0 = ebm_rand_normal(ctx, &rng, 2, (int[]){B, 2}, 0.0f, 1.0f);
        ebm_mala_cfg_t cfg = {.steps = steps, .step_size = 0.1f};
        double rate = 0;
        ebm_tensor_t *x = ebm_mala(ctx, mix_energy, &mx, x0, &cfg, &rng, &rate);
        float *h = malloc(sizeof(float) * B * 2);
        int ok = x && ebm_tensor_read(x, h) == EBM_OK;
        double vx = 1 + sd * sd, vy = sd * sd;
        /* fourth central moments of the mixture give the standard error of the variances */
        double m4x = 1 + 6 * sd * sd + 3 * pow(sd, 4), m4y = 3 * pow(sd, 4);
        for (int dim = 0; dim < 2 && ok; dim++) {
            double m, v, vexp = dim ? vy : vx, m4 = dim ? m4y : m4x;
            moments(h, B, 2, dim, &m, &v);
            snprintf(msg, sizeof msg, "MALA on a 2-component mixture, dim %d: mean %.4f (exact 0), variance %.4f (exact %.4f)", dim, m,
                     v, vexp);
            check(fabs(m) < 5 * sqrt(vexp / B) && fabs(v - vexp) < 5 * sqrt((m4 - vexp * vexp) / B), msg);
        }
        snprintf(msg, sizeof msg, "MALA acceptance rate reported: %.3f", rate);
        check(ok && rate > 0.5 && rate < 1.0, msg);
        if (!ok) check(0, ebm_ctx_error(ctx));
        free(h);
    }
    /* 5. latent MALA through a linear generator G(z) = A z + b into E(x) = |x|^2 / (2 s^2): with the
     * N(0, I) prior the target in z is Gaussian, precision P = A^T A / s^2 + I, mean -P^-1 A^T b / s^2 */
    {
        const int B = 8192, steps = 300;
        const double A[3][2] = {{1.0, 0.5}, {-0.3, 0.8}, {0.6, -1.2}}, b[3] = {0.5, -1.0, 0.3}, s2 = 0.7 * 0.7;
        double P[2][2] = {{1, 0}, {0, 1}}, Atb[2] = {0, 0};
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                for (int k = 0; k < 3; k++) P[i][j] += A[k][i] * A[k][j] / s2;
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < 3; k++) Atb[i] += A[k][i] * b[k] / s2;
        double det = P[0][0] * P[1][1] - P[0][1] * P[1][0];
        double S[2][2] = {{P[1][1] / det, -P[0][1] / det}, {-P[1][0] / det, P[0][0] / det}};
        double mu[2] = {-(S[0][0] * Atb[0] + S[0][1] * Atb[1]), -(S[1][0] * Atb[0] + S[1][1] * Atb[1])};
        float At[6], bf[3];   /* At (2, 3): x = z At + b */
        for (int k = 0; k < 3; k++) At[k] = (float)A[k][0], At[3 + k] = (float)A[k][1], bf[k] = (float)b[k];
        gauss_t g = {ebm_tensor_from_host(ctx, 1, (int[]){3}, (float[]){0, 0, 0}), ebm_tensor_full(ctx, 1, (int[]){3}, (float)(1 / (2 * s2)))};
        lin_gauss_t lg = {ebm_tensor_from_host(ctx, 2, (int[]){2, 3}, At), ebm_tensor_from_host(ctx, 1, (int[]){3}, bf), &g};
        ebm_rng_t rng = ebm_rng_make(13, 0);
        ebm_tensor_t *z0 = ebm_rand_normal(ctx, &rng, 2, (int[]){B, 2}, 0.0f, 1.0f);
        double rate = 0;
        ebm_tensor_t *z = ebm_latent_mala(ctx, lin_gauss_energy, &lg, z0, &(ebm_mala_cfg_t){.steps = steps, .step_size = 0.05f}, &rng, &rate);
        float *h = malloc(sizeof(float) * B * 2);
        int ok = z && ebm_tensor_read(z, h) == EBM_OK;
        for (int dim = 0; dim < 2 && ok; dim++) {
            double m, v, vexp = S[dim][dim];
            moments(h, B, 2, dim, &m, &v);
            snprintf(msg, sizeof msg, "latent MALA (linear G, Gaussian E, N(0,I) prior), z%d: mean %.4f (exact %.4f), variance %.4f (exact %.4f)",
                     dim, m, mu[dim], v, vexp);
            check(fabs(m - mu[dim]) < 5 * sqrt(vexp / B) && fabs(v - vexp) < 5 * sqrt(2 * vexp * vexp / B), msg);
        }
        double m0, m1, v, c = 0;
        moments(h, B, 2, 0, &m0, &v);
        moments(h, B, 2, 1, &m1, &v);
        for (int i = 0; ok && i < B; i++) c += (h[2 * i] - m0) * (h[2 * i + 1] - m1);
        c /= B - 1;
        snprintf(msg, sizeof msg, "latent MALA covariance %.4f (exact %.4f); acceptance %.3f", c, S[0][1], rate);
        check(ok && fabs(c - S[0][1]) < 5 * sqrt((S[0][0] * S[1][1] + S[0][1] * S[0][1]) / B) && rate > 0.5 && rate < 1, msg);
        if (!ok) check(0, ebm_ctx_error(ctx));
        free(h);
    }
    ebm_ctx_free(ctx);
    return test_summary();
}
