/* gemm.cl — a register-tiled GEMM written for CPU devices (PoCL), where CLBlast's untuned
 * kernels reach ~10% of peak.
 *
 * B is first packed into panels of TN columns, [N/TN][K][TN] (zero-padded), so a work item streams
 * its panel sequentially: row-major B with a power-of-two leading dimension (common here: B*H*W
 * columns) would otherwise map every row of a panel to the same cache set. Each work item then
 * computes a TM x TN tile of C, one float16 accumulator per row. TM = EBM_TILE_ROWS, which the
 * engine sets per device (engine/device.c: tile_rows): 8 where a float16 is one register
 * (AVX-512: eight independent FMA chains, as many as two FMA units with a latency of four cycles
 * keep busy, and full tiles for channel counts that are multiples of 8), 6 elsewhere (AVX2: a
 * float16 is two of its sixteen registers; eight rows would spill accumulators in the inner loop).
 * A is read through two strides (A^T costs nothing); rows past M are clamped (computed, not stored).
 *
 *   C[i, j] = alpha * sum_l A(i, l) B(l, j) + beta * C[i, j],  A(i, l) = A[i*sai + l*sal]
 * beta == 0 never reads C (it may hold NaN garbage from the pool).
 *
 * The engine builds each kernel of this file as a program of its own: -DONE_KERNEL -DONLY_<name>
 * leaves out the others (engine/device.c: one_kernel_per_program), so a run compiles only what it
 * launches. Built without them (the offline strict compile) the file has every kernel. */
#define TM EBM_TILE_ROWS
/* The tile kernels compute in float16 themselves: vec_type_hint (OpenCL 1.2, 6.7.2) tells a
 * compiler that vectorizes across work-items not to. Intel's CPU runtime otherwise scalarizes and
 * re-vectorizes them: conv_implicit_fwd and conv_implicit_igrad2 with an activation took 7-12 s
 * each to compile there, 1 s with the hint (PoCL's compile times did not change). */
#define VECTORIZED __attribute__((vec_type_hint(float16)))
/* X(r) for each row r of the tile */
#if TM == 8
#define TILE_EACH(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#elif TM == 6
#define TILE_EACH(X) X(0) X(1) X(2) X(3) X(4) X(5)
#else
#error "EBM_TILE_ROWS is 6 or 8"
#endif
#define TN 16

/* Streaming stores (built with EBM_STREAM_STORES=1 on CPU devices, engine/device.c; used where a
 * tile kernel's stream argument says so, per launch: engine/ops/linalg.c ebm_stream_stores): a
 * tile row of 16 floats that covers one aligned 64-byte line goes to memory with a non-temporal
 * hint, without the read of the line that an ordinary store makes first (write-allocate: a store
 * stream's traffic twice over) and without evicting what the next kernels read. A convolution's
 * forward writes its output and z as two such streams: cifar32's first layer took 14.0 ms per
 * launch in the iteration with ordinary stores, 4.0 with these (PoCL, 2-core Xeon). The builtin is
 * clang's (PoCL, Intel's CPU runtime, Oclgrind); a compiler without it gets ordinary stores. The
 * stores are weakly ordered: STREAM_FENCE after a work item's last one (an sfence where the
 * compiler targets x86, as PoCL's does), so that they are visible before anything after them. */
#if defined(EBM_STREAM_STORES) && EBM_STREAM_STORES && defined(__has_builtin)
#if __has_builtin(__builtin_nontemporal_store)
#define STREAM_OK 1
#endif
#endif
#ifdef STREAM_OK
#define STORE16_STREAM(v, p)                                                                    \
    {                                                                                           \
        if ((((ulong)(p)) & 63) == 0)                                                           \
            __builtin_nontemporal_store((v), (global float16 *)(global void *)(p));            \
        else                                                                                    \
            vstore16((v), 0, (p));                                                              \
    }
#if __has_builtin(__builtin_ia32_sfence)
#define STREAM_FENCE() __builtin_ia32_sfence()
#else
#define STREAM_FENCE() mem_fence(CLK_GLOBAL_MEM_FENCE)
#endif
#else
#define STORE16_STREAM(v, p) vstore16((v), 0, (p));
#define STREAM_FENCE()
#endif

/* Software prefetches (built with EBM_PREFETCH=1 on CPU devices, engine/device.c): PREFETCH(p) asks
 * for the cache line of the global address p some time before the loads that need it. Two reads
 * of the implicit convolutions wait for memory otherwise (perf, fmnist-ms on PoCL): a forward's
 * panel reads rows of every input channel at once, more streams than the hardware prefetcher
 * follows, and an input gradient's fused f'(z) reads z a whole backward pass after the forward
 * wrote it (its loads took about a third of the largest input gradient's samples). The builtin is
 * clang's (PoCL, Intel's CPU runtime) and takes a pointer to the private address space, which on a
 * CPU device is the same memory as the global one: hence the cast through an integer, and no
 * prefetches on other devices. A prefetch never faults; the kernels still keep them in bounds. */
#if defined(EBM_PREFETCH) && EBM_PREFETCH && defined(__has_builtin)
#if __has_builtin(__builtin_prefetch)
#define PREFETCH_OK 1
#define PREFETCH(p) __builtin_prefetch((const void *)(ulong)(p))
#endif
#endif
#ifndef PREFETCH_OK
#define PREFETCH_OK 0
#define PREFETCH(p) ((void)0)
#endif
#if PREFETCH_OK
/* Prefetches rows ra of image na to rb of image nb (clamped to 0 .. rows-1) of the planes c = c0,
 * c0 + cs, ... < C of a (images, C, rows, cols) tensor t: the rows a forward's or an input
 * gradient's next panels will read. Nothing where they span more than two images (maps of fewer
 * than about 16 positions per panel): a line per plane and image would take more instructions than
 * the loads they spare. */
static void prefetch_rows(global const float *t, int C, int rows, int cols, int na, int ra, int nb, int rb, int c0, int cs) {
    if (nb - na > 1) return;
    for (int n = na; n <= nb; n++) {
        int r0 = max(0, n == na ? ra : 0), r1 = min(rows - 1, n == nb ? rb : rows - 1);
        for (int c = c0; c < C && r0 <= r1; c += cs) {
            global const float *b = t + ((size_t)n * C + c) * rows * cols;
            for (int e = r0 * cols; e < (r1 + 1) * cols; e += 16) PREFETCH(b + e);
            PREFETCH(b + (r1 + 1) * cols - 1);
        }
    }
}
#endif

/* dst[b][j / TN][l][j % TN] = B(l, j), zero for j >= N, where
 *   B(l, j) = B[bo + b*bbs + l*sbl + (j / jsplit)*sjn + (j % jsplit)*sbj]
 * (jsplit >= N: plain strides; jsplit = H*W reads a (batch, channel, H*W) tensor as channels x pixels).
 * NDRange: (K, panels, batch); one work item writes one contiguous row of a panel. */
#if !defined(ONE_KERNEL) || defined(ONLY_pack_b)
kernel void pack_b(global float *dst, ulong dsto, global const float *B, ulong bo, int sbl, int sbj, ulong bbs, int K,
                   int N, int jsplit, int sjn) {
    int l = (int)get_global_id(0), p = (int)get_global_id(1);
    size_t b = get_global_id(2);
    int panels = (N + TN - 1) / TN;
    if (l >= K || p >= panels) return;
    int j0 = p * TN;
    global const float *src = B + bo + b * bbs + (long)l * sbl;
    global float *d = dst + dsto + b * (size_t)panels * K * TN + ((size_t)p * K + l) * TN;
    int n = min(TN, N - j0), jn = j0 / jsplit, jp = j0 - jn * jsplit;
    if (n == TN && sbj == 1 && jp + TN <= jsplit) {
        global const float *s = src + (long)jn * sjn + jp;
        vstore8(vload8(0, s), 0, d);
        vstore8(vload8(1, s), 1, d);
    } else {
        for (int c = 0; c < TN; c++, jp++) {
            if (jp == jsplit) jp = 0, jn++;
            d[c] = c < n ? src[(long)jn * sjn + (long)jp * sbj] : 0.0f;
        }
    }
}
#endif

/* The same packing for a transposed B (B(l, j) = B[bo + b*bbs + j*sbj + l], contiguous along l):
 * one work item moves a TN x TN block, reading 16 contiguous floats from each of 16 rows (whole
 * cache lines, not 16 scattered words per panel row). NDRange: (ceil(K/TN), panels, batch). */
#if !defined(ONE_KERNEL) || defined(ONLY_pack_bt)
kernel void pack_bt(global float *dst, ulong dsto, global const float *B, ulong bo, int sbj, ulong bbs, int K, int N) {
    int lb = (int)get_global_id(0), p = (int)get_global_id(1);
    size_t b = get_global_id(2);
    int panels = (N + TN - 1) / TN;
    int l0 = lb * TN;
    if (l0 >= K || p >= panels) return;
    global const float *src = B + bo + b * bbs;
    global float *d = dst + dsto + b * (size_t)panels * K * TN + (size_t)p * K * TN;
    int nl = min(TN, K - l0), nj = min(TN, N - p * TN);
    float t[TN][TN];
    for (int jj = 0; jj < TN; jj++) {
        global const float *row = src + (long)(p * TN + jj) * sbj + l0;
        if (jj < nj && nl == TN) {
            float16 v = vload16(0, row);
            vstore16(v, 0, t[jj]);
        } else {
            for (int ll = 0; ll < TN; ll++) t[jj][ll] = (jj < nj && ll < nl) ? row[ll] : 0.0f;
        }
    }
    for (int ll = 0; ll < nl; ll++)
        for (int jj = 0; jj < TN; jj++) d[(size_t)(l0 + ll) * TN + jj] = t[jj][ll];
}
#endif

#ifdef FN
#define ACT16(v) FN_F16(FN)(v, fa, fb)
#define HAS_ACT 1
#else
#define ACT16(v) (v)
#define HAS_ACT 0
#endif

/* Stores row `row` of a tile (x: its 16 values, columns j0.. of C laid out as in gemm_tile; jn, jp:
 * j0's split, contiguous: all 16 in one run) at P (C or Z) as al * x + be * P (be == 0 never reads
 * P); streamed where stream says so (a tile kernel's output that no later step of the same kernel
 * reads back). A function, not a macro: a tile kernel stores rows in 16-48 places (8 rows, C and Z,
 * 2-3 tails), and with this code and tile_epilogue's expanded in each of them conv_implicit_fwd
 * with an activation took 4.3 s to compile on PoCL, 2.1 s as functions (2-core EPYC VM). */
static void store_row(global float *P, int row, float16 x, float al, float be, int contiguous, int stream, int jn, int jp,
                      int cjn, int ldc, int csplit, int ncols) {
    global float *cp = P + (long)row * ldc + (long)jn * cjn + jp;
    if (contiguous && be == 0.0f && stream) {
        STORE16_STREAM(al * x, cp)
    } else if (contiguous && be == 0.0f) {
        vstore16(al * x, 0, cp);
    } else if (contiguous) {
        vstore16(al * x + be * vload16(0, cp), 0, cp);
    } else {
        float t[TN];
        vstore16(x, 0, t);
        int n_ = jn, p_ = jp;
        for (int c = 0; c < ncols; c++, p_++) {
            if (p_ == csplit) p_ = 0, n_++;
            global float *q = P + (long)row * ldc + (long)n_ * cjn + p_;
            *q = be == 0.0f ? al * t[c] : al * t[c] + be * *q;
        }
    }
}
/* row r of the tile (rows past mr are never stored); needs i0, j0, mr, N, ldc, csplit, cjn,
 * stream_ and TILE_TAIL's jn, jp, contiguous */
#define STORE_ROW(P, r, x, al, be)                                                              \
    if (r < mr) store_row(P, i0 + r, x, al, be, contiguous, stream_, jn, jp, cjn, ldc, csplit, min(TN, N - j0));

/* The epilogue of a tile row v (row `row` of C): alpha and the bias value bv folded in (the stores
 * of C then use alpha 1), Z written where asked (store_z 1: the pre-activation; 2: f' of it, what a
 * first-order graph's backward multiplies by, engine/ops/conv.c; store_row's arguments), the
 * activation applied, all 16 values at once; returns the row to store in C. A function for the
 * reason store_row is one. */
#if HAS_ACT
#define ZVALUE_DERIV16(v, d) FN_VD16(FN)(v, fa, fb, &(d))
#else
#define ZVALUE_DERIV16(v, d) ((d) = (v))
#endif
static float16 tile_epilogue(float16 v, float bv, float alpha, int store_z, float fa, float fb, global float *Z, int row,
                             int contiguous, int stream, int jn, int jp, int cjn, int ldc, int csplit, int ncols) {
    (void)fa, (void)fb;   /* used by ACT16 and ZVALUE_DERIV16 in the -DFN variants only */
    v = alpha * v + bv;
    if (store_z == 2) {
        float16 d;
        v = ZVALUE_DERIV16(v, d);
        store_row(Z, row, d, 1.0f, 0.0f, contiguous, stream, jn, jp, cjn, ldc, csplit, ncols);
        return v;
    }
    if (store_z) store_row(Z, row, v, 1.0f, 0.0f, contiguous, stream, jn, jp, cjn, ldc, csplit, ncols);
    return ACT16(v);
}
/* tile_epilogue of row r of the tile (c<r>) */
#define EPILOGUE(r)                                                                             \
    if (r < mr)                                                                                 \
        c##r = tile_epilogue(c##r, has_bias ? bias[biaso + i0 + r] : 0.0f, alpha, store_z, fa, fb, Z, i0 + r, contiguous, \
                             stream_, jn, jp, cjn, ldc, csplit, min(TN, N - j0));

/* The end of a tile kernel: the epilogue of every row where there is one (Z advanced by zoff),
 * then the stores of C. Needs i0, j0, mr, N, M, ldc, csplit, cjn, alpha, beta and the kernel's
 * epilogue arguments. */
#define STORE_C(r) STORE_ROW(C, r, c##r, al_, beta)
#define TILE_TAIL(zoff)                                                                         \
    int jn = j0 / csplit, jp = j0 - jn * csplit;                                                \
    int contiguous = j0 + TN <= N && jp + TN <= csplit;                                         \
    float al_ = alpha; /* the stores' alpha: 1 where the epilogue applied it */                 \
    if (has_bias || store_z || HAS_ACT) {                                                       \
        Z += zoff;                                                                              \
        TILE_EACH(EPILOGUE)                                                                     \
        al_ = 1.0f;                                                                             \
    }                                                                                           \
    TILE_EACH(STORE_C)

/* The tile's accumulators c<r>, and the offsets o<r> of its rows from row 0 in A (row stride s;
 * rows past mr repeat the last row: computed, never stored). */
#define TILE_ACC_(r) float16 c##r = 0;
#define TILE_OFF_(r) int o##r = min(r, mr - 1) * tile_s_;
#define TILE_START(s)                                                                           \
    int tile_s_ = (s);                                                                          \
    TILE_EACH(TILE_ACC_) TILE_EACH(TILE_OFF_)

/* One step of the TM x 16 tile: C rows += A(i0 + r, l) * B panel row l (ap: A(i0, l), global;
 * o<r>: the rows' offsets from it; bp: the panel row, global or local). */
#define TILE_STEP(ap, bp) TILE_STEP_ACC(ap, bp, c)
/* the same into the accumulators acc<r> (acc: c or d) */
#define TILE_FMA_c(r) c##r = fma((float16)(a_[o##r]), b_, c##r);
#define TILE_FMA_d(r) d##r = fma((float16)(a_[o##r]), b_, d##r);
#define TILE_STEP_ACC(ap, bp, acc)                                                              \
    {                                                                                           \
        float16 b_ = vload16(0, bp);                                                            \
        global const float *a_ = (ap);                                                          \
        TILE_EACH(TILE_FMA_##acc)                                                               \
    }

/* Two 16-column panels at once (np = 2): the second panel's accumulators d<r>; each step loads
 * both panel vectors (b_, b2_) for the TM broadcasts of A, 2*TM chains (see conv_implicit_fwd). */
#define TILE_FMA2_(r)                                                                           \
    {                                                                                           \
        float16 a1_ = (float16)(a_[o##r]);                                                      \
        c##r = fma(a1_, b_, c##r);                                                              \
        d##r = fma(a1_, b2_, d##r);                                                             \
    }
#define D_ACC_(r) float16 d##r = 0;
#define D_TO_C_(r) c##r = d##r;
/* one two-panel step (ap: A(i0, l); bp, bq: the two panel rows) */
#define TILE_STEP2(ap, bp, bq)                                                                  \
    {                                                                                           \
        float16 b_ = vload16(0, bp), b2_ = vload16(0, bq);                                      \
        global const float *a_ = (ap);                                                          \
        TILE_EACH(TILE_FMA2_)                                                                   \
    }
/* the end of a two-panel tile: the first panel's epilogue and stores (Z advanced by zoff), then,
 * where the second panel has columns, the second's from the same Z (j0 then that panel's) */
#define TILE_TAIL2(zoff)                                                                        \
    { TILE_TAIL(zoff) }                                                                         \
    if (j0 + TN < N) {                                                                          \
        j0 += TN;                                                                               \
        TILE_EACH(D_TO_C_)                                                                      \
        { TILE_TAIL(0) }                                                                        \
    }

/* NDRange: (ceil(M/TM), ceil(panels/np), batch); dim 0 walks row tiles so consecutive work items
 * share B panels while they are in cache. A work item computes np (1 or 2) panels' tiles.
 * A(i, l) = A[i*sai + (l / lsplit)*sln + (l % lsplit)*sal]   (lsplit = K: plain strides)
 * C[i, j] at C[i*ldc + (j / csplit)*cjn + j % csplit]        (csplit = N: plain row-major)
 * The splits let convolutions read and write (batch, channel, H*W) tensors in place.
 * B(l, j) = Bp[bo + bt*b_bs + (j / bsplit)*bjn + j % bsplit + l*bls], bsplit a multiple of 16, so
 * a panel's 16 columns are one contiguous row of 16 floats: packed panels kpanel rows long are
 * bsplit = 16, bjn = 16*kpanel, bls = 16 (kpanel = K unless K is split into chunks along the batch
 * axis); a convolution's gradient (batch, channel, H*W) with 16 | H*W and 16 | N is read in place
 * with bsplit = H*W, bjn = channels*H*W, bls = H*W.
 * Epilogue (beta == 0 only): v = alpha * sum + bias[i] (has_bias), then, in the variants built with
 * -DFN=fn_<name> (cl/fns.cl), Z = v (store_z 1: at Z + zo, laid out as C; store_z 2: Z = f'(v), a
 * first-order graph's, EPILOGUE) and C = FN(0, v, fa, fb):
 * a convolution's bias and activation without two more passes over its output. */
#if !defined(ONE_KERNEL) || defined(ONLY_gemm_tile)
kernel VECTORIZED void gemm_tile(int M, int N, int K, float alpha, global const float *A, ulong ao, int sai, int sal, int lsplit,
                      int sln, ulong a_bs, global const float *Bp, ulong bo, ulong b_bs, int bsplit, ulong bjn,
                      int bls, float beta,
                      global float *C, ulong co, int ldc, int csplit, int cjn, ulong c_bs, global const float *bias,
                      ulong biaso, int has_bias, global float *Z, ulong zo, int store_z, float fa, float fb, int np,
                      int stream) {
    int it = (int)get_global_id(0), jt = (int)get_global_id(1);
    size_t bt = get_global_id(2);
    int i0 = it * TM, j0 = jt * np * TN;
    if (i0 >= M || j0 >= N) return;
    A += ao + bt * a_bs;
    C += co + bt * c_bs;
    /* the panels' rows l = 0: columns j0 (bp) and j0 + TN (bq, used where there are two) */
    global const float *bb = Bp + bo + bt * b_bs;
    global const float *bp = bb + (size_t)(j0 / bsplit) * bjn + j0 % bsplit;
    global const float *bq = bb + (size_t)((j0 + TN) / bsplit) * bjn + (j0 + TN) % bsplit;
    int mr = min(TM, M - i0), stream_ = stream;
    /* one pointer walks A along l; rows are fixed offsets from it (one address update per step, not eight) */
    TILE_START(sai)
    global const float *arow = A + (long)i0 * sai;
    int nseg = K / lsplit;
    if (np == 1 || j0 + TN >= N) {   /* one panel (the last one where their number is odd) */
        for (int seg = 0; seg < nseg; seg++) {
            global const float *ap = arow + (long)seg * sln;
            for (int l = 0; l < lsplit; l++, ap += sal, bp += bls) TILE_STEP(ap, bp)
        }
        TILE_TAIL(zo + bt * c_bs)
        STREAM_FENCE();
        return;
    }
    TILE_EACH(D_ACC_)
    for (int seg = 0; seg < nseg; seg++) {
        global const float *ap = arow + (long)seg * sln;
        for (int l = 0; l < lsplit; l++, ap += sal, bp += bls, bq += bls) TILE_STEP2(ap, bp, bq)
    }
    TILE_TAIL2(zo + bt * c_bs)
    STREAM_FENCE();
}
#endif

/* Convolution forward with the im2col in the work-group: each work-group packs np (1 or 2)
 * 16-pixel panels of the patch matrix (R = C*KH*KW rows) into local memory, interleaved as rows of
 * 16*np floats, then its work items (one per TM-row tile of the O outputs) multiply them as
 * gemm_tile does, with the same epilogue. With np = 2 each step loads two panel vectors for TM
 * broadcasts of A and keeps 2*TM accumulator chains (the host asks for it on PoCL where TM is 8:
 * AVX-512 has the 32 registers; Intel's CPU runtime ran it at half the speed of np = 1). The panels never go to global memory. NDRange (nt, groups, 1),
 * local (nt, 1, 1), nt = ceil(O/TM) on GPUs (a work item per row tile) and 1 on CPU devices, where a
 * work-group runs on one thread anyway: its one work item packs the panel and walks every row tile,
 * and PoCL has no loop over work items keeping their values across the barrier (with 8 work items
 * and a 27-row panel that loop, not the FMAs, took three quarters of the kernel's time); panel:
 * R*16*np floats. */
#if !defined(ONE_KERNEL) || defined(ONLY_conv_implicit_fwd)
kernel VECTORIZED void conv_implicit_fwd(int M, global const float *x, ulong xo, int NB, int Cin, int H, int W, int KH, int KW, int Ho,
                          int Wo, int sh, int sw, int ph, int pw, int dh, int dw, global const float *A, ulong ao,
                          global float *C, ulong co, global const float *bias, ulong biaso, int has_bias, global float *Zk,
                          ulong zo, int store_z, float fa, float fb, int np, int stream, local float *panel) {
    int it = (int)get_local_id(0), nt = (int)get_local_size(0), g = (int)get_group_id(1);
    int K = Cin * KH * KW, P = Ho * Wo, N = NB * P;
    for (int h = 0; h < np; h++) {   /* panel g*np + h: work item it packs channels it, it + nt, ... */
        int p = g * np + h;
        if (p * 16 >= N) {   /* past the last pixel (the group's second panel): zeros, never stored */
            for (int l = it; l < K; l += nt) vstore16((float16)0.0f, 0, panel + l * 16 * np + h * 16);
            continue;
        }
        PANEL_PIXELS(p, N, Ho, Wo, sh, sw, ph, pw, Cin, H, W)
        for (int c = it; c < Cin; c += nt) {
            global const float *xb = x + xo + ((size_t)n0 * Cin + c) * H * W;
            local float *d = panel + c * KH * KW * 16 * np + h * 16;
            PANEL_CHANNEL(d, 16 * np, xb, ((long)n0 * Cin + c) * H * W, (long)NB * Cin * H * W, KH, KW, H, W, dh, dw)
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
#if PREFETCH_OK
    /* the input rows of the next group's pixels, channels it, it + nt, ..., while this group
     * multiplies: PoCL hands each thread runs of consecutive groups, so the next one usually runs
     * here next (fmnist-ms's 28x28 32 -> 64 forward: 6.2 -> 5.4-5.7 ms per launch on PoCL) */
    {
        int ja = (g + 1) * np * 16, jb = min(N, (g + 2) * np * 16) - 1;
        if (ja < N)
            prefetch_rows(x + xo, Cin, H, W, ja / P, ja % P / Wo * sh - ph, jb / P, jb % P / Wo * sh - ph + (KH - 1) * dh,
                          it, nt);
    }
#endif
    A += ao;
    C += co;
    /* work item it takes the row tiles it, it + nt, ...: one where the group has a work item per
     * tile, all of them where it has one work item (CPU devices, engine/ops/conv.c) */
    for (int i0 = it * TM; i0 < M; i0 += nt * TM) {
        int j0 = g * np * 16;
        int mr = min(TM, M - i0), sai = K, stream_ = stream;
        global float *Z = Zk;   /* TILE_TAIL advances it */
        TILE_START(sai)
        global const float *ap = A + (long)i0 * sai;
        local const float *bp = panel;
        int ldc = P, csplit = P, cjn = M * P;
        float alpha = 1.0f, beta = 0.0f;
        if (np == 1) {
            for (int l = 0; l < K; l++, ap++, bp += TN) TILE_STEP(ap, bp)
            TILE_TAIL(zo)
            continue;
        }
        TILE_EACH(D_ACC_)
        for (int l = 0; l < K; l++, ap++, bp += 2 * TN) TILE_STEP2(ap, bp, bp + TN)
        TILE_TAIL2(zo)
    }
    STREAM_FENCE();
}
#endif

/* The lanes of panel p of an input-gradient work-group: positions q = 16p + lane of a grid of per
 * positions per image, Wg a row: image n, index r in it, row u, column v (n0: lane 0's image). */
#define IGRAD_LANES(Wg)                                                                           \
    int16 q = p * 16 + (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);            \
    int16 live = q < count;                                                                       \
    int16 n = q / per, r = q - n * per, u = r / (Wg), v = r - u * (Wg);                           \
    int n0 = p * 16 / per;

/* The panel of an input-gradient work-group: rows (ti, tj, o), ti < nth, tj < ncol, of the lanes'
 * positions (n, u, v) in a grid Hg x Wg per image: gy[n, o, u + toh[ti], v + tcol[tj]], 0 outside;
 * work item it packs o = it, it + nt, ... Where the grid is the gradient's own (stride 2 on even
 * sizes) and the 16 lanes are consecutive pixels of one image, a row is 16 consecutive floats of
 * the plane shifted by the tap, read as one vector (where the window lies inside gy) and masked. */
#define IGRAD_PANEL(Hg, Wg, nth, toh, ncol, tcol, rs, ro)                                         \
    {                                                                                             \
        int16 img = select((int16)0, (n - n0) * (O * Ho * Wo), live);                             \
        int16 u0 = select((int16)(-(1 << 28)), u, live);                                          \
        int flat = (Hg) == Ho && (Wg) == Wo && n.sf == n0 && live.sf;                             \
        long total = (long)NB * O * Ho * Wo;                                                      \
        for (int ti = 0; ti < (nth); ti++) {                                                      \
            int16 oh = u0 + toh[ti];                                                              \
            int16 rok = oh >= 0 && oh < Ho;                                                       \
            for (int tj = 0; tj < (ncol); tj++) {                                                 \
                int16 ow = v + tcol[tj];                                                          \
                int16 ok = rok & (ow >= 0 && ow < Wo);                                            \
                int16 off = select((int16)0, img + oh * Wo + ow, ok);                             \
                int shift = r.s0 + toh[ti] * Wo + tcol[tj];                                       \
                for (int o = it; o < O; o += nt) {                                                \
                    long plane = ((long)n0 * O + o) * Ho * Wo;                                    \
                    global const float *gb = gy + gyo + plane;                                    \
                    float16 val;                                                                  \
                    if (flat && plane + shift >= 0 && plane + shift + 16 <= total)                \
                        val = vload16(0, gb + shift);                                             \
                    else                                                                          \
                        val = GATHER16(gb, off);                                                  \
                    vstore16(select((float16)0.0f, val, ok), 0, panel + ((ti * (ncol) + tj) * O + o) * (rs) + (ro)); \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }

/* An input-gradient tile row goes out in runs: lanes whose pixels follow each other in memory (a
 * class's pixels at stride 1, also across rows; pairs of one image row at column stride 2) are
 * one run, moved 8 floats and then 1 at a time. Lane e has len[e] values (1, or 2 where
 * it is a pair) at t[w*e] of the row's private array; run s covers t[st[s] .. st[s] + sl[s]) at
 * offset so[s] (o[e]: lane e's offset). A run ends after a lane with fewer than w values. Returns
 * the number of runs. */
static int igrad_runs(const int *o, const int *len, int nlive, int w, int *so, int *st, int *sl) {
    int ns = 0;
    for (int e = 0; e < nlive; e++) {
        if (ns > 0 && st[ns - 1] + sl[ns - 1] == w * e && so[ns - 1] + sl[ns - 1] == o[e]) {
            sl[ns - 1] += len[e];
        } else {
            so[ns] = o[e], st[ns] = w * e, sl[ns] = len[e];
            ns++;
        }
    }
    return ns;
}

/* the runs' values from the private array t to global memory at g, 8 and then 1 at a time */
static void igrad_runs_store(global float *g, const float *t, const int *so, const int *st, const int *sl, int ns) {
    for (int s = 0; s < ns; s++) {
        global float *d = g + so[s];
        const float *q = t + st[s];
        int k = 0;
        for (; k + 8 <= sl[s]; k += 8) vstore8(vload8(0, q + k), 0, d + k);
        for (; k < sl[s]; k++) d[k] = q[k];
    }
}
#if HAS_ACT
/* the reverse: the runs' values from global memory at g into t (for z, where the derivative is fused) */
static void igrad_runs_load(float *t, global const float *g, const int *so, const int *st, const int *sl, int ns) {
    for (int s = 0; s < ns; s++) {
        global const float *q = g + so[s];
        float *d = t + st[s];
        int k = 0;
        for (; k + 8 <= sl[s]; k += 8) vstore8(vload8(0, q + k), 0, d + k);
        for (; k < sl[s]; k++) d[k] = q[k];
    }
}
/* The same into vectors: the values of a row's runs in its t layout (t[j] of run s is
 * g[so[s] - st[s] + j]) into z0 (t[0..16)) and, for nv = 32, z1 (t[16..32)), lanes outside every
 * run left as they are. A run is one vector load per half, kept on its lanes, where its window of
 * nv floats lies inside the tensor (rel: g's element index in it, of total elements), else its
 * values one at a time. On PoCL this takes 6-16% off fmnist-ms's input gradients (filling the
 * private array run by run and reading it back as vectors stalls there); Intel's CPU runtime runs
 * igrad_runs_load faster. */
#define IGRAD_RUNS_Z(z0, z1, g, rel, total, nv)                                                   \
    {                                                                                             \
        int16 j_ = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);                 \
        for (int s_ = 0; s_ < ns; s_++) {                                                         \
            int w_ = so[s_] - st[s_];                                                             \
            int16 in0_ = j_ >= st[s_] && j_ < st[s_] + sl[s_];                                    \
            int16 in1_ = j_ + 16 >= st[s_] && j_ + 16 < st[s_] + sl[s_];                          \
            global const float *q_ = (g) + w_;                                                    \
            if ((rel) + w_ >= 0 && (rel) + w_ + (nv) <= (total)) {                                \
                z0 = select(z0, vload16(0, q_), in0_);                                            \
                if ((nv) == 32) z1 = select(z1, vload16(1, q_), in1_);                            \
            } else {   /* lanes outside the run read its first value */                           \
                z0 = select(z0, GATHER16(q_, select((int16)st[s_], j_, in0_)), in0_);             \
                if ((nv) == 32) z1 = select(z1, GATHER16(q_, select((int16)st[s_], j_ + 16, in1_)), in1_); \
            }                                                                                     \
        }                                                                                         \
    }
#endif

/* A row of an input-gradient tile, its nv values (nv = 16 or 32) in the vectors a and, for nv = 32,
 * b in the runs' t layout, times f'(z) where fused (the -DFN variants: z read along the row's
 * runs, fuse 1 by IGRAD_RUNS_Z, 2 by igrad_runs_load, the host's choice per device,
 * ctx->igrad_zload; z of the row at Zf + zfo + rel, of total elements), stored along the runs
 * (ns, so, st, sl) at xrow. A function, not a macro: the kernels store rows in 8-16 places, and
 * with this code expanded in each of them conv_implicit_igrad2 with an activation took 6.4 s to
 * compile on PoCL, 2.2 s as a function. */
static void igrad_store_row(global float *xrow, float16 a, float16 b, int nv, const int *so, const int *st, const int *sl,
                            int ns, global const float *Zf, ulong zfo, long rel, long total, int fuse, float fa, float fb) {
#if HAS_ACT
    if (fuse) {
        float16 z0_ = 1.0f, z1_ = 1.0f;
        if (fuse == 1) {
            IGRAD_RUNS_Z(z0_, z1_, Zf + zfo + rel, rel, total, nv)
        } else {
            float zt_[32];
            for (int h = 0; h < nv / 16; h++) vstore16((float16)1.0f, h, zt_);
            igrad_runs_load(zt_, Zf + zfo + rel, so, st, sl, ns);
            z0_ = vload16(0, zt_);
            if (nv == 32) z1_ = vload16(1, zt_);
        }
        a *= FN_D16(FN)(z0_, fa, fb);
        if (nv == 32) b *= FN_D16(FN)(z1_, fa, fb);
    }
#else
    (void)Zf, (void)zfo, (void)rel, (void)total, (void)fuse, (void)fa, (void)fb;
#endif
    float t_[32];
    vstore16(a, 0, t_);
    if (nv == 32) vstore16(b, 1, t_);
    igrad_runs_store(xrow, t_, so, st, sl, ns);
}
/* row rr of tile i0 (v0, v1, nv as a, b, nv above); needs xb (the tile's first row), Zf, zfo, i0,
 * NB, M, H, W, fuse, fa, fb and the runs */
#define IGRAD_STORE_ROW(rr, v0, v1, nv)                                                           \
    igrad_store_row(xb + (size_t)(rr) * H * W, (v0), (v1), (nv), so, st, sl, ns, Zf, zfo, (long)(i0 + (rr)) * H * W, \
                    (long)NB * M * H * W, fuse, fa, fb);

/* The filter of an input gradient, tap-major for conv_implicit_igrad*: wt[(t*C + c)*O + o] =
 * w[(o*C + c)*KK + t], KK = KH*KW taps. A work item moves 16 filters o of one channel c, a vector
 * store per tap (a strided copy, one gather per element, took 0.6 ms for 128 x 128 3x3 filters on
 * PoCL, a quarter of that input gradient). NDRange (ceil(O/16), C). */
#if !defined(ONE_KERNEL) || defined(ONLY_filter_taps)
kernel void filter_taps(global float *wt, ulong wto, global const float *w, ulong wo, int O, int C, int KK) {
    int o0 = 16 * (int)get_global_id(0), c = (int)get_global_id(1);
    if (o0 >= O || c >= C) return;
    int n = min(16, O - o0);
    global const float *src = w + wo + ((size_t)o0 * C + c) * KK;
    for (int t = 0; t < KK; t++) {
        float v[16];
        EBM_UNROLL
        for (int e = 0; e < 16; e++) v[e] = src[(size_t)min(e, n - 1) * C * KK + t];
        global float *d = wt + wto + ((size_t)t * C + c) * O + o0;
        if (n == 16)
            vstore16(vload16(0, v), 0, d);
        else
            for (int e = 0; e < n; e++) d[e] = v[e];
    }
}
#endif

/* Where an input-gradient work item will read z for its fused f'(z) (HAS_ACT variants on CPU
 * devices, PREFETCH): IGRAD_Z_PROBES notes four offsets of a panel's row in X, those of the first
 * values of lanes 0, 5 and 10 and of the last value of lane 15 (o, oend: the lanes' first and last
 * offsets, nlive of them live; a lane is one pixel, or a pair of which the last may have no odd
 * pixel), which touch most lines of a row's values (16 or 32 floats, in one run or two, 64 to 192
 * bytes); pf_ holds a panel's four for each of at most two panels (np <= 2, the host's limit).
 * IGRAD_Z_PREFETCH prefetches them in each row of tile i0 before its multiply-adds, so that the
 * epilogue's loads find z in the cache. fmnist-ms's largest input gradient (28x28, 64 -> 32
 * channels, stride 2): 9.2-9.3 -> 7.4-7.7 ms per launch on PoCL; a probe per lane cost more than
 * it saved in the smaller layers. */
#if HAS_ACT && PREFETCH_OK
#define IGRAD_Z_DECL int pf_[8], npf = 0;
#define IGRAD_Z_PROBES(o, oend, nlive)                                                            \
    {                                                                                             \
        for (int k_ = 0; k_ < 3 && (nlive) > 0; k_++) pf_[npf++] = (o)[min(5 * k_, (nlive) - 1)]; \
        if ((nlive) > 0) pf_[npf++] = (oend)[min(15, (nlive) - 1)];                               \
    }
#define IGRAD_Z_PREFETCH                                                                          \
    if (fuse) {                                                                                   \
        for (int rr = 0; rr < mr; rr++) {                                                         \
            global const float *zb_ = Zf + zfo + (size_t)(i0 + rr) * H * W;                       \
            for (int k_ = 0; k_ < npf; k_++) PREFETCH(zb_ + pf_[k_]);                             \
        }                                                                                         \
    }
#else
#define IGRAD_Z_DECL
#define IGRAD_Z_PROBES(o, oend, nlive) {}
#define IGRAD_Z_PREFETCH
#endif

/* The output-gradient rows that the panels of positions qa .. qb of a class grid (per positions
 * per image, Wg a row; row taps toh[0 .. nth), largest first) will pack, every channel o = it,
 * it + nt, ... (prefetch_rows): the group prefetches those of its class's next panels while it
 * multiplies. */
#if PREFETCH_OK
#define IGRAD_GY_PREFETCH(qa, qb, per, Wg, nth, toh)                                              \
    if ((nth) > 0 && (qa) <= (qb)) {                                                              \
        prefetch_rows(gy + gyo, O, Ho, Wo, (qa) / (per), (qa) % (per) / (Wg) + toh[(nth) - 1], (qb) / (per), \
                      (qb) % (per) / (Wg) + toh[0], it, nt);                                      \
    } else {                                                                                      \
    }
#else
#define IGRAD_GY_PREFETCH(qa, qb, per, Wg, nth, toh)
#endif

/* Convolution input gradient without col2im: the input pixels are split by their position modulo
 * the stride (sh*sw classes; a class's pixels all take the same filter taps), and each work-group
 * gathers, for one 16-pixel panel of one class, the output gradients its taps read into local
 * memory (rows (tap, o)), then its work items (one per 8-channel tile of the C input channels)
 * multiply it by the matching filter entries, read from Wt (KH*KW, C, O), and store the gradient
 * (every pixel exactly once: no zeroing, no atomics). NDRange (nt, classes x panels of the largest, 1),
 * local (nt, 1, 1), nt = ceil(C/TM) on GPUs and 1 on CPU devices, whose one work item walks every
 * channel tile (as conv_implicit_fwd); panel: (most taps of a class) * O * 16 floats. KH, KW <= 16.
 * fuse (variants built with -DFN only; 1 or 2: how Zf is read, IGRAD_STORE_ROW): each value is
 * stored times f'(Zf[same index]), f = FN: the derivative of the activation that made this
 * convolution's input (engine/autograd.c, ebm_grad_fuse_offer). */
#if !defined(ONE_KERNEL) || defined(ONLY_conv_implicit_igrad)
kernel VECTORIZED void conv_implicit_igrad(global const float *gy, ulong gyo, int NB, int M, int H, int W, int KH, int KW, int Ho, int Wo,
                                int sh, int sw, int ph, int pw, int dh, int dw, int O, global const float *Wt, ulong wto,
                                global float *X, ulong xo, global const float *Zf, ulong zfo, int fuse, float fa, float fb,
                                int np, local float *panel) {
    (void)np;   /* 1: one panel per work-group (the argument is conv_implicit_igrad2's) */
    int it = (int)get_local_id(0), nt = (int)get_local_size(0), p = (int)get_group_id(1);
    /* the class (ca, cb) of this panel and the panel's index inside it: the classes take turns, so
     * the groups that read one region of gy run close together (a class with fewer panels than
     * the largest leaves its last turns empty) */
    int cls = p % (sh * sw), ca = cls / sw, cb = cls - ca * sw;
    int Hc = ca < H ? (H - ca + sh - 1) / sh : 0, Wc = cb < W ? (W - cb + sw - 1) / sw : 0;
    p /= sh * sw;
    if (p * 16 >= NB * Hc * Wc) return;
    /* its taps: kh with (ca + ph - kh*dh) divisible by sh; the output row is then u + offh */
    int tkh[16], toh[16], tkw[16], tow[16], nth = 0, ntw = 0;
    for (int kh = 0; kh < KH; kh++) {
        int q = ca + ph - kh * dh;
        if (q % sh == 0) tkh[nth] = kh, toh[nth++] = q / sh;
    }
    for (int kw = 0; kw < KW; kw++) {
        int q = cb + pw - kw * dw;
        if (q % sw == 0) tkw[ntw] = kw, tow[ntw++] = q / sw;
    }
    int per = Hc * Wc, count = NB * per;
    IGRAD_LANES(Wc)
    IGRAD_PANEL(Hc, Wc, nth, toh, ntw, tow, 16, 0)
    barrier(CLK_LOCAL_MEM_FENCE);
    IGRAD_GY_PREFETCH((p + 1) * 16, min(count, (p + 2) * 16) - 1, per, Wc, nth, toh)
    /* X[n, c, ca + sh*u, cb + sw*v] for the live lanes, stored in runs */
    int16 xoff = n * (M * H * W) + (ca + sh * u) * W + cb + sw * v;
    int nlive = min(16, count - p * 16);
    int o_[TN], len[TN], so[TN], st[TN], sl[TN];
    vstore16(xoff, 0, o_);
    vstore16((int16)1, 0, len);
    int ns = igrad_runs(o_, len, nlive, 1, so, st, sl);
    IGRAD_Z_DECL
    if (fuse) IGRAD_Z_PROBES(o_, o_, nlive)   /* a lane is one pixel: its first value is its last */
#define STORE_IG(rr)                                                                            \
    if (rr < mr) {                                                                              \
        IGRAD_STORE_ROW(rr, c##rr, c##rr, 16)                                                   \
    }
    /* work item it takes the channel tiles it, it + nt, ...: one where the group has a work item
     * per tile, all of them where it has one work item (CPU devices, engine/ops/conv.c) */
    for (int i0 = it * TM; i0 < M; i0 += nt * TM) {
        int mr = min(TM, M - i0);
        IGRAD_Z_PREFETCH
        TILE_START(O)
        local const float *bp = panel;
        for (int ti = 0; ti < nth; ti++)
            for (int tj = 0; tj < ntw; tj++) {
                global const float *ap = Wt + wto + ((size_t)(tkh[ti] * KW + tkw[tj]) * M + i0) * O;
                for (int o = 0; o < O; o++, ap++, bp += TN) TILE_STEP(ap, bp)
            }
        global float *xb = X + xo + (size_t)i0 * H * W;
        TILE_EACH(STORE_IG)
    }
#undef STORE_IG
}
#endif

/* conv_implicit_igrad for column stride 2, the two column classes of one row class ca in one
 * work-group: a lane is a pair of input pixels (2v, 2v + 1) of row ca + sh*u, the panel holds the
 * union of the two classes' tap columns (for 3x3, pad 1: two, where the classes alone pack one and
 * two), the work items multiply it into the even columns' tile and the odd columns' tile, and a
 * tile row is stored as (even, odd) pairs in runs (igrad_runs: up to 32 consecutive floats where
 * the 16 lanes are consecutive pairs of one image row). A work-group takes np (1 or 2) panels of
 * one row class, interleaved in local memory as rows of 16*np floats; with np = 2 each step loads
 * two panel vectors for TM broadcasts of the filter (TILE_STEP2), the even tiles of both panels
 * first, then the odd ones. NDRange (nt, sh x ceil(panels of the pair grid of class 0 / np), 1),
 * local (nt, 1, 1), nt as in conv_implicit_igrad; local memory: (most row taps) * (union columns) * O * 16 * np floats. */
#if !defined(ONE_KERNEL) || defined(ONLY_conv_implicit_igrad2)
kernel VECTORIZED void conv_implicit_igrad2(global const float *gy, ulong gyo, int NB, int M, int H, int W, int KH, int KW, int Ho,
                                 int Wo, int sh, int sw, int ph, int pw, int dh, int dw, int O, global const float *Wt,
                                 ulong wto, global float *X, ulong xo, global const float *Zf, ulong zfo, int fuse,
                                 float fa, float fb, int np, local float *panel) {
    int it = (int)get_local_id(0), nt = (int)get_local_size(0), g = (int)get_group_id(1);
    int ca = g % sh, Hc = ca < H ? (H - ca + sh - 1) / sh : 0, Wp = (W + 1) / 2;
    int pb = g / sh * np;   /* the group's first panel */
    int per = Hc * Wp, count = NB * per;
    if (pb * 16 >= count) return;
    (void)sw;   /* 2 */
    int tkh[16], toh[16], nth = 0;
    for (int kh = 0; kh < KH; kh++) {
        int q = ca + ph - kh * dh;
        if (q % sh == 0) tkh[nth] = kh, toh[nth++] = q / sh;
    }
    /* the columns: kw with (cb + pw - kw*dw) even, as indices into the union tcol of their offsets */
    int tcol[16], ncol = 0, tkw[2][16], tcj[2][16], ntw[2] = {0, 0};
    for (int cb = 0; cb < 2; cb++)
        for (int kw = 0; kw < KW; kw++) {
            int q = cb + pw - kw * dw;
            if (q % 2) continue;
            int j = 0;
            while (j < ncol && tcol[j] != q / 2) j++;
            if (j == ncol) tcol[ncol++] = q / 2;
            tkw[cb][ntw[cb]] = kw, tcj[cb][ntw[cb]++] = j;
        }
    IGRAD_Z_DECL
    for (int hp = 0; hp < np; hp++) {
        int p = pb + hp;
        if (p * 16 >= count) {   /* past the last pair (the group's second panel): zeros, never stored */
            for (int l = it; l < nth * ncol * O; l += nt) vstore16((float16)0.0f, 0, panel + l * 16 * np + hp * 16);
            continue;
        }
        IGRAD_LANES(Wp)
        IGRAD_PANEL(Hc, Wp, nth, toh, ncol, tcol, 16 * np, hp * 16)
#if HAS_ACT && PREFETCH_OK
        if (fuse) {   /* the panel's z probes: a pair's first offset, and its last (the odd pixel where 2v + 1 < W) */
            int o_[16], oe_[16];
            int16 xoff = select((int16)0, n * (M * H * W) + (ca + sh * u) * W + 2 * v, live);
            vstore16(xoff, 0, o_);
            vstore16(xoff + select((int16)0, (int16)1, live & (2 * v + 1 < W)), 0, oe_);
            IGRAD_Z_PROBES(o_, oe_, min(16, count - p * 16))
        }
#endif
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    IGRAD_GY_PREFETCH((pb + np) * 16, min(count, (pb + 2 * np) * 16) - 1, per, Wp, nth, toh)
    /* column class cb's taps of every row tap: the first panel's into c, with np = 2 the second's
     * into d (STEP: one panel's step or two's) */
#define STEP1_(ap, bp) TILE_STEP(ap, bp)
#define STEP2_(ap, bp) TILE_STEP2(ap, bp, bp + TN)
#define CLASS_TAPS(cb, STEP)                                                                    \
    for (int ti = 0; ti < nth; ti++)                                                            \
        for (int k = 0; k < ntw[cb]; k++) {                                                     \
            global const float *ap = Wt + wto + ((size_t)(tkh[ti] * KW + tkw[cb][k]) * M + i0) * O; \
            local const float *bp = panel + (ti * ncol + tcj[cb][k]) * O * np * TN;             \
            for (int o = 0; o < O; o++, ap++, bp += np * TN) STEP(ap, bp)                       \
        }
    /* the even tiles: e<r> (the first panel's) and f<r> (the second's), taken before the odd pass */
#define EVEN_ACC_(r) float16 e##r, f##r;
#define EVEN_TAKE_(r) e##r = c##r, f##r = d##r, c##r = 0, d##r = 0;
    /* row rr of a panel's tiles as (even, odd) pairs: even E<rr>, odd D<rr> */
#define STORE_IG2(rr, E, D)                                                                     \
    if (rr < mr) {                                                                              \
        IGRAD_STORE_ROW(rr, shuffle2(E##rr, D##rr, (uint16)(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)), \
                        shuffle2(E##rr, D##rr, (uint16)(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)), 32) \
    }
#define STORE_EC_(rr) STORE_IG2(rr, e, c)
#define STORE_FD_(rr) STORE_IG2(rr, f, d)
    /* work item it takes the channel tiles it, it + nt, ... (conv_implicit_igrad) */
    for (int i0 = it * TM; i0 < M; i0 += nt * TM) {
        int mr = min(TM, M - i0);
        IGRAD_Z_PREFETCH
        TILE_START(O)
        TILE_EACH(D_ACC_)
        TILE_EACH(EVEN_ACC_)
        if (np == 1) {
            CLASS_TAPS(0, STEP1_)
            TILE_EACH(EVEN_TAKE_)
            CLASS_TAPS(1, STEP1_)
        } else {
            CLASS_TAPS(0, STEP2_)
            TILE_EACH(EVEN_TAKE_)
            CLASS_TAPS(1, STEP2_)   /* c: the first panel's odd columns, d: the second's */
        }
        global float *xb = X + xo + (size_t)i0 * H * W;
        for (int hp = 0; hp < np; hp++) {
            int p = pb + hp;
            if (p * 16 >= count) break;
            IGRAD_LANES(Wp)
            /* X[n, c, ca + sh*u, 2v + cb] for the live lanes; odd pixels where 2v + 1 < W */
            int16 xoff = select((int16)0, n * (M * H * W) + (ca + sh * u) * W + 2 * v, live);
            int16 odd = live & (2 * v + 1 < W);
            int o_[TN], len[TN], so[TN], st[TN], sl[TN];
            vstore16(xoff, 0, o_);
            vstore16(select((int16)1, (int16)2, odd), 0, len);
            int nlive = min(16, count - p * 16);
            int ns = igrad_runs(o_, len, nlive, 2, so, st, sl);
            (void)q, (void)r, (void)n0;
            if (hp == 0) {
                TILE_EACH(STORE_EC_)
            } else {
                TILE_EACH(STORE_FD_)
            }
        }
    }
#undef CLASS_TAPS
#undef STEP1_
#undef STEP2_
#undef STORE_IG2
#undef STORE_EC_
#undef STORE_FD_
}
#endif

/* Input gradient of a stride-1 convolution with few input channels and 3 filter rows (a network's
 * first layer: C of 1 to 4, 3x3), read in place on a CPU device: work item (s, b, n) sums RR rows
 * of 16 columns, rows RR*b ..., columns 16s ..., of image n's gradient for all CC channels in
 * RR*CC accumulator chains (8 or 9). For each filter column kw and output channel o, each of the
 * RR + 2 rows of gy it reads is one vector load (shifted into place by a lane permutation where the
 * window crosses a row's end: needs Wo >= 16), used by up to 3 output rows times CC filter values.
 * The per-panel kernel (conv_implicit_igrad) runs only CC rows of its 8-row tile there and packs
 * 9*O floats per 16 pixels for them. Intel's CPU runtime, 128 images: 3 -> 64 channels at 32x32 in
 * 5.9 ms (the tile path 8.4), 1 -> 32 at 28x28 in 1.4 (2.3). PoCL's code for it moves values
 * through the stack and builds the permuted vector from 16 scalar loads, slower than its tile path
 * (9.9, 3.9 ms), so the measurement leaves it the tile path (constant array indices and masked
 * loads over a row's ends instead of the permutation did not change that).
 * Same arguments as conv_implicit_igrad (Wt tap-major; sh = sw = 1, dh = 1, KH = 3; np and panel
 * unused); NDRange (ceil(W/16), ceil(H/RR), NB); fuse as there. */
#define CONV_DIRECT_IGRAD(CC, RR)                                                                 \
kernel VECTORIZED void conv_direct_igrad##CC(global const float *gy, ulong gyo, int NB, int M, int H, int W, int KH, int KW,        \
                                  int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw, int O,                \
                                  global const float *Wt, ulong wto, global float *X, ulong xo, global const float *Zf, \
                                  ulong zfo, int fuse, float fa, float fb, int np, local float *panel) {                \
    int w0 = 16 * (int)get_global_id(0), h0 = RR * (int)get_global_id(1), n = (int)get_global_id(2);                   \
    (void)M, (void)sh, (void)sw, (void)KH, (void)dh, (void)np, (void)panel, (void)fa, (void)fb, (void)Zf, (void)zfo;   \
    if (w0 >= W || h0 >= H || n >= NB) return;                                                                        \
    int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);                                       \
    float16 acc[RR][CC];                                                                                              \
    EBM_UNROLL                                                                                                        \
    for (int r = 0; r < RR; r++) {                                                                                    \
        EBM_UNROLL                                                                                                    \
        for (int c = 0; c < CC; c++) acc[r][c] = (float16)0.0f;                                                       \
    }                                                                                                                 \
    global const float *gyn = gy + gyo + (size_t)n * O * Ho * Wo;                                                     \
    int oh0 = h0 + ph - 2;   /* gy row oh0 + j feeds output rows r = j + kh - 2 through filter row kh */             \
    int inside = oh0 >= 0 && oh0 + RR + 2 <= Ho;                                                                      \
    for (int kw = 0; kw < KW; kw++) {                                                                                 \
        int base = w0 + pw - kw * dw, b = clamp(base, 0, Wo - 16);                                                    \
        int16 idx = lane + (base - b);   /* lane e reads gy column base + e: v[idx], zero outside the row */          \
        int16 ok = idx >= 0 && idx < 16;                                                                              \
        uint16 perm = convert_uint16(idx) & 15u;                                                                      \
        global const float *wt = Wt + wto + (size_t)kw * CC * O;   /* tap (kh, kw): + kh * KW * CC * O */              \
        global const float *g = gyn + (long)oh0 * Wo + b;                                                             \
        for (int o = 0; o < O; o++, g += (size_t)Ho * Wo) {                                                           \
            float wc[3][CC];                                                                                          \
            EBM_UNROLL                                                                                                \
            for (int kh = 0; kh < 3; kh++) {                                                                          \
                EBM_UNROLL                                                                                            \
                for (int c = 0; c < CC; c++) wc[kh][c] = wt[((size_t)kh * KW * CC + c) * O + o];                      \
            }                                                                                                         \
            EBM_UNROLL                                                                                                \
            for (int j = 0; j < RR + 2; j++) {                                                                        \
                /* a row outside gy: row 0 read, times 0 */                                                           \
                int in = inside || (oh0 + j >= 0 && oh0 + j < Ho);                                                    \
                float16 v = vload16(0, g + (in ? j * Wo : -(long)oh0 * Wo));                                          \
                v = select((float16)0.0f, shuffle(v, perm), ok & (int16)-in);                                         \
                EBM_UNROLL                                                                                            \
                for (int kh = 0; kh < 3; kh++) {                                                                      \
                    int r = j + kh - 2;                                                                               \
                    if (r < 0 || r >= RR) continue;                                                                   \
                    EBM_UNROLL                                                                                        \
                    for (int c = 0; c < CC; c++) acc[r][c] += v * wc[kh][c];                                          \
                }                                                                                                     \
            }                                                                                                         \
        }                                                                                                             \
    }                                                                                                                 \
    int nl = min(16, W - w0);                                                                                         \
    EBM_UNROLL                                                                                                        \
    for (int r = 0; r < RR; r++) {                                                                                    \
        if (h0 + r >= H) break;                                                                                       \
        EBM_UNROLL                                                                                                    \
        for (int c = 0; c < CC; c++) {                                                                                \
            size_t off = (((size_t)n * CC + c) * H + h0 + r) * W + w0;                                                \
            float16 val = acc[r][c];                                                                                  \
            DIRECT_FUSE(val, off, nl)                                                                                 \
            if (nl == 16) {                                                                                           \
                vstore16(val, 0, X + xo + off);                                                                       \
            } else {                                                                                                  \
                float t[16];                                                                                          \
                vstore16(val, 0, t);                                                                                  \
                for (int e = 0; e < nl; e++) X[xo + off + e] = t[e];                                                  \
            }                                                                                                         \
        }                                                                                                             \
    }                                                                                                                 \
}
/* times f'(Zf[the same index]) where fused (-DFN variants) */
#if HAS_ACT
#define DIRECT_FUSE(val, off, nl)                                                                 \
    if (fuse) {                                                                                   \
        float16 z;                                                                                \
        if (nl == 16) {                                                                           \
            z = vload16(0, Zf + zfo + off);                                                       \
        } else {                                                                                  \
            float t[16];                                                                          \
            for (int e = 0; e < 16; e++) t[e] = e < nl ? Zf[zfo + off + e] : 0.0f;                \
            z = vload16(0, t);                                                                    \
        }                                                                                         \
        val *= FN_D16(FN)(z, fa, fb);                                                             \
    }
#else
#define DIRECT_FUSE(val, off, nl) (void)fuse;
#endif
#if !defined(ONE_KERNEL) || defined(ONLY_conv_direct_igrad1)
CONV_DIRECT_IGRAD(1, 8)
#endif
#if !defined(ONE_KERNEL) || defined(ONLY_conv_direct_igrad2)
CONV_DIRECT_IGRAD(2, 4)
#endif
#if !defined(ONE_KERNEL) || defined(ONLY_conv_direct_igrad3)
CONV_DIRECT_IGRAD(3, 3)
#endif
#if !defined(ONE_KERNEL) || defined(ONLY_conv_direct_igrad4)
CONV_DIRECT_IGRAD(4, 2)
#endif
#undef CONV_DIRECT_IGRAD
#undef DIRECT_FUSE

/* Convolution weight gradient without a patch matrix in global memory: dW (O, R) = gy (O, N*P) x
 * patches^T (N*P, R), R = C*KH*KW, P = Ho*Wo. A work-group owns np (1 or 2) 16-column panels of R
 * (patch entries r = (c, kh, kw)) and one chunk of whole images (`per` of them). It walks the
 * chunk's pixels S at a time: packs the patch panel of those S pixels into local memory (rows of
 * 16*np floats, pixel q's row the 16*np entries x[n, c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw],
 * 0 in the padding and past R), then its work items (one per TM-row tile of O on GPUs, one for
 * all of them on CPU devices, as conv_implicit_fwd) multiply the gradient, read in place as
 * scalar broadcasts along each image's pixels, into it as gemm_tile does, and add the tile into
 * C (beta 1 after the first S pixels). The tile path writes the whole patch matrix to global
 * memory and reads it back; here a panel of S pixels stays in cache.
 * NDRange (nt, ceil(panels/np), chunks), local (nt, 1, 1); C + b*O*R receives chunk b's sum, laid
 * out as dW (O, C, KH, KW). The host launches the variant built without -DFN. */
#if !defined(ONE_KERNEL) || defined(ONLY_conv_implicit_wgrad)
kernel VECTORIZED void conv_implicit_wgrad(int M, global const float *gy, ulong gyo, int NB, int Cin, int H, int W, int KH, int KW,
                                int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw, global const float *x,
                                ulong xo, int N, int per, int S, global float *Cp, int np, local float *panel) {
    int it = (int)get_local_id(0), nt = (int)get_local_size(0), jt = (int)get_group_id(1), bt = (int)get_group_id(2);
    int j0g = jt * np * TN, n0 = bt * per, P = Ho * Wo, KK = KH * KW, PW = TN * np;
    if (j0g >= N || n0 >= NB) return;   /* uniform per work-group */
    int total = min(per, NB - n0) * P;   /* the chunk's pixels */
    global float *Cb = Cp + (size_t)bt * M * N;
    for (int q0 = 0; q0 < total; q0 += S) {
        int q1 = min(total, q0 + S);
        /* the panel: work item it packs columns e = it, it + nt, ... of the 16*np, output row by
         * output row (a row's pixels in [wlo, whi) read x, the others are padding; no division
         * per row, where those of short rows took more time than the FMAs) */
        for (int e = it; e < PW; e += nt) {
            int r = j0g + e, live = r < N;
            int c = r / KK, kh = r % KK / KW, kw = r % KW, offw = kw * dw - pw;
            int wlo = offw < 0 ? min(Wo, (-offw + sw - 1) / sw) : 0;
            int whi = offw < W ? max(wlo, min(Wo, (W - offw + sw - 1) / sw)) : wlo;
            local float *d = panel + e;
            int n = q0 / P, p = q0 - n * P, oh = p / Wo, ow = p - oh * Wo;
            for (int q = q0; q < q1;) {
                int cnt = min(Wo - ow, q1 - q), ih = oh * sh - ph + kh * dh, k = 0;
                if (live && ih >= 0 && ih < H) {
                    global const float *xr = x + xo + (((size_t)(n0 + n) * Cin + c) * H + ih) * W;
                    int klo = clamp(wlo - ow, 0, cnt), khi = clamp(whi - ow, klo, cnt);
                    for (; k < klo; k++, d += PW) *d = 0.0f;
                    for (; k < khi; k++, d += PW) *d = xr[(ow + k) * sw + offw];
                }
                for (; k < cnt; k++, d += PW) *d = 0.0f;
                q += cnt, ow += cnt;
                if (ow == Wo) {
                    ow = 0;
                    if (++oh == Ho) oh = 0, n++;
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int i0 = it * TM; i0 < M; i0 += nt * TM) {
            int j0 = j0g, mr = min(TM, M - i0);
            TILE_START(P)
            int two = np == 2 && j0 + TN < N;   /* two panels (not where the second has no columns) */
            TILE_EACH(D_ACC_)
            local const float *bp = panel;
            for (int q = q0; q < q1;) {
                int n = q / P, p = q - n * P, cnt = min(P - p, q1 - q);
                global const float *ap = gy + gyo + ((size_t)(n0 + n) * M + i0) * P + p;
                if (two)
                    for (int k = 0; k < cnt; k++, ap++, bp += PW) TILE_STEP2(ap, bp, bp + TN)
                else
                    for (int k = 0; k < cnt; k++, ap++, bp += PW) TILE_STEP(ap, bp)
                q += cnt;
            }
            global float *C = Cb;
            int ldc = N, csplit = N, cjn = 0, has_bias = 0, store_z = 0;
            int stream_ = 0;   /* a chunk's partial sums: read back by its next pixels and summed */
            float alpha = 1.0f, beta = q0 ? 1.0f : 0.0f, fa = 0.0f, fb = 0.0f;
            global const float *bias = gy;
            global float *Z = Cb;
            ulong biaso = 0;
            if (!two) {
                TILE_TAIL(0)
                continue;
            }
            TILE_TAIL2(0)
        }
        barrier(CLK_LOCAL_MEM_FENCE);   /* the panel is rewritten for the next pixels */
    }
}
#endif
