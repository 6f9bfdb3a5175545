/* elementwise.cl — f^(n)(x) for the engine's scalar functions (cl/fns.cl, prepended), their fused
 * product with an incoming gradient, and broadcasting binary ops. */

/* Each kernel here is built as a variant (engine/ops/elementwise.c; all listed in engine/variants.c):
 * the unary ones once per (function, order) with -DFN=fn_<name> -DORDER=<n>, so the compiler sees
 * one function at a constant order and can vectorise the body; the binary ones once per -DOP=<code>.
 * The defaults below only let the file compile for the other family's variants. */
#ifndef FN
#define FN fn_affine
#endif
#ifndef ORDER
#define ORDER 0
#endif

kernel void unary(global float *y, ulong yo, global const float *x, ulong xo, float a, float b, ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[yo + i] = FN(ORDER, x[xo + i], a, b);
}

kernel void unary_mul(global float *y, ulong yo, global const float *g, ulong go, global const float *x,
                      ulong xo, float a, float b, ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[yo + i] = g[go + i] * FN(ORDER, x[xo + i], a, b);
}

/* The backward of y = g * f^(ORDER)(x) without a graph, both gradients in one pass: y0 = gy *
 * f^(ORDER)(x), y1 = (gy * g) * f^(ORDER+1)(x), each with the roundings, in the order, of the
 * unary_mul, the binary product and the unary_mul it replaces (engine/ops/elementwise.c), so the
 * same bits; x and gy read once, and f and its next derivative share their work (a sigmoid).
 * Built for every ORDER like the others; the host launches it only for ORDER < EBM_FN_MAX_ORDER
 * (at ORDER 3, FN(4) is no derivative). */
kernel void unary_mul_pair(global float *y0, ulong y0o, global float *y1, ulong y1o, global const float *gy, ulong gyo,
                           global const float *g, ulong go, global const float *x, ulong xo, float a, float b, ulong n) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    float u = gy[gyo + i], v = x[xo + i];
    y0[y0o + i] = u * FN(ORDER, v, a, b);
    y1[y1o + i] = (u * g[go + i]) * FN(ORDER + 1, v, a, b);
}

/* A sum's backward times the derivative of the activation before it, in one pass:
 * y = (s * g[r]) * f^(ORDER)(x) for the P elements r*P .. r*P + P - 1 of row r (engine/ops/reduce.c:
 * sum_to's gradient, scaled and broadcast over the trailing axes it summed, fused with its input's
 * activation; s * g as the affine function computes it, so the bits are those of the scale, the
 * broadcast and unary_mul it replaces). NDRange (P, rows). */
kernel void expand_mul(global float *y, ulong yo, global const float *g, ulong go, global const float *x, ulong xo, float s,
                       float a, float b, int P, int rows) {
    int p = (int)get_global_id(0), r = (int)get_global_id(1);
    if (p >= P || r >= rows) return;
    size_t i = (size_t)r * P + p;
    y[yo + i] = fn_affine(0, g[go + r], s, 0.0f) * FN(ORDER, x[xo + i], a, b);
}

/* expand_mul where a row is P = 2^lp elements (a global average pool's 1x1 to 4x4 maps): one work
 * item per element, its row by a shift, the same arithmetic. The NDRange (P, rows) gave a CPU's
 * work-groups 4 x 4 or 16 x 4 items (P = 4: scalar ones), whose start-up took the time: PoCL,
 * fmnist-ms's 128 x 128 x 4 x 4 and x 2 x 2 maps 300 and 260 us per launch. NDRange rows * P. */
kernel void expand_mul_pow2(global float *y, ulong yo, global const float *g, ulong go, global const float *x, ulong xo,
                            float s, float a, float b, int lp, ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[yo + i] = fn_affine(0, g[go + (i >> lp)], s, 0.0f) * FN(ORDER, x[xo + i], a, b);
}

#define OP_ADD 0
#define OP_SUB 1
#define OP_MUL 2
#define OP_DIV 3
#ifndef OP
#define OP OP_ADD
#endif

static float apply_op(float a, float b) {
#if OP == OP_ADD
    return a + b;
#elif OP == OP_SUB
    return a - b;
#elif OP == OP_MUL
    return a * b;
#else
    return a / b;
#endif
}

/* Same-shape operands: y[i] = A[i] op B[i]. Built per op (-DOP=<code>). */
kernel void binary(global float *y, ulong yo, global const float *A, ulong ao, global const float *B, ulong bo, ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[yo + i] = apply_op(A[ao + i], B[bo + i]);
}

/* Broadcasting: y (contiguous, 4-D padded shape n0..n3) = A op B read through broadcast strides
 * (0 on broadcast axes). NDRange (n2, n0*n1): one work item per output row of n3 values, offsets
 * computed once per row (per-element index division is what costs on CPUs). */
kernel void binary_bcast(global float *y, ulong yo, global const float *A, ulong ao, global const float *B, ulong bo,
                         int n0, int n1, int n2, int n3, int as0, int as1, int as2, int as3, int bs0, int bs1, int bs2,
                         int bs3) {
    int i2 = (int)get_global_id(0), i01 = (int)get_global_id(1);
    if (i2 >= n2 || i01 >= n0 * n1) return;
    int i0 = i01 / n1, i1 = i01 - i0 * n1;
    global const float *a = A + ao + IDX4(i0, i1, i2, 0, as0, as1, as2, as3);
    global const float *b = B + bo + IDX4(i0, i1, i2, 0, bs0, bs1, bs2, bs3);
    global float *d = y + yo + ((size_t)i01 * n2 + i2) * n3;
    if (as3 == 1 && bs3 == 0) {
        float bv = b[0];
        for (int i3 = 0; i3 < n3; i3++) d[i3] = apply_op(a[i3], bv);
    } else if (as3 == 0 && bs3 == 1) {
        float av = a[0];
        for (int i3 = 0; i3 < n3; i3++) d[i3] = apply_op(av, b[i3]);
    } else {
        for (int i3 = 0; i3 < n3; i3++) d[i3] = apply_op(a[(long)i3 * as3], b[(long)i3 * bs3]);
    }
}
