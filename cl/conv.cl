/* conv.cl — im2col / col2im for convolution through GEMM.
 * col has shape (C*KH*KW, N*Ho*Wo): row r = (c*KH + kh)*KW + kw, column j = n*Ho*Wo + oh*Wo + ow.
 * With this layout the whole batch is one GEMM. col2im gathers (no atomics): every input pixel
 * sums the column entries that read it. */

/* NDRange (N*Ho, C*KH*KW): one work item writes one row of Wo columns (contiguous in col), with
 * the index math done once per row. */
kernel void im2col(global float *col, ulong co, global const float *x, ulong xo, int N, int C, int H, int W,
                   int KH, int KW, int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw) {
    int nh = get_global_id(0), r = get_global_id(1);
    if (nh >= N * Ho || r >= C * KH * KW) return;
    int n = nh / Ho, oh = nh - n * Ho;
    int kw = r % KW, t = r / KW, kh = t % KH, c = t / KH;
    int ih = oh * sh - ph + kh * dh;
    global float *dst = col + co + (size_t)r * N * Ho * Wo + (size_t)nh * Wo;
    if (ih < 0 || ih >= H) {
        for (int ow = 0; ow < Wo; ow++) dst[ow] = 0.0f;
        return;
    }
    global const float *src = x + xo + (((size_t)n * C + c) * H + ih) * W;
    int iw = kw * dw - pw;
    for (int ow = 0; ow < Wo; ow++, iw += sw) dst[ow] = (iw >= 0 && iw < W) ? src[iw] : 0.0f;
}

/* NDRange (H, N*C): one work item owns one input row and adds every column entry that read it,
 * pass by pass over (kh, kw); the row stays in L1 (no atomics, fixed summation order). */
kernel void col2im(global float *x, ulong xo, global const float *col, ulong co, int N, int C, int H, int W,
                   int KH, int KW, int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw) {
    int ih = get_global_id(0), nc = get_global_id(1);
    if (ih >= H || nc >= N * C) return;
    int n = nc / C, c = nc - n * C;
    size_t NP = (size_t)N * Ho * Wo;
    global float *dst = x + xo + ((size_t)nc * H + ih) * W;
    for (int iw = 0; iw < W; iw++) dst[iw] = 0.0f;
    for (int kh = 0; kh < KH; kh++) {
        int th = ih + ph - kh * dh;
        if (th < 0 || th % sh) continue;
        int oh = th / sh;
        if (oh >= Ho) continue;
        for (int kw = 0; kw < KW; kw++) {
            global const float *src = col + co + (((size_t)c * KH + kh) * KW + kw) * NP + ((size_t)n * Ho + oh) * Wo;
            /* iw = ow*sw - pw + kw*dw for ow in [0, Wo) */
            int iw = kw * dw - pw;
            for (int ow = 0; ow < Wo; ow++, iw += sw)
                if (iw >= 0 && iw < W) dst[iw] += src[ow];
        }
    }
}
