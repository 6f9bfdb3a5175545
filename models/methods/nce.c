/* nce.c — noise-contrastive estimation (Gutmann & Hyvarinen 2010; run.method = nce): the model
 * log p_m(x) = -E(x) + c with a learned scalar c = -log Z, told from samples of a noise distribution
 * p_n of known density by logistic regression on
 *   G(u) = log p_m(u) - log(nu p_n(u)) = -E(u) + c - log p_n(u) - log nu,
 *   L = mean_x softplus(-G(x)) + nu mean_y softplus(G(y)),   x data, y ~ p_n (nu per data sample),
 * whose optimum is p_m = p_data, so c converges to -log of E's partition function (log Z is reported).
 * p_n is fitted to the training data when a run starts, in double precision, the same way every time
 * (a resumed run recomputes it identically): gaussian, the data's mean and covariance (1/N, plus
 * [nce] ridge on the diagonal); uniform, the data's bounding box (widened by [nce] margin). Images
 * with [data] dequantize see x 255/256 + U(0, 1/256): the fitted moments and box are those of that
 * distribution. c is a parameter of its own ("nce.c", with its optimizer's state in the checkpoint);
 * it starts, at iteration 0 only, at the value that makes the first batch's mean G(x) zero (log p_n
 * of images is in the thousands, which a learning rate of 1e-3 would take forever to reach). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "chains.h"
#include "data.h"
#include "dist.h"

/* [nce] */
static const ebm_config_key_t nce_keys[] = {
    {"nce", "noise", EBM_CFG_STRING, "gaussian", "noise distribution: gaussian (the data's mean and covariance) | uniform (on the data's bounding box)", 0, 0},
    {"nce", "nu", EBM_CFG_INT, "1", "noise samples per data sample", 1, 4096},
    {"nce", "ridge", EBM_CFG_FLOAT, "0", "gaussian: added to the covariance's diagonal (images: constant pixels have variance 0)", 0, 1e6},
    {"nce", "margin", EBM_CFG_FLOAT, "0", "uniform: the box [min, max] widened by margin (max - min) on each side", 0, 1e6},
    {"nce", "lr_c", EBM_CFG_FLOAT, "0", "learning rate of c = -log Z (0: optim.lr)", 0, 10},
    {NULL, NULL, 0, NULL, NULL, 0, 0}};

typedef struct nce {
    int gaussian, nu;
    double ridge, margin;
    run_group_t *group;   /* c */
    ebm_tensor_t *c;      /* (1) */
    /* the noise distribution, fitted at the first step */
    int fitted;
    double *mean, *chol, log_norm;   /* gaussian: mean (D), lower Cholesky factor (D x D), -log det(2 pi Sigma) / 2 */
    double *lo, *hi, log_box;        /* uniform: the box, -sum log(hi - lo) */
    double *work;                    /* D */
} nce_t;

static void nce_free(run_t *r) {
    nce_t *n = r->state;
    if (!n) return;
    free(n->mean), free(n->chol), free(n->lo), free(n->hi), free(n->work);
    free(n);
    r->state = NULL;
}

static int nce_build(run_t *r) {
    const ebm_config_t *c = r->cfg;
    nce_t *n = calloc(1, sizeof *n);
    if (!(r->state = n)) {
        ERR("out of host memory\n");
        return 0;
    }
    const char *noise = ebm_config_str(c, "nce", "noise");
    if (strcmp(noise, "gaussian") && strcmp(noise, "uniform")) {
        ERR("[nce] noise = \"%s\": expected gaussian or uniform\n", noise);
        return 0;
    }
    n->gaussian = !strcmp(noise, "gaussian");
    n->nu = (int)ebm_config_int(c, "nce", "nu");
    n->ridge = ebm_config_float(c, "nce", "ridge");
    n->margin = ebm_config_float(c, "nce", "margin");
    if (!(n->group = run_add_group(r, "optim_nce", ebm_params_new(r->ctx)))) return 0;
    n->c = ebm_params_add(n->group->ps, "nce.c", 1, (int[]){1});
    if (!n->c || ebm_params_finalize(n->group->ps) != EBM_OK || ebm_tensor_fill(n->c, 0.0f) != EBM_OK) {
        ERR("nce: %s\n", ebm_ctx_error(r->ctx));
        return 0;
    }
    float lr = (float)ebm_config_float(c, "nce", "lr_c");
    return run_group_optimizer(r, n->group, lr > 0 ? lr : (float)ebm_config_float(c, "optim", "lr"));
}

/* p_n from every training example (as dequantized when r->dequantize: moments and range of
 * x a + U(0, 1/256), a = 255/256); 0 after printing why */
static int nce_fit(run_t *r, nce_t *n, const ebm_dataset_t *ds) {
    size_t D = r->numel, N = (size_t)ds->n;
    double a = r->dequantize ? 255.0 / 256.0 : 1.0, q = r->dequantize ? 1.0 / 256.0 : 0.0;
    n->mean = calloc(D, sizeof(double)), n->work = calloc(D, sizeof(double));
    if (!n->mean || !n->work) goto oom;
    for (size_t i = 0; i < N; i++)
        for (size_t d = 0; d < D; d++) n->mean[d] += ds->x[i * D + d];
    for (size_t d = 0; d < D; d++) n->mean[d] /= (double)N;
    if (n->gaussian) {
        double *S = n->chol = calloc(D * D, sizeof(double));
        if (!S) goto oom;
        for (size_t i = 0; i < N; i++) {   /* lower triangle of sum (x - m)(x - m)^T */
            double *v = n->work;
            for (size_t d = 0; d < D; d++) v[d] = ds->x[i * D + d] - n->mean[d];
            for (size_t j = 0; j < D; j++) {
                if (v[j] == 0) continue;
                double *row = S + j * D, vj = v[j];
                for (size_t k = 0; k <= j; k++) row[k] += vj * v[k];
            }
        }
        for (size_t j = 0; j < D; j++)
            for (size_t k = 0; k <= j; k++) S[j * D + k] = a * a * S[j * D + k] / (double)N + (j == k ? q * q / 12 + n->ridge : 0);
        for (size_t d = 0; d < D; d++) n->mean[d] = a * n->mean[d] + q / 2;
        /* in-place Cholesky of the lower triangle */
        double logdet = 0;
        for (size_t j = 0; j < D; j++) {
            double s = S[j * D + j];
            for (size_t k = 0; k < j; k++) s -= S[j * D + k] * S[j * D + k];
            if (!(s > 0)) {
                ERR("[nce] noise = gaussian: the data's covariance (plus ridge %g) is singular at coordinate %zu (constant coordinates "
                    "have variance 0): raise [nce] ridge\n", n->ridge, j);
                return 0;
            }
            S[j * D + j] = sqrt(s);
            logdet += 2 * log(S[j * D + j]);
            for (size_t i = j + 1; i < D; i++) {
                double t = S[i * D + j];
                for (size_t k = 0; k < j; k++) t -= S[i * D + k] * S[j * D + k];
                S[i * D + j] = t / S[j * D + j];
            }
        }
        n->log_norm = -0.5 * (logdet + (double)D * 1.8378770664093453 /* log(2 pi) */);
    } else {
        n->lo = malloc(sizeof(double) * D), n->hi = malloc(sizeof(double) * D);
        if (!n->lo || !n->hi) goto oom;
        for (size_t d = 0; d < D; d++) n->lo[d] = INFINITY, n->hi[d] = -INFINITY;
        for (size_t i = 0; i < N; i++)
            for (size_t d = 0; d < D; d++) n->lo[d] = fmin(n->lo[d], ds->x[i * D + d]), n->hi[d] = fmax(n->hi[d], ds->x[i * D + d]);
        n->log_box = 0;
        for (size_t d = 0; d < D; d++) {
            double lo = a * n->lo[d], hi = a * n->hi[d] + q, w = hi - lo;
            n->lo[d] = lo - n->margin * w, n->hi[d] = hi + n->margin * w;
            if (!(n->hi[d] > n->lo[d])) {
                ERR("[nce] noise = uniform: coordinate %zu is constant in the data, so its box has no volume: use noise = gaussian with a "
                    "ridge, or dequantized images\n", d);
                return 0;
            }
            n->log_box -= log(n->hi[d] - n->lo[d]);
        }
    }
    n->fitted = 1;
    return 1;
oom:
    ERR("[nce]: out of host memory for the noise distribution\n");
    return 0;
}

/* log p_n of m host rows x (D each) into lp */
static void noise_logpdf(const run_t *r, const nce_t *n, const float *x, int m, float *lp) {
    size_t D = r->numel;
    for (int i = 0; i < m; i++) {
        const float *xi = x + (size_t)i * D;
        if (!n->gaussian) {
            int in = 1;
            for (size_t d = 0; d < D; d++) in = in && xi[d] >= n->lo[d] && xi[d] <= n->hi[d];
            lp[i] = in ? (float)n->log_box : -INFINITY;
            continue;
        }
        double *z = n->work, s = 0;   /* z = L^-1 (x - m) */
        for (size_t j = 0; j < D; j++) {
            double t = xi[j] - n->mean[j];
            const double *row = n->chol + j * D;
            for (size_t k = 0; k < j; k++) t -= row[k] * z[k];
            z[j] = t / row[j];
            s += z[j] * z[j];
        }
        lp[i] = (float)(n->log_norm - 0.5 * s);
    }
}

/* m noise rows into y and their log p_n into lp, from the host stream */
static int noise_draw(const run_t *r, const nce_t *n, ebm_rng_t *rng, int m, float *y, float *lp) {
    size_t D = r->numel;
    float *u = malloc(sizeof(float) * D * m);
    if (!u) return 0;
    if (n->gaussian) {   /* y = mean + L eps, log p_n = log_norm - |eps|^2 / 2 */
        ebm_rng_host_normal(rng, u, D * m);
        for (int i = 0; i < m; i++) {
            const float *e = u + (size_t)i * D;
            double s = 0;
            for (size_t j = 0; j < D; j++) {
                double t = n->mean[j];
                const double *row = n->chol + j * D;
                for (size_t k = 0; k <= j; k++) t += row[k] * e[k];
                y[(size_t)i * D + j] = (float)t;
                s += (double)e[j] * e[j];
            }
            lp[i] = (float)(n->log_norm - 0.5 * s);
        }
    } else {
        ebm_rng_host_uniform(rng, u, D * m);
        for (size_t j = 0; j < D * m; j++) y[j] = (float)(n->lo[j % D] + (n->hi[j % D] - n->lo[j % D]) * u[j]);
        for (int i = 0; i < m; i++) lp[i] = (float)n->log_box;
    }
    free(u);
    return 1;
}

static float read_c(const nce_t *n) {
    float c = NAN;
    return ebm_tensor_read(n->c, &c) == EBM_OK ? c : NAN;
}

static int nce_step(run_t *r, ebm_dataset_t *ds, float *host, stats_t *st) {
    nce_t *n = r->state;
    ebm_ctx_t *ctx = r->ctx;
    if (!n->fitted && !nce_fit(r, n, ds)) return -1;
    ebm_rng_t rng = run_iter_rng(r, r->iter);
    int B = r->batch, M = B * n->nu;
    size_t D = r->numel;
    float *y = malloc(sizeof(float) * D * M), *lpx = malloc(sizeof(float) * B), *lpy = malloc(sizeof(float) * M), hv[4] = {NAN, NAN, NAN, NAN};
    int rc = -1;
    ebm_scope_begin(ctx);
    ebm_tensor_t *x = y && lpx && lpy ? chains_data_batch(r, ds, host, &rng) : NULL;
    if (!x || !noise_draw(r, n, &rng, M, y, lpy)) goto out;
    noise_logpdf(r, n, host, B, lpx);
    int shape[4] = {M, r->shape[0], r->shape[1], r->shape[2]};
    ebm_tensor_t *yt = ebm_tensor_from_host(ctx, r->ndim + 1, shape, y);
    ebm_tensor_t *ex = run_energy(r, x), *ey = run_energy(r, yt);
    float lognu = logf((float)n->nu);
    if (r->iter == 0) {   /* c from the first batch: mean G(x) = 0 (only before c was ever trained) */
        float e0 = 0, ehost[4096];
        double s = 0;
        for (int i0 = 0; i0 < B; i0 += 4096) {
            int m = B - i0 < 4096 ? B - i0 : 4096;
            ebm_tensor_t *part = ebm_slice(ex, 0, i0, m);
            if (!part || ebm_tensor_read(part, ehost) != EBM_OK) goto out;
            for (int i = 0; i < m; i++) s += (double)ehost[i] + lpx[i0 + i] + lognu;
        }
        e0 = (float)(s / B);
        if (r->ranks > 1) {   /* the mean over the global batch, the same c on every rank */
            float v[2] = {(float)s, (float)B};
            if (!dist_sum(v, 2)) goto out;
            e0 = v[0] / v[1];
        }
        if (ebm_tensor_fill(n->c, e0) != EBM_OK) goto out;
    }
    /* G = -E + c - log p_n - log nu, (B) and (M) */
    ebm_tensor_t *gx = ebm_sub(ebm_add(ebm_neg(ex), n->c), ebm_add_scalar(ebm_tensor_from_host(ctx, 1, &B, lpx), lognu));
    ebm_tensor_t *gy = ebm_sub(ebm_add(ebm_neg(ey), n->c), ebm_add_scalar(ebm_tensor_from_host(ctx, 1, &M, lpy), lognu));
    ebm_tensor_t *loss = ebm_add(ebm_mean_all(ebm_softplus(ebm_neg(gx))), ebm_scale(ebm_mean_all(ebm_softplus(gy)), (float)n->nu));
    ebm_tensor_t *mp = ebm_mean_all(ex), *mn = ebm_mean_all(ey);
    int ok = loss && ebm_tensor_read(mp, &hv[0]) == EBM_OK && ebm_tensor_read(mn, &hv[1]) == EBM_OK && ebm_tensor_read(loss, &hv[2]) == EBM_OK;
    hv[3] = -read_c(n);
    if (!ok) goto out;
    if (!isfinite(hv[0]) || !isfinite(hv[1]) || !isfinite(hv[2]) || !isfinite(hv[3])) {
        rc = 0;
        goto out;
    }
    ebm_params_t *pc = n->group->ps;
    rc = ebm_params_zero_grad(r->ps) == EBM_OK && ebm_params_zero_grad(pc) == EBM_OK && ebm_params_backward(r->ps, loss) == EBM_OK &&
                 ebm_params_backward(pc, loss) == EBM_OK && ebm_optim_step(r->opt) == EBM_OK && ebm_optim_step(n->group->opt) == EBM_OK &&
                 (!r->ema || ebm_ema_update(r->ema) == EBM_OK)
             ? 1
             : -1;
    if (rc == 1) hv[3] = -read_c(n);   /* log Z after this iteration's update, as the checkpoint holds it */
out:
    ebm_scope_end(ctx);
    free(y), free(lpx), free(lpy);
    stats_add(st, "e_pos", "E+", hv[0]), stats_add(st, "e_noise", "E(noise)", hv[1]), stats_add(st, "loss", "loss", hv[2]);
    stats_add_g(st, "log_z", "log Z", hv[3]);
    if (rc < 0) ERR("iteration %ld: %s\n", r->iter, ebm_ctx_status(ctx) != EBM_OK ? ebm_ctx_error(ctx) : "out of host memory");
    return rc;
}

/* `ebm eval` rows of an NCE run carry the learned log Z = -c */
static void nce_eval_row(run_t *r, cJSON *row) {
    float lz = -read_c(r->state);
    run_json_num(row, "log_z", lz);
    fprintf(stderr, "ebm eval: learned log Z = %.6g (NCE's c = -log Z)\n", lz);
}

const ebm_method_t ebm_method_nce = {
    .name = "nce",
    .title = "noise-contrastive estimation",
    .keys = (const ebm_config_key_t *const[]){nce_keys, NULL},
    .summary = "noise-contrastive estimation: logistic regression of data against Gaussian or uniform noise, c = -log Z learned",
    .build = nce_build,
    .free = nce_free,
    .step = nce_step,
    .draw = chains_draw,
    .eval_row = nce_eval_row,
};
