/* conv.c — conv2d, its input and weight adjoints (each the backward of the others, so the three
 * are closed under differentiation), and conv_transpose2d.
 *
 * Algorithm: im2col into (C*kH*kW, B*Ho*Wo) so the whole batch is one CLBlast GEMM; outputs are
 * produced as (O, B, Ho*Wo) and permuted to (B, O, Ho, Wo) (skipped when B == 1). Temporaries go
 * back to the pool as soon as their consumer is enqueued (the in-order queue orders the reuse). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "../internal.h"
#include "conv_internal.h"

typedef ebm_conv_geom_t geom_t;

/* CONV_FWD_EPI: a forward followed by a bias and/or an activation, measured as it runs (the tile path
 * with both in its GEMM's store, the others with the two passes after the convolution).
 * CONV_IGRAD_FUSED: an input gradient times gf, the derivative of its input's activation, measured as
 * it runs: applied as it is stored by every algorithm but FFT, which takes a pass after. So an
 * algorithm whose store is slow with the derivative is not chosen on its time without it. */
typedef enum { CONV_FWD = 0, CONV_IGRAD, CONV_WGRAD, CONV_FWD_EPI, CONV_IGRAD_FUSED } conv_kind_t;
typedef struct { ebm_tensor_t *b; int fn; float a; const ebm_grad_fuse_t *gf; } conv_epi_t;

static int out_size(int in, int k, int s, int pd, int d) { return (in + 2 * pd - d * (k - 1) - 1) / s + 1; }

static int geom_check(ebm_ctx_t *ctx, geom_t *g, const char *op) {
    ebm_conv2d_params_t p = g->p;
    if (p.stride_h < 1 || p.stride_w < 1 || p.dil_h < 1 || p.dil_w < 1 || p.pad_h < 0 || p.pad_w < 0) {
        ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "%s: stride and dilation must be >= 1 and padding >= 0", op);
        return 0;
    }
    if (g->Ho < 1 || g->Wo < 1) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "%s: a %dx%d kernel does not fit a %dx%d input with this padding/dilation", op, g->KH,
                 g->KW, g->H, g->W);
        return 0;
    }
    return 1;
}

static ebm_status_t run_im2col(ebm_ctx_t *ctx, const geom_t *g, ebm_tensor_t *col, ebm_tensor_t *x) {
    cl_kernel k = ebm_kernel(ctx, EBM_K_IM2COL);
    if (!k || ebm_kargs(ctx, k, "mlmliiiiiiiiiiiiii", col->buf, col->off, x->buf, x->off, g->N, g->C, g->H, g->W, g->KH, g->KW,
                        g->Ho, g->Wo, g->p.stride_h, g->p.stride_w, g->p.pad_h, g->p.pad_w, g->p.dil_h, g->p.dil_w) != EBM_OK)
        return ctx->status;
    return ebm_launch3(ctx, k, (size_t)g->N * g->Ho, (size_t)g->C * g->KH * g->KW, 1);
}

/* x = col2im(col), times f'(gf->x) where gf is given (the fused activation derivative) */
static ebm_status_t run_col2im(ebm_ctx_t *ctx, const geom_t *g, ebm_tensor_t *col, ebm_tensor_t *x, const ebm_grad_fuse_t *gf) {
    cl_kernel k = ebm_kernel_fn(ctx, EBM_K_COL2IM, gf ? gf->fn : -1);
    if (!k || ebm_kargs(ctx, k, "mlmliiiiiiiiiiiiiimliff", x->buf, x->off, col->buf, col->off, g->N, g->C, g->H, g->W, g->KH,
                        g->KW, g->Ho, g->Wo, g->p.stride_h, g->p.stride_w, g->p.pad_h, g->p.pad_w, g->p.dil_h, g->p.dil_w,
                        gf ? gf->x->buf : x->buf, gf ? gf->x->off : x->off, gf != NULL, (double)(gf ? gf->a : 0.0f),
                        (double)(gf ? gf->b : 0.0f)) != EBM_OK)
        return ctx->status;
    return ebm_launch_groups(ctx, k, ((size_t)g->N * g->C + 7) / 8, 8);   /* small groups: few, large planes */
}

/* (A, B, P) -> (B, A, P) into dst */
static ebm_status_t swap01(ebm_ctx_t *ctx, ebm_tensor_t *dst, ebm_tensor_t *src, int A, int B, int P) {
    int box[4] = {1, B, A, P};
    long ds[4] = {0, (long)A * P, P, 1}, ss[4] = {0, P, (long)B * P, 1};
    return ebm_copy_strided(ctx, box, dst->buf, dst->off, ds, src->buf, src->off, ss);
}

/* x (N,C,H,W), w (O,C,KH,KW) -> y (N,O,Ho,Wo) */
static ebm_tensor_t *conv_fwd_gemm(ebm_ctx_t *ctx, const geom_t *g, ebm_tensor_t *x, ebm_tensor_t *w) {
    int CKK = g->C * g->KH * g->KW, P = g->Ho * g->Wo, NP = g->N * P;
    ebm_tensor_t *y = ebm_tensor_new(ctx, 4, (int[]){g->N, g->O, g->Ho, g->Wo});
    ebm_tensor_t *col = ebm_tensor_new(ctx, 2, (int[]){CKK, NP});
    if (!y || !col || run_im2col(ctx, g, col, x) != EBM_OK) return NULL;
    ebm_tensor_t *yt = g->N == 1 ? y : ebm_tensor_new(ctx, 2, (int[]){g->O, NP});
    if (!yt) return NULL;
    if (ebm_gemm(ctx, 0, 0, g->O, NP, CKK, 1.0f, w->buf, w->off, CKK, 0, col->buf, col->off, NP, 0, 0.0f, yt->buf, yt->off,
                 NP, 0, 1) != EBM_OK)
        return NULL;
    ebm_tensor_free(col);
    if (yt != y) {
        if (swap01(ctx, y, yt, g->O, g->N, P) != EBM_OK) return NULL;
        ebm_tensor_free(yt);
    }
    return y;
}

/* g (N,O,Ho,Wo), w (O,C,KH,KW) -> x (N,C,H,W) */
static ebm_tensor_t *conv_igrad_gemm(ebm_ctx_t *ctx, const geom_t *g, ebm_tensor_t *gy, ebm_tensor_t *w,
                                     const ebm_grad_fuse_t *gf) {
    int CKK = g->C * g->KH * g->KW, P = g->Ho * g->Wo, NP = g->N * P;
    ebm_tensor_t *gt = gy;
    if (g->N > 1) {
        gt = ebm_tensor_new(ctx, 2, (int[]){g->O, NP});
        if (!gt || swap01(ctx, gt, gy, g->N, g->O, P) != EBM_OK) return NULL;
    }
    ebm_tensor_t *col = ebm_tensor_new(ctx, 2, (int[]){CKK, NP});
    if (!col || ebm_gemm(ctx, 1, 0, CKK, NP, g->O, 1.0f, w->buf, w->off, CKK, 0, gt->buf, gt->off, NP, 0, 0.0f, col->buf,
                         col->off, NP, 0, 1) != EBM_OK)
        return NULL;
    if (gt != gy) ebm_tensor_free(gt);
    ebm_tensor_t *x = ebm_tensor_new(ctx, 4, (int[]){g->N, g->C, g->H, g->W});
    if (!x || run_col2im(ctx, g, col, x, gf) != EBM_OK) return NULL;
    ebm_tensor_free(col);
    return x;
}

/* x (N,C,H,W), g (N,O,Ho,Wo) -> dw (O,C,KH,KW) */
static ebm_tensor_t *conv_wgrad_gemm(ebm_ctx_t *ctx, const geom_t *g, ebm_tensor_t *x, ebm_tensor_t *gy) {
    int CKK = g->C * g->KH * g->KW, P = g->Ho * g->Wo, NP = g->N * P;
    ebm_tensor_t *col = ebm_tensor_new(ctx, 2, (int[]){CKK, NP});
    if (!col || run_im2col(ctx, g, col, x) != EBM_OK) return NULL;
    ebm_tensor_t *gt = gy;
    if (g->N > 1) {
        gt = ebm_tensor_new(ctx, 2, (int[]){g->O, NP});
        if (!gt || swap01(ctx, gt, gy, g->N, g->O, P) != EBM_OK) return NULL;
    }
    ebm_tensor_t *dw = ebm_tensor_new(ctx, 4, (int[]){g->O, g->C, g->KH, g->KW});
    if (!dw || ebm_gemm(ctx, 0, 1, g->O, CKK, NP, 1.0f, gt->buf, gt->off, NP, 0, col->buf, col->off, NP, 0, 0.0f, dw->buf,
                        dw->off, CKK, 0, 1) != EBM_OK)
        return NULL;
    ebm_tensor_free(col);
    if (gt != gy) ebm_tensor_free(gt);
    return dw;
}

/* ---- the tile path: packed panels written by im2col, outputs stored in place (CPU devices) ---- */

static ebm_status_t run_panels(ebm_ctx_t *ctx, const geom_t *g, ebm_tensor_t *dst, ebm_tensor_t *x, int transposed) {
    cl_kernel k = ebm_kernel(ctx, transposed ? EBM_K_IM2COL_PANELS_T : EBM_K_IM2COL_PANELS);
    if (!k || ebm_kargs(ctx, k, "mmliiiiiiiiiiiiii", dst->buf, x->buf, x->off, g->N, g->C, g->H, g->W, g->KH, g->KW, g->Ho,
                        g->Wo, g->p.stride_h, g->p.stride_w, g->p.pad_h, g->p.pad_w, g->p.dil_h, g->p.dil_w) != EBM_OK)
        return ctx->status;
    int R = g->C * g->KH * g->KW, NP = g->N * g->Ho * g->Wo;
    if (transposed) return ebm_launch3(ctx, k, (size_t)g->N * g->Ho, (size_t)(R + 15) / 16, 1);
    return ebm_launch3(ctx, k, (size_t)(NP + 15) / 16, (size_t)g->C, 1);
}

/* y (N, O, P) = f(W (O, R) x col (R, N*P) + b), col written as panels, y stored in place; the bias
 * and activation are applied in the GEMM's store (each optional: b NULL, fn < 0), and z, when given,
 * receives the pre-activation the graph needs, or f' of it where zd (a first-order graph). */
static ebm_tensor_t *conv_fwd_tile_epi(ebm_ctx_t *ctx, const geom_t *g, ebm_tensor_t *x, ebm_tensor_t *w, ebm_tensor_t *b,
                                       int fn, float a, ebm_tensor_t *z, int zd) {
    int R = g->C * g->KH * g->KW, P = g->Ho * g->Wo, NP = g->N * P;
    ebm_tensor_t *bp = ebm_tensor_new(ctx, 1, (int[]){(NP + 15) / 16 * 16 * R});
    ebm_tensor_t *y = ebm_tensor_new(ctx, 4, (int[]){g->N, g->O, g->Ho, g->Wo});
    ebm_gemm_epilogue_t epi = {b ? b->buf : NULL, b ? b->off : 0, z ? z->buf : NULL, z ? z->off : 0, fn, a, 0.0f, zd};
    if (!bp || !y || run_panels(ctx, g, bp, x, 0) != EBM_OK ||
        ebm_gemm_tile_packed_epi(ctx, g->O, NP, R, 1.0f, w->buf, w->off, R, 1, R, 0, 0, bp->buf, bp->off, 0, R, y->buf, y->off, P,
                                 P, g->O * P, 0, 1, &epi) != EBM_OK)
        return NULL;
    ebm_tensor_free(bp);
    return y;
}

static ebm_tensor_t *conv_fwd_tile(ebm_ctx_t *ctx, const geom_t *g, ebm_tensor_t *x, ebm_tensor_t *w) {
    return conv_fwd_tile_epi(ctx, g, x, w, NULL, -1, 0.0f, NULL, 0);
}

/* col (R, N*P) = W^T (R, O) x g (O, N*P) from (N, O, P), packed into panels or, where 16 divides P
 * (a panel's 16 columns are then 16 consecutive floats of one channel's plane), read in place; then
 * col2im */
static ebm_tensor_t *conv_igrad_tile(ebm_ctx_t *ctx, const geom_t *g, ebm_tensor_t *gy, ebm_tensor_t *w,
                                     const ebm_grad_fuse_t *gf) {
    int R = g->C * g->KH * g->KW, P = g->Ho * g->Wo, NP = g->N * P;
    ebm_tensor_t *col = ebm_tensor_new(ctx, 2, (int[]){R, NP});
    if (!col) return NULL;
    if (P % 16 == 0 && !ebm_env()->igrad_pack) {
        ebm_b_inplace_t bi = {P, (size_t)g->O * P, P};
        if (ebm_gemm_tile_inplace(ctx, R, NP, g->O, 1.0f, w->buf, w->off, 1, R, gy->buf, gy->off, &bi, 0.0f, col->buf,
                                  col->off, NP, NP, 0) != EBM_OK)
            return NULL;
    } else {
        ebm_tensor_t *bp = ebm_tensor_new(ctx, 1, (int[]){(NP + 15) / 16 * 16 * g->O});
        if (!bp || ebm_pack_b(ctx, bp, gy->buf, gy->off, P, 1, 0, g->O, NP, P, g->O * P, 1) != EBM_OK ||
            ebm_gemm_tile_packed(ctx, R, NP, g->O, 1.0f, w->buf, w->off, 1, R, g->O, 0, 0, bp->buf, bp->off, 0, g->O, 0.0f,
                                 col->buf, col->off, NP, NP, 0, 0, 1) != EBM_OK)
            return NULL;
        ebm_tensor_free(bp);
    }
    ebm_tensor_t *x = ebm_tensor_new(ctx, 4, (int[]){g->N, g->C, g->H, g->W});
    if (!x || run_col2im(ctx, g, col, x, gf) != EBM_OK) return NULL;
    ebm_tensor_free(col);
    return x;
}

/* Images per chunk of a weight gradient's reduction over the batch (the tile and implicit paths):
 * about 4096 pixels of rows of 16 floats, 256 KiB, so a chunk's panel stays in cache across the
 * row tiles; pixels: the pixels an image takes in the reduction */
static int wgrad_chunk_images(int pixels) { return pixels >= 4096 ? 1 : 4096 / pixels; }

/* dW (O, R) = g (O, N*P) read in place from (N, O, P) x col^T (N*P, R), col^T written as panels.
 * The long reduction over N*P is split into chunks of whole images (run as the batch axis, so a
 * chunk's panel stays in cache across row tiles), then the partial products are summed. */
static ebm_tensor_t *conv_wgrad_tile(ebm_ctx_t *ctx, const geom_t *g, ebm_tensor_t *x, ebm_tensor_t *gy) {
    int R = g->C * g->KH * g->KW, P = g->Ho * g->Wo, NP = g->N * P;
    int per = wgrad_chunk_images(P);
    while (g->N % per) per--;
    int chunks = g->N / per;
    ebm_tensor_t *bp = ebm_tensor_new(ctx, 1, (int[]){(R + 15) / 16 * 16 * NP});
    ebm_tensor_t *part = ebm_tensor_new(ctx, 3, (int[]){chunks, g->O, R});
    if (!bp || !part || run_panels(ctx, g, bp, x, 1) != EBM_OK ||
        ebm_gemm_tile_packed(ctx, g->O, R, (size_t)per * P, 1.0f, gy->buf, gy->off, P, 1, P, g->O * P, (size_t)per * g->O * P,
                             bp->buf, bp->off, (size_t)per * P * 16, NP, 0.0f, part->buf, part->off, R, R, 0,
                             (size_t)g->O * R, chunks) != EBM_OK)
        return NULL;
    ebm_tensor_free(bp);
    int was = ebm_grad_set_enabled(ctx, 0);
    ebm_tensor_t *sum = ebm_reshape(ebm_sum(part, 0x1u, 0), 4, (int[]){g->O, g->C, g->KH, g->KW});
    ebm_grad_set_enabled(ctx, was);
    return sum;
}

/* ---- the implicit path: the patch matrix packed in each work-group's local memory (CPU devices) ---- */

/* Launches a kernel whose work-groups are one row of ceil(M/TM) tiles (TM = ctx->tile_rows, the rows
 * of cl/gemm.cl's tile) over n_panels panels and n_chunks chunks of images (the weight gradient's;
 * 1 elsewhere): a work item per tile, or with `one` a single work item that walks them all (the
 * implicit convolutions on a CPU device: ctx->fwd_items, which the weight gradient follows, and
 * ctx->igrad_items). */
static ebm_status_t launch_panel_groups(ebm_ctx_t *ctx, cl_kernel k, int M, size_t n_panels, size_t n_chunks, const char *name,
                                        int one) {
    size_t nt = one ? 1 : (size_t)(M + ctx->tile_rows - 1) / ctx->tile_rows;
    if (nt > ebm_kernel_wg(ctx, k))
        return ebm_fail(ctx, EBM_STATUS_OPENCL, "%s: %zu work items per group (%d channels) exceed the kernel's limit %zu", name,
                        nt, M, ebm_kernel_wg(ctx, k));
    size_t gt[3] = {nt, n_panels, n_chunks}, lt[3] = {nt, 1, 1};
    EBM_CL(ctx, clEnqueueNDRangeKernel(ctx->queue, k, 3, NULL, gt, lt, 0, NULL,
                                       ebm_profile_event(ctx, ebm_profile_label(ctx, name, 3, gt, M))));
    return EBM_OK;
}

/* The taps of the input-gradient's pixel classes: the most rows (kh) and columns (kw) a class takes,
 * and the number of work-groups, one per class and 16-pixel panel of the largest class
 * (cl/gemm.cl conv_implicit_igrad). At column stride 2 the two column classes of a row class share
 * a work-group (conv_implicit_igrad2): columns are then the union of the two classes' column
 * offsets, and a panel is 16 pixel pairs. */
static void igrad_classes(const geom_t *g, int *max_th, int *max_tw, size_t *panels) {
    int sh = g->p.stride_h, sw = g->p.stride_w, pairs = sw == 2;
    *max_th = *max_tw = 0, *panels = 0;
    for (int a = 0; a < sh; a++) {
        int n = 0;
        for (int kh = 0; kh < g->KH; kh++) n += (a + g->p.pad_h - kh * g->p.dil_h) % sh == 0;
        if (n > *max_th) *max_th = n;
    }
    if (pairs) {   /* distinct (b + pad - kw*dil) / 2 over the even ones, b = 0, 1 (at most KW <= 16) */
        int off[32], n = 0;
        for (int b = 0; b < 2; b++)
            for (int kw = 0; kw < g->KW && kw < 16; kw++) {
                int q = b + g->p.pad_w - kw * g->p.dil_w, j = 0;
                if (q % 2) continue;
                while (j < n && off[j] != q / 2) j++;
                if (j == n) off[n++] = q / 2;
            }
        *max_tw = n;
    } else
        for (int b = 0; b < sw; b++) {
            int n = 0;
            for (int kw = 0; kw < g->KW; kw++) n += (b + g->p.pad_w - kw * g->p.dil_w) % sw == 0;
            if (n > *max_tw) *max_tw = n;
        }
    /* the classes take turns (cl/gemm.cl): as many turns as the largest class has panels; class
     * (0, 0) is the largest */
    size_t Hc = ((size_t)g->H + sh - 1) / sh, Wc = ((size_t)g->W + sw - 1) / sw;
    *panels = (size_t)sh * (pairs ? 1 : sw) * (((size_t)g->N * Hc * Wc + 15) / 16);
}

/* local memory of the implicit path's kernel for kind (bytes) */
static size_t implicit_local_bytes(const geom_t *g, int kind) {
    if (kind == CONV_IGRAD || kind == CONV_IGRAD_FUSED) {
        int th, tw;
        size_t panels;
        igrad_classes(g, &th, &tw, &panels);
        return (size_t)th * tw * g->O * 16 * sizeof(float);
    }
    return (size_t)g->C * g->KH * g->KW * 16 * sizeof(float);
}

/* the local memory the implicit kernels may take: the device's, or EBM_MAX_LOCAL_MEM below it */
static size_t implicit_local_limit(const ebm_ctx_t *ctx) {
    size_t local = (size_t)ctx->info.local_mem;
    if (ebm_env()->max_local_mem && ebm_env()->max_local_mem < local) local = ebm_env()->max_local_mem;
    return local;
}

/* The panels per work-group of an implicit kernel of kind: the device's (want: ctx->fwd_panels,
 * 2 on PoCL with 8-row tiles; ctx->igrad_panels, 2 with 8-row tiles) where two fit in local memory,
 * else 1 */
static int implicit_panels(ebm_ctx_t *ctx, int want, const geom_t *g, int kind) {
    return want == 2 && 2 * implicit_local_bytes(g, kind) <= implicit_local_limit(ctx) ? 2 : 1;
}

/* y (N, O, P) = f(W (O, R) x patches + b), the patches packed per 16-pixel panel in local memory;
 * bias, activation, z and zd as in conv_fwd_tile_epi. */
static ebm_tensor_t *conv_fwd_implicit_epi(ebm_ctx_t *ctx, const geom_t *g, ebm_tensor_t *x, ebm_tensor_t *w, ebm_tensor_t *b,
                                           int fn, float a, ebm_tensor_t *z, int zd) {
    size_t NP = (size_t)g->N * g->Ho * g->Wo;
    int np = implicit_panels(ctx, ctx->fwd_panels, g, CONV_FWD);
    cl_kernel k = ebm_kernel_fn(ctx, EBM_K_CONV_IMPLICIT_FWD, fn);
    ebm_tensor_t *y = k ? ebm_tensor_new(ctx, 4, (int[]){g->N, g->O, g->Ho, g->Wo}) : NULL;
    int stream = ebm_stream_stores(ctx, (size_t)g->O * NP * sizeof(float) * (z ? 2 : 1));
    if (!y || ebm_kargs(ctx, k, "imliiiiiiiiiiiiiimlmlmlimliffiiL", g->O, x->buf, x->off, g->N, g->C, g->H, g->W, g->KH, g->KW,
                        g->Ho, g->Wo, g->p.stride_h, g->p.stride_w, g->p.pad_h, g->p.pad_w, g->p.dil_h, g->p.dil_w, w->buf,
                        w->off, y->buf, y->off, b ? b->buf : y->buf, b ? b->off : (size_t)0, b != NULL, z ? z->buf : y->buf,
                        z ? z->off : (size_t)0, z ? (zd ? 2 : 1) : 0, (double)a, 0.0, np, stream, np * implicit_local_bytes(g, CONV_FWD)) != EBM_OK ||
        launch_panel_groups(ctx, k, g->O, (NP + 16 * np - 1) / (16 * np), 1, "conv_implicit_fwd", ctx->fwd_items == 1) != EBM_OK)
        return NULL;
    return y;
}

static ebm_tensor_t *conv_fwd_implicit(ebm_ctx_t *ctx, const geom_t *g, ebm_tensor_t *x, ebm_tensor_t *w) {
    return conv_fwd_implicit_epi(ctx, g, x, w, NULL, -1, 0.0f, NULL, 0);
}

/* x (N, C, H, W) from g (N, O, Ho, Wo) and W^T, by pixel classes modulo the stride: no columns, no
 * col2im. The filter is first laid out as (KH*KW, C, O) (filter_taps). */
static ebm_tensor_t *conv_igrad_implicit(ebm_ctx_t *ctx, const geom_t *g, ebm_tensor_t *gy, ebm_tensor_t *w,
                                         const ebm_grad_fuse_t *gf) {
    int KK = g->KH * g->KW, th, tw;
    size_t panels;
    igrad_classes(g, &th, &tw, &panels);
    /* stride 1, 3 filter rows and 1-4 input channels on a CPU device (one work item per group): the
     * direct kernel (cl/gemm.cl conv_direct_igrad*) */
    static const ebm_kernel_id_t direct[4] = {EBM_K_CONV_DIRECT_IGRAD1, EBM_K_CONV_DIRECT_IGRAD2, EBM_K_CONV_DIRECT_IGRAD3,
                                              EBM_K_CONV_DIRECT_IGRAD4};
    static const int direct_rows[4] = {8, 4, 3, 2};   /* rows per work item: RR of cl/gemm.cl CONV_DIRECT_IGRAD(CC, RR) */
    int is_direct = ctx->igrad_items == 1 && g->p.stride_h == 1 && g->p.stride_w == 1 && g->C <= 4 && g->KH == 3 && g->p.dil_h == 1 &&
                    g->Wo >= 16;
    cl_kernel k = ebm_kernel_fn(ctx, is_direct ? direct[g->C - 1]
                                     : g->p.stride_w == 2 ? EBM_K_CONV_IMPLICIT_IGRAD2 : EBM_K_CONV_IMPLICIT_IGRAD,
                                gf ? gf->fn : -1);
    /* column stride 2: np panels per work-group (the panels of a row class: panels / sh) */
    int pairs = g->p.stride_w == 2, np = pairs ? implicit_panels(ctx, ctx->igrad_panels, g, CONV_IGRAD) : 1, sh = g->p.stride_h;
    size_t groups = pairs ? sh * ((panels / sh + np - 1) / np) : panels;
    cl_kernel kt = k ? ebm_kernel(ctx, EBM_K_FILTER_TAPS) : NULL;
    ebm_tensor_t *wt = kt ? ebm_tensor_new(ctx, 3, (int[]){KK, g->C, g->O}) : NULL;
    ebm_tensor_t *x = wt ? ebm_tensor_new(ctx, 4, (int[]){g->N, g->C, g->H, g->W}) : NULL;
    if (!x) return NULL;
    if (ebm_kargs(ctx, kt, "mlmliii", wt->buf, wt->off, w->buf, w->off, g->O, g->C, KK) != EBM_OK ||
        ebm_launch3(ctx, kt, ((size_t)g->O + 15) / 16, (size_t)g->C, 1) != EBM_OK ||
        ebm_kargs(ctx, k, "mliiiiiiiiiiiiiiimlmlmliffiL", gy->buf, gy->off, g->N, g->C, g->H, g->W, g->KH, g->KW, g->Ho, g->Wo,
                  g->p.stride_h, g->p.stride_w, g->p.pad_h, g->p.pad_w, g->p.dil_h, g->p.dil_w, g->O, wt->buf, wt->off, x->buf,
                  x->off, gf ? gf->x->buf : x->buf, gf ? gf->x->off : x->off, gf ? ctx->igrad_zload : 0, (double)(gf ? gf->a : 0.0f),
                  (double)(gf ? gf->b : 0.0f), np,
                  is_direct ? (size_t)64 /* the direct kernel's panel is unused */ : np * implicit_local_bytes(g, CONV_IGRAD)) != EBM_OK ||
        (is_direct ? ebm_launch3(ctx, k, ((size_t)g->W + 15) / 16, ((size_t)g->H + direct_rows[g->C - 1] - 1) / direct_rows[g->C - 1],
                                 (size_t)g->N)
                   : launch_panel_groups(ctx, k, g->C, groups, 1, "conv_implicit_igrad", ctx->igrad_items == 1)) != EBM_OK)
        return NULL;
    ebm_tensor_free(wt);
    return x;
}


/* The pixels whose patch panel an implicit weight-gradient work-group packs at a time (cl/gemm.cl
 * conv_implicit_wgrad): 256 (rows of 16*np floats, 32 KiB with two panels: the panel stays in a
 * CPU core's first-level cache while every row tile of O walks it), fewer where the device's local
 * memory is smaller; 0 where not even 16 fit. */
static int wgrad_panel_pixels(const ebm_ctx_t *ctx, int np) {
    size_t fit = implicit_local_limit(ctx) / (16 * (size_t)np * sizeof(float));
    return fit >= 256 ? 256 : fit >= 16 ? (int)fit : 0;
}

/* dW (O, C, KH, KW) from x and g (N, O, Ho, Wo) without a patch matrix in global memory
 * (cl/gemm.cl conv_implicit_wgrad): work-groups over 16*np-column panels of the R patch entries
 * and chunks of whole images (wgrad_chunk_images), each packing the patch panel of S pixels at a
 * time into local memory and reading g in place; the chunks' partial sums are added last. */
static ebm_tensor_t *conv_wgrad_implicit(ebm_ctx_t *ctx, const geom_t *g, ebm_tensor_t *x, ebm_tensor_t *gy) {
    int R = g->C * g->KH * g->KW, P = g->Ho * g->Wo, panels = (R + 15) / 16;
    int np = panels > 1 && wgrad_panel_pixels(ctx, 2) > 0 ? ctx->gemm_panels : 1, S = wgrad_panel_pixels(ctx, np);
    int per = wgrad_chunk_images(P), chunks = (g->N + per - 1) / per;
    cl_kernel k = ebm_kernel(ctx, EBM_K_CONV_IMPLICIT_WGRAD);
    ebm_tensor_t *part = k ? ebm_tensor_new(ctx, 3, (int[]){chunks, g->O, R}) : NULL;
    if (!part ||
        ebm_kargs(ctx, k, "imliiiiiiiiiiiiiimliiimiL", g->O, gy->buf, gy->off, g->N, g->C, g->H, g->W, g->KH, g->KW, g->Ho,
                  g->Wo, g->p.stride_h, g->p.stride_w, g->p.pad_h, g->p.pad_w, g->p.dil_h, g->p.dil_w, x->buf, x->off, R, per,
                  S, part->buf, np, (size_t)S * 16 * np * sizeof(float)) != EBM_OK ||
        launch_panel_groups(ctx, k, g->O, (size_t)(panels + np - 1) / np, (size_t)chunks, "conv_implicit_wgrad",
                            ctx->fwd_items == 1) != EBM_OK)
        return NULL;
    int was = ebm_grad_set_enabled(ctx, 0);
    ebm_tensor_t *sum = ebm_reshape(ebm_sum(part, 0x1u, 0), 4, (int[]){g->O, g->C, g->KH, g->KW});
    ebm_grad_set_enabled(ctx, was);
    return sum;
}

/* ---- algorithm choice: im2col + GEMM, tile path, FFT or implicit, measured per (op, geometry) ---- */

static ebm_tensor_t *add_channel_bias(ebm_tensor_t *y, ebm_tensor_t *b);

static ebm_tensor_t *run_algo(ebm_ctx_t *ctx, conv_kind_t kind, int algo, const geom_t *g, ebm_tensor_t *a, ebm_tensor_t *b,
                              const conv_epi_t *epi) {
    static ebm_tensor_t *(*const gemm_fn[3])(ebm_ctx_t *, const geom_t *, ebm_tensor_t *, ebm_tensor_t *) = {
        conv_fwd_gemm, NULL, conv_wgrad_gemm};
    static ebm_tensor_t *(*const fft_fn[3])(ebm_ctx_t *, const geom_t *, ebm_tensor_t *, ebm_tensor_t *) = {
        ebm_fftconv_fwd, ebm_fftconv_igrad, ebm_fftconv_wgrad};
    static ebm_tensor_t *(*const tile_fn[3])(ebm_ctx_t *, const geom_t *, ebm_tensor_t *, ebm_tensor_t *) = {
        conv_fwd_tile, NULL, conv_wgrad_tile};
    if (kind == CONV_IGRAD_FUSED && algo == 2) {
        int was = ebm_grad_set_enabled(ctx, 0);
        ebm_tensor_t *x = ebm_unary_mul(ebm_fftconv_igrad(ctx, g, a, b), epi->gf->x, (ebm_fn_t)epi->gf->fn, 1, epi->gf->a,
                                        epi->gf->b);
        ebm_grad_set_enabled(ctx, was);
        return x;
    }
    if ((kind == CONV_IGRAD || kind == CONV_IGRAD_FUSED) && algo != 2) {
        const ebm_grad_fuse_t *gf = kind == CONV_IGRAD_FUSED ? epi->gf : NULL;
        return algo == 1 ? conv_igrad_gemm(ctx, g, a, b, gf)
               : algo == 3 ? conv_igrad_tile(ctx, g, a, b, gf) : conv_igrad_implicit(ctx, g, a, b, gf);
    }
    if (kind == CONV_FWD_EPI) {   /* measured only: nothing recorded */
        if (algo == 3) return conv_fwd_tile_epi(ctx, g, a, b, epi->b, epi->fn, epi->a, NULL, 0);
        if (algo == 4) return conv_fwd_implicit_epi(ctx, g, a, b, epi->b, epi->fn, epi->a, NULL, 0);
        int was = ebm_grad_set_enabled(ctx, 0);
        ebm_tensor_t *y = run_algo(ctx, CONV_FWD, algo, g, a, b, NULL);
        y = add_channel_bias(y, epi->b);
        if (epi->fn >= 0) y = ebm_unary(y, (ebm_fn_t)epi->fn, 0, epi->a, 0.0f);
        ebm_grad_set_enabled(ctx, was);
        return y;
    }
    if (algo == 3) return tile_fn[kind](ctx, g, a, b);
    if (algo == 4) return kind == CONV_WGRAD ? conv_wgrad_implicit(ctx, g, a, b) : conv_fwd_implicit(ctx, g, a, b);
    return algo == 2 ? fft_fn[kind](ctx, g, a, b) : gemm_fn[kind](ctx, g, a, b);
}

static double conv_wall_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define CONV_ALGOS 4
static const ebm_algo_t conv_algo_id[CONV_ALGOS + 1] = {0, EBM_ALGO_CONV_IM2COL, EBM_ALGO_CONV_FFT, EBM_ALGO_CONV_TILE,
                                                        EBM_ALGO_CONV_IMPLICIT};

static int conv_usable(ebm_ctx_t *ctx, int algo, conv_kind_t kind, const geom_t *g) {
    /* the tile and implicit paths address the 16 images a panel may span with int offsets */
    if ((algo == 3 || algo == 4) && (double)(g->C > g->O ? g->C : g->O) * g->H * g->W * 16 >= 2147483647.0) return 0;
    if (algo == 4) {   /* a work item per row tile (of O; of C for the input gradients) where groups have them */
        int igrad = kind == CONV_IGRAD || kind == CONV_IGRAD_FUSED;
        int items = igrad ? ctx->igrad_items : ctx->fwd_items, rows = igrad ? g->C : g->O;
        if (items != 1 && (size_t)(rows + ctx->tile_rows - 1) / ctx->tile_rows > ctx->wg_size) return 0;
    }
    if (algo == 4 && kind == CONV_WGRAD) {
        /* int pixel indices within a chunk (and TM rows' offsets, a panel of pixels past it); 16
         * pixels' panel rows in local memory */
        double P = (double)g->Ho * g->Wo;
        if (P * 256 >= 2147483647.0) return 0;
        int per = wgrad_chunk_images((int)P), rows = per > ctx->tile_rows ? per : ctx->tile_rows;
        if ((double)rows * P + 256 >= 2147483647.0 || wgrad_panel_pixels(ctx, 1) == 0) return 0;
    } else if (algo == 4) {   /* filters up to 16x16 (the kernel's tap lists); the panel in local memory */
        if (g->KH > 16 || g->KW > 16 || implicit_local_bytes(g, kind) > implicit_local_limit(ctx)) return 0;
    }
    return (algo != 2 || ebm_fftconv_applicable(g)) && ebm_algo_available(ctx, conv_algo_id[algo]);
}

/* One run of algo as an algorithm try (1 ran, 0 unavailable now, -1 failed for good); *out, when
 * given, receives the result. Temporaries of a failed run go back to the pool with the scope. */
static int conv_try(ebm_ctx_t *ctx, conv_kind_t kind, int algo, const geom_t *g, ebm_tensor_t *a, ebm_tensor_t *b,
                    const conv_epi_t *epi, ebm_tensor_t **out) {
    ebm_algo_try_begin(ctx);
    ebm_scope_begin(ctx);
    ebm_tensor_t *y = run_algo(ctx, kind, algo, g, a, b, epi);
    if (out && y && ctx->status == EBM_OK) ebm_tensor_keep(y);
    ebm_scope_end(ctx);
    int r = ebm_algo_try_end(ctx, conv_algo_id[algo]);
    if (out) *out = r > 0 ? y : NULL;
    return r;
}

/* Measures every usable algorithm (each once to warm up: kernel and plan compilation, then the best
 * of three timed runs, interleaved, so a burst of load on a shared machine hits all alike) and
 * remembers the fastest; 0 when none ran. A close call (the two fastest within 25%) gets four more
 * timed runs of both: a burst over one algorithm's three runs had flipped the choice for a
 * stride-2 forward in one of three first runs of fmnist-ms (PoCL, 2026-12-05), and a choice is
 * remembered for every later run. On a simulator (ctx->simulated) each algorithm runs once, timed
 * as it is: that still runs every usable algorithm's kernels under the simulator's checks. */
static int conv_measure(ebm_ctx_t *ctx, conv_kind_t kind, const geom_t *g, ebm_tensor_t *a, ebm_tensor_t *b,
                        const conv_epi_t *epi) {
    double t[CONV_ALGOS + 1] = {0, 1e30, 1e30, 1e30, 1e30};
    unsigned run = ~0u;   /* the algorithms of this pass (those of them usable now) */
    const int passes = ctx->simulated ? 1 : 2, reps = ctx->simulated ? 1 : 4, warm = !ctx->simulated;
    for (int pass = 0; pass < passes && run; pass++) {
        for (int rep = 0; rep < reps; rep++)
            for (int alg = 1; alg <= CONV_ALGOS; alg++) {
                if (!(run & 1u << alg) || !conv_usable(ctx, alg, kind, g)) continue;
                clFinish(ctx->queue);
                double t0 = conv_wall_s();
                int r = conv_try(ctx, kind, alg, g, a, b, epi, NULL);
                if (r < 0) return 0;
                clFinish(ctx->queue);
                if (r > 0 && (rep >= warm || pass > 0) && conv_wall_s() - t0 < t[alg]) t[alg] = conv_wall_s() - t0;
            }
        int first = 0, second = 0;
        for (int alg = 1; alg <= CONV_ALGOS; alg++) {
            if (!(run & 1u << alg) || t[alg] >= 1e30) continue;
            if (!first || t[alg] < t[first]) second = first, first = alg;
            else if (!second || t[alg] < t[second]) second = alg;
        }
        run = second && t[second] < 1.25 * t[first] ? 1u << first | 1u << second : 0;
    }
    int algo = 0;
    for (int alg = 1; alg <= CONV_ALGOS; alg++)
        if (conv_usable(ctx, alg, kind, g) && t[alg] < 1e30 && (!algo || t[alg] < t[algo])) algo = alg;
    if (!algo) return 0;
    char ms[CONV_ALGOS + 1][24];   /* "-" for the algorithms that did not run */
    for (int alg = 1; alg <= CONV_ALGOS; alg++)
        if (t[alg] < 1e30) snprintf(ms[alg], sizeof ms[alg], "%.3f ms", t[alg] * 1e3);
        else snprintf(ms[alg], sizeof ms[alg], "-");
    static const char *const kinds[] = {"forward", "input grad", "weight grad", "forward+bias/act", "input grad x act'"};
    static const char *const algos[CONV_ALGOS + 1] = {"", "im2col+GEMM", "FFT", "tile", "implicit"};
    ebm_log_message(EBM_LOG_DEBUG, "conv %s %dx%dx%dx%d/%d k%dx%d s%d: im2col+GEMM %s, FFT %s, tile %s, implicit %s -> %s",
                    kinds[kind], g->N, g->C, g->H, g->W, g->O, g->KH, g->KW, g->p.stride_h, ms[1], ms[2], ms[3], ms[4],
                    algos[algo]);
    /* the algorithms' temporaries go back to the device: the ones not chosen would otherwise stay
     * cached for the whole run (the im2col columns of a cifar32 layer are 72 MiB) */
    ebm_pool_trim(ctx);
    return ebm_choices_record_conv(ctx, (int)kind, g, algo);
}

/* The algorithm for (kind, geometry): forced by EBM_CONV, remembered, or measured now (0: none ran;
 * the context's status says whether that is an error). */
static int conv_choose(ebm_ctx_t *ctx, conv_kind_t kind, const geom_t *g, ebm_tensor_t *a, ebm_tensor_t *b,
                       const conv_epi_t *epi) {
    int algo = ebm_env()->conv;
    if (algo == 2 && !ebm_fftconv_applicable(g)) algo = 1;
    const struct ebm_conv_choice *known = algo ? NULL : ebm_conv_choice_find(ctx, (int)kind, g);
    if (known) algo = known->algo;
    if (algo && !conv_usable(ctx, algo, kind, g)) algo = 0;
    if (!algo) {
        algo = conv_measure(ctx, kind, g, a, b, epi);
        ebm_host_trim();   /* the candidates' temporaries, and PoCL's compilations at first launch */
    }
    return algo;
}

/* Runs kind (not CONV_FWD_EPI) with the chosen algorithm, or with prefer when it is not 0 (the
 * choice made for the forward with its epilogue). */
static ebm_tensor_t *conv_dispatch(ebm_ctx_t *ctx, conv_kind_t kind, const geom_t *g, ebm_tensor_t *a, ebm_tensor_t *b,
                                   int prefer, const conv_epi_t *epi) {
    int algo = prefer && conv_usable(ctx, prefer, kind, g) ? prefer : conv_choose(ctx, kind, g, a, b, epi);
    if (ctx->status != EBM_OK) return NULL;
    /* the chosen algorithm, then the others (an algorithm can fail for the first time here) */
    const int order[CONV_ALGOS + 1] = {algo, 1, 3, 4, 2};
    for (int i = 0; i <= CONV_ALGOS; i++) {
        if (!order[i] || (i && order[i] == algo) || !conv_usable(ctx, order[i], kind, g)) continue;
        ebm_tensor_t *y;
        int r = conv_try(ctx, kind, order[i], g, a, b, epi, &y);
        if (r) return r > 0 ? y : NULL;
    }
    static const char *const op[3] = {"conv2d", "conv2d input-grad", "conv2d weight-grad"};
    const ebm_algo_t tried[4] = {EBM_ALGO_CONV_IM2COL, EBM_ALGO_CONV_TILE, EBM_ALGO_CONV_IMPLICIT, EBM_ALGO_CONV_FFT};
    ebm_algo_none_left(ctx, op[kind == CONV_IGRAD_FUSED ? CONV_IGRAD : kind], tried, ebm_fftconv_applicable(g) ? 4 : 3);
    return NULL;
}

static void store_params(ebm_node_t *n, ebm_conv2d_params_t p, int a, int b) {
    n->ip[0] = p.stride_h, n->ip[1] = p.stride_w, n->ip[2] = p.pad_h, n->ip[3] = p.pad_w;
    n->ip[4] = p.dil_h, n->ip[5] = p.dil_w, n->ip[6] = a, n->ip[7] = b;
}

static ebm_conv2d_params_t load_params(const ebm_node_t *n) {
    return (ebm_conv2d_params_t){n->ip[0], n->ip[1], n->ip[2], n->ip[3], n->ip[4], n->ip[5]};
}

static ebm_tensor_t *conv_nobias_as(ebm_tensor_t *x, ebm_tensor_t *w, ebm_conv2d_params_t p, int prefer);
#define conv_nobias(x, w, p) conv_nobias_as(x, w, p, 0)

static ebm_tensor_t *input_grad(ebm_tensor_t *gy, ebm_tensor_t *w, int H, int W, ebm_conv2d_params_t p,
                                const ebm_grad_fuse_t *gf);

/* the input's gradient may take its activation's derivative as it is stored (ebm_grad_fuse_offer) */
static void conv_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    ebm_conv2d_params_t p = load_params(n);
    ebm_tensor_t *x = n->in[0], *w = n->in[1];
    if (need[0]) {
        const ebm_grad_fuse_t *gf = ebm_grad_fuse_offer(x->ctx, 0);
        gx[0] = input_grad(gy, w, x->shape[2], x->shape[3], p, gf);
        if (gf && gx[0]) ebm_grad_fuse_take(x->ctx, 0);
    }
    if (need[1]) gx[1] = ebm_conv2d_weight_grad(x, gy, w->shape[2], w->shape[3], p);
}

/* y = igrad(g, w): dg = conv(gy, w), dw = wgrad(gy, g) */
static void igrad_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    ebm_conv2d_params_t p = load_params(n);
    ebm_tensor_t *w = n->in[1];
    if (need[0]) gx[0] = conv_nobias(gy, w, p);
    if (need[1]) gx[1] = ebm_conv2d_weight_grad(gy, n->in[0], w->shape[2], w->shape[3], p);
}

/* y = wgrad(x, g): dx = igrad(g, gy), dg = conv(x, gy) */
static void wgrad_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    ebm_conv2d_params_t p = load_params(n);
    ebm_tensor_t *x = n->in[0];
    if (need[0]) gx[0] = ebm_conv2d_input_grad(n->in[1], gy, x->shape[2], x->shape[3], p);
    if (need[1]) gx[1] = conv_nobias(x, gy, p);
}

/* The geometry of conv2d(x, w) with p, checked (0 and the context failed when it is not valid). */
static int fwd_geom(ebm_tensor_t *x, ebm_tensor_t *w, ebm_conv2d_params_t p, geom_t *g) {
    if (!x || !w || x->ctx->status != EBM_OK) return 0;
    ebm_ctx_t *ctx = x->ctx;
    char s1[64], s2[64];
    if (x->ndim != 4 || w->ndim != 4 || x->shape[1] != w->shape[1]) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "conv2d: input %s and weight %s (need (B, C, H, W) and (O, C, kH, kW))",
                 ebm_tensor_shape_str(x, s1, 64), ebm_tensor_shape_str(w, s2, 64));
        return 0;
    }
    memset(g, 0, sizeof *g);
    *g = (geom_t){x->shape[0], x->shape[1], x->shape[2], x->shape[3], w->shape[0], w->shape[2], w->shape[3], 0, 0, p};
    g->Ho = out_size(g->H, g->KH, p.stride_h, p.pad_h, p.dil_h);
    g->Wo = out_size(g->W, g->KW, p.stride_w, p.pad_w, p.dil_w);
    return geom_check(ctx, g, "conv2d");
}

/* conv2d without bias, with the forward's algorithm choice or prefer (not 0) */
static ebm_tensor_t *conv_nobias_as(ebm_tensor_t *x, ebm_tensor_t *w, ebm_conv2d_params_t p, int prefer) {
    geom_t g;
    if (!fwd_geom(x, w, p, &g)) return NULL;
    ebm_tensor_t *y = conv_dispatch(x->ctx, CONV_FWD, &g, x, w, prefer, NULL);
    if (!y) return NULL;
    ebm_node_t *n = ebm_record(y, "conv2d", conv_backward, 2, (ebm_tensor_t *[]){x, w});
    if (n) store_params(n, p, 0, 0);
    return y;
}

static ebm_tensor_t *add_channel_bias(ebm_tensor_t *y, ebm_tensor_t *b) {
    if (!b || !y) return y;
    if ((int)b->numel != y->shape[1]) {
        ebm_fail(y->ctx, EBM_STATUS_SHAPE, "bias of %zu elements for %d channels", b->numel, y->shape[1]);
        return NULL;
    }
    return ebm_add(y, ebm_reshape(b, 3, (int[]){y->shape[1], 1, 1}));
}

/* z = conv2d(x, w) + b as one node (the bias added in the tile GEMM's store): the backward of both */
static void conv_bias_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    conv_backward(n, gy, need, gx);
    ebm_tensor_t *b = n->in[2];
    if (need[2]) gx[2] = ebm_reshape(ebm_sum_to(gy, 3, (int[]){(int)b->numel, 1, 1}), b->ndim, b->shape);
}

/* f(conv2d(x, w) + b) (fn < 0: no f). Where the measured algorithm is the tile or the implicit path,
 * the bias and f are applied in the GEMM's store, and the pre-activation (which f's derivative needs) is written
 * beside the output only when a gradient can flow; the graph is the unfused one (a conv2d+bias node,
 * then a unary node), so derivatives of every order are those of the composition. In first-order
 * recording (ebm_grad_set_first_order) f'(pre-activation) is written in its place: the conv2d+bias
 * node's output holds it (that node's rule never reads its output), and y's node multiplies by it
 * (ebm_record_unary_first_order). Elsewhere the ops run one by one. */
static ebm_tensor_t *conv_forward(ebm_tensor_t *x, ebm_tensor_t *w, ebm_tensor_t *b, ebm_conv2d_params_t p, int fn, float a) {
    geom_t g;
    if (!fwd_geom(x, w, p, &g)) return NULL;
    ebm_ctx_t *ctx = x->ctx;
    if (b && (int)b->numel != g.O) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "bias of %zu elements for %d channels", b->numel, g.O);
        return NULL;
    }
    conv_epi_t epi = {b, fn, a, NULL};
    int algo = b || fn >= 0 ? conv_choose(ctx, CONV_FWD_EPI, &g, x, w, &epi) : 0;
    if (ctx->status != EBM_OK) return NULL;
    if (algo == 3 || algo == 4) {
        int graph = ctx->grad_enabled && (ebm_tensor_live_requires_grad(x) || ebm_tensor_live_requires_grad(w) ||
                                          (b && ebm_tensor_live_requires_grad(b)));
        int zd = graph && fn >= 0 && ctx->first_order;   /* z holds f'(pre-activation) */
        ebm_tensor_t *z = NULL, *y = NULL;
        ebm_algo_try_begin(ctx);
        ebm_scope_begin(ctx);
        if (graph && fn >= 0) z = ebm_tensor_new(ctx, 4, (int[]){g.N, g.O, g.Ho, g.Wo});
        if (!graph || fn < 0 || z)
            y = algo == 3 ? conv_fwd_tile_epi(ctx, &g, x, w, b, fn, a, z, zd)
                          : conv_fwd_implicit_epi(ctx, &g, x, w, b, fn, a, z, zd);
        if (y && ctx->status == EBM_OK) {
            ebm_tensor_keep(y);
            if (z) ebm_tensor_keep(z);
        }
        ebm_scope_end(ctx);
        int r = ebm_algo_try_end(ctx, conv_algo_id[algo]);
        if (r < 0) return NULL;
        if (r > 0) {
            ebm_tensor_t *pre = fn >= 0 ? z : y;   /* the conv2d+bias node's output */
            if (pre) {
                ebm_node_t *n = b ? ebm_record(pre, "conv2d", conv_bias_backward, 3, (ebm_tensor_t *[]){x, w, b})
                                  : ebm_record(pre, "conv2d", conv_backward, 2, (ebm_tensor_t *[]){x, w});
                if (n) store_params(n, p, 0, 0);
            }
            if (fn >= 0 && z && zd) ebm_record_unary_first_order(y, z);
            else if (fn >= 0 && z) ebm_record_unary(y, z, (ebm_fn_t)fn, a, 0.0f);
            return y;
        }
        /* the path became unavailable: the ops one by one */
    }
    ebm_tensor_t *z = add_channel_bias(conv_nobias_as(x, w, p, algo == 3 || algo == 4 ? 0 : algo), b);
    return fn >= 0 ? ebm_unary(z, (ebm_fn_t)fn, 0, a, 0.0f) : z;
}

ebm_tensor_t *ebm_conv2d(ebm_tensor_t *x, ebm_tensor_t *w, ebm_tensor_t *b, ebm_conv2d_params_t p) {
    return conv_forward(x, w, b, p, -1, 0.0f);
}

ebm_tensor_t *ebm_conv2d_act(ebm_tensor_t *x, ebm_tensor_t *w, ebm_tensor_t *b, ebm_conv2d_params_t p, ebm_fn_t fn, float a) {
    if ((int)fn < 0 || fn >= EBM_FN_COUNT) {
        if (x) ebm_fail(x->ctx, EBM_STATUS_INVALID_ARGUMENT, "conv2d_act: unknown elementwise function %d", (int)fn);
        return NULL;
    }
    return conv_forward(x, w, b, p, (int)fn, a);
}

/* the input gradient; with gf, times f'(gf->x) (every algorithm applies it, FFT by a pass after;
 * nothing is recorded: gf is offered only where no graph is made) */
static ebm_tensor_t *input_grad(ebm_tensor_t *gy, ebm_tensor_t *w, int H, int W, ebm_conv2d_params_t p,
                                const ebm_grad_fuse_t *gf) {
    if (!gy || !w || gy->ctx->status != EBM_OK) return NULL;
    ebm_ctx_t *ctx = gy->ctx;
    char s1[64], s2[64];
    if (gy->ndim != 4 || w->ndim != 4 || gy->shape[1] != w->shape[0]) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "conv2d input-grad: gradient %s and weight %s", ebm_tensor_shape_str(gy, s1, 64),
                 ebm_tensor_shape_str(w, s2, 64));
        return NULL;
    }
    geom_t g;
    memset(&g, 0, sizeof g);
    g = (geom_t){gy->shape[0], w->shape[1], H, W, w->shape[0], w->shape[2], w->shape[3], 0, 0, p};
    g.Ho = out_size(H, g.KH, p.stride_h, p.pad_h, p.dil_h);
    g.Wo = out_size(W, g.KW, p.stride_w, p.pad_w, p.dil_w);
    if (!geom_check(ctx, &g, "conv2d input-grad")) return NULL;
    if (g.Ho != gy->shape[2] || g.Wo != gy->shape[3]) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "conv2d input-grad: a %dx%d input gives %dx%d outputs, the gradient is %s", H, W, g.Ho,
                 g.Wo, ebm_tensor_shape_str(gy, s1, 64));
        return NULL;
    }
    conv_epi_t epi = {NULL, -1, 0.0f, gf};
    ebm_tensor_t *x = conv_dispatch(ctx, gf ? CONV_IGRAD_FUSED : CONV_IGRAD, &g, gy, w, 0, &epi);
    if (!x || gf) return x;
    ebm_node_t *n = ebm_record(x, "conv2d_input_grad", igrad_backward, 2, (ebm_tensor_t *[]){gy, w});
    if (n) store_params(n, p, H, W);
    return x;
}

ebm_tensor_t *ebm_conv2d_input_grad(ebm_tensor_t *gy, ebm_tensor_t *w, int H, int W, ebm_conv2d_params_t p) {
    return input_grad(gy, w, H, W, p, NULL);
}

ebm_tensor_t *ebm_conv2d_weight_grad(ebm_tensor_t *x, ebm_tensor_t *gy, int KH, int KW, ebm_conv2d_params_t p) {
    if (!x || !gy || x->ctx->status != EBM_OK) return NULL;
    ebm_ctx_t *ctx = x->ctx;
    char s1[64], s2[64];
    if (x->ndim != 4 || gy->ndim != 4 || x->shape[0] != gy->shape[0]) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "conv2d weight-grad: input %s and gradient %s", ebm_tensor_shape_str(x, s1, 64),
                 ebm_tensor_shape_str(gy, s2, 64));
        return NULL;
    }
    geom_t g;
    memset(&g, 0, sizeof g);
    g = (geom_t){x->shape[0], x->shape[1], x->shape[2], x->shape[3], gy->shape[1], KH, KW, 0, 0, p};
    g.Ho = out_size(g.H, KH, p.stride_h, p.pad_h, p.dil_h);
    g.Wo = out_size(g.W, KW, p.stride_w, p.pad_w, p.dil_w);
    if (!geom_check(ctx, &g, "conv2d weight-grad")) return NULL;
    if (g.Ho != gy->shape[2] || g.Wo != gy->shape[3]) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "conv2d weight-grad: outputs %dx%d expected, gradient is %s", g.Ho, g.Wo,
                 ebm_tensor_shape_str(gy, s1, 64));
        return NULL;
    }
    ebm_tensor_t *dw = conv_dispatch(ctx, CONV_WGRAD, &g, x, gy, 0, NULL);
    if (!dw) return NULL;
    ebm_node_t *n = ebm_record(dw, "conv2d_weight_grad", wgrad_backward, 2, (ebm_tensor_t *[]){x, gy});
    if (n) store_params(n, p, KH, KW);
    return dw;
}

ebm_tensor_t *ebm_conv_transpose2d(ebm_tensor_t *x, ebm_tensor_t *w, ebm_tensor_t *b, ebm_conv2d_params_t p, int oph,
                                   int opw) {
    if (!x || !w || x->ctx->status != EBM_OK) return NULL;
    if (x->ndim != 4 || w->ndim != 4) {
        ebm_fail(x->ctx, EBM_STATUS_SHAPE, "conv_transpose2d needs 4-D input and weight");
        return NULL;
    }
    if (oph < 0 || opw < 0 || oph >= p.stride_h || opw >= p.stride_w) {
        ebm_fail(x->ctx, EBM_STATUS_INVALID_ARGUMENT, "conv_transpose2d: output padding must be in [0, stride)");
        return NULL;
    }
    int H = (x->shape[2] - 1) * p.stride_h - 2 * p.pad_h + p.dil_h * (w->shape[2] - 1) + oph + 1;
    int W = (x->shape[3] - 1) * p.stride_w - 2 * p.pad_w + p.dil_w * (w->shape[3] - 1) + opw + 1;
    return add_channel_bias(ebm_conv2d_input_grad(x, w, H, W, p), b);
}
