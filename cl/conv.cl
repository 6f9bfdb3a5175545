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

/* The input of conv_implicit_wgrad (cl/gemm.cl): x zero-padded by (ph, pw) and split by the stride
 * into sh*sw phase planes of Hr x Wr per (channel, image), the images of a phase next to each other
 * (a row of the weight gradient then reads one stream through the batch), so a strided tap is a
 * fixed offset and a walk with step 1:
 *   xq[((((c*sh + a)*sw + b)*N + n)*Hr + i)*Wr + j] = x[n, c, sh*i + a - ph, sw*j + b - pw], 0 outside x.
 * One launch per phase (a, b); a work item writes row i of one plane, 16 columns at a time, the 16
 * read as one vector load of x's row at column stride 1 or 2 (PANEL_ROW; single loads where the
 * read would leave the tensor, or at larger strides) and masked to the columns inside x.
 * NDRange (Hr, C, N). */
kernel void pad_phase(global float *xq, global const float *x, ulong xo, int C, int H, int W, int ph, int pw, int sh, int sw,
                      int a, int b, int Hr, int Wr) {
    int i = (int)get_global_id(0), c = (int)get_global_id(1);
    size_t n = get_global_id(2), N = get_global_size(2);
    if (i >= Hr || c >= C) return;
    global float *d = xq + (((((size_t)c * sh + a) * sw + b) * N + n) * Hr + i) * Wr;
    int ih = sh * i + a - ph, rok = ih >= 0 && ih < H;
    long row = (((long)n * C + c) * H + ih) * W, total = (long)N * C * H * W;
    int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int j0 = 0; j0 < Wr; j0 += 16) {
        int16 iw = sw * (j0 + lane) + b - pw;
        int16 ok = (iw >= 0 && iw < W) & (int16)(-rok);   /* -1 where true, as the vector comparisons */
        float16 v = 0.0f;
        long lo = row + sw * j0 + b - pw;
        if (rok && sw <= 2 && lo >= 0 && lo + 16 * sw <= total)
            v = PANEL_ROW(x + xo + lo, sw);
        else if (rok)
            v = GATHER16(x + xo + row, select((int16)0, iw, ok));
        v = select((float16)0.0f, v, ok);
        if (j0 + 16 <= Wr) {
            vstore16(v, 0, d + j0);
        } else {
            float t[16];
            vstore16(v, 0, t);
            for (int k = 0; k < Wr - j0; k++) d[j0 + k] = t[k];
        }
    }
}

/* The output gradient of conv_implicit_wgrad: per image n and 16-channel panel q, rows of Wr pixels,
 *   Bp[((n*panels + q)*Ho + oh)*Wr + ow][e] = gy[n, 16q + e, oh, ow], 0 for ow >= Wo or 16q + e >= O
 * (the walk's pixels past an output row read other taps, and count nothing). A work item writes
 * one row oh of one panel. NDRange (Ho, N*panels). */
kernel void pack_gy_rows(global float *Bp, global const float *gy, ulong gyo, int NB, int O, int Ho, int Wo, int Wr,
                         int panels) {
    int oh = (int)get_global_id(0);
    size_t z = get_global_id(1);
    if (oh >= Ho || z >= (size_t)NB * panels) return;
    size_t n = z / (size_t)panels;
    int q = (int)(z - n * (size_t)panels), live = min(16, O - 16 * q);
    global float *d = Bp + (z * Ho + oh) * Wr * 16;
    global const float *s = gy + gyo + ((n * O + 16 * q) * Ho + oh) * Wo;
    for (int ow = 0; ow < Wo; ow++) {
        float t[16];
        for (int e = 0; e < 16; e++) t[e] = e < live ? s[(size_t)e * Ho * Wo + ow] : 0.0f;
        vstore16(vload16(0, t), ow, d);
    }
    for (int ow = Wo; ow < Wr; ow++) vstore16((float16)0.0f, ow, d);
}
