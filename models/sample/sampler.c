/* sampler.c — Langevin and MALA loops over the engine's fused update kernels. */
#include "sampler.h"
#include <math.h>
#include <stdlib.h>

/* sum(E(x)) and dE/dx at x (no graph kept); parameters are frozen, since only dE/dx is needed, and
 * the forward is recorded for first derivatives only (ebm_grad_set_first_order: a convolution's
 * activation keeps f'(z) for the backward, which then multiplies where it would evaluate f') */
static ebm_tensor_t *energy_grad(ebm_ctx_t *ctx, ebm_energy_fn energy, void *user, ebm_tensor_t *x, ebm_tensor_t **e_out) {
    ebm_tensor_t *xr = ebm_detach(x);
    ebm_tensor_set_requires_grad(xr, 1);
    int was = ebm_params_set_frozen(ctx, 1), fo = ebm_grad_set_first_order(ctx, 1);
    ebm_tensor_t *e = energy(user, xr);
    ebm_grad_set_first_order(ctx, fo);
    ebm_params_set_frozen(ctx, was);
    ebm_tensor_t *total = ebm_sum_all(e), *g = NULL;
    if (total && ebm_grad(&total, 1, NULL, &xr, 1, &g, 0) != EBM_OK) return NULL;
    if (e_out) *e_out = e ? ebm_detach(e) : NULL;
    return g;
}

ebm_tensor_t *ebm_langevin(ebm_ctx_t *ctx, ebm_energy_fn energy, void *user, ebm_tensor_t *x0, const ebm_langevin_cfg_t *cfg,
                           ebm_rng_t *rng) {
    int clamp = cfg->clamp_lo != cfg->clamp_hi;
    float lo = clamp ? cfg->clamp_lo : -INFINITY, hi = clamp ? cfg->clamp_hi : INFINITY;
    ebm_tensor_t *x = x0;
    for (int k = 0; k < cfg->steps && x; k++) {
        ebm_scope_begin(ctx);
        ebm_tensor_t *xs = x;
        float sigma = cfg->noise;
        if (cfg->noise_first) {   /* noise (and clamp) first, then the gradient step without noise */
            xs = ebm_langevin_update(x, x, 0.0f, cfg->noise, 0.0f, lo, hi, rng);
            sigma = 0.0f;
        }
        ebm_tensor_t *g = energy_grad(ctx, energy, user, xs, NULL);
        ebm_tensor_t *next = ebm_langevin_update(xs, g, cfg->step_size, sigma, cfg->grad_clip, lo, hi, rng);
        ebm_tensor_keep(next);
        ebm_scope_end(ctx);
        if (x != x0) ebm_tensor_free(x);
        x = next;
    }
    return x;
}

ebm_tensor_t *ebm_chain_sum(ebm_tensor_t *t) {
    int B = ebm_tensor_dim(t, 0);
    return ebm_sum(ebm_reshape(t, 2, (int[]){B, -1}), 0x2u, 0);
}

ebm_tensor_t *ebm_mala(ebm_ctx_t *ctx, ebm_energy_fn energy, void *user, ebm_tensor_t *x0, const ebm_mala_cfg_t *cfg,
                       ebm_rng_t *rng, double *accept_rate) {
    int B = ebm_tensor_dim(x0, 0);
    ebm_tensor_t *x = ebm_tensor_clone(x0);   /* updated in place by the accept kernel */
    if (!x) return NULL;
    ebm_tensor_t *acc_sum = ebm_tensor_zeros(ctx, 1, &B);
    float eta = cfg->step_size, inv4eta = 1.0f / (4.0f * eta);
    int was = ebm_grad_set_enabled(ctx, 1);
    for (int k = 0; k < cfg->steps && ebm_ctx_status(ctx) == EBM_OK; k++) {
        ebm_scope_begin(ctx);
        ebm_tensor_t *e0, *e1;
        ebm_tensor_t *g0 = energy_grad(ctx, energy, user, x, &e0);
        ebm_tensor_t *prop = ebm_langevin_update(x, g0, eta, sqrtf(2.0f * eta), 0.0f, -INFINITY, INFINITY, rng);
        ebm_tensor_t *g1 = energy_grad(ctx, energy, user, prop, &e1);
        int ge = ebm_grad_set_enabled(ctx, 0);
        /* log q(x'|x) = -|x' - x + eta g0|^2 / (4 eta); log q(x|x') = -|x - x' + eta g1|^2 / (4 eta) */
        ebm_tensor_t *fwd = ebm_chain_sum(ebm_square(ebm_add(ebm_sub(prop, x), ebm_scale(g0, eta))));
        ebm_tensor_t *bwd = ebm_chain_sum(ebm_square(ebm_add(ebm_sub(x, prop), ebm_scale(g1, eta))));
        ebm_tensor_t *log_alpha = ebm_add(ebm_sub(e0, e1), ebm_scale(ebm_sub(fwd, bwd), inv4eta));
        ebm_tensor_t *acc = ebm_mh_accept(x, prop, log_alpha, rng);
        ebm_tensor_t *s = ebm_add(acc_sum, acc);
        if (s) ebm_tensor_copy_into(acc_sum, s);
        ebm_grad_set_enabled(ctx, ge);
        ebm_scope_end(ctx);
    }
    ebm_grad_set_enabled(ctx, was);
    if (accept_rate) {
        float *a = malloc(sizeof(float) * B);
        double tot = 0;
        if (a && ebm_tensor_read(acc_sum, a) == EBM_OK)
            for (int i = 0; i < B; i++) tot += a[i];
        *accept_rate = cfg->steps > 0 ? tot / ((double)B * cfg->steps) : 0;
        free(a);
    }
    return ebm_ctx_status(ctx) == EBM_OK ? x : NULL;
}

typedef struct {
    ebm_energy_fn energy;
    void *user;
} latent_t;

/* E(G(z)) + |z|^2 / 2 per chain */
static ebm_tensor_t *latent_energy(void *user, ebm_tensor_t *z) {
    latent_t *l = user;
    return ebm_add(l->energy(l->user, z), ebm_scale(ebm_chain_sum(ebm_square(z)), 0.5f));
}

ebm_tensor_t *ebm_latent_mala(ebm_ctx_t *ctx, ebm_energy_fn energy_of_z, void *user, ebm_tensor_t *z0, const ebm_mala_cfg_t *cfg,
                              ebm_rng_t *rng, double *accept_rate) {
    latent_t l = {energy_of_z, user};
    return ebm_mala(ctx, latent_energy, &l, z0, cfg, rng, accept_rate);
}
