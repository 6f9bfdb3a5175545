/* elementwise.c — unary functions with derivative orders, and broadcasting binary ops. */
#include <math.h>
#include <stdio.h>
#include "../internal.h"

const char *const ebm_fn_names[EBM_FN_COUNT] = {
#define EBM_FN_NAME_(id, name) name,
    EBM_FNS(EBM_FN_NAME_)
#undef EBM_FN_NAME_
};

static ebm_tensor_t *unary_impl(ebm_tensor_t *g, ebm_tensor_t *x, ebm_fn_t fn, int order, float a, float b);

/* the function of a unary or unary_mul node, as their backward rules read it */
static void set_fn(ebm_node_t *n, ebm_fn_t fn, int order, float a, float b) {
    if (!n) return;
    n->ip[0] = (int)fn;
    n->ip[1] = order;
    n->fp[0] = a;
    n->fp[1] = b;
}

static void unary_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    (void)need;
    gx[0] = unary_impl(gy, n->in[0], (ebm_fn_t)n->ip[0], n->ip[1] + 1, n->fp[0], n->fp[1]);
}

/* Both gradients of a unary_mul node in one launch (cl/elementwise.cl unary_mul_pair), where no
 * graph is recorded and f has a next derivative: 0 where it does not apply (nothing launched). A
 * gradient penalty's backward takes this path once per activation, in place of three launches
 * (fmnist-ms: 3.2M floats each, the largest). */
static int unary_mul_pair(ebm_node_t *n, ebm_tensor_t *gy, ebm_tensor_t **gx) {
    ebm_tensor_t *g = n->in[0], *x = n->in[1];
    ebm_ctx_t *ctx = x->ctx;
    int order = n->ip[1];
    if (!gy || order + 1 > EBM_FN_MAX_ORDER || gy->numel != x->numel || g->numel != x->numel) return 0;
    if (ctx->grad_enabled && (ebm_tensor_live_requires_grad(gy) || ebm_tensor_live_requires_grad(g) ||
                              ebm_tensor_live_requires_grad(x)))
        return 0;
    cl_kernel k = ebm_kernel_fn_order(ctx, EBM_K_UNARY_MUL_PAIR, n->ip[0], order);
    ebm_tensor_t *y0 = k ? ebm_tensor_like(x) : NULL, *y1 = y0 ? ebm_tensor_like(x) : NULL;
    if (!y1 || ebm_kargs(ctx, k, "mlmlmlmlmlffl", y0->buf, y0->off, y1->buf, y1->off, gy->buf, gy->off, g->buf, g->off, x->buf,
                         x->off, (double)n->fp[0], (double)n->fp[1], x->numel) != EBM_OK ||
        ebm_launch1(ctx, k, x->numel) != EBM_OK)
        return 0;
    gx[0] = y0, gx[1] = y1;
    return 1;
}

/* y = g * f^(n)(x): d/dg = gy * f^(n)(x), d/dx = gy * g * f^(n+1)(x) */
static void unary_mul_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    ebm_fn_t fn = (ebm_fn_t)n->ip[0];
    int order = n->ip[1];
    if (need[0] && need[1] && unary_mul_pair(n, gy, gx)) return;
    if (n->in[1]->ctx->status != EBM_OK) return;
    if (need[0]) gx[0] = unary_impl(gy, n->in[1], fn, order, n->fp[0], n->fp[1]);
    if (need[1]) gx[1] = unary_impl(ebm_mul(gy, n->in[0]), n->in[1], fn, order + 1, n->fp[0], n->fp[1]);
}

static ebm_tensor_t *unary_impl(ebm_tensor_t *g, ebm_tensor_t *x, ebm_fn_t fn, int order, float a, float b) {
    if (!x) return NULL;
    ebm_ctx_t *ctx = x->ctx;
    if (ctx->status != EBM_OK) return NULL;
    if ((int)fn < 0 || fn >= EBM_FN_COUNT) {
        ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "unknown elementwise function %d", (int)fn);
        return NULL;
    }
    if (order > EBM_FN_MAX_ORDER) {
        ebm_fail(ctx, EBM_STATUS_NOT_IMPLEMENTED, "derivative of order %d of %s (at most %d)", order, ebm_fn_names[fn],
                 EBM_FN_MAX_ORDER);
        return NULL;
    }
    if (g && g->numel != x->numel) {
        char s1[64], s2[64];
        ebm_fail(ctx, EBM_STATUS_SHAPE, "unary_mul: %s vs %s", ebm_tensor_shape_str(g, s1, 64), ebm_tensor_shape_str(x, s2, 64));
        return NULL;
    }
    /* derivatives of order >= 2 of the piecewise-linear functions are zero everywhere */
    ebm_tensor_t *y = ebm_tensor_like(x);
    if (!y) return NULL;
    cl_kernel k = ebm_kernel_fn_order(ctx, g ? EBM_K_UNARY_MUL : EBM_K_UNARY, (int)fn, order);
    if (!k) return NULL;
    ebm_status_t st = g ? ebm_kargs(ctx, k, "mlmlmlffl", y->buf, y->off, g->buf, g->off, x->buf, x->off, (double)a,
                                    (double)b, x->numel)
                        : ebm_kargs(ctx, k, "mlmlffl", y->buf, y->off, x->buf, x->off, (double)a, (double)b, x->numel);
    if (st != EBM_OK || ebm_launch1(ctx, k, x->numel) != EBM_OK) return NULL;
    set_fn(g ? ebm_record(y, "unary_mul", unary_mul_backward, 2, (ebm_tensor_t *[]){g, x})
             : ebm_record(y, "unary", unary_backward, 1, &x),
           fn, order, a, b);
    return y;
}

int ebm_node_unary(const ebm_node_t *n, ebm_grad_fuse_t *f) {
    if (!n || n->backward != unary_backward || n->ip[1] != 0) return 0;
    *f = (ebm_grad_fuse_t){n->in[0], n->ip[0], n->fp[0], n->fp[1]};
    return 1;
}

/* Records y = f(x) computed elsewhere (a GEMM's epilogue) as the unary node ebm_unary would. */
void ebm_record_unary(ebm_tensor_t *y, ebm_tensor_t *x, ebm_fn_t fn, float a, float b) {
    set_fn(ebm_record(y, "unary", unary_backward, 1, &x), fn, 0, a, b);
}

/* Records y = f(z) computed elsewhere, d = f'(z) kept in place of z (ebm_grad_set_first_order), as a
 * unary node of x^2 / 2 on d: its backward gy * d is exact, and a fusion offer like any activation's
 * (the rule multiplies by d where it would evaluate f'); the node refuses a graph of its gradient. */
void ebm_record_unary_first_order(ebm_tensor_t *y, ebm_tensor_t *d) {
    ebm_node_t *n = ebm_record(y, "activation (first-order)", unary_backward, 1, &d);
    set_fn(n, EBM_FN_HALF_SQUARE, 0, 0.0f, 0.0f);
    if (n) n->first_order = 1;
}

ebm_tensor_t *ebm_unary(ebm_tensor_t *x, ebm_fn_t fn, int order, float a, float b) {
    return unary_impl(NULL, x, fn, order, a, b);
}

ebm_tensor_t *ebm_unary_mul(ebm_tensor_t *g, ebm_tensor_t *x, ebm_fn_t fn, int order, float a, float b) {
    if (!g) return NULL;
    return unary_impl(g, x, fn, order, a, b);
}

ebm_tensor_t *ebm_scale(ebm_tensor_t *x, float a) { return ebm_unary(x, EBM_FN_AFFINE, 0, a, 0.0f); }
ebm_tensor_t *ebm_add_scalar(ebm_tensor_t *x, float b) { return ebm_unary(x, EBM_FN_AFFINE, 0, 1.0f, b); }
ebm_tensor_t *ebm_affine(ebm_tensor_t *x, float a, float b) { return ebm_unary(x, EBM_FN_AFFINE, 0, a, b); }
ebm_tensor_t *ebm_neg(ebm_tensor_t *x) { return ebm_unary(x, EBM_FN_AFFINE, 0, -1.0f, 0.0f); }
ebm_tensor_t *ebm_pow(ebm_tensor_t *x, float p) { return ebm_unary(x, EBM_FN_POW, 0, p, 0.0f); }
ebm_tensor_t *ebm_square(ebm_tensor_t *x) { return ebm_unary(x, EBM_FN_POW, 0, 2.0f, 0.0f); }
ebm_tensor_t *ebm_sqrt(ebm_tensor_t *x) { return ebm_unary(x, EBM_FN_POW, 0, 0.5f, 0.0f); }
ebm_tensor_t *ebm_rsqrt(ebm_tensor_t *x) { return ebm_unary(x, EBM_FN_POW, 0, -0.5f, 0.0f); }
ebm_tensor_t *ebm_exp(ebm_tensor_t *x) { return ebm_unary(x, EBM_FN_EXP, 0, 0.0f, 0.0f); }
ebm_tensor_t *ebm_log(ebm_tensor_t *x) { return ebm_unary(x, EBM_FN_LOG, 0, 0.0f, 0.0f); }
ebm_tensor_t *ebm_sigmoid(ebm_tensor_t *x) { return ebm_unary(x, EBM_FN_SIGMOID, 0, 0.0f, 0.0f); }
ebm_tensor_t *ebm_tanh(ebm_tensor_t *x) { return ebm_unary(x, EBM_FN_TANH, 0, 0.0f, 0.0f); }
ebm_tensor_t *ebm_softplus(ebm_tensor_t *x) { return ebm_unary(x, EBM_FN_SOFTPLUS, 0, 0.0f, 0.0f); }
ebm_tensor_t *ebm_swish(ebm_tensor_t *x) { return ebm_unary(x, EBM_FN_SWISH, 0, 0.0f, 0.0f); }
ebm_tensor_t *ebm_relu(ebm_tensor_t *x) { return ebm_unary(x, EBM_FN_RELU, 0, 0.0f, 0.0f); }
ebm_tensor_t *ebm_leaky_relu(ebm_tensor_t *x, float slope) { return ebm_unary(x, EBM_FN_LEAKY_RELU, 0, slope, 0.0f); }
ebm_tensor_t *ebm_elu(ebm_tensor_t *x, float alpha) { return ebm_unary(x, EBM_FN_ELU, 0, alpha, 0.0f); }
ebm_tensor_t *ebm_clamp(ebm_tensor_t *x, float lo, float hi) { return ebm_unary(x, EBM_FN_CLAMP, 0, lo, hi); }
ebm_tensor_t *ebm_gelu(ebm_tensor_t *x) { return ebm_unary(x, EBM_FN_GELU, 0, 0.0f, 0.0f); }

/* ---- binary ---------------------------------------------------------------------------- */

/* Broadcast shape of a and b (aligned on trailing axes); 0 on mismatch. */
static int broadcast_shape(const ebm_tensor_t *a, const ebm_tensor_t *b, int *nd, int *shape) {
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int ia = i - (n - a->ndim), ib = i - (n - b->ndim);
        int da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) return 0;
        shape[i] = da > db ? da : db;
    }
    *nd = n;
    return 1;
}

/* strides of t read as a 4-D tensor broadcast to out4 (left-padded) */
static void bcast_strides4(const ebm_tensor_t *t, const int *out4, int *st) {
    int s4[4], pad = 4 - t->ndim;
    for (int i = 0; i < 4; i++) s4[i] = i < pad ? 1 : t->shape[i - pad];
    long stride = 1;
    for (int i = 3; i >= 0; i--) {
        st[i] = (s4[i] == 1 && out4[i] != 1) ? 0 : (int)stride;
        stride *= s4[i];
    }
}

static ebm_tensor_t *binary_impl(ebm_tensor_t *a, ebm_tensor_t *b, int op);

static void binary_backward(ebm_node_t *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx) {
    ebm_tensor_t *a = n->in[0], *b = n->in[1];
    switch (n->ip[0]) {
    case EBM_OP_ADD:
        if (need[0]) gx[0] = ebm_sum_to(gy, a->ndim, a->shape);
        if (need[1]) gx[1] = ebm_sum_to(gy, b->ndim, b->shape);
        break;
    case EBM_OP_SUB:
        if (need[0]) gx[0] = ebm_sum_to(gy, a->ndim, a->shape);
        if (need[1]) gx[1] = ebm_neg(ebm_sum_to(gy, b->ndim, b->shape));
        break;
    case EBM_OP_MUL:
        if (need[0]) gx[0] = ebm_sum_to(ebm_mul(gy, b), a->ndim, a->shape);
        if (need[1]) gx[1] = ebm_sum_to(ebm_mul(gy, a), b->ndim, b->shape);
        break;
    default: /* y = a / b: da = gy / b, db = -gy * y / b */
        if (need[0]) gx[0] = ebm_sum_to(ebm_div(gy, b), a->ndim, a->shape);
        if (need[1]) gx[1] = ebm_sum_to(ebm_neg(ebm_div(ebm_mul(gy, n->out), b)), b->ndim, b->shape);
        break;
    }
}

static ebm_tensor_t *binary_impl(ebm_tensor_t *a, ebm_tensor_t *b, int op) {
    static const char *const names[EBM_OP_COUNT] = {"add", "sub", "mul", "div"};
    if (!a || !b) return NULL;
    ebm_ctx_t *ctx = a->ctx;
    if (ctx->status != EBM_OK) return NULL;
    int nd, shape[4];
    if (!broadcast_shape(a, b, &nd, shape)) {
        char s1[64], s2[64];
        ebm_fail(ctx, EBM_STATUS_SHAPE, "%s: shapes %s and %s do not broadcast", names[op], ebm_tensor_shape_str(a, s1, 64),
                 ebm_tensor_shape_str(b, s2, 64));
        return NULL;
    }
    ebm_tensor_t *y = ebm_tensor_new(ctx, nd, shape);
    if (!y) return NULL;
    int out4[4], pad = 4 - nd;
    for (int i = 0; i < 4; i++) out4[i] = i < pad ? 1 : shape[i - pad];
    int as[4], bs[4];
    bcast_strides4(a, out4, as);
    bcast_strides4(b, out4, bs);
    int contig = a->numel == y->numel && b->numel == y->numel;
    char defines[16];
    snprintf(defines, sizeof defines, EBM_BINARY_DEFINES, op);
    cl_kernel k = ebm_kernel_variant(ctx, contig ? EBM_K_BINARY : EBM_K_BINARY_BCAST, defines);
    if (!k) return NULL;
    ebm_status_t st = contig ? ebm_kargs(ctx, k, "mlmlmll", y->buf, y->off, a->buf, a->off, b->buf, b->off, y->numel)
                             : ebm_kargs(ctx, k, "mlmlmliiiiiiiiiiii", y->buf, y->off, a->buf, a->off, b->buf, b->off, out4[0],
                                         out4[1], out4[2], out4[3], as[0], as[1], as[2], as[3], bs[0], bs[1], bs[2], bs[3]);
    if (st != EBM_OK) return NULL;
    if ((contig ? ebm_launch1(ctx, k, y->numel) : ebm_launch3(ctx, k, out4[2], (size_t)out4[0] * out4[1], 1)) != EBM_OK)
        return NULL;
    ebm_node_t *n = ebm_record(y, names[op], binary_backward, 2, (ebm_tensor_t *[]){a, b});
    if (n) n->ip[0] = op;
    return y;
}

ebm_tensor_t *ebm_add(ebm_tensor_t *a, ebm_tensor_t *b) { return binary_impl(a, b, EBM_OP_ADD); }
ebm_tensor_t *ebm_sub(ebm_tensor_t *a, ebm_tensor_t *b) { return binary_impl(a, b, EBM_OP_SUB); }
ebm_tensor_t *ebm_mul(ebm_tensor_t *a, ebm_tensor_t *b) { return binary_impl(a, b, EBM_OP_MUL); }
ebm_tensor_t *ebm_div(ebm_tensor_t *a, ebm_tensor_t *b) { return binary_impl(a, b, EBM_OP_DIV); }
