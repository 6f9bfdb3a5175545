/* test_sm_nce.c — score matching and NCE (models/methods/sm.c, nce.c): one step's loss against a
 * double-precision host computation (below), and training recovers the closed-form optimum
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

typedef struct {
    ebm_config_t *cfg;
    ebm_dataset_t ds;
    run_t r;
} case_t;

/* a run of the quadratic energy on the CSV from config overrides (batch: the whole sample unless set) */
static int open_case(case_t *c, const char *csv, const char *const *sets) {
    char err[512];
    memset(c, 0, sizeof *c);
    c->cfg = ebm_train_config_new();
    const char *common[] = {"model.net=quadratic", "run.batch=4096", "optim.kind=adam", "optim.lr=0.02", "optim.beta1=0.9",
                            "optim.beta2=0.999", "run.seed=11", NULL};
    int ok = c->cfg != NULL;
    for (int i = 0; ok && common[i]; i++) ok = ebm_config_set(c->cfg, common[i], err, sizeof err) == EBM_OK;
    for (int i = 0; ok && sets[i]; i++) ok = ebm_config_set(c->cfg, sets[i], err, sizeof err) == EBM_OK;
    ebm_data_opts_t dopts = {.seed = 11};
    if (ok) ok = ebm_dataset_open(&c->ds, csv, &dopts, err, sizeof err) == EBM_OK;
    if (!ok) fprintf(stderr, "%s\n", err);
    const ebm_method_t *m = ok ? ebm_method_of(c->cfg) : NULL;
    return m && run_build(&c->r, c->cfg, m, NULL, c->ds.ndim, c->ds.shape);
}

static void close_case(case_t *c) {
    run_free(&c->r);
    ebm_dataset_free(&c->ds);
    ebm_config_free(c->cfg);
}

/* trains a run of the method (config overrides) on the CSV with Adam at rates 0.02, 0.002, 0.0002 for
 * `iters` iterations each; the parameters averaged over the last AVG iterations into *avg */
static int train(const char *csv, const char *const *sets, int iters, fit_t *avg) {
    case_t c;
    int ok = open_case(&c, csv, sets), navg = 0;
    float *host = malloc(sizeof(float) * N * D);
    memset(avg, 0, sizeof *avg);
    for (int phase = 0; ok && phase < 3; phase++) {
        c.r.lr_scale = phase == 0 ? 1.0f : phase == 1 ? 0.1f : 0.01f;
        run_apply_lr_scale(&c.r);
        for (int it = 0; ok && it < iters; it++, c.r.iter++) {
            stats_t s = {0};
            ok = host && c.r.m->step(&c.r, &c.ds, host, &s) == 1;
            if (ok && phase == 2 && it >= iters - AVG) {
                fit_t f;
                ok = read_fit(&c.r, &f);
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
    close_case(&c);
    return ok && navg;
}

/* ---- one step against a double-precision host computation ------------------------------------
 * Random mean and factor (so A is not I), a batch of SB rows, iteration 0; the step's loss (and E+)
 * against the host's from the same rows and the same draws (replayed from the iteration's Philox
 * stream, which host and device draw identically). Every value is a mean over SB = 64 rows (NCE: and
 * 4 x 64 noise rows) of chains of < 20 float32 operations on numbers of size <= M, so its rounding
 * error is below ~(64 + 20) 2^-24 M ~ 5e-6 M: the check allows 3e-5 (1 + M) with M the mean of the
 * terms' magnitudes. A wrong term (the trace's sign, 1/sigma, the log nu in G, c's start) is off by O(1). */
enum { SB = 64 };

static double quad_e(const double *mu, const double *L, const float *x, double *Ad) {
    double d[D], h[D], e = 0;
    for (int i = 0; i < D; i++) d[i] = x[i] - mu[i];
    for (int j = 0; j < D; j++) {   /* h = d L (row vector), E = |h|^2 / 2, A d = L h */
        h[j] = 0;
        for (int i = 0; i < D; i++) h[j] += d[i] * L[i * D + j];
        e += 0.5 * h[j] * h[j];
    }
    for (int i = 0; Ad && i < D; i++) {
        Ad[i] = 0;
        for (int j = 0; j < D; j++) Ad[i] += L[i * D + j] * h[j];
    }
    return e;
}

static double softplus(double v) { return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)); }

static void step_check(const char *csv, const char *what, const char *const *sets) {
    case_t c;
    float Lf[D * D] = {1.3f, -0.4f, 0.25f, 0.8f}, muf[D] = {0.3f, -0.7f}, host[SB * D];
    double L[D * D], mu[D], A[D * D];
    int ok = open_case(&c, csv, sets);
    ebm_tensor_t *tl = ok ? ebm_params_find(c.r.ps, "factor") : NULL, *tm = ok ? ebm_params_find(c.r.ps, "mean") : NULL;
    ok = tl && tm && ebm_tensor_write(tl, Lf) == EBM_OK && ebm_tensor_write(tm, muf) == EBM_OK;
    stats_t s = {0};
    ok = ok && c.r.batch == SB && c.r.m->step(&c.r, &c.ds, host, &s) == 1;
    for (int i = 0; i < D * D; i++) L[i] = Lf[i];
    for (int i = 0; i < D; i++) mu[i] = muf[i];
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) A[i * D + j] = L[i * D] * L[j * D] + L[i * D + 1] * L[j * D + 1];
    double loss = 0, mag = 0, epos = 0;
    ebm_rng_t rng = run_iter_rng(&c.r, 0);
    const char *kind = ebm_config_str(c.cfg, "run", "method");
    if (ok && !strcmp(kind, "sm")) {
        const char *k = ebm_config_str(c.cfg, "sm", "kind");
        float sigma = (float)ebm_config_float(c.cfg, "sm", "sigma"), v[SB * D];
        if (strcmp(k, "exact")) {   /* the iteration's first draw: eps (denoising) or v (sliced) */
            ebm_tensor_t *t = ebm_rand_normal(c.r.ctx, &rng, 2, (int[]){SB, D}, 0, 1);
            ok = t && ebm_tensor_read(t, v) == EBM_OK;
        }
        for (int i = 0; ok && i < SB; i++) {
            double Ad[D], t = 0;
            epos += quad_e(mu, L, host + i * D, NULL) / SB;
            if (!strcmp(k, "denoising")) {   /* 1/2 |A (x + sigma eps - mu) - eps / sigma|^2 */
                float xt[D] = {host[i * D] + sigma * v[i * D], host[i * D + 1] + sigma * v[i * D + 1]};
                quad_e(mu, L, xt, Ad);
                for (int d = 0; d < D; d++) t += 0.5 * (Ad[d] - v[i * D + d] / sigma) * (Ad[d] - v[i * D + d] / sigma);
                mag += t / SB;
            } else {   /* 1/2 |A (x - mu)|^2 - tr A, or - v^T A v */
                double g2 = 0, curv = 0;
                quad_e(mu, L, host + i * D, Ad);
                for (int d = 0; d < D; d++) g2 += 0.5 * Ad[d] * Ad[d];
                for (int a = 0; a < D; a++)
                    for (int b = 0; b < D; b++)
                        curv += !strcmp(k, "exact") ? (a == b ? A[a * D + b] : 0) : v[i * D + a] * A[a * D + b] * v[i * D + b];
                t = g2 - curv;
                mag += (g2 + fabs(curv)) / SB;
            }
            loss += t / SB;
        }
    } else if (ok) {   /* NCE, Gaussian noise fitted to the whole sample, nu = 4 */
        enum { NU = 4, M = NU * SB };
        double m[D] = {0}, S[D * D] = {0}, C[D * D];
        for (int i = 0; i < c.ds.n; i++)
            for (int d = 0; d < D; d++) m[d] += c.ds.x[i * D + d] / c.ds.n;
        for (int i = 0; i < c.ds.n; i++)
            for (int a = 0; a < D; a++)
                for (int b = 0; b < D; b++) S[a * D + b] += (c.ds.x[i * D + a] - m[a]) * (c.ds.x[i * D + b] - m[b]) / c.ds.n;
        C[0] = sqrt(S[0]), C[1] = 0, C[2] = S[2] / C[0], C[3] = sqrt(S[3] - C[2] * C[2]);   /* S = C C^T */
        double lognorm = -log(C[0] * C[3]) - 1.8378770664093453 /* D/2 log(2 pi), D = 2 */, lognu = log(NU), lpx[SB], ex[SB], c0 = 0;
        float eps[M * D], y[D];
        ebm_rng_host_normal(&rng, eps, M * D);   /* after the data batch (vectors: no draw) */
        for (int i = 0; i < SB; i++) {
            const float *x = host + i * D;
            double z0 = (x[0] - m[0]) / C[0], z1 = (x[1] - m[1] - C[2] * z0) / C[3];
            lpx[i] = lognorm - 0.5 * (z0 * z0 + z1 * z1);
            ex[i] = quad_e(mu, L, x, NULL);
            epos += ex[i] / SB;
            c0 += (ex[i] + lpx[i] + lognu) / SB;   /* c at iteration 0: mean G(x) = 0 */
        }
        for (int i = 0; i < SB; i++) {
            double g = -ex[i] + c0 - lpx[i] - lognu;
            loss += softplus(-g) / SB, mag += (fabs(g) + softplus(-g)) / SB;
        }
        for (int j = 0; j < M; j++) {
            const float *e = eps + j * D;
            y[0] = (float)(m[0] + C[0] * e[0]), y[1] = (float)(m[1] + C[2] * e[0] + C[3] * e[1]);
            double lpy = lognorm - 0.5 * ((double)e[0] * e[0] + (double)e[1] * e[1]), g = -quad_e(mu, L, y, NULL) + c0 - lpy - lognu;
            loss += NU * softplus(g) / M, mag += NU * (fabs(g) + softplus(g)) / M;
        }
    }
    double got = NAN, gote = NAN;
    for (int i = 0; i < s.n; i++) {
        if (!strcmp(s.s[i].key, "loss")) got = s.s[i].v;
        if (!strcmp(s.s[i].key, "e_pos")) gote = s.s[i].v;
    }
    char msg[300];
    snprintf(msg, sizeof msg, "%s: one step's loss %.7g vs host %.7g, E+ %.7g vs %.7g (tolerance %.2g)", what, got, loss, gote, epos,
             3e-5 * (1 + mag));
    check(ok && fabs(got - loss) <= 3e-5 * (1 + mag) && fabs(gote - epos) <= 3e-5 * (1 + fabs(epos)), msg);
    close_case(&c);
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

    step_check(csv, "sm exact", (const char *[]){"run.method=sm", "sm.kind=exact", "run.batch=64", NULL});
    step_check(csv, "sm sliced", (const char *[]){"run.method=sm", "sm.kind=sliced", "run.batch=64", NULL});
    step_check(csv, "sm denoising", (const char *[]){"run.method=sm", "sm.kind=denoising", "sm.sigma=0.7", "run.batch=64", NULL});
    step_check(csv, "nce gaussian", (const char *[]){"run.method=nce", "nce.noise=gaussian", "nce.nu=4", "run.batch=64", NULL});

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
