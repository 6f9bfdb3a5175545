/* optim.c — SGD / Adam / AdaGrad and EMA as fused kernels over the flat parameter buffer, with
 * global-norm clipping computed on the device (no host round trip). */
#include <math.h>
#include "internal.h"

struct ebm_optim {
    ebm_params_t *ps;
    ebm_optim_config_t cfg;
    ebm_tensor_t *s0, *s1;       /* moments / momentum / sum of squares */
    ebm_tensor_t *scale, *norm;  /* device scalars */
    ebm_tensor_t *partials;
    long steps;
    ebm_grad_hook_t hook;
    void *hook_user;
};

struct ebm_ema {
    ebm_params_t *ps;
    float decay;
    ebm_tensor_t *flat;
};

#define N_PARTIALS 256

/* optimizer state outlives every scope */
static ebm_tensor_t *persistent_zeros(ebm_ctx_t *ctx, size_t n) { return ebm_tensor_zeros_unscoped(ctx, 1, (int[]){(int)n}); }

ebm_optim_t *ebm_optim_new(ebm_params_t *ps, const ebm_optim_config_t *cfg) {
    ebm_tensor_t *flat = ebm_params_flat(ps);
    ebm_ctx_t *ctx = flat ? flat->ctx : NULL;
    if (!ctx) return NULL;
    if (!(cfg->lr > 0) || cfg->beta1 < 0 || cfg->beta1 >= 1 || (cfg->kind == EBM_OPTIM_ADAM && (cfg->beta2 <= 0 || cfg->beta2 >= 1))) {
        ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "optimizer: lr must be > 0, beta1 in [0, 1), beta2 in (0, 1)");
        return NULL;
    }
    ebm_optim_t *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->ps = ps;
    o->cfg = *cfg;
    if (o->cfg.eps == 0 && cfg->kind != EBM_OPTIM_SGD) o->cfg.eps = cfg->kind == EBM_OPTIM_ADAM ? 1e-8f : 1e-10f;
    size_t n = flat->numel;
    o->s0 = persistent_zeros(ctx, n);
    o->s1 = cfg->kind == EBM_OPTIM_ADAM ? persistent_zeros(ctx, n) : NULL;
    o->scale = persistent_zeros(ctx, 1);
    o->norm = persistent_zeros(ctx, 1);
    o->partials = persistent_zeros(ctx, N_PARTIALS);
    if (!o->s0 || (cfg->kind == EBM_OPTIM_ADAM && !o->s1) || !o->scale || !o->norm || !o->partials ||
        ebm_tensor_fill(o->scale, 1.0f) != EBM_OK) {
        ebm_optim_free(o);
        return NULL;
    }
    return o;
}

void ebm_optim_free(ebm_optim_t *o) {
    if (!o) return;
    ebm_tensor_free(o->s0);
    ebm_tensor_free(o->s1);
    ebm_tensor_free(o->scale);
    ebm_tensor_free(o->norm);
    ebm_tensor_free(o->partials);
    free(o);
}

long ebm_optim_steps(const ebm_optim_t *o) { return o->steps; }
void ebm_optim_set_grad_hook(ebm_optim_t *o, ebm_grad_hook_t hook, void *user) { o->hook = hook, o->hook_user = user; }
void ebm_optim_set_steps(ebm_optim_t *o, long steps) { o->steps = steps; }
void ebm_optim_set_lr(ebm_optim_t *o, float lr) { o->cfg.lr = lr; }
float ebm_optim_lr(const ebm_optim_t *o) { return o->cfg.lr; }
ebm_tensor_t *ebm_optim_last_grad_norm(const ebm_optim_t *o) { return o->norm; }
ebm_tensor_t *ebm_optim_state(const ebm_optim_t *o, int i) { return i == 0 ? o->s0 : (i == 1 ? o->s1 : NULL); }

/* norm of the flat gradient into o->norm; clipping factor into o->scale */
static ebm_status_t grad_norm(ebm_optim_t *o) {
    ebm_tensor_t *g = ebm_params_flat_grad(o->ps);
    ebm_ctx_t *ctx = g->ctx;
    size_t n = g->numel, chunk = (n + N_PARTIALS - 1) / N_PARTIALS;
    cl_kernel k1 = ebm_kernel(ctx, EBM_K_SUMSQ_PARTIAL), k2 = ebm_kernel(ctx, EBM_K_CLIP_SCALE);
    if (!k1 || !k2) return ctx->status;
    if (ebm_kargs(ctx, k1, "mmll", o->partials->buf, g->buf, n, chunk) != EBM_OK ||
        ebm_launch_groups(ctx, k1, N_PARTIALS, ebm_kernel_wg(ctx, k1)) != EBM_OK)
        return ctx->status;
    if (ebm_kargs(ctx, k2, "mmmif", o->scale->buf, o->norm->buf, o->partials->buf, N_PARTIALS, (double)o->cfg.clip_norm) != EBM_OK)
        return ctx->status;
    return ebm_launch_groups(ctx, k2, 1, ebm_kernel_wg(ctx, k2));
}

ebm_status_t ebm_optim_step(ebm_optim_t *o) {
    ebm_tensor_t *p = ebm_params_flat(o->ps), *g = ebm_params_flat_grad(o->ps);
    ebm_ctx_t *ctx = p->ctx;
    if (ctx->status != EBM_OK) return ctx->status;
    if (o->hook) {
        int h = o->hook(o->hook_user, g);
        if (h < 0) return ctx->status != EBM_OK ? ctx->status : EBM_STATUS_INVALID_ARGUMENT;
        if (h == 0) return EBM_OK;
    }
    if (grad_norm(o) != EBM_OK) return ctx->status;
    o->steps++;
    const ebm_optim_config_t *c = &o->cfg;
    cl_kernel k;
    ebm_status_t st;
    size_t n = p->numel;
    switch (c->kind) {
    case EBM_OPTIM_SGD:
        if (!(k = ebm_kernel(ctx, EBM_K_SGD))) return ctx->status;
        st = ebm_kargs(ctx, k, "mmmmfffil", p->buf, g->buf, o->s0->buf, o->scale->buf, (double)c->lr, (double)c->momentum,
                       (double)c->weight_decay, c->momentum != 0.0f, n);
        break;
    case EBM_OPTIM_ADAM: {
        if (!(k = ebm_kernel(ctx, EBM_K_ADAM))) return ctx->status;
        double bc1 = 1.0 - pow(c->beta1, (double)o->steps), bc2 = 1.0 - pow(c->beta2, (double)o->steps);
        st = ebm_kargs(ctx, k, "mmmmmfffffiffl", p->buf, g->buf, o->s0->buf, o->s1->buf, o->scale->buf, (double)c->lr,
                       (double)c->beta1, (double)c->beta2, (double)c->eps, (double)c->weight_decay, c->decoupled_wd, bc1,
                       bc2, n);
        break;
    }
    default:
        if (!(k = ebm_kernel(ctx, EBM_K_ADAGRAD))) return ctx->status;
        st = ebm_kargs(ctx, k, "mmmmfffl", p->buf, g->buf, o->s0->buf, o->scale->buf, (double)c->lr, (double)c->eps,
                       (double)c->weight_decay, n);
        break;
    }
    if (st != EBM_OK) return st;
    return ebm_launch1(ctx, k, n);
}

ebm_ema_t *ebm_ema_new(ebm_params_t *ps, float decay) {
    ebm_tensor_t *flat = ebm_params_flat(ps);
    if (!flat) return NULL;
    ebm_ema_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->ps = ps;
    e->decay = decay;
    e->flat = persistent_zeros(flat->ctx, flat->numel);
    if (!e->flat || ebm_tensor_copy_into(e->flat, flat) != EBM_OK) {
        ebm_ema_free(e);
        return NULL;
    }
    return e;
}

void ebm_ema_free(ebm_ema_t *e) {
    if (!e) return;
    ebm_tensor_free(e->flat);
    free(e);
}

ebm_tensor_t *ebm_ema_flat(const ebm_ema_t *e) { return e->flat; }

ebm_status_t ebm_ema_update(ebm_ema_t *e) {
    ebm_tensor_t *p = ebm_params_flat(e->ps);
    ebm_ctx_t *ctx = p->ctx;
    cl_kernel k = ebm_kernel(ctx, EBM_K_EMA);
    if (!k || ebm_kargs(ctx, k, "mmfl", e->flat->buf, p->buf, (double)e->decay, p->numel) != EBM_OK) return ctx->status;
    return ebm_launch1(ctx, k, p->numel);
}

ebm_status_t ebm_ema_swap(ebm_ema_t *e) {
    ebm_tensor_t *p = ebm_params_flat(e->ps);
    ebm_ctx_t *ctx = p->ctx;
    cl_kernel k = ebm_kernel(ctx, EBM_K_SWAP);
    if (!k || ebm_kargs(ctx, k, "mml", e->flat->buf, p->buf, p->numel) != EBM_OK) return ctx->status;
    return ebm_launch1(ctx, k, p->numel);
}
