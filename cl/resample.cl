/* resample.cl — average pooling, nearest and bilinear upsampling, and their adjoints (the
 * adjoint of each is the backward of the other, so both directions stay differentiable).
 * All tensors (P = N*C planes, H, W), contiguous; every kernel runs on the NDRange (width, height,
 * P) of what it writes (ebm_launch3), so no work item divides its index. */

/* count_include_pad=True and floor mode: every window lies inside the padded input, divisor k*k.
 * NDRange (Wo, Ho, P) over the output (ebm_launch3): no index divisions per element. */
kernel void avgpool2d(global float *y, ulong yo, global const float *x, ulong xo, int P, int H, int W,
                      int Ho, int Wo, int k, int s, int p) {
    (void)P;   /* the planes: the NDRange's third dimension */
    int ow = (int)get_global_id(0), oh = (int)get_global_id(1);
    size_t pl = get_global_id(2);
    if (ow >= Wo || oh >= Ho) return;
    global const float *xp = x + xo + pl * H * W;
    int h0 = oh * s - p, w0 = ow * s - p;
    float acc = 0.0f;
    for (int a = 0; a < k; a++) {
        int ih = h0 + a;
        if (ih < 0 || ih >= H) continue;
        for (int b = 0; b < k; b++) {
            int iw = w0 + b;
            if (iw >= 0 && iw < W) acc += xp[ih * W + iw];
        }
    }
    y[yo + pl * Ho * Wo + oh * Wo + ow] = acc / (float)(k * k);
}

/* The same for windows of at most 4x4, unrolled: a body without loops, which PoCL vectorises
 * across work items. Same terms in the same order as avgpool2d. */
kernel void avgpool2d_k4(global float *y, ulong yo, global const float *x, ulong xo, int P, int H, int W,
                         int Ho, int Wo, int k, int s, int p) {
    (void)P;   /* the planes: the NDRange's third dimension */
    int ow = (int)get_global_id(0), oh = (int)get_global_id(1);
    size_t pl = get_global_id(2);
    if (ow >= Wo || oh >= Ho) return;
    global const float *xp = x + xo + pl * H * W;
    int h0 = oh * s - p, w0 = ow * s - p;
    float acc = 0.0f;
#pragma unroll
    for (int a = 0; a < 4; a++) {
        int ih = h0 + a;
#pragma unroll
        for (int b = 0; b < 4; b++) {
            int iw = w0 + b;
            if (a < k && b < k && ih >= 0 && ih < H && iw >= 0 && iw < W) acc += xp[ih * W + iw];
        }
    }
    y[yo + pl * Ho * Wo + oh * Wo + ow] = acc / (float)(k * k);
}

/* q = floor(v / s) for 0 <= v < 2^24 and s >= 1 without an integer division (which a vectorised
 * body does lane by lane): the float quotient is off by at most one (below: v = s = 41; above: from
 * v = 8794547, s = 63, checked on the host for every s <= 64), then corrected. */
static inline int div_floor(int v, int s, float inv) {
    int q = (int)((float)v * inv);
    q += (q + 1) * s <= v;
    q -= q * s > v;
    return q;
}

/* The adjoint, NDRange (W, H, P) over the input side: the windows oh with
 * oh*s - p <= ih <= oh*s - p + k - 1 (at most ceil(k/s) of them per axis), in increasing order. */
kernel void avgpool2d_adjoint(global float *x, ulong xo, global const float *g, ulong go, int P, int H, int W,
                              int Ho, int Wo, int k, int s, int p) {
    (void)P;   /* the planes: the NDRange's third dimension */
    int iw = (int)get_global_id(0), ih = (int)get_global_id(1);
    size_t pl = get_global_id(2);
    if (iw >= W || ih >= H) return;
    global const float *gp = g + go + pl * Ho * Wo;
    int oh0 = ih + p - k + 1 > 0 ? (ih + p - k + 1 + s - 1) / s : 0;
    int oh1 = min((ih + p) / s, Ho - 1);
    int ow0 = iw + p - k + 1 > 0 ? (iw + p - k + 1 + s - 1) / s : 0;
    int ow1 = min((iw + p) / s, Wo - 1);
    float acc = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) acc += gp[oh * Wo + ow];
    x[xo + pl * H * W + ih * W + iw] = acc / (float)(k * k);
}

/* The same where at most two windows cover a pixel along each axis (k <= 2s), unrolled and without
 * integer division (div_floor): PoCL vectorises it. Same terms in the same order. */
kernel void avgpool2d_adjoint_w2(global float *x, ulong xo, global const float *g, ulong go, int P, int H, int W,
                                 int Ho, int Wo, int k, int s, int p) {
    (void)P;   /* the planes: the NDRange's third dimension */
    int iw = (int)get_global_id(0), ih = (int)get_global_id(1);
    size_t pl = get_global_id(2);
    if (iw >= W || ih >= H) return;
    global const float *gp = g + go + pl * Ho * Wo;
    float inv = 1.0f / (float)s;
    /* the last window of each axis and the first: ceil((i + p - k + 1) / s) = floor((i + p - k + s) / s) */
    int oh1 = min(div_floor(ih + p, s, inv), Ho - 1), ow1 = min(div_floor(iw + p, s, inv), Wo - 1);
    int oh0 = ih + p - k + 1 > 0 ? div_floor(ih + p - k + s, s, inv) : 0;
    int ow0 = iw + p - k + 1 > 0 ? div_floor(iw + p - k + s, s, inv) : 0;
    float acc = 0.0f;
#pragma unroll
    for (int a = 0; a < 2; a++)
#pragma unroll
        for (int b = 0; b < 2; b++) {
            int oh = oh0 + a, ow = ow0 + b;
            if (oh <= oh1 && ow <= ow1) acc += gp[oh * Wo + ow];
        }
    x[xo + pl * H * W + ih * W + iw] = acc / (float)(k * k);
}

kernel void upsample_nearest(global float *y, ulong yo, global const float *x, ulong xo, int P, int H, int W, int s) {
    (void)P;   /* the planes: the NDRange's third dimension */
    int ow = (int)get_global_id(0), oh = (int)get_global_id(1), Ho = H * s, Wo = W * s;
    size_t pl = get_global_id(2);
    if (ow >= Wo || oh >= Ho) return;
    size_t id = (pl * Ho + oh) * Wo + ow;
    y[yo + id] = x[xo + pl * H * W + (oh / s) * W + ow / s];
}

kernel void upsample_nearest_adjoint(global float *x, ulong xo, global const float *g, ulong go, int P, int H, int W, int s) {
    (void)P;   /* the planes: the NDRange's third dimension */
    int iw = (int)get_global_id(0), ih = (int)get_global_id(1);
    size_t pl = get_global_id(2);
    if (iw >= W || ih >= H) return;
    size_t id = (pl * H + ih) * W + iw;
    int Wo = W * s;
    global const float *gp = g + go + pl * (size_t)H * s * Wo;
    float acc = 0.0f;
    for (int a = 0; a < s; a++)
        for (int b = 0; b < s; b++) acc += gp[(ih * s + a) * Wo + iw * s + b];
    x[xo + id] = acc;
}

/* PyTorch align_corners=False source index for output o of a scale-s upsampling of n inputs. */
static void bilin_src(int o, int s, int n, int *i0, int *i1, float *l1) {
    float src = ((float)o + 0.5f) / (float)s - 0.5f;
    if (src < 0.0f) src = 0.0f;
    int a = (int)src;
    if (a > n - 1) a = n - 1;
    *i0 = a;
    *i1 = a < n - 1 ? a + 1 : a;
    *l1 = src - (float)a;
}

kernel void upsample_bilinear(global float *y, ulong yo, global const float *x, ulong xo, int P, int H, int W, int s) {
    (void)P;   /* the planes: the NDRange's third dimension */
    int ow = (int)get_global_id(0), oh = (int)get_global_id(1), Ho = H * s, Wo = W * s;
    size_t pl = get_global_id(2);
    if (ow >= Wo || oh >= Ho) return;
    size_t id = (pl * Ho + oh) * Wo + ow;
    global const float *xp = x + xo + pl * H * W;
    int h0, h1, w0, w1;
    float lh, lw;
    bilin_src(oh, s, H, &h0, &h1, &lh);
    bilin_src(ow, s, W, &w0, &w1, &lw);
    float v = (1.0f - lh) * ((1.0f - lw) * xp[h0 * W + w0] + lw * xp[h0 * W + w1]) +
              lh * ((1.0f - lw) * xp[h1 * W + w0] + lw * xp[h1 * W + w1]);
    y[yo + id] = v;
}

/* weight with which output o reads input i along one axis */
static float bilin_w(int o, int i, int s, int n) {
    int a, b;
    float l1;
    bilin_src(o, s, n, &a, &b, &l1);
    float w = 0.0f;
    if (a == i) w += 1.0f - l1;
    if (b == i) w += l1;
    return w;
}

kernel void upsample_bilinear_adjoint(global float *x, ulong xo, global const float *g, ulong go, int P, int H, int W, int s) {
    (void)P;   /* the planes: the NDRange's third dimension */
    int iw = (int)get_global_id(0), ih = (int)get_global_id(1);
    size_t pl = get_global_id(2);
    if (iw >= W || ih >= H) return;
    size_t id = (pl * H + ih) * W + iw;
    int Ho = H * s, Wo = W * s;
    global const float *gp = g + go + pl * (size_t)Ho * Wo;
    int oh0 = max(0, (ih - 1) * s), oh1 = min(Ho - 1, (ih + 2) * s);
    int ow0 = max(0, (iw - 1) * s), ow1 = min(Wo - 1, (iw + 2) * s);
    float acc = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++) {
        float wh = bilin_w(oh, ih, s, H);
        if (wh == 0.0f) continue;
        float row = 0.0f;
        for (int ow = ow0; ow <= ow1; ow++) {
            float ww = bilin_w(ow, iw, s, W);
            if (ww != 0.0f) row += ww * gp[oh * Wo + ow];
        }
        acc += wh * row;
    }
    x[xo + id] = acc;
}
