/* common.cl — prepended to every program. OpenCL C 1.2, no extensions required.
 * EBM_WG comes from the host as a -D option: the work-group size of 1-D launches (a power of two
 * <= 256 within the device's limits) and the size of local reduction buffers. A kernel may run
 * with fewer work-items per group than EBM_WG (its own CL_KERNEL_WORK_GROUP_SIZE): reductions use
 * get_local_size(0). */
#ifndef EBM_WG
#define EBM_WG 256
#endif

/* Combines buf[0..n) into buf[0] in a fixed order, for any group size n: at each stride s (the
 * powers of two below n, largest first) item i < s takes item i + s where it exists; for n a power
 * of two, the usual halving tree. COMBINE(a, b) is an expression; every item of the group must
 * reach it (it has barriers), after writing its own buf[lid] and before a barrier. */
#define EBM_TREE(buf, lid, n, COMBINE)                                                            \
    {                                                                                             \
        int s_ = 1;                                                                               \
        while (2 * s_ < (n)) s_ *= 2;                                                             \
        for (s_ = (n) > 1 ? s_ : 0; s_ > 0; s_ >>= 1) {                                           \
            if ((lid) < s_ && (lid) + s_ < (n)) buf[lid] = COMBINE(buf[lid], buf[(lid) + s_]);    \
            barrier(CLK_LOCAL_MEM_FENCE);                                                         \
        }                                                                                         \
    }
#define EBM_ADD(a, b) ((a) + (b))

/* Element index of a 4-D position (i0..i3) with strides s. */
#define IDX4(i0, i1, i2, i3, s0, s1, s2, s3) ((long)(i0) * (s0) + (long)(i1) * (s1) + (long)(i2) * (s2) + (long)(i3) * (s3))

/* A 16-pixel panel of a convolution's patch matrix (im2col; cl/conv.cl im2col_panels into global
 * memory, cl/gemm.cl conv_implicit_fwd into local memory). PANEL_PIXELS declares, for panel p of the
 * NP output pixels: live (the lanes that are pixels), n0 (the image of lane 0) and, per lane, ih0
 * and iw0 (the input row and column of tap (0, 0)) and img (the offset of the lane's image from
 * image n0's, C*H*W floats each). PANEL_CHANNEL writes channel c's KH*KW rows, 16 floats each, at d
 * (advanced past them) from xb (image n0's channel c): every load clamped in bounds, then masked. */
#define PANEL_PIXELS(p, NP, Ho, Wo, sh, sw, ph, pw, C, H, W)                                      \
    int16 j_ = (p) * 16 + (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);          \
    int16 ow_ = j_ % (Wo), u_ = j_ / (Wo), oh_ = u_ % (Ho), n_ = u_ / (Ho);                      \
    int n0 = (p) * 16 / ((Ho) * (Wo));                                                            \
    int16 live = j_ < (NP);                                                                       \
    int16 ih0 = select((int16)(-(1 << 28)), oh_ * (sh) - (ph), live), iw0 = ow_ * (sw) - (pw);   \
    int16 img = select((int16)0, (n_ - n0) * ((C) * (H) * (W)), live);
#define PANEL_CHANNEL(d, xb, KH, KW, H, W, dh, dw)                                                \
    for (int kh_ = 0; kh_ < (KH); kh_++) {                                                        \
        int16 ih_ = ih0 + kh_ * (dh);                                                             \
        int16 rok_ = ih_ >= 0 && ih_ < (H);                                                       \
        for (int kw_ = 0; kw_ < (KW); kw_++, d += 16) {                                           \
            int16 iw_ = iw0 + kw_ * (dw);                                                         \
            int16 ok_ = rok_ & (iw_ >= 0 && iw_ < (W));                                           \
            int16 o_ = select((int16)0, img + ih_ * (W) + iw_, ok_);                              \
            float16 v_ = (float16)(xb[o_.s0], xb[o_.s1], xb[o_.s2], xb[o_.s3], xb[o_.s4], xb[o_.s5], \
                                   xb[o_.s6], xb[o_.s7], xb[o_.s8], xb[o_.s9], xb[o_.sa], xb[o_.sb], \
                                   xb[o_.sc], xb[o_.sd], xb[o_.se], xb[o_.sf]);                   \
            vstore16(select((float16)0.0f, v_, ok_), 0, d);                                       \
        }                                                                                         \
    }
