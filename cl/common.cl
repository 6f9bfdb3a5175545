/* common.cl — prepended to every program. OpenCL C 1.2, no extensions required.
 * EBM_WG (work-group size of 1-D launches, a power of two: the tree reductions of optim.cl and
 * reduce.cl refuse others) comes from the host as a -D option. */
#ifndef EBM_WG
#define EBM_WG 256
#endif

/* Element index of a 4-D position (i0..i3) with strides s. */
#define IDX4(i0, i1, i2, i3, s0, s1, s2, s3) ((long)(i0) * (s0) + (long)(i1) * (s1) + (long)(i2) * (s2) + (long)(i3) * (s3))
