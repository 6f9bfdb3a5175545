/* gen.c — energy-based models trained together with a generator (shared/METHODS.md methods 3-5):
 *
 * MEG (Kumar et al. 2019, run.method = meg): energy E, generator G(z), z ~ N(0, I), and a statistics
 * network H(x, z) whose binary cross-entropy between true pairs (G(z), z) and shuffled pairs
 * (G(z), z_perm) is a JSD lower bound on I(x; z) = H(G(z)) for a deterministic G
 * (shared/research/seeds-reference-impls.md 5.2):
 *   L_G = mean E(G(z)) + BCE(H(G(z), z) -> 1, H(G(z), z_perm) -> 0)      (G and H both minimise it)
 *   L_E = mean E(x+) - mean E(G(z)) + lambda mean |grad_x E(x+)|^2       (second-order autodiff)
 * with meg.energy_steps E updates (a fresh data batch each) per G update.
 *
 * Kim & Bengio 2016 (run.method = ddgm; research 7): G with batch norm, z ~ U(-1, 1); the generator's
 * entropy is replaced by that of its batch-norm scales, sum over units of log(2 pi e gamma^2) / 2:
 *   L_G = mean E(G(z)) - entropy_weight * sum_gamma log(2 pi e gamma^2) / 2,   L_E = mean E(x+) - mean E(G(z))
 * one G step then one E step per iteration, AdaGrad in their code ([optim] kind = adagrad).
 *
 * Dual-MCMC teaching (Cui & Han 2023, run.method = dual; research 6.2): x~ = [sampler] Langevin on E
 * from G(z); z~ = dual.z_steps Langevin steps on |G(z) - x+|^2 / (2 gen_sigma^2) + |z|^2 / 2 from
 * z0 ~ q(z | x+);
 *   L_G = sum |G(z~) - x+|^2 / B + s_factor sum |G(z) - x~|^2 / B
 *   L_I = mean NLL(z~ | q(x+)) + inf_neg_weight mean NLL(z | q(x~)),  NLL = sum(log var)/2 + sum((z - mu)^2 / (var + 1e-6))/2
 *   L_E = (mean E(x+) - mean E(x~')) / temperature, x~' the x-chain from the updated G(z). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data.h"
#include "run.h"

const char *gen_aux_name(const run_t *r) {
    return r->method == METHOD_MEG ? "mi_bce" : r->method == METHOD_DDGM ? "bn_entropy" : "inf_loss";
}

int gen_build(run_t *r) {
    const ebm_config_t *c = r->cfg;
    int gh[8], hh[8], ng = run_parse_widths(c, "generator", "hidden", gh), D = (int)r->numel, img = r->ndim == 3;
    const char *gnet = ebm_config_str(c, "generator", "net"), *prior = ebm_config_str(c, "generator", "prior");
    r->z_dim = (int)ebm_config_int(c, "generator", "z_dim");
    if (ng < 0 || r->z_dim < 1 || (strcmp(prior, "normal") && strcmp(prior, "uniform")) || (strcmp(gnet, "mlp") && strcmp(gnet, "dcgan")) ||
        (!strcmp(gnet, "dcgan") && (!img || r->shape[1] != r->shape[2] || r->shape[1] < 16))) {
        ERR("[generator] needs z_dim >= 1, prior = normal or uniform, net = mlp or dcgan (dcgan: square images of side >= 16)\n");
        return 0;
    }
    r->ps_g = ebm_params_new(r->ctx);
    if (!strcmp(gnet, "dcgan"))
        r->net_g = ebm_net_dcgan_generator(r->ps_g, "generator.", r->z_dim, (int)ebm_config_int(c, "generator", "base"), r->shape[0], r->shape[1]);
    else {
        r->net_g = ebm_config_bool(c, "generator", "batch_norm") ? ebm_net_mlp_bn(r->ps_g, "generator.", r->z_dim, gh, ng, D)
                                                                  : ebm_net_mlp(r->ps_g, "generator.", r->z_dim, gh, ng, D);
        if (r->net_g && ebm_net_set_activation(r->net_g, "relu") != EBM_OK) return 0;
        if (r->net_g && img) ebm_net_set_output_tanh(r->net_g, 1);
    }
    if (r->method == METHOD_DDGM && r->net_g && ebm_net_bn_gammas(r->net_g, NULL, 0) == 0) {
        ERR("[run] method = ddgm takes the generator's entropy from its batch-norm scales: set [generator] batch_norm = true "
            "(or net = dcgan)\n");
        return 0;
    }
    if (r->method == METHOD_MEG) {
        int nh = run_parse_widths(c, "meg", "stat_hidden", hh);
        if (nh < 0 || ebm_config_int(c, "meg", "energy_steps") < 1) {
            ERR("[meg] energy_steps must be >= 1\n");
            return 0;
        }
        r->ps_h = ebm_params_new(r->ctx);
        if (img) {   /* conv trunk on x, then the MLP on (features, z) */
            int f = (int)ebm_config_int(c, "meg", "stat_features");
            r->net_h = ebm_net_dcgan_trunk(r->ps_h, "stats.trunk.", r->shape[0], (int)ebm_config_int(c, "meg", "stat_base"), r->shape[1], f);
            r->net_h2 = ebm_net_mlp(r->ps_h, "stats.head.", f + r->z_dim, hh, nh, 1);
            if (r->net_h2) ebm_net_set_activation(r->net_h2, "lrelu");
        } else {
            r->net_h = ebm_net_mlp(r->ps_h, "stats.", D + r->z_dim, hh, nh, 1);
            if (r->net_h) ebm_net_set_activation(r->net_h, "lrelu");
        }
    } else if (r->method == METHOD_DUAL) {
        int nh = run_parse_widths(c, "dual", "inf_hidden", hh);
        if (nh < 0) return 0;
        r->ps_h = ebm_params_new(r->ctx);
        r->net_h = img ? ebm_net_dcgan_trunk(r->ps_h, "inference.", r->shape[0], (int)ebm_config_int(c, "model", "base"), r->shape[1], 2 * r->z_dim)
                       : ebm_net_mlp(r->ps_h, "inference.", D, hh, nh, 2 * r->z_dim);
        if (r->net_h && !img) ebm_net_set_activation(r->net_h, "lrelu");
    }
    if (!r->net_g || (r->ps_h && !r->net_h) || (img && r->method == METHOD_MEG && !r->net_h2) || ebm_params_finalize(r->ps_g) != EBM_OK ||
        (r->ps_h && ebm_params_finalize(r->ps_h) != EBM_OK)) {
        ERR("building the generator networks: %s\n", ebm_ctx_error(r->ctx));
        return 0;
    }
    ebm_rng_t init = ebm_rng_make(r->seed, 0x4d4547ull);   /* "MEG": the generators' own stream */
    ebm_net_init(r->net_g, &init);
    if (r->net_h) ebm_net_init(r->net_h, &init);
    if (r->net_h2) ebm_net_init(r->net_h2, &init);
    float lr = (float)ebm_config_float(c, "optim", "lr");
    r->lr_g = ebm_config_float(c, "generator", "lr") > 0 ? (float)ebm_config_float(c, "generator", "lr") : lr;
    r->lr_h = r->method == METHOD_DUAL ? (float)ebm_config_float(c, "dual", "lr_inference") : r->lr_g;
    ebm_optim_config_t og, oh;
    if (!run_optim_config(c, r->lr_g, &og) || !run_optim_config(c, r->lr_h, &oh)) return 0;
    r->opt_g = ebm_optim_new(r->ps_g, &og);
    if (r->ps_h) r->opt_h = ebm_optim_new(r->ps_h, &oh);
    if (!r->opt_g || (r->ps_h && !r->opt_h)) {
        ERR("%s\n", ebm_ctx_error(r->ctx));
        return 0;
    }
    return 1;
}

ebm_tensor_t *gen_z(run_t *r, int n, ebm_rng_t *rng) {
    int shape[2] = {n, r->z_dim};
    return !strcmp(ebm_config_str(r->cfg, "generator", "prior"), "uniform") ? ebm_rand_uniform(r->ctx, rng, 2, shape, -1.0f, 1.0f)
                                                                             : ebm_rand_normal(r->ctx, rng, 2, shape, 0.0f, 1.0f);
}

/* images come out of tanh in [-1, 1] and are mapped to the data's [0, 1] */
ebm_tensor_t *gen_x(run_t *r, ebm_tensor_t *z) {
    ebm_tensor_t *x = ebm_net_forward(r->net_g, z);
    if (!x || r->ndim != 3) return x;
    int shape[4] = {ebm_tensor_dim(z, 0), r->shape[0], r->shape[1], r->shape[2]};
    return ebm_affine(ebm_reshape(x, 4, shape), 0.5f, 0.5f);
}

/* G(z) without a graph */
static ebm_tensor_t *gen_sample_from(run_t *r, ebm_tensor_t *z) {
    int was = ebm_grad_set_enabled(r->ctx, 0);
    ebm_tensor_t *x = gen_x(r, z);
    ebm_grad_set_enabled(r->ctx, was);
    return x;
}

ebm_tensor_t *gen_sample(run_t *r, int n, ebm_rng_t *rng) { return gen_sample_from(r, gen_z(r, n, rng)); }

static ebm_tensor_t *flat(ebm_tensor_t *t) { return ebm_reshape(t, 2, (int[]){ebm_tensor_dim(t, 0), -1}); }

/* the statistics network's logits on (x, z) pairs, (N, 1) */
static ebm_tensor_t *meg_stats(run_t *r, ebm_tensor_t *x, ebm_tensor_t *z) {
    if (r->net_h2) return ebm_net_forward(r->net_h2, ebm_concat((ebm_tensor_t *[]){ebm_net_forward(r->net_h, x), z}, 2, 1));
    return ebm_net_forward(r->net_h, ebm_concat((ebm_tensor_t *[]){flat(x), z}, 2, 1));
}

/* a data batch on the device (images dequantised as in the CD trainer) */
static ebm_tensor_t *data_batch(run_t *r, ebm_dataset_t *ds, long index, int B, float *host, ebm_rng_t *rng) {
    ebm_dataset_batch(ds, r->seed, index, B, host);
    int shape[4] = {B, r->shape[0], r->shape[1], r->shape[2]};
    ebm_tensor_t *x = ebm_tensor_from_host(r->ctx, r->ndim + 1, shape, host);
    if (r->ndim == 3 && ebm_config_bool(r->cfg, "data", "dequantize"))
        x = ebm_add(ebm_scale(x, 255.0f / 256.0f), ebm_rand_uniform(r->ctx, rng, r->ndim + 1, shape, 0.0f, 1.0f / 256.0f));
    return x;
}

static int finite_all(const float *v, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

/* read n scalars (1-element tensors); 0 on error */
static int read_scalars(ebm_tensor_t **t, float *v, int n) {
    for (int i = 0; i < n; i++)
        if (!t[i] || ebm_tensor_read(t[i], &v[i]) != EBM_OK) return 0;
    return 1;
}

/* energy update on a loss; returns 0 on error */
static int step_params(ebm_params_t *ps, ebm_optim_t *opt, ebm_tensor_t *loss) {
    return ebm_params_zero_grad(ps) == EBM_OK && ebm_params_backward(ps, loss) == EBM_OK && ebm_optim_step(opt) == EBM_OK;
}

static int energy_update(run_t *r, ebm_tensor_t *loss) {
    return step_params(r->ps, r->opt, loss) && (!r->ema || ebm_ema_update(r->ema) == EBM_OK);
}

/* E(x+), E(x-) and the energy loss into hv[0..2]; then 0 (diverged: non-finite, nothing updated), or the
 * energy update: 1, -1 on error */
static int energy_step(run_t *r, ebm_tensor_t *mp, ebm_tensor_t *mn, ebm_tensor_t *le, float *hv) {
    if (!read_scalars((ebm_tensor_t *[]){mp, mn, le}, hv, 3)) return -1;
    if (!finite_all(hv, 3)) return 0;
    return energy_update(r, le) ? 1 : -1;
}

/* MEG: one G/H step, then energy_steps E steps */
static int meg_step(run_t *r, ebm_dataset_t *ds, float *xpos_host, stats_t *s, ebm_rng_t *rng) {
    const ebm_config_t *c = r->cfg;
    ebm_ctx_t *ctx = r->ctx;
    int B = (int)ebm_config_int(c, "run", "batch"), nE = (int)ebm_config_int(c, "meg", "energy_steps"), Z = r->z_dim;
    float lambda = (float)ebm_config_float(c, "meg", "gp"), hv[5] = {0};
    float *z = malloc(sizeof(float) * 2 * B * Z), *zp = z ? z + B * Z : NULL;
    int *perm = malloc(sizeof(int) * B);
    if (!z || !perm) {
        free(z), free(perm);
        return -1;
    }
    /* z and its row shuffle on the host stream */
    ebm_rng_host_normal(rng, z, (size_t)B * Z);
    ebm_rng_host_permutation(rng, perm, B);
    for (int i = 0; i < B; i++) memcpy(zp + i * Z, z + perm[i] * Z, sizeof(float) * Z);
    ebm_scope_begin(ctx);
    ebm_tensor_t *zt = ebm_tensor_from_host(ctx, 2, (int[]){B, Z}, z), *zpt = ebm_tensor_from_host(ctx, 2, (int[]){B, Z}, zp);
    ebm_tensor_t *x = gen_x(r, zt);
    ebm_tensor_t *t = meg_stats(r, ebm_concat((ebm_tensor_t *[]){x, x}, 2, 0), ebm_concat((ebm_tensor_t *[]){zt, zpt}, 2, 0));
    ebm_tensor_t *bce = ebm_add(ebm_mean_all(ebm_softplus(ebm_neg(ebm_slice(t, 0, 0, B)))), ebm_mean_all(ebm_softplus(ebm_slice(t, 0, B, B))));
    ebm_tensor_t *lg = ebm_add(ebm_mean_all(run_energy(r, x)), bce);
    int ok = read_scalars((ebm_tensor_t *[]){lg, bce}, &hv[3], 2);
    if (ok && !finite_all(&hv[3], 2)) {   /* NaN or Inf: diverged, nothing updated */
        ebm_scope_end(ctx);
        *s = (stats_t){NAN, NAN, NAN, 0, 0, hv[3], hv[4]};
        free(z), free(perm);
        return 0;
    }
    ok = ok && ebm_params_zero_grad(r->ps_g) == EBM_OK && ebm_params_zero_grad(r->ps_h) == EBM_OK &&
         ebm_params_backward(r->ps_g, lg) == EBM_OK && ebm_params_backward(r->ps_h, lg) == EBM_OK &&
         ebm_optim_step(r->opt_g) == EBM_OK && ebm_optim_step(r->opt_h) == EBM_OK;
    ebm_scope_end(ctx);
    free(z), free(perm);
    /* energy steps: a fresh data batch each, negatives from the updated generator */
    int st = ok ? 1 : -1;
    for (int k = 0; st == 1 && k < nE; k++) {
        ebm_scope_begin(ctx);
        ebm_tensor_t *xr = data_batch(r, ds, r->iter * nE + k, B, xpos_host, rng), *g = NULL;
        ebm_tensor_set_requires_grad(xr, 1);
        ebm_tensor_t *xf = gen_sample(r, B, rng);
        ebm_tensor_t *er = run_energy(r, xr), *ef = run_energy(r, xf), *tot = ebm_sum_all(er);
        int ok_g = tot && ebm_grad(&tot, 1, NULL, &xr, 1, &g, EBM_GRAD_CREATE_GRAPH) == EBM_OK;
        /* |grad|^2 per sample; images: summed over channels, averaged over pixels (MEG as coded) */
        float pix = r->ndim == 3 ? 1.0f / (float)(r->shape[1] * r->shape[2]) : 1.0f;
        ebm_tensor_t *mp = ebm_mean_all(er), *mn = ebm_mean_all(ef);
        ebm_tensor_t *le = ok_g ? ebm_add(ebm_sub(mp, mn), ebm_scale(ebm_mean_all(ebm_chain_sum(ebm_square(g))), lambda * pix)) : NULL;
        st = energy_step(r, mp, mn, le, hv);
        ebm_scope_end(ctx);
    }
    *s = (stats_t){hv[0], hv[1], hv[2], 0, 0, hv[3], hv[4]};
    return st;
}

/* Kim & Bengio: one G step, one E step */
static int ddgm_step(run_t *r, ebm_dataset_t *ds, float *xpos_host, stats_t *s, ebm_rng_t *rng) {
    ebm_ctx_t *ctx = r->ctx;
    int B = (int)ebm_config_int(r->cfg, "run", "batch");
    float w = (float)ebm_config_float(r->cfg, "ddgm", "entropy_weight"), hv[5] = {0};
    ebm_scope_begin(ctx);
    ebm_tensor_t *z = gen_z(r, B, rng), *gam[16], *ent = NULL;
    int ng = ebm_net_bn_gammas(r->net_g, gam, 16);
    for (int i = 0; i < ng; i++) {   /* sum over units of log(2 pi e gamma^2) / 2 */
        ebm_tensor_t *h = ebm_sum_all(ebm_affine(ebm_log(ebm_square(gam[i])), 0.5f, 1.4189385f /* log(2 pi e) / 2 */));
        ent = ent ? ebm_add(ent, h) : h;
    }
    ebm_tensor_t *lg = ebm_sub(ebm_mean_all(run_energy(r, gen_x(r, z))), ebm_scale(ent, w));
    int ok = read_scalars((ebm_tensor_t *[]){lg, ent}, &hv[3], 2);
    if (ok && !finite_all(&hv[3], 2)) {
        ebm_scope_end(ctx);
        *s = (stats_t){NAN, NAN, NAN, 0, 0, hv[3], hv[4]};
        return 0;
    }
    int st = ok && step_params(r->ps_g, r->opt_g, lg) ? 1 : -1;
    if (st == 1) {   /* negatives from the updated generator, same z */
        ebm_tensor_t *xf = gen_sample_from(r, z);
        ebm_tensor_t *xr = data_batch(r, ds, r->iter, B, xpos_host, rng);
        ebm_tensor_t *mp = ebm_mean_all(run_energy(r, xr)), *mn = ebm_mean_all(run_energy(r, xf));
        st = energy_step(r, mp, mn, ebm_sub(mp, mn), hv);
    }
    ebm_scope_end(ctx);
    *s = (stats_t){hv[0], hv[1], hv[2], 0, 0, hv[3], hv[4]};
    return st;
}

/* the z-chain's energy |G(z) - x+|^2 / (2 sigma^2) + |z|^2 / 2 per chain */
typedef struct {
    run_t *r;
    ebm_tensor_t *x;
    float inv2s2;
} zpost_t;

static ebm_tensor_t *z_posterior_energy(void *user, ebm_tensor_t *z) {
    zpost_t *p = user;
    ebm_tensor_t *rec = ebm_chain_sum(ebm_square(ebm_sub(gen_x(p->r, z), p->x)));
    return ebm_add(ebm_scale(rec, p->inv2s2), ebm_scale(ebm_chain_sum(ebm_square(z)), 0.5f));
}

/* Gaussian NLL of z under q's (mu, log var) per chain, without the constant */
static ebm_tensor_t *gauss_nll(ebm_tensor_t *q, ebm_tensor_t *z, int Z) {
    ebm_tensor_t *mu = ebm_slice(q, 1, 0, Z), *lv = ebm_slice(q, 1, Z, Z);
    ebm_tensor_t *sq = ebm_div(ebm_square(ebm_sub(z, mu)), ebm_add_scalar(ebm_exp(lv), 1e-6f));
    return ebm_scale(ebm_add(ebm_chain_sum(lv), ebm_chain_sum(sq)), 0.5f);
}

static ebm_tensor_t *x_chain(run_t *r, ebm_tensor_t *x0, ebm_rng_t *rng) { return ebm_langevin(r->ctx, run_energy, r, x0, &r->lc, rng); }

static int dual_step(run_t *r, ebm_dataset_t *ds, float *xpos_host, stats_t *s, ebm_rng_t *rng) {
    const ebm_config_t *c = r->cfg;
    ebm_ctx_t *ctx = r->ctx;
    int B = (int)ebm_config_int(c, "run", "batch"), Z = r->z_dim;
    float gs = (float)ebm_config_float(c, "dual", "gen_sigma"), T = (float)ebm_config_float(c, "dual", "temperature");
    float sf = (float)ebm_config_float(c, "dual", "s_factor"), wneg = (float)ebm_config_float(c, "dual", "inf_neg_weight"), hv[5] = {0};
    ebm_langevin_cfg_t zc = {.steps = (int)ebm_config_int(c, "dual", "z_steps"),
                             .step_size = (float)ebm_config_float(c, "dual", "z_step_size"),
                             .noise = (float)ebm_config_float(c, "dual", "z_noise")};
    ebm_scope_begin(ctx);
    ebm_tensor_t *z = gen_z(r, B, rng);
    ebm_tensor_t *xt = x_chain(r, gen_sample_from(r, z), rng);
    ebm_tensor_t *xr = data_batch(r, ds, r->iter, B, xpos_host, rng);
    /* z-chain from q(z | x+); the same forward (its graph) serves the inference loss below, since
     * the generator step in between does not touch q */
    ebm_tensor_t *qpos = ebm_net_forward(r->net_h, xr), *q0 = ebm_detach(qpos);
    ebm_tensor_t *z0 = ebm_add(ebm_slice(q0, 1, 0, Z), ebm_mul(ebm_exp(ebm_scale(ebm_slice(q0, 1, Z, Z), 0.5f)), ebm_rand_normal(ctx, rng, 2, (int[]){B, Z}, 0.0f, 1.0f)));
    zpost_t zp = {r, xr, 1.0f / (2 * gs * gs)};
    ebm_tensor_t *zt = ebm_langevin(ctx, z_posterior_energy, &zp, z0, &zc, rng);
    /* generator: reconstruct x+ from z~, and follow the x-chain from G(z) */
    ebm_tensor_t *lg = ebm_add(ebm_scale(ebm_sum_all(ebm_square(ebm_sub(gen_x(r, zt), xr))), 1.0f / B),
                               ebm_scale(ebm_sum_all(ebm_square(ebm_sub(gen_x(r, z), xt))), sf / B));
    int ok = read_scalars(&lg, &hv[3], 1) && isfinite(hv[3]) && step_params(r->ps_g, r->opt_g, lg);
    /* inference network: z~ under q(. | x+), z under q(. | x~) */
    ebm_tensor_t *li = ebm_add(ebm_mean_all(gauss_nll(qpos, zt, Z)),
                               ebm_scale(ebm_mean_all(gauss_nll(ebm_net_forward(r->net_h, xt), z, Z)), wneg));
    ok = ok && read_scalars(&li, &hv[4], 1) && isfinite(hv[4]) && step_params(r->ps_h, r->opt_h, li);
    /* energy: a fresh x-chain from the updated generator, same z */
    ebm_tensor_t *xt2 = ok ? x_chain(r, gen_sample_from(r, z), rng) : NULL;
    ebm_tensor_t *mp = ebm_mean_all(run_energy(r, xr)), *mn = xt2 ? ebm_mean_all(run_energy(r, xt2)) : NULL;
    ebm_tensor_t *le = mn ? ebm_scale(ebm_sub(mp, mn), 1.0f / T) : NULL;
    int st = ok ? energy_step(r, mp, mn, le, hv) : -1;
    if (!ok && ebm_ctx_status(ctx) == EBM_OK && (!isfinite(hv[3]) || !isfinite(hv[4]))) {   /* generator or inference loss diverged */
        hv[0] = hv[1] = hv[2] = NAN;
        st = 0;
    }
    ebm_scope_end(ctx);
    *s = (stats_t){hv[0], hv[1], hv[2], 0, 0, hv[3], hv[4]};
    return st;
}

int gen_step(run_t *r, ebm_dataset_t *ds, float *xpos_host, stats_t *s) {
    ebm_rng_t rng = run_iter_rng(r, r->iter);
    int st = r->method == METHOD_MEG ? meg_step(r, ds, xpos_host, s, &rng) : r->method == METHOD_DDGM ? ddgm_step(r, ds, xpos_host, s, &rng)
                                                                                                    : dual_step(r, ds, xpos_host, s, &rng);
    if (st < 0) ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(r->ctx));
    return st;
}
