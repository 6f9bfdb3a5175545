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
 * NDRange (panels, C): one work item writes the KH*KW contiguous panel rows of one channel, 16
 * floats at a time; the 16 pixels' coordinates are decoded once (per-element index division is
 * what costs on CPUs) and every load is clamped in bounds, then masked (no branches per element). */
kernel void im2col_panels(global float *dst, global const float *x, ulong xo, int N, int C, int H, int W, int KH,
                          int KW, int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw) {
    int p = (int)get_global_id(0), c = (int)get_global_id(1);
    int R = C * KH * KW, NP = N * Ho * Wo;
    if (p * 16 >= NP || c >= C) return;
    PANEL_PIXELS(p, NP, Ho, Wo, sh, sw, ph, pw, C, H, W)
    global const float *xb = x + xo + ((size_t)n0 * C + c) * H * W;
    global float *d = dst + ((size_t)p * R + (size_t)c * KH * KW) * 16;
    PANEL_CHANNEL(d, 16, xb, ((long)n0 * C + c) * H * W, (long)N * C * H * W, KH, KW, H, W, dh, dw)
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

/* NDRange (N*C): one work item owns one (image, channel) plane and adds every column entry that
 * read it, pass by pass over (kh, kw): each pass reads a contiguous Ho*Wo block of col and adds it
 * to a strided window of the plane, which stays in L1 (no atomics, fixed summation order). Each
 * pass's window is computed up front, so the inner loops have no bounds tests.
 * fuse (variants built with -DFN only): the plane is then multiplied by f'(Zf) at the same positions
 * while it is in cache, f = FN: the derivative of the activation that made this convolution's input
 * (engine/autograd.c, ebm_grad_fuse_offer). */
kernel void col2im(global float *x, ulong xo, global const float *col, ulong co, int N, int C, int H, int W,
                   int KH, int KW, int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw, global const float *Zf,
                   ulong zfo, int fuse, float fa, float fb) {
    size_t nc = get_global_id(0);
    if (nc >= (size_t)N * C) return;
    int n = (int)(nc / (size_t)C), c = (int)(nc - (size_t)n * C);
    size_t NP = (size_t)N * Ho * Wo;
    global float *dst = x + xo + nc * H * W;
    for (int i = 0; i < H * W; i++) dst[i] = 0.0f;
    global const float *src = col + co + (size_t)c * KH * KW * NP + (size_t)n * Ho * Wo;
    for (int kh = 0; kh < KH; kh++) {
        /* ih = oh*sh + offh lies in [0, H) for oh in [hlo, hhi) */
        int offh = kh * dh - ph;
        int hlo = offh >= 0 ? 0 : (-offh + sh - 1) / sh;
        int hhi = min(Ho, offh < H ? (H - 1 - offh) / sh + 1 : 0);
        for (int kw = 0; kw < KW; kw++, src += NP) {
            int offw = kw * dw - pw;
            int wlo = offw >= 0 ? 0 : (-offw + sw - 1) / sw;
            int whi = min(Wo, offw < W ? (W - 1 - offw) / sw + 1 : 0);
            for (int oh = hlo; oh < hhi; oh++) {
                global float *d = dst + (oh * sh + offh) * W + offw;
                global const float *s = src + oh * Wo;
                if (sw == 1)
                    for (int ow = wlo; ow < whi; ow++) d[ow] += s[ow];
                else
                    for (int ow = wlo; ow < whi; ow++) d[ow * sw] += s[ow];
            }
        }
    }
#ifdef FN
    if (fuse) {
        global const float *z = Zf + zfo + nc * H * W;
        int i = 0;
        for (; i + 16 <= H * W; i += 16)
            vstore16(vload16(0, dst + i) * FN_D16(FN)(vload16(0, z + i), fa, fb), 0, dst + i);
        for (; i < H * W; i++) dst[i] *= FN(1, z[i], fa, fb);
    }
#else
    (void)Zf, (void)zfo, (void)fuse, (void)fa, (void)fb;
#endif
}

