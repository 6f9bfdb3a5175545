/* ref.h — plain double-precision C references for every op, used by test_ops (and bench
 * validation). Straightforward loops, no cleverness: they define what the kernels must compute.
 * Tensors are contiguous row-major arrays; shapes are given as (nd, s[]). */
#ifndef EBM_REF_H
#define EBM_REF_H
#include <stddef.h>

size_t ref_numel(int nd, const int *s);

/* f(x) for the engine's elementwise functions (fn: an ebm_fn_t, engine/ebm_ops.h) */
double ref_fn(int fn, double x, double a, double b);

/* broadcasting binary op (0 add, 1 sub, 2 mul, 3 div); out shape = broadcast shape */
void ref_binary(int op, const double *a, int na, const int *sa, const double *b, int nb, const int *sb, double *y,
                int ny, const int *sy);
/* sum (op 0) or max (op 1) of x down to shape st (same rank, axes equal or 1) */
void ref_reduce(int op, const double *x, int nd, const int *sx, const int *st, double *y);
void ref_expand(const double *x, int nd, const int *sx, const int *st, double *y);
void ref_softmax(const double *x, int nd, const int *s, int axis, double *y);
void ref_logsumexp(const double *x, int nd, const int *s, int axis, double *y);
void ref_permute(const double *x, int nd, const int *s, const int *perm, double *y);
void ref_slice(const double *x, int nd, const int *s, int axis, int start, int len, double *y);
void ref_slice_adjoint(const double *x, int nd, const int *sx, int axis, int start, const int *sy, double *y);

/* C = op(A) op(B), batch of bt (A: rows x cols as stored) */
void ref_matmul(const double *a, int ar, int ac, const double *b, int br, int bc, int ta, int tb, int bt, double *y);

typedef struct { int sh, sw, ph, pw, dh, dw; } ref_conv_t;
int ref_conv_out(int in, int k, int s, int p, int d);
/* x (N,C,H,W), w (O,C,KH,KW) -> y (N,O,Ho,Wo) */
void ref_conv2d(const double *x, int N, int C, int H, int W, const double *w, int O, int KH, int KW, ref_conv_t p, double *y);
/* adjoint in x: g (N,O,Ho,Wo) -> x (N,C,H,W) */
void ref_conv2d_igrad(const double *g, int N, int O, int H, int W, const double *w, int C, int KH, int KW, ref_conv_t p, double *x);
/* adjoint in w: x, g -> w (O,C,KH,KW) */
void ref_conv2d_wgrad(const double *x, int N, int C, int H, int W, const double *g, int O, int KH, int KW, ref_conv_t p, double *w);
/* one output element of each (for validating large shapes) */
double ref_conv2d_at(const double *x, int N, int C, int H, int W, const double *w, int O, int KH, int KW, ref_conv_t p, int n, int o, int oh, int ow);

void ref_avgpool(const double *x, int P, int H, int W, int k, int s, int p, double *y);
void ref_upsample_nearest(const double *x, int P, int H, int W, int s, double *y);
void ref_upsample_bilinear(const double *x, int P, int H, int W, int s, double *y);
/* adjoints by transposing the forward map (applied to unit vectors: slow, for tests only) */
void ref_adjoint(void (*fwd)(const double *, int, int, int, int, int, int, double *), const double *g, int P, int H, int W,
                 int Ho, int Wo, int k, int s, int p, double *x);

/* normalisation over the axes in mask (biased var) with eps; the composites build on it */
void ref_normalize(const double *x, int nd, const int *s, unsigned mask, double eps, double *y);
void ref_weight_standardize(const double *w, int O, int fan, double eps, double *y);
/* w / sigma with sigma from n_iter power iterations starting at u (u updated) */
void ref_spectral_norm(const double *w, int O, int fan, double *u, int n_iter, double eps, double *y);
void ref_pairwise_sqdist(const double *a, int N, const double *b, int M, int D, double *y);
/* augmentation transitions (engine/ebm_augment.h): x (B, C, H, W), per-sample parameters p
 * (B * 12, layout in cl/augment.cl) -> y; blur kernel side k */
void ref_augment(const double *x, int B, int C, int H, int W, const float *p, int k, double *y);
#endif
