/* jem.c — Joint Energy-based Models (Grathwohl, Wang, Jacobsen, Duvenaud, Norouzi, Swersky 2020,
 * "Your Classifier is Secretly an Energy Based Model and You Should Treat it Like One",
 * arXiv:1912.03263; run.method = jem). A classifier's logits f(x) (K = [jem] classes outputs of
 * [model] net = mlp or dcgan) define
 *   p(y | x) = softmax f(x)[y],   E(x, y) = -f(x)[y],   E(x) = -logsumexp_y f(x)[y],
 * and one iteration minimises
 *   L = mean CE(f(x+), y+) + px_weight (mean E(x+) - mean E(x-)) + reg (mean E(x+)^2 + mean E(x-)^2)
 * with x+ the labelled data batch (plus N(0, data_noise^2) noise, as JEM) and x- SGLD chains on E(x)
 * ([sampler], started where [sampler] init says: JEM's replay buffer by default; chains.h). run_energy
 * gives E(x) through the .energy hook, so Langevin, `ebm score` and the energy evaluations work on
 * JEM runs; `ebm sample --class K` runs the chains on E(x, K). `ebm eval` reports the test accuracy
 * and the expected calibration error (15 equal-width confidence bins); --ood and --classifier are the
 * common evaluations (AUROC by logsumexp f = -E and by the largest softmax probability; the
 * class-conditional samples judged by a classifier run). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "chains.h"
#include "data.h"
#include "labels.h"
#include "run.h"
#include "train.h"

/* [jem] */
static const ebm_config_key_t jem_keys[] = {
    {"jem", "classes", EBM_CFG_INT, "10", "number of classes (labels 0 .. classes-1): the network's outputs", 2, 100000},
    {"jem", "px_weight", EBM_CFG_FLOAT, "1", "weight of the generative term mean E(x+) - mean E(x-) (0: the cross-entropy alone, no sampling)", 0, 1e6},
    {"jem", "reg", EBM_CFG_FLOAT, "0", "+ reg * (mean E(x+)^2 + mean E(x-)^2) (JEM: 0)", 0, 1e6},
    {"jem", "data_noise", EBM_CFG_FLOAT, "0.015", "std of Gaussian noise added to data (JEM's 0.03 on [-1, 1] data is 0.015 on [0, 1])", 0, 100},
    {"jem", "ece_bins", EBM_CFG_INT, "15", "ebm eval: equal-width confidence bins of the expected calibration error", 1, 1000},
    {NULL, NULL, 0, NULL, NULL, 0, 0}};

typedef struct jem {
    chains_t chains;
    float px, reg, noise;
    double bound;   /* [run] diverge_bound on |mean E(x+) - mean E(x-)| */
} jem_t;

static int jem_outputs(const ebm_config_t *c) { return (int)ebm_config_int(c, "jem", "classes"); }

static ebm_tensor_t *jem_energy(run_t *r, ebm_tensor_t *out) {
    (void)r;
    return ebm_neg(ebm_logsumexp(out, 1, 0));
}

/* -f(x)[k]: the logits times a one-hot row, summed */
static ebm_tensor_t *jem_class_energy(run_t *r, ebm_tensor_t *out, int k) {
    if (!out) return NULL;
    int B = ebm_tensor_dim(out, 0), K = r->n_out;
    float *oh = calloc((size_t)B * K, sizeof(float));
    if (!oh) return NULL;
    for (int i = 0; i < B; i++) oh[i * K + k] = 1;
    ebm_tensor_t *t = ebm_tensor_from_host(r->ctx, 2, (int[]){B, K}, oh);
    free(oh);
    return ebm_neg(ebm_sum(ebm_mul(out, t), 0x2u, 0));
}

static int jem_build(run_t *r) {
    const ebm_config_t *c = r->cfg;
    jem_t *j = calloc(1, sizeof *j);
    if (!(r->state = j)) {
        ERR("out of host memory\n");
        return 0;
    }
    j->px = (float)ebm_config_float(c, "jem", "px_weight");
    j->reg = (float)ebm_config_float(c, "jem", "reg");
    j->noise = (float)ebm_config_float(c, "jem", "data_noise");
    j->bound = ebm_config_float(c, "run", "diverge_bound");
    return chains_build(r, &j->chains);
}

static void jem_free(run_t *r) {
    free(r->state);
    r->state = NULL;
}

/* One iteration: 1 done, 0 diverged (non-finite, or |mean E(x+) - mean E(x-)| over run.diverge_bound;
 * nothing updated), -1 error. Random draws in order: dequantisation U(0, 1/256) and data noise (host),
 * the chains' start, the Langevin noise, the buffer push. */
static int jem_step(run_t *r, ebm_dataset_t *ds, float *xh, stats_t *s) {
    const jem_t *j = r->state;
    int B = r->batch, K = r->n_out;
    size_t D = r->numel;
    if (!ds->y) {
        ERR("%s: run.method = jem needs labelled data (IDX images with a labels file beside them, or toy:8gaussians / "
            "toy:25gaussians, labelled by mode)\n", ds->source);
        return -1;
    }
    ebm_rng_t rng = run_iter_rng(r, r->iter);
    int *y = malloc(sizeof(int) * B);
    float *onehot = calloc((size_t)B * K, sizeof(float)), *lg = malloc(sizeof(float) * B * K), *u = malloc(sizeof(float) * B * D);
    if (!y || !onehot || !lg || !u) {
        free(y), free(onehot), free(lg), free(u);
        ERR("iteration %ld: out of host memory\n", r->iter);
        return -1;
    }
    ebm_dataset_batch(ds, r->seed, r->iter, B, xh);
    if (!chains_data_labels(r, ds, y, K, "[jem] classes")) {
        free(y), free(onehot), free(lg), free(u);
        return -1;
    }
    for (int i = 0; i < B; i++) onehot[i * K + y[i]] = 1;
    if (r->dequantize) {
        ebm_rng_host_uniform(&rng, u, B * D);
        for (size_t i = 0; i < B * D; i++) xh[i] = xh[i] * (255.0f / 256.0f) + u[i] / 256.0f;
    }
    if (j->noise > 0) {
        ebm_rng_host_normal(&rng, u, B * D);
        for (size_t i = 0; i < B * D; i++) xh[i] += j->noise * u[i];
    }
    free(u);
    int shape[4] = {B, r->shape[0], r->shape[1], r->shape[2]};
    ebm_ctx_t *ctx = r->ctx;
    ebm_scope_begin(ctx);
    ebm_tensor_t *xpos = ebm_tensor_from_host(ctx, r->ndim + 1, shape, xh);
    ebm_tensor_t *logits = run_forward(r, xpos), *lse = ebm_logsumexp(logits, 1, 0);
    ebm_tensor_t *picked = ebm_sum(ebm_mul(logits, ebm_tensor_from_host(ctx, 2, (int[]){B, K}, onehot)), 0x2u, 0);
    ebm_tensor_t *ce = ebm_mean_all(ebm_sub(lse, picked)), *loss = ce, *mp = NULL, *mn = NULL, *xneg = NULL;
    if (j->px > 0) {
        ebm_tensor_t *x0 = chains_start(r, &j->chains, xpos, B, &rng);
        xneg = ebm_langevin(ctx, run_energy, r, x0, &r->lc, &rng);
        ebm_tensor_t *epos = ebm_neg(lse), *eneg = run_energy(r, xneg);
        mp = ebm_mean_all(epos), mn = ebm_mean_all(eneg);
        loss = ebm_add(loss, ebm_scale(ebm_sub(mp, mn), j->px));
        if (j->reg > 0) loss = ebm_add(loss, ebm_scale(ebm_add(ebm_mean_all(ebm_square(epos)), ebm_mean_all(ebm_square(eneg))), j->reg));
    }
    float hv[4] = {NAN, NAN, NAN, NAN};
    int ok = loss && ebm_tensor_read(ce, &hv[0]) == EBM_OK && ebm_tensor_read(loss, &hv[1]) == EBM_OK &&
             ebm_tensor_read(logits, lg) == EBM_OK && (!mp || (ebm_tensor_read(mp, &hv[2]) == EBM_OK && ebm_tensor_read(mn, &hv[3]) == EBM_OK));
    int correct = 0;
    for (int i = 0; ok && i < B; i++) correct += run_argmax_row(lg + i * K, K) == y[i];
    free(y), free(onehot), free(lg);
    stats_add_g(s, "ce", "CE", hv[0]), stats_add_g(s, "accuracy", "acc", (float)correct / B);
    if (j->px > 0) stats_add(s, "e_pos", "E+", hv[2]), stats_add(s, "e_neg", "E-", hv[3]);
    stats_add(s, "loss", "loss", hv[1]);
    if (!ok) {
        ebm_scope_end(ctx);
        ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(ctx));
        return -1;
    }
    if (!isfinite(hv[0]) || !isfinite(hv[1]) || (j->px > 0 && (!isfinite(hv[2]) || !isfinite(hv[3]))) ||
        (j->px > 0 && j->bound > 0 && fabs((double)hv[2] - hv[3]) > j->bound)) {
        ebm_scope_end(ctx);
        return 0;
    }
    if (ebm_params_zero_grad(r->ps) != EBM_OK || ebm_params_backward(r->ps, loss) != EBM_OK || ebm_optim_step(r->opt) != EBM_OK ||
        (r->ema && ebm_ema_update(r->ema) != EBM_OK) || (r->rb && xneg && ebm_replay_push(r->rb, xneg, &rng) != EBM_OK)) {
        ebm_scope_end(ctx);
        ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(ctx));
        return -1;
    }
    ebm_scope_end(ctx);
    return 1;
}

/* what `ebm sample` draws: chains from eval.init (noise or the buffer), eval.steps Langevin steps on
 * E(x), or on E(x, K) with --class K; for the training pictures (o NULL): buffer chains (noise while it
 * is empty) and eval.steps steps on E(x) */
static ebm_tensor_t *jem_draw(run_t *r, const ebm_sample_opts_t *o, int n, ebm_rng_t *rng, double *accept) {
    const ebm_config_t *c = r->cfg;
    (void)accept;
    ebm_langevin_cfg_t lc = r->lc;
    run_class_t cls = {r, o && o->conditional ? o->label : 0};
    ebm_energy_fn energy = o && o->conditional ? run_class_energy : run_energy;
    void *user = o && o->conditional ? (void *)&cls : (void *)r;
    const char *init = o && o->init ? o->init : o ? ebm_config_str(c, "eval", "init") : "buffer";
    ebm_tensor_t *x;
    lc.steps = o && o->steps >= 0 ? o->steps : (int)ebm_config_int(c, "eval", "steps");
    if (!strcmp(init, "buffer") && r->rb && ebm_replay_size(r->rb) > 0) x = ebm_replay_sample(r->rb, n, rng);
    else if (!strcmp(init, "noise") || !o) x = run_noise(r, n, rng);
    else if (!strcmp(init, "buffer")) {
        ERR("init = buffer, but the checkpoint has no replay buffer rows\n");
        return NULL;
    } else {
        ERR("init = \"%s\": expected noise or buffer\n", init);
        return NULL;
    }
    x = ebm_langevin(r->ctx, energy, user, x, &lc, rng);
    if (!x) ERR("sampling: %s\n", ebm_ctx_error(r->ctx));
    return x;
}

/* `ebm eval`: accuracy, expected calibration error and mean negative log-likelihood of the labels on
 * the test examples (labels.h); the common evaluations follow for --ood, --classifier and the toys'
 * mode coverage (returns -1) */
static int jem_eval(run_t *r, const ebm_sample_opts_t *o, const char *checkpoint) {
    if (o->classifier || o->ood || o->ood_folder) return -1;
    int rc = labels_eval(r, o->n, (int)ebm_config_int(r->cfg, "jem", "ece_bins"), checkpoint);
    return rc == 0 && r->toy ? -1 : rc;
}

const ebm_method_t ebm_method_jem = {
    .name = "jem",
    .title = "JEM, a classifier as an energy",
    .keys = (const ebm_config_key_t *const[]){chains_buffer_keys, jem_keys, NULL},
    .summary = "JEM: cross-entropy of a classifier's logits f(x) plus contrastive divergence on E(x) = -logsumexp f(x) with "
               "SGLD chains from a replay buffer; class-conditional samples from E(x, y) = -f(x)[y]",
    .outputs = jem_outputs,
    .energy = jem_energy,
    .class_energy = jem_class_energy,
    .sampler_density = 1,
    .build = jem_build,
    .free = jem_free,
    .step = jem_step,
    .draw = jem_draw,
    .eval = jem_eval,
};
