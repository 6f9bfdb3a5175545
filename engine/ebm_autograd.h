/* ebm_autograd.h — define-by-run reverse mode with higher-order gradients.
 *
 * Every op records a node when grad mode is on and an input requires a gradient. Backward rules
 * are written with the public ops, so with EBM_GRAD_CREATE_GRAPH the gradients themselves carry a
 * graph and can be differentiated again (torch.autograd.grad(..., create_graph=True)):
 *
 *   ebm_tensor_set_requires_grad(x, 1);
 *   ebm_tensor_t *e = ebm_sum_all(energy(net, x));
 *   ebm_tensor_t *gx;
 *   ebm_grad(&e, 1, NULL, &x, 1, &gx, EBM_GRAD_CREATE_GRAPH);      // dE/dx, differentiable
 *   ebm_tensor_t *pen = ebm_sum_all(ebm_square(gx));                // ||dE/dx||^2
 *   ebm_params_backward(params, pen);                               // d/dtheta of it
 *
 *   int was = ebm_params_set_frozen(ctx, 1);   // parameters act as constants (x still flows)
 *   ...                                        // e.g. improved CD's E_{theta frozen}(x_kl)
 *   ebm_params_set_frozen(ctx, was);
 */
#ifndef EBM_AUTOGRAD_H
#define EBM_AUTOGRAD_H

#include "ebm_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    EBM_GRAD_CREATE_GRAPH = 1u << 0,  /* record the backward pass so it can be differentiated */
    EBM_GRAD_ALLOW_UNUSED = 1u << 1   /* an input the outputs do not depend on gets NULL, not an error */
};

/* grads[i] = sum_j d(<grad_outputs[j], outputs[j]>)/d inputs[i]. grad_outputs NULL means ones.
 * Inputs unreachable from the outputs get a zero tensor unless ALLOW_UNUSED (then NULL). Grads made
 * by the call belong to the caller's scope. Without CREATE_GRAPH the other gradients and temporaries
 * go back to the pool once used (device memory: the graph plus a frontier of gradients, as PyTorch's
 * backward), or at the latest when the call returns; with it they are part of the new graph and
 * live to the scope's end. */
ebm_status_t ebm_grad(ebm_tensor_t *const *outputs, int n_out, ebm_tensor_t *const *grad_outputs,
                      ebm_tensor_t *const *inputs, int n_in, ebm_tensor_t **grads, unsigned flags);

/* Grad mode (recording) on/off; returns the previous setting. Off for pure sampling. */
int ebm_grad_set_enabled(ebm_ctx_t *ctx, int on);
int ebm_grad_enabled(const ebm_ctx_t *ctx);
/* First-order recording on/off; returns the previous setting. While on, an activation applied in a
 * convolution's store (ebm_conv2d_act on the tile or implicit path) keeps f'(z) for its backward
 * instead of z, so the backward multiplies where it would evaluate f' (fmnist-ms's Langevin step:
 * an exp and a division per value fewer). Gradients of what is recorded meanwhile are exact first
 * derivatives; asking ebm_grad for a graph of them (EBM_GRAD_CREATE_GRAPH, a gradient penalty) is
 * an error. The Langevin and MALA samplers turn it on around each step's energy (the forward).
 * EBM_FIRST_ORDER=off makes it do nothing. */
int ebm_grad_set_first_order(ebm_ctx_t *ctx, int on);
/* Freeze parameters (stop-gradient on theta, not on x) for the ops recorded meanwhile. */
int ebm_params_set_frozen(ebm_ctx_t *ctx, int frozen);

/* A new tensor sharing t's storage with no graph. */
ebm_tensor_t *ebm_detach(ebm_tensor_t *t);

#ifdef __cplusplus
}
#endif
#endif
