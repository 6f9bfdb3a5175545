/* resample.cl — average pooling, nearest and bilinear upsampling, and their adjoints (the
 * adjoint of each is the backward of the other, so both directions stay differentiable).
 * All tensors (P = N*C planes, H, W), contiguous; every kernel runs on the NDRange (width, height,
 * P) of what it writes (ebm_launch3), so no work item divides its index. */

/* Work item (c, r) of plane pl on the NDRange (cols, rows, P). */
#define RS_ITEM(c, r, cols, rows)                                                                 \
    (void)P; /* the planes: the NDRange's third dimension */                                      \
    int c = (int)get_global_id(0), r = (int)get_global_id(1);                                     \
    size_t pl = get_global_id(2);                                                                 \
    if (c >= (cols) || r >= (rows)) return;

/* The loops of the general kernels below (EBM_UNROLL for the unrolled ones) */
#define RS_LOOP

/* Average pooling, count_include_pad=True and floor mode: every window lies inside the padded
 * input, divisor k*k. acc = the sum of the window at (h0, w0) of the padded plane xp, rows and
 * columns below km (at least k: the unrolled kernel passes 4 with EBM_UNROLL, the general one k). */
#define POOL_WINDOW(acc, xp, h0, w0, km, UNROLL)                                                  \
    float acc = 0.0f;                                                                             \
    UNROLL for (int a = 0; a < (km); a++)                                                         \
        UNROLL for (int b = 0; b < (km); b++) {                                                   \
            int ih_ = (h0) + a, iw_ = (w0) + b;                                                   \
            if (a < k && b < k && ih_ >= 0 && ih_ < H && iw_ >= 0 && iw_ < W) acc += (xp)[ih_ * W + iw_]; \
        }

kernel void avgpool2d(global float *y, ulong yo, global const float *x, ulong xo, int P, int H, int W,
                      int Ho, int Wo, int k, int s, int p) {
    RS_ITEM(ow, oh, Wo, Ho)
    POOL_WINDOW(acc, x + xo + pl * H * W, oh * s - p, ow * s - p, k, RS_LOOP)
    y[yo + (pl * Ho + oh) * Wo + ow] = acc / (float)(k * k);
}

/* Windows of at most 4x4: the window unrolled, a body without loops, which PoCL vectorises
 * across work items. */
kernel void avgpool2d_k4(global float *y, ulong yo, global const float *x, ulong xo, int P, int H, int W,
                         int Ho, int Wo, int k, int s, int p) {
    RS_ITEM(ow, oh, Wo, Ho)
    POOL_WINDOW(acc, x + xo + pl * H * W, oh * s - p, ow * s - p, 4, EBM_UNROLL)
    y[yo + (pl * Ho + oh) * Wo + ow] = acc / (float)(k * k);
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

/* The adjoint at one input pixel: acc = gp summed over the windows oh0..oh1 x ow0..ow1 that cover
 * it, in increasing order, at most nm per axis (ceil(k/s); the unrolled kernel passes 2). */
#define POOL_ADJOINT_SUM(acc, gp, nm, UNROLL)                                                     \
    float acc = 0.0f;                                                                             \
    UNROLL for (int a = 0; a < (nm); a++)                                                         \
        UNROLL for (int b = 0; b < (nm); b++) {                                                   \
            int oh_ = oh0 + a, ow_ = ow0 + b;                                                     \
            if (oh_ <= oh1 && ow_ <= ow1) acc += (gp)[oh_ * Wo + ow_];                            \
        }

/* NDRange (W, H, P) over the input side: the windows oh with oh*s - p <= ih <= oh*s - p + k - 1. */
kernel void avgpool2d_adjoint(global float *x, ulong xo, global const float *g, ulong go, int P, int H, int W,
                              int Ho, int Wo, int k, int s, int p) {
    RS_ITEM(iw, ih, W, H)
    int oh0 = ih + p - k + 1 > 0 ? (ih + p - k + s) / s : 0, oh1 = min((ih + p) / s, Ho - 1);
    int ow0 = iw + p - k + 1 > 0 ? (iw + p - k + s) / s : 0, ow1 = min((iw + p) / s, Wo - 1);
    POOL_ADJOINT_SUM(acc, g + go + pl * Ho * Wo, (k + s - 1) / s, RS_LOOP)
    x[xo + (pl * H + ih) * W + iw] = acc / (float)(k * k);
}

/* At most two windows per pixel and axis (k <= 2s): unrolled and without integer division
 * (div_floor), which PoCL vectorises. */
kernel void avgpool2d_adjoint_w2(global float *x, ulong xo, global const float *g, ulong go, int P, int H, int W,
                                 int Ho, int Wo, int k, int s, int p) {
    RS_ITEM(iw, ih, W, H)
    float inv = 1.0f / (float)s;
    int oh0 = ih + p - k + 1 > 0 ? div_floor(ih + p - k + s, s, inv) : 0, oh1 = min(div_floor(ih + p, s, inv), Ho - 1);
    int ow0 = iw + p - k + 1 > 0 ? div_floor(iw + p - k + s, s, inv) : 0, ow1 = min(div_floor(iw + p, s, inv), Wo - 1);
    POOL_ADJOINT_SUM(acc, g + go + pl * Ho * Wo, 2, EBM_UNROLL)
    x[xo + (pl * H + ih) * W + iw] = acc / (float)(k * k);
}

kernel void upsample_nearest(global float *y, ulong yo, global const float *x, ulong xo, int P, int H, int W, int s) {
    int Ho = H * s, Wo = W * s;
    RS_ITEM(ow, oh, Wo, Ho)
    size_t id = (pl * Ho + oh) * Wo + ow;
    y[yo + id] = x[xo + pl * H * W + (oh / s) * W + ow / s];
}

kernel void upsample_nearest_adjoint(global float *x, ulong xo, global const float *g, ulong go, int P, int H, int W, int s) {
    RS_ITEM(iw, ih, W, H)
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
    int Ho = H * s, Wo = W * s;
    RS_ITEM(ow, oh, Wo, Ho)
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
    RS_ITEM(iw, ih, W, H)
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
