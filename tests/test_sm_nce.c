/* test_sm_nce.c — score matching and NCE (models/methods/sm.c, nce.c) recover the closed-form optimum
 * of a Gaussian energy E(x) = (x - mu)^T A (x - mu) / 2 ([model] net = quadratic, A = L L^T) fitted
 * to N = 4096 points of a correlated 2-D Gaussian (written as a CSV, read as any data set), every
 * iteration on the whole sample (batch = N). With x-bar and S = (1/N) sum (x - x-bar)(x - x-bar)^T the
 * sample's mean and covariance, the optimum of the expected loss over the method's own random draws is
 *   exact and sliced SM:  mu = x-bar, A = S^-1        (Hyvarinen: 1/2 tr(A^2 S) - tr A, minimal at S^-1)
 *   denoising SM:         mu = x-bar, A = (S + sigma^2 I)^-1   (the data convolved with N(0, sigma^2 I))
 *   NCE, Gaussian noise:  mu = x-bar, A = S^-1, log Z = log det(2 pi S) / 2: the noise N(x-bar, S) is the
 *                         model's own best fit, where data and noise moments agree and the gradient is 0
 *   NCE, uniform noise:   the same as N grows (consistency); for this sample the same up to O(1/sqrt N).
 *
 * Tolerances. Exact SM has no random draw: its loss is the same every iteration, so Adam with a
 * decaying rate (0.02, then 0.002, then 0.0002) lands on the optimum up to the last rate's step and
 * float32 sums over 4096 terms: 2e-3 relative is ~10x what it reaches. (NCE with Gaussian noise gets
 * three times the iterations: its noise is the optimum itself, so data and noise are hard to tell
 * apart near it and the gradient is small.) The other methods draw noise
 * every iteration (sigma eps, projections v, noise samples y); each iteration's objective is an average
 * of N (NCE: nu N) independent draws, so its minimiser lies within a few 1/sqrt(N) (whitened units) of
 * the expected one, and the iterate averaged over the last AVG iterations (host-side Polyak average)
 * only closer. The test allows
 *   |A - A*|_F / |A*|_F <= 5 / sqrt(N) = 0.078,  sqrt((mu - mu*)^T A* (mu - mu*)) <= 5 / sqrt(N),
 *   |log Z - log Z*| <= (D / 2) * 5 / sqrt(N) = 0.078   (d log Z = -tr(A^-1 dA) / 2),
 * five per-iteration standard errors. What a wrong method computes is far outside: the sample's A here
 * and its sigma = 0.7 inflation differ by 60%, a missing trace or a sign turns the optimum away
 * or diverges, a factor of 2 in a term moves A by 2x or sqrt 2x, and a missing log nu (nu = 4) moves
 * log Z by 1.39. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "data.h"
#include "run.h"
#include "testing.h"
#include "train.h"

enum { N = 4096, D = 2, ITERS = 400, AVG = 200 };

typedef struct {
    double mu[D], A[D * D], logz;
} fit_t;

/* the quadratic energy's parameters (and NCE's c) as mean and precision */
static int read_fit(run_t *r, fit_t *f) {
    float L[D * D], m[D], c = 0;
    ebm_tensor_t *tl = ebm_params_find(r->ps, "factor"), *tm = ebm_params_find(r->ps, "mean");
    if (!tl || !tm || ebm_tensor_read(tl, L) != EBM_OK || ebm_tensor_read(tm, m) != EBM_OK) return 0;
    if (r->n_groups == 1) {
        ebm_tensor_t *tc = ebm_params_find(r->groups[0].ps, "nce.c");
        if (!tc || ebm_tensor_read(tc, &c) != EBM_OK) return 0;
    }
    for (int i = 0; i < D; i++) {
        f->mu[i] = m[i];
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += (double)L[i * D + k] * L[j * D + k];   /* A = L L^T */
            f->A[i * D + j] = s;
        }
    }
    f->logz = -c;
    return 1;
}

/* trains a run of the method (config overrides) on the CSV with Adam at rates 0.02, 0.002, 0.0002 for
 * `iters` iterations each; the parameters averaged over the last AVG iterations into *avg */
static int train(const char *csv, const char *const *sets, int iters, fit_t *avg) {
    char err[512];
    ebm_config_t *cfg = ebm_train_config_new();
    ebm_dataset_t ds = {0};
    run_t r = {0};
    const char *common[] = {"model.net=quadratic", "run.batch=4096", "optim.kind=adam", "optim.lr=0.02", "optim.beta1=0.9",
                            "optim.beta2=0.999", "run.seed=11", NULL};
    int ok = cfg != NULL;
    for (int i = 0; ok && common[i]; i++) ok = ebm_config_set(cfg, common[i], err, sizeof err) == EBM_OK;
    for (int i = 0; ok && sets[i]; i++) ok = ebm_config_set(cfg, sets[i], err, sizeof err) == EBM_OK;
    ebm_data_opts_t dopts = {.seed = 11};
    if (ok) ok = ebm_dataset_open(&ds, csv, &dopts, err, sizeof err) == EBM_OK;
    if (!ok) fprintf(stderr, "%s\n", err);
    const ebm_method_t *m = ok ? ebm_method_of(cfg) : NULL;
    ok = m && run_build(&r, cfg, m, NULL, ds.ndim, ds.shape);
    float *host = malloc(sizeof(float) * N * D);
    memset(avg, 0, sizeof *avg);
    int navg = 0;
    for (int phase = 0; ok && phase < 3; phase++) {
        r.lr_scale = phase == 0 ? 1.0f : phase == 1 ? 0.1f : 0.01f;
        run_apply_lr_scale(&r);
        for (int it = 0; ok && it < iters; it++, r.iter++) {
            stats_t s = {0};
            ok = host && m->step(&r, &ds, host, &s) == 1;
            if (ok && phase == 2 && it >= iters - AVG) {
                fit_t f;
                ok = read_fit(&r, &f);
                for (int i = 0; i < D; i++) avg->mu[i] += f.mu[i];
                for (int i = 0; i < D * D; i++) avg->A[i] += f.A[i];
                avg->logz += f.logz;
                navg++;
            }
        }
    }
    if (ok && navg) {
        for (int i = 0; i < D; i++) avg->mu[i] /= navg;
        for (int i = 0; i < D * D; i++) avg->A[i] /= navg;
        avg->logz /= navg;
    }
    free(host);
    run_free(&r);
    ebm_dataset_free(&ds);
    ebm_config_free(cfg);
    return ok && navg;
}

static void inv2(const double *S, double *A) {
    double det = S[0] * S[3] - S[1] * S[2];
    A[0] = S[3] / det, A[1] = -S[1] / det, A[2] = -S[2] / det, A[3] = S[0] / det;
}

/* the learned fit against the optimum (mean mu, precision A, log Z when want_logz) */
static void compare(const char *what, const fit_t *got, const double *mu, const double *A, double logz, int want_logz, double tol) {
    double dA = 0, nA = 0, d[D], md = 0;
    for (int i = 0; i < D * D; i++) dA += (got->A[i] - A[i]) * (got->A[i] - A[i]), nA += A[i] * A[i];
    for (int i = 0; i < D; i++) d[i] = got->mu[i] - mu[i];
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) md += d[i] * A[i * D + j] * d[j];
    double ra = sqrt(dA / nA), rm = sqrt(md), dz = fabs(got->logz - logz);
    char msg[400];
    snprintf(msg, sizeof msg,
             "%s: precision [%.4f %.4f; %.4f %.4f] vs [%.4f %.4f; %.4f %.4f] (relative %.2e), mean (%.4f, %.4f) vs (%.4f, %.4f) "
             "(whitened %.2e)%s, tolerance %.2e",
             what, got->A[0], got->A[1], got->A[2], got->A[3], A[0], A[1], A[2], A[3], ra, got->mu[0], got->mu[1], mu[0], mu[1], rm,
             want_logz ? "" : "", tol);
    check(ra <= tol && rm <= tol, msg);
    if (want_logz) {
        snprintf(msg, sizeof msg, "%s: log Z %.5f vs log det(2 pi S)/2 = %.5f (difference %.2e, tolerance %.2e)", what, got->logz, logz, dz,
                 D / 2.0 * tol);
        check(dz <= D / 2.0 * tol, msg);
    }
}

int main(void) {
    /* N points of N((0.5, -1), [[1, 0.6], [0.6, 0.8]]) from Philox, through a CSV like any data set */
    char dir[] = "/tmp/test_sm_nce_XXXXXX", csv[600];
    if (!mkdtemp(dir)) return 1;
    snprintf(csv, sizeof csv, "%s/gauss.csv", dir);
    FILE *f = fopen(csv, "w");
    float z[2 * N];
    ebm_rng_t rng = ebm_rng_make(2024, 1);
    ebm_rng_host_normal(&rng, z, 2 * N);
    double xs[2 * N], mean[D] = {0}, S[D * D] = {0};
    for (int i = 0; i < N && f; i++) {   /* Cholesky of the covariance: [[1, 0], [0.6, 0.663325]] */
        float a = (float)(0.5 + z[2 * i]), b = (float)(-1 + 0.6 * z[2 * i] + 0.6633249580710799 * z[2 * i + 1]);
        fprintf(f, "%.9g,%.9g\n", a, b);
        xs[2 * i] = a, xs[2 * i + 1] = b;
    }
    if (!f || fclose(f)) return 1;
    for (int i = 0; i < N; i++)
        for (int d = 0; d < D; d++) mean[d] += xs[2 * i + d] / N;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++)
            for (int k = 0; k < D; k++) S[j * D + k] += (xs[2 * i + j] - mean[j]) * (xs[2 * i + k] - mean[k]) / N;
    double P[D * D], Sd[D * D], Pd[D * D], sigma = 0.7;
    inv2(S, P);
    memcpy(Sd, S, sizeof S);
    Sd[0] += sigma * sigma, Sd[3] += sigma * sigma;
    inv2(Sd, Pd);
    double logz = 0.5 * log(S[0] * S[3] - S[1] * S[2]) + 1.8378770664093453 /* D/2 log(2 pi), D = 2 */;
    double tol = 5.0 / sqrt((double)N);
    fit_t got;

    int ok = train(csv, (const char *[]){"run.method=sm", "sm.kind=exact", NULL}, ITERS, &got);
    check(ok, "sm exact: trained");
    if (ok) compare("sm exact (optimiser convergence only: no random draw)", &got, mean, P, 0, 0, 2e-3);
    ok = train(csv, (const char *[]){"run.method=sm", "sm.kind=sliced", "sm.projections=1", NULL}, ITERS, &got);
    check(ok, "sm sliced: trained");
    if (ok) compare("sm sliced", &got, mean, P, 0, 0, tol);
    ok = train(csv, (const char *[]){"run.method=sm", "sm.kind=denoising", "sm.sigma=0.7", NULL}, ITERS, &got);
    check(ok, "sm denoising: trained");
    if (ok) compare("sm denoising (sigma = 0.7: precision (S + 0.49 I)^-1)", &got, mean, Pd, 0, 0, tol);
    ok = train(csv, (const char *[]){"run.method=nce", "nce.noise=gaussian", "nce.nu=4", NULL}, 3 * ITERS, &got);
    check(ok, "nce gaussian: trained");
    if (ok) compare("nce, Gaussian noise, nu = 4", &got, mean, P, logz, 1, tol);
    ok = train(csv, (const char *[]){"run.method=nce", "nce.noise=uniform", "nce.nu=4", NULL}, ITERS, &got);
    check(ok, "nce uniform: trained");
    if (ok) compare("nce, uniform noise on the data's box, nu = 4", &got, mean, P, logz, 1, tol);
    unlink(csv);
    rmdir(dir);
    return test_summary();
}
