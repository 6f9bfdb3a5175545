/* reduce.c — sum_to / expand (adjoint pair), max_to, sum/mean over axes, softmax, logsumexp. */
#include <math.h>
#include <stdio.h>
#include "../internal.h"

/* Left-pads t's shape to 4 axes. */
static void pad4(int nd, const int *shape, int *out) {
    for (int i = 0; i < 4; i++) out[i] = i < 4 - nd ? 1 : shape[i - (4 - nd)];
}

/* target must have rank <= x's and each (aligned) axis equal to x's or 1. */
static int reducible(const ebm_tensor_t *x, int nd, const int *shape) {
    if (nd > x->ndim) {
        for (int i = 0; i < nd - x->ndim; i++)
            if (shape[i] != 1) return 0;
        shape += nd - x->ndim;
        nd = x->ndim;
    }
    for (int i = 0; i < nd; i++) {
        int d = x->shape[x->ndim - nd + i];
        if (shape[i] != d && shape[i] != 1) return 0;
    }
    return 1;
}

/* op 0: sum (times scale), 1: max. Output has the given shape. No graph. */
static ebm_tensor_t *reduce_raw(ebm_tensor_t *x, int nd, const int *shape, int op, float scale) {
    ebm_ctx_t *ctx = x->ctx;
    int x4[4], t4[4];
    pad4(x->ndim, x->shape, x4);
    pad4(nd, shape, t4);
    ebm_tensor_t *y = ebm_tensor_new(ctx, nd, shape);
    if (!y) return NULL;
    int xs[4], ks[4], rs[4], r4[4];
    long s = 1;
    for (int i = 3; i >= 0; i--) {
        xs[i] = (int)s;
        s *= x4[i];
    }
    int R = 1;
    for (int i = 0; i < 4; i++) {
        int red = t4[i] == 1 && x4[i] != 1;
        ks[i] = red ? 0 : xs[i];
        r4[i] = red ? x4[i] : 1;
        rs[i] = red ? xs[i] : 0;
        R *= r4[i];
    }
    /* reduced axes that are adjacent in memory become one (the inner keeps them, the outer gets
     * size 1), so that a contiguous block is one axis of stride 1 (cl/reduce.cl) */
    for (int inner = 3, j = 2; j >= 0; j--) {
        if (r4[j] == 1) continue;
        if (r4[inner] > 1 && rs[j] == (long)rs[inner] * r4[inner]) {
            r4[inner] *= r4[j], r4[j] = 1, rs[j] = 0;
            continue;
        }
        inner = j;
    }
    /* a work-group per output for long reductions; a work item per output when the reduced axis is
     * short or the outputs alone fill the device */
    int small = R <= 64 || (R <= 1024 && y->numel >= 4096);
    /* the long reduction: ebm_kernel_wg(reduce) items, on PoCL 16 of them per work item (reduce_lanes) */
    cl_kernel k = ebm_kernel(ctx, small ? EBM_K_REDUCE_SMALL : EBM_K_REDUCE);
    size_t wg = k ? ebm_kernel_wg(ctx, k) : 0;
    int lanes = !small && ctx->reduce_lanes == 16 && wg % 16 == 0 ? 16 : 1;
    if (lanes == 16) k = ebm_kernel(ctx, EBM_K_REDUCE_LANES);
    /* short reductions on PoCL: 16 outputs per work item where the innermost kept axis is
     * contiguous and at least 16 long (reduce_small16: vector loads, the same bits) */
    int outs = small && ctx->reduce_lanes == 16 && ks[3] == 1 && t4[3] >= 16 ? 16 : 1;
    if (outs == 16) k = ebm_kernel(ctx, EBM_K_REDUCE_SMALL16);
    if (!k) return NULL;
    ebm_status_t st = small ? ebm_kargs(ctx, k, "mlmliiiiiiiiiiiiiiiifi", y->buf, y->off, x->buf, x->off, t4[1], t4[2], t4[3],
                                        ks[0], ks[1], ks[2], ks[3], r4[1], r4[2], r4[3], rs[0], rs[1], rs[2], rs[3], R, op,
                                        (double)scale, (int)y->numel)
                            : ebm_kargs(ctx, k, "mlmliiiiiiiiiiiiiiiif", y->buf, y->off, x->buf, x->off, t4[1], t4[2], t4[3],
                                        ks[0], ks[1], ks[2], ks[3], r4[1], r4[2], r4[3], rs[0], rs[1], rs[2], rs[3], R, op,
                                        (double)scale);
    if (st != EBM_OK) return NULL;
    if ((small ? ebm_launch1(ctx, k, (y->numel + outs - 1) / outs) : ebm_launch_groups(ctx, k, y->numel, wg / (size_t)lanes)) != EBM_OK) return NULL;
    return y;
}

static ebm_tensor_t *sum_to_scaled(ebm_tensor_t *x, int nd, const int *shape, float scale);
static ebm_tensor_t *expand_impl(ebm_tensor_t *x, int nd, const int *shape);

/* The scaled broadcast of a sum's gradient times f'(z), where the sum's input is f(z) and its
 * fusion offer stands (ebm_grad without a graph): one launch (cl/elementwise.cl expand_mul) where
 * the scale, the broadcast and the activation's backward took three, as a global average pool's
 * backward does in every Langevin step. Only where the sum took whole trailing axes, so a row of
 * the gradient covers a contiguous run; NULL otherwise (and then nothing is taken). */
static ebm_tensor_t *sum_to_backward_fused(ebm_tensor_t *gy, float s, const ebm_grad_fuse_t *f) {
    ebm_tensor_t *z = f->x;
    ebm_ctx_t *ctx = z->ctx;
    int g4[4], t4[4], k = 4;
    if (z->ndim > 4 || gy->ndim > z->ndim || z->numel > 2147483647u) return NULL;
    pad4(gy->ndim, gy->shape, g4);
    pad4(z->ndim, z->shape, t4);
    while (k > 0 && g4[k - 1] == 1) k--;   /* axes k.. are summed (or of size 1) */
    for (int i = 0; i < k; i++)
        if (g4[i] != t4[i]) return NULL;
    size_t rows = gy->numel, P = z->numel / (rows ? rows : 1);
    int lp = 0;   /* rows of 1 to 16 elements, a power of two: one work item per element (expand_mul_pow2) */
    while (lp < 5 && (size_t)1 << lp != P) lp++;
    cl_kernel kn = ebm_kernel_fn_order(ctx, lp < 5 ? EBM_K_EXPAND_MUL_POW2 : EBM_K_EXPAND_MUL, f->fn, 1);
    ebm_tensor_t *y = kn ? ebm_tensor_new(ctx, z->ndim, z->shape) : NULL;
    if (!y) return NULL;
    ebm_status_t st = lp < 5 ? ebm_kargs(ctx, kn, "mlmlmlfffil", y->buf, y->off, gy->buf, gy->off, z->buf, z->off, (double)s,
                                         (double)f->a, (double)f->b, lp, z->numel)
                             : ebm_kargs(ctx, kn, "mlmlmlfffii", y->buf, y->off, gy->buf, gy->off, z->buf, z->off, (double)s,
                                         (double)f->a, (double)f->b, (int)P, (int)rows);
    if (st != EBM_OK || (lp < 5 ? ebm_launch1(ctx, kn, z->numel) : ebm_launch3(ctx, kn, P, rows, 1)) != EBM_OK) return NULL;
    return y;
}

static void sum_to_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    (void)need;
    ebm_tensor_t *x = n->in[0];
    const ebm_grad_fuse_t *f = ebm_grad_fuse_offer(x->ctx, 0);
    if (f && gy && (gx[0] = sum_to_backward_fused(gy, n->fp[0], f))) {
        ebm_grad_fuse_take(x->ctx, 0);
        return;
    }
    ebm_tensor_t *g = n->fp[0] != 1.0f ? ebm_scale(gy, n->fp[0]) : gy;
    gx[0] = expand_impl(g, x->ndim, x->shape);
}

static void expand_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    (void)need;
    gx[0] = sum_to_scaled(gy, n->in[0]->ndim, n->in[0]->shape, 1.0f);
}

static ebm_tensor_t *sum_to_scaled(ebm_tensor_t *x, int nd, const int *shape, float scale) {
    if (!x) return NULL;
    ebm_ctx_t *ctx = x->ctx;
    if (ctx->status != EBM_OK) return NULL;
    if (!reducible(x, nd, shape)) {
        char s1[64];
        ebm_fail(ctx, EBM_STATUS_SHAPE, "sum_to: %s cannot be summed to a rank-%d shape with first axis %d",
                 ebm_tensor_shape_str(x, s1, 64), nd, shape[0]);
        return NULL;
    }
    if (scale == 1.0f && ebm_shape_eq(x->ndim, x->shape, nd, shape)) return x;
    ebm_tensor_t *y = reduce_raw(x, nd, shape, 0, scale);
    if (!y) return NULL;
    ebm_node_t *n = ebm_record(y, "sum_to", sum_to_backward, 1, &x);
    if (n) n->fp[0] = scale;
    return y;
}

static ebm_tensor_t *expand_impl(ebm_tensor_t *x, int nd, const int *shape) {
    if (!x) return NULL;
    ebm_ctx_t *ctx = x->ctx;
    if (ctx->status != EBM_OK) return NULL;
    if (ebm_shape_eq(x->ndim, x->shape, nd, shape)) return x;
    if (nd > 4 || x->ndim > nd) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "expand: rank %d to rank %d", x->ndim, nd);
        return NULL;
    }
    int x4[4], t4[4];
    pad4(x->ndim, x->shape, x4);
    pad4(nd, shape, t4);
    long xs[4], ys[4], s = 1;
    for (int i = 3; i >= 0; i--) {
        if (x4[i] != t4[i] && x4[i] != 1) {
            char s1[64];
            ebm_fail(ctx, EBM_STATUS_SHAPE, "expand: %s cannot broadcast to axis %d of size %d", ebm_tensor_shape_str(x, s1, 64), i, t4[i]);
            return NULL;
        }
        xs[i] = x4[i] == 1 ? 0 : s;
        s *= x4[i];
    }
    ebm_tensor_t *y = ebm_tensor_new(ctx, nd, shape);
    if (!y) return NULL;
    ebm_contig_strides(4, t4, ys);
    if (ebm_copy_strided(ctx, t4, y->buf, y->off, ys, x->buf, x->off, xs) != EBM_OK) return NULL;
    ebm_record(y, "expand", expand_backward, 1, &x);
    return y;
}

ebm_tensor_t *ebm_sum_to(ebm_tensor_t *x, int nd, const int *shape) { return sum_to_scaled(x, nd, shape, 1.0f); }
ebm_tensor_t *ebm_expand(ebm_tensor_t *x, int nd, const int *shape) { return expand_impl(x, nd, shape); }

ebm_tensor_t *ebm_max_to(ebm_tensor_t *x, int nd, const int *shape) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    if (!reducible(x, nd, shape)) {
        ebm_fail(x->ctx, EBM_STATUS_SHAPE, "max_to: incompatible shape");
        return NULL;
    }
    return reduce_raw(x, nd, shape, 1, 1.0f);
}

static ebm_tensor_t *sum_axes(ebm_tensor_t *x, unsigned mask, int keepdim, int mean) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    int kept[4], nk = 0, t[4] = {1, 1, 1, 1};
    size_t count = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (mask & (1u << i)) {
            t[i] = 1;
            count *= (size_t)x->shape[i];
        } else {
            t[i] = x->shape[i];
            kept[nk++] = x->shape[i];
        }
    }
    if (mask >> x->ndim) {
        ebm_fail(x->ctx, EBM_STATUS_INVALID_ARGUMENT, "sum: axis mask 0x%x exceeds rank %d", mask, x->ndim);
        return NULL;
    }
    ebm_tensor_t *y = sum_to_scaled(x, x->ndim, t, mean ? (float)(1.0 / (double)count) : 1.0f);
    if (keepdim) return y;
    if (nk == 0) kept[nk++] = 1;
    return ebm_reshape(y, nk, kept);
}

ebm_tensor_t *ebm_sum(ebm_tensor_t *x, unsigned axes_mask, int keepdim) { return sum_axes(x, axes_mask, keepdim, 0); }
ebm_tensor_t *ebm_mean(ebm_tensor_t *x, unsigned axes_mask, int keepdim) { return sum_axes(x, axes_mask, keepdim, 1); }
ebm_tensor_t *ebm_sum_all(ebm_tensor_t *x) { return x ? sum_axes(x, (1u << x->ndim) - 1, 0, 0) : NULL; }
ebm_tensor_t *ebm_mean_all(ebm_tensor_t *x) { return x ? sum_axes(x, (1u << x->ndim) - 1, 0, 1) : NULL; }

static int norm_axis(ebm_tensor_t *x, int axis) {
    if (axis < 0) axis += x->ndim;
    if (axis < 0 || axis >= x->ndim) {
        ebm_fail(x->ctx, EBM_STATUS_INVALID_ARGUMENT, "axis %d out of range for rank %d", axis, x->ndim);
        return -1;
    }
    return axis;
}

/* The maximum along `axis` as a constant (no gradient): softmax and logsumexp are invariant to it,
 * so treating it as constant gives exact derivatives of every order. */
static ebm_tensor_t *axis_max_const(ebm_tensor_t *x, int axis) {
    int t[4];
    for (int i = 0; i < x->ndim; i++) t[i] = i == axis ? 1 : x->shape[i];
    return ebm_max_to(x, x->ndim, t);
}

ebm_tensor_t *ebm_softmax(ebm_tensor_t *x, int axis) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    if ((axis = norm_axis(x, axis)) < 0) return NULL;
    ebm_tensor_t *e = ebm_exp(ebm_sub(x, axis_max_const(x, axis)));
    return ebm_div(e, ebm_sum(e, 1u << axis, 1));
}

ebm_tensor_t *ebm_logsumexp(ebm_tensor_t *x, int axis, int keepdim) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    if ((axis = norm_axis(x, axis)) < 0) return NULL;
    ebm_tensor_t *m = axis_max_const(x, axis);
    ebm_tensor_t *r = ebm_add(ebm_log(ebm_sum(ebm_exp(ebm_sub(x, m)), 1u << axis, 1)), m);
    if (keepdim || !r) return r;
    int s[4], n = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != axis) s[n++] = x->shape[i];
    if (!n) s[n++] = 1;
    return ebm_reshape(r, n, s);
}
