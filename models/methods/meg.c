/* meg.c — maximum entropy generators (Kumar et al. 2019, "Maximum Entropy Generators for
 * Energy-Based Models", arXiv:1901.08508; run.method = meg): energy E, generator G(z), z ~ N(0, I), and
 * a statistics network H(x, z) whose binary cross-entropy between true pairs (G(z), z) and shuffled
 * pairs (G(z), z_perm) is a JSD lower bound on I(x; z) = H(G(z)) for a deterministic G:
 *   L_G = mean E(G(z)) + BCE(H(G(z), z) -> 1, H(G(z), z_perm) -> 0)      (G and H both minimise it)
 *   L_E = mean E(x+) - mean E(G(z)) + lambda mean |grad_x E(x+)|^2       (second-order autodiff)
 * with meg.energy_steps E updates (a fresh data batch each) per G update. On images H is a conv trunk
 * on x, then an MLP on (features, z). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data.h"
#include "generator.h"

/* [meg] */
static const ebm_config_key_t meg_keys[] = {
    {"meg", "stat_hidden", EBM_CFG_STRING, "512,512,512", "statistics network MLP hidden widths on (x, z) (images: on (trunk(x), z)) (leaky ReLU 0.2)", 0, 0},
    {"meg", "stat_base", EBM_CFG_INT, "64", "images: channels of the statistics network's conv trunk (as the dcgan energy)", 1, 4096},
    {"meg", "stat_features", EBM_CFG_INT, "128", "images: trunk output features concatenated with z", 1, 100000},
    {"meg", "energy_steps", EBM_CFG_INT, "5", "energy updates per generator update", 1, 1000},
    {"meg", "gp", EBM_CFG_FLOAT, "0.1", "lambda of the zero-centred gradient penalty on real data (toys 0.1, images 10, anomaly 100)", 0, 1e6},
    {NULL, NULL, 0, NULL, NULL, 0, 0}};

typedef struct meg {
    gen_t g;                  /* first: generator.h */
    ebm_net_t *stats, *head;  /* H: an MLP on (x, z); images: a conv trunk on x (stats) and the MLP (head) */
    run_group_t *group;
    int energy_steps;   /* E updates per G update */
    float gp;           /* lambda of the gradient penalty */
} meg_t;

static void meg_free(run_t *r) {
    meg_t *m = r->state;
    if (!m) return;
    ebm_net_free(m->g.net), ebm_net_free(m->stats), ebm_net_free(m->head);
    free(m);
    r->state = NULL;
}

static int meg_build(run_t *r) {
    const ebm_config_t *c = r->cfg;
    meg_t *m = calloc(1, sizeof *m);
    if (!(r->state = m) || !gen_build(r, &m->g)) return 0;
    int hh[8], nh = run_parse_widths(c, "meg", "stat_hidden", hh), D = (int)r->numel, Z = m->g.z_dim;
    if (nh < 0) return 0;
    m->energy_steps = (int)ebm_config_int(c, "meg", "energy_steps");
    m->gp = (float)ebm_config_float(c, "meg", "gp");
    if (!(m->group = run_add_group(r, "optim_stats", ebm_params_new(r->ctx)))) return 0;
    ebm_params_t *ps = m->group->ps;
    if (r->ndim == 3) {   /* conv trunk on x, then the MLP on (features, z) */
        int f = (int)ebm_config_int(c, "meg", "stat_features");
        m->stats = ebm_net_dcgan_trunk(ps, "stats.trunk.", r->shape[0], (int)ebm_config_int(c, "meg", "stat_base"), r->shape[1], f);
        m->head = ebm_net_mlp(ps, "stats.head.", f + Z, hh, nh, 1);
        if (m->head) ebm_net_set_activation(m->head, "lrelu");
    } else {
        m->stats = ebm_net_mlp(ps, "stats.", D + Z, hh, nh, 1);
        if (m->stats) ebm_net_set_activation(m->stats, "lrelu");
    }
    if (!m->stats || (r->ndim == 3 && !m->head) || ebm_params_finalize(ps) != EBM_OK) {
        ERR("building the statistics network: %s\n", ebm_ctx_error(r->ctx));
        return 0;
    }
    gen_init(r, (ebm_net_t *[]){m->g.net, m->stats, m->head}, 3);
    float lr = gen_lr(r);   /* H learns with G */
    return run_group_optimizer(r, m->g.group, lr) && run_group_optimizer(r, m->group, lr);
}

static ebm_tensor_t *flat(ebm_tensor_t *t) { return ebm_reshape(t, 2, (int[]){ebm_tensor_dim(t, 0), -1}); }

/* the statistics network's logits on (x, z) pairs, (N, 1) */
static ebm_tensor_t *meg_stats(const meg_t *m, ebm_tensor_t *x, ebm_tensor_t *z) {
    if (m->head) return ebm_net_forward(m->head, ebm_concat((ebm_tensor_t *[]){ebm_net_forward(m->stats, x), z}, 2, 1));
    return ebm_net_forward(m->stats, ebm_concat((ebm_tensor_t *[]){flat(x), z}, 2, 1));
}

static void meg_stats_out(stats_t *s, const float *hv) {
    stats_add(s, "e_pos", "E+", hv[0]), stats_add(s, "e_neg", "E-", hv[1]), stats_add(s, "loss", "loss", hv[2]);
    stats_add(s, "gen_loss", "L_G", hv[3]), stats_add_g(s, "mi_bce", "mi_bce", hv[4]);
}

/* one G/H step, then energy_steps E steps */
static int meg_step(run_t *r, ebm_dataset_t *ds, float *xpos_host, stats_t *s) {
    meg_t *m = r->state;
    ebm_ctx_t *ctx = r->ctx;
    ebm_rng_t rng = run_iter_rng(r, r->iter);
    int B = r->batch, nE = m->energy_steps, Z = m->g.z_dim;
    /* data-parallel: the shuffle pairs rows across the global batch, so every rank draws all of z
     * and the permutation, and keeps its rows [row0, row0 + B) */
    int Bg = r->ranks > 1 ? B * r->ranks : B, row0 = r->ranks > 1 ? B * r->rank : 0;
    float lambda = m->gp, hv[5] = {0};
    float *zall = malloc(sizeof(float) * ((size_t)Bg + 2 * (size_t)B) * Z), *z = zall ? zall + (size_t)Bg * Z : NULL;
    float *zp = z ? z + B * Z : NULL;
    int *perm = malloc(sizeof(int) * Bg);
    if (!zall || !perm) {
        free(zall), free(perm);
        ERR("iteration %ld: out of host memory\n", r->iter);
        return -1;
    }
    /* z and its row shuffle on the host stream */
    ebm_rng_t whole = rng;
    whole.parts = 0;
    ebm_rng_host_normal(&whole, zall, (size_t)Bg * Z);
    ebm_rng_host_permutation(&whole, perm, Bg);
    rng.counter = whole.counter;
    for (int i = 0; i < B; i++) {
        memcpy(z + i * Z, zall + (size_t)(row0 + i) * Z, sizeof(float) * Z);
        memcpy(zp + i * Z, zall + (size_t)perm[row0 + i] * Z, sizeof(float) * Z);
    }
    ebm_scope_begin(ctx);
    ebm_tensor_t *zt = ebm_tensor_from_host(ctx, 2, (int[]){B, Z}, z), *zpt = ebm_tensor_from_host(ctx, 2, (int[]){B, Z}, zp);
    ebm_tensor_t *x = gen_x(r, zt);
    ebm_tensor_t *t = meg_stats(m, ebm_concat((ebm_tensor_t *[]){x, x}, 2, 0), ebm_concat((ebm_tensor_t *[]){zt, zpt}, 2, 0));
    ebm_tensor_t *bce = ebm_add(ebm_mean_all(ebm_softplus(ebm_neg(ebm_slice(t, 0, 0, B)))), ebm_mean_all(ebm_softplus(ebm_slice(t, 0, B, B))));
    ebm_tensor_t *lg = ebm_add(ebm_mean_all(run_energy(r, x)), bce);
    int ok = gen_read_scalars((ebm_tensor_t *[]){lg, bce}, &hv[3], 2);
    free(zall), free(perm);
    if (ok && !gen_finite(&hv[3], 2)) {   /* NaN or Inf: diverged, nothing updated */
        ebm_scope_end(ctx);
        hv[0] = hv[1] = hv[2] = NAN;
        meg_stats_out(s, hv);
        return 0;
    }
    ebm_params_t *pg = m->g.group->ps, *ph = m->group->ps;
    ok = ok && ebm_params_zero_grad(pg) == EBM_OK && ebm_params_zero_grad(ph) == EBM_OK && ebm_params_backward(pg, lg) == EBM_OK &&
         ebm_params_backward(ph, lg) == EBM_OK && ebm_optim_step(m->g.group->opt) == EBM_OK && ebm_optim_step(m->group->opt) == EBM_OK;
    ebm_scope_end(ctx);
    /* energy steps: a fresh data batch each, negatives from the updated generator */
    int st = ok ? 1 : -1;
    for (int k = 0; st == 1 && k < nE; k++) {
        ebm_scope_begin(ctx);
        ebm_tensor_t *xr = gen_data_batch(r, ds, r->iter * nE + k, B, xpos_host, &rng), *g = NULL;
        ebm_tensor_set_requires_grad(xr, 1);
        ebm_tensor_t *xf = gen_sample(r, B, &rng);
        ebm_tensor_t *er = run_energy(r, xr), *ef = run_energy(r, xf), *tot = ebm_sum_all(er);
        int ok_g = tot && ebm_grad(&tot, 1, NULL, &xr, 1, &g, EBM_GRAD_CREATE_GRAPH) == EBM_OK;
        /* |grad|^2 per sample; images: summed over channels, averaged over pixels (MEG as coded) */
        float pix = r->ndim == 3 ? 1.0f / (float)(r->shape[1] * r->shape[2]) : 1.0f;
        ebm_tensor_t *mp = ebm_mean_all(er), *mn = ebm_mean_all(ef);
        ebm_tensor_t *le = ok_g ? ebm_add(ebm_sub(mp, mn), ebm_scale(ebm_mean_all(ebm_chain_sum(ebm_square(g))), lambda * pix)) : NULL;
        st = gen_energy_step(r, mp, mn, le, hv);
        ebm_scope_end(ctx);
    }
    meg_stats_out(s, hv);
    if (st < 0) ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(ctx));
    return st;
}

const ebm_method_t ebm_method_meg = {
    .name = "meg",
    .title = "maximum entropy generators",
    .keys = (const ebm_config_key_t *const[]){gen_keys, meg_keys, NULL},
    .summary = "maximum entropy generators: a generator trained against E, its entropy from a mutual-information critic",
    .build = meg_build,
    .free = meg_free,
    .step = meg_step,
    .draw = gen_draw,
};
