/* run.c — building a run from a config: network, optimizer, EMA, replay buffer, sampler, and the
 * method's own networks (run.h). */
#include "run.h"
#include <stdlib.h>
#include <string.h>

static void stats_push(stats_t *s, const char *key, const char *label, float v, int general) {
    if (s->n < STATS_MAX) s->s[s->n++] = (stat_entry_t){key, label, v, general};
}
void stats_add(stats_t *s, const char *key, const char *label, float v) { stats_push(s, key, label, v, 0); }
void stats_add_g(stats_t *s, const char *key, const char *label, float v) { stats_push(s, key, label, v, 1); }

const char *run_test_source(const run_t *r) {
    const char *src = ebm_config_str(r->cfg, "data", "source");
    return !strcmp(src, "fashion-mnist") ? "fashion-mnist:test" : src;
}

ebm_rng_t run_iter_rng(const run_t *r, long it) {
    ebm_rng_t rng = ebm_rng_make(r->seed, 1 + (uint64_t)it + ((uint64_t)r->rollbacks << 40));
    if (r->ranks > 1) rng.part = (uint32_t)r->rank, rng.parts = (uint32_t)r->ranks;
    return rng;
}

int run_classes(const run_t *r) { return r->classes > 0 ? r->classes : r->m->class_energy ? r->n_out : 0; }

/* one-hot rows of y into the net's condition */
static int set_onehot(run_t *r, const int *y, int B, int k) {
    int K = r->classes;
    float *h = calloc((size_t)B * K, sizeof(float));
    if (!h) {
        ERR("out of host memory\n");
        return 0;
    }
    for (int i = 0; i < B; i++) {
        int c = y ? y[i] : k;
        if (c < 0 || c >= K) {
            ERR("label %d: the run's energy has classes 0 .. %d\n", c, K - 1);
            free(h);
            return 0;
        }
        h[(size_t)i * K + c] = 1;
    }
    ebm_tensor_t *t = ebm_tensor_from_host(r->ctx, 2, (int[]){B, K}, h);
    free(h);
    ebm_net_set_condition(r->net, t);
    return t != NULL;
}

int run_set_labels(run_t *r, const int *y, int B) { return set_onehot(r, y, B, 0); }
void run_clear_labels(run_t *r) {
    if (r->net) ebm_net_set_condition(r->net, NULL);
}

/* a conditioned energy without labels: the marginal -log sum_k exp(-E(x | k)) */
static ebm_tensor_t *marginal_energy(run_t *r, ebm_tensor_t *x) {
    enum { MAX_K = 64 };
    int B = ebm_tensor_dim(x, 0), K = r->classes;
    if (K > MAX_K) {
        ERR("the marginal energy of a conditioned run sums at most %d classes (it has %d): give a class\n", MAX_K, K);
        return NULL;
    }
    ebm_tensor_t *terms[MAX_K];
    for (int k = 0; k < K; k++) {
        if (!set_onehot(r, NULL, B, k)) return NULL;
        terms[k] = ebm_reshape(ebm_neg(ebm_net_energy(r->net, x)), 2, (int[]){B, 1});
    }
    run_clear_labels(r);
    return ebm_neg(ebm_logsumexp(ebm_concat(terms, K, 1), 1, 0));
}

ebm_tensor_t *run_energy(void *user, ebm_tensor_t *x) {
    run_t *r = user;
    if (r->classes > 0 && !ebm_net_get_condition(r->net)) return x ? marginal_energy(r, x) : NULL;
    if (r->m->energy) return r->m->energy(r, run_forward(r, x));
    if (r->flatten) x = ebm_reshape(x, 2, (int[]){ebm_tensor_dim(x, 0), -1});
    return ebm_net_energy(r->net, x);
}

ebm_tensor_t *run_class_energy(void *user, ebm_tensor_t *x) {
    run_class_t *c = user;
    if (c->r->classes > 0) {   /* E(x | k): the conditioned net with label k on every row */
        if (!x || !set_onehot(c->r, NULL, ebm_tensor_dim(x, 0), c->k)) return NULL;
        ebm_tensor_t *e = run_energy(c->r, x);
        run_clear_labels(c->r);
        return e;
    }
    return c->r->m->class_energy(c->r, run_forward(c->r, x), c->k);
}

ebm_tensor_t *run_forward(run_t *r, ebm_tensor_t *x) {
    if (r->flatten) x = ebm_reshape(x, 2, (int[]){ebm_tensor_dim(x, 0), -1});
    return ebm_net_forward(r->net, x);
}

static ebm_tensor_t *run_net_features(run_t *r, ebm_tensor_t *x) {
    if (r->flatten) x = ebm_reshape(x, 2, (int[]){ebm_tensor_dim(x, 0), -1});
    return ebm_net_features(r->net, x);
}

/* f(r, x) (B, width) of n host rows of the sample shape, 256 rows at a time without gradients:
 * n x *width floats into *out (free it); 0 after printing why (`what` begins the message) */
static int map_rows(run_t *r, const float *x, int n, ebm_tensor_t *(*f)(run_t *, ebm_tensor_t *), const char *what, float **out,
                    int *width) {
    enum { CHUNK = 256 };
    float *o = NULL;
    int ok = 1, w = 0, oom = 0;
    for (int i0 = 0; ok && i0 < n; i0 += CHUNK) {
        int m = n - i0 < CHUNK ? n - i0 : CHUNK, shape[4] = {m, r->shape[0], r->shape[1], r->shape[2]};
        ebm_scope_begin(r->ctx);
        int was = ebm_grad_set_enabled(r->ctx, 0);
        ebm_tensor_t *t = f(r, ebm_tensor_from_host(r->ctx, r->ndim + 1, shape, x + r->numel * i0));
        ebm_grad_set_enabled(r->ctx, was);
        if (t && !o) {
            w = (int)(ebm_tensor_numel(t) / (size_t)m);
            oom = !(o = malloc(sizeof(float) * (size_t)n * (size_t)w));
        }
        ok = t && o && ebm_tensor_read(t, o + (size_t)i0 * w) == EBM_OK;
        ebm_scope_end(r->ctx);
    }
    if (!ok) {
        ERR("%s: %s\n", what, oom ? "out of host memory" : ebm_ctx_error(r->ctx));
        free(o);
        return 0;
    }
    *out = o, *width = w;
    return 1;
}

int run_outputs(run_t *r, const float *x, int n, float **out) {
    int w;
    return map_rows(r, x, n, run_forward, "classifying", out, &w);
}

int run_features(run_t *r, const float *x, int n, double **out, int *dim) {
    const char *net = ebm_config_str(r->cfg, "model", "net");
    float *h;
    *out = NULL, *dim = 0;
    if (strcmp(net, "mlp") && strcmp(net, "dcgan")) {
        ERR("%s: features need a classifier of [model] net = mlp or dcgan (this one is %s)\n", r->dir, net);
        return 0;
    }
    if (!map_rows(r, x, n, run_net_features, "classifier features", &h, dim)) return 0;
    size_t m = (size_t)n * (size_t)*dim;
    if (!(*out = malloc(sizeof(double) * (m ? m : 1)))) ERR("classifier features: out of host memory\n");
    for (size_t k = 0; *out && k < m; k++) (*out)[k] = h[k];
    free(h);
    return *out != NULL;
}

int run_argmax_row(const float *v, int K) {
    int best = 0;
    for (int k = 1; k < K; k++)
        if (v[k] > v[best]) best = k;
    return best;
}

int run_argmax(run_t *r, const float *x, int n, int *out) {
    float *lg;
    if (!run_outputs(r, x, n, &lg)) return 0;
    for (int i = 0; i < n; i++) out[i] = run_argmax_row(lg + (size_t)i * r->n_out, r->n_out);
    free(lg);
    return 1;
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
    if (r->m && r->m->free) r->m->free(r);
    for (int i = 0; i < r->n_groups; i++) {
        ebm_optim_free(r->groups[i].opt);
        ebm_params_free(r->groups[i].ps);
    }
    ebm_replay_free(r->rb);
    free(r->rb_labels);
    ebm_ema_free(r->ema);
    ebm_optim_free(r->opt);
    ebm_net_free(r->net);
    ebm_params_free(r->ps);
    if (r->ctx && !r->ctx_shared) ebm_ctx_free(r->ctx);
    memset(r, 0, sizeof *r);
}

int run_optim_config(const ebm_config_t *c, float lr, ebm_optim_config_t *oc) {
    const char *kind = ebm_config_str(c, "optim", "kind");
    *oc = (ebm_optim_config_t){.lr = lr,
                               .beta1 = (float)ebm_config_float(c, "optim", "beta1"),
                               .beta2 = (float)ebm_config_float(c, "optim", "beta2"),
                               .eps = (float)ebm_config_float(c, "optim", "eps"),
                               .clip_norm = (float)ebm_config_float(c, "optim", "clip_norm"),
                               .momentum = (float)ebm_config_float(c, "optim", "momentum")};
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
    for (int i = 0; i < r->n_groups; i++) ebm_optim_set_lr(r->groups[i].opt, r->groups[i].lr * r->lr_scale);
}

run_group_t *run_add_group(run_t *r, const char *optim_name, ebm_params_t *ps) {
    if (!ps) return NULL;
    if (r->n_groups == RUN_MAX_GROUPS) {
        ERR("a run holds at most %d networks besides the energy\n", RUN_MAX_GROUPS);
        ebm_params_free(ps);
        return NULL;
    }
    run_group_t *g = &r->groups[r->n_groups++];
    *g = (run_group_t){.optim_name = optim_name, .ps = ps};
    return g;
}

int run_group_optimizer(run_t *r, run_group_t *g, float lr) {
    ebm_optim_config_t oc;
    if (!run_optim_config(r->cfg, lr, &oc)) return 0;
    g->lr = lr;
    g->opt = ebm_optim_new(g->ps, &oc);
    if (!g->opt) ERR("%s\n", ebm_ctx_error(r->ctx));
    return g->opt != NULL;
}

int run_parse_widths(const ebm_config_t *c, const char *sec, const char *key, int *w) {
    int n = run_parse_ints(ebm_config_str(c, sec, key), w, 7);   /* an MLP has at most 8 layers */
    if (n < 0) ERR("[%s] %s = \"%s\": expected up to 7 comma-separated positive widths\n", sec, key, ebm_config_str(c, sec, key));
    return n;
}

/* Context, network (initialised from seed), optimizer, EMA and buffer for a sample shape. */
int run_build(run_t *r, ebm_config_t *cfg, const ebm_method_t *m, const char *device, int ndim, const int *shape) {
    const ebm_config_t *c = cfg;
    r->cfg = cfg;
    r->ndim = ndim;
    memcpy(r->shape, shape, sizeof(int) * ndim);
    r->numel = 1;
    for (int i = 0; i < ndim; i++) r->numel *= (size_t)shape[i];
    r->seed = (uint64_t)ebm_config_int(c, "run", "seed");
    r->batch = (int)ebm_config_int(c, "run", "batch");
    if (r->ranks > 1) {
        if (r->batch % r->ranks) {
            ERR("run.batch = %d is not divisible by the %d ranks of the job: each rank takes run.batch / ranks rows\n", r->batch, r->ranks);
            return 0;
        }
        r->batch /= r->ranks;
        if ((size_t)r->batch * r->numel % 4) {   /* a rank's slice of a device draw starts at a Philox block (ebm_rng.h) */
            ERR("run.batch = %d over %d ranks: %d rows of %zu numbers per rank; their product must be a multiple of 4 "
                "(each rank's random draws start at a 4-number Philox block): choose another run.batch\n",
                r->batch * r->ranks, r->ranks, r->batch, r->numel);
            return 0;
        }
    }
    r->dequantize = ndim == 3 && ebm_config_bool(c, "data", "dequantize");
    r->lr_scale = 1;
    if (r->ctx) r->ctx_shared = 1;
    else if (ebm_ctx_create(&r->ctx, device) != EBM_OK) {
        ERR("%s\n", ebm_ctx_error(NULL));
        return 0;
    }
    r->m = m;
    r->n_out = r->m->outputs ? r->m->outputs(c) : 1;
    r->ps = ebm_params_new(r->ctx);
    const char *net = ebm_config_str(c, "model", "net");
    if (r->n_out < 1 || (r->n_out > 1 && strcmp(net, "mlp") && strcmp(net, "dcgan"))) {
        ERR("[run] method = %s: a network of %d outputs needs [model] net = mlp or dcgan\n", m->name, r->n_out);
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
    } else if (!strcmp(net, "quadratic")) {
        r->flatten = ndim > 1;
        r->net = ebm_net_quadratic(r->ps, "", (int)r->numel);
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
    } else if (!strcmp(net, "rbm_free_energy")) {
        int hidden[8], nh = run_parse_widths(c, "model", "hidden", hidden);
        const char *vis = ebm_config_str(c, "model", "rbm_visible");
        if (nh < 0) return 0;
        if (nh != 1 || (strcmp(vis, "bernoulli") && strcmp(vis, "gaussian"))) {
            ERR("[model] net = rbm_free_energy needs one hidden width (hidden = \"%s\") and rbm_visible = bernoulli or gaussian (\"%s\")\n",
                ebm_config_str(c, "model", "hidden"), vis);
            return 0;
        }
        r->flatten = ndim > 1;
        r->net = ebm_net_rbm(r->ps, "", (int)r->numel, hidden[0], !strcmp(vis, "gaussian"), (float)ebm_config_float(c, "model", "rbm_sigma"),
                             ebm_config_bool(c, "model", "rbm_learn_sigma"));
    } else {
        ERR("[model] net = \"%s\": expected mlp, convnet, multiscale, resnet, poe, dcgan, quadratic or rbm_free_energy\n", net);
        return 0;
    }
    r->classes = (int)ebm_config_int(c, "model", "classes");
    if (r->classes > 0 && !m->conditional) {
        ERR("[model] classes = %d: run.method = %s trains no class-conditional energy (run.method = cd does)\n", r->classes, m->name);
        return 0;
    }
    if (r->classes > 0 && r->net && ebm_net_condition(r->net, r->ps, "", r->classes) != EBM_OK) {
        ERR("[model] classes = %d: class conditioning needs [model] net = convnet, multiscale or resnet (this one is %s)\n", r->classes, net);
        return 0;
    }
    /* auto: the network's own (MEG's leaky ReLU 0.2 for dcgan, swish for the others), written into the
     * config so that config.ini and the checkpoint say what the run trains with */
    const char *act = ebm_config_str(c, "model", "activation");
    if (!strcmp(act, "auto")) {
        char set[64];
        snprintf(set, sizeof set, "model.activation=%s", !strcmp(net, "dcgan") ? "lrelu" : "swish");
        if (ebm_config_set(cfg, set, NULL, 0) != EBM_OK) return 0;
        act = ebm_config_str(c, "model", "activation");
    }
    if (r->net && ebm_net_set_activation(r->net, act) != EBM_OK) {
        ERR("[model] activation = \"%s\": expected auto or one of" EBM_NET_ACTIVATION_NAMES "\n", act);
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
    r->init_lo = lo, r->init_hi = hi;
    int clamp = ebm_config_bool(c, "sampler", "clamp");
    r->lc = (ebm_langevin_cfg_t){.steps = (int)ebm_config_int(c, "sampler", "steps"),
                                 .step_size = (float)ebm_config_float(c, "sampler", "step_size"),
                                 .noise = (float)ebm_config_float(c, "sampler", "noise"),
                                 .grad_clip = (float)ebm_config_float(c, "sampler", "grad_clip"),
                                 .clamp_lo = clamp ? lo : 0,
                                 .clamp_hi = clamp ? hi : 0,
                                 .noise_first = ebm_config_bool(c, "sampler", "noise_first")};
    if (!r->opt || (ema > 0 && !r->ema) || ebm_ctx_status(r->ctx) != EBM_OK) {
        ERR("%s\n", ebm_ctx_error(r->ctx));
        return 0;
    }
    return !r->m->build || r->m->build(r);
}


ebm_tensor_t *run_noise(run_t *r, int n, ebm_rng_t *rng) {
    int shape[4] = {n, r->shape[0], r->shape[1], r->shape[2]};
    return ebm_rand_uniform(r->ctx, rng, r->ndim + 1, shape, r->init_lo, r->init_hi);
}

ebm_tensor_t *run_langevin_transitions(run_t *r, ebm_energy_fn energy, void *user, ebm_tensor_t *x, const ebm_langevin_cfg_t *lc,
                                       int every, ebm_rng_t *rng) {
    ebm_langevin_cfg_t seg = *lc;
    if (!r->m->transition) every = 0;
    for (int done = 0; x && done < lc->steps;) {
        seg.steps = every > 0 && lc->steps - done > every ? every : lc->steps - done;
        x = ebm_langevin(r->ctx, energy, user, x, &seg, rng);
        done += seg.steps;
        if (x && every > 0 && done < lc->steps) x = r->m->transition(r, x, rng);
    }
    return x;
}
