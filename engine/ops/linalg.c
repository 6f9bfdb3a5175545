/* linalg.c — GEMM through CLBlast, matmul (2-D and batched 3-D) and linear. */
#include <clblast_c.h>
#include <stdio.h>
#include "../internal.h"

ebm_status_t ebm_gemm(ebm_ctx_t *ctx, int ta, int tb, size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off,
                      size_t lda, size_t a_stride, cl_mem b, size_t b_off, size_t ldb, size_t b_stride, float beta,
                      cl_mem c, size_t c_off, size_t ldc, size_t c_stride, size_t batch) {
    if (ctx->status != EBM_OK) return ctx->status;
    CLBlastStatusCode s;
    cl_event *ev = ebm_profile_event(ctx);
    CLBlastTranspose TA = ta ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose TB = tb ? CLBlastTransposeYes : CLBlastTransposeNo;
    if (batch == 1)
        s = CLBlastSgemm(CLBlastLayoutRowMajor, TA, TB, m, n, k, alpha, a, a_off, lda, b, b_off, ldb, beta, c, c_off, ldc,
                         &ctx->queue, ev);
    else
        s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, TA, TB, m, n, k, alpha, a, a_off, lda, a_stride, b, b_off, ldb,
                                       b_stride, beta, c, c_off, ldc, c_stride, batch, &ctx->queue, ev);
    if (s != CLBlastSuccess) {
        if (s < 0 && s > -70) return ebm_cl_fail(ctx, s, "CLBlast GEMM");
        return ebm_fail(ctx, EBM_STATUS_BLAS, "CLBlast GEMM (m=%zu n=%zu k=%zu batch=%zu) failed with status %d", m, n, k,
                        batch, (int)s);
    }
    return EBM_OK;
}

static void matmul_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    ebm_tensor_t *A = n->in[0], *B = n->in[1];
    int ta = n->ip[0], tb = n->ip[1];
    if (!ta && !tb) {
        if (need[0]) gx[0] = ebm_matmul(gy, B, 0, 1);
        if (need[1]) gx[1] = ebm_matmul(A, gy, 1, 0);
    } else if (!ta && tb) {
        if (need[0]) gx[0] = ebm_matmul(gy, B, 0, 0);
        if (need[1]) gx[1] = ebm_matmul(gy, A, 1, 0);
    } else if (ta && !tb) {
        if (need[0]) gx[0] = ebm_matmul(B, gy, 0, 1);
        if (need[1]) gx[1] = ebm_matmul(A, gy, 0, 0);
    } else {
        if (need[0]) gx[0] = ebm_matmul(B, gy, 1, 1);
        if (need[1]) gx[1] = ebm_matmul(gy, A, 1, 1);
    }
}

ebm_tensor_t *ebm_matmul(ebm_tensor_t *a, ebm_tensor_t *b, int ta, int tb) {
    if (!a || !b || a->ctx->status != EBM_OK) return NULL;
    ebm_ctx_t *ctx = a->ctx;
    char s1[64], s2[64];
    if (a->ndim != b->ndim || a->ndim < 2 || a->ndim > 3 || (a->ndim == 3 && a->shape[0] != b->shape[0])) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "matmul: %s and %s (need two 2-D, or two 3-D with equal batch)",
                 ebm_tensor_shape_str(a, s1, 64), ebm_tensor_shape_str(b, s2, 64));
        return NULL;
    }
    int o = a->ndim - 2;
    size_t batch = o ? (size_t)a->shape[0] : 1;
    size_t ar = a->shape[o], ac = a->shape[o + 1], br = b->shape[o], bc = b->shape[o + 1];
    size_t m = ta ? ac : ar, k = ta ? ar : ac, kb = tb ? bc : br, n = tb ? br : bc;
    if (k != kb) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "matmul: inner sizes differ, %s%s x %s%s", ebm_tensor_shape_str(a, s1, 64),
                 ta ? "^T" : "", ebm_tensor_shape_str(b, s2, 64), tb ? "^T" : "");
        return NULL;
    }
    int shape[3] = {(int)batch, (int)m, (int)n};
    ebm_tensor_t *y = o ? ebm_tensor_new(ctx, 3, shape) : ebm_tensor_new(ctx, 2, shape + 1);
    if (!y) return NULL;
    if (ebm_gemm(ctx, ta, tb, m, n, k, 1.0f, a->buf, a->off, ac, ar * ac, b->buf, b->off, bc, br * bc, 0.0f, y->buf, y->off,
                 n, m * n, batch) != EBM_OK)
        return NULL;
    ebm_node_t *nd = ebm_record(y, "matmul", matmul_backward, 2, (ebm_tensor_t *[]){a, b});
    if (nd) {
        nd->ip[0] = ta;
        nd->ip[1] = tb;
    }
    return y;
}

ebm_tensor_t *ebm_linear(ebm_tensor_t *x, ebm_tensor_t *w, ebm_tensor_t *b) {
    if (!x || !w) return NULL;
    if (x->ndim != 2 || w->ndim != 2 || x->shape[1] != w->shape[1] || (b && (int)b->numel != w->shape[0])) {
        char s1[64], s2[64];
        ebm_fail(x->ctx, EBM_STATUS_SHAPE, "linear: input %s, weight %s (need (B, in) and (out, in))",
                 ebm_tensor_shape_str(x, s1, 64), ebm_tensor_shape_str(w, s2, 64));
        return NULL;
    }
    ebm_tensor_t *y = ebm_matmul(x, w, 0, 1);
    return b ? ebm_add(y, b) : y;
}
