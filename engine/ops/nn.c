/* nn.c — composites built only from differentiable ops, so their gradients of every order come
 * from the primitives: batch/instance/group/layer norm, weight standardisation, spectral norm,
 * SAGAN self-attention, pairwise squared distances. */
#include <math.h>
#include <stdio.h>
#include "../internal.h"

/* (x - mean) * rsqrt(var + eps) over the axes in mask (biased variance) */
static ebm_tensor_t *normalize_axes(ebm_tensor_t *x, unsigned mask, float eps) {
    ebm_tensor_t *d = ebm_sub(x, ebm_mean(x, mask, 1));
    ebm_tensor_t *var = ebm_mean(ebm_square(d), mask, 1);
    return ebm_mul(d, ebm_rsqrt(ebm_add_scalar(var, eps)));
}

/* y * gamma + beta with gamma/beta (C) broadcast over axis 1 of an ndim tensor */
static ebm_tensor_t *channel_affine(ebm_tensor_t *y, ebm_tensor_t *gamma, ebm_tensor_t *beta, int ndim, int C) {
    int s[4] = {C, 1, 1, 1};
    int nd = ndim - 1;   /* (C, 1, 1) for 4-D, (C) for 2-D */
    if (gamma) y = ebm_mul(y, ebm_reshape(gamma, nd, s));
    if (beta) y = ebm_add(y, ebm_reshape(beta, nd, s));
    return y;
}

static int check_channels(ebm_tensor_t *x, ebm_tensor_t *t, const char *what, const char *op) {
    if (t && (int)t->numel != x->shape[1]) {
        char s1[64];
        ebm_fail(x->ctx, EBM_STATUS_SHAPE, "%s: %s has %zu elements for input %s", op, what, t->numel,
                 ebm_tensor_shape_str(x, s1, 64));
        return 0;
    }
    return 1;
}

ebm_tensor_t *ebm_batch_norm(ebm_tensor_t *x, ebm_tensor_t *gamma, ebm_tensor_t *beta, ebm_tensor_t *rmean,
                             ebm_tensor_t *rvar, int training, float momentum, float eps) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    ebm_ctx_t *ctx = x->ctx;
    if ((x->ndim != 2 && x->ndim != 4) || !check_channels(x, gamma, "gamma", "batch_norm") ||
        !check_channels(x, beta, "beta", "batch_norm") || !check_channels(x, rmean, "running_mean", "batch_norm") ||
        !check_channels(x, rvar, "running_var", "batch_norm"))
        return ctx->status == EBM_OK ? (ebm_fail(ctx, EBM_STATUS_SHAPE, "batch_norm needs (B, C) or (B, C, H, W)"), NULL) : NULL;
    int C = x->shape[1];
    unsigned mask = x->ndim == 4 ? 0xDu : 0x1u;
    size_t count = x->numel / (size_t)C;
    ebm_tensor_t *y;
    if (training) {
        if (count < 2) {
            ebm_fail(ctx, EBM_STATUS_SHAPE, "batch_norm in training needs more than one value per channel");
            return NULL;
        }
        ebm_tensor_t *mean = ebm_mean(x, mask, 1);
        ebm_tensor_t *d = ebm_sub(x, mean);
        ebm_tensor_t *var = ebm_mean(ebm_square(d), mask, 1);
        y = ebm_mul(d, ebm_rsqrt(ebm_add_scalar(var, eps)));
        if (rmean && rvar && mean && var) {   /* running stats: no gradient, unbiased variance */
            int was = ebm_grad_set_enabled(ctx, 0);
            ebm_tensor_t *nm = ebm_add(ebm_scale(rmean, 1.0f - momentum), ebm_scale(ebm_reshape(mean, 1, &C), momentum));
            ebm_tensor_t *nv = ebm_add(ebm_scale(rvar, 1.0f - momentum),
                                       ebm_scale(ebm_reshape(var, 1, &C), momentum * (float)count / (float)(count - 1)));
            if (nm && nv) {
                ebm_tensor_copy_into(rmean, nm);
                ebm_tensor_copy_into(rvar, nv);
            }
            ebm_grad_set_enabled(ctx, was);
        }
    } else {
        if (!rmean || !rvar) {
            ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "batch_norm in eval mode needs running statistics");
            return NULL;
        }
        int s[4] = {C, 1, 1, 1};
        y = ebm_mul(ebm_sub(x, ebm_reshape(rmean, x->ndim - 1, s)),
                    ebm_rsqrt(ebm_add_scalar(ebm_reshape(rvar, x->ndim - 1, s), eps)));
    }
    return channel_affine(y, gamma, beta, x->ndim, C);
}

ebm_tensor_t *ebm_instance_norm(ebm_tensor_t *x, ebm_tensor_t *gamma, ebm_tensor_t *beta, float eps) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    if (x->ndim != 4 || !check_channels(x, gamma, "gamma", "instance_norm") || !check_channels(x, beta, "beta", "instance_norm"))
        return x->ctx->status == EBM_OK ? (ebm_fail(x->ctx, EBM_STATUS_SHAPE, "instance_norm needs (B, C, H, W)"), NULL) : NULL;
    return channel_affine(normalize_axes(x, 0xCu, eps), gamma, beta, 4, x->shape[1]);
}

ebm_tensor_t *ebm_group_norm(ebm_tensor_t *x, int groups, ebm_tensor_t *gamma, ebm_tensor_t *beta, float eps) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    if (x->ndim != 4 || groups < 1 || x->shape[1] % groups || !check_channels(x, gamma, "gamma", "group_norm") ||
        !check_channels(x, beta, "beta", "group_norm")) {
        if (x->ctx->status == EBM_OK)
            ebm_fail(x->ctx, EBM_STATUS_SHAPE, "group_norm: %d groups for %d channels (need (B, C, H, W), C divisible)", groups,
                     x->ndim == 4 ? x->shape[1] : -1);
        return NULL;
    }
    int B = x->shape[0];
    ebm_tensor_t *g = ebm_reshape(x, 3, (int[]){B, groups, -1});
    ebm_tensor_t *y = ebm_reshape(normalize_axes(g, 0x4u, eps), 4, x->shape);
    return channel_affine(y, gamma, beta, 4, x->shape[1]);
}

ebm_tensor_t *ebm_layer_norm(ebm_tensor_t *x, int n_axes, ebm_tensor_t *gamma, ebm_tensor_t *beta, float eps) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    if (n_axes < 1 || n_axes > x->ndim) {
        ebm_fail(x->ctx, EBM_STATUS_INVALID_ARGUMENT, "layer_norm over %d axes of a rank-%d tensor", n_axes, x->ndim);
        return NULL;
    }
    unsigned mask = 0;
    size_t inner = 1;
    for (int i = x->ndim - n_axes; i < x->ndim; i++) {
        mask |= 1u << i;
        inner *= (size_t)x->shape[i];
    }
    if ((gamma && gamma->numel != inner) || (beta && beta->numel != inner)) {
        ebm_fail(x->ctx, EBM_STATUS_SHAPE, "layer_norm: gamma/beta must have the %zu elements of the normalised axes", inner);
        return NULL;
    }
    ebm_tensor_t *y = normalize_axes(x, mask, eps);
    const int *tail = x->shape + x->ndim - n_axes;
    if (gamma) y = ebm_mul(y, ebm_reshape(gamma, n_axes, tail));
    if (beta) y = ebm_add(y, ebm_reshape(beta, n_axes, tail));
    return y;
}

ebm_tensor_t *ebm_weight_standardize(ebm_tensor_t *w, float eps) {
    if (!w || w->ctx->status != EBM_OK) return NULL;
    int O = w->shape[0];
    int fan = (int)(w->numel / (size_t)O);
    if (fan < 2) {
        ebm_fail(w->ctx, EBM_STATUS_SHAPE, "weight_standardize needs at least 2 weights per output");
        return NULL;
    }
    /* as improved-CD's WSConv2d: (w - mean) / (unbiased std + eps) */
    ebm_tensor_t *v = ebm_reshape(w, 2, (int[]){O, fan});
    ebm_tensor_t *d = ebm_sub(v, ebm_mean(v, 0x2u, 1));
    ebm_tensor_t *sd = ebm_sqrt(ebm_scale(ebm_sum(ebm_square(d), 0x2u, 1), 1.0f / (float)(fan - 1)));
    return ebm_reshape(ebm_div(d, ebm_add_scalar(sd, eps)), w->ndim, w->shape);
}

/* v / max(||v||, eps), no gradient */
static ebm_tensor_t *l2_normalize(ebm_tensor_t *v, float eps) {
    return ebm_div(v, ebm_clamp(ebm_sqrt(ebm_sum_all(ebm_square(v))), eps, INFINITY));
}

ebm_tensor_t *ebm_spectral_norm(ebm_tensor_t *w, ebm_tensor_t *u, int n_iter, float eps) {
    if (!w || !u || w->ctx->status != EBM_OK) return NULL;
    ebm_ctx_t *ctx = w->ctx;
    int O = w->shape[0], fan = (int)(w->numel / (size_t)O);
    if ((int)u->numel != O) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "spectral_norm: u has %zu elements, weight has %d outputs", u->numel, O);
        return NULL;
    }
    ebm_tensor_t *m = ebm_reshape(w, 2, (int[]){O, fan});
    int was = ebm_grad_set_enabled(ctx, 0);
    ebm_tensor_t *md = ebm_detach(m);
    ebm_tensor_t *uu = ebm_reshape(ebm_detach(u), 2, (int[]){O, 1});
    ebm_tensor_t *v = NULL;
    for (int i = 0; i < (n_iter > 0 ? n_iter : 1); i++) {
        v = l2_normalize(ebm_matmul(md, uu, 1, 0), eps);   /* (fan, 1) */
        uu = l2_normalize(ebm_matmul(md, v, 0, 0), eps);   /* (O, 1) */
    }
    if (uu && n_iter > 0) ebm_tensor_copy_into(u, uu);
    ebm_grad_set_enabled(ctx, was);
    /* sigma = u^T W v with the gradient through W only */
    ebm_tensor_t *sigma = ebm_sum_all(ebm_mul(uu, ebm_matmul(m, v, 0, 0)));
    return ebm_div(w, sigma);
}

ebm_tensor_t *ebm_self_attention(ebm_tensor_t *x, ebm_tensor_t *wq, ebm_tensor_t *bq, ebm_tensor_t *wk, ebm_tensor_t *bk,
                                 ebm_tensor_t *wv, ebm_tensor_t *bv, ebm_tensor_t *gamma) {
    if (!x || !wq || !wk || !wv || !gamma || x->ctx->status != EBM_OK) return NULL;
    if (x->ndim != 4) {
        ebm_fail(x->ctx, EBM_STATUS_SHAPE, "self_attention needs (B, C, H, W)");
        return NULL;
    }
    int B = x->shape[0], C = x->shape[1], N = x->shape[2] * x->shape[3];
    ebm_conv2d_params_t p1 = EBM_CONV2D(1, 0);
    ebm_tensor_t *q = ebm_reshape(ebm_conv2d(x, wq, bq, p1), 3, (int[]){B, -1, N});   /* (B, C', N) */
    ebm_tensor_t *k = ebm_reshape(ebm_conv2d(x, wk, bk, p1), 3, (int[]){B, -1, N});
    ebm_tensor_t *v = ebm_reshape(ebm_conv2d(x, wv, bv, p1), 3, (int[]){B, C, N});
    ebm_tensor_t *attn = ebm_softmax(ebm_matmul(q, k, 1, 0), 2);                        /* (B, N, N) */
    ebm_tensor_t *o = ebm_reshape(ebm_matmul(v, attn, 0, 1), 4, x->shape);              /* (B, C, H, W) */
    return ebm_add(ebm_mul(o, gamma), x);
}

ebm_tensor_t *ebm_pairwise_sqdist(ebm_tensor_t *a, ebm_tensor_t *b) {
    if (!a || !b || a->ctx->status != EBM_OK) return NULL;
    if (a->ndim != 2 || b->ndim != 2 || a->shape[1] != b->shape[1]) {
        char s1[64], s2[64];
        ebm_fail(a->ctx, EBM_STATUS_SHAPE, "pairwise_sqdist: %s and %s (need (N, D) and (M, D))", ebm_tensor_shape_str(a, s1, 64),
                 ebm_tensor_shape_str(b, s2, 64));
        return NULL;
    }
    ebm_tensor_t *a2 = ebm_sum(ebm_square(a), 0x2u, 1);                                        /* (N, 1) */
    ebm_tensor_t *b2 = ebm_reshape(ebm_sum(ebm_square(b), 0x2u, 1), 2, (int[]){1, b->shape[0]}); /* (1, M) */
    ebm_tensor_t *ab = ebm_matmul(a, b, 0, 1);
    return ebm_clamp(ebm_sub(ebm_add(a2, b2), ebm_scale(ab, 2.0f)), 0.0f, INFINITY);
}
