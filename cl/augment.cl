/* augment.cl — augmentation transitions for replay-buffer draws (improved CD), one sample's
 * parameters per row of p (EBM_AUG_PARAMS floats, drawn on the host: engine/ops/augment.c):
 * [0..3] crop box x0, y0, w, h in source pixels; [4] flip; [5] jitter on; [6] brightness;
 * [7] contrast; [8] saturation; [9] hue shift (turns); [10] grayscale; [11] blur sigma (0: none). */
#define NP 12

/* random resized crop + horizontal flip: bilinear resampling of the box to the full H x W
 * (align_corners = false sampling positions, edges clamped). x, y: (B, C, H, W). */
kernel void augment_crop_flip(global float *y, global const float *x, global const float *p, int C, int H, int W) {
    int ow = (int)get_global_id(0), oh = (int)get_global_id(1), bc = (int)get_global_id(2);
    if (ow >= W || oh >= H) return;
    global const float *q = p + (bc / C) * NP;
    int sw = q[4] != 0.0f ? W - 1 - ow : ow;
    float sx = q[0] + ((float)sw + 0.5f) * q[2] / (float)W - 0.5f;
    float sy = q[1] + ((float)oh + 0.5f) * q[3] / (float)H - 0.5f;
    sx = clamp(sx, 0.0f, (float)(W - 1));
    sy = clamp(sy, 0.0f, (float)(H - 1));
    int x0 = (int)floor(sx), y0 = (int)floor(sy);
    int x1 = min(x0 + 1, W - 1), y1 = min(y0 + 1, H - 1);
    float lx = sx - (float)x0, ly = sy - (float)y0;
    global const float *xp = x + (size_t)bc * H * W;
    float v = (1.0f - ly) * ((1.0f - lx) * xp[y0 * W + x0] + lx * xp[y0 * W + x1]) +
              ly * ((1.0f - lx) * xp[y1 * W + x0] + lx * xp[y1 * W + x1]);
    y[(size_t)bc * H * W + oh * W + ow] = v;
}

static float gray_of(float r, float g, float b) { return 0.299f * r + 0.587f * g + 0.114f * b; }

/* hue rotation through HSV, as torchvision's adjust_hue */
static float3 hue_shift(float3 c, float h) {
    float mx = max(c.x, max(c.y, c.z)), mn = min(c.x, min(c.y, c.z)), d = mx - mn;
    if (d <= 0.0f) return c;
    float hh;
    if (mx == c.x) hh = (c.y - c.z) / d;
    else if (mx == c.y) hh = 2.0f + (c.z - c.x) / d;
    else hh = 4.0f + (c.x - c.y) / d;
    hh = hh / 6.0f + h;
    hh = hh - floor(hh);
    float s = d / mx, v = mx;
    float f6 = hh * 6.0f;
    int i = (int)floor(f6) % 6;
    float f = f6 - floor(f6);
    float pp = v * (1.0f - s), qq = v * (1.0f - s * f), tt = v * (1.0f - s * (1.0f - f));
    switch (i) {
    case 0: return (float3)(v, tt, pp);
    case 1: return (float3)(qq, v, pp);
    case 2: return (float3)(pp, v, tt);
    case 3: return (float3)(pp, qq, v);
    case 4: return (float3)(tt, pp, v);
    default: return (float3)(v, pp, qq);
    }
}

/* work-items per sample: 64, or EBM_WG where the device allows fewer (engine/ops/augment.c) */
#define AUG_WG (EBM_WG < 64 ? EBM_WG : 64)
/* colour jitter (brightness, contrast, saturation, hue, in that order, each clamped to [0, 1]) and
 * grayscale; one work-group of at most AUG_WG items per sample, in place. Contrast blends with the
 * mean gray level of the brightness-adjusted image. C = 1: brightness and contrast only. */
kernel void augment_color(global float *x, global const float *p, int C, int HW) {
    int b = (int)get_group_id(0), lid = (int)get_local_id(0), nl = (int)get_local_size(0);
    global const float *q = p + b * NP;
    global float *xs = x + (size_t)b * C * HW;
    local float part[AUG_WG];
    int jit = q[5] != 0.0f;
    float bri = q[6], con = q[7], sat = q[8], hue = q[9];
    float acc = 0.0f;
    for (int i = lid; i < HW && jit; i += nl) {
        float g = C == 3 ? gray_of(clamp(xs[i] * bri, 0.0f, 1.0f), clamp(xs[HW + i] * bri, 0.0f, 1.0f), clamp(xs[2 * HW + i] * bri, 0.0f, 1.0f))
                         : clamp(xs[i] * bri, 0.0f, 1.0f);
        acc += g;
    }
    part[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    EBM_TREE(part, lid, nl, EBM_ADD)
    float mean = part[0] / (float)HW;
    for (int i = lid; i < HW; i += nl) {
        if (C == 3) {
            float3 c = (float3)(xs[i], xs[HW + i], xs[2 * HW + i]);
            if (jit) {
                c = clamp(c * bri, 0.0f, 1.0f);
                c = clamp((c - mean) * con + mean, 0.0f, 1.0f);
                float g = gray_of(c.x, c.y, c.z);
                c = clamp((c - g) * sat + g, 0.0f, 1.0f);
                c = hue_shift(c, hue);
            }
            if (q[10] != 0.0f) c = (float3)(gray_of(c.x, c.y, c.z));
            xs[i] = c.x, xs[HW + i] = c.y, xs[2 * HW + i] = c.z;
        } else if (jit) {
            float v = clamp(xs[i] * bri, 0.0f, 1.0f);
            xs[i] = clamp((v - mean) * con + mean, 0.0f, 1.0f);
        }
    }
}

/* Gaussian blur with a k x k kernel (separable weights exp(-t^2 / 2 sigma^2), normalised) and
 * reflect padding, as torchvision's gaussian_blur; samples with sigma 0 are copied. */
kernel void augment_blur(global float *y, global const float *x, global const float *p, int C, int H, int W, int k) {
    int ow = (int)get_global_id(0), oh = (int)get_global_id(1), bc = (int)get_global_id(2);
    if (ow >= W || oh >= H) return;
    float sigma = p[(bc / C) * NP + 11];
    global const float *xp = x + (size_t)bc * H * W;
    if (sigma <= 0.0f) {
        y[(size_t)bc * H * W + oh * W + ow] = xp[oh * W + ow];
        return;
    }
    int r = k / 2;
    float norm = 0.0f;
    for (int t = -r; t <= r; t++) norm += exp(-(float)(t * t) / (2.0f * sigma * sigma));
    float acc = 0.0f;
    for (int dy = -r; dy <= r; dy++) {
        int sy = oh + dy;
        sy = sy < 0 ? -sy : (sy >= H ? 2 * H - 2 - sy : sy);
        float wy = exp(-(float)(dy * dy) / (2.0f * sigma * sigma));
        for (int dx = -r; dx <= r; dx++) {
            int sx = ow + dx;
            sx = sx < 0 ? -sx : (sx >= W ? 2 * W - 2 - sx : sx);
            acc += wy * exp(-(float)(dx * dx) / (2.0f * sigma * sigma)) * xp[sy * W + sx];
        }
    }
    y[(size_t)bc * H * W + oh * W + ow] = acc / (norm * norm);
}
