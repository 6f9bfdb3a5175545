/* elementwise.cl — f^(n)(x) for the engine's scalar functions, their fused product with an
 * incoming gradient, and broadcasting binary ops. Function codes match enum ebm_fn. */

#define FN_AFFINE 0
#define FN_POW 1
#define FN_EXP 2
#define FN_LOG 3
#define FN_SIGMOID 4
#define FN_TANH 5
#define FN_SOFTPLUS 6
#define FN_SWISH 7
#define FN_RELU 8
#define FN_LEAKY_RELU 9
#define FN_ELU 10
#define FN_CLAMP 11

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

static float fn_eval(int fn, int order, float x, float a, float b) {
    switch (fn) {
    case FN_AFFINE:
        return order == 0 ? a * x + b : (order == 1 ? a : 0.0f);
    case FN_POW: {
        float c = 1.0f, p = a;
        for (int i = 0; i < order; i++) {
            c *= p;
            p -= 1.0f;
        }
        return c == 0.0f ? 0.0f : c * powf_ebm(x, p);
    }
    case FN_EXP:
        return exp(x);
    case FN_LOG:
        if (order == 0) return log(x);
        if (order == 1) return 1.0f / x;
        if (order == 2) return -1.0f / (x * x);
        return 2.0f / (x * x * x);
    case FN_SIGMOID: {
        float s = sigm(x);
        if (order == 0) return s;
        if (order == 1) return s * (1.0f - s);
        if (order == 2) return s * (1.0f - s) * (1.0f - 2.0f * s);
        return s * (1.0f - s) * (1.0f - 6.0f * s + 6.0f * s * s);
    }
    case FN_TANH: {
        float t = tanh(x);
        if (order == 0) return t;
        if (order == 1) return 1.0f - t * t;
        if (order == 2) return -2.0f * t * (1.0f - t * t);
        return -2.0f * (1.0f - t * t) * (1.0f - 3.0f * t * t);
    }
    case FN_SOFTPLUS: {
        if (order == 0) return fmax(x, 0.0f) + log1p(exp(-fabs(x)));
        float s = sigm(x);
        if (order == 1) return s;
        if (order == 2) return s * (1.0f - s);
        return s * (1.0f - s) * (1.0f - 2.0f * s);
    }
    case FN_SWISH: {
        float s = sigm(x);
        if (order == 0) return x * s;
        if (order == 1) return s + x * s * (1.0f - s);
        float p = s * (1.0f - s), q = 2.0f + x * (1.0f - 2.0f * s);
        if (order == 2) return p * q;
        return p * (1.0f - 2.0f * s) * q + p * ((1.0f - 2.0f * s) - 2.0f * x * p);
    }
    case FN_RELU:
        if (order == 0) return fmax(x, 0.0f);
        return order == 1 ? (x > 0.0f ? 1.0f : 0.0f) : 0.0f;
    case FN_LEAKY_RELU:
        if (order == 0) return x > 0.0f ? x : a * x;
        return order == 1 ? (x > 0.0f ? 1.0f : a) : 0.0f;
    case FN_ELU:
        if (order == 0) return x > 0.0f ? x : a * (exp(x) - 1.0f);
        if (order == 1) return x > 0.0f ? 1.0f : a * exp(x);
        return x > 0.0f ? 0.0f : a * exp(x);
    case FN_CLAMP:
        if (order == 0) return isnan(x) ? x : fmin(fmax(x, a), b);
        return order == 1 ? ((x >= a && x <= b) ? 1.0f : 0.0f) : 0.0f;
    }
    return NAN;
}

kernel void unary(global float *y, ulong yo, global const float *x, ulong xo, int fn, int order, float a,
                  float b, ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[yo + i] = fn_eval(fn, order, x[xo + i], a, b);
}

kernel void unary_mul(global float *y, ulong yo, global const float *g, ulong go, global const float *x,
                      ulong xo, int fn, int order, float a, float b, ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[yo + i] = g[go + i] * fn_eval(fn, order, x[xo + i], a, b);
}

#define OP_ADD 0
#define OP_SUB 1
#define OP_MUL 2
#define OP_DIV 3

/* y (contiguous, 4-D padded shape n0..n3) = A op B, A and B read through broadcast strides
 * (0 on broadcast axes). contig != 0: all three share one contiguous layout. */
kernel void binary(global float *y, ulong yo, global const float *A, ulong ao, global const float *B, ulong bo,
                   int op, int contig, int n1, int n2, int n3,
                   int as0, int as1, int as2, int as3, int bs0, int bs1, int bs2, int bs3, ulong total) {
    size_t i = get_global_id(0);
    if (i >= total) return;
    float a, b;
    if (contig) {
        a = A[ao + i];
        b = B[bo + i];
    } else {
        int i3 = (int)(i % (size_t)n3);
        size_t r = i / (size_t)n3;
        int i2 = (int)(r % (size_t)n2);
        r /= (size_t)n2;
        int i1 = (int)(r % (size_t)n1);
        int i0 = (int)(r / (size_t)n1);
        a = A[ao + IDX4(i0, i1, i2, i3, as0, as1, as2, as3)];
        b = B[bo + IDX4(i0, i1, i2, i3, bs0, bs1, bs2, bs3)];
    }
    float v;
    switch (op) {
    case OP_ADD: v = a + b; break;
    case OP_SUB: v = a - b; break;
    case OP_MUL: v = a * b; break;
    default: v = a / b; break;
    }
    y[yo + i] = v;
}
