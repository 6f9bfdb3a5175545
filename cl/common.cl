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
