/* linalg.c — GEMM through CLBlast, matmul (2-D and batched 3-D) and linear. */
#include <clblast_c.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "../internal.h"

/* Small outputs keep ordinary stores: the next kernel reads them while they are in the cache.
 * fmnist-ms's forwards with 6.4 MB outputs and z (128x64x14x14) took 5.4 -> 6.0 ms per launch with
 * streaming stores on Intel's CPU runtime, where cifar32's first layer (33.5 MB each) took 14.0 ->
 * 4.0 on PoCL and its 16.7 MB second layer 19.1 -> 16.4, and its third (8.4 MB, 16 MiB with z)
 * 14.2 -> 14.5 (2026-12-07, 2-core Xeon; y and z counted together). */
int ebm_stream_stores(const ebm_ctx_t *ctx, size_t bytes) {
    return ctx->stream_stores == 2 || (ctx->stream_stores == 1 && bytes > EBM_STREAM_MIN_BYTES);
}

static ebm_status_t gemm_tile_launch(ebm_ctx_t *ctx, size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off,
                                     int sai, int sal, int lsplit, int sln, size_t a_stride, cl_mem bp, size_t bp_off,
                                     size_t bp_stride, int kpanel, const ebm_b_inplace_t *inplace, float beta, cl_mem c, size_t c_off,
                                     int ldc, int csplit, int cjn, size_t c_stride, size_t batch,
                                     const ebm_gemm_epilogue_t *epi) {
    cl_kernel kt = ebm_kernel_fn(ctx, EBM_K_GEMM_TILE, epi ? epi->fn : -1);
    if (!kt) return ctx->status;
    EBM_ASSERT(lsplit > 0 && k % (size_t)lsplit == 0);
    int has_bias = epi && epi->bias, store_z = epi && epi->z ? (epi->z_deriv ? 2 : 1) : 0;
    int np = ctx->gemm_panels;
    /* B read in place (cl/gemm.cl: whole panels, so 16 | n), or (NULL) packed panels kpanel rows long,
     * the same layout with 16-column splits */
    EBM_ASSERT(!inplace || (inplace->bsplit > 0 && inplace->bsplit % 16 == 0 && n % 16 == 0));
    ebm_b_inplace_t b = inplace ? *inplace : (ebm_b_inplace_t){16, (size_t)16 * kpanel, 16};
    int stream = ebm_stream_stores(ctx, m * n * batch * sizeof(float) * (store_z ? 2 : 1));
    if (ebm_kargs(ctx, kt, "iiifmliiiilmllilifmliiilmlimliffii", (int)m, (int)n, (int)k, (double)alpha, a, a_off, sai, sal,
                  lsplit, sln, a_stride, bp, bp_off, bp_stride, b.bsplit, b.bjn, b.bls, (double)beta, c, c_off, ldc, csplit, cjn, c_stride,
                  has_bias ? epi->bias : c, has_bias ? epi->bias_off : (size_t)0, has_bias, store_z ? epi->z : c,
                  store_z ? epi->z_off : (size_t)0, store_z, (double)(epi ? epi->a : 0.0f),
                  (double)(epi ? epi->b : 0.0f), np, stream) != EBM_OK)
        return ctx->status;
    /* work-groups of at most 32 x 4 (ebm_launch3), not the runtime's choice: PoCL chose 1024 x 4
     * for a ddgm config's GEMM at batch 8, and with two panels' accumulators per work item its
     * worker thread crashed */
    size_t tm = (size_t)ctx->tile_rows;
    return ebm_launch3(ctx, kt, (m + tm - 1) / tm, ((n + 15) / 16 + (size_t)np - 1) / (size_t)np, batch);
}

ebm_status_t ebm_gemm_tile_packed(ebm_ctx_t *ctx, size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off,
                                  int sai, int sal, int lsplit, int sln, size_t a_stride, cl_mem bp, size_t bp_off,
                                  size_t bp_stride, int kpanel, float beta, cl_mem c, size_t c_off, int ldc, int csplit,
                                  int cjn, size_t c_stride, size_t batch) {
    return gemm_tile_launch(ctx, m, n, k, alpha, a, a_off, sai, sal, lsplit, sln, a_stride, bp, bp_off, bp_stride, kpanel, NULL,
                            beta, c, c_off, ldc, csplit, cjn, c_stride, batch, NULL);
}

ebm_status_t ebm_gemm_tile_inplace(ebm_ctx_t *ctx, size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off, int sai,
                                   int sal, cl_mem b, size_t b_off, const ebm_b_inplace_t *bi, float beta, cl_mem c,
                                   size_t c_off, int ldc, int csplit, int cjn) {
    return gemm_tile_launch(ctx, m, n, k, alpha, a, a_off, sai, sal, (int)k, 0, 0, b, b_off, 0, (int)k, bi, beta, c, c_off,
                            ldc, csplit, cjn, 0, 1, NULL);
}

ebm_status_t ebm_gemm_tile_packed_epi(ebm_ctx_t *ctx, size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off,
                                      int sai, int sal, int lsplit, int sln, size_t a_stride, cl_mem bp, size_t bp_off,
                                      size_t bp_stride, int kpanel, cl_mem c, size_t c_off, int ldc, int csplit, int cjn,
                                      size_t c_stride, size_t batch, const ebm_gemm_epilogue_t *epi) {
    return gemm_tile_launch(ctx, m, n, k, alpha, a, a_off, sai, sal, lsplit, sln, a_stride, bp, bp_off, bp_stride, kpanel, NULL,
                            0.0f, c, c_off, ldc, csplit, cjn, c_stride, batch, epi);
}

ebm_status_t ebm_pack_b(ebm_ctx_t *ctx, ebm_tensor_t *dst, cl_mem b, size_t b_off, int sbl, int sbj, size_t b_stride,
                        size_t k, size_t n, int jsplit, int sjn, size_t batch) {
    size_t panels = (n + 15) / 16;
    if (sbl == 1 && jsplit >= (int)n && sbj != 1) {   /* transposed B: move 16 x 16 blocks */
        cl_kernel kbt = ebm_kernel(ctx, EBM_K_PACK_BT);
        if (!kbt || ebm_kargs(ctx, kbt, "mlmlilii", dst->buf, dst->off, b, b_off, sbj, b_stride, (int)k, (int)n) != EBM_OK)
            return ctx->status;
        return ebm_launch3(ctx, kbt, (k + 15) / 16, panels, batch);
    }
    cl_kernel kp = ebm_kernel(ctx, EBM_K_PACK_B);
    if (!kp || ebm_kargs(ctx, kp, "mlmliiliiii", dst->buf, dst->off, b, b_off, sbl, sbj, b_stride, (int)k, (int)n, jsplit,
                         sjn) != EBM_OK)
        return ctx->status;
    return ebm_launch3(ctx, kp, k, panels, batch);
}

/* The engine's own tiled GEMM (cl/gemm.cl): pack B into column panels, then one tiled kernel. */
static ebm_status_t gemm_tile(ebm_ctx_t *ctx, int ta, int tb, size_t m, size_t n, size_t k, float alpha, cl_mem a,
                              size_t a_off, size_t lda, size_t a_stride, cl_mem b, size_t b_off, size_t ldb, size_t b_stride,
                              float beta, cl_mem c, size_t c_off, size_t ldc, size_t c_stride, size_t batch) {
    size_t panels = (n + 15) / 16;
    ebm_tensor_t *packed = ebm_tensor_new(ctx, 1, (int[]){(int)(panels * 16 * k * batch)});
    if (!packed) return ctx->status;
    if (ebm_pack_b(ctx, packed, b, b_off, tb ? 1 : (int)ldb, tb ? (int)ldb : 1, b_stride, k, n, (int)n, 0, batch) != EBM_OK)
        return ctx->status;
    int sai = ta ? 1 : (int)lda, sal = ta ? (int)lda : 1;
    if (ebm_gemm_tile_packed(ctx, m, n, k, alpha, a, a_off, sai, sal, (int)k, 0, a_stride, packed->buf, packed->off,
                             panels * 16 * k, (int)k, beta, c, c_off, (int)ldc, (int)n, 0, c_stride, batch) != EBM_OK)
        return ctx->status;
    ebm_tensor_free(packed);
    return EBM_OK;
}

/* CLBlast keeps every program it builds in a process-wide cache (each holding its OpenCL context)
 * and releases them in a static destructor at exit, in no defined order with the OpenCL runtime's
 * own teardown: under Oclgrind that last release crashes inside the runtime (heap corruption in
 * LLVMContext's destructor). The cache is cleared when the last engine context that used CLBlast
 * ends, so the device's programs and context go with the ebm context, as they do for the engine's
 * own programs and clFFT's plans. */
static int clblast_users;

void ebm_clblast_release(ebm_ctx_t *ctx) {
    if (ctx->clblast_used && --clblast_users == 0) CLBlastClearCache();
    ctx->clblast_used = 0;
}

ebm_status_t ebm_gemm_clblast(ebm_ctx_t *ctx, int ta, int tb, size_t m, size_t n, size_t k, float alpha, cl_mem a,
                              size_t a_off, size_t lda, size_t a_stride, cl_mem b, size_t b_off, size_t ldb, size_t b_stride,
                              float beta, cl_mem c, size_t c_off, size_t ldc, size_t c_stride, size_t batch) {
    CLBlastStatusCode s;
    if (!ctx->clblast_used) ctx->clblast_used = 1, clblast_users++;
    ebm_clblast_tuned_apply(ctx);   /* the device's tuned parameters, before CLBlast builds a kernel (clblast_tuned.c) */
    cl_event *ev = ebm_profile_event(ctx, "CLBlast sgemm");
    CLBlastTranspose TA = ta ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose TB = tb ? CLBlastTransposeYes : CLBlastTransposeNo;
    if (batch == 1)
        s = CLBlastSgemm(CLBlastLayoutRowMajor, TA, TB, m, n, k, alpha, a, a_off, lda, b, b_off, ldb, beta, c, c_off, ldc,
                         &ctx->queue, ev);
    else
        s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, TA, TB, m, n, k, alpha, a, a_off, lda, a_stride, b, b_off, ldb,
                                       b_stride, beta, c, c_off, ldc, c_stride, batch, &ctx->queue, ev);
    if (s != CLBlastSuccess) {
        char what[96];
        snprintf(what, sizeof what, "CLBlast GEMM (m=%zu n=%zu k=%zu batch=%zu)", m, n, k, batch);
        return ebm_lib_fail(ctx, s, what);
    }
    return EBM_OK;
}

/* The fastest algorithm per (shape, transposes), measured the first time a shape is seen
 * (struct ebm_gemm_choice in internal.h; persisted by choices.c). */

static double wall_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define GEMM_OPERANDS ta, tb, m, n, k, alpha, a, a_off, lda, a_stride, b, b_off, ldb, b_stride, beta, c, c_off, ldc, c_stride, batch
#define GEMM_ARGS ctx, GEMM_OPERANDS

static const ebm_algo_t gemm_algo_id[3] = {0, EBM_ALGO_GEMM_CLBLAST, EBM_ALGO_GEMM_TILE};

/* One run of algorithm alg (1 CLBlast, 2 tile) as an algorithm try: 1 ran, 0 unavailable now
 * (marked, error cleared), -1 failed for a reason no algorithm avoids. */
static int gemm_try(ebm_ctx_t *ctx, int alg, int ta, int tb, size_t m, size_t n, size_t k, float alpha, cl_mem a,
                    size_t a_off, size_t lda, size_t a_stride, cl_mem b, size_t b_off, size_t ldb, size_t b_stride,
                    float beta, cl_mem c, size_t c_off, size_t ldc, size_t c_stride, size_t batch) {
    if (ebm_env_breaks("clblast") && alg == 1) {
        /* EBM_BREAK=clblast: fail as CLBlast does when the device's compiler rejects its kernels */
        ebm_algo_try_begin(ctx);
        ebm_lib_fail(ctx, CLBlastOpenCLBuildProgramFailure, "CLBlast GEMM (EBM_BREAK)");
        return ebm_algo_try_end(ctx, gemm_algo_id[alg]);
    }
    ebm_algo_try_begin(ctx);
    ebm_scope_begin(ctx);   /* the tile kernel's packed panels */
    if (alg == 1) ebm_gemm_clblast(GEMM_ARGS);
    else gemm_tile(GEMM_ARGS);
    ebm_scope_end(ctx);
    return ebm_algo_try_end(ctx, gemm_algo_id[alg]);
}

ebm_status_t ebm_gemm(ebm_ctx_t *ctx, int ta, int tb, size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off,
                      size_t lda, size_t a_stride, cl_mem b, size_t b_off, size_t ldb, size_t b_stride, float beta,
                      cl_mem c, size_t c_off, size_t ldc, size_t c_stride, size_t batch) {
    if (ctx->status != EBM_OK) return ctx->status;
    int algo = ebm_env()->gemm;
    struct ebm_gemm_choice key = {m, n, k, batch, ta, tb, 0};
    const struct ebm_gemm_choice *known = algo ? NULL : ebm_gemm_choice_find(ctx, &key);
    if (known) algo = known->algo;
    if (!algo && beta != 0.0f) algo = ctx->info.is_gpu ? 1 : 2;   /* measuring would accumulate into C twice */
    if (algo && !ebm_algo_available(ctx, gemm_algo_id[algo])) algo = 3 - algo;
    if (!algo) {
        /* each once to warm up (kernel compilation), then the best of two timed runs each; the
         * faster is remembered (and saved: choices.c), so the timing must not be a single sample.
         * On a simulator, each once (conv.c's conv_measure says why) */
        double t[3] = {0, 1e30, 1e30};
        int last = 0;
        const int reps = ctx->simulated ? 1 : 3, warm = !ctx->simulated;
        for (int rep = 0; rep < reps; rep++)
            for (int alg = 1; alg <= 2; alg++) {
                if (!ebm_algo_available(ctx, gemm_algo_id[alg])) continue;
                clFinish(ctx->queue);
                double t0 = wall_s();
                int r = gemm_try(ctx, alg, GEMM_OPERANDS);
                if (r < 0) return ctx->status;
                if (!r) continue;
                clFinish(ctx->queue);
                if (rep >= warm && wall_s() - t0 < t[alg]) t[alg] = wall_s() - t0;
                last = alg;
            }
        if (!last) return ebm_algo_none_left(ctx, "GEMM", gemm_algo_id + 1, 2);
        algo = t[1] <= t[2] ? 1 : 2;
        key.algo = algo;
        if (!(algo = ebm_choices_record_gemm(ctx, &key))) return ctx->status;
        ebm_host_trim();   /* as after a convolution's measurement (conv.c) */
        ebm_log_message(EBM_LOG_DEBUG, "gemm %zux%zux%zu batch %zu ta %d tb %d: CLBlast %.3f ms, tile %.3f ms", m, n, k, batch,
                        ta, tb, t[1] * 1e3, t[2] * 1e3);
        if (algo == last) return EBM_OK;   /* the last run was this algorithm: C already holds its result */
    }
    /* the chosen algorithm, else the other one */
    for (int i = 0; i < 2; i++, algo = 3 - algo) {
        if (!ebm_algo_available(ctx, gemm_algo_id[algo])) continue;
        int r = gemm_try(ctx, algo, GEMM_OPERANDS);
        if (r) return r > 0 ? EBM_OK : ctx->status;
    }
    return ebm_algo_none_left(ctx, "GEMM", gemm_algo_id + 1, 2);
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
