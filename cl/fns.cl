/* fns.cl — the engine's scalar functions f^(n)(x), prepended (after common.cl) to the programs that
 * apply them: elementwise.cl (unary ops and their fused backward products), gemm.cl (an activation
 * in the GEMM's store, engine/ops/conv.c: ebm_conv2d_act; its derivative in the implicit input
 * gradient's) and conv.cl (the derivative in col2im). engine/device.c: preludes. */

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

/* fn_<name>_f8(x, a, b) = f(x) and fn_<name>_d8(x, a, b) = f'(x) for eight values at once: the
 * formulas of orders 0 and 1 above as vector code, for the activation a convolution applies as it
 * stores its output (cl/gemm.cl) and the derivative its input gradient applies as it stores
 * (engine/autograd.c: ebm_grad_fuse_offer). FN_F8(FN), FN_D8(FN) name the ones of a program's FN;
 * FN_LANES8(f, order) is f lane by lane, for the functions left scalar. */
#define FN_F8_(f) f##_f8
#define FN_F8(f) FN_F8_(f)
#define FN_D8_(f) f##_d8
#define FN_D8(f) FN_D8_(f)
#define FN_LANES8(f, k)                                                                           \
    (float8)(f(k, x.s0, a, b), f(k, x.s1, a, b), f(k, x.s2, a, b), f(k, x.s3, a, b), f(k, x.s4, a, b), \
             f(k, x.s5, a, b), f(k, x.s6, a, b), f(k, x.s7, a, b))
static float8 sigm8(float8 x) { return 1.0f / (1.0f + exp(-x)); }
float8 fn_affine_f8(float8 x, float a, float b) { return a * x + b; }
float8 fn_pow_f8(float8 x, float a, float b) { return FN_LANES8(fn_pow, 0); }
float8 fn_exp_f8(float8 x, float a, float b) { return (void)a, (void)b, exp(x); }
float8 fn_log_f8(float8 x, float a, float b) { return (void)a, (void)b, log(x); }
float8 fn_sigmoid_f8(float8 x, float a, float b) { return (void)a, (void)b, sigm8(x); }
float8 fn_tanh_f8(float8 x, float a, float b) { return (void)a, (void)b, tanh(x); }
float8 fn_softplus_f8(float8 x, float a, float b) { return (void)a, (void)b, fmax(x, 0.0f) + log1p(exp(-fabs(x))); }
float8 fn_swish_f8(float8 x, float a, float b) { return (void)a, (void)b, x * sigm8(x); }
float8 fn_relu_f8(float8 x, float a, float b) { return (void)a, (void)b, fmax(x, 0.0f); }
float8 fn_leaky_relu_f8(float8 x, float a, float b) { return (void)b, select(a * x, x, x > 0.0f); }
float8 fn_elu_f8(float8 x, float a, float b) { return (void)b, select(a * (exp(x) - 1.0f), x, x > 0.0f); }
float8 fn_clamp_f8(float8 x, float a, float b) { return select(fmin(fmax(x, a), b), x, isnan(x)); }
float8 fn_gelu_f8(float8 x, float a, float b) { return FN_LANES8(fn_gelu, 0); }
float8 fn_affine_d8(float8 x, float a, float b) { return (void)x, (void)b, (float8)(a); }
float8 fn_pow_d8(float8 x, float a, float b) { return FN_LANES8(fn_pow, 1); }
float8 fn_exp_d8(float8 x, float a, float b) { return (void)a, (void)b, exp(x); }
float8 fn_log_d8(float8 x, float a, float b) { return (void)a, (void)b, 1.0f / x; }
float8 fn_sigmoid_d8(float8 x, float a, float b) {
    (void)a, (void)b;
    float8 s = sigm8(x);
    return s * (1.0f - s);
}
float8 fn_tanh_d8(float8 x, float a, float b) {
    (void)a, (void)b;
    float8 t = tanh(x);
    return 1.0f - t * t;
}
float8 fn_softplus_d8(float8 x, float a, float b) { return (void)a, (void)b, sigm8(x); }
float8 fn_swish_d8(float8 x, float a, float b) {
    (void)a, (void)b;
    float8 s = sigm8(x);
    return s + x * s * (1.0f - s);
}
float8 fn_relu_d8(float8 x, float a, float b) { return (void)a, (void)b, select((float8)0.0f, (float8)1.0f, x > 0.0f); }
float8 fn_leaky_relu_d8(float8 x, float a, float b) { return (void)b, select((float8)(a), (float8)1.0f, x > 0.0f); }
float8 fn_elu_d8(float8 x, float a, float b) { return (void)b, select(a * exp(x), (float8)1.0f, x > 0.0f); }
float8 fn_clamp_d8(float8 x, float a, float b) { return select((float8)0.0f, (float8)1.0f, x >= a && x <= b); }
float8 fn_gelu_d8(float8 x, float a, float b) { return FN_LANES8(fn_gelu, 1); }
