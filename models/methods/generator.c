/* generator.c — the generator the generator-based methods share (generator.h). */
#include "generator.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data.h"
#include "train.h"

/* [generator]: G, its prior and how `ebm sample` draws from it (every generator-based method) */
const ebm_config_key_t gen_keys[] = {
    {"generator", "net", EBM_CFG_STRING, "mlp", "generator: mlp (vectors, or images flattened) | dcgan (images; MEG's StackedMNIST generator)", 0, 0},
    {"generator", "z_dim", EBM_CFG_INT, "2", "latent dimension", 1, 100000},
    {"generator", "prior", EBM_CFG_STRING, "normal", "z ~ normal N(0, I) | uniform U(-1, 1) (Kim & Bengio)", 0, 0},
    {"generator", "hidden", EBM_CFG_STRING, "512,512,512", "mlp: hidden widths (ReLU)", 0, 0},
    {"generator", "batch_norm", EBM_CFG_BOOL, "false", "mlp: batch norm after every hidden layer (batch statistics, also when sampling)", 0, 0},
    {"generator", "base", EBM_CFG_INT, "64", "dcgan: channels of the last transposed conv (8b, 4b, 2b, b before it)", 1, 4096},
    {"generator", "lr", EBM_CFG_FLOAT, "0", "generator learning rate (0: optim.lr)", 0, 10},
    {"generator", "mala_steps", EBM_CFG_INT, "0", "ebm sample/eval: latent MALA steps on E(G(z)) + |z|^2/2 (0: none)", 0, 1e6},
    {"generator", "mala_step_size", EBM_CFG_FLOAT, "0.01", "latent MALA step size (MEG's alpha)", 0, 1e6},
    {"generator", "langevin_steps", EBM_CFG_INT, "0", "ebm sample/eval: Langevin steps on E in x from G(z), with [sampler] settings (Dual-MCMC 70)", 0, 1e6},
    {NULL, NULL, 0, NULL, NULL, 0, 0}};

int gen_build(run_t *r, gen_t *g) {
    const ebm_config_t *c = r->cfg;
    int gh[8], ng = run_parse_widths(c, "generator", "hidden", gh), D = (int)r->numel, img = r->ndim == 3;
    const char *gnet = ebm_config_str(c, "generator", "net"), *prior = ebm_config_str(c, "generator", "prior");
    g->z_dim = (int)ebm_config_int(c, "generator", "z_dim");
    g->uniform = !strcmp(prior, "uniform");
    g->mala_steps = (int)ebm_config_int(c, "generator", "mala_steps");
    g->mala_step_size = (float)ebm_config_float(c, "generator", "mala_step_size");
    g->langevin_steps = (int)ebm_config_int(c, "generator", "langevin_steps");
    if (ng < 0 || g->z_dim < 1 || (strcmp(prior, "normal") && strcmp(prior, "uniform")) || (strcmp(gnet, "mlp") && strcmp(gnet, "dcgan")) ||
        (!strcmp(gnet, "dcgan") && (!img || r->shape[1] != r->shape[2] || r->shape[1] < 16))) {
        ERR("[generator] needs z_dim >= 1, prior = normal or uniform, net = mlp or dcgan (dcgan: square images of side >= 16)\n");
        return 0;
    }
    if (!(g->group = run_add_group(r, "optim_generator", ebm_params_new(r->ctx)))) return 0;
    ebm_params_t *ps = g->group->ps;
    if (!strcmp(gnet, "dcgan"))
        g->net = ebm_net_dcgan_generator(ps, "generator.", g->z_dim, (int)ebm_config_int(c, "generator", "base"), r->shape[0], r->shape[1]);
    else {
        g->net = ebm_config_bool(c, "generator", "batch_norm") ? ebm_net_mlp_bn(ps, "generator.", g->z_dim, gh, ng, D)
                                                                : ebm_net_mlp(ps, "generator.", g->z_dim, gh, ng, D);
        if (g->net && ebm_net_set_activation(g->net, "relu") != EBM_OK) return 0;
        if (g->net && img) ebm_net_set_output_tanh(g->net, 1);
    }
    if (!g->net || ebm_params_finalize(ps) != EBM_OK) {
        ERR("building the generator: %s\n", ebm_ctx_error(r->ctx));
        return 0;
    }
    return 1;
}

void gen_init(run_t *r, ebm_net_t *const *nets, int n) {
    ebm_rng_t init = ebm_rng_make(r->seed, 0x4d4547ull);   /* "MEG": the generators' own stream */
    for (int i = 0; i < n; i++)
        if (nets[i]) ebm_net_init(nets[i], &init);
}

float gen_lr(const run_t *r) {
    float lr = (float)ebm_config_float(r->cfg, "generator", "lr");
    return lr > 0 ? lr : (float)ebm_config_float(r->cfg, "optim", "lr");
}

ebm_tensor_t *gen_z(run_t *r, int n, ebm_rng_t *rng) {
    const gen_t *g = r->state;
    int shape[2] = {n, g->z_dim};
    return g->uniform ? ebm_rand_uniform(r->ctx, rng, 2, shape, -1.0f, 1.0f) : ebm_rand_normal(r->ctx, rng, 2, shape, 0.0f, 1.0f);
}

/* images come out of tanh in [-1, 1] and are mapped to the data's [0, 1] */
ebm_tensor_t *gen_x(run_t *r, ebm_tensor_t *z) {
    const gen_t *g = r->state;
    ebm_tensor_t *x = ebm_net_forward(g->net, z);
    if (!x || r->ndim != 3) return x;
    int shape[4] = {ebm_tensor_dim(z, 0), r->shape[0], r->shape[1], r->shape[2]};
    return ebm_affine(ebm_reshape(x, 4, shape), 0.5f, 0.5f);
}

ebm_tensor_t *gen_sample_from(run_t *r, ebm_tensor_t *z) {
    int was = ebm_grad_set_enabled(r->ctx, 0);
    ebm_tensor_t *x = gen_x(r, z);
    ebm_grad_set_enabled(r->ctx, was);
    return x;
}

ebm_tensor_t *gen_sample(run_t *r, int n, ebm_rng_t *rng) { return gen_sample_from(r, gen_z(r, n, rng)); }

/* E(G(z)) per chain, for latent MALA */
static ebm_tensor_t *energy_of_z(void *user, ebm_tensor_t *z) { return run_energy(user, gen_x(user, z)); }

ebm_tensor_t *gen_draw(run_t *r, const ebm_sample_opts_t *o, int n, ebm_rng_t *rng, double *accept) {
    if (!o) return gen_sample(r, n, rng);
    const gen_t *g = r->state;
    int mala = o->mala >= 0 ? o->mala : g->mala_steps, steps = o->steps >= 0 ? o->steps : g->langevin_steps;
    if (mala > 0 && g->uniform) {
        ERR("latent MALA needs the N(0, I) prior; this generator's prior is uniform\n");
        return NULL;
    }
    ebm_tensor_t *z = gen_z(r, n, rng);
    if (mala > 0) {
        ebm_mala_cfg_t mc = {.steps = mala, .step_size = g->mala_step_size};
        z = ebm_latent_mala(r->ctx, energy_of_z, r, z, &mc, rng, accept);
        if (accept) fprintf(stderr, "ebm: latent MALA, %d steps of %g: acceptance rate %.3f\n", mala, mc.step_size, *accept);
    }
    ebm_tensor_t *x = z ? gen_sample_from(r, z) : NULL;
    if (x && steps > 0) {
        ebm_langevin_cfg_t lc = r->lc;
        lc.steps = steps;
        x = ebm_langevin(r->ctx, run_energy, r, x, &lc, rng);
    }
    if (!x) ERR("sampling: %s\n", ebm_ctx_error(r->ctx));
    return x;
}

ebm_tensor_t *gen_data_batch(run_t *r, ebm_dataset_t *ds, long index, int B, float *host, ebm_rng_t *rng) {
    ebm_dataset_batch(ds, r->seed, index, B, host);
    int shape[4] = {B, r->shape[0], r->shape[1], r->shape[2]};
    ebm_tensor_t *x = ebm_tensor_from_host(r->ctx, r->ndim + 1, shape, host);
    if (r->dequantize)
        x = ebm_add(ebm_scale(x, 255.0f / 256.0f), ebm_rand_uniform(r->ctx, rng, r->ndim + 1, shape, 0.0f, 1.0f / 256.0f));
    return x;
}

int gen_finite(const float *v, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

int gen_read_scalars(ebm_tensor_t *const *t, float *v, int n) {
    for (int i = 0; i < n; i++)
        if (!t[i] || ebm_tensor_read(t[i], &v[i]) != EBM_OK) return 0;
    return 1;
}

int gen_step_params(ebm_params_t *ps, ebm_optim_t *opt, ebm_tensor_t *loss) {
    return ebm_params_zero_grad(ps) == EBM_OK && ebm_params_backward(ps, loss) == EBM_OK && ebm_optim_step(opt) == EBM_OK;
}

int gen_energy_step(run_t *r, ebm_tensor_t *mp, ebm_tensor_t *mn, ebm_tensor_t *le, float *hv) {
    if (!gen_read_scalars((ebm_tensor_t *[]){mp, mn, le}, hv, 3)) return -1;
    if (!gen_finite(hv, 3)) return 0;
    return gen_step_params(r->ps, r->opt, le) && (!r->ema || ebm_ema_update(r->ema) == EBM_OK) ? 1 : -1;
}
