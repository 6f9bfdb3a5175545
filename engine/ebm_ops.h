/* ebm_ops.h — differentiable tensor operations.
 *
 * Every op takes tensors, returns a new tensor in the current scope, and records a graph node when
 * grad mode is on. On error it returns NULL and keeps the status on the context; an op given a
 * NULL input returns NULL, so a chain needs one check at its end:
 *
 *   ebm_tensor_t *h = ebm_swish(ebm_conv2d(x, w1, b1, EBM_CONV2D(1, 1)));   // (B, 64, H, W)
 *   if (!h) fprintf(stderr, "%s\n", ebm_ctx_error(ctx));
 *
 * Shapes in comments: (B, C, H, W). Broadcasting follows NumPy rules on aligned trailing axes.
 */
#ifndef EBM_OPS_H
#define EBM_OPS_H

#include "ebm_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- elementwise functions f and their derivatives f^(n) (n <= 3) ----------------------- */
/* The one list of elementwise functions. X(ID, name) gives the enum value EBM_FN_<ID> (row order,
 * from 0), the op's name in errors and graphs, and the kernel function fn_<name> of
 * cl/fns.cl (each variant is built with -DFN=fn_<name> -DORDER=<n>; engine/variants.c
 * lists them all). Parameters a, b as each row's comment says.
 *
 * Adding a function touches 4 files, adding a [model] activation 6 (before this table: 5 and 10,
 * with its integer code agreed by hand in ebm_ops.h, ops/elementwise.c, cl/elementwise.cl,
 * tests/ref.c and tests/test_ops.c, and its name in 5 places of models/ and tools/):
 *   engine/ebm_ops.h      a row here (and a wrapper such as ebm_swish, if wanted, whose body is in
 *                         engine/ops/elementwise.c)
 *   cl/fns.cl             fn_<name>(order, x, a, b): f and its derivatives; fn_<name>_d16(x, a, b): f'
 *                         of sixteen values (a convolution's input gradient applies it as it stores)
 *   tests/ref.c           its double-precision reference, a case of ref_fn (the count is pinned there)
 *   tests/test_ops.c      its test settings T_<ID> (input domain, a, b, ULP allowance); its ops_test,
 *                         ops_grad and ops_grad2 rows (and conv2d_of_act's) come from this table
 *   models/nets.h         for an activation, a row of EBM_NET_ACTIVATIONS (names, help, parsing)
 *   tools/torch_load.py   for an activation, its nn.Module */
#define EBM_FNS(X)                                                                                \
    X(AFFINE, "affine")         /* a*x + b */                                                     \
    X(POW, "pow")               /* x^a */                                                         \
    X(EXP, "exp")                                                                                 \
    X(LOG, "log")                                                                                 \
    X(SIGMOID, "sigmoid")                                                                         \
    X(TANH, "tanh")                                                                               \
    X(SOFTPLUS, "softplus")     /* log(1 + e^x), stable */                                        \
    X(SWISH, "swish")           /* x * sigmoid(x) */                                              \
    X(RELU, "relu")                                                                               \
    X(LEAKY_RELU, "leaky_relu") /* slope a for x < 0 */                                           \
    X(ELU, "elu")               /* a * (e^x - 1) for x <= 0 */                                    \
    X(CLAMP, "clamp")           /* clamp(x, a, b); derivative 1 on [a, b], 0 outside */      \
    X(GELU, "gelu")             /* x * Phi(x), Phi the standard normal CDF (erf form) */          \
    X(HALF_SQUARE, "half_square") /* x^2 / 2, whose derivative is x: ebm_grad_set_first_order */
typedef enum ebm_fn {
#define EBM_FN_ENUM_(id, name) EBM_FN_##id,
    EBM_FNS(EBM_FN_ENUM_)
#undef EBM_FN_ENUM_
    EBM_FN_COUNT
} ebm_fn_t;

/* y = f^(order)(x) */
ebm_tensor_t *ebm_unary(ebm_tensor_t *x, ebm_fn_t fn, int order, float a, float b);
/* y = g * f^(order)(x), fused (the shape of backward rules) */
ebm_tensor_t *ebm_unary_mul(ebm_tensor_t *g, ebm_tensor_t *x, ebm_fn_t fn, int order, float a, float b);

ebm_tensor_t *ebm_scale(ebm_tensor_t *x, float a);
ebm_tensor_t *ebm_add_scalar(ebm_tensor_t *x, float b);
ebm_tensor_t *ebm_affine(ebm_tensor_t *x, float a, float b);
ebm_tensor_t *ebm_neg(ebm_tensor_t *x);
ebm_tensor_t *ebm_pow(ebm_tensor_t *x, float p);
ebm_tensor_t *ebm_square(ebm_tensor_t *x);
ebm_tensor_t *ebm_sqrt(ebm_tensor_t *x);
ebm_tensor_t *ebm_rsqrt(ebm_tensor_t *x);
ebm_tensor_t *ebm_exp(ebm_tensor_t *x);
ebm_tensor_t *ebm_log(ebm_tensor_t *x);
ebm_tensor_t *ebm_sigmoid(ebm_tensor_t *x);
ebm_tensor_t *ebm_tanh(ebm_tensor_t *x);
ebm_tensor_t *ebm_softplus(ebm_tensor_t *x);
ebm_tensor_t *ebm_swish(ebm_tensor_t *x);
ebm_tensor_t *ebm_relu(ebm_tensor_t *x);
ebm_tensor_t *ebm_leaky_relu(ebm_tensor_t *x, float slope);
ebm_tensor_t *ebm_elu(ebm_tensor_t *x, float alpha);
ebm_tensor_t *ebm_clamp(ebm_tensor_t *x, float lo, float hi);
ebm_tensor_t *ebm_gelu(ebm_tensor_t *x);

/* ---- binary with broadcasting ----------------------------------------------------------- */
ebm_tensor_t *ebm_add(ebm_tensor_t *a, ebm_tensor_t *b);
ebm_tensor_t *ebm_sub(ebm_tensor_t *a, ebm_tensor_t *b);
ebm_tensor_t *ebm_mul(ebm_tensor_t *a, ebm_tensor_t *b);
ebm_tensor_t *ebm_div(ebm_tensor_t *a, ebm_tensor_t *b);

/* ---- reductions and broadcasting -------------------------------------------------------- */
/* Sum down to `shape` (same rank as x after left-padding with 1s; each axis equal or 1). */
ebm_tensor_t *ebm_sum_to(ebm_tensor_t *x, int ndim, const int *shape);
/* Broadcast up to `shape`. */
ebm_tensor_t *ebm_expand(ebm_tensor_t *x, int ndim, const int *shape);
/* Sum / mean over the axes whose bits are set in axes_mask (bit i = axis i); keepdim keeps them as 1. */
ebm_tensor_t *ebm_sum(ebm_tensor_t *x, unsigned axes_mask, int keepdim);
ebm_tensor_t *ebm_mean(ebm_tensor_t *x, unsigned axes_mask, int keepdim);
ebm_tensor_t *ebm_sum_all(ebm_tensor_t *x);    /* shape (1) */
ebm_tensor_t *ebm_mean_all(ebm_tensor_t *x);   /* shape (1) */
/* Max down to `shape`; not differentiable (used as a constant shift). */
ebm_tensor_t *ebm_max_to(ebm_tensor_t *x, int ndim, const int *shape);
ebm_tensor_t *ebm_softmax(ebm_tensor_t *x, int axis);
ebm_tensor_t *ebm_logsumexp(ebm_tensor_t *x, int axis, int keepdim);

/* ---- shape ------------------------------------------------------------------------------ */
ebm_tensor_t *ebm_reshape(ebm_tensor_t *x, int ndim, const int *shape);   /* -1 allowed once */
ebm_tensor_t *ebm_permute(ebm_tensor_t *x, const int *perm);
ebm_tensor_t *ebm_transpose(ebm_tensor_t *x, int axis0, int axis1);
ebm_tensor_t *ebm_slice(ebm_tensor_t *x, int axis, int start, int len);
/* Zero tensor of `ndim/shape` with x written at [start, start+len) of `axis` (adjoint of slice). */
ebm_tensor_t *ebm_slice_adjoint(ebm_tensor_t *x, int axis, int start, int ndim, const int *shape);
ebm_tensor_t *ebm_concat(ebm_tensor_t *const *xs, int n, int axis);

/* ---- linear algebra (CLBlast) ------------------------------------------------------------ */
/* C = op(A) op(B); 2-D (M,K)x(K,N) or batched 3-D (Bt,M,K)x(Bt,K,N). */
ebm_tensor_t *ebm_matmul(ebm_tensor_t *a, ebm_tensor_t *b, int trans_a, int trans_b);
/* y = x W^T + b; x (B, in), W (out, in), b (out) or NULL. */
ebm_tensor_t *ebm_linear(ebm_tensor_t *x, ebm_tensor_t *w, ebm_tensor_t *b);

/* ---- convolution ------------------------------------------------------------------------- */
typedef struct ebm_conv2d_params {
    int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
} ebm_conv2d_params_t;
#define EBM_CONV2D(stride, pad) ((ebm_conv2d_params_t){(stride), (stride), (pad), (pad), 1, 1})

/* x (B, C, H, W), w (O, C, kH, kW), b (O) or NULL -> (B, O, Ho, Wo) */
ebm_tensor_t *ebm_conv2d(ebm_tensor_t *x, ebm_tensor_t *w, ebm_tensor_t *b, ebm_conv2d_params_t p);
/* f(conv2d(x, w, b)) with f = fn (parameter a as in EBM_FNS; b = 0), e.g. EBM_FN_SWISH: equal to
 * ebm_unary(ebm_conv2d(x, w, b, p), fn, 0, a, 0) with the same gradients of every order, and where
 * the convolution runs as the tile GEMM (CPUs), the bias and f are applied as it stores its output. */
ebm_tensor_t *ebm_conv2d_act(ebm_tensor_t *x, ebm_tensor_t *w, ebm_tensor_t *b, ebm_conv2d_params_t p, ebm_fn_t fn, float a);
/* The adjoint of conv2d in x: g (B, O, Ho, Wo), w (O, C, kH, kW) -> (B, C, H, W). */
ebm_tensor_t *ebm_conv2d_input_grad(ebm_tensor_t *g, ebm_tensor_t *w, int H, int W, ebm_conv2d_params_t p);
/* The adjoint of conv2d in w: x (B, C, H, W), g (B, O, Ho, Wo) -> (O, C, kH, kW). */
ebm_tensor_t *ebm_conv2d_weight_grad(ebm_tensor_t *x, ebm_tensor_t *g, int kH, int kW, ebm_conv2d_params_t p);
/* PyTorch conv_transpose2d: x (B, Cin, H, W), w (Cin, Cout, kH, kW), b (Cout) or NULL. */
ebm_tensor_t *ebm_conv_transpose2d(ebm_tensor_t *x, ebm_tensor_t *w, ebm_tensor_t *b, ebm_conv2d_params_t p,
                                   int output_pad_h, int output_pad_w);

/* ---- pooling and resampling --------------------------------------------------------------- */
/* PyTorch avg_pool2d with count_include_pad=True (divisor k*k). */
ebm_tensor_t *ebm_avg_pool2d(ebm_tensor_t *x, int k, int stride, int pad);
ebm_tensor_t *ebm_upsample_nearest(ebm_tensor_t *x, int scale);
/* Bilinear, align_corners=False, integer scale. */
ebm_tensor_t *ebm_upsample_bilinear(ebm_tensor_t *x, int scale);

/* ---- normalisation ------------------------------------------------------------------------ */
/* x (B, C, H, W) or (B, C). training: batch statistics (running stats updated, no gradient); else
 * running stats. gamma/beta (C) or NULL. */
ebm_tensor_t *ebm_batch_norm(ebm_tensor_t *x, ebm_tensor_t *gamma, ebm_tensor_t *beta,
                             ebm_tensor_t *running_mean, ebm_tensor_t *running_var,
                             int training, float momentum, float eps);
ebm_tensor_t *ebm_instance_norm(ebm_tensor_t *x, ebm_tensor_t *gamma, ebm_tensor_t *beta, float eps);
ebm_tensor_t *ebm_group_norm(ebm_tensor_t *x, int groups, ebm_tensor_t *gamma, ebm_tensor_t *beta, float eps);
/* Normalises over the last n_axes axes; gamma/beta of those axes' shape or NULL. */
ebm_tensor_t *ebm_layer_norm(ebm_tensor_t *x, int n_axes, ebm_tensor_t *gamma, ebm_tensor_t *beta, float eps);
/* w (O, ...): (w - mean) / (std + eps) per output channel, unbiased std (improved CD's WSConv2d). */
ebm_tensor_t *ebm_weight_standardize(ebm_tensor_t *w, float eps);
/* w / sigma_max(w), w viewed as (O, rest); u (O) is the power-iteration state, updated in place
 * n_iter times without gradient (as torch.nn.utils.spectral_norm). */
ebm_tensor_t *ebm_spectral_norm(ebm_tensor_t *w, ebm_tensor_t *u, int n_iter, float eps);

/* ---- composites --------------------------------------------------------------------------- */
/* SAGAN self-attention: q,k = 1x1 convs (C -> C/8), v = 1x1 conv (C -> C),
 * y = gamma * v softmax(q^T k)^T + x. gamma has shape (1). */
ebm_tensor_t *ebm_self_attention(ebm_tensor_t *x, ebm_tensor_t *wq, ebm_tensor_t *bq,
                                 ebm_tensor_t *wk, ebm_tensor_t *bk, ebm_tensor_t *wv,
                                 ebm_tensor_t *bv, ebm_tensor_t *gamma);
/* a (N, D), b (M, D) -> (N, M) of ||a_i - b_j||^2, clamped at 0. */
ebm_tensor_t *ebm_pairwise_sqdist(ebm_tensor_t *a, ebm_tensor_t *b);

#ifdef __cplusplus
}
#endif
#endif
