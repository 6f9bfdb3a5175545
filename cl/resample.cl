/* resample.cl — average pooling, nearest and bilinear upsampling, and their adjoints (the
 * adjoint of each is the backward of the other, so both directions stay differentiable).
 * All tensors (P = N*C planes, H, W), contiguous. */

/* count_include_pad=True and floor mode: every window lies inside the padded input, divisor k*k */
kernel void avgpool2d(global float *y, ulong yo, global const float *x, ulong xo, int P, int H, int W,
                      int Ho, int Wo, int k, int s, int p) {
    size_t id = get_global_id(0);
    if (id >= (size_t)P * Ho * Wo) return;
    int ow = (int)(id % Wo), oh = (int)((id / Wo) % Ho);
    size_t pl = id / ((size_t)Wo * Ho);
    global const float *xp = x + xo + pl * H * W;
    float acc = 0.0f;
    for (int a = 0; a < k; a++) {
        int ih = oh * s - p + a;
        if (ih < 0 || ih >= H) continue;
        for (int b = 0; b < k; b++) {
            int iw = ow * s - p + b;
            if (iw >= 0 && iw < W) acc += xp[ih * W + iw];
        }
    }
    y[yo + id] = acc / (float)(k * k);
}

kernel void avgpool2d_adjoint(global float *x, ulong xo, global const float *g, ulong go, int P, int H, int W,
                              int Ho, int Wo, int k, int s, int p) {
    size_t id = get_global_id(0);
    if (id >= (size_t)P * H * W) return;
    int iw = (int)(id % W), ih = (int)((id / W) % H);
    size_t pl = id / ((size_t)W * H);
    global const float *gp = g + go + pl * Ho * Wo;
    /* windows oh with oh*s - p <= ih <= oh*s - p + k - 1 */
    int oh0 = ih + p - k + 1 > 0 ? (ih + p - k + 1 + s - 1) / s : 0;
    int oh1 = min((ih + p) / s, Ho - 1);
    int ow0 = iw + p - k + 1 > 0 ? (iw + p - k + 1 + s - 1) / s : 0;
    int ow1 = min((iw + p) / s, Wo - 1);
    float acc = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) acc += gp[oh * Wo + ow];
    x[xo + id] = acc / (float)(k * k);
}

kernel void upsample_nearest(global float *y, ulong yo, global const float *x, ulong xo, int P, int H, int W, int s) {
    size_t id = get_global_id(0);
    int Ho = H * s, Wo = W * s;
    if (id >= (size_t)P * Ho * Wo) return;
    int ow = (int)(id % Wo), oh = (int)((id / Wo) % Ho);
    size_t pl = id / ((size_t)Wo * Ho);
    y[yo + id] = x[xo + pl * H * W + (oh / s) * W + ow / s];
}

kernel void upsample_nearest_adjoint(global float *x, ulong xo, global const float *g, ulong go, int P, int H, int W, int s) {
    size_t id = get_global_id(0);
    if (id >= (size_t)P * H * W) return;
    int iw = (int)(id % W), ih = (int)((id / W) % H);
    size_t pl = id / ((size_t)W * H);
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
    size_t id = get_global_id(0);
    int Ho = H * s, Wo = W * s;
    if (id >= (size_t)P * Ho * Wo) return;
    int ow = (int)(id % Wo), oh = (int)((id / Wo) % Ho);
    size_t pl = id / ((size_t)Wo * Ho);
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
    size_t id = get_global_id(0);
    if (id >= (size_t)P * H * W) return;
    int iw = (int)(id % W), ih = (int)((id / W) % H);
    size_t pl = id / ((size_t)W * H);
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
