/* test_ops.c — one table-driven test of every op against its double-precision reference.
 *
 *   test_ops [test|grad|grad1|grad2|perf] [-o op1,op2] [-d device] [--csv FILE] [--part K/N]
 *
 * test   forward vs ref.c
 * grad   first derivatives (engine's reverse mode) vs central differences of the double reference
 * grad1  the same with the forward recorded for first derivatives only (ebm_grad_set_first_order: an
 *        activation in a convolution's store keeps f'(z) in place of z), also the conv2d_act_fn rows
 *        (more functions there); a graph of those gradients must then be refused with a clear
 *        error where a first-order node was recorded, and under EBM_CONV=implicit or tile (where
 *        that path runs) at least one must be
 * grad2  derivatives of a derivative (create_graph) vs nested central differences of the reference:
 *        with L = <w, f(x)> and M = <v, dL/dx>, checks dM/dx and dM/dw
 * perf   validates, then times conv2d / matmul at the reference workload shapes (bench/ops)
 * --part K/N runs the K-th of N consecutive slices of the case table (1 <= K <= N <= the number of
 * cases; not in perf), so that a checker whose cost grows with the memory a process has held
 * (tests/oclgrind.sh --uninitialized) can take the table in several processes; a slice that -o
 * leaves empty is skipped (77)
 *
 * Tolerance (test/grad/grad2): max|engine - ref| / max|ref| <= eps32 * (U + 8 sqrt(K)) * S, with
 *   eps32 = 2^-23, the float32 unit roundoff;
 *   U     the ULP allowance OpenCL 1.2 gives the builtins an op uses (4 by default: exp/log are
 *         3 ulp, division 2.5; 16 where pow() is used);
 *   K     the longest sum inside the op (1 for elementwise, C*kH*kW for conv, the reduced count
 *         for reductions) — float summation error grows like sqrt(K) for random-sign data;
 *   S     rounding stages: 1 forward, 3 for a first derivative (forward, incoming gradient,
 *         backward op), 6 for a second derivative (the first-derivative graph differentiated).
 * Finite differences are taken in double (h = 1e-5; nested 1e-4), whose error (~1e-9 relative)
 * is negligible against these bounds. Inputs of ops with kinks keep a margin of 0.05 from them.
 * Every buffer carries sentinel floats past its end (ebm_debug_set_guards); an op that writes
 * past its output fails the case. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "ebm.h"
#include "ref.h"

#define EPS32 1.1920928955078125e-07
#define MAXIN 4

/* D_SPIKED: D_ANY plus 3 (alternating in sign) on the first of the leading axis' rows, a rank-one
 * term that makes the top singular value of the (rows, rest) matrix about 3*sqrt(rest), several times
 * the random part's (spectral_norm's power iteration then converges whatever the seed) */
enum { D_ANY = 0, D_POS, D_AWAY0, D_AWAY_HALF, D_UNIT, D_SPIKED };
enum { F_NO_GRAD = 1, F_NO_GRAD2 = 2, F_GRAD1_ONLY = 4 };

typedef struct op_case op_case_t;
typedef ebm_tensor_t *(*build_fn)(const op_case_t *c, ebm_tensor_t **in);
/* Writes the reference output; with out == NULL only the shape. */
typedef void (*ref_fn_t)(const op_case_t *c, double *const *in, double *out, int *ond, int *oshape);

struct op_case {
    const char *op;
    int n_in;
    int nd[MAXIN];
    int shape[MAXIN][4];
    int domain[MAXIN];
    unsigned nodiff;      /* bit i: input i is not differentiated (state, indices) */
    build_fn build;
    ref_fn_t ref;
    int ip[8];
    double fp[4];
    int K;
    int U;                /* 0: default 4 */
    unsigned flags;
    const char *why;      /* reason for a flag or an unusual U */
};

/* ------------------------------------------------------------------------------------------ */
/* builders and references                                                                    */

#define SH(c, i) (c)->nd[i], (c)->shape[i]

static ebm_tensor_t *b_unary(const op_case_t *c, ebm_tensor_t **in) {
    return ebm_unary(in[0], (ebm_fn_t)c->ip[0], 0, (float)c->fp[0], (float)c->fp[1]);
}
static void r_unary(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    *ond = c->nd[0];
    memcpy(os, c->shape[0], sizeof c->shape[0]);
    if (!out) return;
    size_t n = ref_numel(SH(c, 0));
    for (size_t i = 0; i < n; i++) out[i] = ref_fn(c->ip[0], in[0][i], c->fp[0], c->fp[1]);
}

static ebm_tensor_t *b_binary(const op_case_t *c, ebm_tensor_t **in) {
    switch (c->ip[0]) {
    case 0: return ebm_add(in[0], in[1]);
    case 1: return ebm_sub(in[0], in[1]);
    case 2: return ebm_mul(in[0], in[1]);
    default: return ebm_div(in[0], in[1]);
    }
}
static void bcast(const op_case_t *c, int *nd, int *s) {
    int n = c->nd[0] > c->nd[1] ? c->nd[0] : c->nd[1];
    for (int i = 0; i < n; i++) {
        int ia = i - (n - c->nd[0]), ib = i - (n - c->nd[1]);
        int da = ia >= 0 ? c->shape[0][ia] : 1, db = ib >= 0 ? c->shape[1][ib] : 1;
        s[i] = da > db ? da : db;
    }
    *nd = n;
}
static void r_binary(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    bcast(c, ond, os);
    if (out) ref_binary(c->ip[0], in[0], SH(c, 0), in[1], SH(c, 1), out, *ond, os);
}

/* reductions: ip[0] = axes mask, ip[1] = keepdim, ip[2] = 0 sum, 1 mean */
static ebm_tensor_t *b_reduce(const op_case_t *c, ebm_tensor_t **in) {
    return c->ip[2] ? ebm_mean(in[0], (unsigned)c->ip[0], c->ip[1]) : ebm_sum(in[0], (unsigned)c->ip[0], c->ip[1]);
}
static void r_reduce(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    int t[4], n = 0;
    size_t cnt = 1;
    for (int i = 0; i < c->nd[0]; i++) {
        int red = (c->ip[0] >> i) & 1;
        t[i] = red ? 1 : c->shape[0][i];
        if (red) cnt *= (size_t)c->shape[0][i];
        if (!red || c->ip[1]) os[n++] = t[i];
    }
    if (!n) os[n++] = 1;
    *ond = n;
    if (!out) return;
    ref_reduce(0, in[0], SH(c, 0), t, out);
    if (c->ip[2])
        for (size_t i = 0; i < ref_numel(c->nd[0], t); i++) out[i] /= (double)cnt;
}

/* expand: target shape in ip[0..3] (rank nd[0]) */
static ebm_tensor_t *b_expand(const op_case_t *c, ebm_tensor_t **in) { return ebm_expand(in[0], c->nd[0], c->ip); }
static void r_expand(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    *ond = c->nd[0];
    memcpy(os, c->ip, 4 * sizeof(int));
    if (out) ref_expand(in[0], SH(c, 0), c->ip, out);
}

static ebm_tensor_t *b_max_to(const op_case_t *c, ebm_tensor_t **in) { return ebm_max_to(in[0], c->nd[0], c->ip); }
static void r_max_to(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    *ond = c->nd[0];
    memcpy(os, c->ip, 4 * sizeof(int));
    if (out) ref_reduce(1, in[0], SH(c, 0), c->ip, out);
}

static ebm_tensor_t *b_softmax(const op_case_t *c, ebm_tensor_t **in) { return ebm_softmax(in[0], c->ip[0]); }
static void r_softmax(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    *ond = c->nd[0];
    memcpy(os, c->shape[0], sizeof c->shape[0]);
    if (out) ref_softmax(in[0], SH(c, 0), c->ip[0], out);
}

static ebm_tensor_t *b_logsumexp(const op_case_t *c, ebm_tensor_t **in) { return ebm_logsumexp(in[0], c->ip[0], 1); }
static void r_logsumexp(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    *ond = c->nd[0];
    memcpy(os, c->shape[0], sizeof c->shape[0]);
    os[c->ip[0]] = 1;
    if (out) ref_logsumexp(in[0], SH(c, 0), c->ip[0], out);
}

static ebm_tensor_t *b_permute(const op_case_t *c, ebm_tensor_t **in) { return ebm_permute(in[0], c->ip); }
static void r_permute(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    *ond = c->nd[0];
    for (int i = 0; i < c->nd[0]; i++) os[i] = c->shape[0][c->ip[i]];
    if (out) ref_permute(in[0], SH(c, 0), c->ip, out);
}

/* reshape to ip[1..] of rank ip[0], then multiply by itself so the op has curvature */
static ebm_tensor_t *b_reshape(const op_case_t *c, ebm_tensor_t **in) { return ebm_reshape(in[0], c->ip[0], c->ip + 1); }
static void r_reshape(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    *ond = c->ip[0];
    memcpy(os, c->ip + 1, 4 * sizeof(int));
    if (out) memcpy(out, in[0], ref_numel(SH(c, 0)) * sizeof(double));
}

static ebm_tensor_t *b_slice(const op_case_t *c, ebm_tensor_t **in) { return ebm_slice(in[0], c->ip[0], c->ip[1], c->ip[2]); }
static void r_slice(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    *ond = c->nd[0];
    memcpy(os, c->shape[0], sizeof c->shape[0]);
    os[c->ip[0]] = c->ip[2];
    if (out) ref_slice(in[0], SH(c, 0), c->ip[0], c->ip[1], c->ip[2], out);
}

/* slice_adjoint: axis ip[0], start ip[1], output extent along the axis ip[2] */
static ebm_tensor_t *b_slice_adj(const op_case_t *c, ebm_tensor_t **in) {
    int s[4];
    memcpy(s, c->shape[0], sizeof s);
    s[c->ip[0]] = c->ip[2];
    return ebm_slice_adjoint(in[0], c->ip[0], c->ip[1], c->nd[0], s);
}
static void r_slice_adj(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    *ond = c->nd[0];
    memcpy(os, c->shape[0], sizeof c->shape[0]);
    os[c->ip[0]] = c->ip[2];
    if (out) ref_slice_adjoint(in[0], SH(c, 0), c->ip[0], c->ip[1], os, out);
}

static ebm_tensor_t *b_concat(const op_case_t *c, ebm_tensor_t **in) { return ebm_concat(in, c->n_in, c->ip[0]); }
static void r_concat(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    int ax = c->ip[0];
    *ond = c->nd[0];
    memcpy(os, c->shape[0], sizeof c->shape[0]);
    for (int i = 1; i < c->n_in; i++) os[ax] += c->shape[i][ax];
    if (!out) return;
    int start = 0;
    double *tmp = malloc(ref_numel(*ond, os) * sizeof *tmp);
    memset(out, 0, ref_numel(*ond, os) * sizeof *out);
    for (int i = 0; i < c->n_in; i++) {
        ref_slice_adjoint(in[i], SH(c, i), ax, start, os, tmp);
        for (size_t k = 0; k < ref_numel(*ond, os); k++) out[k] += tmp[k];
        start += c->shape[i][ax];
    }
    free(tmp);
}

/* matmul: ip[0] ta, ip[1] tb */
static ebm_tensor_t *b_matmul(const op_case_t *c, ebm_tensor_t **in) { return ebm_matmul(in[0], in[1], c->ip[0], c->ip[1]); }
static void r_matmul(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    int o = c->nd[0] - 2, ta = c->ip[0], tb = c->ip[1];
    int ar = c->shape[0][o], ac = c->shape[0][o + 1], br = c->shape[1][o], bc = c->shape[1][o + 1];
    *ond = c->nd[0];
    if (o) os[0] = c->shape[0][0];
    os[o] = ta ? ac : ar;
    os[o + 1] = tb ? br : bc;
    if (out) ref_matmul(in[0], ar, ac, in[1], br, bc, ta, tb, o ? c->shape[0][0] : 1, out);
}

static ebm_tensor_t *b_linear(const op_case_t *c, ebm_tensor_t **in) {
    (void)c;
    return ebm_linear(in[0], in[1], in[2]);
}
static void r_linear(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    int B = c->shape[0][0], I = c->shape[0][1], O = c->shape[1][0];
    *ond = 2;
    os[0] = B;
    os[1] = O;
    if (!out) return;
    ref_matmul(in[0], B, I, in[1], O, I, 0, 1, 1, out);
    for (int b = 0; b < B; b++)
        for (int o = 0; o < O; o++) out[b * O + o] += in[2][o];
}

/* convolution family: ip = stride, pad, dilation (square) */
static ebm_conv2d_params_t conv_p(const op_case_t *c) {
    return (ebm_conv2d_params_t){c->ip[0], c->ip[0], c->ip[1], c->ip[1], c->ip[2], c->ip[2]};
}
static ref_conv_t conv_r(const op_case_t *c) { return (ref_conv_t){c->ip[0], c->ip[0], c->ip[1], c->ip[1], c->ip[2], c->ip[2]}; }

static ebm_tensor_t *b_conv(const op_case_t *c, ebm_tensor_t **in) {
    return ebm_conv2d(in[0], in[1], c->n_in > 2 ? in[2] : NULL, conv_p(c));
}
static void r_conv(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    const int *x = c->shape[0], *w = c->shape[1];
    ref_conv_t p = conv_r(c);
    int Ho = ref_conv_out(x[2], w[2], p.sh, p.ph, p.dh), Wo = ref_conv_out(x[3], w[3], p.sw, p.pw, p.dw);
    *ond = 4;
    os[0] = x[0], os[1] = w[0], os[2] = Ho, os[3] = Wo;
    if (!out) return;
    ref_conv2d(in[0], x[0], x[1], x[2], x[3], in[1], w[0], w[2], w[3], p, out);
    if (c->n_in > 2)
        for (size_t i = 0; i < ref_numel(4, os); i++) out[i] += in[2][(i / ((size_t)Ho * Wo)) % (size_t)w[0]];
}

/* f(conv2d(x, w, b)), f = ip[5] with a = fp[0]: fused into the tile GEMM's store where that path runs */
static ebm_tensor_t *b_conv_act(const op_case_t *c, ebm_tensor_t **in) {
    return ebm_conv2d_act(in[0], in[1], c->n_in > 2 ? in[2] : NULL, conv_p(c), (ebm_fn_t)c->ip[5], (float)c->fp[0]);
}
static void r_conv_act(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    r_conv(c, in, out, ond, os);
    if (out)
        for (size_t i = 0; i < ref_numel(4, os); i++) out[i] = ref_fn(c->ip[5], out[i], c->fp[0], 0.0);
}

/* conv2d(f(conv2d(x, w1, b1)), w2) (3x3, stride 1, pad 1) and the spatial mean of f(conv2d(x, w, b)):
 * an activation applied in a convolution's store whose one consumer is a convolution or a global
 * average pool, whose backward (grad1: a first-order node's x^2/2 on the stored f'(z)) multiplies in
 * the input gradient's store or the pool's expand_mul; f = ip[5] with a = fp[0] */
static ebm_tensor_t *b_conv_act_conv(const op_case_t *c, ebm_tensor_t **in) {
    return ebm_conv2d(b_conv_act(c, in), in[3], NULL, EBM_CONV2D(1, 1));
}
/* f(conv2d(x, w1, b1)) of r_conv_act, its shape in s1; with want, its values (malloc'd) */
static double *conv_act_values(const op_case_t *c, double *const *in, int *s1, int want) {
    int n1;
    r_conv_act(c, in, NULL, &n1, s1);
    double *y1 = want ? malloc(ref_numel(4, s1) * sizeof *y1) : NULL;
    if (y1) r_conv_act(c, in, y1, &n1, s1);
    return y1;
}
static void r_conv_act_conv(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    int s1[4];
    double *y1 = conv_act_values(c, in, s1, out != NULL);
    const int *w2 = c->shape[3];
    *ond = 4;
    os[0] = s1[0], os[1] = w2[0], os[2] = s1[2], os[3] = s1[3];
    if (y1) ref_conv2d(y1, s1[0], s1[1], s1[2], s1[3], in[3], w2[0], w2[2], w2[3], (ref_conv_t){1, 1, 1, 1, 1, 1}, out);
    free(y1);
}
static ebm_tensor_t *b_conv_act_mean(const op_case_t *c, ebm_tensor_t **in) { return ebm_mean(b_conv_act(c, in), 0xCu, 0); }
static void r_conv_act_mean(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    int s1[4];
    double *y1 = conv_act_values(c, in, s1, out != NULL);
    *ond = 2;
    os[0] = s1[0], os[1] = s1[1];
    if (y1) {
        ref_reduce(0, y1, 4, s1, (int[]){s1[0], s1[1], 1, 1}, out);
        for (int r = 0; r < s1[0] * s1[1]; r++) out[r] /= (double)s1[2] * s1[3];
    }
    free(y1);
}

/* conv2d(f(x), w), f = ip[5] with a = fp[0]: an activation whose one consumer is a convolution, so
 * that (grad mode: a gradient without a graph) the input gradient's store applies f'(x) itself
 * (engine/autograd.c, ebm_grad_fuse_offer) instead of a separate pass */
static ebm_tensor_t *b_conv_of_act(const op_case_t *c, ebm_tensor_t **in) {
    return ebm_conv2d(ebm_unary(in[0], (ebm_fn_t)c->ip[5], 0, (float)c->fp[0], (float)c->fp[1]), in[1], NULL, conv_p(c));
}
static void r_conv_of_act(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    size_t n = ref_numel(4, c->shape[0]);
    double *fx = out ? malloc(n * sizeof *fx) : NULL;
    for (size_t i = 0; fx && i < n; i++) fx[i] = ref_fn(c->ip[5], in[0][i], c->fp[0], c->fp[1]);
    double *const fin[2] = {fx, in[1]};
    r_conv(c, fin, out, ond, os);
    free(fx);
}

/* input-grad: in0 = g (N,O,Ho,Wo), in1 = w; ip[3], ip[4] = H, W */
static ebm_tensor_t *b_igrad(const op_case_t *c, ebm_tensor_t **in) {
    return ebm_conv2d_input_grad(in[0], in[1], c->ip[3], c->ip[4], conv_p(c));
}
static void r_igrad(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    const int *g = c->shape[0], *w = c->shape[1];
    *ond = 4;
    os[0] = g[0], os[1] = w[1], os[2] = c->ip[3], os[3] = c->ip[4];
    if (out) ref_conv2d_igrad(in[0], g[0], g[1], c->ip[3], c->ip[4], in[1], w[1], w[2], w[3], conv_r(c), out);
}

/* weight-grad: in0 = x, in1 = g; ip[3], ip[4] = KH, KW */
static ebm_tensor_t *b_wgrad(const op_case_t *c, ebm_tensor_t **in) {
    return ebm_conv2d_weight_grad(in[0], in[1], c->ip[3], c->ip[4], conv_p(c));
}
static void r_wgrad(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    const int *x = c->shape[0], *g = c->shape[1];
    *ond = 4;
    os[0] = g[1], os[1] = x[1], os[2] = c->ip[3], os[3] = c->ip[4];
    if (out) ref_conv2d_wgrad(in[0], x[0], x[1], x[2], x[3], in[1], g[1], c->ip[3], c->ip[4], conv_r(c), out);
}

/* transposed conv: x (N,Cin,H,W), w (Cin,Cout,k,k), b; ip[3] = output padding */
static ebm_tensor_t *b_convt(const op_case_t *c, ebm_tensor_t **in) {
    return ebm_conv_transpose2d(in[0], in[1], in[2], conv_p(c), c->ip[3], c->ip[3]);
}
static void r_convt(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    const int *x = c->shape[0], *w = c->shape[1];
    ref_conv_t p = conv_r(c);
    int H = (x[2] - 1) * p.sh - 2 * p.ph + p.dh * (w[2] - 1) + c->ip[3] + 1;
    int W = (x[3] - 1) * p.sw - 2 * p.pw + p.dw * (w[3] - 1) + c->ip[3] + 1;
    *ond = 4;
    os[0] = x[0], os[1] = w[1], os[2] = H, os[3] = W;
    if (!out) return;
    ref_conv2d_igrad(in[0], x[0], x[1], H, W, in[1], w[1], w[2], w[3], p, out);
    for (size_t i = 0; i < ref_numel(4, os); i++) out[i] += in[2][(i / ((size_t)H * W)) % (size_t)w[1]];
}

/* resampling: ip[0] kind (0 avgpool, 1 nearest, 2 bilinear), ip[1] k/scale, ip[2] s, ip[3] p */
static ebm_tensor_t *b_resample(const op_case_t *c, ebm_tensor_t **in) {
    if (c->ip[0] == 0) return ebm_avg_pool2d(in[0], c->ip[1], c->ip[2], c->ip[3]);
    return c->ip[0] == 1 ? ebm_upsample_nearest(in[0], c->ip[1]) : ebm_upsample_bilinear(in[0], c->ip[1]);
}
static void fwd_avg(const double *x, int P, int H, int W, int k, int s, int p, double *y) { ref_avgpool(x, P, H, W, k, s, p, y); }
static void r_resample(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    const int *x = c->shape[0];
    int P = x[0] * x[1], k = c->ip[1];
    *ond = 4;
    os[0] = x[0], os[1] = x[1];
    if (c->ip[0] == 0) {
        os[2] = (x[2] + 2 * c->ip[3] - k) / c->ip[2] + 1;
        os[3] = (x[3] + 2 * c->ip[3] - k) / c->ip[2] + 1;
    } else {
        os[2] = x[2] * k;
        os[3] = x[3] * k;
    }
    if (!out) return;
    if (c->ip[0] == 0) fwd_avg(in[0], P, x[2], x[3], k, c->ip[2], c->ip[3], out);
    else if (c->ip[0] == 1) ref_upsample_nearest(in[0], P, x[2], x[3], k, out);
    else ref_upsample_bilinear(in[0], P, x[2], x[3], k, out);
    (void)ref_adjoint;
}

/* norms: ip[0] kind (0 batch-train, 1 batch-eval, 2 instance, 3 group(ip[1]), 4 layer(ip[1] axes)) */
static ebm_tensor_t *b_norm(const op_case_t *c, ebm_tensor_t **in) {
    float eps = (float)c->fp[0];
    switch (c->ip[0]) {
    case 0: return ebm_batch_norm(in[0], in[1], in[2], NULL, NULL, 1, 0.1f, eps);
    case 1: return ebm_batch_norm(in[0], in[1], in[2], in[3], c->n_in > 4 ? NULL : in[3], 0, 0.1f, eps);
    case 2: return ebm_instance_norm(in[0], in[1], in[2], eps);
    case 3: return ebm_group_norm(in[0], c->ip[1], in[1], in[2], eps);
    default: return ebm_layer_norm(in[0], c->ip[1], in[1], in[2], eps);
    }
}
static void r_norm(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    const int *s = c->shape[0];
    int nd = c->nd[0];
    *ond = nd;
    memcpy(os, s, 4 * sizeof(int));
    if (!out) return;
    size_t n = ref_numel(nd, s);
    double eps = c->fp[0];
    int C = s[1], inner = nd == 4 ? s[2] * s[3] : 1;
    switch (c->ip[0]) {
    case 0: ref_normalize(in[0], nd, s, nd == 4 ? 0xDu : 0x1u, eps, out); break;
    case 1: /* eval: running mean in3[c] and var in3[c]^2 + 0.5 (positive) */
        for (size_t i = 0; i < n; i++) {
            int ch = (int)((i / inner) % C);
            double var = in[3][ch] * in[3][ch] + 0.5;
            out[i] = (in[0][i] - in[3][ch]) / sqrt(var + eps);
        }
        break;
    case 2: ref_normalize(in[0], 4, s, 0xCu, eps, out); break;
    case 3: {
        int g3[3] = {s[0], c->ip[1], (int)(n / (size_t)(s[0] * c->ip[1]))};
        ref_normalize(in[0], 3, g3, 0x4u, eps, out);
        break;
    }
    default: {
        unsigned mask = 0;
        for (int i = nd - c->ip[1]; i < nd; i++) mask |= 1u << i;
        ref_normalize(in[0], nd, s, mask, eps, out);
        size_t m = ref_numel(c->ip[1], s + nd - c->ip[1]);
        for (size_t i = 0; i < n; i++) out[i] = out[i] * in[1][i % m] + in[2][i % m];
        return;
    }
    }
    for (size_t i = 0; i < n; i++) {
        int ch = (int)((i / inner) % C);
        out[i] = out[i] * in[1][ch] + in[2][ch];
    }
}

/* batch-norm eval needs var = m^2 + 0.5 from the one "running" input: build it on the device */
static ebm_tensor_t *b_bn_eval(const op_case_t *c, ebm_tensor_t **in) {
    ebm_tensor_t *rm = ebm_detach(in[3]);
    ebm_tensor_t *rv = ebm_add_scalar(ebm_square(rm), 0.5f);
    return ebm_batch_norm(in[0], in[1], in[2], rm, rv, 0, 0.1f, (float)c->fp[0]);
}

static ebm_tensor_t *b_wstd(const op_case_t *c, ebm_tensor_t **in) { return ebm_weight_standardize(in[0], (float)c->fp[0]); }
static void r_wstd(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    *ond = c->nd[0];
    memcpy(os, c->shape[0], sizeof c->shape[0]);
    int O = c->shape[0][0];
    if (out) ref_weight_standardize(in[0], O, (int)(ref_numel(SH(c, 0)) / O), c->fp[0], out);
}

/* spectral norm: u starts at a fixed unit vector; ip[0] iterations */
static ebm_tensor_t *b_specnorm(const op_case_t *c, ebm_tensor_t **in) {
    int O = c->shape[0][0];
    float *u = malloc(sizeof(float) * O);
    for (int i = 0; i < O; i++) u[i] = (float)(1.0 / sqrt((double)O)) * (i % 2 ? -1.0f : 1.0f);
    ebm_tensor_t *ut = ebm_tensor_from_host(ebm_tensor_ctx(in[0]), 1, &O, u);
    free(u);
    return ebm_spectral_norm(in[0], ut, c->ip[0], 1e-12f);
}
static void r_specnorm(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    *ond = c->nd[0];
    memcpy(os, c->shape[0], sizeof c->shape[0]);
    if (!out) return;
    int O = c->shape[0][0], fan = (int)(ref_numel(SH(c, 0)) / O);
    double *u = malloc(sizeof(double) * O);
    for (int i = 0; i < O; i++) u[i] = (double)((float)(1.0 / sqrt((double)O))) * (i % 2 ? -1.0 : 1.0);
    ref_spectral_norm(in[0], O, fan, u, c->ip[0], 1e-12, out);
    free(u);
}

/* self-attention: x, wq, wk, wv (biases zero-free: bq = bk = bv = NULL), gamma via fp[0] */
static ebm_tensor_t *b_attn(const op_case_t *c, ebm_tensor_t **in) {
    ebm_tensor_t *gamma = ebm_tensor_full(ebm_tensor_ctx(in[0]), 1, (int[]){1}, (float)c->fp[0]);
    return ebm_self_attention(in[0], in[1], NULL, in[2], NULL, in[3], NULL, gamma);
}
static void r_attn(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    const int *x = c->shape[0];
    int B = x[0], C = x[1], N = x[2] * x[3], C8 = c->shape[1][0];
    *ond = 4;
    memcpy(os, x, 4 * sizeof(int));
    if (!out) return;
    double *q = malloc(sizeof(double) * C8 * N), *k = malloc(sizeof(double) * C8 * N), *v = malloc(sizeof(double) * C * N),
           *e = malloc(sizeof(double) * N * N), *a = malloc(sizeof(double) * N * N);
    for (int b = 0; b < B; b++) {
        const double *xb = in[0] + (size_t)b * C * N;
        ref_matmul(in[1], C8, C, xb, C, N, 0, 0, 1, q);
        ref_matmul(in[2], C8, C, xb, C, N, 0, 0, 1, k);
        ref_matmul(in[3], C, C, xb, C, N, 0, 0, 1, v);
        ref_matmul(q, C8, N, k, C8, N, 1, 0, 1, e);
        ref_softmax(e, 2, (int[]){N, N}, 1, a);
        double *ob = out + (size_t)b * C * N;
        ref_matmul(v, C, N, a, N, N, 0, 1, 1, ob);
        for (int i = 0; i < C * N; i++) ob[i] = c->fp[0] * ob[i] + xb[i];
    }
    free(q), free(k), free(v), free(e), free(a);
}

static ebm_tensor_t *b_sqdist(const op_case_t *c, ebm_tensor_t **in) {
    (void)c;
    return ebm_pairwise_sqdist(in[0], in[1]);
}
static void r_sqdist(const op_case_t *c, double *const *in, double *out, int *ond, int *os) {
    *ond = 2;
    os[0] = c->shape[0][0];
    os[1] = c->shape[1][0];
    if (out) ref_pairwise_sqdist(in[0], os[0], in[1], os[1], c->shape[0][1], out);
}

/* ------------------------------------------------------------------------------------------ */
/* the table: a row per case; awkward sizes on purpose                                        */

#define S1(a) {a}
#define UN(name, fnc, dom, a, b, U, why) {name, 1, {2}, {{7, 93}}, {dom}, 0, b_unary, r_unary, {fnc}, {a, b}, 1, U, 0, why}
#define UN_(...) UN(__VA_ARGS__)

/* The test settings of each elementwise function of EBM_FNS (engine/ebm_ops.h): input domain, a, b,
 * ULP allowance (0: the default) and why. Its row comes from the table (FN_ROW), so a function
 * without its line here does not compile. */
#define T_AFFINE D_ANY, 1.5, -0.25, 0, NULL
#define T_POW D_ANY, 3.0, 0, 0, NULL
#define T_EXP D_ANY, 0, 0, 0, NULL
#define T_LOG D_POS, 0, 0, 0, NULL
#define T_SIGMOID D_ANY, 0, 0, 0, NULL
#define T_TANH D_ANY, 0, 0, 0, NULL
#define T_SOFTPLUS D_ANY, 0, 0, 0, NULL
#define T_SWISH D_ANY, 0, 0, 0, NULL
#define T_RELU D_AWAY0, 0, 0, 0, NULL
#define T_LEAKY_RELU D_AWAY0, 0.2, 0, 0, NULL
#define T_ELU D_AWAY0, 1.0, 0, 0, NULL
#define T_CLAMP D_AWAY_HALF, -0.5, 0.5, 0, NULL
#define T_GELU D_ANY, 0, 0, 16, "erf() is 16 ulp in OpenCL 1.2"
#define T_HALF_SQUARE D_ANY, 0, 0, 0, NULL
#define FN_ROW(id, name) UN_(name, EBM_FN_##id, T_##id),
/* conv2d(f(x), w) per function: each one's vector derivative in the convolutions' stores (fn_*_d16) */
#define COA(name, fnc, dom, a, b, U, why)                                                                          \
    {"conv2d_of_act", 2, {4, 4}, {{2, 3, 6, 5}, {4, 3, 3, 3}}, {dom, D_ANY}, 0, b_conv_of_act, r_conv_of_act,     \
     {2, 1, 1, 0, 0, fnc}, {a, b}, 27, (U) > 8 ? (U) : 8, 0, why},
#define COA_(...) COA(__VA_ARGS__)
#define COA_ROW(id, name) COA_(name, EBM_FN_##id, T_##id)

static const op_case_t cases[] = {
    /* elementwise functions (f, f', f'' through derivative orders): one row per function, then more
     * cases of some */
    EBM_FNS(FN_ROW)
    {"pow", 1, {2}, {{7, 93}}, {D_POS}, 0, b_unary, r_unary, {EBM_FN_POW}, {-0.5}, 1, 0, 0, NULL},
    {"pow", 1, {2}, {{7, 93}}, {D_POS}, 0, b_unary, r_unary, {EBM_FN_POW}, {1.7}, 1, 16, 0, "general exponents use pow(), 16 ulp in OpenCL 1.2"},
    {"sigmoid", 1, {2}, {{7, 93}}, {D_ANY}, 0, b_unary, r_unary, {EBM_FN_SIGMOID}, {0, 0, 8.0}, 1, 0, 0, NULL},
    /* binary with broadcasting */
    {"add", 2, {2, 2}, {{7, 93}, {7, 93}}, {D_ANY, D_ANY}, 0, b_binary, r_binary, {0}, {0}, 1, 0, 0, NULL},
    {"add", 2, {4, 3}, {{2, 5, 3, 7}, {5, 1, 1}}, {D_ANY, D_ANY}, 0, b_binary, r_binary, {0}, {0}, 42, 0, 0, NULL},
    {"sub", 2, {3, 2}, {{3, 7, 11}, {1, 11}}, {D_ANY, D_ANY}, 0, b_binary, r_binary, {1}, {0}, 21, 0, 0, NULL},
    {"mul", 2, {4, 4}, {{2, 3, 5, 7}, {2, 1, 5, 1}}, {D_ANY, D_ANY}, 0, b_binary, r_binary, {2}, {0}, 21, 0, 0, NULL},
    {"div", 2, {3, 3}, {{4, 9, 7}, {4, 9, 1}}, {D_ANY, D_POS}, 0, b_binary, r_binary, {3}, {0}, 7, 0, 0, NULL},
    /* reductions */
    {"sum", 1, {3}, {{5, 7, 93}}, {D_ANY}, 0, b_reduce, r_reduce, {0x4, 0, 0}, {0}, 93, 0, 0, NULL},
    {"sum", 1, {4}, {{3, 5, 7, 9}}, {D_ANY}, 0, b_reduce, r_reduce, {0xD, 1, 0}, {0}, 189, 0, 0, NULL},
    {"sum", 1, {2}, {{144, 93}}, {D_ANY}, 0, b_reduce, r_reduce, {0x3, 0, 0}, {0}, 13392, 0, 0, NULL},
    {"mean", 1, {4}, {{2, 3, 7, 9}}, {D_ANY}, 0, b_reduce, r_reduce, {0xC, 1, 1}, {0}, 63, 0, 0, NULL},
    {"expand", 1, {3}, {{5, 1, 7}}, {D_ANY}, 0, b_expand, r_expand, {5, 6, 7}, {0}, 6, 0, 0, NULL},
    {"max_to", 1, {3}, {{5, 6, 7}}, {D_ANY}, 0, b_max_to, r_max_to, {5, 1, 7}, {0}, 1, 0, F_NO_GRAD,
     "max_to has no gradient by design (a constant shift inside softmax/logsumexp)"},
    {"max_to", 1, {3}, {{2, 3, 401}}, {D_ANY}, 0, b_max_to, r_max_to, {2, 3, 1}, {0}, 1, 0, F_NO_GRAD,
     "max_to has no gradient by design; a long contiguous axis with a partial last vector"},
    {"softmax", 1, {3}, {{3, 5, 17}}, {D_ANY}, 0, b_softmax, r_softmax, {2}, {0}, 17, 0, 0, NULL},
    {"softmax", 1, {3}, {{3, 5, 17}}, {D_ANY}, 0, b_softmax, r_softmax, {1}, {0}, 5, 0, 0, NULL},
    {"logsumexp", 1, {2}, {{7, 93}}, {D_ANY}, 0, b_logsumexp, r_logsumexp, {1}, {0}, 93, 0, 0, NULL},
    /* shape */
    {"reshape", 1, {3}, {{2, 6, 5}}, {D_ANY}, 0, b_reshape, r_reshape, {2, 4, 15}, {0}, 1, 0, 0, NULL},
    {"permute", 1, {4}, {{2, 3, 5, 7}}, {D_ANY}, 0, b_permute, r_permute, {2, 0, 3, 1}, {0}, 1, 0, 0, NULL},
    {"slice", 1, {3}, {{4, 9, 5}}, {D_ANY}, 0, b_slice, r_slice, {1, 2, 5}, {0}, 1, 0, 0, NULL},
    {"slice_adjoint", 1, {3}, {{4, 3, 5}}, {D_ANY}, 0, b_slice_adj, r_slice_adj, {1, 2, 9}, {0}, 1, 0, 0, NULL},
    {"concat", 3, {4, 4, 4}, {{2, 3, 4, 5}, {2, 1, 4, 5}, {2, 4, 4, 5}}, {D_ANY, D_ANY, D_ANY}, 0, b_concat, r_concat, {1}, {0}, 1, 0, 0, NULL},
    /* linear algebra */
    {"matmul", 2, {2, 2}, {{7, 33}, {33, 9}}, {D_ANY, D_ANY}, 0, b_matmul, r_matmul, {0, 0}, {0}, 33, 0, 0, NULL},
    {"matmul", 2, {2, 2}, {{7, 33}, {9, 33}}, {D_ANY, D_ANY}, 0, b_matmul, r_matmul, {0, 1}, {0}, 33, 0, 0, NULL},
    {"matmul", 2, {2, 2}, {{33, 7}, {33, 9}}, {D_ANY, D_ANY}, 0, b_matmul, r_matmul, {1, 0}, {0}, 33, 0, 0, NULL},
    {"matmul", 2, {2, 2}, {{33, 7}, {9, 33}}, {D_ANY, D_ANY}, 0, b_matmul, r_matmul, {1, 1}, {0}, 33, 0, 0, NULL},
    {"matmul", 2, {3, 3}, {{3, 5, 11}, {3, 11, 6}}, {D_ANY, D_ANY}, 0, b_matmul, r_matmul, {0, 0}, {0}, 11, 0, 0, NULL},
    {"linear", 3, {2, 2, 1}, {{9, 13}, {7, 13}, {7}}, {D_ANY, D_ANY, D_ANY}, 0, b_linear, r_linear, {0}, {0}, 14, 0, 0, NULL},
    /* convolution */
    {"conv2d", 3, {4, 4, 1}, {{2, 3, 7, 9}, {5, 3, 3, 3}, {5}}, {D_ANY, D_ANY, D_ANY}, 0, b_conv, r_conv, {1, 1, 1}, {0}, 28, 0, 0, NULL},
    {"conv2d", 2, {4, 4}, {{3, 4, 9, 8}, {6, 4, 3, 3}}, {D_ANY, D_ANY}, 0, b_conv, r_conv, {2, 1, 1}, {0}, 36, 0, 0, NULL},
    {"conv2d", 2, {4, 4}, {{2, 2, 11, 10}, {3, 2, 5, 5}}, {D_ANY, D_ANY}, 0, b_conv, r_conv, {1, 2, 1}, {0}, 50, 0, 0, NULL},
    {"conv2d", 2, {4, 4}, {{1, 3, 9, 9}, {4, 3, 3, 3}}, {D_ANY, D_ANY}, 0, b_conv, r_conv, {1, 2, 2}, {0}, 27, 0, 0, NULL},
    {"conv2d", 2, {4, 4}, {{2, 5, 6, 7}, {4, 5, 1, 1}}, {D_ANY, D_ANY}, 0, b_conv, r_conv, {1, 0, 1}, {0}, 5, 0, 0, NULL},
    /* more channels than one 8-row tile: the tile and implicit paths' work-groups split the packing */
    {"conv2d", 3, {4, 4, 1}, {{2, 13, 9, 7}, {14, 13, 3, 3}, {14}}, {D_ANY, D_ANY, D_ANY}, 0, b_conv, r_conv, {2, 1, 1}, {0}, 118, 0, 0, NULL},
    /* large filters: the FFT path is a candidate for stride-1 convolutions with k >= 5 */
    {"conv2d", 3, {4, 4, 1}, {{2, 3, 9, 12}, {4, 3, 7, 7}, {4}}, {D_ANY, D_ANY, D_ANY}, 0, b_conv, r_conv, {1, 3, 1}, {0}, 147, 0, 0, NULL},
    {"conv2d", 2, {4, 4}, {{3, 2, 8, 9}, {3, 2, 5, 5}}, {D_ANY, D_ANY}, 0, b_conv, r_conv, {1, 0, 1}, {0}, 50, 0, 0, NULL},
    /* smooth activations only: finite differences across a kink would test the kink */
    {"conv2d_act", 3, {4, 4, 1}, {{2, 3, 7, 9}, {5, 3, 3, 3}, {5}}, {D_ANY, D_ANY, D_ANY}, 0, b_conv_act, r_conv_act, {1, 1, 1, 0, 0, EBM_FN_SWISH}, {0}, 28, 8, 0, NULL},
    {"conv2d_act", 3, {4, 4, 1}, {{3, 4, 9, 8}, {6, 4, 3, 3}, {6}}, {D_ANY, D_ANY, D_ANY}, 0, b_conv_act, r_conv_act, {2, 1, 1, 0, 0, EBM_FN_SWISH}, {0}, 37, 8, 0, NULL},
    {"conv2d_act", 2, {4, 4}, {{2, 2, 11, 10}, {3, 2, 5, 5}}, {D_ANY, D_ANY}, 0, b_conv_act, r_conv_act, {1, 2, 2, 0, 0, EBM_FN_TANH}, {0}, 50, 8, 0, NULL},
    {"conv2d_act", 3, {4, 4, 1}, {{2, 13, 9, 7}, {14, 13, 3, 3}, {14}}, {D_ANY, D_ANY, D_ANY}, 0, b_conv_act, r_conv_act, {2, 1, 1, 0, 0, EBM_FN_SWISH}, {0}, 118, 8, 0, NULL},
    {"conv2d_of_act", 2, {4, 4}, {{2, 13, 9, 7}, {8, 13, 3, 3}}, {D_ANY, D_ANY}, 0, b_conv_of_act, r_conv_of_act, {2, 1, 1, 0, 0, EBM_FN_SWISH}, {0}, 117, 8, 0, NULL},
    {"conv2d_of_act", 2, {4, 4}, {{2, 4, 8, 9}, {5, 4, 3, 3}}, {D_ANY, D_ANY}, 0, b_conv_of_act, r_conv_of_act, {1, 1, 1, 0, 0, EBM_FN_TANH}, {0}, 36, 8, 0, NULL},
    {"conv2d_of_act", 2, {4, 4}, {{2, 3, 11, 10}, {4, 3, 3, 3}}, {D_ANY, D_ANY}, 0, b_conv_of_act, r_conv_of_act, {3, 2, 2, 0, 0, EBM_FN_SOFTPLUS}, {0}, 27, 8, 0, NULL},
    EBM_FNS(COA_ROW)
    /* grad1 only: f(conv2d(x, w, b)) with f and f' from one call in the forward's store (fn_*_vd16):
     * those that share work between them (exp, sigmoid; swish in the rows above), and three that
     * call f and f' apart (tanh; elu with its parameter; x^2 / 2, which first-order nodes name).
     * Smooth functions defined everywhere: the convolution's outputs get no margin from kinks. The
     * f' of every function, as the store computes it, is fn_*_d16, which conv2d_of_act tests. */
#define ACTF(fnc, a)                                                                                                \
    {"conv2d_act_fn", 3, {4, 4, 1}, {{2, 3, 6, 5}, {4, 3, 3, 3}, {4}}, {D_ANY, D_ANY, D_ANY}, 0, b_conv_act, r_conv_act, \
     {1, 1, 1, 0, 0, fnc}, {a}, 28, 8, F_GRAD1_ONLY, NULL},
    ACTF(EBM_FN_EXP, 0) ACTF(EBM_FN_SIGMOID, 0) ACTF(EBM_FN_TANH, 0) ACTF(EBM_FN_ELU, 1.0) ACTF(EBM_FN_HALF_SQUARE, 0)
#undef ACTF
    /* grad1 only: the first-order node's derivative taken by the next convolution's input gradient
     * and by a global average pool's backward (6x5 maps: expand_mul; 4x4: expand_mul_pow2), as in the
     * samplers' networks */
    {"conv2d_act_fn", 4, {4, 4, 1, 4}, {{2, 3, 6, 5}, {4, 3, 3, 3}, {4}, {5, 4, 3, 3}}, {D_ANY, D_ANY, D_ANY, D_ANY}, 0,
     b_conv_act_conv, r_conv_act_conv, {1, 1, 1, 0, 0, EBM_FN_SWISH}, {0}, 64, 8, F_GRAD1_ONLY, NULL},
    {"conv2d_act_fn", 3, {4, 4, 1}, {{2, 3, 6, 5}, {4, 3, 3, 3}, {4}}, {D_ANY, D_ANY, D_ANY}, 0, b_conv_act_mean, r_conv_act_mean,
     {1, 1, 1, 0, 0, EBM_FN_SWISH}, {0}, 58, 8, F_GRAD1_ONLY, NULL},
    {"conv2d_act_fn", 3, {4, 4, 1}, {{3, 5, 4, 4}, {6, 5, 3, 3}, {6}}, {D_ANY, D_ANY, D_ANY}, 0, b_conv_act_mean, r_conv_act_mean,
     {1, 1, 1, 0, 0, EBM_FN_SWISH}, {0}, 61, 8, F_GRAD1_ONLY, NULL},
    /* the input gradient by pixel classes modulo the stride (implicit path): 13 channels, and stride 3 with dilation 2 */
    {"conv2d_input_grad", 2, {4, 4}, {{2, 8, 4, 5}, {8, 13, 3, 3}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {2, 1, 1, 7, 9}, {0}, 72, 0, 0, NULL},
    {"conv2d_input_grad", 2, {4, 4}, {{2, 4, 4, 4}, {4, 7, 3, 3}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {3, 2, 2, 11, 10}, {0}, 36, 0, 0, NULL},
    /* even sizes: every class grid is the gradient's, whole panels read as vectors */
    {"conv2d_input_grad", 2, {4, 4}, {{2, 6, 8, 8}, {6, 9, 3, 3}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {2, 1, 1, 16, 16}, {0}, 54, 0, 0, NULL},
    {"conv2d_input_grad", 2, {4, 4}, {{2, 4, 7, 9}, {4, 3, 5, 5}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {1, 2, 1, 7, 9}, {0}, 100, 0, 0, NULL},
    {"conv2d_weight_grad", 2, {4, 4}, {{2, 3, 9, 8}, {2, 4, 9, 8}}, {D_ANY, D_ANY}, 0, b_wgrad, r_wgrad, {1, 2, 1, 5, 5}, {0}, 144, 0, 0, NULL},
    {"conv2d_input_grad", 2, {4, 4}, {{2, 5, 4, 4}, {5, 3, 3, 3}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {2, 1, 1, 7, 8}, {0}, 45, 0, 0, NULL},
    /* 16 | H*W of the gradient (the tile path reads it in place): one image of one panel, and three
     * images of three panels each (nine: an odd last panel where a work item takes two) */
    {"conv2d_input_grad", 2, {4, 4}, {{1, 4, 4, 4}, {4, 3, 3, 3}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {2, 1, 1, 7, 8}, {0}, 36, 0, 0, NULL},
    {"conv2d_input_grad", 2, {4, 4}, {{3, 5, 4, 12}, {5, 2, 3, 3}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {1, 1, 1, 4, 12}, {0}, 45, 0, 0, NULL},
    {"conv2d_weight_grad", 2, {4, 4}, {{2, 3, 7, 8}, {2, 5, 4, 4}}, {D_ANY, D_ANY}, 0, b_wgrad, r_wgrad, {2, 1, 1, 3, 3}, {0}, 32, 0, 0, NULL},
    /* the implicit weight gradient (patch panels in local memory): 45 patch entries (two panels
     * and an odd one), 37 channels (a part row tile); stride 3 with dilation 2 (padding on both
     * sides of a row); 30 images of 12x12 in two chunks of images (28 per chunk at 144 pixels), the
     * second partial, each packed 256 pixels at a time (across rows and images) */
    {"conv2d_weight_grad", 2, {4, 4}, {{2, 5, 9, 8}, {2, 37, 5, 4}}, {D_ANY, D_ANY}, 0, b_wgrad, r_wgrad, {2, 1, 1, 3, 3}, {0}, 40, 0, 0, NULL},
    {"conv2d_weight_grad", 2, {4, 4}, {{3, 4, 11, 10}, {3, 6, 4, 4}}, {D_ANY, D_ANY}, 0, b_wgrad, r_wgrad, {3, 2, 2, 3, 3}, {0}, 48, 0, 0, NULL},
    /* 336 pixels packed 256 and 80 at a time (mid-row, mid-image) with two panels (18 patch
     * entries) and, where groups have a work item per row tile, two of them (9 channels) */
    {"conv2d_weight_grad", 2, {4, 4}, {{8, 2, 13, 12}, {8, 9, 7, 6}}, {D_ANY, D_ANY}, 0, b_wgrad, r_wgrad, {2, 1, 1, 3, 3}, {0}, 336, 0, 0, NULL},
    {"conv2d_weight_grad", 2, {4, 4}, {{30, 1, 12, 12}, {30, 2, 12, 12}}, {D_ANY, D_ANY}, 0, b_wgrad, r_wgrad, {1, 1, 1, 3, 3}, {0}, 4320, 0, F_NO_GRAD,
     "the chunks are in the value; its derivatives are a convolution and an input gradient over 4320 pixels, as other cases test, and take a minute under Oclgrind"},
    {"conv_transpose2d", 3, {4, 4, 1}, {{2, 4, 4, 5}, {4, 3, 4, 4}, {3}}, {D_ANY, D_ANY, D_ANY}, 0, b_convt, r_convt, {2, 1, 1, 0}, {0}, 17, 0, 0, NULL},
    {"conv_transpose2d", 3, {4, 4, 1}, {{1, 3, 3, 3}, {3, 2, 3, 3}, {2}}, {D_ANY, D_ANY, D_ANY}, 0, b_convt, r_convt, {2, 1, 1, 1}, {0}, 13, 0, 0, NULL},
    /* pooling and resampling */
    {"avg_pool2d", 1, {4}, {{2, 3, 8, 9}}, {D_ANY}, 0, b_resample, r_resample, {0, 3, 2, 1}, {0}, 9, 0, 0, NULL},
    {"avg_pool2d", 1, {4}, {{2, 3, 8, 6}}, {D_ANY}, 0, b_resample, r_resample, {0, 2, 2, 0}, {0}, 4, 0, 0, NULL},
    /* the unrolled kernels take windows up to 4x4 (forward) and up to two windows per pixel and axis
     * (adjoint, k <= 2s); the cases below reach both sides of both limits */
    {"avg_pool2d", 1, {4}, {{2, 3, 9, 13}}, {D_ANY}, 0, b_resample, r_resample, {0, 4, 4, 0}, {0}, 16, 0, 0, NULL},
    {"avg_pool2d", 1, {4}, {{1, 3, 5, 7}}, {D_ANY}, 0, b_resample, r_resample, {0, 2, 1, 0}, {0}, 4, 0, 0, NULL},
    {"avg_pool2d", 1, {4}, {{2, 2, 6, 5}}, {D_ANY}, 0, b_resample, r_resample, {0, 3, 1, 1}, {0}, 9, 0, 0, NULL},
    {"avg_pool2d", 1, {4}, {{2, 3, 9, 7}}, {D_ANY}, 0, b_resample, r_resample, {0, 5, 1, 2}, {0}, 25, 0, 0, NULL},
    /* stride 41: the adjoint's float quotient (ih + p) * (1/41) falls below 1 at ih = 41 (div_floor's correction) */
    {"avg_pool2d", 1, {4}, {{1, 1, 43, 84}}, {D_ANY}, 0, b_resample, r_resample, {0, 41, 41, 0}, {0}, 1681, 0, 0, NULL},
    {"upsample_nearest", 1, {4}, {{2, 3, 4, 5}}, {D_ANY}, 0, b_resample, r_resample, {1, 2}, {0}, 1, 0, 0, NULL},
    {"upsample_bilinear", 1, {4}, {{2, 3, 4, 5}}, {D_ANY}, 0, b_resample, r_resample, {2, 2}, {0}, 4, 0, 0, NULL},
    {"upsample_bilinear", 1, {4}, {{1, 2, 3, 3}}, {D_ANY}, 0, b_resample, r_resample, {2, 3}, {0}, 4, 0, 0, NULL},
    /* normalisation */
    {"batch_norm", 3, {4, 1, 1}, {{4, 3, 5, 6}, {3}, {3}}, {D_ANY, D_POS, D_ANY}, 0, b_norm, r_norm, {0}, {1e-5}, 120, 0, 0, NULL},
    {"batch_norm", 3, {2, 1, 1}, {{9, 7}, {7}, {7}}, {D_ANY, D_POS, D_ANY}, 0, b_norm, r_norm, {0}, {1e-5}, 9, 0, 0, NULL},
    {"batch_norm_eval", 4, {4, 1, 1, 1}, {{4, 3, 5, 6}, {3}, {3}, {3}}, {D_ANY, D_POS, D_ANY, D_ANY}, 0x8, b_bn_eval, r_norm, {1}, {1e-5}, 1, 0, 0, NULL},
    {"instance_norm", 3, {4, 1, 1}, {{2, 3, 5, 7}, {3}, {3}}, {D_ANY, D_POS, D_ANY}, 0, b_norm, r_norm, {2}, {1e-5}, 35, 0, 0, NULL},
    {"group_norm", 3, {4, 1, 1}, {{2, 6, 4, 5}, {6}, {6}}, {D_ANY, D_POS, D_ANY}, 0, b_norm, r_norm, {3, 3}, {1e-5}, 40, 0, 0, NULL},
    {"layer_norm", 3, {3, 1, 1}, {{3, 5, 13}, {13}, {13}}, {D_ANY, D_POS, D_ANY}, 0, b_norm, r_norm, {4, 1}, {1e-5}, 13, 0, 0, NULL},
    {"layer_norm", 3, {4, 3, 3}, {{2, 3, 4, 5}, {3, 4, 5}, {3, 4, 5}}, {D_ANY, D_POS, D_ANY}, 0, b_norm, r_norm, {4, 3}, {1e-5}, 60, 0, 0, NULL},
    {"weight_standardize", 1, {4}, {{5, 3, 3, 3}}, {D_ANY}, 0, b_wstd, r_wstd, {0}, {1e-5}, 27, 0, 0, NULL},
    {"spectral_norm", 1, {4}, {{6, 3, 2, 2}}, {D_SPIKED}, 0, b_specnorm, r_specnorm, {100}, {0}, 12, 0, F_NO_GRAD2,
     "u and v are detached (as in PyTorch), so second derivatives differ by design from those of W/sigma_max(W);"
     " 100 iterations converge u, v (D_SPIKED: a gap between the top singular values) so first derivatives match"},
    /* composites */
    {"self_attention", 4, {4, 2, 2, 2}, {{2, 16, 3, 3}, {2, 16}, {2, 16}, {16, 16}}, {D_ANY, D_ANY, D_ANY, D_ANY}, 0, b_attn, r_attn, {0}, {0.7}, 16, 0, 0, NULL},
    {"pairwise_sqdist", 2, {2, 2}, {{7, 5}, {9, 5}}, {D_ANY, D_ANY}, 0, b_sqdist, r_sqdist, {0}, {0}, 5, 0, 0, NULL},
    /* Rows added later go here: a row's data comes from its index, so a row inserted above changes
     * the data of every row after it (spectral_norm's first derivatives once failed that way, with
     * two top singular values too close for 100 iterations; its data now has a gap by construction,
     * D_SPIKED). */
    /* conv2d(f(x)) with 5x5 at stride 1: the FFT path can take it, its input gradient then times f'
     * in a pass after */
    {"conv2d_of_act", 2, {4, 4}, {{2, 3, 8, 7}, {4, 3, 5, 5}}, {D_ANY, D_ANY}, 0, b_conv_of_act, r_conv_of_act, {1, 2, 1, 0, 0, EBM_FN_SWISH}, {0}, 75, 8, 0, NULL},
    /* reductions: runs of a contiguous innermost axis longer than a work-group, a kept axis between
     * reduced ones (bias gradients); reduced axes adjacent in memory merged into one, a kept axis
     * after them */
    {"sum", 1, {4}, {{3, 2, 16, 20}}, {D_ANY}, 0, b_reduce, r_reduce, {0xD, 0, 0}, {0}, 960, 0, 0, NULL},
    /* the same with a partial last vector of the 16-lane long reduction (PoCL: EBM_REDUCE_LANES) */
    {"sum", 1, {4}, {{3, 2, 17, 19}}, {D_ANY}, 0, b_reduce, r_reduce, {0xD, 0, 0}, {0}, 969, 0, 0, NULL},
    {"sum", 1, {4}, {{2, 4, 5, 3}}, {D_ANY}, 0, b_reduce, r_reduce, {0x6, 1, 0}, {0}, 20, 0, 0, NULL},
    {"mean", 1, {4}, {{4, 3, 5, 6}}, {D_ANY}, 0, b_reduce, r_reduce, {0x5, 0, 1}, {0}, 20, 0, 0, NULL},
    /* column stride 2 (the implicit path's pixel pairs): rows of 17 pairs, so some panels are 32
     * consecutive pixels of one row (vector stores, and z read as vectors where fused); dilation 2,
     * where the odd columns take no tap and get zero */
    {"conv2d_input_grad", 2, {4, 4}, {{2, 5, 3, 17}, {5, 3, 3, 3}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {2, 1, 1, 6, 34}, {0}, 45, 0, 0, NULL},
    {"conv2d_input_grad", 2, {4, 4}, {{2, 4, 5, 6}, {4, 3, 3, 3}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {2, 2, 2, 9, 12}, {0}, 36, 0, 0, NULL},
    {"conv2d_of_act", 2, {4, 4}, {{2, 3, 5, 34}, {4, 3, 3, 3}}, {D_ANY, D_ANY}, 0, b_conv_of_act, r_conv_of_act, {2, 1, 1, 0, 0, EBM_FN_SWISH}, {0}, 27, 8, 0, NULL},
    /* stride 1 with 13 input channels: the implicit input gradient's two channel tiles (the last
     * partial), walked by one work item on a CPU device, plain and times f' */
    {"conv2d_input_grad", 2, {4, 4}, {{2, 6, 7, 9}, {6, 13, 3, 3}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {1, 1, 1, 7, 9}, {0}, 54, 0, 0, NULL},
    {"conv2d_of_act", 2, {4, 4}, {{2, 13, 7, 9}, {6, 13, 3, 3}}, {D_ANY, D_ANY}, 0, b_conv_of_act, r_conv_of_act, {1, 1, 1, 0, 0, EBM_FN_SWISH}, {0}, 117, 8, 0, NULL},
    /* stride 1 with 1-4 input channels, 3 filter rows and rows of 16 or more: the direct input
     * gradient on CPU devices (rows of 16 columns, the last partial; windows crossing both ends of
     * a row; a last block of fewer rows; 3x5; no padding; times f'), and at dilation 2 (the
     * per-panel kernel) */
    {"conv2d_input_grad", 2, {4, 4}, {{2, 5, 13, 21}, {5, 3, 3, 3}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {1, 1, 1, 13, 21}, {0}, 45, 0, 0, NULL},
    {"conv2d_input_grad", 2, {4, 4}, {{2, 4, 11, 18}, {4, 1, 3, 3}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {1, 1, 1, 11, 18}, {0}, 36, 0, 0, NULL},
    {"conv2d_input_grad", 2, {4, 4}, {{2, 3, 11, 17}, {3, 2, 3, 5}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {1, 2, 1, 9, 17}, {0}, 45, 0, 0, NULL},
    {"conv2d_input_grad", 2, {4, 4}, {{2, 3, 7, 20}, {3, 4, 3, 3}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {1, 2, 2, 7, 20}, {0}, 27, 0, 0, NULL},
    {"conv2d_input_grad", 2, {4, 4}, {{2, 3, 6, 16}, {3, 4, 3, 3}}, {D_ANY, D_ANY}, 0, b_igrad, r_igrad, {1, 0, 1, 8, 18}, {0}, 27, 0, 0, NULL},
    {"conv2d_of_act", 2, {4, 4}, {{2, 3, 6, 20}, {4, 3, 3, 3}}, {D_ANY, D_ANY}, 0, b_conv_of_act, r_conv_of_act, {1, 1, 1, 0, 0, EBM_FN_SWISH}, {0}, 27, 8, 0, NULL},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

/* self-attention weights are (C', C, 1, 1) conv weights: the table lists them 2-D; fix up below */
static void case_shapes(const op_case_t *c, int *nd, int (*shape)[4]) {
    for (int i = 0; i < c->n_in; i++) {
        nd[i] = c->nd[i];
        memcpy(shape[i], c->shape[i], sizeof shape[i]);
    }
    if (c->build == b_attn)
        for (int i = 1; i < 4; i++) {
            nd[i] = 4;
            shape[i][2] = shape[i][3] = 1;
        }
}

/* ------------------------------------------------------------------------------------------ */
/* harness                                                                                     */

static uint64_t rng_state;
static double urand(void) {   /* xorshift64*: fixed-seed test data */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

static double draw(int domain) {
    double u = urand(), sgn = urand() < 0.5 ? -1.0 : 1.0;
    switch (domain) {
    case D_POS: return 0.5 + 1.5 * u;
    case D_AWAY0: return sgn * (0.05 + 0.95 * u);
    case D_AWAY_HALF: return sgn * (u < 0.5 ? 0.05 + 0.8 * u : 0.55 + 0.9 * (u - 0.5));
    case D_UNIT: return u;
    default: return 2.0 * u - 1.0;
    }
}

typedef struct {
    int n_in, nd[MAXIN], shape[MAXIN][4];
    size_t numel[MAXIN];
    double *x[MAXIN];   /* inputs, as float-rounded doubles */
    int ond, oshape[4];
    size_t on;
    double *w, *v[MAXIN];
} data_t;

static void data_free(data_t *d) {
    for (int i = 0; i < d->n_in; i++) {
        free(d->x[i]);
        free(d->v[i]);
    }
    free(d->w);
}

static void data_make(const op_case_t *c, data_t *d, uint64_t seed) {
    memset(d, 0, sizeof *d);
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
    d->n_in = c->n_in;
    case_shapes(c, d->nd, d->shape);
    for (int i = 0; i < c->n_in; i++) {
        d->numel[i] = ref_numel(d->nd[i], d->shape[i]);
        d->x[i] = malloc(d->numel[i] * sizeof(double));
        d->v[i] = malloc(d->numel[i] * sizeof(double));
        size_t row = d->numel[i] / d->shape[i][0];
        for (size_t k = 0; k < d->numel[i]; k++) {
            double spike = c->domain[i] == D_SPIKED && k < row ? (k % 2 ? -3.0 : 3.0) : 0.0;
            d->x[i][k] = (double)(float)(draw(c->domain[i]) + spike);
            d->v[i][k] = (double)(float)(2 * urand() - 1);
        }
    }
    c->ref(c, d->x, NULL, &d->ond, d->oshape);
    d->on = ref_numel(d->ond, d->oshape);
    d->w = malloc(d->on * sizeof(double));
    for (size_t k = 0; k < d->on; k++) d->w[k] = (double)(float)(2 * urand() - 1);
}

static ebm_tensor_t *to_dev(ebm_ctx_t *ctx, const double *x, int nd, const int *s) {
    size_t n = ref_numel(nd, s);
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
    ebm_tensor_t *t = ebm_tensor_from_host(ctx, nd, s, f);
    free(f);
    return t;
}

static double *from_dev(ebm_tensor_t *t) {
    size_t n = ebm_tensor_numel(t);
    float *f = malloc(n * sizeof *f);
    double *d = malloc(n * sizeof *d);
    if (ebm_tensor_read(t, f) != EBM_OK) {
        free(f);
        free(d);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) d[i] = f[i];
    free(f);
    return d;
}

/* L(x) = <w, ref(x)> in double */
static double ref_L(const op_case_t *c, data_t *d, double *out) {
    int ond, os[4];
    c->ref(c, d->x, out, &ond, os);
    double s = 0;
    for (size_t k = 0; k < d->on; k++) s += d->w[k] * out[k];
    return s;
}

/* M(x) = <v, dL/dx> = directional derivative of L along v (differentiated inputs only) */
static double ref_M(const op_case_t *c, data_t *d, double *out, double h) {
    for (int i = 0; i < d->n_in; i++)
        if (!(c->nodiff >> i & 1))
            for (size_t k = 0; k < d->numel[i]; k++) d->x[i][k] += h * d->v[i][k];
    double lp = ref_L(c, d, out);
    for (int i = 0; i < d->n_in; i++)
        if (!(c->nodiff >> i & 1))
            for (size_t k = 0; k < d->numel[i]; k++) d->x[i][k] -= 2 * h * d->v[i][k];
    double lm = ref_L(c, d, out);
    for (int i = 0; i < d->n_in; i++)
        if (!(c->nodiff >> i & 1))
            for (size_t k = 0; k < d->numel[i]; k++) d->x[i][k] += h * d->v[i][k];
    return (lp - lm) / (2 * h);
}

typedef struct {
    double max_err, max_ref;
    int nonfinite;
} cmp_t;

static void cmp_add(cmp_t *m, double a, double r) {
    if (!isfinite(a) || !isfinite(r)) {
        m->nonfinite++;
        return;
    }
    double e = fabs(a - r);
    if (e > m->max_err) m->max_err = e;
    if (fabs(r) > m->max_ref) m->max_ref = fabs(r);
}

/* the op's output y against the reference (out: scratch of d->on values) */
static void cmp_forward(cmp_t *m, const op_case_t *c, data_t *d, ebm_tensor_t *y, double *out) {
    double *a = from_dev(y);
    ref_L(c, d, out);
    for (size_t k = 0; a && k < d->on; k++) cmp_add(m, a[k], out[k]);
    free(a);
}

/* indices to check: all when small, else a fixed sample of max_n */
static size_t pick(size_t n, size_t j, size_t max_n) { return n <= max_n ? j : (j * 7919u + 13u) % n; }

static int g_fail, g_pass;
static int g_fo_refused, g_act_ran;   /* grad1: graphs of the gradient refused (first-order nodes); conv2d_act cases run */
static const char *g_mode = "test";

static int report(const op_case_t *c, int idx, const char *mode, cmp_t m, double tol, int guards_bad, const char *err) {
    char shape[96] = "";
    int len = 0;
    for (int i = 0; i < c->n_in && len < 80; i++) {
        len += snprintf(shape + len, sizeof shape - len, "%s(", i ? "," : "");
        for (int k = 0; k < c->nd[i]; k++) len += snprintf(shape + len, sizeof shape - len, k ? "x%d" : "%d", c->shape[i][k]);
        len += snprintf(shape + len, sizeof shape - len, ")");
    }
    double rel = m.max_ref > 0 ? m.max_err / m.max_ref : m.max_err;
    int ok = !err && !guards_bad && m.nonfinite == 0 && rel <= tol;
    printf("%-4s %-5s %-20s #%-3d %-34s err %.2e tol %.2e%s%s%s\n", ok ? "ok" : "FAIL", mode, c->op, idx, shape, rel, tol,
           m.nonfinite ? "  NON-FINITE" : "", guards_bad ? "  OUT-OF-BOUNDS WRITE" : "", err ? err : "");
    if (ok) g_pass++;
    else g_fail++;
    return ok;
}

static double tolerance(const op_case_t *c, int stages) {
    int U = c->U ? c->U : 4;
    return EPS32 * (U + 8.0 * sqrt((double)(c->K > 0 ? c->K : 1))) * stages;
}

static void run_case(ebm_ctx_t *ctx, const op_case_t *c, int idx, const char *mode) {
    data_t d;
    data_make(c, &d, (uint64_t)idx + 1);
    double *out = malloc((d.on + 1) * sizeof(double));
    cmp_t m = {0, 0, 0};
    const char *err = NULL;
    char errbuf[1024];
    ebm_scope_begin(ctx);
    ebm_tensor_t *in[MAXIN] = {0};
    int n_diff = 0;
    ebm_tensor_t *diff[MAXIN + 1];
    int diff_idx[MAXIN];
    for (int i = 0; i < c->n_in; i++) {
        in[i] = to_dev(ctx, d.x[i], d.nd[i], d.shape[i]);
        if (!(c->nodiff >> i & 1) && strcmp(mode, "test")) {
            ebm_tensor_set_requires_grad(in[i], 1);
            diff_idx[n_diff] = i;
            diff[n_diff++] = in[i];
        }
    }
    int fo = !strcmp(mode, "grad1"), fo_was = fo ? ebm_grad_set_first_order(ctx, 1) : 0;
    ebm_tensor_t *y = c->build(c, in);
    if (fo) ebm_grad_set_first_order(ctx, fo_was);
    if (!y) {
        snprintf(errbuf, sizeof errbuf, "  error: %s", ebm_ctx_error(ctx));
        err = errbuf;
    } else if (!(ebm_tensor_ndim(y) == d.ond && !memcmp(ebm_tensor_shape(y), d.oshape, d.ond * sizeof(int)))) {
        snprintf(errbuf, sizeof errbuf, "  wrong output shape");
        err = errbuf;
    }
    int stages = 1;
    if (!err && !strcmp(mode, "test")) {
        cmp_forward(&m, c, &d, y, out);
    } else if (!err && (!strcmp(mode, "grad") || fo)) {
        stages = 3;
        ebm_tensor_t *wt = to_dev(ctx, d.w, d.ond, d.oshape);
        ebm_tensor_t *L = ebm_sum_all(ebm_mul(y, wt));
        ebm_tensor_t *g[MAXIN];
        if (ebm_grad(&L, 1, NULL, diff, n_diff, g, 0) != EBM_OK) {
            snprintf(errbuf, sizeof errbuf, "  error: %s", ebm_ctx_error(ctx));
            err = errbuf;
        }
        if (fo && !err) cmp_forward(&m, c, &d, y, out);   /* the forward too: its store computed f and f' together (fn_*_vd16) */
        if (fo && !err) {   /* a graph of them: made, or refused with the error that says why */
            ebm_tensor_t *g2[MAXIN];
            if (ebm_grad(&L, 1, NULL, diff, n_diff, g2, EBM_GRAD_CREATE_GRAPH) != EBM_OK) {
                if (!strstr(ebm_ctx_error(ctx), "first derivatives only")) {
                    snprintf(errbuf, sizeof errbuf, "  a graph of the gradient failed otherwise: %s", ebm_ctx_error(ctx));
                    err = errbuf;
                }
                g_fo_refused++;
                ebm_ctx_clear_error(ctx);
            }
            g_act_ran += c->build == b_conv_act || c->build == b_conv_act_conv || c->build == b_conv_act_mean;
        }
        const double h = 1e-5;
        for (int j = 0; !err && j < n_diff; j++) {
            int i = diff_idx[j];
            double *a = from_dev(g[j]);
            size_t n = d.numel[i], cnt = n < 64 ? n : 64;
            for (size_t q = 0; a && q < cnt; q++) {
                size_t k = pick(n, q, 64);
                double x0 = d.x[i][k];
                d.x[i][k] = x0 + h;
                double lp = ref_L(c, &d, out);
                d.x[i][k] = x0 - h;
                double lm = ref_L(c, &d, out);
                d.x[i][k] = x0;
                cmp_add(&m, a[k], (lp - lm) / (2 * h));
            }
            free(a);
        }
    } else if (!err) { /* grad2 */
        stages = 6;
        ebm_tensor_t *wt = to_dev(ctx, d.w, d.ond, d.oshape);
        ebm_tensor_set_requires_grad(wt, 1);
        ebm_tensor_t *L = ebm_sum_all(ebm_mul(y, wt));
        ebm_tensor_t *g[MAXIN], *h2[MAXIN + 1];
        ebm_tensor_t *M = NULL;
        if (ebm_grad(&L, 1, NULL, diff, n_diff, g, EBM_GRAD_CREATE_GRAPH) == EBM_OK) {
            for (int j = 0; j < n_diff; j++) {
                int i = diff_idx[j];
                ebm_tensor_t *term = ebm_sum_all(ebm_mul(g[j], to_dev(ctx, d.v[i], d.nd[i], d.shape[i])));
                M = M ? ebm_add(M, term) : term;
            }
            diff[n_diff] = wt;
            ebm_grad(&M, 1, NULL, diff, n_diff + 1, h2, 0);
        }
        if (ebm_ctx_status(ctx) != EBM_OK) {
            snprintf(errbuf, sizeof errbuf, "  error: %s", ebm_ctx_error(ctx));
            err = errbuf;
        }
        const double h = 1e-4;
        for (int j = 0; !err && j < n_diff; j++) {
            int i = diff_idx[j];
            double *a = from_dev(h2[j]);
            size_t n = d.numel[i], cnt = n < 24 ? n : 24;
            for (size_t q = 0; a && q < cnt; q++) {
                size_t k = pick(n, q, 24);
                double x0 = d.x[i][k];
                d.x[i][k] = x0 + h;
                double mp = ref_M(c, &d, out, h);
                d.x[i][k] = x0 - h;
                double mm = ref_M(c, &d, out, h);
                d.x[i][k] = x0;
                cmp_add(&m, a[k], (mp - mm) / (2 * h));
            }
            free(a);
        }
        if (!err) { /* dM/dw = J v: central difference of the forward along v */
            double *a = from_dev(h2[n_diff]);
            double *fp = malloc(d.on * sizeof *fp), *fm = malloc(d.on * sizeof *fm);
            for (int j = 0; j < n_diff; j++)
                for (size_t k = 0; k < d.numel[diff_idx[j]]; k++) d.x[diff_idx[j]][k] += h * d.v[diff_idx[j]][k];
            ref_L(c, &d, fp);
            for (int j = 0; j < n_diff; j++)
                for (size_t k = 0; k < d.numel[diff_idx[j]]; k++) d.x[diff_idx[j]][k] -= 2 * h * d.v[diff_idx[j]][k];
            ref_L(c, &d, fm);
            for (int j = 0; j < n_diff; j++)
                for (size_t k = 0; k < d.numel[diff_idx[j]]; k++) d.x[diff_idx[j]][k] += h * d.v[diff_idx[j]][k];
            for (size_t k = 0; a && k < d.on; k++) cmp_add(&m, a[k], (fp[k] - fm[k]) / (2 * h));
            free(a);
            free(fp);
            free(fm);
        }
    }
    int bad = ebm_debug_check_guards(ctx);
    ebm_scope_end(ctx);
    ebm_ctx_clear_error(ctx);
    report(c, idx, mode, m, tolerance(c, stages), bad, err);
    free(out);
    data_free(&d);
}

/* ------------------------------------------------------------------------------------------ */
/* perf mode: conv2d at the reference workload shapes, validated at sampled points first        */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    const char *workload;
    int N, C, H, W, O, k, s, p;
} perf_case_t;

static const perf_case_t perf_cases[] = {
    {"fmnist-ms", 128, 1, 28, 28, 32, 3, 1, 1},  {"fmnist-ms", 128, 32, 28, 28, 64, 3, 2, 1},
    {"fmnist-ms", 128, 64, 14, 14, 128, 3, 2, 1}, {"fmnist-ms", 128, 128, 7, 7, 128, 3, 2, 1},
    /* its coarser scales' networks, on avgpool2(x) and avgpool4(x) */
    {"fmnist-ms/2", 128, 1, 14, 14, 32, 3, 1, 1},  {"fmnist-ms/2", 128, 32, 14, 14, 64, 3, 2, 1},
    {"fmnist-ms/2", 128, 64, 7, 7, 128, 3, 2, 1},  {"fmnist-ms/2", 128, 128, 4, 4, 128, 3, 2, 1},
    {"fmnist-ms/4", 128, 1, 7, 7, 32, 3, 1, 1},    {"fmnist-ms/4", 128, 32, 7, 7, 64, 3, 2, 1},
    {"fmnist-ms/4", 128, 64, 4, 4, 128, 3, 2, 1},  {"fmnist-ms/4", 128, 128, 2, 2, 128, 3, 2, 1},
    {"cifar32", 128, 3, 32, 32, 64, 3, 1, 1},    {"cifar32", 128, 64, 32, 32, 128, 3, 2, 1},
    {"cifar32", 128, 128, 16, 16, 256, 3, 2, 1}, {"cifar32", 128, 256, 8, 8, 256, 3, 2, 1},
    {"5x5", 128, 32, 28, 28, 32, 5, 1, 2},   /* a large filter: im2col+GEMM or FFT, measured */
};

static int matches(const char *filter, const char *op) {
    if (!filter) return 1;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", filter);
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ","))
        if (!strcmp(t, op)) return 1;
    return 0;
}

static int run_perf(ebm_ctx_t *ctx, const char *filter, FILE *csv) {
    const ebm_device_info_t *di = ebm_ctx_device(ctx);
    double peak = ebm_ctx_peak_gflops(ctx);
    if (csv) fprintf(csv, "op,workload,shape,device,ms,gflops,peak_gflops,fraction_of_peak\n");
    printf("%-22s %-11s %-28s %9s %9s %7s\n", "op", "workload", "x / w", "ms", "GFLOP/s", "peak%");
    const char *ops[3] = {"conv2d", "conv2d_input_grad", "conv2d_weight_grad"};
    for (size_t ci = 0; ci < sizeof perf_cases / sizeof perf_cases[0]; ci++) {
        const perf_case_t *pc = &perf_cases[ci];
        ref_conv_t rp = {pc->s, pc->s, pc->p, pc->p, 1, 1};
        int Ho = ref_conv_out(pc->H, pc->k, pc->s, pc->p, 1), Wo = ref_conv_out(pc->W, pc->k, pc->s, pc->p, 1);
        size_t nx = (size_t)pc->N * pc->C * pc->H * pc->W, nw = (size_t)pc->O * pc->C * pc->k * pc->k;
        size_t ny = (size_t)pc->N * pc->O * Ho * Wo;
        double flop = 2.0 * (double)ny * pc->C * pc->k * pc->k;
        for (int op = 0; op < 3; op++) {
            if (filter && !matches(filter, ops[op])) continue;
            ebm_scope_begin(ctx);
            rng_state = 77 + ci;
            double *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *g = malloc(ny * sizeof *g);
            for (size_t i = 0; i < nx; i++) x[i] = (float)(2 * urand() - 1);
            for (size_t i = 0; i < nw; i++) w[i] = (float)(2 * urand() - 1);
            for (size_t i = 0; i < ny; i++) g[i] = (float)(2 * urand() - 1);
            ebm_tensor_t *tx = to_dev(ctx, x, 4, (int[]){pc->N, pc->C, pc->H, pc->W});
            ebm_tensor_t *tw = to_dev(ctx, w, 4, (int[]){pc->O, pc->C, pc->k, pc->k});
            ebm_tensor_t *tg = to_dev(ctx, g, 4, (int[]){pc->N, pc->O, Ho, Wo});
            ebm_conv2d_params_t p = EBM_CONV2D(pc->s, pc->p);
            ebm_tensor_t *y = NULL;
#define RUN_OP()                                                                                  \
    (op == 0 ? ebm_conv2d(tx, tw, NULL, p)                                                        \
             : op == 1 ? ebm_conv2d_input_grad(tg, tw, pc->H, pc->W, p) : ebm_conv2d_weight_grad(tx, tg, pc->k, pc->k, p))
            y = RUN_OP();
            double *a = y ? from_dev(y) : NULL;
            /* validate at sampled points against double sums */
            cmp_t m = {0, 0, 0};
            size_t n_out = y ? ebm_tensor_numel(y) : 0;
            for (int q = 0; a && q < 64; q++) {
                size_t k = pick(n_out, (size_t)q, 64);
                double r = 0;
                if (op == 0) {
                    int ow = (int)(k % Wo), oh = (int)(k / Wo % Ho), o = (int)(k / ((size_t)Wo * Ho) % pc->O),
                        n = (int)(k / ((size_t)Wo * Ho * pc->O));
                    r = ref_conv2d_at(x, pc->N, pc->C, pc->H, pc->W, w, pc->O, pc->k, pc->k, rp, n, o, oh, ow);
                } else if (op == 1) {   /* sum over (o, kh, kw) of g * w */
                    int iw = (int)(k % pc->W), ih = (int)(k / pc->W % pc->H), c = (int)(k / ((size_t)pc->W * pc->H) % pc->C),
                        n = (int)(k / ((size_t)pc->W * pc->H * pc->C));
                    for (int o = 0; o < pc->O; o++)
                        for (int kh = 0; kh < pc->k; kh++)
                            for (int kw = 0; kw < pc->k; kw++) {
                                int th = ih + pc->p - kh, tw2 = iw + pc->p - kw;
                                if (th < 0 || tw2 < 0 || th % pc->s || tw2 % pc->s || th / pc->s >= Ho || tw2 / pc->s >= Wo) continue;
                                r += g[(((size_t)n * pc->O + o) * Ho + th / pc->s) * Wo + tw2 / pc->s] *
                                     w[(((size_t)o * pc->C + c) * pc->k + kh) * pc->k + kw];
                            }
                } else {   /* sum over (n, oh, ow) of g * x */
                    int kw = (int)(k % pc->k), kh = (int)(k / pc->k % pc->k), c = (int)(k / (pc->k * pc->k) % pc->C),
                        o = (int)(k / ((size_t)pc->k * pc->k * pc->C));
                    for (int n = 0; n < pc->N; n++)
                        for (int oh = 0; oh < Ho; oh++)
                            for (int ow = 0; ow < Wo; ow++) {
                                int ih = oh * pc->s - pc->p + kh, iw = ow * pc->s - pc->p + kw;
                                if (ih < 0 || ih >= pc->H || iw < 0 || iw >= pc->W) continue;
                                r += g[(((size_t)n * pc->O + o) * Ho + oh) * Wo + ow] * x[(((size_t)n * pc->C + c) * pc->H + ih) * pc->W + iw];
                            }
                }
                cmp_add(&m, a[k], r);
            }
            int K = op == 0 ? pc->C * pc->k * pc->k : op == 1 ? pc->O * pc->k * pc->k : pc->N * Ho * Wo;
            op_case_t fake = {0};
            fake.K = K;
            double tol = tolerance(&fake, 1);
            double rel = m.max_ref > 0 ? m.max_err / m.max_ref : 1;
            char shape[64];
            snprintf(shape, sizeof shape, "%dx%dx%dx%d/%dx%dx%d", pc->N, pc->C, pc->H, pc->W, pc->O, pc->k, pc->k);
            if (!a || rel > tol || m.nonfinite) {
                printf("FAIL perf validation %s %s %s: err %.2e tol %.2e %s\n", ops[op], pc->workload, shape, rel, tol,
                       ebm_ctx_error(ctx));
                g_fail++;
            } else {
                /* warm-up done above; time for >= 1 s (at least 3 runs) */
                ebm_ctx_finish(ctx);
                int reps = 0;
                double t0 = now_s(), t;
                do {
                    ebm_scope_begin(ctx);
                    RUN_OP();
                    ebm_scope_end(ctx);
                    reps++;
                    ebm_ctx_finish(ctx);
                    t = now_s() - t0;
                } while (t < 1.0 || reps < 3);
                double ms = t / reps * 1e3, gf = flop / (t / reps) * 1e-9;
                double frac = peak > 0 ? gf / peak : NAN;   /* a device without a clock: unknown peak, no fraction */
                printf("%-22s %-11s %-28s %9.3f %9.1f %6.1f%%\n", ops[op], pc->workload, shape, ms, gf, 100 * frac);
                if (csv) fprintf(csv, "%s,%s,%s,\"%s\",%.4f,%.2f,%.1f,%.4f\n", ops[op], pc->workload, shape, di->name, ms, gf, peak, frac);
                g_pass++;
            }
            free(a);
            free(x), free(w), free(g);
            ebm_scope_end(ctx);
            ebm_ctx_clear_error(ctx);
        }
    }
    return 0;
}

/* "K/N" with 1 <= K <= N <= max, both plain decimal numbers, into *k, *n; 0 when it is not that */
static int parse_part(const char *s, int max, int *k, int *n) {
    char *end;
    if (*s < '0' || *s > '9') return 0;
    long a = strtol(s, &end, 10);
    if (*end != '/' || a < 1) return 0;
    const char *t = end + 1;
    if (*t < '0' || *t > '9') return 0;
    long b = strtol(t, &end, 10);
    if (*end || b < a || b > max) return 0;
    *k = (int)a, *n = (int)b;
    return 1;
}

int main(int argc, char **argv) {
    const char *filter = NULL, *device = NULL, *csv_path = NULL;
    int part = 1, parts = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--part") && i + 1 < argc) {
            if (!parse_part(argv[++i], N_CASES, &part, &parts)) {
                fprintf(stderr, "test_ops: --part %s: need K/N with 1 <= K <= N <= %d (the number of cases)\n", argv[i],
                        N_CASES);
                return 2;
            }
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "-d") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc) csv_path = argv[++i];
        else if (!strcmp(argv[i], "test") || !strcmp(argv[i], "grad") || !strcmp(argv[i], "grad1") || !strcmp(argv[i], "grad2") ||
                 !strcmp(argv[i], "perf"))
            g_mode = argv[i];
        else {
            fprintf(stderr, "usage: %s [test|grad|grad1|grad2|perf] [-o op,...] [-d device] [--csv file] [--part K/N]\n", argv[0]);
            return 2;
        }
    }
    if (parts > 1 && !strcmp(g_mode, "perf")) {
        fprintf(stderr, "test_ops: --part is for test, grad and grad2, not perf\n");
        return 2;
    }
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, device) != EBM_OK) {
        fprintf(stderr, "test_ops: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    printf("device: %s (%s, %s)\n", ebm_ctx_device(ctx)->name, ebm_ctx_device(ctx)->platform, ebm_ctx_device(ctx)->driver);
    if (!strcmp(g_mode, "perf")) {
        FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
        if (csv_path && !csv) {
            fprintf(stderr, "test_ops: cannot write %s\n", csv_path);
            return 1;
        }
        run_perf(ctx, filter, csv);
        if (csv) fclose(csv);
    } else {
        ebm_debug_set_guards(ctx, 1);
        int first = (int)((long)N_CASES * (part - 1) / parts), last = (int)((long)N_CASES * part / parts);
        for (int i = first; i < last; i++) {
            const op_case_t *c = &cases[i];
            if (!matches(filter, c->op)) continue;
            if (!strncmp(g_mode, "grad", 4) && (c->flags & F_NO_GRAD)) continue;
            if (strcmp(g_mode, "grad1") && (c->flags & F_GRAD1_ONLY)) continue;
            if (!strcmp(g_mode, "grad2") && (c->flags & (F_NO_GRAD | F_NO_GRAD2))) continue;
            run_case(ctx, c, i, g_mode);
        }
    }
    /* an algorithm forced by EBM_CONV / EBM_GEMM that cannot run on this device (e.g. clFFT under
     * Intel's compiler) was replaced by another: what ran passed or failed above, but the forced
     * algorithm was not tested, which the exit code says (77: skipped) */
    const char *forced[][2] = {{"EBM_CONV", "conv:"}, {"EBM_GEMM", "gemm:"}};
    int skipped = 0;
    for (int i = 0; i < 2 && !g_fail; i++) {
        const char *v = getenv(forced[i][0]);
        char key[32];
        snprintf(key, sizeof key, "%s%s", forced[i][1], v && !strcmp(v, "gemm") ? "im2col" : (v ? v : ""));
        const char *why = v && *v ? ebm_ctx_algorithm_unavailable(ctx, key) : NULL;
        if (why) {
            printf("skipped: %s=%s cannot run on this device: %s\n", forced[i][0], v, why);
            skipped = 1;
        }
    }
    /* grad1 where the fused convolution paths are forced: the conv2d_act cases must have recorded
     * first-order nodes (a graph of their gradient refused), else that path did not run */
    const char *conv = getenv("EBM_CONV"), *fo_env = getenv("EBM_FIRST_ORDER");
    int fo_off = fo_env && !strcasecmp(fo_env, "off");   /* ebm_grad_set_first_order does nothing then */
    if (!strcmp(g_mode, "grad1") && !skipped && !fo_off && g_act_ran && conv &&
        (!strcmp(conv, "implicit") || !strcmp(conv, "tile"))) {
        int ok = g_fo_refused > 0;
        printf("%s grad1: %d of %d graphs of a gradient refused (the forward kept f'(z)) under EBM_CONV=%s\n",
               ok ? "ok  " : "FAIL", g_fo_refused, g_act_ran, conv);
        if (ok) g_pass++;
        else g_fail++;
    }
    ebm_ctx_free(ctx);
    printf("%d passed, %d failed\n", g_pass, g_fail);
    if (parts > 1 && !g_pass && !g_fail) {   /* -o left this slice of the table empty */
        printf("skipped: no case of part %d/%d matches\n", part, parts);
        return 77;
    }
    return g_fail || !g_pass ? 1 : skipped ? 77 : 0;
}
