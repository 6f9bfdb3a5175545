/* nets.h — energy networks built from engine ops, with PyTorch state_dict parameter names.
 *
 *   ebm_params_t *ps = ebm_params_new(ctx);
 *   ebm_net_t *net = ebm_net_convnet(ps, "", 1, 32);        // conv energy (docs/WORKLOADS.md "convnet")
 *   ebm_params_finalize(ps);
 *   ebm_rng_t rng = ebm_rng_make(seed, 0);
 *   ebm_net_init(net, &rng);                                  // PyTorch's default initialisation
 *   ebm_tensor_t *e = ebm_net_energy(net, x);                 // (B)
 *
 * Names: an MLP is nn.Sequential(Linear, Swish, Linear, ..., Linear) -> "0.weight", "2.weight", ...;
 * convnet is nn.Sequential(Conv, Swish, Conv, Swish, Conv, Swish, Conv, Swish, AdaptiveAvgPool2d(1),
 * Flatten, Linear) -> "0.weight" ... "6.bias", "10.weight", "10.bias"; the multi-scale sum has
 * "nets.<s>." before each scale's names (bench/torch_reference.py). */
#ifndef EBM_NETS_H
#define EBM_NETS_H
#include "ebm.h"

typedef struct ebm_net ebm_net_t;

/* MLP in -> hidden[0] -> ... -> out with swish between layers; energies are the single output. */
ebm_net_t *ebm_net_mlp(ebm_params_t *ps, const char *prefix, int in, const int *hidden, int n_hidden, int out);
/* conv3x3(cin->b, pad 1), swish, conv3x3 s2 (b->2b), swish, conv3x3 s2 (2b->4b), swish,
 * conv3x3 s2 (4b->4b), swish, global average, linear(4b->1). */
ebm_net_t *ebm_net_convnet(ebm_params_t *ps, const char *prefix, int cin, int base);
/* E(x) = sum_s E_s(avgpool2^s(x)), one convnet per scale (torch_reference.py MultiScale). */
ebm_net_t *ebm_net_multiscale(ebm_params_t *ps, const char *prefix, int cin, int base, int scales);

/* Improved CD's ResNet energy (docs/METHODS.md, Networks): conv_in 3x3 (cin ->
 * filters), then per stage two residual blocks (WS-conv3x3, instance norm (group norm 32 above 128
 * channels), swish, twice, + identity; the second block ends with conv3x3 to 2x channels (the first
 * stage keeps them), avg-pool 3x3 s2 p1, swish), SAGAN self-attention after stage 2 when attention is
 * set and there are more than 2 stages, swish, spatial mean, linear -> 1. scales > 1: the sum over
 * scales s of a net with stages - s stages on avgpool3x3s2^s(x), names prefixed "nets.<s>.".
 * Names inside: conv_in.*, blocks.<i>.conv1/norm1/conv2/norm2/conv_down.*, attn.query/key/value.*,
 * attn.gamma, fc.* (tools/torch_load.py builds the matching PyTorch module). */
ebm_net_t *ebm_net_resnet(ebm_params_t *ps, const char *prefix, int cin, int filters, int stages, int attention, int scales);

/* E(x) = |(x - mean) factor|^2 / 2 = (x - mean)^T A (x - mean) / 2 with A = factor factor^T, a Gaussian
 * energy (precision A) whose optimum score matching and NCE know in closed form. Names factor (in x in),
 * mean (in); initialised to I and 0. */
ebm_net_t *ebm_net_quadratic(ebm_params_t *ps, const char *prefix, int in);

/* Generators and critics (issue 4) ----------------------------------------------------------- */
/* MLP with BatchNorm1d after every hidden linear (nn.Sequential(Linear, BatchNorm1d, act, ..., Linear);
 * names 0.*, 1.* (norm), 3.*, 4.*, ...). Batch norm always uses the batch's statistics. */
ebm_net_t *ebm_net_mlp_bn(ebm_params_t *ps, const char *prefix, int in, const int *hidden, int n_hidden, int out);
/* Kim & Bengio's product of experts: E(x) = |x|^2/sigma^2 - b.x - sum_k softplus(w_k.f(x) + c_k), f an
 * MLP (features.0.*, features.2.*, ...; activation after every layer), experts.* (K x last width),
 * visible_bias (D). */
ebm_net_t *ebm_net_poe(ebm_params_t *ps, const char *prefix, int in, const int *hidden, int n_hidden, int experts, float sigma);
/* A restricted Boltzmann machine's free energy: weight (H x D), hidden_bias c (H), visible_bias b (D), and
 * for Gaussian visible units with learnt sigma log_sigma (D). Bernoulli visible units (v in {0, 1}^D):
 *   E(v, h) = -b.v - c.h - h.W v,               F(v) = -b.v - sum_j softplus(c_j + W_j.v);
 * Gaussian visible units (the convention of Cho, Ilin & Raiko 2011 without their sigma^2 on W):
 *   E(v, h) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - c.h - h.W (v / sigma),
 *   F(v) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j softplus(c_j + W_j.(v / sigma)),
 * so p(h_j = 1 | v) = sigmoid(c_j + W_j.(v / sigma)) and p(v_i | h) = N(b_i + sigma_i (W^T h)_i, sigma_i^2).
 * sigma: the fixed value, or the initial one when learn_sigma. Init W ~ N(0, 0.01^2), biases 0. */
ebm_net_t *ebm_net_rbm(ebm_params_t *ps, const char *prefix, int visible, int hidden, int gaussian, float sigma, int learn_sigma);
/* an RBM's sigma (D) for Gaussian visible units (a graph on log_sigma when learnt); NULL for Bernoulli */
ebm_tensor_t *ebm_net_rbm_sigma(const ebm_net_t *net);
/* MEG's StackedMNIST generator: fc (z -> 8b x s0 x s0), BatchNorm2d, ReLU, then four ConvTranspose5x5
 * stride 2 (8b -> 4b -> 2b -> b -> cout; BN + ReLU between; output padding to reach `size`), tanh.
 * Names fc.*, norm0..3.*, deconv1..4.*. Init N(0, 0.02), BN gamma N(1, 0.02) (MEG). */
ebm_net_t *ebm_net_dcgan_generator(ebm_params_t *ps, const char *prefix, int z_dim, int base, int cout, int size);
/* MEG's conv trunk: four Conv5x5 stride 2 pad 2 (cin -> b -> 2b -> 4b -> 8b), leaky ReLU 0.2, flatten,
 * fc -> out. out = 1: an energy. Names conv1..4.*, fc.*. */
ebm_net_t *ebm_net_dcgan_trunk(ebm_params_t *ps, const char *prefix, int cin, int base, int size, int out);
void ebm_net_set_output_tanh(ebm_net_t *net, int on);
/* the batch-norm scale parameters (Kim & Bengio's entropy proxy), up to max into out (may be NULL);
 * returns how many there are */
int ebm_net_bn_gammas(const ebm_net_t *net, ebm_tensor_t **out, int max);

/* Activations between layers, X(ID, [model] activation name, elementwise function, its a); the
 * first is the default. Each needs its nn.Module in tools/torch_load.py. */
#define EBM_NET_ACTIVATIONS(X)                                                  \
    X(SWISH, "swish", EBM_FN_SWISH, 0.0f)            /* nn.SiLU */               \
    X(LRELU, "lrelu", EBM_FN_LEAKY_RELU, 0.2f)       /* nn.LeakyReLU(0.2) */     \
    X(RELU, "relu", EBM_FN_RELU, 0.0f)               /* nn.ReLU */               \
    X(ELU, "elu", EBM_FN_ELU, 1.0f)                  /* nn.ELU */                \
    X(SOFTPLUS, "softplus", EBM_FN_SOFTPLUS, 0.0f)   /* nn.Softplus */
#define EBM_NET_ACTIVATION_NAME_(id, name, fn, a) " " name
/* " swish lrelu relu elu softplus", for help and error messages */
#define EBM_NET_ACTIVATION_NAMES EBM_NET_ACTIVATIONS(EBM_NET_ACTIVATION_NAME_)
/* EBM_STATUS_INVALID_ARGUMENT for a name not in EBM_NET_ACTIVATIONS. */
ebm_status_t ebm_net_set_activation(ebm_net_t *net, const char *name);

/* Class conditioning (FiLM): E(x | y) for labels y in 0 .. classes-1. Adds per conditioned block l
 * the embeddings cond.<l>.scale and cond.<l>.shift (classes x channels), and the block's output h
 * becomes h (1 + onehot(y) scale) + onehot(y) shift, per channel: for convnet after each of its four
 * convs (before the activation), for resnet after each residual block's sum; a multi-scale net
 * conditions every scale (nets.<s>.cond.*). ebm_net_init sets the embeddings to 0, so a conditioned
 * net starts as the unconditioned one. EBM_STATUS_INVALID_ARGUMENT for other nets. */
ebm_status_t ebm_net_condition(ebm_net_t *net, ebm_params_t *ps, const char *prefix, int classes);
int ebm_net_classes(const ebm_net_t *net);   /* 0: not conditioned */
/* The labels of the next forwards as one-hot rows (B, classes), B the batch the forwards get (NULL:
 * none; a conditioned net's forward without labels fails). The net only points at it: clear it
 * before the tensor's scope ends. */
void ebm_net_set_condition(ebm_net_t *net, ebm_tensor_t *onehot);
ebm_tensor_t *ebm_net_get_condition(const ebm_net_t *net);

/* PyTorch's default init for Linear and Conv2d: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights
 * (kaiming_uniform with a = sqrt(5)) and biases. */
ebm_status_t ebm_net_init(ebm_net_t *net, ebm_rng_t *rng);
/* x (B, ...) -> energies (B) */
ebm_tensor_t *ebm_net_energy(ebm_net_t *net, ebm_tensor_t *x);
/* An MLP's or trunk's raw output (B, out), a generator's samples; other networks: their energies. */
ebm_tensor_t *ebm_net_forward(ebm_net_t *net, ebm_tensor_t *x);
/* forward FLOPs per sample (multiply-add = 2), as torch_reference.py's fwd_flops counts them */
/* the input of the last linear layer, (B, features), of an mlp (its last hidden layer) or a dcgan
 * trunk (its flattened conv features): a classifier's penultimate features; NULL for other kinds */
ebm_tensor_t *ebm_net_features(ebm_net_t *net, ebm_tensor_t *x);
double ebm_net_flops(const ebm_net_t *net, const int *sample_shape);
void ebm_net_free(ebm_net_t *net);
#endif
