/* dual.c — Dual-MCMC teaching (Cui & Han 2023, "Learning Energy-Based Model via Dual-MCMC Teaching",
 * NeurIPS 2023; run.method = dual): x~ = [sampler] Langevin on E from G(z); z~ = dual.z_steps Langevin
 * steps on |G(z) - x+|^2 / (2 gen_sigma^2) + |z|^2 / 2 from z0 ~ q(z | x+);
 *   L_G = sum |G(z~) - x+|^2 / B + s_factor sum |G(z) - x~|^2 / B
 *   L_I = mean NLL(z~ | q(x+)) + inf_neg_weight mean NLL(z | q(x~)),  NLL = sum(log var)/2 + sum((z - mu)^2 / (var + 1e-6))/2
 *   L_E = (mean E(x+) - mean E(x~')) / temperature, x~' the x-chain from the updated G(z).
 * The inference network q is an MLP on vectors, MEG's conv trunk ([model] base) on images. */
#include <math.h>
#include <stdlib.h>
#include "data.h"
#include "generator.h"

/* [dual] */
static const ebm_config_key_t dual_keys[] = {
    {"dual", "inf_hidden", EBM_CFG_STRING, "512,512", "inference network q(z|x): MLP hidden widths (leaky ReLU 0.2); images: dcgan trunk of [model] base", 0, 0},
    {"dual", "lr_inference", EBM_CFG_FLOAT, "1e-4", "inference network learning rate", 0, 10},
    {"dual", "z_steps", EBM_CFG_INT, "10", "Langevin steps in z on |G(z) - x+|^2/(2 gen_sigma^2) + |z|^2/2", 0, 1e6},
    {"dual", "z_step_size", EBM_CFG_FLOAT, "0.005", "z-chain step (delta^2/2)", 0, 1e6},
    {"dual", "z_noise", EBM_CFG_FLOAT, "0.1", "z-chain noise (delta)", 0, 1e6},
    {"dual", "gen_sigma", EBM_CFG_FLOAT, "0.3", "generator observation noise in the z-chain posterior", 1e-6, 1e6},
    {"dual", "s_factor", EBM_CFG_FLOAT, "50", "weight of |G(z) - x~|^2 (generator learns from the x-chain)", 0, 1e9},
    {"dual", "inf_neg_weight", EBM_CFG_FLOAT, "0.1", "weight of the inference NLL of z under q(.|x~)", 0, 1e6},
    {"dual", "temperature", EBM_CFG_FLOAT, "4e-6", "energy loss divided by this ((0.001/0.5)^2)", 1e-12, 1e9},
    {NULL, NULL, 0, NULL, NULL, 0, 0}};

typedef struct dual {
    gen_t g;          /* first: generator.h */
    ebm_net_t *inf;   /* q(z | x): x -> (mean, log variance) of z */
    run_group_t *group;
    ebm_langevin_cfg_t zc;   /* the z-chain */
    float gen_sigma, temperature, s_factor, inf_neg_weight;
} dual_t;

static void dual_free(run_t *r) {
    dual_t *d = r->state;
    if (!d) return;
    ebm_net_free(d->g.net), ebm_net_free(d->inf);
    free(d);
    r->state = NULL;
}

static int dual_build(run_t *r) {
    const ebm_config_t *c = r->cfg;
    dual_t *d = calloc(1, sizeof *d);
    if (!(r->state = d) || !gen_build(r, &d->g)) return 0;
    int hh[8], nh = run_parse_widths(c, "dual", "inf_hidden", hh), Z = d->g.z_dim;
    d->zc = (ebm_langevin_cfg_t){.steps = (int)ebm_config_int(c, "dual", "z_steps"),
                                 .step_size = (float)ebm_config_float(c, "dual", "z_step_size"),
                                 .noise = (float)ebm_config_float(c, "dual", "z_noise")};
    d->gen_sigma = (float)ebm_config_float(c, "dual", "gen_sigma");
    d->temperature = (float)ebm_config_float(c, "dual", "temperature");
    d->s_factor = (float)ebm_config_float(c, "dual", "s_factor");
    d->inf_neg_weight = (float)ebm_config_float(c, "dual", "inf_neg_weight");
    if (nh < 0 || !(d->group = run_add_group(r, "optim_inference", ebm_params_new(r->ctx)))) return 0;
    ebm_params_t *ps = d->group->ps;
    if (r->ndim == 3)
        d->inf = ebm_net_dcgan_trunk(ps, "inference.", r->shape[0], (int)ebm_config_int(c, "model", "base"), r->shape[1], 2 * Z);
    else if ((d->inf = ebm_net_mlp(ps, "inference.", (int)r->numel, hh, nh, 2 * Z)))
        ebm_net_set_activation(d->inf, "lrelu");
    if (!d->inf || ebm_params_finalize(ps) != EBM_OK) {
        ERR("building the inference network: %s\n", ebm_ctx_error(r->ctx));
        return 0;
    }
    gen_init(r, (ebm_net_t *[]){d->g.net, d->inf}, 2);
    return run_group_optimizer(r, d->g.group, gen_lr(r)) &&
           run_group_optimizer(r, d->group, (float)ebm_config_float(c, "dual", "lr_inference"));
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

static int dual_step(run_t *r, ebm_dataset_t *ds, float *xpos_host, stats_t *s) {
    dual_t *d = r->state;
    ebm_ctx_t *ctx = r->ctx;
    ebm_rng_t iter_rng = run_iter_rng(r, r->iter), *rng = &iter_rng;
    int B = r->batch, Z = d->g.z_dim;
    float gs = d->gen_sigma, T = d->temperature, sf = d->s_factor, wneg = d->inf_neg_weight, hv[5] = {0};
    ebm_langevin_cfg_t zc = d->zc;
    ebm_scope_begin(ctx);
    ebm_tensor_t *z = gen_z(r, B, rng);
    ebm_tensor_t *xt = x_chain(r, gen_sample_from(r, z), rng);
    ebm_tensor_t *xr = gen_data_batch(r, ds, r->iter, B, xpos_host, rng);
    /* z-chain from q(z | x+); the same forward (its graph) serves the inference loss below, since
     * the generator step in between does not touch q */
    ebm_tensor_t *qpos = ebm_net_forward(d->inf, xr), *q0 = ebm_detach(qpos);
    ebm_tensor_t *z0 = ebm_add(ebm_slice(q0, 1, 0, Z), ebm_mul(ebm_exp(ebm_scale(ebm_slice(q0, 1, Z, Z), 0.5f)), ebm_rand_normal(ctx, rng, 2, (int[]){B, Z}, 0.0f, 1.0f)));
    zpost_t zp = {r, xr, 1.0f / (2 * gs * gs)};
    ebm_tensor_t *zt = ebm_langevin(ctx, z_posterior_energy, &zp, z0, &zc, rng);
    /* generator: reconstruct x+ from z~, and follow the x-chain from G(z) */
    ebm_tensor_t *lg = ebm_add(ebm_scale(ebm_sum_all(ebm_square(ebm_sub(gen_x(r, zt), xr))), 1.0f / B),
                               ebm_scale(ebm_sum_all(ebm_square(ebm_sub(gen_x(r, z), xt))), sf / B));
    int ok = gen_read_scalars(&lg, &hv[3], 1) && isfinite(hv[3]) && gen_step_params(d->g.group->ps, d->g.group->opt, lg);
    /* inference network: z~ under q(. | x+), z under q(. | x~) */
    ebm_tensor_t *li = ebm_add(ebm_mean_all(gauss_nll(qpos, zt, Z)),
                               ebm_scale(ebm_mean_all(gauss_nll(ebm_net_forward(d->inf, xt), z, Z)), wneg));
    ok = ok && gen_read_scalars(&li, &hv[4], 1) && isfinite(hv[4]) && gen_step_params(d->group->ps, d->group->opt, li);
    /* energy: a fresh x-chain from the updated generator, same z */
    ebm_tensor_t *xt2 = ok ? x_chain(r, gen_sample_from(r, z), rng) : NULL;
    ebm_tensor_t *mp = ebm_mean_all(run_energy(r, xr)), *mn = xt2 ? ebm_mean_all(run_energy(r, xt2)) : NULL;
    ebm_tensor_t *le = mn ? ebm_scale(ebm_sub(mp, mn), 1.0f / T) : NULL;
    int st = ok ? gen_energy_step(r, mp, mn, le, hv) : -1;
    if (!ok && ebm_ctx_status(ctx) == EBM_OK && (!isfinite(hv[3]) || !isfinite(hv[4]))) {   /* generator or inference loss diverged */
        hv[0] = hv[1] = hv[2] = NAN;
        st = 0;
    }
    ebm_scope_end(ctx);
    stats_add(s, "e_pos", "E+", hv[0]), stats_add(s, "e_neg", "E-", hv[1]), stats_add(s, "loss", "loss", hv[2]);
    stats_add(s, "gen_loss", "L_G", hv[3]), stats_add_g(s, "inf_loss", "inf_loss", hv[4]);
    if (st < 0) ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(ctx));
    return st;
}

const ebm_method_t ebm_method_dual = {
    .name = "dual",
    .title = "Dual-MCMC teaching",
    .keys = (const ebm_config_key_t *const[]){gen_keys, dual_keys, NULL},
    .summary = "Dual-MCMC teaching: a generator and an inference network initialise Langevin chains in x and z",
    .sampler_density = 1,
    .build = dual_build,
    .free = dual_free,
    .step = dual_step,
    .draw = gen_draw,
};
