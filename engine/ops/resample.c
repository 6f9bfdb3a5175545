/* resample.c — avg-pool, nearest and bilinear upsampling: each a linear map with its adjoint
 * kernel; the backward of a map is its adjoint and vice versa. */
#include <stdio.h>
#include "../internal.h"

typedef enum { RS_AVGPOOL = 0, RS_NEAREST, RS_BILINEAR } rs_kind_t;

static const ebm_kernel_id_t rs_kernels[3][2] = {
    {EBM_K_AVGPOOL, EBM_K_AVGPOOL_T}, {EBM_K_UP_NEAREST, EBM_K_UP_NEAREST_T}, {EBM_K_UP_BILINEAR, EBM_K_UP_BILINEAR_T}};
static const char *const rs_names[3][2] = {
    {"avg_pool2d", "avg_pool2d_adjoint"}, {"upsample_nearest", "upsample_nearest_adjoint"},
    {"upsample_bilinear", "upsample_bilinear_adjoint"}};

/* params: avgpool k, s, p; upsample scale in k. Small = (H, W) of the pooled/un-upsampled side. */
static ebm_tensor_t *resample(ebm_tensor_t *x, rs_kind_t kind, int adjoint, int k, int s, int p, int bigH, int bigW);

static void rs_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    (void)need;
    gx[0] = resample(gy, (rs_kind_t)n->ip[0], !n->ip[1], n->ip[2], n->ip[3], n->ip[4], n->ip[5], n->ip[6]);
}

static ebm_tensor_t *resample(ebm_tensor_t *x, rs_kind_t kind, int adjoint, int k, int s, int p, int bigH, int bigW) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    ebm_ctx_t *ctx = x->ctx;
    char s1[64];
    if (x->ndim != 4) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "%s needs (B, C, H, W), got %s", rs_names[kind][adjoint], ebm_tensor_shape_str(x, s1, 64));
        return NULL;
    }
    int P = x->shape[0] * x->shape[1];
    int H, W, Ho, Wo;   /* H, W: the "input" side of the forward map; Ho, Wo its output side */
    if (kind == RS_AVGPOOL) {
        if (k < 1 || s < 1 || p < 0 || 2 * p > k) {
            ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "avg_pool2d: kernel %d, stride %d, padding %d (need pad <= kernel/2)", k, s, p);
            return NULL;
        }
        H = adjoint ? bigH : x->shape[2];
        W = adjoint ? bigW : x->shape[3];
        Ho = (H + 2 * p - k) / s + 1;
        Wo = (W + 2 * p - k) / s + 1;
        if (H + 2 * p < k || W + 2 * p < k) {
            ebm_fail(ctx, EBM_STATUS_SHAPE, "avg_pool2d: kernel %d larger than padded input %dx%d", k, H, W);
            return NULL;
        }
    } else {
        if (k < 1) {
            ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "upsample scale %d must be >= 1", k);
            return NULL;
        }
        H = adjoint ? x->shape[2] / k : x->shape[2];
        W = adjoint ? x->shape[3] / k : x->shape[3];
        Ho = H * k;
        Wo = W * k;
    }
    if (adjoint && (x->shape[2] != Ho || x->shape[3] != Wo)) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "%s: gradient %s does not match %dx%d", rs_names[kind][adjoint], ebm_tensor_shape_str(x, s1, 64), Ho, Wo);
        return NULL;
    }
    int oh = adjoint ? H : Ho, ow = adjoint ? W : Wo;
    ebm_tensor_t *y = ebm_tensor_new(ctx, 4, (int[]){x->shape[0], x->shape[1], oh, ow});
    if (!y) return NULL;
    ebm_kernel_id_t id = rs_kernels[kind][adjoint];
    /* average pooling's unrolled kernels: windows of at most 4x4, or at most two windows per pixel
     * and axis (its float quotients are exact below 2^24: cl/resample.cl, div_floor) */
    if (kind == RS_AVGPOOL && !adjoint && k <= 4) id = EBM_K_AVGPOOL_K4;
    if (kind == RS_AVGPOOL && adjoint && k <= 2 * s && (long)H + p + s < (1L << 24) && (long)W + p + s < (1L << 24))
        id = EBM_K_AVGPOOL_T_W2;
    cl_kernel kr = ebm_kernel(ctx, id);
    if (!kr) return NULL;
    ebm_status_t st = kind == RS_AVGPOOL
                          ? ebm_kargs(ctx, kr, "mlmliiiiiiii", y->buf, y->off, x->buf, x->off, P, H, W, Ho, Wo, k, s, p)
                          : ebm_kargs(ctx, kr, "mlmliiii", y->buf, y->off, x->buf, x->off, P, H, W, k);
    if (st != EBM_OK || ebm_launch3(ctx, kr, (size_t)ow, (size_t)oh, (size_t)P) != EBM_OK) return NULL;
    ebm_node_t *n = ebm_record(y, rs_names[kind][adjoint], rs_backward, 1, &x);
    if (n) {
        n->ip[0] = kind, n->ip[1] = adjoint, n->ip[2] = k, n->ip[3] = s, n->ip[4] = p;
        n->ip[5] = H, n->ip[6] = W;
    }
    return y;
}

ebm_tensor_t *ebm_avg_pool2d(ebm_tensor_t *x, int k, int stride, int pad) {
    return resample(x, RS_AVGPOOL, 0, k, stride, pad, 0, 0);
}

ebm_tensor_t *ebm_upsample_nearest(ebm_tensor_t *x, int scale) { return resample(x, RS_NEAREST, 0, scale, 0, 0, 0, 0); }
ebm_tensor_t *ebm_upsample_bilinear(ebm_tensor_t *x, int scale) { return resample(x, RS_BILINEAR, 0, scale, 0, 0, 0, 0); }
