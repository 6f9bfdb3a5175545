/* fftconv.c — convolution through clFFT for stride-1, undilated convolutions with large filters.
 *
 * Inputs are zero-padded into F x F planes (F >= H + 2p, a product of 2, 3, 5, 7 so clFFT handles
 * it); since F covers the padded input, the circular correlation equals the linear one on every
 * output kept. With X, W, G the real-to-complex transforms of input, filter and output gradient:
 *   forward      Y[n,o]  = sum_c X[n,c] conj(W[o,c])      (correlation)
 *   input-grad   Xg[n,c] = sum_o G[n,o] W[o,c]             (its adjoint: convolution)
 *   weight-grad  Wg[o,c] = sum_n conj(G[n,o]) X[n,c]
 * then an inverse transform and a crop. The conv ops (conv.c) call these when the per-shape
 * measurement (or EBM_CONV=fft) picks them; autodiff is unchanged, since the ops are the same. */
#include <clFFT.h>
#include <stdio.h>
#include "../internal.h"
#include "conv_internal.h"

static int fft_users;   /* clfftSetup is process-wide */

typedef struct ebm_fft_plan {
    int fh, fw, batch, inverse;
    clfftPlanHandle plan;
} ebm_fft_plan_t;

static int good_size(int n) {
    for (;; n++) {
        int m = n;
        for (int p = 2; p <= 7; p++)
            while (m % p == 0) m /= p;
        if (m == 1) return n;
    }
}

static ebm_status_t fft_fail(ebm_ctx_t *ctx, clfftStatus s, const char *what) {
    char msg[160];
    /* clFFT builds its generated kernels when a transform first runs, and prints the compiler's log */
    snprintf(msg, sizeof msg, "%s%s", what,
             (int)s == CL_INVALID_PROGRAM || (int)s == CL_BUILD_PROGRAM_FAILURE ? ": clFFT's kernels did not build (log above)" : "");
    return ebm_lib_fail(ctx, (int)s, msg);
}

static ebm_status_t fft_ensure_setup(ebm_ctx_t *ctx) {
    if (ctx->fft_ready) return EBM_OK;
    if (fft_users == 0) {
        /* what clfftInitSetupData does: that function is a plain C99 inline in clFFT.h with no
         * external definition, so calling it fails to link in unoptimised builds */
        clfftSetupData sd;
        sd.major = clfftVersionMajor;
        sd.minor = clfftVersionMinor;
        sd.patch = clfftVersionPatch;
        sd.debugFlags = 0;
        clfftStatus s = clfftSetup(&sd);
        if (s != CLFFT_SUCCESS) return fft_fail(ctx, s, "clfftSetup");
    }
    fft_users++;
    ctx->fft_ready = 1;
    return EBM_OK;
}

void ebm_fft_release(ebm_ctx_t *ctx) {
    for (int i = 0; i < ctx->n_fft_plans; i++) clfftDestroyPlan(&ctx->fft_plans[i].plan);
    free(ctx->fft_plans);
    ctx->fft_plans = NULL;
    ctx->n_fft_plans = 0;
    if (ctx->fft_ready && --fft_users == 0) clfftTeardown();
    ctx->fft_ready = 0;
}

static clfftPlanHandle get_plan(ebm_ctx_t *ctx, int fh, int fw, int batch, int inverse) {
    for (int i = 0; i < ctx->n_fft_plans; i++) {
        ebm_fft_plan_t *p = &ctx->fft_plans[i];
        if (p->fh == fh && p->fw == fw && p->batch == batch && p->inverse == inverse) return p->plan;
    }
    if (fft_ensure_setup(ctx) != EBM_OK) return 0;
    clfftPlanHandle plan;
    size_t lengths[2] = {(size_t)fw, (size_t)fh};
    size_t real_str[2] = {1, (size_t)fw}, cplx_str[2] = {1, (size_t)(fw / 2 + 1)};
    size_t real_dist = (size_t)fh * fw, cplx_dist = (size_t)fh * (fw / 2 + 1);
    clfftStatus s = clfftCreateDefaultPlan(&plan, ctx->context, CLFFT_2D, lengths);
    if (s == CLFFT_SUCCESS) s = clfftSetPlanPrecision(plan, CLFFT_SINGLE);
    if (s == CLFFT_SUCCESS)
        s = inverse ? clfftSetLayout(plan, CLFFT_HERMITIAN_INTERLEAVED, CLFFT_REAL)
                    : clfftSetLayout(plan, CLFFT_REAL, CLFFT_HERMITIAN_INTERLEAVED);
    if (s == CLFFT_SUCCESS) s = clfftSetResultLocation(plan, CLFFT_OUTOFPLACE);
    if (s == CLFFT_SUCCESS) s = clfftSetPlanBatchSize(plan, (size_t)batch);
    if (s == CLFFT_SUCCESS) s = clfftSetPlanInStride(plan, CLFFT_2D, inverse ? cplx_str : real_str);
    if (s == CLFFT_SUCCESS) s = clfftSetPlanOutStride(plan, CLFFT_2D, inverse ? real_str : cplx_str);
    if (s == CLFFT_SUCCESS) s = clfftSetPlanDistance(plan, inverse ? cplx_dist : real_dist, inverse ? real_dist : cplx_dist);
    if (s == CLFFT_SUCCESS) s = clfftBakePlan(plan, 1, &ctx->queue, NULL, NULL);
    if (s != CLFFT_SUCCESS) {
        fft_fail(ctx, s, "creating a clFFT plan");
        return 0;
    }
    if (ctx->n_fft_plans == ctx->cap_fft_plans) {
        ebm_fft_plan_t *np = ebm_grow_array(ctx->fft_plans, &ctx->cap_fft_plans, sizeof *np, 16);
        if (!np) {
            clfftDestroyPlan(&plan);
            ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
            return 0;
        }
        ctx->fft_plans = np;
    }
    ctx->fft_plans[ctx->n_fft_plans++] = (ebm_fft_plan_t){fh, fw, batch, inverse, plan};
    return plan;
}

/* (batch, fh, fw) real <-> (batch, fh, fw/2+1) complex */
static ebm_tensor_t *transform(ebm_ctx_t *ctx, ebm_tensor_t *in, int fh, int fw, int batch, int inverse) {
    clfftPlanHandle plan = get_plan(ctx, fh, fw, batch, inverse);
    if (!plan) return NULL;
    ebm_tensor_t *out = inverse ? ebm_tensor_new(ctx, 3, (int[]){batch, fh, fw})
                                : ebm_tensor_new(ctx, 4, (int[]){batch, fh, fw / 2 + 1, 2});
    if (!out) return NULL;
    EBM_ASSERT(in->off == 0 && out->off == 0);   /* fresh pool buffers: clFFT takes no offsets */
    cl_mem ib = in->buf, ob = out->buf;
    /* EBM_BREAK=clfft: fail as clFFT does where the compiler rejects its kernels (Intel's CPU runtime) */
    if (ebm_env_breaks("clfft")) {
        fft_fail(ctx, (clfftStatus)CL_INVALID_PROGRAM, "clfftEnqueueTransform (EBM_BREAK)");
        return NULL;
    }
    clfftStatus s = clfftEnqueueTransform(plan, inverse ? CLFFT_BACKWARD : CLFFT_FORWARD, 1, &ctx->queue, 0, NULL,
                                          ebm_profile_event(ctx, "clFFT"), &ib, &ob, NULL);
    if (s != CLFFT_SUCCESS) {
        fft_fail(ctx, s, "clfftEnqueueTransform");
        return NULL;
    }
    return out;
}

/* zero (P, fh, fw) planes with src (P, h, w) written at (top, left) */
static ebm_tensor_t *pad_planes(ebm_ctx_t *ctx, ebm_tensor_t *src, int P, int h, int w, int fh, int fw, int top, int left) {
    ebm_tensor_t *d = ebm_tensor_zeros(ctx, 3, (int[]){P, fh, fw});
    if (!d) return NULL;
    int box[4] = {1, P, h, w};
    long ds[4] = {0, (long)fh * fw, fw, 1}, ss[4] = {0, (long)h * w, w, 1};
    if (ebm_copy_strided(ctx, box, d->buf, d->off + (size_t)top * fw + left, ds, src->buf, src->off, ss) != EBM_OK) return NULL;
    return d;
}

/* (P, h, w) from (P, fh, fw) planes at (top, left) into dst */
static ebm_status_t crop_planes(ebm_ctx_t *ctx, ebm_tensor_t *dst, ebm_tensor_t *src, int P, int h, int w, int fh, int fw, int top,
                                int left) {
    int box[4] = {1, P, h, w};
    long ds[4] = {0, (long)h * w, w, 1}, ss[4] = {0, (long)fh * fw, fw, 1};
    return ebm_copy_strided(ctx, box, dst->buf, dst->off, ds, src->buf, src->off + (size_t)top * fw + left, ss);
}

static ebm_tensor_t *cmul(ebm_ctx_t *ctx, ebm_tensor_t *A, ebm_tensor_t *B, int I, int J, int R, int nb, int sai, int sar,
                          int sbj, int sbr, int conja, int conjb, int fh, int fw) {
    ebm_tensor_t *out = ebm_tensor_new(ctx, 4, (int[]){I * J, fh, fw / 2 + 1, 2});
    cl_kernel k = ebm_kernel(ctx, EBM_K_CMUL_REDUCE);
    if (!out || !k) return NULL;
    if (ebm_kargs(ctx, k, "mmmiiiiiiiiii", out->buf, A->buf, B->buf, I, J, R, nb, sai, sar, sbj, sbr, conja, conjb) != EBM_OK ||
        ebm_launch3(ctx, k, (size_t)nb, (size_t)J, (size_t)I) != EBM_OK)
        return NULL;
    return out;
}

int ebm_fftconv_applicable(const ebm_conv_geom_t *g) {
    return g->p.stride_h == 1 && g->p.stride_w == 1 && g->p.dil_h == 1 && g->p.dil_w == 1 && g->KH >= 5 && g->KW >= 5;
}

static void sizes(const ebm_conv_geom_t *g, int *fh, int *fw) {
    *fh = good_size(g->H + 2 * g->p.pad_h);
    *fw = good_size(g->W + 2 * g->p.pad_w);
}

/* spectra of the zero-padded input, filters and output gradients */
static ebm_tensor_t *spectrum_x(ebm_ctx_t *ctx, const ebm_conv_geom_t *g, ebm_tensor_t *x, int fh, int fw) {
    return transform(ctx, pad_planes(ctx, x, g->N * g->C, g->H, g->W, fh, fw, g->p.pad_h, g->p.pad_w), fh, fw, g->N * g->C, 0);
}
static ebm_tensor_t *spectrum_w(ebm_ctx_t *ctx, const ebm_conv_geom_t *g, ebm_tensor_t *w, int fh, int fw) {
    return transform(ctx, pad_planes(ctx, w, g->O * g->C, g->KH, g->KW, fh, fw, 0, 0), fh, fw, g->O * g->C, 0);
}
static ebm_tensor_t *spectrum_g(ebm_ctx_t *ctx, const ebm_conv_geom_t *g, ebm_tensor_t *gy, int fh, int fw) {
    return transform(ctx, pad_planes(ctx, gy, g->N * g->O, g->Ho, g->Wo, fh, fw, 0, 0), fh, fw, g->N * g->O, 0);
}

ebm_tensor_t *ebm_fftconv_fwd(ebm_ctx_t *ctx, const ebm_conv_geom_t *g, ebm_tensor_t *x, ebm_tensor_t *w) {
    int fh, fw;
    sizes(g, &fh, &fw);
    int nb = fh * (fw / 2 + 1);
    ebm_tensor_t *X = spectrum_x(ctx, g, x, fh, fw), *Wf = spectrum_w(ctx, g, w, fh, fw);
    if (!X || !Wf) return NULL;
    ebm_tensor_t *Y = cmul(ctx, X, Wf, g->N, g->O, g->C, nb, g->C, 1, g->C, 1, 0, 1, fh, fw);
    ebm_tensor_t *yp = Y ? transform(ctx, Y, fh, fw, g->N * g->O, 1) : NULL;
    ebm_tensor_t *y = ebm_tensor_new(ctx, 4, (int[]){g->N, g->O, g->Ho, g->Wo});
    if (!yp || !y || crop_planes(ctx, y, yp, g->N * g->O, g->Ho, g->Wo, fh, fw, 0, 0) != EBM_OK) return NULL;
    return y;
}

ebm_tensor_t *ebm_fftconv_igrad(ebm_ctx_t *ctx, const ebm_conv_geom_t *g, ebm_tensor_t *gy, ebm_tensor_t *w) {
    int fh, fw;
    sizes(g, &fh, &fw);
    int nb = fh * (fw / 2 + 1);
    ebm_tensor_t *G = spectrum_g(ctx, g, gy, fh, fw), *Wf = spectrum_w(ctx, g, w, fh, fw);
    if (!G || !Wf) return NULL;
    ebm_tensor_t *Xg = cmul(ctx, G, Wf, g->N, g->C, g->O, nb, g->O, 1, 1, g->C, 0, 0, fh, fw);
    ebm_tensor_t *xp = Xg ? transform(ctx, Xg, fh, fw, g->N * g->C, 1) : NULL;
    ebm_tensor_t *x = ebm_tensor_new(ctx, 4, (int[]){g->N, g->C, g->H, g->W});
    if (!xp || !x || crop_planes(ctx, x, xp, g->N * g->C, g->H, g->W, fh, fw, g->p.pad_h, g->p.pad_w) != EBM_OK) return NULL;
    return x;
}

ebm_tensor_t *ebm_fftconv_wgrad(ebm_ctx_t *ctx, const ebm_conv_geom_t *g, ebm_tensor_t *x, ebm_tensor_t *gy) {
    int fh, fw;
    sizes(g, &fh, &fw);
    int nb = fh * (fw / 2 + 1);
    ebm_tensor_t *X = spectrum_x(ctx, g, x, fh, fw), *G = spectrum_g(ctx, g, gy, fh, fw);
    if (!X || !G) return NULL;
    ebm_tensor_t *Wg = cmul(ctx, G, X, g->O, g->C, g->N, nb, 1, g->O, 1, g->C, 1, 0, fh, fw);
    ebm_tensor_t *wp = Wg ? transform(ctx, Wg, fh, fw, g->O * g->C, 1) : NULL;
    ebm_tensor_t *dw = ebm_tensor_new(ctx, 4, (int[]){g->O, g->C, g->KH, g->KW});
    if (!wp || !dw || crop_planes(ctx, dw, wp, g->O * g->C, g->KH, g->KW, fh, fw, 0, 0) != EBM_OK) return NULL;
    return dw;
}
