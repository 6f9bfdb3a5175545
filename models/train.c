/* train.c — the Langevin CD / improved-CD trainer (train.h). */
#include "train.h"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "data.h"
#include "run.h"

/* Defaults are IGEBM's (shared/METHODS.md method 1); the configs/icd-*.ini files set improved CD's. */
const ebm_config_key_t ebm_train_keys[] = {
    {"run", "seed", EBM_CFG_INT, "1", "seed of every random draw (initialisation, data order, sampler, buffer)", 0, 9007199254740992},
    {"run", "iters", EBM_CFG_INT, "2000", "training iterations", 0, 1e9},
    {"run", "batch", EBM_CFG_INT, "128", "data examples and chains per iteration", 1, 65536},
    {"run", "log_every", EBM_CFG_INT, "50", "iterations between progress lines and metrics.jsonl rows", 1, 1e9},
    {"run", "sample_every", EBM_CFG_INT, "500", "iterations between PNGs of the negatives (0: only at the end)", 0, 1e9},
    {"run", "ckpt_every", EBM_CFG_INT, "500", "iterations between checkpoints (also written at the end and on Ctrl-C)", 1, 1e9},
    {"run", "diverge_bound", EBM_CFG_FLOAT, "10", "divergence when |mean E(x+)| exceeds this (ICD aborts at 10; 0: NaN/Inf only)", 0, 1e30},
    {"run", "max_rollbacks", EBM_CFG_INT, "5", "divergences rolled back (last checkpoint, new RNG stream) before the run stops", 0, 1000},
    {"run", "rollback_lr_scale", EBM_CFG_FLOAT, "1", "learning rate multiplied by this at each rollback (1: only a new RNG stream)", 1e-6, 1},
    {"run", "method", EBM_CFG_STRING, "cd", "cd (IGEBM, improved CD) | meg (maximum entropy generators) | ddgm (Kim & Bengio) | dual (Dual-MCMC teaching) | classify (a classifier for evaluations)", 0, 0},
    {"data", "source", EBM_CFG_STRING, "fashion-mnist",
     "fashion-mnist | IDX file (.gz ok) | toy:8gaussians|25gaussians|swissroll|2spirals|rings | file.csv | image folder", 0, 0},
    {"data", "size", EBM_CFG_INT, "0", "image side after centre-crop and resize (folders need it; 0: the file's size)", 0, 4096},
    {"data", "channels", EBM_CFG_INT, "0", "image-folder channels: 1 or 3 (0: 3)", 0, 3},
    {"data", "limit", EBM_CFG_INT, "0", "use only the first N examples (0: all)", 0, 1e9},
    {"data", "toy_n", EBM_CFG_INT, "50000", "points drawn for a 2-D toy data set", 1, 1e8},
    {"data", "anomaly_class", EBM_CFG_INT, "-1", "MEG anomaly protocol: hold this class out, train on 80% of the others (ebm eval: AUPRC on the rest); -1: off", -1, 1000},
    {"data", "dequantize", EBM_CFG_BOOL, "true", "images: x*255/256 + U(0, 1/256), as ICD (ignored for vectors)", 0, 0},
    {"model", "net", EBM_CFG_STRING, "convnet",
     "mlp | convnet | multiscale (convnets on x, avgpool2(x), ...) | resnet (improved CD's) | poe (Kim & Bengio's experts) | dcgan (MEG's conv energy)", 0, 0},
    {"model", "hidden", EBM_CFG_STRING, "128,128,128", "mlp: hidden widths", 0, 0},
    {"model", "activation", EBM_CFG_STRING, "swish", "one of" EBM_NET_ACTIVATION_NAMES " (lrelu: leaky ReLU, slope 0.2)", 0, 0},
    {"model", "base", EBM_CFG_INT, "32", "convnet: channels of the first layer (then 2x, 4x, 4x)", 1, 4096},
    {"model", "scales", EBM_CFG_INT, "3", "multiscale, resnet: number of resolutions (full, half, quarter, ...), one network each", 1, 8},
    {"model", "stages", EBM_CFG_INT, "4", "resnet: stages of two residual blocks at full resolution (one fewer per coarser scale)", 1, 16},
    {"model", "experts", EBM_CFG_INT, "4", "poe: number of experts softplus(w_k.f(x) + c_k)", 1, 100000},
    {"model", "poe_sigma", EBM_CFG_FLOAT, "1", "poe: sigma of the |x|^2/sigma^2 term", 1e-6, 1e6},
    {"model", "attention", EBM_CFG_BOOL, "true", "resnet: SAGAN self-attention after stage 2 (8x8 for 32x32 images)", 0, 0},
    {"sampler", "steps", EBM_CFG_INT, "60", "Langevin steps per iteration (K)", 0, 1e6},
    {"sampler", "step_size", EBM_CFG_FLOAT, "10", "eta: x <- x - eta * grad_x E", 0, 1e9},
    {"sampler", "noise", EBM_CFG_FLOAT, "0.005", "sigma: x <- x + sigma * N(0, 1)", 0, 1e6},
    {"sampler", "grad_clip", EBM_CFG_FLOAT, "0.01", "clip each component of grad_x E to [-c, c] (0: off)", 0, 1e30},
    {"sampler", "clamp", EBM_CFG_BOOL, "true", "clamp x to [init_lo, init_hi] after every step", 0, 0},
    {"sampler", "noise_first", EBM_CFG_BOOL, "true", "add the noise before the gradient step (IGEBM/ICD order)", 0, 0},
    {"sampler", "init_lo", EBM_CFG_FLOAT, "0", "fresh chains start from U(init_lo, init_hi)", -1e6, 1e6},
    {"sampler", "init_hi", EBM_CFG_FLOAT, "1", "upper end of the fresh-chain range (and of the clamp)", -1e6, 1e6},
    {"buffer", "capacity", EBM_CFG_INT, "10000", "replay buffer rows (0: every chain starts from noise)", 0, 1e8},
    {"buffer", "reinit", EBM_CFG_FLOAT, "0.05", "probability that a drawn chain restarts from noise", 0, 1},
    {"buffer", "reservoir", EBM_CFG_BOOL, "false", "reservoir sampling (ICD) instead of FIFO (IGEBM)", 0, 0},
    {"buffer", "uint8", EBM_CFG_BOOL, "false", "store 8-bit codes of [init_lo, init_hi] (IGEBM/ICD; 4x less memory), read back dequantised", 0, 0},
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
    {"optim", "kind", EBM_CFG_STRING, "adam", "adam | adagrad | sgd (every network of the run)", 0, 0},
    {"optim", "lr", EBM_CFG_FLOAT, "3e-4", "learning rate of the energy", 0, 10},
    {"optim", "weight_decay", EBM_CFG_FLOAT, "0", "L2 on the energy's parameters (Kim & Bengio 1e-5)", 0, 1},
    {"optim", "beta1", EBM_CFG_FLOAT, "0", "Adam beta1", 0, 0.999999},
    {"optim", "beta2", EBM_CFG_FLOAT, "0.999", "Adam beta2", 0, 0.999999},
    {"optim", "eps", EBM_CFG_FLOAT, "1e-8", "Adam epsilon", 0, 1e3},
    {"optim", "clip_norm", EBM_CFG_FLOAT, "0", "global gradient-norm clip (ICD 0.5; 0: off)", 0, 1e30},
    {"optim", "ema", EBM_CFG_FLOAT, "0", "EMA decay of the weights used by sample/score/eval (ICD 0.99; 0: off)", 0, 0.999999},
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
    {"meg", "stat_hidden", EBM_CFG_STRING, "512,512,512", "statistics network MLP hidden widths on (x, z) (images: on (trunk(x), z)) (leaky ReLU 0.2)", 0, 0},
    {"meg", "stat_base", EBM_CFG_INT, "64", "images: channels of the statistics network's conv trunk (as the dcgan energy)", 1, 4096},
    {"meg", "stat_features", EBM_CFG_INT, "128", "images: trunk output features concatenated with z", 1, 100000},
    {"meg", "energy_steps", EBM_CFG_INT, "5", "energy updates per generator update", 1, 1000},
    {"meg", "gp", EBM_CFG_FLOAT, "0.1", "lambda of the zero-centred gradient penalty on real data (toys 0.1, images 10, anomaly 100)", 0, 1e6},
    {"ddgm", "entropy_weight", EBM_CFG_FLOAT, "1", "weight of the batch-norm entropy sum_gamma log(2 pi e gamma^2)/2 in the generator loss", 0, 1e6},
    {"dual", "inf_hidden", EBM_CFG_STRING, "512,512", "inference network q(z|x): MLP hidden widths (leaky ReLU 0.2); images: dcgan trunk of [model] base", 0, 0},
    {"dual", "lr_inference", EBM_CFG_FLOAT, "1e-4", "inference network learning rate", 0, 10},
    {"dual", "z_steps", EBM_CFG_INT, "10", "Langevin steps in z on |G(z) - x+|^2/(2 gen_sigma^2) + |z|^2/2", 0, 1e6},
    {"dual", "z_step_size", EBM_CFG_FLOAT, "0.005", "z-chain step (delta^2/2)", 0, 1e6},
    {"dual", "z_noise", EBM_CFG_FLOAT, "0.1", "z-chain noise (delta)", 0, 1e6},
    {"dual", "gen_sigma", EBM_CFG_FLOAT, "0.3", "generator observation noise in the z-chain posterior", 1e-6, 1e6},
    {"dual", "s_factor", EBM_CFG_FLOAT, "50", "weight of |G(z) - x~|^2 (generator learns from the x-chain)", 0, 1e9},
    {"dual", "inf_neg_weight", EBM_CFG_FLOAT, "0.1", "weight of the inference NLL of z under q(.|x~)", 0, 1e6},
    {"dual", "temperature", EBM_CFG_FLOAT, "4e-6", "energy loss divided by this ((0.001/0.5)^2)", 1e-12, 1e9},
    {"classify", "classes", EBM_CFG_INT, "10", "run.method = classify: number of classes (labels 0 .. classes-1)", 2, 100000},
    {"eval", "n", EBM_CFG_INT, "1000", "chains for ebm eval / heat maps", 1, 1e7},
    {"eval", "steps", EBM_CFG_INT, "200", "Langevin steps of ebm eval and ebm sample", 0, 1e7},
    {"eval", "init", EBM_CFG_STRING, "noise", "chains start from noise | buffer", 0, 0},
    {"eval", "min_per_mode", EBM_CFG_INT, "10", "2-D mixtures: samples within 3 sigma a mode needs to count as covered", 1, 1e9},
    {NULL, NULL, 0, NULL, NULL, 0, 0}};


static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

ebm_rng_t run_iter_rng(const run_t *r, long it) { return ebm_rng_make(r->seed, 1 + (uint64_t)it + ((uint64_t)r->rollbacks << 40)); }

/* One iteration. Returns 1 done, 0 diverged (nothing updated), -1 error. */
static int train_step(run_t *r, ebm_dataset_t *ds, float *xpos_host, stats_t *s, double bound) {
    const ebm_config_t *c = r->cfg;
    int B = (int)ebm_config_int(c, "run", "batch");
    ebm_rng_t rng = run_iter_rng(r, r->iter);
    ebm_ctx_t *ctx = r->ctx;
    int kl = ebm_config_bool(c, "loss", "kl");
    float alpha = (float)ebm_config_float(c, "loss", "reg");
    ebm_dataset_batch(ds, r->seed, r->iter, B, xpos_host);
    if (r->ndim == 3 && ebm_config_bool(c, "data", "dequantize")) {
        float *u = malloc(sizeof(float) * B * r->numel);
        if (!u) return -1;
        ebm_rng_host_uniform(&rng, u, B * r->numel);
        for (size_t i = 0; i < B * r->numel; i++) xpos_host[i] = xpos_host[i] * (255.0f / 256.0f) + u[i] / 256.0f;
        free(u);
    }
    int shape[4] = {B, r->shape[0], r->shape[1], r->shape[2]};
    ebm_scope_begin(ctx);
    ebm_tensor_t *xpos = ebm_tensor_from_host(ctx, r->ndim + 1, shape, xpos_host);
    ebm_tensor_t *x0;
    if (r->rb) x0 = run_augment(r, ebm_replay_sample(r->rb, B, &rng), &rng);
    else x0 = run_noise(r, B, &rng);
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
    ebm_tensor_t *epos = run_energy(r, xpos), *eneg = run_energy(r, xneg);
    ebm_tensor_t *mp = ebm_mean_all(epos), *mn = ebm_mean_all(eneg);
    ebm_tensor_t *loss = ebm_add(ebm_sub(mp, mn), ebm_scale(ebm_add(ebm_mean_all(ebm_square(epos)), ebm_mean_all(ebm_square(eneg))), alpha));
    ebm_tensor_t *klt = NULL, *entt = NULL;
    if (xkl) {
        int was = ebm_params_set_frozen(ctx, 1);
        klt = ebm_mean_all(run_energy(r, xkl));
        ebm_params_set_frozen(ctx, was);
        loss = ebm_add(loss, ebm_scale(klt, (float)ebm_config_float(c, "loss", "kl_coeff")));
        float ec = (float)ebm_config_float(c, "loss", "entropy_coeff");
        int ns = (int)ebm_config_int(c, "loss", "entropy_samples");
        if (ec > 0 && ns > 0 && r->rb && ebm_replay_size(r->rb) > ebm_config_int(c, "loss", "entropy_min_buffer")) {
            /* -coef * mean log min_j |x_kl_i - C_j|, C = augmented buffer rows */
            ebm_tensor_t *cands = run_augment(r, ebm_replay_sample(r->rb, ns, &rng), &rng);
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
    *s = (stats_t){hv[0], hv[1], hv[2], hv[3], hv[4], 0, 0};
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
        (r->ema && ebm_ema_update(r->ema) != EBM_OK) || (r->rb && ebm_replay_push(r->rb, xneg, &rng) != EBM_OK)) {
        ebm_scope_end(ctx);
        ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(ctx));
        return -1;
    }
    ebm_scope_end(ctx);
    return 1;
}

static void fmt_duration(double s, char *buf, size_t n) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int mkdirs(const char *path) {
    char buf[1200];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) && errno != EEXIST) return 0;
            *p = '/';
        }
    return !mkdir(buf, 0755) || errno == EEXIST;
}

/* What `ebm sample` would show now: chains from the buffer (or noise), eval.steps more Langevin
 * steps with the EMA weights when the run keeps them. Touches no training state. */
static int save_pictures(run_t *r) {
    char path[1200];
    snprintf(path, sizeof path, "%s/samples/%s_%06ld.png", r->dir, r->toy ? "heatmap" : "samples", r->iter);
    ebm_rng_t rng = ebm_rng_make(r->seed, 0x504943ull + ((uint64_t)r->iter << 20));   /* never a training stream */
    int n = r->toy ? 1000 : 64;
    if (r->method == METHOD_CLASSIFY) return 1;   /* nothing to draw */
    ebm_scope_begin(r->ctx);
    ebm_tensor_t *x;
    if (r->method != METHOD_CD) {   /* generator samples */
        x = gen_sample(r, n, &rng);
        int ok = x && run_write_samples(r, path, x);
        ebm_scope_end(r->ctx);
        return ok;
    }
    x = r->rb && ebm_replay_size(r->rb) > 0 ? ebm_replay_sample(r->rb, n, &rng) : run_noise(r, n, &rng);
    if (r->ema) ebm_ema_swap(r->ema);
    ebm_langevin_cfg_t lc = r->lc;
    lc.steps = (int)ebm_config_int(r->cfg, "eval", "steps");
    x = ebm_langevin(r->ctx, run_energy, r, x, &lc, &rng);
    if (r->ema) ebm_ema_swap(r->ema);
    int ok = x && run_write_samples(r, path, x);
    ebm_scope_end(r->ctx);
    return ok;
}

/* An iteration's or an event's metrics row: {"event": event (NULL: none), "iter": iter, ...} */
static cJSON *metrics_row(const char *event, long iter) {
    cJSON *row = cJSON_CreateObject();
    if (row && event) cJSON_AddStringToObject(row, "event", event);
    if (row) cJSON_AddNumberToObject(row, "iter", (double)iter);
    return row;
}

/* The run directory: created, locked for this process, not another run's unless overwrite or
 * resuming, without stale temporary files; returns the lock's descriptor or -1 after printing why. */
static int open_run_dir(const char *dir, int resume, int overwrite) {
    char samples_dir[1100], ckpt[1200];
    snprintf(samples_dir, sizeof samples_dir, "%s/samples", dir);
    if (!mkdirs(samples_dir)) {
        ERR("%s: cannot create the run directory: %s\n", dir, strerror(errno));
        return -1;
    }
    int lock = rundir_lock(dir);
    if (lock < 0) return -1;
    snprintf(ckpt, sizeof ckpt, "%s/" CKPT_NAME, dir);
    if (!resume && access(ckpt, F_OK) == 0) {
        if (!overwrite) {
            ERR("%s already holds a run (%s): continue it with `ebm train --resume %s [--set run.iters=N]`, give another --out, "
                "or start again there with --overwrite\n", dir, CKPT_NAME, dir);
            rundir_unlock(lock);
            return -1;
        }
        if (!rundir_clear(dir)) {
            rundir_unlock(lock);
            return -1;
        }
        fprintf(stderr, "ebm: --overwrite: removed the previous run's checkpoint, metrics, config and pictures from %s\n", dir);
    }
    rundir_remove_stale_temps(dir);
    return lock;
}

int ebm_train(ebm_config_t *cfg, const char *device, const char *out_dir, const char *resume_dir, int overwrite) {
    const ebm_config_t *c = cfg;
    char err[1024], ckpt[1200];
    ebm_dataset_t ds;
    long iters = ebm_config_int(c, "run", "iters");
    int B = (int)ebm_config_int(c, "run", "batch"), log_every = (int)ebm_config_int(c, "run", "log_every");
    int sample_every = (int)ebm_config_int(c, "run", "sample_every"), ckpt_every = (int)ebm_config_int(c, "run", "ckpt_every");
    int max_rb = (int)ebm_config_int(c, "run", "max_rollbacks");
    double bound = ebm_config_float(c, "run", "diverge_bound");
    if (iters < 0 || B < 1 || log_every < 1 || ckpt_every < 1 || sample_every < 0) {
        ERR("need run.iters >= 0, run.batch >= 1, run.log_every >= 1, run.ckpt_every >= 1, run.sample_every >= 0\n");
        return 2;
    }
    ebm_data_opts_t dopts = {.size = (int)ebm_config_int(c, "data", "size"),
                             .channels = (int)ebm_config_int(c, "data", "channels"),
                             .limit = (int)ebm_config_int(c, "data", "limit"),
                             .toy_n = (int)ebm_config_int(c, "data", "toy_n"),
                             .seed = (uint64_t)ebm_config_int(c, "run", "seed"),
                             .anomaly = ebm_config_int(c, "data", "anomaly_class") >= 0 ? EBM_ANOMALY_TRAIN : 0,
                             .anomaly_class = (int)ebm_config_int(c, "data", "anomaly_class")};
    if (ebm_dataset_open(&ds, ebm_config_str(c, "data", "source"), &dopts, err, sizeof err) != EBM_OK) {
        ERR("%s\n", err);
        return 1;
    }
    run_t r = {0};
    int rc = 1, lock = -1;
    float *xhost = malloc(sizeof(float) * B * ds.sample_numel);
    snprintf(r.dir, sizeof r.dir, "%s", out_dir ? out_dir : resume_dir);
    snprintf(ckpt, sizeof ckpt, "%s/" CKPT_NAME, r.dir);
    if (!xhost) {
        ERR("out of host memory\n");
        goto done;
    }
    if ((lock = open_run_dir(r.dir, resume_dir != NULL, overwrite)) < 0) {
        rc = 2;
        goto done;
    }
    if (!run_build(&r, cfg, device, ds.ndim, ds.shape)) goto done;
    r.toy = ds.toy && ebm_toy_modes(ds.toy_name, NULL, 0, NULL) >= 0 && ds.shape[0] == 2;
    snprintf(r.toy_name, sizeof r.toy_name, "%s", ds.toy_name);
    if (resume_dir) {
        char from[1200];
        snprintf(from, sizeof from, "%s/" CKPT_NAME, resume_dir);
        if (!ckpt_load(&r, from) || !rundir_metrics_trim(r.dir, r.iter)) goto done;
        fprintf(stderr, "ebm: resumed %s at iteration %ld\n", from, r.iter);
    }
    {   /* the full config, every default visible */
        char *text = ebm_config_to_string(cfg), path[1200];
        snprintf(path, sizeof path, "%s/config.ini", r.dir);
        int ok = text && ebm_write_atomic(path, text, strlen(text), err, sizeof err) == EBM_OK;
        free(text);
        if (!ok) {
            ERR("%s\n", err);
            goto done;
        }
    }
    if (!resume_dir && !ckpt_save(&r, ckpt)) goto done;   /* iteration 0: the first rollback target */
    const ebm_device_info_t *dev = ebm_ctx_device(r.ctx);
    fprintf(stderr, "ebm: training %s on %s (%d examples of %zu numbers) on %s; %ld iterations into %s\n",
            ebm_config_str(c, "model", "net"), ds.source, ds.n, ds.sample_numel, dev->name, iters, r.dir);
    struct sigaction sa = {0}, old_sa;
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old_sa);
    interrupted = 0;
    double t0 = now_s(), t_log = t0;
    long it_log = r.iter;
    stats_t s = {0};
    while (r.iter < iters && !interrupted) {
        int st = r.method == METHOD_CD ? train_step(&r, &ds, xhost, &s, bound)
                 : r.method == METHOD_CLASSIFY ? classify_step(&r, &ds, xhost, &s)
                                                : gen_step(&r, &ds, xhost, &s);
        if (st < 0) goto done;
        if (st == 0) {
            fprintf(stderr, "ebm: divergence at iteration %ld: mean E(x+) = %g, mean E(x-) = %g, loss = %g (run.diverge_bound = %g)\n",
                    r.iter, s.e_pos, s.e_neg, s.loss, bound);
            cJSON *row = metrics_row("divergence", r.iter);
            run_json_num(row, "e_pos", s.e_pos), run_json_num(row, "e_neg", s.e_neg), run_json_num(row, "loss", s.loss);
            if (!rundir_metrics_append(r.dir, row, NULL)) goto done;
            if (r.rollbacks >= max_rb) {
                ERR("stopping: %d divergences rolled back already (run.max_rollbacks = %d). Lower optim.lr or "
                    "sampler.step_size, raise loss.reg, or raise run.max_rollbacks; %s holds the last good state.\n",
                    r.rollbacks, max_rb, ckpt);
                goto done;
            }
            int rollbacks = r.rollbacks + 1;
            float scale = r.lr_scale * (float)ebm_config_float(c, "run", "rollback_lr_scale");
            if (!ckpt_load(&r, ckpt)) goto done;
            r.rollbacks = rollbacks;
            r.lr_scale = scale;
            run_apply_lr_scale(&r);
            fprintf(stderr, "ebm: rolled back to the checkpoint of iteration %ld with a new RNG stream (rollback %d of at most %d; lr %g)\n",
                    r.iter, r.rollbacks, max_rb, ebm_optim_lr(r.opt));
            row = metrics_row("rollback", r.iter);
            cJSON_AddNumberToObject(row, "rollbacks", r.rollbacks);
            run_json_num(row, "lr", ebm_optim_lr(r.opt));
            if (!rundir_metrics_append(r.dir, row, NULL)) goto done;
            continue;
        }
        r.iter++;
        if (r.iter % log_every == 0 || r.iter == iters) {
            double t = now_s(), rate = (r.iter - it_log) / fmax(t - t_log, 1e-9);
            float gn = NAN;
            ebm_tensor_t *g = ebm_optim_last_grad_norm(r.opt);
            if (g) ebm_tensor_read(g, &gn);
            char eta[32];
            fmt_duration((iters - r.iter) / fmax(rate, 1e-9), eta, sizeof eta);
            fprintf(stderr, "it %ld/%ld  %.2f it/s", r.iter, iters, rate);
            if (r.method == METHOD_CLASSIFY) fprintf(stderr, "  cross-entropy %.4f  batch accuracy %.3f", s.loss, s.aux);
            else fprintf(stderr, "  E+ %+.4f  E- %+.4f  loss %+.4f", s.e_pos, s.e_neg, s.loss);
            if (r.method != METHOD_CD && r.method != METHOD_CLASSIFY) fprintf(stderr, "  L_G %+.4f  %s %.4g", s.gen_loss, gen_aux_name(&r), s.aux);
            else if (r.method == METHOD_CD && ebm_config_bool(c, "loss", "kl")) fprintf(stderr, "  kl %+.4f  ent %+.3f", s.kl, s.ent);
            fprintf(stderr, "  |grad| %.3g  ETA %s\n", gn, eta);
            cJSON *row = metrics_row(NULL, r.iter);
            run_json_num(row, "e_pos", s.e_pos), run_json_num(row, "e_neg", s.e_neg), run_json_num(row, "loss", s.loss);
            if (r.method == METHOD_CLASSIFY) run_json_num(row, "accuracy", s.aux);
            else if (r.method != METHOD_CD) run_json_num(row, "gen_loss", s.gen_loss), run_json_num(row, gen_aux_name(&r), s.aux);
            else if (ebm_config_bool(c, "loss", "kl")) run_json_num(row, "kl", s.kl), run_json_num(row, "entropy", s.ent);
            run_json_num(row, "grad_norm", gn), run_json_num(row, "it_per_s", rate), run_json_num(row, "lr", ebm_optim_lr(r.opt));
            cJSON_AddNumberToObject(row, "elapsed_s", round((t - t0) * 1e3) / 1e3);
            /* a row that cannot be written (a full disk) stops the run: the last checkpoint stays */
            if (!rundir_metrics_append(r.dir, row, NULL)) goto done;
            t_log = t, it_log = r.iter;
        }
        if (r.iter % ckpt_every == 0 && r.iter < iters && !ckpt_save(&r, ckpt)) goto done;
        if (sample_every > 0 && r.iter % sample_every == 0 && r.iter < iters && !save_pictures(&r)) goto done;
    }
    sigaction(SIGINT, &old_sa, NULL);
    if (!ckpt_save(&r, ckpt) || !save_pictures(&r)) goto done;
    char last[1300];
    snprintf(last, sizeof last, "%s/samples/%s_%06ld.png", r.dir, r.toy ? "heatmap" : "samples", r.iter);
    fprintf(stderr, "ebm: %s after %ld iterations (%.1f s); checkpoint %s\n", interrupted ? "interrupted" : "done", r.iter,
            now_s() - t0, ckpt);
    printf("%s\n", r.method == METHOD_CLASSIFY ? ckpt : last);
    rc = interrupted ? 130 : 0;
done:
    rundir_unlock(lock);
    free(xhost);
    ebm_dataset_free(&ds);
    run_free(&r);
    return rc;
}

