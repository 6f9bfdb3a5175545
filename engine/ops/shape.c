/* shape.c — reshape (a view), permute, slice / slice_adjoint, concat, and the strided copy they share. */
#include <stdio.h>
#include <string.h>
#include "../internal.h"

void ebm_contig_strides(int ndim, const int *shape, long *str) {
    long s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        str[i] = s;
        s *= shape[i];
    }
}

ebm_status_t ebm_copy_strided(ebm_ctx_t *ctx, const int *box, cl_mem dst, size_t d_off, const long *d_str, cl_mem src,
                              size_t s_off, const long *s_str) {
    if (ctx->status != EBM_OK) return ctx->status;
    size_t total = ebm_shape_numel(4, box);
    cl_kernel k = ebm_kernel(ctx, EBM_K_COPY_STRIDED);
    if (!k) return ctx->status;
    if (total == 0) return EBM_OK;
    /* Axes of size 1 dropped and neighbours merged where both strides allow (an axis whose strides
     * are the next one's times its size), from the innermost out: the innermost axis is the launch's
     * dimension 0, and one of 4 (a broadcast's expand over 4x4 planes) made work-groups of 1 x 4
     * items. */
    int b[4] = {1, 1, 1, 1}, n = 0;
    long ds[4] = {0, 0, 0, 0}, ss[4] = {0, 0, 0, 0};
    for (int i = 3; i >= 0; i--) {
        if (box[i] == 1) continue;
        if (n > 0 && d_str[i] == ds[4 - n] * b[4 - n] && s_str[i] == ss[4 - n] * b[4 - n]) {
            b[4 - n] *= box[i];
            continue;
        }
        n++;
        b[4 - n] = box[i], ds[4 - n] = d_str[i], ss[4 - n] = s_str[i];
    }
    if (ebm_kargs(ctx, k, "mlmliiiiiiiiiiii", dst, d_off, src, s_off, b[0], b[1], b[2], b[3], (int)ds[0], (int)ds[1],
                  (int)ds[2], (int)ds[3], (int)ss[0], (int)ss[1], (int)ss[2], (int)ss[3]) != EBM_OK)
        return ctx->status;
    return ebm_launch3(ctx, k, (size_t)b[3], (size_t)b[2], (size_t)b[0] * b[1]);
}

/* ---- reshape ---- */

static void reshape_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    (void)need;
    gx[0] = ebm_reshape(gy, n->in[0]->ndim, n->in[0]->shape);
}

ebm_tensor_t *ebm_reshape(ebm_tensor_t *x, int ndim, const int *shape) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    ebm_ctx_t *ctx = x->ctx;
    int s[4], infer = -1;
    size_t known = 1;
    if (ndim < 1 || ndim > 4) {
        ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "reshape to rank %d", ndim);
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (shape[i] == -1 && infer < 0) infer = i;
        else known *= (size_t)(shape[i] > 0 ? shape[i] : 0);
    }
    if (infer >= 0 && known > 0 && x->numel % known == 0) s[infer] = (int)(x->numel / known);
    char s1[64];
    if (ebm_shape_numel(ndim, s) != x->numel || (infer >= 0 && s[infer] <= 0)) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "reshape: %s (%zu elements) to a rank-%d shape of %zu elements",
                 ebm_tensor_shape_str(x, s1, 64), x->numel, ndim, ebm_shape_numel(ndim, s));
        return NULL;
    }
    ebm_tensor_t *y = ebm_tensor_view(x, ndim, s, x->off);
    if (y) ebm_record(y, "reshape", reshape_backward, 1, &x);
    return y;
}

/* ---- permute ---- */

static void permute_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    (void)need;
    int inv[4];
    for (int i = 0; i < n->in[0]->ndim; i++) inv[n->ip[i]] = i;
    gx[0] = ebm_permute(gy, inv);
}

ebm_tensor_t *ebm_permute(ebm_tensor_t *x, const int *perm) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    int nd = x->ndim, seen = 0, s[4] = {1, 1, 1, 1};
    for (int i = 0; i < nd; i++) {
        if (perm[i] < 0 || perm[i] >= nd || (seen & (1 << perm[i]))) {
            ebm_fail(x->ctx, EBM_STATUS_INVALID_ARGUMENT, "permute: axis list is not a permutation of 0..%d", nd - 1);
            return NULL;
        }
        seen |= 1 << perm[i];
        s[i] = x->shape[perm[i]];
    }
    ebm_tensor_t *y = ebm_tensor_new(x->ctx, nd, s);
    if (!y) return NULL;
    long xs[4], box_d[4] = {0, 0, 0, 0}, box_s[4] = {0, 0, 0, 0};
    ebm_contig_strides(nd, x->shape, xs);
    long ys[4];
    ebm_contig_strides(nd, s, ys);
    int box[4] = {1, 1, 1, 1};
    for (int i = 0; i < nd; i++) {
        box[4 - nd + i] = s[i];
        box_d[4 - nd + i] = ys[i];
        box_s[4 - nd + i] = xs[perm[i]];
    }
    if (ebm_copy_strided(x->ctx, box, y->buf, y->off, box_d, x->buf, x->off, box_s) != EBM_OK) return NULL;
    ebm_node_t *n = ebm_record(y, "permute", permute_backward, 1, &x);
    if (n)
        for (int i = 0; i < nd; i++) n->ip[i] = perm[i];
    return y;
}

ebm_tensor_t *ebm_transpose(ebm_tensor_t *x, int a, int b) {
    if (!x) return NULL;
    if (a < 0) a += x->ndim;
    if (b < 0) b += x->ndim;
    if (a < 0 || b < 0 || a >= x->ndim || b >= x->ndim) {
        ebm_fail(x->ctx, EBM_STATUS_INVALID_ARGUMENT, "transpose: axes %d, %d out of range for rank %d", a, b, x->ndim);
        return NULL;
    }
    int perm[4] = {0, 1, 2, 3};
    perm[a] = b;
    perm[b] = a;
    return ebm_permute(x, perm);
}

/* ---- slice and its adjoint ---- */

/* Copies between a box of `small` shape and the region [start, start+len) of `axis` in `big`.
 * to_big: small -> big region; else big region -> small. */
static ebm_status_t region_copy(ebm_tensor_t *small, ebm_tensor_t *big, int axis, int start, int to_big) {
    int nd = big->ndim, box[4] = {1, 1, 1, 1};
    long bs[4], ss[4], b4[4] = {0, 0, 0, 0}, s4[4] = {0, 0, 0, 0};
    ebm_contig_strides(nd, big->shape, bs);
    ebm_contig_strides(nd, small->shape, ss);
    for (int i = 0; i < nd; i++) {
        box[4 - nd + i] = small->shape[i];
        b4[4 - nd + i] = bs[i];
        s4[4 - nd + i] = ss[i];
    }
    size_t boff = big->off + (size_t)start * (size_t)bs[axis];
    if (to_big) return ebm_copy_strided(big->ctx, box, big->buf, boff, b4, small->buf, small->off, s4);
    return ebm_copy_strided(big->ctx, box, small->buf, small->off, s4, big->buf, boff, b4);
}

static void slice_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    (void)need;
    gx[0] = ebm_slice_adjoint(gy, n->ip[0], n->ip[1], n->in[0]->ndim, n->in[0]->shape);
}

static void slice_adjoint_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    (void)need;
    gx[0] = ebm_slice(gy, n->ip[0], n->ip[1], n->in[0]->shape[n->ip[0]]);
}

ebm_tensor_t *ebm_slice(ebm_tensor_t *x, int axis, int start, int len) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    if (axis < 0) axis += x->ndim;
    if (axis < 0 || axis >= x->ndim || start < 0 || len <= 0 || start + len > x->shape[axis]) {
        char s1[64];
        ebm_fail(x->ctx, EBM_STATUS_SHAPE, "slice [%d, %d) of axis %d of %s is out of range", start, start + len, axis,
                 ebm_tensor_shape_str(x, s1, 64));
        return NULL;
    }
    int s[4];
    memcpy(s, x->shape, sizeof s);
    s[axis] = len;
    ebm_tensor_t *y = ebm_tensor_new(x->ctx, x->ndim, s);
    if (!y || region_copy(y, x, axis, start, 0) != EBM_OK) return NULL;
    ebm_node_t *n = ebm_record(y, "slice", slice_backward, 1, &x);
    if (n) {
        n->ip[0] = axis;
        n->ip[1] = start;
    }
    return y;
}

ebm_tensor_t *ebm_slice_adjoint(ebm_tensor_t *x, int axis, int start, int ndim, const int *shape) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    if (axis < 0) axis += ndim;
    int ok = ndim == x->ndim && axis >= 0 && axis < ndim && start >= 0 && start + x->shape[axis] <= shape[axis];
    for (int i = 0; ok && i < ndim; i++)
        if (i != axis && shape[i] != x->shape[i]) ok = 0;
    if (!ok) {
        char s1[64];
        ebm_fail(x->ctx, EBM_STATUS_SHAPE, "slice_adjoint: %s does not fit at %d of axis %d", ebm_tensor_shape_str(x, s1, 64),
                 start, axis);
        return NULL;
    }
    ebm_tensor_t *y = ebm_tensor_zeros(x->ctx, ndim, shape);
    if (!y || region_copy(x, y, axis, start, 1) != EBM_OK) return NULL;
    ebm_node_t *n = ebm_record(y, "slice_adjoint", slice_adjoint_backward, 1, &x);
    if (n) {
        n->ip[0] = axis;
        n->ip[1] = start;
    }
    return y;
}

/* ---- concat ---- */

static void concat_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    int axis = n->ip[0], start = 0;
    for (int i = 0; i < n->n_in; i++) {
        int len = n->in[i]->shape[axis];
        if (need[i]) gx[i] = ebm_slice(gy, axis, start, len);
        start += len;
    }
}

ebm_tensor_t *ebm_concat(ebm_tensor_t *const *xs, int n, int axis) {
    if (n <= 0 || !xs[0]) return NULL;
    ebm_ctx_t *ctx = xs[0]->ctx;
    for (int i = 0; i < n; i++)
        if (!xs[i]) return NULL;
    if (ctx->status != EBM_OK) return NULL;
    if (n > EBM_NODE_MAX_IN) {   /* group: concat(concat(first 4), rest) */
        ebm_tensor_t *head = ebm_concat(xs, EBM_NODE_MAX_IN, axis);
        ebm_tensor_t *rest[64];
        if (n - EBM_NODE_MAX_IN + 1 > 64) {
            ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "concat of more than 67 tensors");
            return NULL;
        }
        rest[0] = head;
        for (int i = EBM_NODE_MAX_IN; i < n; i++) rest[i - EBM_NODE_MAX_IN + 1] = xs[i];
        return ebm_concat(rest, n - EBM_NODE_MAX_IN + 1, axis);
    }
    const ebm_tensor_t *x0 = xs[0];
    if (axis < 0) axis += x0->ndim;
    int s[4];
    memcpy(s, x0->shape, sizeof s);
    s[axis] = 0;
    for (int i = 0; i < n; i++) {
        int ok = xs[i]->ndim == x0->ndim;
        for (int d = 0; ok && d < x0->ndim; d++)
            if (d != axis && xs[i]->shape[d] != x0->shape[d]) ok = 0;
        if (!ok || axis < 0 || axis >= x0->ndim) {
            char s1[64], s2[64];
            ebm_fail(ctx, EBM_STATUS_SHAPE, "concat on axis %d: %s and %s differ off that axis", axis,
                     ebm_tensor_shape_str(x0, s1, 64), ebm_tensor_shape_str(xs[i], s2, 64));
            return NULL;
        }
        s[axis] += xs[i]->shape[axis];
    }
    ebm_tensor_t *y = ebm_tensor_new(ctx, x0->ndim, s);
    if (!y) return NULL;
    int start = 0;
    for (int i = 0; i < n; i++) {
        if (region_copy(xs[i], y, axis, start, 1) != EBM_OK) return NULL;
        start += xs[i]->shape[axis];
    }
    ebm_node_t *nd = ebm_record(y, "concat", concat_backward, n, xs);
    if (nd) nd->ip[0] = axis;
    return y;
}
