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

/* dst[b][j / TN][l][j % TN] = B(l, j) = B[bo + b*bbs + l*sbl + j*sbj], zero for j >= N.
 * NDRange: (K, panels, batch); one work item writes one contiguous row of a panel. */
kernel void pack_b(global float *dst, ulong dsto, global const float *B, ulong bo, int sbl, int sbj, ulong bbs, int K,
                   int N) {
    int l = get_global_id(0), p = get_global_id(1);
    size_t b = get_global_id(2);
    int panels = (N + TN - 1) / TN;
    if (l >= K || p >= panels) return;
    global const float *src = B + bo + b * bbs + (long)l * sbl + (long)p * TN * sbj;
    global float *d = dst + dsto + b * (size_t)panels * K * TN + ((size_t)p * K + l) * TN;
    int n = min(TN, N - p * TN);
    if (n == TN && sbj == 1) {
        vstore8(vload8(0, src), 0, d);
        vstore8(vload8(1, src), 1, d);
    } else {
        for (int c = 0; c < TN; c++) d[c] = c < n ? src[(long)c * sbj] : 0.0f;
    }
}

/* NDRange: (ceil(M/TM), panels, batch); dim 0 walks row tiles so consecutive work items share a
 * B panel while it is in cache. */
kernel void gemm_tile(int M, int N, int K, float alpha, global const float *A, ulong ao, int sai, int sal, ulong a_bs,
                      global const float *Bp, ulong bo, float beta, global float *C, ulong co, int ldc, ulong c_bs) {
    int it = get_global_id(0), jt = get_global_id(1);
    size_t bt = get_global_id(2);
    int i0 = it * TM, j0 = jt * TN;
    if (i0 >= M || j0 >= N) return;
    int panels = (N + TN - 1) / TN;
    A += ao + bt * a_bs;
    C += co + bt * c_bs;
    global const float *bp = Bp + bo + bt * (size_t)panels * K * TN + (size_t)jt * K * TN;
    int mr = min(TM, M - i0);
    global const float *a0p = A + (long)i0 * sai, *a1p = A + (long)(i0 + min(1, mr - 1)) * sai,
                       *a2p = A + (long)(i0 + min(2, mr - 1)) * sai, *a3p = A + (long)(i0 + min(3, mr - 1)) * sai,
                       *a4p = A + (long)(i0 + min(4, mr - 1)) * sai, *a5p = A + (long)(i0 + min(5, mr - 1)) * sai;
    float8 c00 = 0, c01 = 0, c10 = 0, c11 = 0, c20 = 0, c21 = 0, c30 = 0, c31 = 0, c40 = 0, c41 = 0, c50 = 0, c51 = 0;
    long ao_l = 0;
    for (int l = 0; l < K; l++, ao_l += sal, bp += TN) {
        float8 b0 = vload8(0, bp), b1 = vload8(1, bp);
        float8 a;
        a = (float8)(a0p[ao_l]);
        c00 = fma(a, b0, c00);
        c01 = fma(a, b1, c01);
        a = (float8)(a1p[ao_l]);
        c10 = fma(a, b0, c10);
        c11 = fma(a, b1, c11);
        a = (float8)(a2p[ao_l]);
        c20 = fma(a, b0, c20);
        c21 = fma(a, b1, c21);
        a = (float8)(a3p[ao_l]);
        c30 = fma(a, b0, c30);
        c31 = fma(a, b1, c31);
        a = (float8)(a4p[ao_l]);
        c40 = fma(a, b0, c40);
        c41 = fma(a, b1, c41);
        a = (float8)(a5p[ao_l]);
        c50 = fma(a, b0, c50);
        c51 = fma(a, b1, c51);
    }
    int full = j0 + TN <= N;
#define STORE(r, x0, x1)                                                                        \
    if (r < mr) {                                                                               \
        global float *cp = C + (long)(i0 + r) * ldc + j0;                                       \
        if (full && beta == 0.0f) {                                                             \
            vstore8(alpha * x0, 0, cp);                                                         \
            vstore8(alpha * x1, 1, cp);                                                         \
        } else if (full) {                                                                      \
            vstore8(alpha * x0 + beta * vload8(0, cp), 0, cp);                                  \
            vstore8(alpha * x1 + beta * vload8(1, cp), 1, cp);                                  \
        } else {                                                                                \
            float t[TN];                                                                        \
            vstore8(x0, 0, t);                                                                  \
            vstore8(x1, 1, t);                                                                  \
            for (int c = 0; c < N - j0; c++) cp[c] = beta == 0.0f ? alpha * t[c] : alpha * t[c] + beta * cp[c]; \
        }                                                                                       \
    }
    STORE(0, c00, c01)
    STORE(1, c10, c11)
    STORE(2, c20, c21)
    STORE(3, c30, c31)
    STORE(4, c40, c41)
    STORE(5, c50, c51)
#undef STORE
}
