/* elementwise.cl — f^(n)(x) for the engine's scalar functions, their fused product with an
 * incoming gradient, and broadcasting binary ops. */

static float sigm(float x) { return 1.0f / (1.0f + exp(-x)); }

/* x^p: exact products for small integer and half-integer powers, pow() otherwise. */
static float powf_ebm(float x, float p) {
    float ip = floor(p);
    if (p == ip && fabs(p) <= 8.0f) {
        int k = (int)fabs(p);
        float r = 1.0f;
        for (int i = 0; i < k; i++) r *= x;
        return p < 0.0f ? 1.0f / r : r;
    }
    if (p - ip == 0.5f && fabs(p) <= 8.5f) {
        float base = p > 0.0f ? sqrt(x) : rsqrt(x);
        int k = (int)fabs(ip + (p > 0.0f ? 0.0f : 1.0f));
        float r = 1.0f;
        for (int i = 0; i < k; i++) r *= x;
        return p > 0.0f ? base * r : base / r;
    }
    return pow(x, p);
}

/* fn_<name>(order, x, a, b) = f^(order)(x) for each function of EBM_FNS (engine/ebm_ops.h), order
 * 0..EBM_FN_MAX_ORDER (3). Not static: each program calls one of them (FN below), and the others
 * would be unused static functions. */
float fn_affine(int order, float x, float a, float b) {
    return order == 0 ? a * x + b : (order == 1 ? a : 0.0f);
}

float fn_pow(int order, float x, float a, float b) {
    (void)b;
    float c = 1.0f, p = a;
    for (int i = 0; i < order; i++) {
        c *= p;
        p -= 1.0f;
    }
    return c == 0.0f ? 0.0f : c * powf_ebm(x, p);
}

float fn_exp(int order, float x, float a, float b) {
    (void)order, (void)a, (void)b;
    return exp(x);
}

float fn_log(int order, float x, float a, float b) {
    (void)a, (void)b;
    if (order == 0) return log(x);
    if (order == 1) return 1.0f / x;
    if (order == 2) return -1.0f / (x * x);
    return 2.0f / (x * x * x);
}

float fn_sigmoid(int order, float x, float a, float b) {
    (void)a, (void)b;
    float s = sigm(x);
    if (order == 0) return s;
    if (order == 1) return s * (1.0f - s);
    if (order == 2) return s * (1.0f - s) * (1.0f - 2.0f * s);
    return s * (1.0f - s) * (1.0f - 6.0f * s + 6.0f * s * s);
}

float fn_tanh(int order, float x, float a, float b) {
    (void)a, (void)b;
    float t = tanh(x);
    if (order == 0) return t;
    if (order == 1) return 1.0f - t * t;
    if (order == 2) return -2.0f * t * (1.0f - t * t);
    return -2.0f * (1.0f - t * t) * (1.0f - 3.0f * t * t);
}

float fn_softplus(int order, float x, float a, float b) {
    (void)a, (void)b;
    if (order == 0) return fmax(x, 0.0f) + log1p(exp(-fabs(x)));
    float s = sigm(x);
    if (order == 1) return s;
    if (order == 2) return s * (1.0f - s);
    return s * (1.0f - s) * (1.0f - 2.0f * s);
}

float fn_swish(int order, float x, float a, float b) {
    (void)a, (void)b;
    float s = sigm(x);
    if (order == 0) return x * s;
    if (order == 1) return s + x * s * (1.0f - s);
    float p = s * (1.0f - s), q = 2.0f + x * (1.0f - 2.0f * s);
    if (order == 2) return p * q;
    return p * (1.0f - 2.0f * s) * q + p * ((1.0f - 2.0f * s) - 2.0f * x * p);
}

float fn_relu(int order, float x, float a, float b) {
    (void)a, (void)b;
    if (order == 0) return fmax(x, 0.0f);
    return order == 1 ? (x > 0.0f ? 1.0f : 0.0f) : 0.0f;
}

float fn_leaky_relu(int order, float x, float a, float b) {
    (void)b;
    if (order == 0) return x > 0.0f ? x : a * x;
    return order == 1 ? (x > 0.0f ? 1.0f : a) : 0.0f;
}

float fn_elu(int order, float x, float a, float b) {
    (void)b;
    if (order == 0) return x > 0.0f ? x : a * (exp(x) - 1.0f);
    if (order == 1) return x > 0.0f ? 1.0f : a * exp(x);
    return x > 0.0f ? 0.0f : a * exp(x);
}

float fn_clamp(int order, float x, float a, float b) {
    if (order == 0) return isnan(x) ? x : fmin(fmax(x, a), b);
    return order == 1 ? ((x >= a && x <= b) ? 1.0f : 0.0f) : 0.0f;
}

/* Phi = (1 + erf(x / sqrt 2)) / 2, phi = Phi' = e^(-x^2/2) / sqrt(2 pi): f = x Phi, f' = Phi + x phi,
 * f'' = phi (2 - x^2), f''' = x phi (x^2 - 4) */
float fn_gelu(int order, float x, float a, float b) {
    (void)a, (void)b;
    float phi = 0.3989422804014327f * exp(-0.5f * x * x);
    if (order == 0) return 0.5f * x * (1.0f + erf(x * M_SQRT1_2_F));
    if (order == 1) return 0.5f * (1.0f + erf(x * M_SQRT1_2_F)) + x * phi;
    if (order == 2) return phi * (2.0f - x * x);
    return x * phi * (x * x - 4.0f);
}

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
