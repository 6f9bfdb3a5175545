/* conv.cl — im2col / col2im for convolution through GEMM.
 * col has shape (C*KH*KW, N*Ho*Wo): row r = (c*KH + kh)*KW + kw, column j = n*Ho*Wo + oh*Wo + ow.
 * With this layout the whole batch is one GEMM. col2im gathers (no atomics): every input pixel
 * sums the column entries that read it. */

/* NDRange (N*Ho, C*KH*KW): one work item writes one row of Wo columns (contiguous in col), with
 * the index math done once per row. */
kernel void im2col(global float *col, ulong co, global const float *x, ulong xo, int N, int C, int H, int W,
                   int KH, int KW, int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw) {
    int nh = (int)get_global_id(0), r = (int)get_global_id(1);
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

/* im2col straight into GEMM panels (cl/gemm.cl), skipping the separate packing pass.
 * Panels along the pixel axis (forward: B(l = r, j = n*Ho*Wo + pixel)):
 *   dst[(j / 16) * R + r][j % 16], R = C*KH*KW, zero for j >= N*Ho*Wo.
 * NDRange (R, panels): one work item writes 16 contiguous floats. */
kernel void im2col_panels(global float *dst, global const float *x, ulong xo, int N, int C, int H, int W, int KH,
                          int KW, int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw) {
    int r = (int)get_global_id(0), p = (int)get_global_id(1);
    int R = C * KH * KW, NP = N * Ho * Wo;
    if (r >= R || p * 16 >= NP) return;
    int kw = r % KW, t = r / KW, kh = t % KH, c = t / KH;
    int j = p * 16;
    int ow = j % Wo, u = j / Wo, oh = u % Ho, n = u / Ho;
    global float *d = dst + ((size_t)p * R + r) * 16;
    for (int jj = 0; jj < 16; jj++, j++) {
        float v = 0.0f;
        if (j < NP) {
            int ih = oh * sh - ph + kh * dh, iw = ow * sw - pw + kw * dw;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) v = x[xo + (((size_t)n * C + c) * H + ih) * W + iw];
        }
        d[jj] = v;
        if (++ow == Wo) {
            ow = 0;
            if (++oh == Ho) oh = 0, n++;
        }
    }
}

/* Panels along the patch axis (weight-grad: B(l = n*Ho*Wo + pixel, j = r)):
 *   dst[(r / 16) * NP + j][r % 16], zero for r >= R.
 * NDRange (N*Ho, ceil(R/16)): one work item writes a Wo x 16 block. */
kernel void im2col_panels_t(global float *dst, global const float *x, ulong xo, int N, int C, int H, int W, int KH,
                            int KW, int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw) {
    int nh = (int)get_global_id(0), q = (int)get_global_id(1);
    int R = C * KH * KW, NP = N * Ho * Wo;
    if (nh >= N * Ho || q * 16 >= R) return;
    int n = nh / Ho, oh = nh - n * Ho;
    global float *d = dst + ((size_t)q * NP + (size_t)nh * Wo) * 16;
    for (int rr = 0; rr < 16; rr++) {
        int r = q * 16 + rr;
        int valid = r < R;
        int kw = r % KW, t = r / KW, kh = t % KH, c = t / KH;
        int ih = oh * sh - ph + kh * dh;
        global const float *src = x + xo + (((size_t)n * C + c) * H + ih) * W;
        int row_ok = valid && ih >= 0 && ih < H;
        int iw = kw * dw - pw;
        for (int ow = 0; ow < Wo; ow++, iw += sw) d[ow * 16 + rr] = (row_ok && iw >= 0 && iw < W) ? src[iw] : 0.0f;
    }
}

/* NDRange (H, N*C): one work item owns one input row and adds every column entry that read it,
 * pass by pass over (kh, kw); the row stays in L1 (no atomics, fixed summation order). */
kernel void col2im(global float *x, ulong xo, global const float *col, ulong co, int N, int C, int H, int W,
                   int KH, int KW, int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw) {
    int ih = (int)get_global_id(0), nc = (int)get_global_id(1);
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
