/* ddgm.c — Kim & Bengio 2016, "Deep Directed Generative Models with Energy-Based Probability
 * Estimation" (arXiv:1606.03439; run.method = ddgm): a generator G with batch norm, z ~ U(-1, 1); the
 * generator's entropy is replaced by that of its batch-norm scales, sum over units of
 * log(2 pi e gamma^2) / 2:
 *   L_G = mean E(G(z)) - entropy_weight * sum_gamma log(2 pi e gamma^2) / 2,   L_E = mean E(x+) - mean E(G(z))
 * one G step then one E step per iteration, AdaGrad in their code ([optim] kind = adagrad). */
#include <math.h>
#include <stdlib.h>
#include "data.h"
#include "generator.h"

/* [ddgm] */
static const ebm_config_key_t ddgm_keys[] = {
    {"ddgm", "entropy_weight", EBM_CFG_FLOAT, "1", "weight of the batch-norm entropy sum_gamma log(2 pi e gamma^2)/2 in the generator loss", 0, 1e6},
    {NULL, NULL, 0, NULL, NULL, 0, 0}};

typedef struct ddgm {
    gen_t g;                /* first: generator.h */
    float entropy_weight;   /* of the batch-norm entropy in L_G */
} ddgm_t;

static void ddgm_free(run_t *r) {
    ddgm_t *d = r->state;
    if (!d) return;
    ebm_net_free(d->g.net);
    free(d);
    r->state = NULL;
}

static int ddgm_build(run_t *r) {
    ddgm_t *d = calloc(1, sizeof *d);
    gen_t *g = d ? &d->g : NULL;
    if (!(r->state = d) || !gen_build(r, g)) return 0;
    d->entropy_weight = (float)ebm_config_float(r->cfg, "ddgm", "entropy_weight");
    if (ebm_net_bn_gammas(g->net, NULL, 0) == 0) {
        ERR("[run] method = ddgm takes the generator's entropy from its batch-norm scales: set [generator] batch_norm = true "
            "(or net = dcgan)\n");
        return 0;
    }
    gen_init(r, &g->net, 1);
    return run_group_optimizer(r, g->group, gen_lr(r));
}

static void ddgm_stats_out(stats_t *s, const float *hv) {
    stats_add(s, "e_pos", "E+", hv[0]), stats_add(s, "e_neg", "E-", hv[1]), stats_add(s, "loss", "loss", hv[2]);
    stats_add(s, "gen_loss", "L_G", hv[3]), stats_add_g(s, "bn_entropy", "bn_entropy", hv[4]);
}

/* one G step, one E step */
static int ddgm_step(run_t *r, ebm_dataset_t *ds, float *xpos_host, stats_t *s) {
    ddgm_t *d = r->state;
    gen_t *gen = &d->g;
    ebm_ctx_t *ctx = r->ctx;
    ebm_rng_t rng = run_iter_rng(r, r->iter);
    int B = r->batch;
    float w = d->entropy_weight, hv[5] = {0};
    ebm_scope_begin(ctx);
    ebm_tensor_t *z = gen_z(r, B, &rng), *gam[16], *ent = NULL;
    int ng = ebm_net_bn_gammas(gen->net, gam, 16);
    for (int i = 0; i < ng; i++) {   /* sum over units of log(2 pi e gamma^2) / 2 */
        ebm_tensor_t *h = ebm_sum_all(ebm_affine(ebm_log(ebm_square(gam[i])), 0.5f, 1.4189385f /* log(2 pi e) / 2 */));
        ent = ent ? ebm_add(ent, h) : h;
    }
    ebm_tensor_t *lg = ebm_sub(ebm_mean_all(run_energy(r, gen_x(r, z))), ebm_scale(ent, w));
    int ok = gen_read_scalars((ebm_tensor_t *[]){lg, ent}, &hv[3], 2);
    if (ok && !gen_finite(&hv[3], 2)) {
        ebm_scope_end(ctx);
        hv[0] = hv[1] = hv[2] = NAN;
        ddgm_stats_out(s, hv);
        return 0;
    }
    int st = ok && gen_step_params(gen->group->ps, gen->group->opt, lg) ? 1 : -1;
    if (st == 1) {   /* negatives from the updated generator, same z */
        ebm_tensor_t *xf = gen_sample_from(r, z);
        ebm_tensor_t *xr = gen_data_batch(r, ds, r->iter, B, xpos_host, &rng);
        ebm_tensor_t *mp = ebm_mean_all(run_energy(r, xr)), *mn = ebm_mean_all(run_energy(r, xf));
        st = gen_energy_step(r, mp, mn, ebm_sub(mp, mn), hv);
    }
    ebm_scope_end(ctx);
    ddgm_stats_out(s, hv);
    if (st < 0) ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(ctx));
    return st;
}

const ebm_method_t ebm_method_ddgm = {
    .name = "ddgm",
    .title = "Kim & Bengio",
    .keys = (const ebm_config_key_t *const[]){gen_keys, ddgm_keys, NULL},
    .summary = "Kim & Bengio's deep directed generative models: a batch-norm generator whose entropy is its scales'",
    .build = ddgm_build,
    .free = ddgm_free,
    .step = ddgm_step,
    .draw = gen_draw,
};
