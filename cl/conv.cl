/* conv.cl — im2col / col2im for convolution through GEMM.
 * col has shape (C*KH*KW, N*Ho*Wo): row r = (c*KH + kh)*KW + kw, column j = n*Ho*Wo + oh*Wo + ow.
 * With this layout the whole batch is one GEMM. col2im gathers (no atomics): every input pixel
 * sums the column entries that read it. */

kernel void im2col(global float *col, ulong co, global const float *x, ulong xo, int N, int C, int H, int W,
                   int KH, int KW, int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw) {
    size_t id = get_global_id(0);
    size_t NP = (size_t)N * Ho * Wo;
    size_t total = (size_t)C * KH * KW * NP;
    if (id >= total) return;
    size_t j = id % NP;
    int r = (int)(id / NP);
    int ow = (int)(j % Wo);
    int oh = (int)((j / Wo) % Ho);
    int n = (int)(j / ((size_t)Wo * Ho));
    int kw = r % KW, kh = (r / KW) % KH, c = r / (KW * KH);
    int ih = oh * sh - ph + kh * dh, iw = ow * sw - pw + kw * dw;
    float v = 0.0f;
    if (ih >= 0 && ih < H && iw >= 0 && iw < W) v = x[xo + (((size_t)n * C + c) * H + ih) * W + iw];
    col[co + id] = v;
}

kernel void col2im(global float *x, ulong xo, global const float *col, ulong co, int N, int C, int H, int W,
                   int KH, int KW, int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw) {
    size_t id = get_global_id(0);
    size_t total = (size_t)N * C * H * W;
    if (id >= total) return;
    int iw = (int)(id % W);
    int ih = (int)((id / W) % H);
    int c = (int)((id / ((size_t)W * H)) % C);
    int n = (int)(id / ((size_t)W * H * C));
    size_t NP = (size_t)N * Ho * Wo;
    float acc = 0.0f;
    for (int kh = 0; kh < KH; kh++) {
        int th = ih + ph - kh * dh;
        if (th < 0 || th % sh) continue;
        int oh = th / sh;
        if (oh >= Ho) continue;
        for (int kw = 0; kw < KW; kw++) {
            int tw = iw + pw - kw * dw;
            if (tw < 0 || tw % sw) continue;
            int ow = tw / sw;
            if (ow >= Wo) continue;
            size_t r = ((size_t)c * KH + kh) * KW + kw;
            acc += col[co + r * NP + (size_t)n * Ho * Wo + (size_t)oh * Wo + ow];
        }
    }
    x[xo + id] = acc;
}
