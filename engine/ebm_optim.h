/* ebm_optim.h — optimizers as fused kernels over a parameter set's flat buffers.
 *
 *   ebm_optim_t *opt = ebm_optim_new(params, &(ebm_optim_config_t){
 *       .kind = EBM_OPTIM_ADAM, .lr = 2e-4f, .beta1 = 0.0f, .beta2 = 0.9f, .eps = 1e-8f,
 *       .clip_norm = 0.5f});
 *   ebm_params_zero_grad(params); ebm_params_backward(params, loss);
 *   ebm_optim_step(opt);                              // clip (on device) + update, one launch each
 *   ebm_ema_t *ema = ebm_ema_new(params, 0.99f); ebm_ema_update(ema);
 */
#ifndef EBM_OPTIM_H
#define EBM_OPTIM_H

#include "ebm_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ebm_optim_kind { EBM_OPTIM_SGD = 0, EBM_OPTIM_ADAM, EBM_OPTIM_ADAGRAD } ebm_optim_kind_t;

typedef struct ebm_optim_config {
    ebm_optim_kind_t kind;
    float lr;
    float momentum;       /* SGD */
    float beta1, beta2;   /* Adam (beta1 = 0 allowed) */
    float eps;            /* Adam, AdaGrad */
    float weight_decay;   /* L2 added to the gradient (PyTorch semantics) */
    int decoupled_wd;     /* 1: AdamW-style decoupled decay */
    float clip_norm;      /* > 0: global gradient-norm clipping before the update */
} ebm_optim_config_t;

typedef struct ebm_optim ebm_optim_t;
typedef struct ebm_ema ebm_ema_t;

ebm_optim_t *ebm_optim_new(ebm_params_t *ps, const ebm_optim_config_t *cfg);
void ebm_optim_free(ebm_optim_t *opt);
ebm_status_t ebm_optim_step(ebm_optim_t *opt);
long ebm_optim_steps(const ebm_optim_t *opt);
/* Device tensor (1) with the global gradient norm of the last step (before clipping). */
ebm_tensor_t *ebm_optim_last_grad_norm(const ebm_optim_t *opt);
/* Optimizer state as flat tensors (for checkpoints): index 0, 1 = first/second moment or sum. */
ebm_tensor_t *ebm_optim_state(const ebm_optim_t *opt, int index);
void ebm_optim_set_steps(ebm_optim_t *opt, long steps);
/* A function ebm_optim_step calls on the flat gradient before clipping and updating (data-parallel
 * training: the all-reduce over processes): 1 update, 0 skip this step (nothing changes, the step is
 * not counted), -1 error (the step fails with EBM_STATUS_INVALID_ARGUMENT unless the context holds an
 * error). NULL: none. */
typedef int (*ebm_grad_hook_t)(void *user, ebm_tensor_t *flat_grad);
void ebm_optim_set_grad_hook(ebm_optim_t *opt, ebm_grad_hook_t hook, void *user);
/* learning rate for the following steps (divergence rollbacks may lower it) */
void ebm_optim_set_lr(ebm_optim_t *opt, float lr);
float ebm_optim_lr(const ebm_optim_t *opt);

ebm_ema_t *ebm_ema_new(ebm_params_t *ps, float decay);
void ebm_ema_free(ebm_ema_t *ema);
ebm_status_t ebm_ema_update(ebm_ema_t *ema);          /* ema = d*ema + (1-d)*params */
ebm_tensor_t *ebm_ema_flat(const ebm_ema_t *ema);
/* Swap EMA weights into the parameters (and back with a second call). */
ebm_status_t ebm_ema_swap(ebm_ema_t *ema);

#ifdef __cplusplus
}
#endif
#endif
