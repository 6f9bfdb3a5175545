/* cd.c — contrastive divergence with Langevin negatives: IGEBM (Du & Mordatch 2019, "Implicit
 * Generation and Generalization in Energy-Based Models", arXiv:1903.08689) and improved CD (Du et al.
 * 2021, "Improved Contrastive Divergence Training of Energy-Based Models", arXiv:2012.01316;
 * run.method = cd):
 *   x- = [sampler] Langevin chains from the replay buffer (reinitialised from noise with probability
 *        buffer.reinit; an augmentation transition on each draw with augment.enable), from noise, or
 *        with sampler.init = data from the data batch x+ (CD-k, k = sampler.steps; chains.h),
 *   L = mean E(x+) - mean E(x-) + reg (mean E(x+)^2 + mean E(x-)^2)
 * and with loss.kl improved CD's terms: the last Langevin step keeps its graph, x_kl = clamp(x -
 * eta grad_x E_theta(x)), and kl_coeff mean E_frozen(x_kl) - entropy_coeff mean log of x_kl's
 * nearest-neighbour distance among buffer samples is added. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "chains.h"
#include "data.h"
#include "run.h"
#include "train.h"

/* [augment] and [loss]: the buffer's augmentation transitions, the loss terms ([buffer]: chains.h) */
static const ebm_config_key_t cd_keys[] = {
    {"augment", "enable", EBM_CFG_BOOL, "false", "augmentation transition on every buffer draw (ICD; images only)", 0, 0},
    {"augment", "crop_scale_min", EBM_CFG_FLOAT, "0.08", "random resized crop: smallest area fraction (1: no crop)", 1e-3, 1},
    {"augment", "flip", EBM_CFG_BOOL, "true", "random horizontal flip (p = 0.5)", 0, 0},
    {"augment", "brightness", EBM_CFG_FLOAT, "0.8", "colour jitter: brightness factor in [1-b, 1+b]", 0, 1},
    {"augment", "contrast", EBM_CFG_FLOAT, "0.8", "colour jitter: contrast factor in [1-c, 1+c]", 0, 1},
    {"augment", "saturation", EBM_CFG_FLOAT, "0.8", "colour jitter: saturation factor in [1-s, 1+s]", 0, 1},
    {"augment", "hue", EBM_CFG_FLOAT, "0.4", "colour jitter: hue shift in [-h, h] turns (h <= 0.5)", 0, 0.5},
    {"augment", "jitter_p", EBM_CFG_FLOAT, "0.8", "probability of the colour jitter", 0, 1},
    {"augment", "gray_p", EBM_CFG_FLOAT, "0.2", "probability of converting to grayscale", 0, 1},
    {"augment", "blur_p", EBM_CFG_FLOAT, "0", "probability of a Gaussian blur (ICD: 0.5 for CelebA-size images)", 0, 1},
    {"augment", "blur_sigma_max", EBM_CFG_FLOAT, "2", "blur sigma drawn from U(0.1, max)", 0.1, 100},
    {"augment", "blur_kernel", EBM_CFG_INT, "5", "blur kernel side (odd)", 1, 31},
    {"augment", "sample_every", EBM_CFG_INT, "40", "ebm sample: a transition every this many steps (ICD: 20-60; 0: never)", 0, 1e9},
    {"loss", "reg", EBM_CFG_FLOAT, "1", "alpha: + alpha * (mean E(x+)^2 + mean E(x-)^2)", 0, 1e6},
    {"loss", "kl", EBM_CFG_BOOL, "false", "improved CD's KL term through the last Langevin step (second-order autodiff)", 0, 0},
    {"loss", "kl_coeff", EBM_CFG_FLOAT, "1", "weight of mean E_frozen(x_kl)", 0, 1e6},
    {"loss", "entropy_coeff", EBM_CFG_FLOAT, "0.3", "weight of the nearest-neighbour entropy term (with kl; 0: off)", 0, 1e6},
    {"loss", "entropy_samples", EBM_CFG_INT, "100", "buffer samples the nearest neighbour is searched among", 1, 1e6},
    {"loss", "entropy_min_buffer", EBM_CFG_INT, "1000", "entropy term only once the buffer holds more rows than this", 0, 1e9},
    {NULL, NULL, 0, NULL, NULL, 0, 0}};

/* class conditioning: E(x | y) trained on labelled data (run.c builds the net; chains.c the labels) */
static const ebm_config_key_t cd_cond_keys[] = {
    {"model", "classes", EBM_CFG_INT, "0", "cd: a class-conditional energy E(x | y) of this many classes (FiLM: per-class channel scale and shift after each conv block; convnet, multiscale, resnet; 0: unconditional)", 0, 100000},
    {"data", "label_channel", EBM_CFG_INT, "-1", "cd with model.classes, jem, classify, on stacked images: the label is the class of this channel (-1: the data's own label)", -1, 2},
    {NULL, NULL, 0, NULL, NULL, 0, 0}};

/* [sampler] init, [buffer], [augment] and [loss], read once (cd_build) */
typedef struct cd {
    chains_t chains;         /* where the chains start: the buffer (r->rb), noise or the data batch */
    int augment;             /* an augmentation transition on every buffer draw (images only) */
    ebm_augment_cfg_t ac;
    int augment_every;       /* ebm sample: a transition every this many Langevin steps */
    double bound;            /* [run] diverge_bound: |mean E(x+)| above it is a divergence */
    float reg, kl_coeff, entropy_coeff;
    int kl, entropy_samples;
    long entropy_min_buffer;
    int *ypos, *yneg;        /* model.classes: the batch's labels and its chains' */
} cd_t;

static int cd_build(run_t *r) {
    const ebm_config_t *c = r->cfg;
    cd_t *cd = calloc(1, sizeof *cd);
    if (!(r->state = cd)) {
        ERR("out of host memory\n");
        return 0;
    }
    cd->augment = ebm_config_bool(c, "augment", "enable") && r->ndim == 3;
    cd->ac = (ebm_augment_cfg_t){.crop_scale_min = (float)ebm_config_float(c, "augment", "crop_scale_min"),
                                 .flip = ebm_config_bool(c, "augment", "flip"),
                                 .brightness = (float)ebm_config_float(c, "augment", "brightness"),
                                 .contrast = (float)ebm_config_float(c, "augment", "contrast"),
                                 .saturation = (float)ebm_config_float(c, "augment", "saturation"),
                                 .hue = (float)ebm_config_float(c, "augment", "hue"),
                                 .jitter_p = (float)ebm_config_float(c, "augment", "jitter_p"),
                                 .gray_p = (float)ebm_config_float(c, "augment", "gray_p"),
                                 .blur_p = (float)ebm_config_float(c, "augment", "blur_p"),
                                 .blur_sigma_min = 0.1f,
                                 .blur_sigma_max = (float)ebm_config_float(c, "augment", "blur_sigma_max"),
                                 .blur_kernel = (int)ebm_config_int(c, "augment", "blur_kernel")};
    cd->augment_every = (int)ebm_config_int(c, "augment", "sample_every");
    cd->bound = ebm_config_float(c, "run", "diverge_bound");
    cd->reg = (float)ebm_config_float(c, "loss", "reg");
    cd->kl = ebm_config_bool(c, "loss", "kl");
    cd->kl_coeff = (float)ebm_config_float(c, "loss", "kl_coeff");
    cd->entropy_coeff = (float)ebm_config_float(c, "loss", "entropy_coeff");
    cd->entropy_samples = (int)ebm_config_int(c, "loss", "entropy_samples");
    cd->entropy_min_buffer = ebm_config_int(c, "loss", "entropy_min_buffer");
    if (!chains_build(r, &cd->chains)) return 0;
    if (r->classes > 0) {
        cd->ypos = malloc(sizeof(int) * (size_t)r->batch);
        cd->yneg = malloc(sizeof(int) * (size_t)r->batch);
        if (r->rb) r->rb_labels = calloc((size_t)ebm_replay_capacity(r->rb), sizeof(int));
        if (!cd->ypos || !cd->yneg || (r->rb && !r->rb_labels)) {
            ERR("out of host memory\n");
            return 0;
        }
    }
    return 1;
}

static void cd_free(run_t *r) {
    cd_t *cd = r->state;
    if (cd) free(cd->ypos), free(cd->yneg);
    free(r->state);
    r->state = NULL;
}

/* an augmentation transition ([augment] enable, images only; else x unchanged) */
static ebm_tensor_t *augment(run_t *r, ebm_tensor_t *x, ebm_rng_t *rng) {
    const cd_t *cd = r->state;
    return cd->augment ? ebm_augment(x, &cd->ac, rng) : x;
}

/* One iteration: 1 done, 0 diverged (non-finite, or |mean E(x+)| over run.diverge_bound; nothing
 * updated), -1 error. */
static int cd_step_(run_t *r, ebm_dataset_t *ds, float *xpos_host, stats_t *s) {
    double bound = ((const cd_t *)r->state)->bound;
    int B = r->batch;
    ebm_rng_t rng = run_iter_rng(r, r->iter);
    ebm_ctx_t *ctx = r->ctx;
    const cd_t *cd = r->state;
    int kl = cd->kl;
    float alpha = cd->reg;
    ebm_scope_begin(ctx);
    ebm_tensor_t *xpos = chains_data_batch(r, ds, xpos_host, &rng);   /* dequantized images: x 255/256 + U(0, 1/256) */
    if (!xpos) {
        ebm_scope_end(ctx);
        return -1;
    }
    int K = r->classes;   /* a conditioned energy: E(x+ | y+), the chains on E(x | their labels) */
    if (K > 0 && !chains_data_labels(r, ds, cd->ypos, K, "[model] classes")) {
        ebm_scope_end(ctx);
        return -1;
    }
    ebm_tensor_t *x0 = K > 0 ? chains_start_labels(r, &cd->chains, xpos, cd->ypos, B, &rng, cd->yneg) : chains_start(r, &cd->chains, xpos, B, &rng);
    if (r->rb) x0 = augment(r, x0, &rng);
    if (K > 0 && !run_set_labels(r, cd->yneg, B)) {
        ebm_scope_end(ctx);
        return -1;
    }
    ebm_langevin_cfg_t lc = r->lc;
    if (kl && lc.steps > 0) lc.steps--;
    ebm_tensor_t *xneg = ebm_langevin(ctx, run_energy, r, x0, &lc, &rng), *xkl = NULL;
    if (kl && r->lc.steps > 0 && xneg) {
        /* the last step with its graph: x_kl = clamp(x - eta grad_x E_theta(x)), theta live */
        int clamp = lc.clamp_lo != lc.clamp_hi;
        float lo = clamp ? lc.clamp_lo : -INFINITY, hi = clamp ? lc.clamp_hi : INFINITY;
        ebm_tensor_t *xs = lc.noise_first ? ebm_langevin_update(xneg, xneg, 0.0f, lc.noise, 0.0f, lo, hi, &rng) : xneg, *g = NULL;
        xs = ebm_detach(xs);
        ebm_tensor_set_requires_grad(xs, 1);
        ebm_tensor_t *tot = ebm_sum_all(run_energy(r, xs));
        if (tot && ebm_grad(&tot, 1, NULL, &xs, 1, &g, 1) == EBM_OK) {
            if (lc.grad_clip > 0) g = ebm_clamp(g, -lc.grad_clip, lc.grad_clip);
            xkl = ebm_sub(xs, ebm_scale(g, lc.step_size));
            if (clamp) xkl = ebm_clamp(xkl, lo, hi);
            xneg = ebm_detach(xkl);
            if (!lc.noise_first && lc.noise > 0) xneg = ebm_langevin_update(xneg, xneg, 0.0f, lc.noise, 0.0f, lo, hi, &rng);
        }
    }
    if (K > 0 && !run_set_labels(r, cd->ypos, B)) {
        ebm_scope_end(ctx);
        return -1;
    }
    ebm_tensor_t *epos = run_energy(r, xpos);
    if (K > 0 && !run_set_labels(r, cd->yneg, B)) {
        ebm_scope_end(ctx);
        return -1;
    }
    ebm_tensor_t *eneg = run_energy(r, xneg);
    ebm_tensor_t *mp = ebm_mean_all(epos), *mn = ebm_mean_all(eneg);
    ebm_tensor_t *loss = ebm_add(ebm_sub(mp, mn), ebm_scale(ebm_add(ebm_mean_all(ebm_square(epos)), ebm_mean_all(ebm_square(eneg))), alpha));
    ebm_tensor_t *klt = NULL, *entt = NULL;
    if (xkl) {
        int was = ebm_params_set_frozen(ctx, 1);
        klt = ebm_mean_all(run_energy(r, xkl));
        ebm_params_set_frozen(ctx, was);
        loss = ebm_add(loss, ebm_scale(klt, cd->kl_coeff));
        float ec = cd->entropy_coeff;
        int ns = cd->entropy_samples;
        if (ec > 0 && ns > 0 && r->rb && ebm_replay_size(r->rb) > cd->entropy_min_buffer) {
            /* -coef * mean log min_j |x_kl_i - C_j|, C = augmented buffer rows */
            ebm_tensor_t *cands = augment(r, ebm_replay_sample(r->rb, ns, &rng), &rng);
            ebm_tensor_t *d2 = ebm_pairwise_sqdist(ebm_reshape(xkl, 2, (int[]){B, -1}), ebm_reshape(cands, 2, (int[]){ns, -1}));
            ebm_tensor_t *dmin = ebm_neg(ebm_max_to(ebm_neg(d2), 2, (int[]){B, 1}));
            entt = ebm_scale(ebm_mean_all(ebm_log(ebm_add_scalar(dmin, 1e-8f))), 0.5f);   /* mean log distance */
            loss = ebm_sub(loss, ebm_scale(entt, ec));
        }
    }
    float hv[5] = {NAN, NAN, NAN, 0, 0};
    int ok = loss && ebm_tensor_read(mp, &hv[0]) == EBM_OK && ebm_tensor_read(mn, &hv[1]) == EBM_OK &&
             ebm_tensor_read(loss, &hv[2]) == EBM_OK && (!klt || ebm_tensor_read(klt, &hv[3]) == EBM_OK) &&
             (!entt || ebm_tensor_read(entt, &hv[4]) == EBM_OK);
    stats_add(s, "e_pos", "E+", hv[0]), stats_add(s, "e_neg", "E-", hv[1]), stats_add(s, "loss", "loss", hv[2]);
    if (kl) stats_add(s, "kl", "kl", hv[3]), stats_add(s, "entropy", "ent", hv[4]);
    if (!ok) {
        ebm_scope_end(ctx);
        ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(ctx));
        return -1;
    }
    if (!isfinite(hv[0]) || !isfinite(hv[1]) || !isfinite(hv[2]) || (bound > 0 && fabs(hv[0]) > bound)) {
        ebm_scope_end(ctx);
        return 0;
    }
    if (ebm_params_zero_grad(r->ps) != EBM_OK || ebm_params_backward(r->ps, loss) != EBM_OK || ebm_optim_step(r->opt) != EBM_OK ||
        (r->ema && ebm_ema_update(r->ema) != EBM_OK) || (r->rb && (K > 0 ? chains_push(r, xneg, cd->yneg, &rng) : ebm_replay_push(r->rb, xneg, &rng)) != EBM_OK)) {
        ebm_scope_end(ctx);
        ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(ctx));
        return -1;
    }
    ebm_scope_end(ctx);
    return 1;
}

static int cd_step(run_t *r, ebm_dataset_t *ds, float *xpos_host, stats_t *s) {
    int rc = cd_step_(r, ds, xpos_host, s);
    run_clear_labels(r);   /* the labels' tensor ended with the step's scope */
    return rc;
}

/* a conditioned run's chain labels for drawing n chains (labels NULL: none): class o->label with
 * --class, the buffer rows' own when x came from the buffer (from_buffer), else 0, 1, ..., K-1, 0, ... */
static int draw_labels(run_t *r, const ebm_sample_opts_t *o, int n, int from_buffer, int **labels) {
    *labels = NULL;
    if (r->classes <= 0) return 1;
    int *y = malloc(sizeof(int) * (size_t)n);
    if (!y) {
        ERR("out of host memory\n");
        return 0;
    }
    const int *idx = from_buffer ? ebm_replay_indices(r->rb) : NULL;
    for (int i = 0; i < n; i++)
        y[i] = o && o->conditional && o->label >= 0 ? o->label : idx && idx[i] >= 0 ? r->rb_labels[idx[i]] : i % r->classes;
    *labels = y;
    return 1;
}

static int cd_transition_every(const run_t *r) {
    const cd_t *cd = r->state;
    return cd->augment ? cd->augment_every : -1;
}

/* what `ebm sample` draws (chains from eval.init, eval.steps Langevin steps, an augmentation every
 * augment.sample_every steps), or for the training pictures (o NULL): chains from the buffer (noise
 * while it is empty) and eval.steps steps */
static ebm_tensor_t *cd_draw(run_t *r, const ebm_sample_opts_t *o, int n, ebm_rng_t *rng, double *accept) {
    const ebm_config_t *c = r->cfg;
    (void)accept;
    ebm_langevin_cfg_t lc = r->lc;
    int *y = NULL;
    if (!o) {
        int buf = r->rb && ebm_replay_size(r->rb) > 0;
        ebm_tensor_t *x = buf ? ebm_replay_sample(r->rb, n, rng) : run_noise(r, n, rng);
        lc.steps = (int)ebm_config_int(c, "eval", "steps");
        if (!draw_labels(r, o, n, buf, &y) || (y && !run_set_labels(r, y, n))) x = NULL;
        x = x ? ebm_langevin(r->ctx, run_energy, r, x, &lc, rng) : NULL;
        run_clear_labels(r);
        free(y);
        return x;
    }
    const char *init = o->init ? o->init : ebm_config_str(c, "eval", "init");
    int steps = o->steps >= 0 ? o->steps : (int)ebm_config_int(c, "eval", "steps");
    const cd_t *cd = r->state;
    int aug_every = !cd->augment ? 0 : o->augment_every >= 0 ? o->augment_every : cd->augment_every;
    ebm_tensor_t *x;
    if (!strcmp(init, "buffer")) {
        if (!r->rb || ebm_replay_size(r->rb) == 0) {
            ERR("init = buffer, but the checkpoint has no replay buffer rows\n");
            return NULL;
        }
        x = ebm_replay_sample(r->rb, n, rng);
    } else if (!strcmp(init, "noise"))
        x = run_noise(r, n, rng);
    else {
        ERR("init = \"%s\": expected noise or buffer\n", init);
        return NULL;
    }
    if (!draw_labels(r, o, n, !strcmp(init, "buffer"), &y) || (y && !run_set_labels(r, y, n))) x = NULL;
    free(y);
    lc.steps = steps;
    x = run_langevin_transitions(r, run_energy, r, x, &lc, aug_every, rng);
    run_clear_labels(r);
    if (!x) ERR("sampling: %s\n", ebm_ctx_error(r->ctx));
    return x;
}

const ebm_method_t ebm_method_cd = {
    .name = "cd",
    .title = "IGEBM, improved CD",
    .keys = (const ebm_config_key_t *const[]){chains_buffer_keys, cd_keys, cd_cond_keys, NULL},
    .summary = "contrastive divergence with Langevin negatives from a replay buffer (IGEBM; improved CD with loss.kl)",
    .build = cd_build,
    .free = cd_free,
    .sampler_density = 1,
    .conditional = 1,
    .step = cd_step,
    .draw = cd_draw,
    .transition_every = cd_transition_every,
    .transition = augment,
};
