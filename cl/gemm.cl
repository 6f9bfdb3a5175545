/* gemm.cl — a register-tiled GEMM written for CPU devices (PoCL), where CLBlast's untuned
 * kernels reach ~10% of peak.
 *
 * B is first packed into panels of TN columns, [N/TN][K][TN] (zero-padded), so a work item streams
 * its panel sequentially: row-major B with a power-of-two leading dimension (common here: B*H*W
 * columns) would otherwise map every row of a panel to the same cache set. Each work item then
 * computes a TM x TN tile of C, one float16 accumulator per row: eight independent FMA chains, as
 * many as two FMA units with a latency of four cycles keep busy (AVX-512: one register per row;
 * AVX2 devices split each into two). Channel counts are mostly multiples of 8, so tiles are full.
 * A is read through two strides (A^T costs nothing); rows past M are clamped (computed, not stored).
 *
 *   C[i, j] = alpha * sum_l A(i, l) B(l, j) + beta * C[i, j],  A(i, l) = A[i*sai + l*sal]
 * beta == 0 never reads C (it may hold NaN garbage from the pool). */
#define TM 8
#define TN 16

/* dst[b][j / TN][l][j % TN] = B(l, j), zero for j >= N, where
 *   B(l, j) = B[bo + b*bbs + l*sbl + (j / jsplit)*sjn + (j % jsplit)*sbj]
 * (jsplit >= N: plain strides; jsplit = H*W reads a (batch, channel, H*W) tensor as channels x pixels).
 * NDRange: (K, panels, batch); one work item writes one contiguous row of a panel. */
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

/* The same packing for a transposed B (B(l, j) = B[bo + b*bbs + j*sbj + l], contiguous along l):
 * one work item moves a TN x TN block, reading 16 contiguous floats from each of 16 rows (whole
 * cache lines, not 16 scattered words per panel row). NDRange: (ceil(K/TN), panels, batch). */
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

#ifdef FN
#define ACT8(v) FN_F8(FN)(v, fa, fb)
#define HAS_ACT 1
#else
#define ACT8(v) (v)
#define HAS_ACT 0
#endif

/* Stores row r of the tile (x0, x1: its 16 values) at P (C or Z, laid out as C[i, j] below) as
 * al * x + be * P (be == 0 never reads P). */
#define STORE_ROW(P, r, x0, x1, al, be)                                                         \
    if (r < mr) {                                                                               \
        global float *cp = P + (long)(i0 + r) * ldc + (long)jn * cjn + jp;                      \
        if (contiguous && be == 0.0f) {                                                         \
            vstore8(al * x0, 0, cp);                                                            \
            vstore8(al * x1, 1, cp);                                                            \
        } else if (contiguous) {                                                                \
            vstore8(al * x0 + be * vload8(0, cp), 0, cp);                                       \
            vstore8(al * x1 + be * vload8(1, cp), 1, cp);                                       \
        } else {                                                                                \
            float t[TN];                                                                        \
            vstore8(x0, 0, t);                                                                  \
            vstore8(x1, 1, t);                                                                  \
            int n_ = jn, p_ = jp;                                                               \
            for (int c = 0; c < min(TN, N - j0); c++, p_++) {                                   \
                if (p_ == csplit) p_ = 0, n_++;                                                 \
                global float *q = P + (long)(i0 + r) * ldc + (long)n_ * cjn + p_;               \
                *q = be == 0.0f ? al * t[c] : al * t[c] + be * *q;                              \
            }                                                                                   \
        }                                                                                       \
    }

/* The epilogue of row r of the tile: alpha and bias folded in (the stores below then use alpha 1),
 * Z written where asked, the activation applied. */
#define EPILOGUE(r, x0, x1)                                                                     \
    if (r < mr) {                                                                               \
        float bv = has_bias ? bias[biaso + i0 + r] : 0.0f;                                      \
        x0 = alpha * x0 + bv;                                                                   \
        x1 = alpha * x1 + bv;                                                                   \
        if (store_z) STORE_ROW(Z, r, x0, x1, 1.0f, 0.0f)                                        \
        x0 = ACT8(x0);                                                                          \
        x1 = ACT8(x1);                                                                          \
    }

/* The tile's eight rows (row, the two halves of its accumulator), and the end of a tile kernel:
 * the epilogue of every row where there is one (Z advanced by zoff), then the stores of C. Needs i0, j0, mr, N, M,
 * ldc, csplit, cjn, alpha, beta and the kernel's epilogue arguments. */
#define TILE_ROWS(X)                                                                            \
    X(0, c00, c01) X(1, c10, c11) X(2, c20, c21) X(3, c30, c31) X(4, c40, c41) X(5, c50, c51)  \
    X(6, c60, c61) X(7, c70, c71)
/* the rows' halves as the variables TILE_ROWS names, through a private array: Oclgrind 21.10's
 * --uninitialized check at -O0 takes the lanes of a swizzle such as c0.hi for undefined (optimised,
 * the array is registers) */
#define TILE_HALF(r)                                                                            \
    float8 c##r##0, c##r##1;                                                                    \
    {                                                                                           \
        float t_[TN];                                                                           \
        vstore16(c##r, 0, t_);                                                                  \
        c##r##0 = vload8(0, t_), c##r##1 = vload8(1, t_);                                       \
    }
#define TILE_HALVES                                                                             \
    TILE_HALF(0) TILE_HALF(1) TILE_HALF(2) TILE_HALF(3) TILE_HALF(4) TILE_HALF(5) TILE_HALF(6) TILE_HALF(7)
#define STORE_C(r, x0, x1) STORE_ROW(C, r, x0, x1, alpha, beta)
#define TILE_TAIL(zoff)                                                                         \
    TILE_HALVES                                                                                 \
    int jn = j0 / csplit, jp = j0 - jn * csplit;                                                \
    int contiguous = j0 + TN <= N && jp + TN <= csplit;                                         \
    (void)fa, (void)fb; /* used by ACT8 in the -DFN variants only */                            \
    if (has_bias || store_z || HAS_ACT) {                                                       \
        Z += zoff;                                                                              \
        TILE_ROWS(EPILOGUE)                                                                     \
        alpha = 1.0f;                                                                           \
    }                                                                                           \
    TILE_ROWS(STORE_C)

/* The tile's accumulators, and the offsets o1..o7 of rows 1..7 from row 0 in A (row stride s;
 * rows past mr repeat the last row: computed, never stored). */
#define TILE_START(s)                                                                           \
    float16 c0 = 0, c1 = 0, c2 = 0, c3 = 0, c4 = 0, c5 = 0, c6 = 0, c7 = 0;                     \
    int o1 = min(1, mr - 1) * (s), o2 = min(2, mr - 1) * (s), o3 = min(3, mr - 1) * (s),        \
        o4 = min(4, mr - 1) * (s), o5 = min(5, mr - 1) * (s), o6 = min(6, mr - 1) * (s),        \
        o7 = min(7, mr - 1) * (s);

/* One step of the 8 x 16 tile: C rows += A(i0 + r, l) * B panel row l (ap: A(i0, l); o1..o7: the
 * other rows' offsets from it; bp: the panel row, global or local). */
#define TILE_STEP(ap, bp) TILE_STEP_ACC(ap, bp, c)
/* the same into the accumulators acc0..acc7 */
#define TILE_STEP_ACC(ap, bp, acc)                                                              \
    {                                                                                           \
        float16 b = vload16(0, bp);                                                             \
        acc##0 = fma((float16)(ap[0]), b, acc##0);                                              \
        acc##1 = fma((float16)(ap[o1]), b, acc##1);                                             \
        acc##2 = fma((float16)(ap[o2]), b, acc##2);                                             \
        acc##3 = fma((float16)(ap[o3]), b, acc##3);                                             \
        acc##4 = fma((float16)(ap[o4]), b, acc##4);                                             \
        acc##5 = fma((float16)(ap[o5]), b, acc##5);                                             \
        acc##6 = fma((float16)(ap[o6]), b, acc##6);                                             \
        acc##7 = fma((float16)(ap[o7]), b, acc##7);                                             \
    }

/* NDRange: (ceil(M/TM), panels, batch); dim 0 walks row tiles so consecutive work items share a
 * B panel while it is in cache.
 * A(i, l) = A[i*sai + (l / lsplit)*sln + (l % lsplit)*sal]   (lsplit = K: plain strides)
 * C[i, j] at C[i*ldc + (j / csplit)*cjn + j % csplit]        (csplit = N: plain row-major)
 * The splits let convolutions read and write (batch, channel, H*W) tensors in place.
 * Panels are kpanel rows long (kpanel = K unless K is split into chunks along the batch axis);
 * batch bt reads its B from Bp + bo + bt*b_bs.
 * Epilogue (beta == 0 only): v = alpha * sum + bias[i] (has_bias), then, in the variants built with
 * -DFN=fn_<name> (cl/fns.cl), Z = v (store_z: at Z + zo, laid out as C) and C = FN(0, v, fa, fb):
 * a convolution's bias and activation without two more passes over its output. */
kernel void gemm_tile(int M, int N, int K, float alpha, global const float *A, ulong ao, int sai, int sal, int lsplit,
                      int sln, ulong a_bs, global const float *Bp, ulong bo, ulong b_bs, int kpanel, float beta,
                      global float *C, ulong co, int ldc, int csplit, int cjn, ulong c_bs, global const float *bias,
                      ulong biaso, int has_bias, global float *Z, ulong zo, int store_z, float fa, float fb) {
    int it = (int)get_global_id(0), jt = (int)get_global_id(1);
    size_t bt = get_global_id(2);
    int i0 = it * TM, j0 = jt * TN;
    if (i0 >= M || j0 >= N) return;
    A += ao + bt * a_bs;
    C += co + bt * c_bs;
    global const float *bp = Bp + bo + bt * b_bs + (size_t)jt * kpanel * TN;
    int mr = min(TM, M - i0);
    /* one pointer walks A along l; rows are fixed offsets from it (one address update per step, not eight) */
    TILE_START(sai)
    global const float *arow = A + (long)i0 * sai;
    int nseg = K / lsplit;
    for (int seg = 0; seg < nseg; seg++) {
        global const float *ap = arow + (long)seg * sln;
        for (int l = 0; l < lsplit; l++, ap += sal, bp += TN) TILE_STEP(ap, bp)
    }
    TILE_TAIL(zo + bt * c_bs)
}

/* Convolution forward with the im2col in the work-group: each work-group packs one 16-pixel panel
 * of the patch matrix (R = C*KH*KW rows) into local memory, then its work items (one per 8-row tile
 * of the O outputs) multiply it as gemm_tile does, with the same epilogue. The panel never goes to
 * global memory. NDRange (ceil(O/TM), panels, 1), local (ceil(O/TM), 1, 1); panel: R*16 floats. */
kernel void conv_implicit_fwd(int M, global const float *x, ulong xo, int NB, int Cin, int H, int W, int KH, int KW, int Ho,
                          int Wo, int sh, int sw, int ph, int pw, int dh, int dw, global const float *A, ulong ao,
                          global float *C, ulong co, global const float *bias, ulong biaso, int has_bias, global float *Z,
                          ulong zo, int store_z, float fa, float fb, local float *panel) {
    int it = (int)get_local_id(0), nt = (int)get_local_size(0), p = (int)get_group_id(1);
    int K = Cin * KH * KW, P = Ho * Wo, N = NB * P;
    {   /* the panel: work item it packs channels it, it + nt, ... */
        PANEL_PIXELS(p, N, Ho, Wo, sh, sw, ph, pw, Cin, H, W)
        for (int c = it; c < Cin; c += nt) {
            global const float *xb = x + xo + ((size_t)n0 * Cin + c) * H * W;
            local float *d = panel + c * KH * KW * 16;
            PANEL_CHANNEL(d, xb, ((long)n0 * Cin + c) * H * W, (long)NB * Cin * H * W, KH, KW, H, W, dh, dw)
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    int i0 = it * TM, j0 = p * 16;
    if (i0 >= M) return;
    A += ao;
    C += co;
    int mr = min(TM, M - i0), sai = K;
    TILE_START(sai)
    global const float *ap = A + (long)i0 * sai;
    local const float *bp = panel;
    for (int l = 0; l < K; l++, ap++, bp += TN) TILE_STEP(ap, bp)
    int ldc = P, csplit = P, cjn = M * P;
    float alpha = 1.0f, beta = 0.0f;
    TILE_TAIL(zo)
}

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
#define IGRAD_PANEL(Hg, Wg, nth, toh, ncol, tcol)                                                 \
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
                    vstore16(select((float16)0.0f, val, ok), 0, panel + ((ti * (ncol) + tj) * O + o) * 16); \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }

/* An input-gradient row's 16 values t (a private array) times f'(z) at their pixels o (int[16],
 * offsets from zr, the row's z), where fused (-DFN variants; nothing otherwise) */
#if HAS_ACT
#define IGRAD_DERIV(t, o)                                                                         \
    if (fuse) {                                                                                   \
        vstore8(vload8(0, t) * FN_D8(FN)((float8)(zr[o[0]], zr[o[1]], zr[o[2]], zr[o[3]], zr[o[4]], zr[o[5]], \
                                                  zr[o[6]], zr[o[7]]), fa, fb), 0, t);            \
        vstore8(vload8(1, t) * FN_D8(FN)((float8)(zr[o[8]], zr[o[9]], zr[o[10]], zr[o[11]], zr[o[12]], \
                                                  zr[o[13]], zr[o[14]], zr[o[15]]), fa, fb), 1, t); \
    }
#else
#define IGRAD_DERIV(t, o)
#endif

/* Convolution input gradient without col2im: the input pixels are split by their position modulo
 * the stride (sh*sw classes; a class's pixels all take the same filter taps), and each work-group
 * gathers, for one 16-pixel panel of one class, the output gradients its taps read into local
 * memory (rows (tap, o)), then its work items (one per 8-channel tile of the C input channels)
 * multiply it by the matching filter entries, read from Wt (KH*KW, C, O), and store the gradient
 * (every pixel exactly once: no zeroing, no atomics). NDRange (ceil(C/TM), classes x panels of the largest, 1),
 * local (ceil(C/TM), 1, 1); panel: (most taps of a class) * O * 16 floats. KH, KW <= 16.
 * fuse (variants built with -DFN only): each value is stored times f'(Zf[same index]), f = FN: the
 * derivative of the activation that made this convolution's input (engine/autograd.c,
 * ebm_grad_fuse_offer). */
kernel void conv_implicit_igrad(global const float *gy, ulong gyo, int NB, int M, int H, int W, int KH, int KW, int Ho, int Wo,
                                int sh, int sw, int ph, int pw, int dh, int dw, int O, global const float *Wt, ulong wto,
                                global float *X, ulong xo, global const float *Zf, ulong zfo, int fuse, float fa, float fb,
                                local float *panel) {
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
    IGRAD_PANEL(Hc, Wc, nth, toh, ntw, tow)
    barrier(CLK_LOCAL_MEM_FENCE);
    int i0 = it * TM;
    if (i0 >= M) return;
    int mr = min(TM, M - i0);
    TILE_START(O)
    local const float *bp = panel;
    for (int ti = 0; ti < nth; ti++)
        for (int tj = 0; tj < ntw; tj++) {
            global const float *ap = Wt + wto + ((size_t)(tkh[ti] * KW + tkw[tj]) * M + i0) * O;
            for (int o = 0; o < O; o++, ap++, bp += TN) TILE_STEP(ap, bp)
        }
    /* X[n, c, ca + sh*u, cb + sw*v] for the live lanes */
    TILE_HALVES
    int16 xoff = n * (M * H * W) + (ca + sh * u) * W + cb + sw * v;
    global float *xb = X + xo + (size_t)i0 * H * W;
    global const float *zb = Zf + zfo + (size_t)i0 * H * W;
    int nlive = min(16, count - p * 16);
    int o_[TN];
    vstore16(select((int16)0, xoff, live), 0, o_);   /* dead lanes read (not write) pixel 0 */
#if !HAS_ACT
    (void)fuse, (void)fa, (void)fb, (void)zb;
#endif
#define STORE_IG(rr, x0, x1)                                                                    \
    if (rr < mr) {                                                                              \
        float t[TN];                                                                            \
        vstore8(x0, 0, t);                                                                      \
        vstore8(x1, 1, t);                                                                      \
        global float *xr = xb + (size_t)rr * H * W;                                             \
        global const float *zr = zb + (size_t)rr * H * W;                                       \
        (void)zr;                                                                               \
        IGRAD_DERIV(t, o_)                                                                      \
        for (int e = 0; e < nlive; e++) xr[o_[e]] = t[e];                                       \
    }
    TILE_ROWS(STORE_IG)
#undef STORE_IG
}

/* conv_implicit_igrad for column stride 2, the two column classes of one row class ca in one
 * work-group: a lane is a pair of input pixels (2v, 2v + 1) of row ca + sh*u, the panel holds the
 * union of the two classes' tap columns (for 3x3, pad 1: two, where the classes alone pack one and
 * two), the work items multiply it into two tiles (c: even columns, d: odd), and a row whose 16
 * lanes are consecutive pairs of one image row is stored as 32 consecutive floats (z read the same
 * way where fused), the others pixel by pixel. NDRange (ceil(C/TM), sh x panels of the pair grid
 * of class 0, 1), local (ceil(C/TM), 1, 1); panel: (most row taps) * (union columns) * O * 16 floats. */
kernel void conv_implicit_igrad2(global const float *gy, ulong gyo, int NB, int M, int H, int W, int KH, int KW, int Ho,
                                 int Wo, int sh, int sw, int ph, int pw, int dh, int dw, int O, global const float *Wt,
                                 ulong wto, global float *X, ulong xo, global const float *Zf, ulong zfo, int fuse,
                                 float fa, float fb, local float *panel) {
    int it = (int)get_local_id(0), nt = (int)get_local_size(0), p = (int)get_group_id(1);
    int ca = p % sh, Hc = ca < H ? (H - ca + sh - 1) / sh : 0, Wp = (W + 1) / 2;
    p /= sh;
    int per = Hc * Wp, count = NB * per;
    if (p * 16 >= count) return;
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
    IGRAD_LANES(Wp)
    IGRAD_PANEL(Hc, Wp, nth, toh, ncol, tcol)
    barrier(CLK_LOCAL_MEM_FENCE);
    int i0 = it * TM;
    if (i0 >= M) return;
    int mr = min(TM, M - i0);
    TILE_START(O)
    float16 d0 = 0, d1 = 0, d2 = 0, d3 = 0, d4 = 0, d5 = 0, d6 = 0, d7 = 0;
    /* column class cb's taps of row tap ti into the accumulators acc */
#define CLASS_TAPS(cb, acc)                                                                     \
    for (int k = 0; k < ntw[cb]; k++) {                                                         \
        global const float *ap = Wt + wto + ((size_t)(tkh[ti] * KW + tkw[cb][k]) * M + i0) * O; \
        local const float *bp = panel + (ti * ncol + tcj[cb][k]) * O * TN;                      \
        for (int o = 0; o < O; o++, ap++, bp += TN) TILE_STEP_ACC(ap, bp, acc)                  \
    }
    for (int ti = 0; ti < nth; ti++) {
        CLASS_TAPS(0, c)
        CLASS_TAPS(1, d)
    }
#undef CLASS_TAPS
    /* X[n, c, ca + sh*u, 2v + cb] for the live lanes; odd pixels where 2v + 1 < W */
    int16 xoff = select((int16)0, n * (M * H * W) + (ca + sh * u) * W + 2 * v, live);
    int16 odd = live & (2 * v + 1 < W);
    int o_[TN], o1_[TN];   /* the odd pixel's offset, or the even one's where there is none */
    vstore16(xoff, 0, o_);
    vstore16(select(xoff, xoff + 1, odd), 0, o1_);
    int nlive = min(16, count - p * 16);
    int run = nlive == 16 && v.sf == v.s0 + 15 && odd.sf;   /* 32 consecutive pixels of one row */
    global float *xb = X + xo + (size_t)i0 * H * W;
    global const float *zb = Zf + zfo + (size_t)i0 * H * W;
#if HAS_ACT
#define DERIV_RUN(x8, h) if (fuse) x8 *= FN_D8(FN)(vload8(h, zr + o_[0]), fa, fb);
#else
#define DERIV_RUN(x8, h)
    (void)fuse, (void)fa, (void)fb, (void)zb;
#endif
#define STORE_IG2(rr)                                                                           \
    if (rr < mr) {                                                                              \
        float tc[TN], td[TN];                                                                   \
        vstore16(c##rr, 0, tc);                                                                 \
        vstore16(d##rr, 0, td);                                                                 \
        global float *xr = xb + (size_t)rr * H * W;                                             \
        global const float *zr = zb + (size_t)rr * H * W;                                       \
        (void)zr;                                                                               \
        if (run) {                                                                              \
            for (int h = 0; h < 4; h++) {                                                       \
                float8 x8 = (float8)(tc[4 * h], td[4 * h], tc[4 * h + 1], td[4 * h + 1], tc[4 * h + 2], \
                                     td[4 * h + 2], tc[4 * h + 3], td[4 * h + 3]);              \
                DERIV_RUN(x8, h)                                                                \
                vstore8(x8, h, xr + o_[0]);                                                     \
            }                                                                                   \
        } else {                                                                                \
            IGRAD_DERIV(tc, o_)                                                                 \
            IGRAD_DERIV(td, o1_)                                                                \
            for (int e = 0; e < nlive; e++) {                                                   \
                xr[o_[e]] = tc[e];                                                              \
                if (o1_[e] != o_[e]) xr[o1_[e]] = td[e];                                        \
            }                                                                                   \
        }                                                                                       \
    }
    STORE_IG2(0) STORE_IG2(1) STORE_IG2(2) STORE_IG2(3) STORE_IG2(4) STORE_IG2(5) STORE_IG2(6) STORE_IG2(7)
#undef STORE_IG2
#undef DERIV_RUN
}
