/* meg.c — Maximum Entropy Generators (Kumar et al. 2019; shared/METHODS.md method 4) for vector data:
 * an energy E, a generator G(z), z ~ N(0, I), and a statistics network H(x, z) whose binary
 * cross-entropy between true pairs (G(z), z) and shuffled pairs (G(z), z_perm) is a JSD lower bound on
 * I(x; z) = H(G(z)) for a deterministic G (shared/research/seeds-reference-impls.md 5.2):
 *   L_G = mean E(G(z)) + BCE(H(G(z), z) -> 1, H(G(z), z_perm) -> 0)      (G and H both minimise it)
 *   L_E = mean E(x+) - mean E(G(z)) + lambda mean |grad_x E(x+)|^2       (second-order autodiff)
 * with meg.energy_steps E updates (a fresh data batch each) per G update. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data.h"
#include "run.h"

int meg_build(run_t *r) {
    const ebm_config_t *c = r->cfg;
    int gh[8], hh[8];
    int ng = run_parse_ints(ebm_config_str(c, "meg", "gen_hidden"), gh, 8), nh = run_parse_ints(ebm_config_str(c, "meg", "stat_hidden"), hh, 8);
    r->z_dim = (int)ebm_config_int(c, "meg", "z_dim");
    if (r->ndim != 1 || ng < 0 || nh < 0 || r->z_dim < 1 || ebm_config_int(c, "meg", "energy_steps") < 1) {
        ERR("[run] method = meg needs vector data (toys, CSV), [meg] gen_hidden/stat_hidden as widths, z_dim >= 1, "
            "energy_steps >= 1\n");
        return 0;
    }
    r->meg = 1;
    int D = (int)r->numel;
    r->ps_g = ebm_params_new(r->ctx);
    r->ps_h = ebm_params_new(r->ctx);
    r->net_g = ebm_net_mlp(r->ps_g, "generator.", r->z_dim, gh, ng, D);
    r->net_h = ebm_net_mlp(r->ps_h, "stats.", D + r->z_dim, hh, nh, 1);
    if (!r->net_g || !r->net_h || ebm_net_set_activation(r->net_g, "relu") != EBM_OK ||
        ebm_net_set_activation(r->net_h, "lrelu") != EBM_OK || ebm_params_finalize(r->ps_g) != EBM_OK ||
        ebm_params_finalize(r->ps_h) != EBM_OK) {
        ERR("building the MEG networks: %s\n", ebm_ctx_error(r->ctx));
        return 0;
    }
    ebm_rng_t init = ebm_rng_make(r->seed, 0x4d4547ull);   /* "MEG" */
    ebm_net_init(r->net_g, &init);
    ebm_net_init(r->net_h, &init);
    ebm_optim_config_t oc = {.kind = EBM_OPTIM_ADAM,
                             .lr = (float)ebm_config_float(c, "optim", "lr"),
                             .beta1 = (float)ebm_config_float(c, "optim", "beta1"),
                             .beta2 = (float)ebm_config_float(c, "optim", "beta2"),
                             .eps = (float)ebm_config_float(c, "optim", "eps")};
    r->opt_g = ebm_optim_new(r->ps_g, &oc);
    r->opt_h = ebm_optim_new(r->ps_h, &oc);
    if (!r->opt_g || !r->opt_h) {
        ERR("%s\n", ebm_ctx_error(r->ctx));
        return 0;
    }
    return 1;
}

ebm_tensor_t *meg_generate(run_t *r, int n, ebm_rng_t *rng) {
    int was = ebm_grad_set_enabled(r->ctx, 0);
    ebm_tensor_t *x = ebm_net_forward(r->net_g, ebm_rand_normal(r->ctx, rng, 2, (int[]){n, r->z_dim}, 0.0f, 1.0f));
    ebm_grad_set_enabled(r->ctx, was);
    return x;
}

int meg_step(run_t *r, ebm_dataset_t *ds, float *xpos_host, stats_t *s) {
    const ebm_config_t *c = r->cfg;
    ebm_ctx_t *ctx = r->ctx;
    int B = (int)ebm_config_int(c, "run", "batch"), nE = (int)ebm_config_int(c, "meg", "energy_steps"), Z = r->z_dim;
    int D = (int)r->numel;
    float lambda = (float)ebm_config_float(c, "meg", "gp");
    ebm_rng_t rng = run_iter_rng(r, r->iter);
    float *z = malloc(sizeof(float) * 2 * B * Z), *zp = z + B * Z, hv[5];
    int *perm = malloc(sizeof(int) * B);
    if (!z || !perm) {
        free(z), free(perm);
        return -1;
    }
    /* generator + statistics network step: z and its row shuffle on the host stream */
    ebm_rng_host_normal(&rng, z, (size_t)B * Z);
    ebm_rng_host_permutation(&rng, perm, B);
    for (int i = 0; i < B; i++) memcpy(zp + i * Z, z + perm[i] * Z, sizeof(float) * Z);
    ebm_scope_begin(ctx);
    ebm_tensor_t *zt = ebm_tensor_from_host(ctx, 2, (int[]){B, Z}, z), *zpt = ebm_tensor_from_host(ctx, 2, (int[]){B, Z}, zp);
    ebm_tensor_t *x = ebm_net_forward(r->net_g, zt);
    ebm_tensor_t *pairs = ebm_concat((ebm_tensor_t *[]){ebm_concat((ebm_tensor_t *[]){x, zt}, 2, 1), ebm_concat((ebm_tensor_t *[]){x, zpt}, 2, 1)}, 2, 0);
    ebm_tensor_t *t = ebm_net_forward(r->net_h, pairs);   /* (2B, 1) logits */
    ebm_tensor_t *bce = ebm_add(ebm_mean_all(ebm_softplus(ebm_neg(ebm_slice(t, 0, 0, B)))), ebm_mean_all(ebm_softplus(ebm_slice(t, 0, B, B))));
    ebm_tensor_t *lg = ebm_add(ebm_mean_all(run_energy(r, x)), bce);
    int ok = lg && ebm_tensor_read(lg, &hv[3]) == EBM_OK && ebm_tensor_read(bce, &hv[4]) == EBM_OK;
    if (ok && !isfinite(hv[3])) {   /* NaN or Inf: diverged, nothing updated */
        ebm_scope_end(ctx);
        *s = (stats_t){NAN, NAN, NAN, hv[3], hv[4]};
        free(z), free(perm);
        return 0;
    }
    ok = ok && ebm_params_zero_grad(r->ps_g) == EBM_OK && ebm_params_zero_grad(r->ps_h) == EBM_OK &&
         ebm_params_backward(r->ps_g, lg) == EBM_OK && ebm_params_backward(r->ps_h, lg) == EBM_OK &&
         ebm_optim_step(r->opt_g) == EBM_OK && ebm_optim_step(r->opt_h) == EBM_OK;
    ebm_scope_end(ctx);
    /* energy steps: a fresh data batch each, negatives from the updated generator */
    for (int k = 0; ok && k < nE; k++) {
        ebm_dataset_batch(ds, r->seed, r->iter * nE + k, B, xpos_host);
        ebm_scope_begin(ctx);
        ebm_tensor_t *xr = ebm_tensor_from_host(ctx, 2, (int[]){B, D}, xpos_host), *g = NULL;
        ebm_tensor_set_requires_grad(xr, 1);
        ebm_tensor_t *xf = meg_generate(r, B, &rng);
        ebm_tensor_t *er = run_energy(r, xr), *ef = run_energy(r, xf), *tot = ebm_sum_all(er);
        ok = tot && ebm_grad(&tot, 1, NULL, &xr, 1, &g, 1) == EBM_OK;
        ebm_tensor_t *mp = ebm_mean_all(er), *mn = ebm_mean_all(ef);
        ebm_tensor_t *le = ok ? ebm_add(ebm_sub(mp, mn), ebm_scale(ebm_mean_all(ebm_sum(ebm_square(g), 0x2u, 0)), lambda)) : NULL;
        ok = le && ebm_tensor_read(mp, &hv[0]) == EBM_OK && ebm_tensor_read(mn, &hv[1]) == EBM_OK && ebm_tensor_read(le, &hv[2]) == EBM_OK;
        if (ok && (!isfinite(hv[2]) || !isfinite(hv[0]))) {
            ebm_scope_end(ctx);
            *s = (stats_t){hv[0], hv[1], hv[2], hv[3], hv[4]};
            free(z), free(perm);
            return 0;
        }
        ok = ok && ebm_params_zero_grad(r->ps) == EBM_OK && ebm_params_backward(r->ps, le) == EBM_OK && ebm_optim_step(r->opt) == EBM_OK &&
             (!r->ema || ebm_ema_update(r->ema) == EBM_OK);
        ebm_scope_end(ctx);
    }
    free(z), free(perm);
    if (!ok) {
        ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(ctx));
        return -1;
    }
    *s = (stats_t){hv[0], hv[1], hv[2], hv[3], hv[4]};
    return 1;
}
