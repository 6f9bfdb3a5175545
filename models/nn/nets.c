/* nets.c — MLP, convnet and multi-scale energies (see nets.h). */
#include "nets.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { NET_MLP, NET_CONV, NET_MULTI, NET_RESNET, NET_POE, NET_DCGAN_G, NET_DCGAN_D, NET_QUAD, NET_RBM } net_kind_t;

/* improved CD's residual block (docs/METHODS.md, Networks) */
typedef struct rblock {
    ebm_tensor_t *c1w, *c1b, *n1g, *n1b, *c2w, *c2b, *n2g, *n2b, *dw, *db;
    int cin, cout, down;
} rblock_t;

#define MAX_LAYERS 8
#define MAX_SCALES 4

struct ebm_net {
    net_kind_t kind;
    int n_layers;
    ebm_tensor_t *w[MAX_LAYERS], *b[MAX_LAYERS];
    int fan_in[MAX_LAYERS], stride[MAX_LAYERS];
    int n_sub;
    ebm_net_t *sub[MAX_SCALES];
    int act;   /* activation between layers (ebm_net_set_activation) */
    int out_tanh;                                   /* tanh on the output (image generators) */
    ebm_tensor_t *bn_g[MAX_LAYERS], *bn_b[MAX_LAYERS];   /* batch norm after hidden layer l (generators) */
    int bn_ch[MAX_LAYERS];
    /* product of experts: E = |x|^2/sigma^2 - b.x - sum_k softplus(w_k.f(x) + c_k), f = layers 0..n-2 */
    ebm_tensor_t *vis_b;
    float poe_sigma;
    /* RBM (ebm_net_rbm): w[0] (H, D), b[0] the hidden biases, vis_b; Gaussian visible units with
     * sigma = exp(log_sigma) (learnt) or rbm_sigma (fixed) */
    int rbm_gaussian;
    ebm_tensor_t *log_sigma;
    float rbm_sigma;
    /* DCGAN generator: linear z -> (c0, s0, s0), then transposed convs; discriminator trunk: convs */
    int c0, s0, out_pad[MAX_LAYERS], n_out;
    /* resnet */
    rblock_t *blocks;
    int n_blocks, attn_after;   /* attention after block attn_after (-1: none) */
    ebm_tensor_t *in_w, *in_b, *aw[3], *ab[3], *gamma, *fc_w, *fc_b;
    /* class conditioning (ebm_net_condition): FiLM embeddings of conditioned block l (convnet: layer l,
     * resnet: block l), the labels of the next forwards */
    int classes, n_film;
    ebm_tensor_t **film_s, **film_b;
    ebm_tensor_t *onehot;
};

enum {
#define ACT_ENUM(id, name, fn, a) ACT_##id,
    EBM_NET_ACTIVATIONS(ACT_ENUM)
#undef ACT_ENUM
    ACT_COUNT
};
static const struct { const char *name; ebm_fn_t fn; float a; } acts[] = {
#define ACT_ROW(id, name, fn, a) {name, fn, a},
    EBM_NET_ACTIVATIONS(ACT_ROW)
#undef ACT_ROW
};
_Static_assert(sizeof acts / sizeof *acts == ACT_COUNT, "one row of acts per activation");

ebm_status_t ebm_net_set_activation(ebm_net_t *n, const char *name) {
    int a = -1;
    for (int i = 0; i < ACT_COUNT; i++)
        if (!strcmp(name, acts[i].name)) a = i;
    if (a < 0) return EBM_STATUS_INVALID_ARGUMENT;
    n->act = a;
    for (int i = 0; i < n->n_sub; i++) ebm_net_set_activation(n->sub[i], name);
    return EBM_OK;
}

static ebm_tensor_t *act(const ebm_net_t *n, ebm_tensor_t *x) {
    return ebm_unary(x, acts[n->act].fn, 0, acts[n->act].a, 0.0f);
}

/* act(conv2d(...)) as one op: on the tile path the bias and activation go into the GEMM's store */
static ebm_tensor_t *conv_act(const ebm_net_t *n, ebm_tensor_t *x, ebm_tensor_t *w, ebm_tensor_t *b, ebm_conv2d_params_t p) {
    return ebm_conv2d_act(x, w, b, p, acts[n->act].fn, acts[n->act].a);
}

static ebm_tensor_t *param(ebm_params_t *ps, const char *prefix, const char *name, int ndim, const int *shape);

/* FiLM of conditioned block l: h (B, C, H, W) -> h (1 + y S_l) + y T_l with y the one-hot labels (B, K),
 * S_l, T_l (K, C); h itself when the net is not conditioned */
static ebm_tensor_t *film(const ebm_net_t *n, int l, ebm_tensor_t *h) {
    if (!n->classes || !h) return h;
    if (!n->onehot || ebm_tensor_dim(n->onehot, 0) != ebm_tensor_dim(h, 0)) return NULL;   /* (ebm_net_energy refuses it first) */
    int B = ebm_tensor_dim(h, 0), C = ebm_tensor_dim(h, 1);
    ebm_tensor_t *s = ebm_reshape(ebm_matmul(n->onehot, n->film_s[l], 0, 0), 4, (int[]){B, C, 1, 1});
    ebm_tensor_t *t = ebm_reshape(ebm_matmul(n->onehot, n->film_b[l], 0, 0), 4, (int[]){B, C, 1, 1});
    return ebm_add(ebm_mul(h, ebm_add_scalar(s, 1.0f)), t);
}

static ebm_net_t *net_new(net_kind_t kind) {
    ebm_net_t *n = calloc(1, sizeof *n);
    if (n) n->kind = kind;
    return n;
}

static int add_layer(ebm_net_t *n, ebm_params_t *ps, const char *prefix, int index, int ndim, const int *wshape, int fan_in,
                     int stride) {
    char name[192];
    if (index < 0) snprintf(name, sizeof name, "%sweight", prefix);
    else snprintf(name, sizeof name, "%s%d.weight", prefix, index);
    n->w[n->n_layers] = ebm_params_add(ps, name, ndim, wshape);
    if (index < 0) snprintf(name, sizeof name, "%sbias", prefix);
    else snprintf(name, sizeof name, "%s%d.bias", prefix, index);
    n->b[n->n_layers] = ebm_params_add(ps, name, 1, wshape);
    n->fan_in[n->n_layers] = fan_in;
    n->stride[n->n_layers] = stride;
    return n->w[n->n_layers++] && n->b[n->n_layers - 1];
}

/* MLP layers; with batch norm nn.Sequential(Linear, BatchNorm1d, act, ...) puts linear i at 3i and its
 * norm at 3i + 1, without at 2i */
static ebm_net_t *mlp_build(ebm_params_t *ps, const char *prefix, int in, const int *hidden, int n_hidden, int out, int bn) {
    ebm_net_t *n = net_new(NET_MLP);
    if (!n || n_hidden + 1 > MAX_LAYERS) {
        free(n);
        return NULL;
    }
    int prev = in, step = bn ? 3 : 2;
    for (int i = 0; i <= n_hidden; i++) {
        int o = i < n_hidden ? hidden[i] : out;
        if (!add_layer(n, ps, prefix, step * i, 2, (int[]){o, prev}, prev, 1)) {
            free(n);
            return NULL;
        }
        if (bn && i < n_hidden) {
            char name[192];
            snprintf(name, sizeof name, "%s%d.weight", prefix, 3 * i + 1);
            n->bn_g[i] = ebm_params_add(ps, name, 1, &o);
            snprintf(name, sizeof name, "%s%d.bias", prefix, 3 * i + 1);
            n->bn_b[i] = ebm_params_add(ps, name, 1, &o);
            n->bn_ch[i] = o;
        }
        prev = o;
    }
    return n;
}

ebm_net_t *ebm_net_mlp(ebm_params_t *ps, const char *prefix, int in, const int *hidden, int n_hidden, int out) {
    return mlp_build(ps, prefix, in, hidden, n_hidden, out, 0);
}

ebm_net_t *ebm_net_mlp_bn(ebm_params_t *ps, const char *prefix, int in, const int *hidden, int n_hidden, int out) {
    return mlp_build(ps, prefix, in, hidden, n_hidden, out, 1);
}

/* E(x) = |(x - mean) factor|^2 / 2: w[0] = factor (in x in), b[0] = mean (in) */
ebm_net_t *ebm_net_quadratic(ebm_params_t *ps, const char *prefix, int in) {
    ebm_net_t *n = net_new(NET_QUAD);
    char name[192];
    if (!n) return NULL;
    snprintf(name, sizeof name, "%sfactor", prefix);
    n->w[0] = ebm_params_add(ps, name, 2, (int[]){in, in});
    snprintf(name, sizeof name, "%smean", prefix);
    n->b[0] = ebm_params_add(ps, name, 1, &in);
    n->n_layers = 1;
    if (!n->w[0] || !n->b[0]) {
        free(n);
        return NULL;
    }
    return n;
}

ebm_net_t *ebm_net_poe(ebm_params_t *ps, const char *prefix, int in, const int *hidden, int n_hidden, int experts, float sigma) {
    ebm_net_t *n = net_new(NET_POE);
    if (!n || n_hidden + 1 > MAX_LAYERS || experts < 1 || !(sigma > 0)) {
        free(n);
        return NULL;
    }
    char p[128];
    snprintf(p, sizeof p, "%sfeatures.", prefix);
    int prev = in;
    for (int i = 0; i <= n_hidden; i++) {
        int o = i < n_hidden ? hidden[i] : experts;
        if (i == n_hidden) snprintf(p, sizeof p, "%sexperts.", prefix);
        if (!add_layer(n, ps, p, i < n_hidden ? 2 * i : -1, 2, (int[]){o, prev}, prev, 1)) {
            free(n);
            return NULL;
        }
        prev = o;
    }
    n->vis_b = param(ps, prefix, "visible_bias", 1, &in);
    n->poe_sigma = sigma;
    return n;
}

ebm_net_t *ebm_net_rbm(ebm_params_t *ps, const char *prefix, int visible, int hidden, int gaussian, float sigma, int learn_sigma) {
    ebm_net_t *n = net_new(NET_RBM);
    if (!n || visible < 1 || hidden < 1 || !(sigma > 0)) {
        free(n);
        return NULL;
    }
    n->w[0] = param(ps, prefix, "weight", 2, (int[]){hidden, visible});
    n->b[0] = param(ps, prefix, "hidden_bias", 1, &hidden);
    n->vis_b = param(ps, prefix, "visible_bias", 1, &visible);
    n->n_layers = 1;
    n->rbm_gaussian = gaussian;
    n->rbm_sigma = sigma;
    if (gaussian && learn_sigma) n->log_sigma = param(ps, prefix, "log_sigma", 1, &visible);
    if (!n->w[0] || !n->b[0] || !n->vis_b || (gaussian && learn_sigma && !n->log_sigma)) {
        free(n);
        return NULL;
    }
    return n;
}

ebm_tensor_t *ebm_net_rbm_sigma(const ebm_net_t *n) {
    if (n->kind != NET_RBM || !n->rbm_gaussian) return NULL;
    return n->log_sigma ? ebm_exp(n->log_sigma) : ebm_tensor_full(ebm_tensor_ctx(n->vis_b), 1, (int[]){ebm_tensor_dim(n->vis_b, 0)}, n->rbm_sigma);
}

/* sizes of the DCGAN ladder ending at `size`: s[4] = size, s[i] = ceil(s[i + 1] / 2) */
static void dcgan_sizes(int size, int *s) {
    s[4] = size;
    for (int i = 3; i >= 0; i--) s[i] = (s[i + 1] + 1) / 2;
}

ebm_net_t *ebm_net_dcgan_generator(ebm_params_t *ps, const char *prefix, int z_dim, int base, int cout, int size) {
    ebm_net_t *n = net_new(NET_DCGAN_G);
    if (!n || base < 1 || size < 16) {
        free(n);
        return NULL;
    }
    int s[5], ch[5] = {8 * base, 4 * base, 2 * base, base, cout};
    dcgan_sizes(size, s);
    n->c0 = ch[0], n->s0 = s[0], n->out_tanh = 1;
    int o = ch[0] * s[0] * s[0];
    n->w[0] = param(ps, prefix, "fc.weight", 2, (int[]){o, z_dim});
    n->b[0] = param(ps, prefix, "fc.bias", 1, &o);
    n->fan_in[0] = z_dim;
    for (int l = 0; l < 4; l++) {
        char name[32];
        snprintf(name, sizeof name, "norm%d.weight", l);
        n->bn_g[l] = param(ps, prefix, name, 1, &ch[l]);
        snprintf(name, sizeof name, "norm%d.bias", l);
        n->bn_b[l] = param(ps, prefix, name, 1, &ch[l]);
        n->bn_ch[l] = ch[l];
        snprintf(name, sizeof name, "deconv%d.weight", l + 1);
        n->w[l + 1] = param(ps, prefix, name, 4, (int[]){ch[l], ch[l + 1], 5, 5});
        snprintf(name, sizeof name, "deconv%d.bias", l + 1);
        n->b[l + 1] = param(ps, prefix, name, 1, &ch[l + 1]);
        n->fan_in[l + 1] = ch[l + 1] * 25;
        n->out_pad[l] = s[l + 1] - (2 * s[l] - 1);   /* (in - 1) * 2 - 2 * 2 + 5 + op = out */
    }
    n->n_layers = 5;
    n->act = ACT_RELU;
    return n;
}

ebm_net_t *ebm_net_dcgan_trunk(ebm_params_t *ps, const char *prefix, int cin, int base, int size, int out) {
    ebm_net_t *n = net_new(NET_DCGAN_D);
    if (!n || base < 1 || size < 16 || out < 1) {
        free(n);
        return NULL;
    }
    int s[5], ch[5] = {cin, base, 2 * base, 4 * base, 8 * base};
    dcgan_sizes(size, s);
    for (int l = 0; l < 4; l++) {
        char name[32];
        snprintf(name, sizeof name, "conv%d.weight", l + 1);
        n->w[l] = param(ps, prefix, name, 4, (int[]){ch[l + 1], ch[l], 5, 5});
        snprintf(name, sizeof name, "conv%d.bias", l + 1);
        n->b[l] = param(ps, prefix, name, 1, &ch[l + 1]);
        n->fan_in[l] = ch[l] * 25;
    }
    int f = ch[4] * s[0] * s[0];
    n->w[4] = param(ps, prefix, "fc.weight", 2, (int[]){out, f});
    n->b[4] = param(ps, prefix, "fc.bias", 1, &out);
    n->fan_in[4] = f;
    n->n_layers = 5;
    n->n_out = out;
    n->act = ACT_LRELU;
    return n;
}

ebm_net_t *ebm_net_convnet(ebm_params_t *ps, const char *prefix, int cin, int base) {
    ebm_net_t *n = net_new(NET_CONV);
    if (!n) return NULL;
    int ch[5] = {cin, base, 2 * base, 4 * base, 4 * base};
    for (int l = 0; l < 4; l++)
        if (!add_layer(n, ps, prefix, 2 * l, 4, (int[]){ch[l + 1], ch[l], 3, 3}, ch[l] * 9, l ? 2 : 1)) {
            free(n);
            return NULL;
        }
    if (!add_layer(n, ps, prefix, 10, 2, (int[]){1, 4 * base}, 4 * base, 1)) {
        free(n);
        return NULL;
    }
    return n;
}

ebm_net_t *ebm_net_multiscale(ebm_params_t *ps, const char *prefix, int cin, int base, int scales) {
    ebm_net_t *n = net_new(NET_MULTI);
    if (!n || scales < 1 || scales > MAX_SCALES) {
        free(n);
        return NULL;
    }
    for (int s = 0; s < scales; s++) {
        char p[96];
        snprintf(p, sizeof p, "%snets.%d.", prefix, s);
        if (!(n->sub[n->n_sub++] = ebm_net_convnet(ps, p, cin, base))) {
            ebm_net_free(n);
            return NULL;
        }
    }
    return n;
}

static ebm_tensor_t *param(ebm_params_t *ps, const char *prefix, const char *name, int ndim, const int *shape) {
    char full[160];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return ebm_params_add(ps, full, ndim, shape);
}

static ebm_net_t *resnet_one(ebm_params_t *ps, const char *prefix, int cin, int f, int stages, int attention) {
    ebm_net_t *n = net_new(NET_RESNET);
    if (!n || !(n->blocks = calloc((size_t)2 * stages, sizeof *n->blocks))) {
        free(n);
        return NULL;
    }
    n->in_w = param(ps, prefix, "conv_in.weight", 4, (int[]){f, cin, 3, 3});
    n->in_b = param(ps, prefix, "conv_in.bias", 1, &f);
    n->attn_after = -1;
    int c = f;
    for (int s = 0; s < stages; s++) {
        int cout = s == 0 ? c : 2 * c;   /* ICD: 64 -> 64 (16x16), -> 128 (8x8), -> 256 (4x4), -> 512 (2x2) */
        for (int half = 0; half < 2; half++) {
            rblock_t *b = &n->blocks[n->n_blocks];
            char p[128];
            snprintf(p, sizeof p, "%sblocks.%d.", prefix, n->n_blocks++);
            b->cin = c, b->cout = half ? cout : c, b->down = half;
            int w3[4] = {c, c, 3, 3};
            b->c1w = param(ps, p, "conv1.weight", 4, w3), b->c1b = param(ps, p, "conv1.bias", 1, &c);
            b->n1g = param(ps, p, "norm1.weight", 1, &c), b->n1b = param(ps, p, "norm1.bias", 1, &c);
            b->c2w = param(ps, p, "conv2.weight", 4, w3), b->c2b = param(ps, p, "conv2.bias", 1, &c);
            b->n2g = param(ps, p, "norm2.weight", 1, &c), b->n2b = param(ps, p, "norm2.bias", 1, &c);
            if (half) {
                b->dw = param(ps, p, "conv_down.weight", 4, (int[]){cout, c, 3, 3});
                b->db = param(ps, p, "conv_down.bias", 1, &cout);
            }
        }
        c = cout;
        if (attention && s == 1 && stages > 2) {   /* at 8x8 for 32x32 inputs */
            int q = c / 8 > 0 ? c / 8 : 1;
            n->attn_after = n->n_blocks - 1;
            n->aw[0] = param(ps, prefix, "attn.query.weight", 4, (int[]){q, c, 1, 1}), n->ab[0] = param(ps, prefix, "attn.query.bias", 1, &q);
            n->aw[1] = param(ps, prefix, "attn.key.weight", 4, (int[]){q, c, 1, 1}), n->ab[1] = param(ps, prefix, "attn.key.bias", 1, &q);
            n->aw[2] = param(ps, prefix, "attn.value.weight", 4, (int[]){c, c, 1, 1}), n->ab[2] = param(ps, prefix, "attn.value.bias", 1, &c);
            n->gamma = param(ps, prefix, "attn.gamma", 1, (int[]){1});
        }
    }
    n->fc_w = param(ps, prefix, "fc.weight", 2, (int[]){1, c});
    n->fc_b = param(ps, prefix, "fc.bias", 1, (int[]){1});
    return n;
}

ebm_net_t *ebm_net_resnet(ebm_params_t *ps, const char *prefix, int cin, int filters, int stages, int attention, int scales) {
    if (scales <= 1) return resnet_one(ps, prefix, cin, filters, stages, attention);
    ebm_net_t *n = net_new(NET_MULTI);
    if (!n || scales > MAX_SCALES) {
        free(n);
        return NULL;
    }
    n->stride[0] = 3;   /* downsampling between scales: avg-pool 3x3 stride 2 pad 1 (ICD) */
    for (int s = 0; s < scales; s++) {
        char p[96];
        snprintf(p, sizeof p, "%snets.%d.", prefix, s);
        if (!(n->sub[n->n_sub++] = resnet_one(ps, p, cin, filters, stages - s > 1 ? stages - s : 1, attention))) {
            ebm_net_free(n);
            return NULL;
        }
    }
    return n;
}

static ebm_tensor_t *norm(const rblock_t *b, ebm_tensor_t *h, ebm_tensor_t *g, ebm_tensor_t *beta) {
    /* ICD: InstanceNorm2d(affine) up to 128 channels, GroupNorm(32) above */
    return b->cin <= 128 ? ebm_instance_norm(h, g, beta, 1e-5f) : ebm_group_norm(h, 32, g, beta, 1e-5f);
}

static ebm_tensor_t *resnet_energy(const ebm_net_t *n, ebm_tensor_t *x) {
    int B = ebm_tensor_dim(x, 0);
    ebm_conv2d_params_t p = EBM_CONV2D(1, 1);
    ebm_tensor_t *h = conv_act(n, x, n->in_w, n->in_b, p);
    for (int i = 0; i < n->n_blocks; i++) {
        const rblock_t *b = &n->blocks[i];
        ebm_tensor_t *r = act(n, norm(b, ebm_conv2d(h, ebm_weight_standardize(b->c1w, 1e-5f), b->c1b, p), b->n1g, b->n1b));
        r = act(n, norm(b, ebm_conv2d(r, ebm_weight_standardize(b->c2w, 1e-5f), b->c2b, p), b->n2g, b->n2b));
        h = film(n, i, ebm_add(h, r));
        if (b->down) h = act(n, ebm_avg_pool2d(ebm_conv2d(h, b->dw, b->db, p), 3, 2, 1));
        if (i == n->attn_after) h = ebm_self_attention(h, n->aw[0], n->ab[0], n->aw[1], n->ab[1], n->aw[2], n->ab[2], n->gamma);
    }
    h = ebm_mean(act(n, h), 0xCu, 0);
    return ebm_reshape(ebm_linear(h, n->fc_w, n->fc_b), 1, &B);
}

void ebm_net_free(ebm_net_t *n) {
    if (!n) return;
    free(n->blocks);
    free(n->film_s), free(n->film_b);
    for (int i = 0; i < n->n_sub; i++) ebm_net_free(n->sub[i]);
    free(n);
}

ebm_status_t ebm_net_init(ebm_net_t *n, ebm_rng_t *rng) {
    for (int l = 0; l < n->n_film; l++) {   /* the conditioned net starts as the unconditioned one */
        ebm_status_t st = ebm_tensor_fill(n->film_s[l], 0.0f);
        if (st == EBM_OK) st = ebm_tensor_fill(n->film_b[l], 0.0f);
        if (st != EBM_OK) return st;
    }
    for (int i = 0; i < n->n_sub; i++) {
        ebm_status_t st = ebm_net_init(n->sub[i], rng);
        if (st != EBM_OK) return st;
    }
    if (n->kind == NET_RESNET) {   /* convs and linear: PyTorch defaults; norms 1, 0; attention gamma 0 */
        ebm_tensor_t *wb[64][2];
        int m = 0;
        wb[m][0] = n->in_w, wb[m++][1] = n->in_b;
        for (int i = 0; i < n->n_blocks && m < 60; i++) {
            const rblock_t *b = &n->blocks[i];
            wb[m][0] = b->c1w, wb[m++][1] = b->c1b;
            wb[m][0] = b->c2w, wb[m++][1] = b->c2b;
            if (b->dw) wb[m][0] = b->dw, wb[m++][1] = b->db;
            ebm_tensor_fill(b->n1g, 1), ebm_tensor_fill(b->n1b, 0), ebm_tensor_fill(b->n2g, 1), ebm_tensor_fill(b->n2b, 0);
        }
        for (int k = 0; k < 3 && n->gamma; k++) wb[m][0] = n->aw[k], wb[m++][1] = n->ab[k];
        if (n->gamma) ebm_tensor_fill(n->gamma, 0);
        wb[m][0] = n->fc_w, wb[m++][1] = n->fc_b;
        for (int i = 0; i < m; i++) {
            float bound = (float)(1.0 / sqrt((double)(ebm_tensor_numel(wb[i][0]) / ebm_tensor_dim(wb[i][0], 0))));
            ebm_status_t st = ebm_tensor_fill_uniform(wb[i][0], rng, -bound, bound);
            if (st == EBM_OK) st = ebm_tensor_fill_uniform(wb[i][1], rng, -bound, bound);
            if (st != EBM_OK) return st;
        }
        return EBM_OK;
    }
    if (n->kind == NET_DCGAN_G || n->kind == NET_DCGAN_D) {   /* DCGAN / MEG: N(0, 0.02), biases 0, BN gamma N(1, 0.02) */
        for (int l = 0; l < n->n_layers; l++) {
            ebm_status_t st = ebm_tensor_fill_normal(n->w[l], rng, 0.0f, 0.02f);
            if (st == EBM_OK) st = ebm_tensor_fill(n->b[l], 0.0f);
            if (st == EBM_OK && n->bn_g[l]) st = ebm_tensor_fill_normal(n->bn_g[l], rng, 1.0f, 0.02f);
            if (st == EBM_OK && n->bn_b[l]) st = ebm_tensor_fill(n->bn_b[l], 0.0f);
            if (st != EBM_OK) return st;
        }
        return EBM_OK;
    }
    if (n->kind == NET_QUAD) {   /* mean 0, factor I: E(x) = |x|^2 / 2 */
        int D = ebm_tensor_dim(n->b[0], 0);
        float *eye = calloc((size_t)D * D, sizeof(float));
        if (!eye) return EBM_STATUS_OUT_OF_MEMORY;
        for (int i = 0; i < D; i++) eye[i * D + i] = 1;
        ebm_status_t st = ebm_tensor_write(n->w[0], eye);
        free(eye);
        return st == EBM_OK ? ebm_tensor_fill(n->b[0], 0.0f) : st;
    }
    if (n->kind == NET_RBM) {   /* Hinton's practical guide: W ~ N(0, 0.01^2), biases 0; log sigma of rbm_sigma */
        ebm_status_t st = ebm_tensor_fill_normal(n->w[0], rng, 0.0f, 0.01f);
        if (st == EBM_OK) st = ebm_tensor_fill(n->b[0], 0.0f);
        if (st == EBM_OK) st = ebm_tensor_fill(n->vis_b, 0.0f);
        if (st == EBM_OK && n->log_sigma) st = ebm_tensor_fill(n->log_sigma, logf(n->rbm_sigma));
        return st;
    }
    if (n->vis_b) ebm_tensor_fill(n->vis_b, 0.0f);
    for (int l = 0; l < n->n_layers; l++) {   /* PyTorch: Linear/Conv2d kaiming-uniform(a = sqrt 5), BatchNorm 1 and 0 */
        if (n->bn_g[l]) ebm_tensor_fill(n->bn_g[l], 1.0f), ebm_tensor_fill(n->bn_b[l], 0.0f);
        float bound = (float)(1.0 / sqrt((double)n->fan_in[l]));
        ebm_status_t st = ebm_tensor_fill_uniform(n->w[l], rng, -bound, bound);
        if (st == EBM_OK) st = ebm_tensor_fill_uniform(n->b[l], rng, -bound, bound);
        if (st != EBM_OK) return st;
    }
    return EBM_OK;
}

ebm_status_t ebm_net_condition(ebm_net_t *n, ebm_params_t *ps, const char *prefix, int classes) {
    if (classes < 1 || n->classes) return EBM_STATUS_INVALID_ARGUMENT;
    if (n->kind == NET_MULTI) {
        for (int s = 0; s < n->n_sub; s++) {
            char p[96];
            snprintf(p, sizeof p, "%snets.%d.", prefix, s);
            ebm_status_t st = ebm_net_condition(n->sub[s], ps, p, classes);
            if (st != EBM_OK) return st;
        }
        n->classes = classes;
        return EBM_OK;
    }
    if (n->kind != NET_CONV && n->kind != NET_RESNET) return EBM_STATUS_INVALID_ARGUMENT;
    int m = n->kind == NET_CONV ? 4 : n->n_blocks;
    n->film_s = calloc((size_t)m, sizeof *n->film_s);
    n->film_b = calloc((size_t)m, sizeof *n->film_b);
    if (!n->film_s || !n->film_b) return EBM_STATUS_OUT_OF_MEMORY;
    for (int l = 0; l < m; l++) {
        int C = n->kind == NET_CONV ? ebm_tensor_dim(n->w[l], 0) : n->blocks[l].cin;
        char name[160];
        snprintf(name, sizeof name, "%scond.%d.scale", prefix, l);
        n->film_s[l] = ebm_params_add(ps, name, 2, (int[]){classes, C});
        snprintf(name, sizeof name, "%scond.%d.shift", prefix, l);
        n->film_b[l] = ebm_params_add(ps, name, 2, (int[]){classes, C});
        if (!n->film_s[l] || !n->film_b[l]) return EBM_STATUS_OUT_OF_MEMORY;
    }
    n->n_film = m, n->classes = classes;
    return EBM_OK;
}

int ebm_net_classes(const ebm_net_t *n) { return n->classes; }

void ebm_net_set_condition(ebm_net_t *n, ebm_tensor_t *onehot) {
    n->onehot = onehot;
    for (int s = 0; s < n->n_sub; s++) ebm_net_set_condition(n->sub[s], onehot);
}

ebm_tensor_t *ebm_net_get_condition(const ebm_net_t *n) { return n->onehot; }

ebm_tensor_t *ebm_net_energy(ebm_net_t *n, ebm_tensor_t *x) {
    if (!x) return NULL;
    /* a conditioned net without labels for every input: nothing (run.c always sets them) */
    if (n->classes && (!n->onehot || ebm_tensor_dim(n->onehot, 0) != ebm_tensor_dim(x, 0))) return NULL;
    ebm_tensor_t *h = x;
    int B = ebm_tensor_dim(x, 0);
    switch (n->kind) {
    case NET_MLP:
        return ebm_reshape(ebm_net_forward(n, x), 1, &B);
    case NET_CONV:
        for (int l = 0; l < 4; l++) {
            ebm_conv2d_params_t p = EBM_CONV2D(n->stride[l], 1);
            h = n->classes ? act(n, film(n, l, ebm_conv2d(h, n->w[l], n->b[l], p))) : conv_act(n, h, n->w[l], n->b[l], p);
        }
        h = ebm_mean(h, 0xCu, 0);   /* (B, 4b) */
        return ebm_reshape(ebm_linear(h, n->w[4], n->b[4]), 1, &B);
    case NET_RESNET:
        return resnet_energy(n, x);
    case NET_POE: {   /* |x|^2/sigma^2 - b.x - sum_k softplus(w_k.f(x) + c_k) */
        ebm_tensor_t *xf = ebm_reshape(x, 2, (int[]){B, -1});
        h = xf;
        for (int l = 0; l + 1 < n->n_layers; l++) h = act(n, ebm_linear(h, n->w[l], n->b[l]));
        ebm_tensor_t *experts = ebm_sum(ebm_softplus(ebm_linear(h, n->w[n->n_layers - 1], n->b[n->n_layers - 1])), 0x2u, 0);
        ebm_tensor_t *quad = ebm_scale(ebm_sum(ebm_square(xf), 0x2u, 0), 1.0f / (n->poe_sigma * n->poe_sigma));
        ebm_tensor_t *lin = ebm_reshape(ebm_linear(xf, ebm_reshape(n->vis_b, 2, (int[]){1, -1}), NULL), 1, &B);
        return ebm_sub(ebm_sub(quad, lin), experts);
    }
    case NET_QUAD: {   /* |(x - mean) factor|^2 / 2 */
        ebm_tensor_t *d = ebm_sub(ebm_reshape(x, 2, (int[]){B, -1}), ebm_reshape(n->b[0], 2, (int[]){1, -1}));
        return ebm_scale(ebm_sum(ebm_square(ebm_matmul(d, n->w[0], 0, 0)), 0x2u, 0), 0.5f);
    }
    case NET_RBM: {   /* the free energy F(v) = -log sum_h exp(-E(v, h)) (nets.h) */
        ebm_tensor_t *v = ebm_reshape(x, 2, (int[]){B, -1}), *sig = ebm_net_rbm_sigma(n);
        ebm_tensor_t *vis, *in = v;
        if (sig) {   /* sum_i (v_i - b_i)^2 / (2 sigma_i^2), hidden input W (v / sigma) + c */
            in = ebm_div(v, sig);
            vis = ebm_scale(ebm_sum(ebm_square(ebm_div(ebm_sub(v, n->vis_b), sig)), 0x2u, 0), 0.5f);
        } else
            vis = ebm_neg(ebm_reshape(ebm_linear(v, ebm_reshape(n->vis_b, 2, (int[]){1, -1}), NULL), 1, &B));
        return ebm_sub(vis, ebm_sum(ebm_softplus(ebm_linear(in, n->w[0], n->b[0])), 0x2u, 0));
    }
    case NET_DCGAN_D:
    case NET_DCGAN_G:
        h = ebm_net_forward(n, x);
        return ebm_tensor_numel(h) == (size_t)B ? ebm_reshape(h, 1, &B) : NULL;
    case NET_MULTI: {
        ebm_tensor_t *e = NULL, *xs = x;
        for (int s = 0; s < n->n_sub; s++) {
            if (s) xs = n->stride[0] == 3 ? ebm_avg_pool2d(xs, 3, 2, 1) : ebm_avg_pool2d(xs, 2, 2, 0);
            ebm_tensor_t *es = ebm_net_energy(n->sub[s], xs);
            e = e ? ebm_add(e, es) : es;
        }
        return e;
    }
    }
    return NULL;
}

/* batch norm with the batch's statistics (generators sample in training mode; no running averages) */
static ebm_tensor_t *bn(const ebm_net_t *n, int l, ebm_tensor_t *h) {
    return n->bn_g[l] ? ebm_batch_norm(h, n->bn_g[l], n->bn_b[l], NULL, NULL, 1, 0.1f, 1e-5f) : h;
}

ebm_tensor_t *ebm_net_forward(ebm_net_t *n, ebm_tensor_t *x) {
    if (!x) return NULL;
    ebm_tensor_t *h = x;
    int B = ebm_tensor_dim(x, 0);
    switch (n->kind) {
    case NET_MLP:
        for (int l = 0; l < n->n_layers; l++) {
            h = ebm_linear(h, n->w[l], n->b[l]);
            if (l + 1 < n->n_layers) h = act(n, bn(n, l, h));
        }
        return n->out_tanh ? ebm_tanh(h) : h;
    case NET_DCGAN_G:
        h = act(n, bn(n, 0, ebm_reshape(ebm_linear(x, n->w[0], n->b[0]), 4, (int[]){B, n->c0, n->s0, n->s0})));
        for (int l = 1; l <= 4; l++) {
            int op = n->out_pad[l - 1];
            h = ebm_conv_transpose2d(h, n->w[l], n->b[l], EBM_CONV2D(2, 2), op, op);
            h = l < 4 ? act(n, bn(n, l, h)) : ebm_tanh(h);
        }
        return h;
    case NET_DCGAN_D:
        for (int l = 0; l < 4; l++) h = conv_act(n, h, n->w[l], n->b[l], EBM_CONV2D(2, 2));
        return ebm_linear(ebm_reshape(h, 2, (int[]){B, -1}), n->w[4], n->b[4]);
    default:
        return ebm_net_energy(n, x);
    }
}

ebm_tensor_t *ebm_net_features(ebm_net_t *n, ebm_tensor_t *x) {
    if (!x) return NULL;
    ebm_tensor_t *h = x;
    int B = ebm_tensor_dim(x, 0);
    switch (n->kind) {
    case NET_MLP:
        if (n->n_layers < 2) return NULL;
        for (int l = 0; l + 1 < n->n_layers; l++) h = act(n, bn(n, l, ebm_linear(h, n->w[l], n->b[l])));
        return h;
    case NET_DCGAN_D:
        for (int l = 0; l < 4; l++) h = conv_act(n, h, n->w[l], n->b[l], EBM_CONV2D(2, 2));
        return ebm_reshape(h, 2, (int[]){B, -1});
    default:
        return NULL;
    }
}

void ebm_net_set_output_tanh(ebm_net_t *n, int on) { n->out_tanh = on; }

int ebm_net_bn_gammas(const ebm_net_t *n, ebm_tensor_t **out, int max) {
    int k = 0;
    for (int l = 0; l < MAX_LAYERS; l++)
        if (n->bn_g[l]) {
            if (out && k < max) out[k] = n->bn_g[l];
            k++;
        }
    return k;
}

double ebm_net_flops(const ebm_net_t *n, const int *s) {
    double f = 0;
    switch (n->kind) {
    case NET_MLP:
    case NET_POE:
    case NET_QUAD:
    case NET_RBM:
        for (int l = 0; l < n->n_layers; l++) f += 2.0 * ebm_tensor_numel(n->w[l]);
        return f;
    case NET_DCGAN_G:
    case NET_DCGAN_D: {   /* the conv layers at their output (D) or input (G) resolutions, plus the linear */
        int sz[5];
        dcgan_sizes(s[1], sz);
        for (int l = 0; l < 4; l++)
            f += 2.0 * ebm_tensor_numel(n->w[n->kind == NET_DCGAN_G ? l + 1 : l]) * (n->kind == NET_DCGAN_G ? sz[l] * sz[l] : sz[l + 1] * sz[l + 1]);
        return f + 2.0 * ebm_tensor_numel(n->w[n->kind == NET_DCGAN_G ? 0 : 4]);
    }
    case NET_CONV: {
        int H = s[1], W = s[2];
        for (int l = 0; l < 4; l++) {
            H = (H + 2 - 3) / n->stride[l] + 1;
            W = (W + 2 - 3) / n->stride[l] + 1;
            f += 2.0 * H * W * ebm_tensor_numel(n->w[l]);
        }
        return f + 2.0 * ebm_tensor_numel(n->w[4]);
    }
    case NET_RESNET: {
        int H = s[1], W = s[2];
        f += 2.0 * H * W * ebm_tensor_numel(n->in_w);
        for (int i = 0; i < n->n_blocks; i++) {
            const rblock_t *b = &n->blocks[i];
            f += 2.0 * H * W * (ebm_tensor_numel(b->c1w) + ebm_tensor_numel(b->c2w));
            if (b->down) {
                f += 2.0 * H * W * ebm_tensor_numel(b->dw);
                H = (H + 1) / 2, W = (W + 1) / 2;
            }
        }
        return f + 2.0 * ebm_tensor_numel(n->fc_w);
    }
    case NET_MULTI: {
        int sub[3] = {s[0], s[1], s[2]};
        for (int i = 0; i < n->n_sub; i++) {
            f += ebm_net_flops(n->sub[i], sub);
            sub[1] /= 2;
            sub[2] /= 2;
        }
        return f;
    }
    }
    return 0;
}
