/* nets.c — MLP, convnet and multi-scale energies (see nets.h). */
#include "nets.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { NET_MLP, NET_CONV, NET_MULTI } net_kind_t;

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
};

enum { ACT_SWISH, ACT_LRELU, ACT_RELU, ACT_ELU, ACT_SOFTPLUS };
static const char *act_names[] = {"swish", "lrelu", "relu", "elu", "softplus"};

ebm_status_t ebm_net_set_activation(ebm_net_t *n, const char *name) {
    int a = -1;
    for (int i = 0; i < (int)(sizeof act_names / sizeof *act_names); i++)
        if (!strcmp(name, act_names[i])) a = i;
    if (a < 0) return EBM_STATUS_INVALID_ARGUMENT;
    n->act = a;
    for (int i = 0; i < n->n_sub; i++) ebm_net_set_activation(n->sub[i], name);
    return EBM_OK;
}

static ebm_tensor_t *act(const ebm_net_t *n, ebm_tensor_t *x) {
    switch (n->act) {
    case ACT_LRELU: return ebm_leaky_relu(x, 0.2f);
    case ACT_RELU: return ebm_relu(x);
    case ACT_ELU: return ebm_elu(x, 1.0f);
    case ACT_SOFTPLUS: return ebm_softplus(x);
    default: return ebm_swish(x);
    }
}

static ebm_net_t *net_new(net_kind_t kind) {
    ebm_net_t *n = calloc(1, sizeof *n);
    if (n) n->kind = kind;
    return n;
}

static int add_layer(ebm_net_t *n, ebm_params_t *ps, const char *prefix, int index, int ndim, const int *wshape, int fan_in,
                     int stride) {
    char name[128];
    snprintf(name, sizeof name, "%s%d.weight", prefix, index);
    n->w[n->n_layers] = ebm_params_add(ps, name, ndim, wshape);
    snprintf(name, sizeof name, "%s%d.bias", prefix, index);
    n->b[n->n_layers] = ebm_params_add(ps, name, 1, wshape);
    n->fan_in[n->n_layers] = fan_in;
    n->stride[n->n_layers] = stride;
    return n->w[n->n_layers++] && n->b[n->n_layers - 1];
}

ebm_net_t *ebm_net_mlp(ebm_params_t *ps, const char *prefix, int in, const int *hidden, int n_hidden, int out) {
    ebm_net_t *n = net_new(NET_MLP);
    if (!n || n_hidden + 1 > MAX_LAYERS) {
        free(n);
        return NULL;
    }
    int prev = in;
    for (int i = 0; i <= n_hidden; i++) {
        int o = i < n_hidden ? hidden[i] : out;
        if (!add_layer(n, ps, prefix, 2 * i, 2, (int[]){o, prev}, prev, 1)) {
            free(n);
            return NULL;
        }
        prev = o;
    }
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

void ebm_net_free(ebm_net_t *n) {
    if (!n) return;
    for (int i = 0; i < n->n_sub; i++) ebm_net_free(n->sub[i]);
    free(n);
}

ebm_status_t ebm_net_init(ebm_net_t *n, ebm_rng_t *rng) {
    for (int i = 0; i < n->n_sub; i++) {
        ebm_status_t st = ebm_net_init(n->sub[i], rng);
        if (st != EBM_OK) return st;
    }
    for (int l = 0; l < n->n_layers; l++) {
        float bound = (float)(1.0 / sqrt((double)n->fan_in[l]));
        ebm_status_t st = ebm_tensor_fill_uniform(n->w[l], rng, -bound, bound);
        if (st == EBM_OK) st = ebm_tensor_fill_uniform(n->b[l], rng, -bound, bound);
        if (st != EBM_OK) return st;
    }
    return EBM_OK;
}

ebm_tensor_t *ebm_net_energy(ebm_net_t *n, ebm_tensor_t *x) {
    if (!x) return NULL;
    ebm_tensor_t *h = x;
    int B = ebm_tensor_dim(x, 0);
    switch (n->kind) {
    case NET_MLP:
        for (int l = 0; l < n->n_layers; l++) {
            h = ebm_linear(h, n->w[l], n->b[l]);
            if (l + 1 < n->n_layers) h = act(n, h);
        }
        return ebm_reshape(h, 1, &B);
    case NET_CONV:
        for (int l = 0; l < 4; l++) h = act(n, ebm_conv2d(h, n->w[l], n->b[l], EBM_CONV2D(n->stride[l], 1)));
        h = ebm_mean(h, 0xCu, 0);   /* (B, 4b) */
        return ebm_reshape(ebm_linear(h, n->w[4], n->b[4]), 1, &B);
    case NET_MULTI: {
        ebm_tensor_t *e = NULL, *xs = x;
        for (int s = 0; s < n->n_sub; s++) {
            if (s) xs = ebm_avg_pool2d(xs, 2, 2, 0);
            ebm_tensor_t *es = ebm_net_energy(n->sub[s], xs);
            e = e ? ebm_add(e, es) : es;
        }
        return e;
    }
    }
    return NULL;
}

double ebm_net_flops(const ebm_net_t *n, const int *s) {
    double f = 0;
    switch (n->kind) {
    case NET_MLP:
        for (int l = 0; l < n->n_layers; l++) f += 2.0 * ebm_tensor_numel(n->w[l]);
        return f;
    case NET_CONV: {
        int H = s[1], W = s[2];
        for (int l = 0; l < 4; l++) {
            H = (H + 2 - 3) / n->stride[l] + 1;
            W = (W + 2 - 3) / n->stride[l] + 1;
            f += 2.0 * H * W * ebm_tensor_numel(n->w[l]);
        }
        return f + 2.0 * ebm_tensor_numel(n->w[4]);
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
