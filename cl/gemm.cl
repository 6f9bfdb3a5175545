/* gemm.cl — a register-tiled GEMM written for CPU devices (PoCL), where CLBlast's untuned
 * kernels reach ~10% of peak.
 *
 * B is first packed into panels of TN columns, [N/TN][K][TN] (zero-padded), so a work item streams
 * its panel sequentially: row-major B with a power-of-two leading dimension (common here: B*H*W
 * columns) would otherwise map every row of a panel to the same cache set. Each work item then
 * computes a TM x TN tile of C with float8 FMAs, the shape of an AVX2 microkernel (12 accumulators).
 * A is read through two strides (A^T costs nothing); rows past M are clamped (computed, not stored).
 *
 *   C[i, j] = alpha * sum_l A(i, l) B(l, j) + beta * C[i, j],  A(i, l) = A[i*sai + l*sal]
 * beta == 0 never reads C (it may hold NaN garbage from the pool). */
#define TM 6
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
static float8 act8(float8 v, float a, float b) {
    return (float8)(FN(0, v.s0, a, b), FN(0, v.s1, a, b), FN(0, v.s2, a, b), FN(0, v.s3, a, b), FN(0, v.s4, a, b),
                    FN(0, v.s5, a, b), FN(0, v.s6, a, b), FN(0, v.s7, a, b));
}
#define ACT8(v) act8(v, fa, fb)
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
    /* one pointer walks A along l; rows are fixed offsets from it (one address update per step, not six) */
    int o1 = min(1, mr - 1) * sai, o2 = min(2, mr - 1) * sai, o3 = min(3, mr - 1) * sai, o4 = min(4, mr - 1) * sai,
        o5 = min(5, mr - 1) * sai;
    global const float *arow = A + (long)i0 * sai;
    float8 c00 = 0, c01 = 0, c10 = 0, c11 = 0, c20 = 0, c21 = 0, c30 = 0, c31 = 0, c40 = 0, c41 = 0, c50 = 0, c51 = 0;
    int nseg = K / lsplit;
    for (int seg = 0; seg < nseg; seg++) {
        global const float *ap = arow + (long)seg * sln;
        for (int l = 0; l < lsplit; l++, ap += sal, bp += TN) {
            float8 b0 = vload8(0, bp), b1 = vload8(1, bp);
            float8 a;
            a = (float8)(ap[0]);
            c00 = fma(a, b0, c00);
            c01 = fma(a, b1, c01);
            a = (float8)(ap[o1]);
            c10 = fma(a, b0, c10);
            c11 = fma(a, b1, c11);
            a = (float8)(ap[o2]);
            c20 = fma(a, b0, c20);
            c21 = fma(a, b1, c21);
            a = (float8)(ap[o3]);
            c30 = fma(a, b0, c30);
            c31 = fma(a, b1, c31);
            a = (float8)(ap[o4]);
            c40 = fma(a, b0, c40);
            c41 = fma(a, b1, c41);
            a = (float8)(ap[o5]);
            c50 = fma(a, b0, c50);
            c51 = fma(a, b1, c51);
        }
    }
    int jn = j0 / csplit, jp = j0 - jn * csplit;
    int contiguous = j0 + TN <= N && jp + TN <= csplit;
#if !HAS_ACT
    (void)fa, (void)fb;
#endif
    /* the tile's six rows: (row, its two accumulators) */
#define TILE_ROWS(X) X(0, c00, c01) X(1, c10, c11) X(2, c20, c21) X(3, c30, c31) X(4, c40, c41) X(5, c50, c51)
    if (has_bias || store_z || HAS_ACT) {
        Z += zo + bt * c_bs;
        TILE_ROWS(EPILOGUE)
        alpha = 1.0f;
    }
#define STORE(r, x0, x1) STORE_ROW(C, r, x0, x1, alpha, beta)
    TILE_ROWS(STORE)
#undef STORE
#undef TILE_ROWS
}
