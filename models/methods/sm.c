/* sm.c — score matching (run.method = sm): E is fitted so that the model's score -grad_x E matches
 * the data's, with no sampling in training. With s(x) = -grad_x E(x):
 *   exact     (Hyvarinen 2005)  L = mean 1/2 |grad_x E(x)|^2 - tr grad_x^2 E(x)
 *             the trace from D backward passes of the gradient's components (vectors only);
 *   sliced    (Song et al. 2019, the variance-reduced form with Gaussian v)
 *             L = mean 1/2 |grad_x E(x)|^2 - mean_v v^T grad_x^2 E(x) v,  v ~ N(0, I),
 *             v^T H v from one double backward of v . grad_x E per projection;
 *   denoising (Vincent 2011)    x~ = x + sigma eps, eps ~ N(0, I),
 *             L = mean 1/2 |grad_x E(x~) - eps / sigma|^2
 *             (the score of x~ given x is -eps / sigma, and the model's is -grad_x E(x~)), whose
 *             optimum is the density of the data convolved with N(0, sigma^2 I).
 * exact and sliced differentiate grad_x E twice more (theta, and x again): third-order autodiff.
 * Samples for pictures and `ebm sample/eval` are [sampler] Langevin chains from noise on E, which is
 * a negative log-density at temperature 1 (up to a constant SM does not see). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "chains.h"
#include "data.h"

/* [sm] */
static const ebm_config_key_t sm_keys[] = {
    {"sm", "kind", EBM_CFG_STRING, "denoising",
     "exact (1/2|grad E|^2 - tr hess E, D backward passes; vectors of at most 64 numbers) | sliced (v^T hess E v, v ~ N(0, I)) | "
     "denoising (x + sigma eps)", 0, 0},
    {"sm", "sigma", EBM_CFG_FLOAT, "0.1", "denoising: noise level sigma (the model learns the data convolved with N(0, sigma^2 I))", 1e-6, 1e6},
    {"sm", "projections", EBM_CFG_INT, "1", "sliced: random projections v per example and iteration", 1, 1024},
    {NULL, NULL, 0, NULL, NULL, 0, 0}};

enum { SM_EXACT, SM_SLICED, SM_DENOISING, SM_MAX_EXACT_DIM = 64 };

typedef struct sm {
    int kind, projections;
    float sigma;
} sm_t;

static int sm_build(run_t *r) {
    const ebm_config_t *c = r->cfg;
    sm_t *s = calloc(1, sizeof *s);
    if (!(r->state = s)) {
        ERR("out of host memory\n");
        return 0;
    }
    const char *kind = ebm_config_str(c, "sm", "kind");
    s->kind = !strcmp(kind, "exact") ? SM_EXACT : !strcmp(kind, "sliced") ? SM_SLICED : !strcmp(kind, "denoising") ? SM_DENOISING : -1;
    s->sigma = (float)ebm_config_float(c, "sm", "sigma");
    s->projections = (int)ebm_config_int(c, "sm", "projections");
    if (s->kind < 0) {
        ERR("[sm] kind = \"%s\": expected exact, sliced or denoising\n", kind);
        return 0;
    }
    if (s->kind == SM_EXACT && r->numel > SM_MAX_EXACT_DIM) {
        ERR("[sm] kind = exact takes %zu backward passes per iteration for these %zu-number examples (at most %d): use kind = sliced "
            "or denoising\n", r->numel, r->numel, SM_MAX_EXACT_DIM);
        return 0;
    }
    return 1;
}

static void sm_free(run_t *r) {
    free(r->state);
    r->state = NULL;
}

static ebm_tensor_t *flat(ebm_tensor_t *t) { return ebm_reshape(t, 2, (int[]){ebm_tensor_dim(t, 0), -1}); }

/* grad_x sum_i E(x_i) with its graph, (B, sample shape) */
static ebm_tensor_t *score_graph(run_t *r, ebm_tensor_t *x, ebm_tensor_t **energies) {
    ebm_tensor_t *e = run_energy(r, x), *tot = ebm_sum_all(e), *g = NULL;
    *energies = e;
    if (!tot || ebm_grad(&tot, 1, NULL, &x, 1, &g, EBM_GRAD_CREATE_GRAPH) != EBM_OK) return NULL;
    return g;
}

/* the loss of the iteration (a scalar with its graph), mean E(x) on the data in *e_pos */
static ebm_tensor_t *sm_loss(run_t *r, const sm_t *s, ebm_tensor_t *x, ebm_rng_t *rng, ebm_tensor_t **e_pos) {
    int B = ebm_tensor_dim(x, 0), D = (int)r->numel;
    ebm_tensor_t *e = NULL, *g;
    if (s->kind == SM_DENOISING) {
        ebm_tensor_t *eps = ebm_rand_normal(r->ctx, rng, ebm_tensor_ndim(x), ebm_tensor_shape(x), 0.0f, 1.0f);
        ebm_tensor_t *xt = ebm_add(x, ebm_scale(eps, s->sigma));
        int was = ebm_grad_set_enabled(r->ctx, 0);
        *e_pos = ebm_mean_all(run_energy(r, x));
        ebm_grad_set_enabled(r->ctx, was);
        if (!xt) return NULL;
        ebm_tensor_set_requires_grad(xt, 1);
        g = score_graph(r, xt, &e);
        /* 1/2 |grad E(x~) - eps / sigma|^2 per example, mean over the batch */
        return g ? ebm_scale(ebm_mean_all(ebm_chain_sum(ebm_square(ebm_sub(g, ebm_scale(eps, 1.0f / s->sigma))))), 0.5f) : NULL;
    }
    ebm_tensor_set_requires_grad(x, 1);
    g = score_graph(r, x, &e);
    *e_pos = ebm_mean_all(e);
    if (!g) return NULL;
    ebm_tensor_t *half_g2 = ebm_scale(ebm_chain_sum(ebm_square(g)), 0.5f), *curv = NULL;   /* (B) */
    if (s->kind == SM_EXACT) {   /* tr H = sum_d d/dx_d (dE/dx_d): row d of every example's Hessian per pass */
        ebm_tensor_t *gf = flat(g);
        for (int d = 0; d < D && gf; d++) {
            ebm_tensor_t *gd = ebm_sum_all(ebm_slice(gf, 1, d, 1)), *hd = NULL;
            if (!gd || ebm_grad(&gd, 1, NULL, &x, 1, &hd, EBM_GRAD_CREATE_GRAPH) != EBM_OK) return NULL;
            ebm_tensor_t *hdd = ebm_reshape(ebm_slice(flat(hd), 1, d, 1), 1, &B);   /* d^2 E / dx_d^2, (B) */
            curv = curv ? ebm_add(curv, hdd) : hdd;
        }
    } else {   /* sliced: mean over projections of v^T H v, H v = grad_x (v . grad_x E) */
        for (int k = 0; k < s->projections; k++) {
            ebm_tensor_t *v = ebm_rand_normal(r->ctx, rng, ebm_tensor_ndim(x), ebm_tensor_shape(x), 0.0f, 1.0f);
            ebm_tensor_t *gv = ebm_sum_all(ebm_mul(g, v)), *hv = NULL;
            if (!gv || ebm_grad(&gv, 1, NULL, &x, 1, &hv, EBM_GRAD_CREATE_GRAPH) != EBM_OK) return NULL;
            ebm_tensor_t *vhv = ebm_scale(ebm_chain_sum(ebm_mul(hv, v)), 1.0f / (float)s->projections);
            curv = curv ? ebm_add(curv, vhv) : vhv;
        }
    }
    return ebm_mean_all(ebm_sub(half_g2, curv));
}

/* one optimizer step on the iteration's data batch: 1, 0 (non-finite loss, nothing updated), -1 */
static int sm_step(run_t *r, ebm_dataset_t *ds, float *host, stats_t *st) {
    const sm_t *s = r->state;
    ebm_ctx_t *ctx = r->ctx;
    ebm_rng_t rng = run_iter_rng(r, r->iter);
    ebm_scope_begin(ctx);
    ebm_tensor_t *x = chains_data_batch(r, ds, host, &rng), *mp = NULL;
    ebm_tensor_t *loss = x ? sm_loss(r, s, x, &rng, &mp) : NULL;
    float hv[2] = {NAN, NAN};
    int ok = loss && mp && ebm_tensor_read(mp, &hv[0]) == EBM_OK && ebm_tensor_read(loss, &hv[1]) == EBM_OK;
    stats_add(st, "e_pos", "E+", hv[0]), stats_add(st, "loss", "loss", hv[1]);
    int rc = !ok ? -1 : !isfinite(hv[0]) || !isfinite(hv[1]) ? 0 : 1;
    if (rc == 1 && (ebm_params_zero_grad(r->ps) != EBM_OK || ebm_params_backward(r->ps, loss) != EBM_OK ||
                    ebm_optim_step(r->opt) != EBM_OK || (r->ema && ebm_ema_update(r->ema) != EBM_OK)))
        rc = -1;
    ebm_scope_end(ctx);
    if (rc < 0) ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(ctx));
    return rc;
}

const ebm_method_t ebm_method_sm = {
    .name = "sm",
    .title = "score matching",
    .keys = (const ebm_config_key_t *const[]){sm_keys, NULL},
    .summary = "score matching (exact, sliced or denoising): no sampling in training; Langevin chains from noise for samples",
    .build = sm_build,
    .free = sm_free,
    .step = sm_step,
    .draw = chains_draw,
};
