/* train.c — the Langevin CD / improved-CD trainer and the sample, score and eval commands (train.h). */
#include "train.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "data.h"
#include "nets.h"
#include "sampler.h"

/* Defaults are IGEBM's (shared/METHODS.md method 1); the configs/icd-*.ini files set improved CD's. */
const ebm_config_key_t ebm_train_keys[] = {
    {"run", "seed", EBM_CFG_INT, "1", "seed of every random draw (initialisation, data order, sampler, buffer)"},
    {"run", "iters", EBM_CFG_INT, "2000", "training iterations"},
    {"run", "batch", EBM_CFG_INT, "128", "data examples and chains per iteration"},
    {"run", "log_every", EBM_CFG_INT, "50", "iterations between progress lines and metrics.jsonl rows"},
    {"run", "sample_every", EBM_CFG_INT, "500", "iterations between PNGs of the negatives (0: only at the end)"},
    {"run", "ckpt_every", EBM_CFG_INT, "500", "iterations between checkpoints (also written at the end and on Ctrl-C)"},
    {"run", "diverge_bound", EBM_CFG_FLOAT, "10", "divergence when |mean E(x+)| exceeds this (ICD aborts at 10; 0: NaN/Inf only)"},
    {"run", "max_rollbacks", EBM_CFG_INT, "5", "divergences rolled back (last checkpoint, new RNG stream) before the run stops"},
    {"run", "rollback_lr_scale", EBM_CFG_FLOAT, "1", "learning rate multiplied by this at each rollback (1: only a new RNG stream)"},
    {"data", "source", EBM_CFG_STRING, "fashion-mnist",
     "fashion-mnist | IDX file (.gz ok) | toy:8gaussians|25gaussians|swissroll|2spirals|rings | file.csv | image folder"},
    {"data", "size", EBM_CFG_INT, "0", "image side after centre-crop and resize (folders need it; 0: the file's size)"},
    {"data", "channels", EBM_CFG_INT, "0", "image-folder channels: 1 or 3 (0: 3)"},
    {"data", "limit", EBM_CFG_INT, "0", "use only the first N examples (0: all)"},
    {"data", "toy_n", EBM_CFG_INT, "50000", "points drawn for a 2-D toy data set"},
    {"data", "dequantize", EBM_CFG_BOOL, "true", "images: x*255/256 + U(0, 1/256), as ICD (ignored for vectors)"},
    {"model", "net", EBM_CFG_STRING, "convnet",
     "mlp | convnet | multiscale (sum of convnets on x, avgpool2(x), ...) | resnet (improved CD's, base = filters)"},
    {"model", "hidden", EBM_CFG_STRING, "128,128,128", "mlp: hidden widths"},
    {"model", "activation", EBM_CFG_STRING, "swish", "swish | lrelu (0.2) | relu | elu | softplus"},
    {"model", "base", EBM_CFG_INT, "32", "convnet: channels of the first layer (then 2x, 4x, 4x)"},
    {"model", "scales", EBM_CFG_INT, "3", "multiscale, resnet: number of resolutions (full, half, quarter, ...), one network each"},
    {"model", "stages", EBM_CFG_INT, "4", "resnet: stages of two residual blocks at full resolution (one fewer per coarser scale)"},
    {"model", "attention", EBM_CFG_BOOL, "true", "resnet: SAGAN self-attention after stage 2 (8x8 for 32x32 images)"},
    {"sampler", "steps", EBM_CFG_INT, "60", "Langevin steps per iteration (K)"},
    {"sampler", "step_size", EBM_CFG_FLOAT, "10", "eta: x <- x - eta * grad_x E"},
    {"sampler", "noise", EBM_CFG_FLOAT, "0.005", "sigma: x <- x + sigma * N(0, 1)"},
    {"sampler", "grad_clip", EBM_CFG_FLOAT, "0.01", "clip each component of grad_x E to [-c, c] (0: off)"},
    {"sampler", "clamp", EBM_CFG_BOOL, "true", "clamp x to [init_lo, init_hi] after every step"},
    {"sampler", "noise_first", EBM_CFG_BOOL, "true", "add the noise before the gradient step (IGEBM/ICD order)"},
    {"sampler", "init_lo", EBM_CFG_FLOAT, "0", "fresh chains start from U(init_lo, init_hi)"},
    {"sampler", "init_hi", EBM_CFG_FLOAT, "1", "upper end of the fresh-chain range (and of the clamp)"},
    {"buffer", "capacity", EBM_CFG_INT, "10000", "replay buffer rows (0: every chain starts from noise)"},
    {"buffer", "reinit", EBM_CFG_FLOAT, "0.05", "probability that a drawn chain restarts from noise"},
    {"buffer", "reservoir", EBM_CFG_BOOL, "false", "reservoir sampling (ICD) instead of FIFO (IGEBM)"},
    {"buffer", "uint8", EBM_CFG_BOOL, "false", "store 8-bit codes of [init_lo, init_hi] (IGEBM/ICD; 4x less memory), read back dequantised"},
    {"augment", "enable", EBM_CFG_BOOL, "false", "augmentation transition on every buffer draw (ICD; images only)"},
    {"augment", "crop_scale_min", EBM_CFG_FLOAT, "0.08", "random resized crop: smallest area fraction (1: no crop)"},
    {"augment", "flip", EBM_CFG_BOOL, "true", "random horizontal flip (p = 0.5)"},
    {"augment", "brightness", EBM_CFG_FLOAT, "0.8", "colour jitter: brightness factor in [1-b, 1+b]"},
    {"augment", "contrast", EBM_CFG_FLOAT, "0.8", "colour jitter: contrast factor in [1-c, 1+c]"},
    {"augment", "saturation", EBM_CFG_FLOAT, "0.8", "colour jitter: saturation factor in [1-s, 1+s]"},
    {"augment", "hue", EBM_CFG_FLOAT, "0.4", "colour jitter: hue shift in [-h, h] turns (h <= 0.5)"},
    {"augment", "jitter_p", EBM_CFG_FLOAT, "0.8", "probability of the colour jitter"},
    {"augment", "gray_p", EBM_CFG_FLOAT, "0.2", "probability of converting to grayscale"},
    {"augment", "blur_p", EBM_CFG_FLOAT, "0", "probability of a Gaussian blur (ICD: 0.5 for CelebA-size images)"},
    {"augment", "blur_sigma_max", EBM_CFG_FLOAT, "2", "blur sigma drawn from U(0.1, max)"},
    {"augment", "blur_kernel", EBM_CFG_INT, "5", "blur kernel side (odd)"},
    {"augment", "sample_every", EBM_CFG_INT, "40", "ebm sample: a transition every this many steps (ICD: 20-60; 0: never)"},
    {"loss", "reg", EBM_CFG_FLOAT, "1", "alpha: + alpha * (mean E(x+)^2 + mean E(x-)^2)"},
    {"loss", "kl", EBM_CFG_BOOL, "false", "improved CD's KL term through the last Langevin step (second-order autodiff)"},
    {"loss", "kl_coeff", EBM_CFG_FLOAT, "1", "weight of mean E_frozen(x_kl)"},
    {"loss", "entropy_coeff", EBM_CFG_FLOAT, "0.3", "weight of the nearest-neighbour entropy term (with kl; 0: off)"},
    {"loss", "entropy_samples", EBM_CFG_INT, "100", "buffer samples the nearest neighbour is searched among"},
    {"loss", "entropy_min_buffer", EBM_CFG_INT, "1000", "entropy term only once the buffer holds more rows than this"},
    {"optim", "lr", EBM_CFG_FLOAT, "3e-4", "Adam learning rate"},
    {"optim", "beta1", EBM_CFG_FLOAT, "0", "Adam beta1"},
    {"optim", "beta2", EBM_CFG_FLOAT, "0.999", "Adam beta2"},
    {"optim", "eps", EBM_CFG_FLOAT, "1e-8", "Adam epsilon"},
    {"optim", "clip_norm", EBM_CFG_FLOAT, "0", "global gradient-norm clip (ICD 0.5; 0: off)"},
    {"optim", "ema", EBM_CFG_FLOAT, "0", "EMA decay of the weights used by sample/score/eval (ICD 0.99; 0: off)"},
    {"eval", "n", EBM_CFG_INT, "1000", "chains for ebm eval / heat maps"},
    {"eval", "steps", EBM_CFG_INT, "200", "Langevin steps of ebm eval and ebm sample"},
    {"eval", "init", EBM_CFG_STRING, "noise", "chains start from noise | buffer"},
    {"eval", "min_per_mode", EBM_CFG_INT, "10", "2-D mixtures: samples within 3 sigma a mode needs to count as covered"},
    {NULL, NULL, 0, NULL, NULL}};

#define CKPT_NAME "checkpoint.safetensors"
#define CKPT_FORMAT "ebm-cl checkpoint 1"
#define ERR(...) fprintf(stderr, "ebm: " __VA_ARGS__)

typedef struct run {
    ebm_config_t *cfg;
    ebm_ctx_t *ctx;
    ebm_params_t *ps;
    ebm_net_t *net;
    ebm_optim_t *opt;
    ebm_ema_t *ema;
    ebm_replay_t *rb;
    int ndim, shape[3];   /* per-sample shape */
    size_t numel;
    int flatten;          /* images into an MLP */
    int toy;
    char toy_name[32];
    ebm_langevin_cfg_t lc;
    uint64_t seed;
    long iter;
    int rollbacks;
    float lr_scale;
    char dir[1024];
} run_t;

/* ---------- model ---------- */

static ebm_tensor_t *energy_fn(void *user, ebm_tensor_t *x) {
    run_t *r = user;
    if (r->flatten) x = ebm_reshape(x, 2, (int[]){ebm_tensor_dim(x, 0), -1});
    return ebm_net_energy(r->net, x);
}

static int parse_ints(const char *s, int *out, int max) {
    int n = 0;
    while (*s && n < max) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0 || v > 1 << 20) return -1;
        out[n++] = (int)v;
        s = end;
        while (*s == ',' || *s == ' ') s++;
    }
    return *s ? -1 : n;
}

static void run_free(run_t *r) {
    ebm_replay_free(r->rb);
    ebm_ema_free(r->ema);
    ebm_optim_free(r->opt);
    ebm_net_free(r->net);
    ebm_params_free(r->ps);
    if (r->ctx) ebm_ctx_free(r->ctx);
    memset(r, 0, sizeof *r);
}

/* Context, network (initialised from seed), optimizer, EMA and buffer for a sample shape. */
static int run_build(run_t *r, ebm_config_t *cfg, const char *device, int ndim, const int *shape) {
    const ebm_config_t *c = cfg;
    r->cfg = cfg;
    r->ndim = ndim;
    memcpy(r->shape, shape, sizeof(int) * ndim);
    r->numel = 1;
    for (int i = 0; i < ndim; i++) r->numel *= (size_t)shape[i];
    r->seed = (uint64_t)ebm_config_int(c, "run", "seed");
    r->lr_scale = 1;
    if (ebm_ctx_create(&r->ctx, device) != EBM_OK) {
        ERR("%s\n", ebm_ctx_error(NULL));
        return 0;
    }
    r->ps = ebm_params_new(r->ctx);
    const char *net = ebm_config_str(c, "model", "net");
    int base = (int)ebm_config_int(c, "model", "base"), scales = (int)ebm_config_int(c, "model", "scales");
    if (!strcmp(net, "mlp")) {
        int hidden[8], nh = parse_ints(ebm_config_str(c, "model", "hidden"), hidden, 8);
        if (nh < 0) {
            ERR("[model] hidden = \"%s\": expected up to 8 comma-separated positive widths\n", ebm_config_str(c, "model", "hidden"));
            return 0;
        }
        r->flatten = ndim > 1;
        r->net = ebm_net_mlp(r->ps, "", (int)r->numel, hidden, nh, 1);
    } else if (!strcmp(net, "convnet") || !strcmp(net, "multiscale")) {
        if (ndim != 3) {
            ERR("[model] net = %s needs images (C, H, W), but the data are vectors of %zu numbers; use net = mlp\n", net, r->numel);
            return 0;
        }
        if (base < 1 || scales < 1 || scales > 4 || shape[1] >> (scales - 1) < 4) {
            ERR("[model] base = %d, scales = %d do not fit %dx%d images (base >= 1, 1 <= scales <= 4, smallest scale >= 4 pixels)\n",
                base, scales, shape[1], shape[2]);
            return 0;
        }
        r->net = !strcmp(net, "convnet") ? ebm_net_convnet(r->ps, "", shape[0], base)
                                         : ebm_net_multiscale(r->ps, "", shape[0], base, scales);
    } else if (!strcmp(net, "resnet")) {
        int stages = (int)ebm_config_int(c, "model", "stages");
        if (ndim != 3 || base < 1 || scales < 1 || scales > 4 || stages < 1 || stages > 6) {
            ERR("[model] net = resnet needs images and base >= 1, 1 <= scales <= 4, 1 <= stages <= 6\n");
            return 0;
        }
        r->net = ebm_net_resnet(r->ps, "", shape[0], base, stages, ebm_config_bool(c, "model", "attention"), scales);
    } else {
        ERR("[model] net = \"%s\": expected mlp, convnet, multiscale or resnet\n", net);
        return 0;
    }
    if (r->net && ebm_net_set_activation(r->net, ebm_config_str(c, "model", "activation")) != EBM_OK) {
        ERR("[model] activation = \"%s\": expected swish, lrelu, relu, elu or softplus\n", ebm_config_str(c, "model", "activation"));
        return 0;
    }
    if (!r->net || ebm_params_finalize(r->ps) != EBM_OK) {
        ERR("building the network: %s\n", ebm_ctx_error(r->ctx));
        return 0;
    }
    ebm_rng_t init = ebm_rng_make(r->seed, 0);
    ebm_net_init(r->net, &init);
    float lr = (float)ebm_config_float(c, "optim", "lr");
    r->opt = ebm_optim_new(r->ps, &(ebm_optim_config_t){.kind = EBM_OPTIM_ADAM,
                                                         .lr = lr,
                                                         .beta1 = (float)ebm_config_float(c, "optim", "beta1"),
                                                         .beta2 = (float)ebm_config_float(c, "optim", "beta2"),
                                                         .eps = (float)ebm_config_float(c, "optim", "eps"),
                                                         .clip_norm = (float)ebm_config_float(c, "optim", "clip_norm")});
    float ema = (float)ebm_config_float(c, "optim", "ema");
    if (ema > 0) r->ema = ebm_ema_new(r->ps, ema);
    float lo = (float)ebm_config_float(c, "sampler", "init_lo"), hi = (float)ebm_config_float(c, "sampler", "init_hi");
    if (!(hi > lo)) {
        ERR("[sampler] init_lo = %g must be below init_hi = %g\n", lo, hi);
        return 0;
    }
    int cap = (int)ebm_config_int(c, "buffer", "capacity");
    if (cap > 0)
        r->rb = ebm_replay_new(r->ctx, ndim, shape,
                               &(ebm_replay_cfg_t){.capacity = cap,
                                                   .reinit_prob = (float)ebm_config_float(c, "buffer", "reinit"),
                                                   .init_lo = lo,
                                                   .init_hi = hi,
                                                   .reservoir = ebm_config_bool(c, "buffer", "reservoir"),
                                                   .uint8 = ebm_config_bool(c, "buffer", "uint8")});
    int clamp = ebm_config_bool(c, "sampler", "clamp");
    r->lc = (ebm_langevin_cfg_t){.steps = (int)ebm_config_int(c, "sampler", "steps"),
                                 .step_size = (float)ebm_config_float(c, "sampler", "step_size"),
                                 .noise = (float)ebm_config_float(c, "sampler", "noise"),
                                 .grad_clip = (float)ebm_config_float(c, "sampler", "grad_clip"),
                                 .clamp_lo = clamp ? lo : 0,
                                 .clamp_hi = clamp ? hi : 0,
                                 .noise_first = ebm_config_bool(c, "sampler", "noise_first")};
    if (!r->opt || (ema > 0 && !r->ema) || (cap > 0 && !r->rb) || ebm_ctx_status(r->ctx) != EBM_OK) {
        ERR("%s\n", ebm_ctx_error(r->ctx));
        return 0;
    }
    return 1;
}

/* ---------- checkpoints ---------- */

static char *shape_string(const run_t *r, char *buf, size_t n) {
    size_t len = 0;
    for (int i = 0; i < r->ndim; i++) len += (size_t)snprintf(buf + len, n - len, "%s%d", i ? "," : "", r->shape[i]);
    return buf;
}

/* params, ema.<name>, optim.<k>, replay.buffer; for_save: the EMA weights and buffer contents, else
 * empty tensors to load them into */
static int ckpt_tensors(run_t *r, ebm_named_tensor_t *ts, char **names, int for_save) {
    int n = 0, np = ebm_params_count(r->ps);
    for (int i = 0; i < np; i++) ts[n++] = (ebm_named_tensor_t){ebm_params_name(r->ps, i), ebm_params_get(r->ps, i)};
    if (r->ema) {
        if (for_save) ebm_ema_swap(r->ema);
        for (int i = 0; i < np; i++) {
            ebm_tensor_t *p = ebm_params_get(r->ps, i);
            size_t len = strlen(ebm_params_name(r->ps, i)) + 5;
            names[i] = malloc(len);
            snprintf(names[i], len, "ema.%s", ebm_params_name(r->ps, i));
            ts[n++] = (ebm_named_tensor_t){names[i], for_save ? ebm_tensor_clone(p)
                                                                     : ebm_tensor_zeros(r->ctx, ebm_tensor_ndim(p), ebm_tensor_shape(p))};
        }
        if (for_save) ebm_ema_swap(r->ema);
    }
    if (r->opt) {
        if (ebm_optim_state(r->opt, 0)) ts[n++] = (ebm_named_tensor_t){"optim.exp_avg", ebm_optim_state(r->opt, 0)};
        if (ebm_optim_state(r->opt, 1)) ts[n++] = (ebm_named_tensor_t){"optim.exp_avg_sq", ebm_optim_state(r->opt, 1)};
    }
    if (r->rb) {   /* values, or 8-bit codes 0..255 (buffer.uint8) */
        int shape[4] = {(int)ebm_config_int(r->cfg, "buffer", "capacity"), r->shape[0], r->shape[1], r->shape[2]};
        ts[n++] = (ebm_named_tensor_t){"replay.buffer", for_save ? ebm_replay_export(r->rb) : ebm_tensor_zeros(r->ctx, r->ndim + 1, shape)};
    }
    return n;
}

static int ckpt_save(run_t *r, const char *path) {
    int np = ebm_params_count(r->ps), ok;
    ebm_named_tensor_t *ts = calloc((size_t)2 * np + 4, sizeof *ts);
    char **names = calloc((size_t)np + 1, sizeof *names), err[1024];
    ebm_scope_begin(r->ctx);
    int n = ckpt_tensors(r, ts, names, 1);
    char iter[32], seed[32], rb[32], lrs[32], steps[32], rsize[32], rpos[32], rseen[32], shape[64];
    long size = 0, pos = 0, seen = 0;
    if (r->rb) ebm_replay_state(r->rb, &size, &pos, &seen);
    snprintf(iter, sizeof iter, "%ld", r->iter);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->seed);
    snprintf(rb, sizeof rb, "%d", r->rollbacks);
    snprintf(lrs, sizeof lrs, "%.9g", r->lr_scale);
    snprintf(steps, sizeof steps, "%ld", ebm_optim_steps(r->opt));
    snprintf(rsize, sizeof rsize, "%ld", size);
    snprintf(rpos, sizeof rpos, "%ld", pos);
    snprintf(rseen, sizeof rseen, "%ld", seen);
    char *config = ebm_config_to_string(r->cfg);
    ebm_kv_t meta[] = {{"format", CKPT_FORMAT},    {"ebm_version", EBM_VERSION},   {"config", config ? config : ""},
                       {"sample_shape", shape_string(r, shape, sizeof shape)},   {"iter", iter},
                       {"seed", seed},             {"rollbacks", rb},              {"lr_scale", lrs},
                       {"optim_steps", steps},     {"replay_size", rsize},         {"replay_pos", rpos},
                       {"replay_seen", rseen}};
    ok = ebm_ctx_status(r->ctx) == EBM_OK &&
         ebm_safetensors_save(path, ts, n, meta, (int)(sizeof meta / sizeof *meta), err, sizeof err) == EBM_OK;
    if (!ok) ERR("writing checkpoint: %s\n", ebm_ctx_status(r->ctx) != EBM_OK ? ebm_ctx_error(r->ctx) : err);
    ebm_scope_end(r->ctx);
    free(config);
    for (int i = 0; i < np; i++) free(names[i]);
    free(names);
    free(ts);
    return ok;
}

static const char *meta_get(cJSON *m, const char *key) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The config stored in a checkpoint, for resuming or sampling. */
static int ckpt_config(const char *path, ebm_config_t *cfg, int *ndim, int *shape) {
    char err[1024], *meta = NULL;
    if (ebm_safetensors_load(path, NULL, 0, &meta, err, sizeof err) != EBM_OK) {
        ERR("%s\n", err);
        return 0;
    }
    cJSON *m = cJSON_Parse(meta ? meta : "");
    free(meta);
    const char *fmt = meta_get(m, "format"), *text = meta_get(m, "config"), *shp = meta_get(m, "sample_shape");
    int ok = 0;
    if (!fmt || strcmp(fmt, CKPT_FORMAT) || !text || !shp)
        ERR("%s: not an ebm-cl training checkpoint (its __metadata__ lacks format \"%s\", config or sample_shape)\n", path,
            CKPT_FORMAT);
    else if (ebm_config_load_string(cfg, text, path, err, sizeof err) != EBM_OK)
        ERR("%s: its saved config: %s\n", path, err);
    else if ((*ndim = parse_ints(shp, shape, 3)) < 1)
        ERR("%s: bad sample_shape \"%s\" in __metadata__\n", path, shp);
    else
        ok = 1;
    cJSON_Delete(m);
    return ok;
}

int ebm_checkpoint_load_config(const char *path, ebm_config_t *cfg) {
    int nd, sh[3];
    return ckpt_config(path, cfg, &nd, sh);
}

/* Loads everything the run has (EMA, optimizer and buffer when present) and the counters. */
static int ckpt_load(run_t *r, const char *path) {
    int np = ebm_params_count(r->ps), ok = 0;
    ebm_named_tensor_t *ts = calloc((size_t)2 * np + 4, sizeof *ts);
    char **names = calloc((size_t)np + 1, sizeof *names), err[1024], *meta = NULL;
    ebm_scope_begin(r->ctx);
    int n = ckpt_tensors(r, ts, names, 0);
    if (ebm_safetensors_load(path, ts, n, &meta, err, sizeof err) != EBM_OK) ERR("%s\n", err);
    else {
        if (r->ema) {   /* the loaded ema.* tensors into the EMA buffer */
            ebm_ema_swap(r->ema);
            for (int i = 0; i < np; i++) ebm_tensor_copy_into(ebm_params_get(r->ps, i), ts[np + i].t);
            ebm_ema_swap(r->ema);
        }
        if (r->rb) ebm_replay_import(r->rb, ts[n - 1].t);
        cJSON *m = cJSON_Parse(meta ? meta : "");
        const char *it = meta_get(m, "iter"), *rbk = meta_get(m, "rollbacks"), *st = meta_get(m, "optim_steps"),
                   *lrs = meta_get(m, "lr_scale"), *sz = meta_get(m, "replay_size"), *ps = meta_get(m, "replay_pos"),
                   *sn = meta_get(m, "replay_seen");
        if (!it || !rbk || !st || !lrs || !sz || !ps || !sn)
            ERR("%s: __metadata__ lacks the training counters (iter, rollbacks, optim_steps, lr_scale, replay_*)\n", path);
        else {
            r->iter = atol(it);
            r->rollbacks = atoi(rbk);
            r->lr_scale = (float)atof(lrs);
            ebm_optim_set_steps(r->opt, atol(st));
            ebm_optim_set_lr(r->opt, (float)ebm_config_float(r->cfg, "optim", "lr") * r->lr_scale);
            if (r->rb) ebm_replay_set_state(r->rb, atol(sz), atol(ps), atol(sn));
            ok = ebm_ctx_status(r->ctx) == EBM_OK;
            if (!ok) ERR("%s: %s\n", path, ebm_ctx_error(r->ctx));
        }
        cJSON_Delete(m);
    }
    free(meta);
    ebm_scope_end(r->ctx);
    for (int i = 0; i < np; i++) free(names[i]);
    free(names);
    free(ts);
    return ok;
}

/* For sampling and scoring: a run with the checkpoint's weights (EMA ones unless raw). */
static int run_open_checkpoint(run_t *r, ebm_config_t *cfg, const char *path, const char *device, int raw) {
    int ndim, shape[3];
    if (!ckpt_config(path, cfg, &ndim, shape) || !run_build(r, cfg, device, ndim, shape) || !ckpt_load(r, path)) return 0;
    if (r->ema && !raw) ebm_ema_swap(r->ema);
    const char *src = ebm_config_str(cfg, "data", "source");
    r->toy = !strncmp(src, "toy:", 4) && ndim == 1 && shape[0] == 2;
    if (r->toy) snprintf(r->toy_name, sizeof r->toy_name, "%s", src + 4);
    snprintf(r->dir, sizeof r->dir, "%s", path);
    char *slash = strrchr(r->dir, '/');
    if (slash) *slash = 0;
    else snprintf(r->dir, sizeof r->dir, ".");
    return 1;
}

/* ---------- pictures ---------- */

/* A 256x256 heat map of exp(-E/T) over [lo, hi]^2 (T the sampler's temperature sigma^2 / (2 eta)),
 * with the samples on top as white dots. */
static int write_heatmap(run_t *r, const char *path, const float *xy, int n) {
    enum { G = 256 };
    float lo = (float)ebm_config_float(r->cfg, "sampler", "init_lo"), hi = (float)ebm_config_float(r->cfg, "sampler", "init_hi");
    float T = r->lc.noise > 0 ? r->lc.noise * r->lc.noise / (2 * r->lc.step_size) : 1.0f;
    float *pts = malloc(sizeof(float) * G * G * 2), *e = malloc(sizeof(float) * G * G), *img = malloc(sizeof(float) * 3 * G * G);
    int ok = 0;
    if (!pts || !e || !img) goto out;
    for (int i = 0; i < G; i++)
        for (int j = 0; j < G; j++) {
            pts[2 * (i * G + j)] = lo + (hi - lo) * (j + 0.5f) / G;
            pts[2 * (i * G + j) + 1] = hi - (hi - lo) * (i + 0.5f) / G;   /* y up */
        }
    ebm_scope_begin(r->ctx);
    int was = ebm_grad_set_enabled(r->ctx, 0);
    ebm_tensor_t *x = ebm_tensor_from_host(r->ctx, 2, (int[]){G * G, 2}, pts);
    ebm_tensor_t *en = energy_fn(r, x);
    ok = en && ebm_tensor_read(en, e) == EBM_OK;
    ebm_grad_set_enabled(r->ctx, was);
    ebm_scope_end(r->ctx);
    if (!ok) goto out;
    float emin = INFINITY;
    for (int i = 0; i < G * G; i++) emin = isfinite(e[i]) && e[i] < emin ? e[i] : emin;
    for (int i = 0; i < G * G; i++) {
        float d = isfinite(e[i]) ? expf(-(e[i] - emin) / T) : 0, v = sqrtf(d);   /* sqrt: shows the tails */
        img[i] = fminf(1, 1.6f * v), img[G * G + i] = fmaxf(0, 1.4f * v - 0.4f), img[2 * G * G + i] = 0.35f * v + 0.15f * (1 - v);
    }
    for (int k = 0; k < n; k++) {
        int j = (int)((xy[2 * k] - lo) / (hi - lo) * G), i = (int)((hi - xy[2 * k + 1]) / (hi - lo) * G);
        if (i < 0 || j < 0 || i >= G || j >= G) continue;
        for (int c = 0; c < 3; c++) img[c * G * G + i * G + j] = 1;
    }
    char err[1024];
    ok = ebm_png_grid(path, img, 1, 3, G, G, 1, err, sizeof err) == EBM_OK;
    if (!ok) ERR("%s\n", err);
out:
    free(pts), free(e), free(img);
    return ok;
}

/* PNG of samples x (device): an image grid, or for 2-D data the heat map. */
static int write_samples(run_t *r, const char *path, ebm_tensor_t *x) {
    int B = ebm_tensor_dim(x, 0);
    float *h = malloc(sizeof(float) * B * r->numel);
    int ok = h && ebm_tensor_read(x, h) == EBM_OK;
    char err[1024];
    if (ok && r->toy) ok = write_heatmap(r, path, h, B);
    else if (ok && r->ndim == 3 && (r->shape[0] == 1 || r->shape[0] == 3)) {
        int n = B < 64 ? B : 64, cols = (int)ceil(sqrt(n));
        ok = ebm_png_grid(path, h, n, r->shape[0], r->shape[1], r->shape[2], cols, err, sizeof err) == EBM_OK;
        if (!ok) ERR("%s\n", err);
    }
    free(h);
    return ok;
}

/* ---------- augmentation ---------- */

static ebm_augment_cfg_t augment_cfg(const ebm_config_t *c) {
    return (ebm_augment_cfg_t){.crop_scale_min = (float)ebm_config_float(c, "augment", "crop_scale_min"),
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
}

static ebm_tensor_t *augment(run_t *r, ebm_tensor_t *x, ebm_rng_t *rng) {
    if (!ebm_config_bool(r->cfg, "augment", "enable") || r->ndim != 3) return x;
    ebm_augment_cfg_t ac = augment_cfg(r->cfg);
    return ebm_augment(x, &ac, rng);
}

/* ---------- training ---------- */

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

/* every random draw of iteration `it` comes from this stream; a rollback moves to fresh streams */
static ebm_rng_t iter_rng(const run_t *r, long it) { return ebm_rng_make(r->seed, 1 + (uint64_t)it + ((uint64_t)r->rollbacks << 40)); }

typedef struct stats {
    float e_pos, e_neg, loss, kl, ent;
} stats_t;

/* One iteration. Returns 1 done, 0 diverged (nothing updated), -1 error. */
static int train_step(run_t *r, ebm_dataset_t *ds, float *xpos_host, stats_t *s, double bound) {
    const ebm_config_t *c = r->cfg;
    int B = (int)ebm_config_int(c, "run", "batch");
    ebm_rng_t rng = iter_rng(r, r->iter);
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
    if (r->rb) x0 = augment(r, ebm_replay_sample(r->rb, B, &rng), &rng);
    else x0 = ebm_rand_uniform(ctx, &rng, r->ndim + 1, shape, (float)ebm_config_float(c, "sampler", "init_lo"),
                               (float)ebm_config_float(c, "sampler", "init_hi"));
    ebm_langevin_cfg_t lc = r->lc;
    if (kl && lc.steps > 0) lc.steps--;
    ebm_tensor_t *xneg = ebm_langevin(ctx, energy_fn, r, x0, &lc, &rng), *xkl = NULL;
    if (kl && r->lc.steps > 0 && xneg) {
        /* the last step with its graph: x_kl = clamp(x - eta grad_x E_theta(x)), theta live */
        int clamp = lc.clamp_lo != lc.clamp_hi;
        float lo = clamp ? lc.clamp_lo : -INFINITY, hi = clamp ? lc.clamp_hi : INFINITY;
        ebm_tensor_t *xs = lc.noise_first ? ebm_langevin_update(xneg, xneg, 0.0f, lc.noise, 0.0f, lo, hi, &rng) : xneg, *g = NULL;
        xs = ebm_detach(xs);
        ebm_tensor_set_requires_grad(xs, 1);
        ebm_tensor_t *tot = ebm_sum_all(energy_fn(r, xs));
        if (tot && ebm_grad(&tot, 1, NULL, &xs, 1, &g, 1) == EBM_OK) {
            if (lc.grad_clip > 0) g = ebm_clamp(g, -lc.grad_clip, lc.grad_clip);
            xkl = ebm_sub(xs, ebm_scale(g, lc.step_size));
            if (clamp) xkl = ebm_clamp(xkl, lo, hi);
            xneg = ebm_detach(xkl);
            if (!lc.noise_first && lc.noise > 0) xneg = ebm_langevin_update(xneg, xneg, 0.0f, lc.noise, 0.0f, lo, hi, &rng);
        }
    }
    ebm_tensor_t *epos = energy_fn(r, xpos), *eneg = energy_fn(r, xneg);
    ebm_tensor_t *mp = ebm_mean_all(epos), *mn = ebm_mean_all(eneg);
    ebm_tensor_t *loss = ebm_add(ebm_sub(mp, mn), ebm_scale(ebm_add(ebm_mean_all(ebm_square(epos)), ebm_mean_all(ebm_square(eneg))), alpha));
    ebm_tensor_t *klt = NULL, *entt = NULL;
    if (xkl) {
        int was = ebm_params_set_frozen(ctx, 1);
        klt = ebm_mean_all(energy_fn(r, xkl));
        ebm_params_set_frozen(ctx, was);
        loss = ebm_add(loss, ebm_scale(klt, (float)ebm_config_float(c, "loss", "kl_coeff")));
        float ec = (float)ebm_config_float(c, "loss", "entropy_coeff");
        int ns = (int)ebm_config_int(c, "loss", "entropy_samples");
        if (ec > 0 && ns > 0 && r->rb && ebm_replay_size(r->rb) > ebm_config_int(c, "loss", "entropy_min_buffer")) {
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
    *s = (stats_t){hv[0], hv[1], hv[2], hv[3], hv[4]};
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

static void json_num(FILE *f, const char *key, double v) {
    if (isfinite(v)) fprintf(f, ",\"%s\":%.7g", key, v);
    else fprintf(f, ",\"%s\":null", key);
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
    ebm_scope_begin(r->ctx);
    ebm_tensor_t *x;
    if (r->rb && ebm_replay_size(r->rb) > 0) x = ebm_replay_sample(r->rb, n, &rng);
    else {
        int shape[4] = {n, r->shape[0], r->shape[1], r->shape[2]};
        x = ebm_rand_uniform(r->ctx, &rng, r->ndim + 1, shape, (float)ebm_config_float(r->cfg, "sampler", "init_lo"),
                             (float)ebm_config_float(r->cfg, "sampler", "init_hi"));
    }
    if (r->ema) ebm_ema_swap(r->ema);
    ebm_langevin_cfg_t lc = r->lc;
    lc.steps = (int)ebm_config_int(r->cfg, "eval", "steps");
    x = ebm_langevin(r->ctx, energy_fn, r, x, &lc, &rng);
    if (r->ema) ebm_ema_swap(r->ema);
    int ok = x && write_samples(r, path, x);
    ebm_scope_end(r->ctx);
    return ok;
}

int ebm_train(ebm_config_t *cfg, const char *device, const char *out_dir, const char *resume_dir) {
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
                             .seed = (uint64_t)ebm_config_int(c, "run", "seed")};
    if (ebm_dataset_open(&ds, ebm_config_str(c, "data", "source"), &dopts, err, sizeof err) != EBM_OK) {
        ERR("%s\n", err);
        return 1;
    }
    run_t r = {0};
    int rc = 1;
    float *xhost = malloc(sizeof(float) * B * ds.sample_numel);
    FILE *metrics = NULL;
    snprintf(r.dir, sizeof r.dir, "%s", out_dir ? out_dir : resume_dir);
    snprintf(ckpt, sizeof ckpt, "%s/" CKPT_NAME, r.dir);
    char samples_dir[1100];
    snprintf(samples_dir, sizeof samples_dir, "%s/samples", r.dir);
    if (!xhost || !mkdirs(samples_dir)) {
        ERR("%s: cannot create the run directory: %s\n", r.dir, strerror(errno));
        goto done;
    }
    if (!run_build(&r, cfg, device, ds.ndim, ds.shape)) goto done;
    r.toy = ds.toy && ebm_toy_modes(ds.toy_name, NULL, 0, NULL) >= 0 && ds.shape[0] == 2;
    snprintf(r.toy_name, sizeof r.toy_name, "%s", ds.toy_name);
    if (resume_dir) {
        char from[1200];
        snprintf(from, sizeof from, "%s/" CKPT_NAME, resume_dir);
        if (!ckpt_load(&r, from)) goto done;
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
    char mpath[1200];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", r.dir);
    if (!(metrics = fopen(mpath, "a"))) {
        ERR("%s: %s\n", mpath, strerror(errno));
        goto done;
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
    long it0 = r.iter, it_log = r.iter;
    stats_t s = {0};
    while (r.iter < iters && !interrupted) {
        int st = train_step(&r, &ds, xhost, &s, bound);
        if (st < 0) goto done;
        if (st == 0) {
            fprintf(stderr, "ebm: divergence at iteration %ld: mean E(x+) = %g, mean E(x-) = %g, loss = %g (run.diverge_bound = %g)\n",
                    r.iter, s.e_pos, s.e_neg, s.loss, bound);
            fprintf(metrics, "{\"event\":\"divergence\",\"iter\":%ld", r.iter);
            json_num(metrics, "e_pos", s.e_pos), json_num(metrics, "e_neg", s.e_neg), json_num(metrics, "loss", s.loss);
            fprintf(metrics, "}\n");
            fflush(metrics);
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
            ebm_optim_set_lr(r.opt, (float)ebm_config_float(c, "optim", "lr") * scale);
            fprintf(stderr, "ebm: rolled back to the checkpoint of iteration %ld with a new RNG stream (rollback %d of at most %d; lr %g)\n",
                    r.iter, r.rollbacks, max_rb, ebm_optim_lr(r.opt));
            fprintf(metrics, "{\"event\":\"rollback\",\"iter\":%ld,\"rollbacks\":%d,\"lr\":%g}\n", r.iter, r.rollbacks,
                    ebm_optim_lr(r.opt));
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
            fprintf(stderr, "it %ld/%ld  %.2f it/s  E+ %+.4f  E- %+.4f  loss %+.4f", r.iter, iters, rate, s.e_pos, s.e_neg, s.loss);
            if (ebm_config_bool(c, "loss", "kl")) fprintf(stderr, "  kl %+.4f  ent %+.3f", s.kl, s.ent);
            fprintf(stderr, "  |grad| %.3g  ETA %s\n", gn, eta);
            fprintf(metrics, "{\"iter\":%ld", r.iter);
            json_num(metrics, "e_pos", s.e_pos), json_num(metrics, "e_neg", s.e_neg), json_num(metrics, "loss", s.loss);
            if (ebm_config_bool(c, "loss", "kl")) json_num(metrics, "kl", s.kl), json_num(metrics, "entropy", s.ent);
            json_num(metrics, "grad_norm", gn), json_num(metrics, "it_per_s", rate), json_num(metrics, "lr", ebm_optim_lr(r.opt));
            fprintf(metrics, ",\"elapsed_s\":%.3f}\n", t - t0);
            fflush(metrics);
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
    (void)it0;
    printf("%s\n", last);
    rc = interrupted ? 130 : 0;
done:
    if (metrics) fclose(metrics);
    free(xhost);
    ebm_dataset_free(&ds);
    run_free(&r);
    return rc;
}

/* ---------- sample, score, eval ---------- */

static ebm_tensor_t *draw_samples(run_t *r, const ebm_sample_opts_t *o, int n, double *accept) {
    (void)accept;
    const ebm_config_t *c = r->cfg;
    ebm_rng_t rng = ebm_rng_make(o->seed ? o->seed : r->seed, 0x53414d50ull);   /* "SAMP" */
    const char *init = o->init ? o->init : ebm_config_str(c, "eval", "init");
    int steps = o->steps >= 0 ? o->steps : (int)ebm_config_int(c, "eval", "steps");
    int aug_every = o->augment_every >= 0 ? o->augment_every : (int)ebm_config_int(c, "augment", "sample_every");
    if (!ebm_config_bool(c, "augment", "enable") || r->ndim != 3) aug_every = 0;
    int shape[4] = {n, r->shape[0], r->shape[1], r->shape[2]};
    ebm_tensor_t *x;
    if (!strcmp(init, "buffer")) {
        if (!r->rb || ebm_replay_size(r->rb) == 0) {
            ERR("init = buffer, but the checkpoint has no replay buffer rows\n");
            return NULL;
        }
        x = ebm_replay_sample(r->rb, n, &rng);
    } else if (!strcmp(init, "noise"))
        x = ebm_rand_uniform(r->ctx, &rng, r->ndim + 1, shape, (float)ebm_config_float(c, "sampler", "init_lo"),
                             (float)ebm_config_float(c, "sampler", "init_hi"));
    else {
        ERR("init = \"%s\": expected noise or buffer\n", init);
        return NULL;
    }
    ebm_langevin_cfg_t lc = r->lc;
    for (int done = 0; x && done < steps;) {
        lc.steps = aug_every > 0 ? (steps - done < aug_every ? steps - done : aug_every) : steps - done;
        x = ebm_langevin(r->ctx, energy_fn, r, x, &lc, &rng);
        done += lc.steps;
        if (aug_every > 0 && done < steps) x = augment(r, x, &rng);
    }
    if (!x) ERR("sampling: %s\n", ebm_ctx_error(r->ctx));
    return x;
}

int ebm_sample(const char *checkpoint, const char *device, const ebm_sample_opts_t *o) {
    ebm_config_t *cfg = ebm_config_new(ebm_train_keys);
    run_t r = {0};
    int rc = 1;
    if (cfg && run_open_checkpoint(&r, cfg, checkpoint, device, o->raw)) {
        int n = o->n > 0 ? o->n : (r.toy ? 1000 : 64);
        char path[1200];
        snprintf(path, sizeof path, "%s", o->out ? o->out : "");
        if (!o->out) snprintf(path, sizeof path, "%s/%s.png", r.dir, r.toy ? "sample-heatmap" : "samples");
        ebm_scope_begin(r.ctx);
        ebm_tensor_t *x = draw_samples(&r, o, n, NULL);
        if (x && write_samples(&r, path, x)) {
            printf("%s\n", path);
            rc = 0;
        }
        ebm_scope_end(r.ctx);
    }
    run_free(&r);
    ebm_config_free(cfg);
    return rc;
}

int ebm_score(const char *checkpoint, const char *data, const char *device, const char *out, int raw) {
    ebm_config_t *cfg = ebm_config_new(ebm_train_keys);
    run_t r = {0};
    ebm_dataset_t ds = {0};
    int rc = 1;
    char err[1024];
    FILE *f = NULL;
    if (!cfg || !run_open_checkpoint(&r, cfg, checkpoint, device, raw)) goto done;
    ebm_data_opts_t dopts = {.size = r.ndim == 3 ? r.shape[1] : 0, .channels = r.ndim == 3 ? r.shape[0] : 0, .toy_n = 1000};
    if (ebm_dataset_open(&ds, data, &dopts, err, sizeof err) != EBM_OK) {
        ERR("%s\n", err);
        goto done;
    }
    if (ds.ndim != r.ndim || memcmp(ds.shape, r.shape, sizeof(int) * r.ndim)) {
        char a[64], b[64];
        run_t tmp = {.ndim = ds.ndim};
        memcpy(tmp.shape, ds.shape, sizeof tmp.shape);
        ERR("%s: examples have shape (%s), the model expects (%s)\n", data, shape_string(&tmp, a, sizeof a), shape_string(&r, b, sizeof b));
        goto done;
    }
    f = out ? fopen(out, "w") : stdout;
    if (!f) {
        ERR("%s: %s\n", out, strerror(errno));
        goto done;
    }
    fprintf(f, "index,energy,grad_sqnorm\n");
    enum { CHUNK = 256 };
    float e[CHUNK], g2[CHUNK];
    for (int i0 = 0; i0 < ds.n; i0 += CHUNK) {
        int n = ds.n - i0 < CHUNK ? ds.n - i0 : CHUNK;
        int shape[4] = {n, r.shape[0], r.shape[1], r.shape[2]};
        ebm_scope_begin(r.ctx);
        ebm_tensor_t *x = ebm_tensor_from_host(r.ctx, r.ndim + 1, shape, ds.x + ds.sample_numel * i0), *gx = NULL;
        ebm_tensor_set_requires_grad(x, 1);
        int was = ebm_params_set_frozen(r.ctx, 1);
        ebm_tensor_t *en = energy_fn(&r, x), *tot = ebm_sum_all(en);
        ebm_params_set_frozen(r.ctx, was);
        int ok = tot && ebm_grad(&tot, 1, NULL, &x, 1, &gx, 0) == EBM_OK;
        ebm_tensor_t *gs = ok ? ebm_sum(ebm_reshape(ebm_square(gx), 2, (int[]){n, -1}), 0x2u, 0) : NULL;
        ok = ok && gs && ebm_tensor_read(en, e) == EBM_OK && ebm_tensor_read(gs, g2) == EBM_OK;
        ebm_scope_end(r.ctx);
        if (!ok) {
            ERR("scoring: %s\n", ebm_ctx_error(r.ctx));
            goto done;
        }
        for (int i = 0; i < n; i++) fprintf(f, "%d,%.8g,%.8g\n", i0 + i, e[i], g2[i]);
    }
    rc = 0;
done:
    if (f && f != stdout && fclose(f) && rc == 0) {
        ERR("%s: %s\n", out, strerror(errno));
        rc = 1;
    }
    ebm_dataset_free(&ds);
    run_free(&r);
    ebm_config_free(cfg);
    return rc;
}

int ebm_eval(const char *checkpoint, const char *device, const ebm_sample_opts_t *o, int min_per_mode) {
    ebm_config_t *cfg = ebm_config_new(ebm_train_keys);
    run_t r = {0};
    int rc = 1;
    if (!cfg || !run_open_checkpoint(&r, cfg, checkpoint, device, o->raw)) goto done;
    if (min_per_mode <= 0) min_per_mode = (int)ebm_config_int(cfg, "eval", "min_per_mode");
    int n = o->n > 0 ? o->n : (int)ebm_config_int(cfg, "eval", "n");
    float centres[2 * 64], sigma = 0;
    int K = r.toy ? ebm_toy_modes(r.toy_name, centres, 64, &sigma) : 0;
    float *h = malloc(sizeof(float) * n * r.numel);
    ebm_scope_begin(r.ctx);
    ebm_tensor_t *x = draw_samples(&r, o, n, NULL);
    int ok = h && x && ebm_tensor_read(x, h) == EBM_OK;
    double mean_e = NAN;
    if (ok) {
        int was = ebm_grad_set_enabled(r.ctx, 0);
        ebm_tensor_t *m = ebm_mean_all(energy_fn(&r, x));
        float mv;
        if (m && ebm_tensor_read(m, &mv) == EBM_OK) mean_e = mv;
        ebm_grad_set_enabled(r.ctx, was);
    }
    ebm_scope_end(r.ctx);
    if (!ok) {
        free(h);
        goto done;
    }
    char line[1024];
    int len = snprintf(line, sizeof line, "{\"event\":\"eval\",\"checkpoint\":\"%s\",\"samples\":%d,\"mean_energy\":%.6g", checkpoint, n, mean_e);
    if (K > 0) {
        int *count = calloc((size_t)K, sizeof(int)), hq = 0, covered = 0;
        for (int i = 0; i < n && count; i++) {
            int best = -1;
            float bd = INFINITY;
            for (int k = 0; k < K; k++) {
                float dx = h[2 * i] - centres[2 * k], dy = h[2 * i + 1] - centres[2 * k + 1], d = sqrtf(dx * dx + dy * dy);
                if (d < bd) bd = d, best = k;
            }
            if (bd <= 3 * sigma) hq++, count[best]++;
        }
        for (int k = 0; k < K; k++) covered += count && count[k] >= min_per_mode;
        free(count);
        len += snprintf(line + len, sizeof line - len, ",\"toy\":\"%s\",\"modes\":%d,\"modes_covered\":%d,\"high_quality\":%.4f,\"min_per_mode\":%d",
                        r.toy_name, K, covered, (double)hq / n, min_per_mode);
        fprintf(stderr, "ebm eval: %s: %d of %d modes covered (>= %d samples within 3 sigma), %.1f%% high-quality samples\n",
                r.toy_name, covered, K, min_per_mode, 100.0 * hq / n);
    }
    snprintf(line + len, sizeof line - len, "}");
    printf("%s\n", line);
    char mpath[1200];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", r.dir);
    FILE *mf = fopen(mpath, "a");
    if (mf) {
        fprintf(mf, "%s\n", line);
        fclose(mf);
    }
    if (r.toy) {
        char path[1200];
        snprintf(path, sizeof path, "%s/eval-heatmap.png", r.dir);
        ebm_scope_begin(r.ctx);
        write_heatmap(&r, path, h, n);
        ebm_scope_end(r.ctx);
    }
    free(h);
    rc = 0;
done:
    run_free(&r);
    ebm_config_free(cfg);
    return rc;
}
