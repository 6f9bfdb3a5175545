/* common.cl — prepended to every program. OpenCL C 1.2, no extensions required.
 * EBM_WG comes from the host as a -D option: the work-group size of 1-D launches (a power of two
 * <= 256 within the device's limits) and the size of local reduction buffers. A kernel may run
 * with fewer work-items per group than EBM_WG (its own CL_KERNEL_WORK_GROUP_SIZE): reductions use
 * get_local_size(0). */
#ifndef EBM_WG
#define EBM_WG 256
#endif

/* Before a loop of constant trip count in a work item's body: PoCL vectorises a kernel across its
 * work items only when no call, loop or switch is left in the body (the Langevin update and the
 * average pool's adjoint ran one work item at a time without it). */
#define EBM_UNROLL _Pragma("unroll")

/* Combines buf[0..n) into buf[0] in a fixed order, for any group size n: at each stride s (the
 * powers of two below n, largest first) entry i < s takes entry i + s where it exists; for n a power
 * of two, the usual halving tree. COMBINE(a, b) is an expression; every item of the group must
 * reach it (it has barriers), after writing its own entries and before a barrier. Every item may
 * read buf[0] after it: the barrier after the loop repeats the loop's last one, which Intel's CPU
 * runtime 2026.2 on an AVX-512 host did not honour for groups of fewer than 16 items (the other
 * items read buf[0] before item 0 had written it: tests/test_augment with EBM_MAX_LOCAL_MEM=48).
 * EBM_TREE: entry lid per item; EBM_TREE_SPAN: entries first .. first + per - 1 per item (the same
 * pairs in the same order). */
#define EBM_TREE_SPAN(buf, first, per, n, COMBINE)                                                \
    {                                                                                             \
        int s_ = 1;                                                                               \
        while (2 * s_ < (n)) s_ *= 2;                                                             \
        for (s_ = (n) > 1 ? s_ : 0; s_ > 0; s_ >>= 1) {                                           \
            for (int e_ = (first); e_ < (first) + (per); e_++)                                    \
                if (e_ < s_ && e_ + s_ < (n)) buf[e_] = COMBINE(buf[e_], buf[e_ + s_]);           \
            barrier(CLK_LOCAL_MEM_FENCE);                                                         \
        }                                                                                         \
        barrier(CLK_LOCAL_MEM_FENCE);                                                             \
    }
#define EBM_TREE(buf, lid, n, COMBINE) EBM_TREE_SPAN(buf, lid, 1, n, COMBINE)
#define EBM_ADD(a, b) ((a) + (b))

/* Element index of a 4-D position (i0..i3) with strides s. */
#define IDX4(i0, i1, i2, i3, s0, s1, s2, s3) ((long)(i0) * (s0) + (long)(i1) * (s1) + (long)(i2) * (s2) + (long)(i3) * (s3))

/* A 16-pixel panel of a convolution's patch matrix (im2col; cl/conv.cl im2col_panels into global
 * memory, cl/gemm.cl conv_implicit_fwd into local memory). PANEL_PIXELS declares, for panel p of the
 * NP output pixels: live (the lanes that are pixels), n0 (the image of lane 0) and, per lane, ih0
 * and iw0 (the input row and column of tap (0, 0)) and img (the offset of the lane's image from
 * image n0's, C*H*W floats each). It also splits the lanes into the output rows they run along
 * (at most 4 segments, for sw <= 2): segment k starts at lane seg_s[k], and its lane e reads, at tap
 * (0, 0), element seg_b[k] + e*sw of image n0's channel (where that pixel is inside the image);
 * nseg = 0 where the lanes span more rows or sw > 2. seg_lo/seg_hi bound the elements the segments'
 * rows read.
 * PANEL_CHANNEL writes channel c's KH*KW rows, 16 floats each, at d, d + step, ... (advanced past
 * them) from xb
 * (image n0's channel c, at element xrel of the tensor of total elements): each row is one vector
 * load per segment (two for sw = 2, keeping the even lanes) merged by lane, where every segment's
 * read lies inside the tensor, else 16 single loads clamped in bounds; then masked to the pixels
 * inside the image. */
#define PANEL_PIXELS(p, NP, Ho, Wo, sh, sw, ph, pw, C, H, W)                                      \
    int16 lane_ = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);                  \
    int16 j_ = (p) * 16 + lane_;                                                                  \
    int16 ow_ = j_ % (Wo), u_ = j_ / (Wo), oh_ = u_ % (Ho), n_ = u_ / (Ho);                      \
    int n0 = (p) * 16 / ((Ho) * (Wo));                                                            \
    int16 live = j_ < (NP);                                                                       \
    int16 ih0 = select((int16)(-(1 << 28)), oh_ * (sh) - (ph), live), iw0 = ow_ * (sw) - (pw);   \
    int16 img = select((int16)0, (n_ - n0) * ((C) * (H) * (W)), live);                           \
    int nseg = 0, seg_s[4], seg_b[4], seg_lo = 0, seg_hi = 0;                                     \
    if ((sw) <= 2) {                                                                              \
        int u0_ = (p) * 16 / (Wo), w_ = (p) * 16 - u0_ * (Wo), s_ = 0;                            \
        for (; s_ < 16 && nseg < 4; nseg++, w_ = 0) {                                             \
            int n_k = (u0_ + nseg) / (Ho), oh_k = u0_ + nseg - n_k * (Ho);                        \
            seg_s[nseg] = s_;                                                                     \
            seg_b[nseg] = (n_k - n0) * (C) * (H) * (W) + (oh_k * (sh) - (ph)) * (W) + (w_ - s_) * (sw) - (pw); \
            seg_lo = nseg ? min(seg_lo, seg_b[nseg]) : seg_b[nseg];                               \
            seg_hi = nseg ? max(seg_hi, seg_b[nseg]) : seg_b[nseg];                               \
            s_ += (Wo) - w_;                                                                      \
        }                                                                                         \
        if (s_ < 16) nseg = 0;                                                                    \
        seg_hi += 16 * (sw);                                                                      \
    }
/* b[o.s0], ..., b[o.sf] */
#define GATHER16(b, o)                                                                            \
    (float16)((b)[(o).s0], (b)[(o).s1], (b)[(o).s2], (b)[(o).s3], (b)[(o).s4], (b)[(o).s5], (b)[(o).s6], \
              (b)[(o).s7], (b)[(o).s8], (b)[(o).s9], (b)[(o).sa], (b)[(o).sb], (b)[(o).sc], (b)[(o).sd], \
              (b)[(o).se], (b)[(o).sf])
/* 16 floats at stride sw (1 or 2) from q. The even lanes are picked one by one: Oclgrind 21.10's
 * uninitialized-value check crashes on the shuffle that .even compiles to at -O0; optimised, the
 * picks become that shuffle. */
inline float16 panel_even(float16 a, float16 b) {
    return (float16)(a.s0, a.s2, a.s4, a.s6, a.s8, a.sa, a.sc, a.se, b.s0, b.s2, b.s4, b.s6, b.s8, b.sa, b.sc, b.se);
}
#define PANEL_ROW(q, sw) ((sw) == 1 ? vload16(0, q) : panel_even(vload16(0, q), vload16(1, q)))
#define PANEL_CHANNEL(d, step, xb, xrel, total, KH, KW, H, W, dh, dw)                             \
    for (int kh_ = 0; kh_ < (KH); kh_++) {                                                        \
        int16 ih_ = ih0 + kh_ * (dh);                                                             \
        int16 rok_ = ih_ >= 0 && ih_ < (H);                                                       \
        for (int kw_ = 0; kw_ < (KW); kw_++, d += (step)) {                                       \
            int16 iw_ = iw0 + kw_ * (dw);                                                         \
            int16 ok_ = rok_ & (iw_ >= 0 && iw_ < (W));                                           \
            int t_ = kh_ * (dh) * (W) + kw_ * (dw);                                               \
            float16 v_;                                                                           \
            if (nseg && (xrel) + seg_lo + t_ >= 0 && (xrel) + seg_hi + t_ <= (total)) {           \
                v_ = PANEL_ROW(xb + seg_b[0] + t_, sw);                                           \
                for (int k_ = 1; k_ < nseg; k_++)                                                 \
                    v_ = select(v_, PANEL_ROW(xb + seg_b[k_] + t_, sw), lane_ >= seg_s[k_]);      \
            } else {                                                                              \
                v_ = GATHER16(xb, select((int16)0, img + ih_ * (W) + iw_, ok_));                  \
            }                                                                                     \
            vstore16(select((float16)0.0f, v_, ok_), 0, d);                                       \
        }                                                                                         \
    }
