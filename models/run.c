/* run.c — building a run from a config: networks, optimizer, EMA, replay buffer, sampler (run.h). */
#include "run.h"
#include <stdlib.h>
#include <string.h>

ebm_tensor_t *run_energy(void *user, ebm_tensor_t *x) {
    run_t *r = user;
    if (r->flatten) x = ebm_reshape(x, 2, (int[]){ebm_tensor_dim(x, 0), -1});
    return ebm_net_energy(r->net, x);
}

int run_parse_ints(const char *s, int *out, int max) {
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

void run_free(run_t *r) {
    ebm_optim_free(r->opt_g);
    ebm_optim_free(r->opt_h);
    ebm_net_free(r->net_g);
    ebm_net_free(r->net_h);
    ebm_net_free(r->net_h2);
    ebm_params_free(r->ps_g);
    ebm_params_free(r->ps_h);
    ebm_replay_free(r->rb);
    ebm_ema_free(r->ema);
    ebm_optim_free(r->opt);
    ebm_net_free(r->net);
    ebm_params_free(r->ps);
    if (r->ctx) ebm_ctx_free(r->ctx);
    memset(r, 0, sizeof *r);
}

int run_optim_config(const ebm_config_t *c, float lr, ebm_optim_config_t *oc) {
    const char *kind = ebm_config_str(c, "optim", "kind");
    *oc = (ebm_optim_config_t){.lr = lr,
                               .beta1 = (float)ebm_config_float(c, "optim", "beta1"),
                               .beta2 = (float)ebm_config_float(c, "optim", "beta2"),
                               .eps = (float)ebm_config_float(c, "optim", "eps"),
                               .clip_norm = (float)ebm_config_float(c, "optim", "clip_norm")};
    if (!strcmp(kind, "adam")) oc->kind = EBM_OPTIM_ADAM;
    else if (!strcmp(kind, "adagrad")) oc->kind = EBM_OPTIM_ADAGRAD;
    else if (!strcmp(kind, "sgd")) oc->kind = EBM_OPTIM_SGD;
    else {
        ERR("[optim] kind = \"%s\": expected adam, adagrad or sgd\n", kind);
        return 0;
    }
    return 1;
}

void run_apply_lr_scale(run_t *r) {
    ebm_optim_set_lr(r->opt, (float)ebm_config_float(r->cfg, "optim", "lr") * r->lr_scale);
    if (r->opt_g) ebm_optim_set_lr(r->opt_g, r->lr_g * r->lr_scale);
    if (r->opt_h) ebm_optim_set_lr(r->opt_h, r->lr_h * r->lr_scale);
}

int run_parse_widths(const ebm_config_t *c, const char *sec, const char *key, int *w) {
    int n = run_parse_ints(ebm_config_str(c, sec, key), w, 7);   /* an MLP has at most 8 layers */
    if (n < 0) ERR("[%s] %s = \"%s\": expected up to 7 comma-separated positive widths\n", sec, key, ebm_config_str(c, sec, key));
    return n;
}

/* Context, network (initialised from seed), optimizer, EMA and buffer for a sample shape. */
int run_build(run_t *r, ebm_config_t *cfg, const char *device, int ndim, const int *shape) {
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
    const char *method = ebm_config_str(c, "run", "method");
    static const char *const methods[] = {"cd", "meg", "ddgm", "dual", "classify"};
    r->method = -1;
    for (int i = 0; i < 5; i++)
        if (!strcmp(method, methods[i])) r->method = i;
    if (r->method < 0) {
        ERR("[run] method = \"%s\": expected cd, meg, ddgm, dual or classify\n", method);
        return 0;
    }
    r->n_out = r->method == METHOD_CLASSIFY ? (int)ebm_config_int(c, "classify", "classes") : 1;
    r->ps = ebm_params_new(r->ctx);
    const char *net = ebm_config_str(c, "model", "net");
    if (r->n_out < 1 || (r->n_out > 1 && strcmp(net, "mlp") && strcmp(net, "dcgan"))) {
        ERR("[run] method = classify needs [classify] classes >= 1 and [model] net = mlp or dcgan\n");
        return 0;
    }
    int base = (int)ebm_config_int(c, "model", "base"), scales = (int)ebm_config_int(c, "model", "scales");
    if (!strcmp(net, "mlp")) {
        int hidden[8], nh = run_parse_widths(c, "model", "hidden", hidden);
        if (nh < 0) return 0;
        r->flatten = ndim > 1;
        r->net = ebm_net_mlp(r->ps, "", (int)r->numel, hidden, nh, r->n_out);
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
    } else if (!strcmp(net, "poe")) {
        int hidden[8], nh = run_parse_widths(c, "model", "hidden", hidden);
        int experts = (int)ebm_config_int(c, "model", "experts");
        float sigma = (float)ebm_config_float(c, "model", "poe_sigma");
        if (nh < 0) return 0;
        if (experts < 1 || !(sigma > 0)) {
            ERR("[model] net = poe needs experts >= 1 and poe_sigma > 0\n");
            return 0;
        }
        r->flatten = ndim > 1;
        r->net = ebm_net_poe(r->ps, "", (int)r->numel, hidden, nh, experts, sigma);
    } else if (!strcmp(net, "dcgan")) {
        if (ndim != 3 || base < 1 || shape[1] != shape[2] || shape[1] < 16) {
            ERR("[model] net = dcgan needs square images of side >= 16 and base >= 1\n");
            return 0;
        }
        r->net = ebm_net_dcgan_trunk(r->ps, "", shape[0], base, shape[1], r->n_out);
    } else if (!strcmp(net, "resnet")) {
        int stages = (int)ebm_config_int(c, "model", "stages");
        if (ndim != 3 || base < 1 || scales < 1 || scales > 4 || stages < 1 || stages > 6) {
            ERR("[model] net = resnet needs images and base >= 1, 1 <= scales <= 4, 1 <= stages <= 6\n");
            return 0;
        }
        r->net = ebm_net_resnet(r->ps, "", shape[0], base, stages, ebm_config_bool(c, "model", "attention"), scales);
    } else {
        ERR("[model] net = \"%s\": expected mlp, convnet, multiscale, resnet, poe or dcgan\n", net);
        return 0;
    }
    if (r->net && ebm_net_set_activation(r->net, ebm_config_str(c, "model", "activation")) != EBM_OK) {
        ERR("[model] activation = \"%s\": expected one of" EBM_NET_ACTIVATION_NAMES "\n", ebm_config_str(c, "model", "activation"));
        return 0;
    }
    if (!r->net || ebm_params_finalize(r->ps) != EBM_OK) {
        ERR("building the network: %s\n", ebm_ctx_error(r->ctx));
        return 0;
    }
    ebm_rng_t init = ebm_rng_make(r->seed, 0);
    ebm_net_init(r->net, &init);
    ebm_optim_config_t oc;
    if (!run_optim_config(c, (float)ebm_config_float(c, "optim", "lr"), &oc)) return 0;
    oc.weight_decay = (float)ebm_config_float(c, "optim", "weight_decay");
    r->opt = ebm_optim_new(r->ps, &oc);
    float ema = (float)ebm_config_float(c, "optim", "ema");
    if (ema > 0) r->ema = ebm_ema_new(r->ps, ema);
    float lo = (float)ebm_config_float(c, "sampler", "init_lo"), hi = (float)ebm_config_float(c, "sampler", "init_hi");
    if (!(hi > lo)) {
        ERR("[sampler] init_lo = %g must be below init_hi = %g\n", lo, hi);
        return 0;
    }
    int cap = r->method == METHOD_CD ? (int)ebm_config_int(c, "buffer", "capacity") : 0;   /* only CD draws from a buffer */
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
    return r->method == METHOD_CD || r->method == METHOD_CLASSIFY || gen_build(r);
}


/* what sample/eval may change of a trained run's config: how it samples, not what it is */
static int settable(const char *a) {
    static const char *ok[] = {"sampler.", "eval.", "generator.mala_steps=", "generator.mala_step_size=", "generator.langevin_steps=", NULL};
    for (int i = 0; ok[i]; i++)
        if (!strncmp(a, ok[i], strlen(ok[i]))) return 1;
    return 0;
}

int run_open_checkpoint(run_t *r, ebm_config_t *cfg, const char *path, const char *device, int raw) {
    return run_open_checkpoint_with(r, cfg, path, device, raw, NULL, 0);
}

int run_open_checkpoint_with(run_t *r, ebm_config_t *cfg, const char *path, const char *device, int raw, const char *const *sets, int n_sets) {
    int ndim, shape[3];
    char err[1024];
    if (!ckpt_config(path, cfg, &ndim, shape)) return 0;
    for (int i = 0; i < n_sets; i++) {
        if (!settable(sets[i])) {
            ERR("--set %s: sampling and evaluation may change [sampler], [eval] and generator.mala_steps, mala_step_size, "
                "langevin_steps; the rest is the trained model's\n", sets[i]);
            return 0;
        }
        if (ebm_config_set(cfg, sets[i], err, sizeof err) != EBM_OK) {
            ERR("%s\n", err);
            return 0;
        }
    }
    if (!run_build(r, cfg, device, ndim, shape) || !ckpt_load(r, path)) return 0;
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

ebm_tensor_t *run_augment(run_t *r, ebm_tensor_t *x, ebm_rng_t *rng) {
    if (!ebm_config_bool(r->cfg, "augment", "enable") || r->ndim != 3) return x;
    ebm_augment_cfg_t ac = augment_cfg(r->cfg);
    return ebm_augment(x, &ac, rng);
}


ebm_tensor_t *run_noise(run_t *r, int n, ebm_rng_t *rng) {
    int shape[4] = {n, r->shape[0], r->shape[1], r->shape[2]};
    return ebm_rand_uniform(r->ctx, rng, r->ndim + 1, shape, (float)ebm_config_float(r->cfg, "sampler", "init_lo"),
                            (float)ebm_config_float(r->cfg, "sampler", "init_hi"));
}
