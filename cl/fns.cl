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

/* x^2 / 2: its derivative is x itself, so a graph that holds f'(z) in place of z (engine/ops/conv.c,
 * ebm_grad_set_first_order) names this function for the activation's backward */
float fn_half_square(int order, float x, float a, float b) {
    (void)a, (void)b;
    return order == 0 ? 0.5f * x * x : (order == 1 ? x : (order == 2 ? 1.0f : 0.0f));
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

/* fn_<name>_f16(x, a, b) = f(x) and fn_<name>_d16(x, a, b) = f'(x) for sixteen values at once: the
 * formulas of orders 0 and 1 above as vector code, for the activation a convolution applies as it
 * stores its output (cl/gemm.cl) and the derivative its input gradient applies as it stores
 * (engine/autograd.c: ebm_grad_fuse_offer). Sixteen: one tile row, one AVX-512 register (eight
 * lanes ran the exp and the division twice per row there). FN_F16(FN), FN_D16(FN) name the ones
 * of a program's FN; FN_LANES16(f, order) is f lane by lane, for the functions left scalar. */
#define FN_F16_(f) f##_f16
#define FN_F16(f) FN_F16_(f)
#define FN_D16_(f) f##_d16
#define FN_D16(f) FN_D16_(f)
#define FN_LANES16(f, k)                                                                          \
    (float16)(f(k, x.s0, a, b), f(k, x.s1, a, b), f(k, x.s2, a, b), f(k, x.s3, a, b), f(k, x.s4, a, b), \
              f(k, x.s5, a, b), f(k, x.s6, a, b), f(k, x.s7, a, b), f(k, x.s8, a, b), f(k, x.s9, a, b), \
              f(k, x.sa, a, b), f(k, x.sb, a, b), f(k, x.sc, a, b), f(k, x.sd, a, b), f(k, x.se, a, b), \
              f(k, x.sf, a, b))
static float16 sigm16(float16 x) { return 1.0f / (1.0f + exp(-x)); }
float16 fn_affine_f16(float16 x, float a, float b) { return a * x + b; }
float16 fn_half_square_f16(float16 x, float a, float b) { return (void)a, (void)b, 0.5f * x * x; }
float16 fn_pow_f16(float16 x, float a, float b) { return FN_LANES16(fn_pow, 0); }
float16 fn_exp_f16(float16 x, float a, float b) { return (void)a, (void)b, exp(x); }
float16 fn_log_f16(float16 x, float a, float b) { return (void)a, (void)b, log(x); }
float16 fn_sigmoid_f16(float16 x, float a, float b) { return (void)a, (void)b, sigm16(x); }
float16 fn_tanh_f16(float16 x, float a, float b) { return (void)a, (void)b, tanh(x); }
float16 fn_softplus_f16(float16 x, float a, float b) { return (void)a, (void)b, fmax(x, 0.0f) + log1p(exp(-fabs(x))); }
float16 fn_swish_f16(float16 x, float a, float b) { return (void)a, (void)b, x * sigm16(x); }
float16 fn_relu_f16(float16 x, float a, float b) { return (void)a, (void)b, fmax(x, 0.0f); }
float16 fn_leaky_relu_f16(float16 x, float a, float b) { return (void)b, select(a * x, x, x > 0.0f); }
float16 fn_elu_f16(float16 x, float a, float b) { return (void)b, select(a * (exp(x) - 1.0f), x, x > 0.0f); }
float16 fn_clamp_f16(float16 x, float a, float b) { return select(fmin(fmax(x, a), b), x, isnan(x)); }
float16 fn_gelu_f16(float16 x, float a, float b) { return FN_LANES16(fn_gelu, 0); }
float16 fn_affine_d16(float16 x, float a, float b) { return (void)x, (void)b, (float16)(a); }
float16 fn_half_square_d16(float16 x, float a, float b) { return (void)a, (void)b, x; }
float16 fn_pow_d16(float16 x, float a, float b) { return FN_LANES16(fn_pow, 1); }
float16 fn_exp_d16(float16 x, float a, float b) { return (void)a, (void)b, exp(x); }
float16 fn_log_d16(float16 x, float a, float b) { return (void)a, (void)b, 1.0f / x; }
float16 fn_sigmoid_d16(float16 x, float a, float b) {
    (void)a, (void)b;
    float16 s = sigm16(x);
    return s * (1.0f - s);
}
float16 fn_tanh_d16(float16 x, float a, float b) {
    (void)a, (void)b;
    float16 t = tanh(x);
    return 1.0f - t * t;
}
float16 fn_softplus_d16(float16 x, float a, float b) { return (void)a, (void)b, sigm16(x); }
float16 fn_swish_d16(float16 x, float a, float b) {
    (void)a, (void)b;
    float16 s = sigm16(x);
    return s + x * s * (1.0f - s);
}
float16 fn_relu_d16(float16 x, float a, float b) {
    return (void)a, (void)b, select((float16)0.0f, (float16)1.0f, x > 0.0f);
}
float16 fn_leaky_relu_d16(float16 x, float a, float b) {
    return (void)b, select((float16)(a), (float16)1.0f, x > 0.0f);
}
float16 fn_elu_d16(float16 x, float a, float b) { return (void)b, select(a * exp(x), (float16)1.0f, x > 0.0f); }
float16 fn_clamp_d16(float16 x, float a, float b) { return select((float16)0.0f, (float16)1.0f, x >= a && x <= b); }
float16 fn_gelu_d16(float16 x, float a, float b) { return FN_LANES16(fn_gelu, 1); }

/* f and f' of sixteen values at once, f returned and f' in *d: what a convolution's store computes
 * where it keeps f'(z) for a first-order graph (cl/gemm.cl ZVALUE_DERIV16). The sigmoid's
 * functions share one exp and one division between the two (f' from f: swish' = s + y (1 - s) with
 * y = x s); the others call their f and f' apart. */
#define FN_VD16_(f) f##_vd16
#define FN_VD16(f) FN_VD16_(f)
#define FN_VD16_APART(f)                                                                          \
    float16 f##_vd16(float16 x, float a, float b, float16 *d) {                                   \
        *d = f##_d16(x, a, b);                                                                    \
        return f##_f16(x, a, b);                                                                  \
    }
FN_VD16_APART(fn_affine)
FN_VD16_APART(fn_pow)
FN_VD16_APART(fn_log)
FN_VD16_APART(fn_tanh)
FN_VD16_APART(fn_softplus)
FN_VD16_APART(fn_relu)
FN_VD16_APART(fn_leaky_relu)
FN_VD16_APART(fn_elu)
FN_VD16_APART(fn_clamp)
FN_VD16_APART(fn_gelu)
FN_VD16_APART(fn_half_square)
float16 fn_exp_vd16(float16 x, float a, float b, float16 *d) {
    (void)a, (void)b;
    return *d = exp(x);
}
float16 fn_sigmoid_vd16(float16 x, float a, float b, float16 *d) {
    (void)a, (void)b;
    float16 s = sigm16(x);
    *d = s * (1.0f - s);
    return s;
}
float16 fn_swish_vd16(float16 x, float a, float b, float16 *d) {
    (void)a, (void)b;
    float16 s = sigm16(x);
    *d = s + x * s * (1.0f - s);
    return x * s;
}
