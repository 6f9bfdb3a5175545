/* fns.cl — the engine's scalar functions f^(n)(x), prepended (after common.cl) to the programs that
 * apply them: elementwise.cl (unary ops and their fused backward products) and gemm.cl (an
 * activation in the GEMM's store, engine/ops/conv.c: ebm_conv2d_act). engine/device.c: preludes. */

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
