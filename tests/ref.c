/* ref.c — double-precision references. See ref.h. */
#include "ref.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../engine/ebm_ops.h"

size_t ref_numel(int nd, const int *s) {
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)s[i];
    return n;
}

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* One case per function of EBM_FNS: a missing case is a -Wswitch warning, and the pinned count
 * below stops the build until a new function has its reference here. */
_Static_assert(EBM_FN_COUNT == 14, "a new elementwise function of EBM_FNS (engine/ebm_ops.h) needs its reference in "
                                   "ref_fn and its test settings T_<ID> in tests/test_ops.c; then update this count");

double ref_fn(int fn, double x, double a, double b) {
    switch ((ebm_fn_t)fn) {
    case EBM_FN_AFFINE: return a * x + b;
    case EBM_FN_POW: return pow(x, a);
    case EBM_FN_EXP: return exp(x);
    case EBM_FN_LOG: return log(x);
    case EBM_FN_SIGMOID: return sigm(x);
    case EBM_FN_TANH: return tanh(x);
    case EBM_FN_SOFTPLUS: return log1p(exp(x));
    case EBM_FN_SWISH: return x * sigm(x);
    case EBM_FN_RELU: return x > 0 ? x : 0;
    case EBM_FN_LEAKY_RELU: return x > 0 ? x : a * x;
    case EBM_FN_ELU: return x > 0 ? x : a * (exp(x) - 1);
    case EBM_FN_CLAMP: return x < a ? a : (x > b ? b : x);
    case EBM_FN_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case EBM_FN_HALF_SQUARE: return 0.5 * x * x;
    case EBM_FN_COUNT: break;
    }
    return NAN;
}

static void pad4(int nd, const int *s, int *o) {
    for (int i = 0; i < 4; i++) o[i] = i < 4 - nd ? 1 : s[i - (4 - nd)];
}

static void strides4(const int *s4, long *st) {
    long k = 1;
    for (int i = 3; i >= 0; i--) {
        st[i] = k;
        k *= s4[i];
    }
}

void ref_binary(int op, const double *a, int na, const int *sa, const double *b, int nb, const int *sb, double *y, int ny,
                const int *sy) {
    int a4[4], b4[4], y4[4];
    long as[4], bs[4];
    pad4(na, sa, a4);
    pad4(nb, sb, b4);
    pad4(ny, sy, y4);
    strides4(a4, as);
    strides4(b4, bs);
    size_t idx = 0;
    for (int i0 = 0; i0 < y4[0]; i0++)
        for (int i1 = 0; i1 < y4[1]; i1++)
            for (int i2 = 0; i2 < y4[2]; i2++)
                for (int i3 = 0; i3 < y4[3]; i3++, idx++) {
                    int ii[4] = {i0, i1, i2, i3};
                    long ia = 0, ib = 0;
                    for (int d = 0; d < 4; d++) {
                        ia += (a4[d] == 1 ? 0 : ii[d]) * as[d];
                        ib += (b4[d] == 1 ? 0 : ii[d]) * bs[d];
                    }
                    double u = a[ia], v = b[ib];
                    y[idx] = op == 0 ? u + v : op == 1 ? u - v : op == 2 ? u * v : u / v;
                }
}

void ref_reduce(int op, const double *x, int nd, const int *sx, const int *st, double *y) {
    int x4[4], t4[4];
    long ts[4];
    pad4(nd, sx, x4);
    pad4(nd, st, t4);
    strides4(t4, ts);
    size_t ny = ref_numel(4, t4);
    for (size_t i = 0; i < ny; i++) y[i] = op == 0 ? 0.0 : -INFINITY;
    size_t idx = 0;
    for (int i0 = 0; i0 < x4[0]; i0++)
        for (int i1 = 0; i1 < x4[1]; i1++)
            for (int i2 = 0; i2 < x4[2]; i2++)
                for (int i3 = 0; i3 < x4[3]; i3++, idx++) {
                    int ii[4] = {i0, i1, i2, i3};
                    long o = 0;
                    for (int d = 0; d < 4; d++) o += (t4[d] == 1 ? 0 : ii[d]) * ts[d];
                    if (op == 0) y[o] += x[idx];
                    else if (x[idx] > y[o]) y[o] = x[idx];
                }
}

void ref_expand(const double *x, int nd, const int *sx, const int *st, double *y) {
    static const double zero = 0;
    (void)zero;
    size_t n = ref_numel(nd, st);
    double *z = calloc(n, sizeof *z);
    ref_binary(0, z, nd, st, x, nd, sx, y, nd, st);
    free(z);
}

/* iterate over all positions with axis fixed at 0: base offsets and the stride along axis */
static void axis_geom(int nd, const int *s, int axis, long *stride, long *outer, long *inner) {
    long st = 1;
    for (int i = nd - 1; i > axis; i--) st *= s[i];
    *stride = st;
    *inner = st;
    long o = 1;
    for (int i = 0; i < axis; i++) o *= s[i];
    *outer = o;
}

void ref_softmax(const double *x, int nd, const int *s, int axis, double *y) {
    long st, outer, inner;
    axis_geom(nd, s, axis, &st, &outer, &inner);
    int n = s[axis];
    for (long o = 0; o < outer; o++)
        for (long in = 0; in < inner; in++) {
            const double *xp = x + o * n * inner + in;
            double *yp = y + o * n * inner + in;
            double m = -INFINITY, sum = 0;
            for (int k = 0; k < n; k++) m = fmax(m, xp[k * st]);
            for (int k = 0; k < n; k++) sum += exp(xp[k * st] - m);
            for (int k = 0; k < n; k++) yp[k * st] = exp(xp[k * st] - m) / sum;
        }
}

void ref_logsumexp(const double *x, int nd, const int *s, int axis, double *y) {
    long st, outer, inner;
    axis_geom(nd, s, axis, &st, &outer, &inner);
    int n = s[axis];
    for (long o = 0; o < outer; o++)
        for (long in = 0; in < inner; in++) {
            const double *xp = x + o * n * inner + in;
            double m = -INFINITY, sum = 0;
            for (int k = 0; k < n; k++) m = fmax(m, xp[k * st]);
            for (int k = 0; k < n; k++) sum += exp(xp[k * st] - m);
            y[o * inner + in] = m + log(sum);
        }
}

void ref_permute(const double *x, int nd, const int *s, const int *perm, double *y) {
    long xs[4];
    long k = 1;
    for (int i = nd - 1; i >= 0; i--) {
        xs[i] = k;
        k *= s[i];
    }
    int ys[4] = {1, 1, 1, 1};
    for (int i = 0; i < nd; i++) ys[i] = s[perm[i]];
    size_t idx = 0;
    for (int i0 = 0; i0 < ys[0]; i0++)
        for (int i1 = 0; i1 < ys[1]; i1++)
            for (int i2 = 0; i2 < ys[2]; i2++)
                for (int i3 = 0; i3 < ys[3]; i3++, idx++) {
                    int ii[4] = {i0, i1, i2, i3};
                    long o = 0;
                    for (int d = 0; d < nd; d++) o += ii[d] * xs[perm[d]];
                    y[idx] = x[o];
                }
}

void ref_slice(const double *x, int nd, const int *s, int axis, int start, int len, double *y) {
    long st, outer, inner;
    axis_geom(nd, s, axis, &st, &outer, &inner);
    for (long o = 0; o < outer; o++)
        for (int k = 0; k < len; k++)
            for (long in = 0; in < inner; in++) y[(o * len + k) * inner + in] = x[(o * s[axis] + start + k) * inner + in];
}

void ref_slice_adjoint(const double *x, int nd, const int *sx, int axis, int start, const int *sy, double *y) {
    long st, outer, inner;
    axis_geom(nd, sy, axis, &st, &outer, &inner);
    memset(y, 0, ref_numel(nd, sy) * sizeof *y);
    int len = sx[axis];
    for (long o = 0; o < outer; o++)
        for (int k = 0; k < len; k++)
            for (long in = 0; in < inner; in++) y[(o * sy[axis] + start + k) * inner + in] = x[(o * len + k) * inner + in];
}

void ref_matmul(const double *a, int ar, int ac, const double *b, int br, int bc, int ta, int tb, int bt, double *y) {
    int m = ta ? ac : ar, k = ta ? ar : ac, n = tb ? br : bc;
    for (int t = 0; t < bt; t++) {
        const double *A = a + (size_t)t * ar * ac, *B = b + (size_t)t * br * bc;
        double *Y = y + (size_t)t * m * n;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int l = 0; l < k; l++) {
                    double u = ta ? A[l * ac + i] : A[i * ac + l];
                    double v = tb ? B[j * bc + l] : B[l * bc + j];
                    acc += u * v;
                }
                Y[i * n + j] = acc;
            }
    }
}

int ref_conv_out(int in, int k, int s, int p, int d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

double ref_conv2d_at(const double *x, int N, int C, int H, int W, const double *w, int O, int KH, int KW, ref_conv_t p,
                     int n, int o, int oh, int ow) {
    (void)N;
    (void)O;
    double acc = 0;
    for (int c = 0; c < C; c++)
        for (int kh = 0; kh < KH; kh++)
            for (int kw = 0; kw < KW; kw++) {
                int ih = oh * p.sh - p.ph + kh * p.dh, iw = ow * p.sw - p.pw + kw * p.dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += x[(((size_t)n * C + c) * H + ih) * W + iw] * w[(((size_t)o * C + c) * KH + kh) * KW + kw];
            }
    return acc;
}

void ref_conv2d(const double *x, int N, int C, int H, int W, const double *w, int O, int KH, int KW, ref_conv_t p, double *y) {
    int Ho = ref_conv_out(H, KH, p.sh, p.ph, p.dh), Wo = ref_conv_out(W, KW, p.sw, p.pw, p.dw);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++)
                    y[(((size_t)n * O + o) * Ho + oh) * Wo + ow] = ref_conv2d_at(x, N, C, H, W, w, O, KH, KW, p, n, o, oh, ow);
}

void ref_conv2d_igrad(const double *g, int N, int O, int H, int W, const double *w, int C, int KH, int KW, ref_conv_t p, double *x) {
    int Ho = ref_conv_out(H, KH, p.sh, p.ph, p.dh), Wo = ref_conv_out(W, KW, p.sw, p.pw, p.dw);
    memset(x, 0, sizeof(double) * (size_t)N * C * H * W);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double gv = g[(((size_t)n * O + o) * Ho + oh) * Wo + ow];
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < KH; kh++)
                            for (int kw = 0; kw < KW; kw++) {
                                int ih = oh * p.sh - p.ph + kh * p.dh, iw = ow * p.sw - p.pw + kw * p.dw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                x[(((size_t)n * C + c) * H + ih) * W + iw] += gv * w[(((size_t)o * C + c) * KH + kh) * KW + kw];
                            }
                }
}

void ref_conv2d_wgrad(const double *x, int N, int C, int H, int W, const double *g, int O, int KH, int KW, ref_conv_t p, double *w) {
    int Ho = ref_conv_out(H, KH, p.sh, p.ph, p.dh), Wo = ref_conv_out(W, KW, p.sw, p.pw, p.dw);
    memset(w, 0, sizeof(double) * (size_t)O * C * KH * KW);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double gv = g[(((size_t)n * O + o) * Ho + oh) * Wo + ow];
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < KH; kh++)
                            for (int kw = 0; kw < KW; kw++) {
                                int ih = oh * p.sh - p.ph + kh * p.dh, iw = ow * p.sw - p.pw + kw * p.dw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                w[(((size_t)o * C + c) * KH + kh) * KW + kw] += gv * x[(((size_t)n * C + c) * H + ih) * W + iw];
                            }
                }
}

void ref_avgpool(const double *x, int P, int H, int W, int k, int s, int p, double *y) {
    int Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
    for (int pl = 0; pl < P; pl++)
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++) {
                double acc = 0;
                for (int a = 0; a < k; a++)
                    for (int b = 0; b < k; b++) {
                        int ih = oh * s - p + a, iw = ow * s - p + b;
                        if (ih >= 0 && ih < H && iw >= 0 && iw < W) acc += x[((size_t)pl * H + ih) * W + iw];
                    }
                y[((size_t)pl * Ho + oh) * Wo + ow] = acc / (k * k);
            }
}

void ref_upsample_nearest(const double *x, int P, int H, int W, int s, double *y) {
    int Ho = H * s, Wo = W * s;
    for (int pl = 0; pl < P; pl++)
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++) y[((size_t)pl * Ho + oh) * Wo + ow] = x[((size_t)pl * H + oh / s) * W + ow / s];
}

/* PyTorch upsample_bilinear2d, align_corners=False */
static void bl_src(int o, int s, int n, int *i0, int *i1, double *l1) {
    double src = (o + 0.5) / s - 0.5;
    if (src < 0) src = 0;
    int a = (int)src;
    if (a > n - 1) a = n - 1;
    *i0 = a;
    *i1 = a < n - 1 ? a + 1 : a;
    *l1 = src - a;
}

void ref_upsample_bilinear(const double *x, int P, int H, int W, int s, double *y) {
    int Ho = H * s, Wo = W * s;
    for (int pl = 0; pl < P; pl++)
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++) {
                int h0, h1, w0, w1;
                double lh, lw;
                bl_src(oh, s, H, &h0, &h1, &lh);
                bl_src(ow, s, W, &w0, &w1, &lw);
                const double *xp = x + (size_t)pl * H * W;
                y[((size_t)pl * Ho + oh) * Wo + ow] = (1 - lh) * ((1 - lw) * xp[h0 * W + w0] + lw * xp[h0 * W + w1]) +
                                                     lh * ((1 - lw) * xp[h1 * W + w0] + lw * xp[h1 * W + w1]);
            }
}

void ref_adjoint(void (*fwd)(const double *, int, int, int, int, int, int, double *), const double *g, int P, int H, int W,
                 int Ho, int Wo, int k, int s, int p, double *x) {
    /* x_j = sum_i g_i * (F e_j)_i, one plane at a time (F acts plane-wise) */
    double *e = calloc((size_t)H * W, sizeof *e), *fe = malloc(sizeof(double) * (size_t)Ho * Wo);
    for (int j = 0; j < H * W; j++) {
        e[j] = 1;
        fwd(e, 1, H, W, k, s, p, fe);
        e[j] = 0;
        for (int pl = 0; pl < P; pl++) {
            double acc = 0;
            for (int i = 0; i < Ho * Wo; i++) acc += g[(size_t)pl * Ho * Wo + i] * fe[i];
            x[(size_t)pl * H * W + j] = acc;
        }
    }
    free(e);
    free(fe);
}

void ref_normalize(const double *x, int nd, const int *s, unsigned mask, double eps, double *y) {
    int t[4] = {1, 1, 1, 1};
    for (int i = 0; i < nd; i++) t[i] = (mask >> i) & 1 ? 1 : s[i];
    size_t n = ref_numel(nd, s), m = ref_numel(nd, t), cnt = n / m;
    double *mean = malloc(m * sizeof *mean), *var = malloc(m * sizeof *var), *d = malloc(n * sizeof *d),
           *d2 = calloc(n, sizeof *d2);
    ref_reduce(0, x, nd, s, t, mean);
    for (size_t i = 0; i < m; i++) mean[i] /= (double)cnt;
    ref_binary(1, x, nd, s, mean, nd, t, d, nd, s);
    for (size_t i = 0; i < n; i++) d2[i] = d[i] * d[i];
    ref_reduce(0, d2, nd, s, t, var);
    for (size_t i = 0; i < m; i++) var[i] = 1.0 / sqrt(var[i] / (double)cnt + eps);
    ref_binary(2, d, nd, s, var, nd, t, y, nd, s);
    free(mean), free(var), free(d), free(d2);
}

void ref_weight_standardize(const double *w, int O, int fan, double eps, double *y) {
    for (int o = 0; o < O; o++) {
        const double *r = w + (size_t)o * fan;
        double m = 0, v = 0;
        for (int i = 0; i < fan; i++) m += r[i];
        m /= fan;
        for (int i = 0; i < fan; i++) v += (r[i] - m) * (r[i] - m);
        double sd = sqrt(v / (fan - 1));
        for (int i = 0; i < fan; i++) y[(size_t)o * fan + i] = (r[i] - m) / (sd + eps);
    }
}

static void normalize_vec(double *v, int n, double eps) {
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i] * v[i];
    s = sqrt(s);
    if (s < eps) s = eps;
    for (int i = 0; i < n; i++) v[i] /= s;
}

void ref_spectral_norm(const double *w, int O, int fan, double *u, int n_iter, double eps, double *y) {
    double *v = calloc((size_t)fan, sizeof *v), *wv = calloc((size_t)O, sizeof *wv);
    for (int it = 0; it < (n_iter > 0 ? n_iter : 1); it++) {
        for (int j = 0; j < fan; j++) {
            v[j] = 0;
            for (int o = 0; o < O; o++) v[j] += w[(size_t)o * fan + j] * u[o];
        }
        normalize_vec(v, fan, eps);
        double *un = wv;
        for (int o = 0; o < O; o++) {
            un[o] = 0;
            for (int j = 0; j < fan; j++) un[o] += w[(size_t)o * fan + j] * v[j];
        }
        normalize_vec(un, O, eps);
        if (n_iter > 0) memcpy(u, un, sizeof(double) * O);
    }
    double sigma = 0;
    for (int o = 0; o < O; o++) {
        double r = 0;
        for (int j = 0; j < fan; j++) r += w[(size_t)o * fan + j] * v[j];
        sigma += (n_iter > 0 ? u[o] : wv[o]) * r;
    }
    for (size_t i = 0; i < (size_t)O * fan; i++) y[i] = w[i] / sigma;
    free(v);
    free(wv);
}

void ref_pairwise_sqdist(const double *a, int N, const double *b, int M, int D, double *y) {
    for (int i = 0; i < N; i++)
        for (int j = 0; j < M; j++) {
            double s = 0;
            for (int d = 0; d < D; d++) {
                double t = a[(size_t)i * D + d] - b[(size_t)j * D + d];
                s += t * t;
            }
            y[(size_t)i * M + j] = s;
        }
}

/* ---- augmentation transitions: crop/flip (bilinear), colour jitter + grayscale, Gaussian blur ---- */

static double ref_gray(double r, double g, double b) { return 0.299 * r + 0.587 * g + 0.114 * b; }
static double ref_clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

static void ref_hue(double *c, double h) {
    double mx = fmax(c[0], fmax(c[1], c[2])), mn = fmin(c[0], fmin(c[1], c[2])), d = mx - mn, hh;
    if (d <= 0) return;
    if (mx == c[0]) hh = (c[1] - c[2]) / d;
    else if (mx == c[1]) hh = 2 + (c[2] - c[0]) / d;
    else hh = 4 + (c[0] - c[1]) / d;
    hh = hh / 6 + h;
    hh -= floor(hh);
    double s = d / mx, v = mx, f6 = hh * 6, f = f6 - floor(f6);
    int i = (int)floor(f6) % 6;
    double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    double out[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
    for (int j = 0; j < 3; j++) c[j] = out[i][j];
}

void ref_augment(const double *x, int B, int C, int H, int W, const float *pp, int k, double *y) {
    size_t HW = (size_t)H * W;
    double *t = malloc(sizeof(double) * C * HW);
    for (int b = 0; b < B; b++) {
        const float *q = pp + 12 * b;
        const double *xs = x + (size_t)b * C * HW;
        double *ys = y + (size_t)b * C * HW;
        for (int c = 0; c < C; c++)   /* crop + flip */
            for (int oh = 0; oh < H; oh++)
                for (int ow = 0; ow < W; ow++) {
                    int sw = q[4] != 0 ? W - 1 - ow : ow;
                    double sx = q[0] + (sw + 0.5) * q[2] / W - 0.5, sy = q[1] + (oh + 0.5) * q[3] / H - 0.5;
                    sx = fmin(fmax(sx, 0), W - 1), sy = fmin(fmax(sy, 0), H - 1);
                    int x0 = (int)floor(sx), y0 = (int)floor(sy), x1 = x0 + 1 < W ? x0 + 1 : W - 1, y1 = y0 + 1 < H ? y0 + 1 : H - 1;
                    double lx = sx - x0, ly = sy - y0;
                    const double *xp = xs + c * HW;
                    t[c * HW + oh * W + ow] = (1 - ly) * ((1 - lx) * xp[y0 * W + x0] + lx * xp[y0 * W + x1]) +
                                              ly * ((1 - lx) * xp[y1 * W + x0] + lx * xp[y1 * W + x1]);
                }
        double bri = q[6], con = q[7], sat = q[8], hue = q[9], mean = 0;
        int jit = q[5] != 0;
        for (size_t i = 0; i < HW; i++)
            mean += C == 3 ? ref_gray(ref_clamp01(t[i] * bri), ref_clamp01(t[HW + i] * bri), ref_clamp01(t[2 * HW + i] * bri))
                           : ref_clamp01(t[i] * bri);
        mean /= (double)HW;
        for (size_t i = 0; i < HW; i++) {
            if (C == 3) {
                double c[3] = {t[i], t[HW + i], t[2 * HW + i]};
                if (jit) {
                    for (int j = 0; j < 3; j++) c[j] = ref_clamp01(c[j] * bri);
                    for (int j = 0; j < 3; j++) c[j] = ref_clamp01((c[j] - mean) * con + mean);
                    double g = ref_gray(c[0], c[1], c[2]);
                    for (int j = 0; j < 3; j++) c[j] = ref_clamp01((c[j] - g) * sat + g);
                    ref_hue(c, hue);
                }
                if (q[10] != 0) c[0] = c[1] = c[2] = ref_gray(c[0], c[1], c[2]);
                t[i] = c[0], t[HW + i] = c[1], t[2 * HW + i] = c[2];
            } else if (jit)
                t[i] = ref_clamp01((ref_clamp01(t[i] * bri) - mean) * con + mean);
        }
        double sigma = q[11];
        int r = k / 2;
        for (int c = 0; c < C; c++)   /* blur, reflect padding */
            for (int oh = 0; oh < H; oh++)
                for (int ow = 0; ow < W; ow++) {
                    if (sigma <= 0) {
                        ys[c * HW + oh * W + ow] = t[c * HW + oh * W + ow];
                        continue;
                    }
                    double acc = 0, norm = 0;
                    for (int d = -r; d <= r; d++) norm += exp(-d * d / (2 * sigma * sigma));
                    for (int dy = -r; dy <= r; dy++)
                        for (int dx = -r; dx <= r; dx++) {
                            int sy = oh + dy, sx = ow + dx;
                            sy = sy < 0 ? -sy : sy >= H ? 2 * H - 2 - sy : sy;
                            sx = sx < 0 ? -sx : sx >= W ? 2 * W - 2 - sx : sx;
                            acc += exp(-(dy * dy + dx * dx) / (2 * sigma * sigma)) * t[c * HW + sy * W + sx];
                        }
                    ys[c * HW + oh * W + ow] = acc / (norm * norm);
                }
    }
    free(t);
}
