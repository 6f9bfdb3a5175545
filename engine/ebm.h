/* ebm.h — libebm: energy-based-model training on any OpenCL device.
 *
 *   #include <ebm.h>
 *   ebm_ctx_t *ctx; if (ebm_ctx_create(&ctx, "pocl") != EBM_OK) return 1;
 *   ebm_scope_begin(ctx);
 *   ebm_tensor_t *x = ebm_tensor_from_host(ctx, 2, (int[]){4, 2}, data);
 *   ebm_tensor_set_requires_grad(x, 1);
 *   ebm_tensor_t *e = ebm_sum_all(ebm_square(x)), *gx;
 *   ebm_grad(&e, 1, NULL, &x, 1, &gx, 0);             // gx = 2x
 *   ebm_scope_end(ctx);
 *   ebm_ctx_free(ctx);
 */
#ifndef EBM_H
#define EBM_H
#include "ebm_status.h"
#include "ebm_device.h"
#include "ebm_tensor.h"
#include "ebm_rng.h"
#include "ebm_autograd.h"
#include "ebm_ops.h"
#include "ebm_optim.h"
#include "ebm_io.h"
#include "ebm_replay.h"
#include "ebm_augment.h"
#endif
