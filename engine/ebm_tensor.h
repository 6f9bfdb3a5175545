/* ebm_tensor.h — float32 tensors (up to 4-D, row-major/NCHW), scopes and flat parameter storage.
 *
 *   ebm_scope_begin(ctx);                            // every tensor made from here on belongs
 *   ebm_tensor_t *x = ebm_tensor_from_host(ctx, 2, (int[]){B, 2}, host);   // to this scope
 *   ebm_tensor_t *y = ebm_swish(x);
 *   ebm_tensor_keep(y);                              // y (detached) moves to the outer scope
 *   ebm_scope_end(ctx);                              // x and the graph go back to the pool
 *
 *   ebm_params_t *ps = ebm_params_new(ctx);          // parameters live in one flat buffer, so
 *   ebm_tensor_t *w = ebm_params_add(ps, "0.weight", 2, (int[]){128, 2});  // an optimizer step
 *   ebm_params_finalize(ps);                         // is one kernel
 *
 * Tensors made outside any scope live until ebm_ctx_free (or ebm_tensor_free). Device buffers of
 * freed tensors go back to a size-bucketed pool; a steady-state iteration allocates nothing.
 */
#ifndef EBM_TENSOR_H
#define EBM_TENSOR_H

#include <stddef.h>
#include "ebm_device.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EBM_MAX_DIMS 4

typedef struct ebm_tensor ebm_tensor_t;
typedef struct ebm_params ebm_params_t;

/* Uninitialised tensor. Returns NULL (and sets the context status) on error. */
ebm_tensor_t *ebm_tensor_new(ebm_ctx_t *ctx, int ndim, const int *shape);
ebm_tensor_t *ebm_tensor_zeros(ebm_ctx_t *ctx, int ndim, const int *shape);
ebm_tensor_t *ebm_tensor_full(ebm_ctx_t *ctx, int ndim, const int *shape, float value);
ebm_tensor_t *ebm_tensor_from_host(ebm_ctx_t *ctx, int ndim, const int *shape, const float *data);
/* Blocking copies between host and device (the only host synchronisation points). */
ebm_status_t ebm_tensor_read(const ebm_tensor_t *t, float *host);
ebm_status_t ebm_tensor_write(ebm_tensor_t *t, const float *host);
/* Device-side copy of src's values into dst (same number of elements). */
ebm_status_t ebm_tensor_copy_into(ebm_tensor_t *dst, const ebm_tensor_t *src);
ebm_status_t ebm_tensor_fill(ebm_tensor_t *t, float value);
/* A new tensor with a device-side copy of t's values (no graph). */
ebm_tensor_t *ebm_tensor_clone(const ebm_tensor_t *t);

ebm_ctx_t *ebm_tensor_ctx(const ebm_tensor_t *t);
int ebm_tensor_ndim(const ebm_tensor_t *t);
const int *ebm_tensor_shape(const ebm_tensor_t *t);
int ebm_tensor_dim(const ebm_tensor_t *t, int axis);   /* negative axes count from the end */
size_t ebm_tensor_numel(const ebm_tensor_t *t);
/* "(2, 3, 4)" into buf; returns buf. */
const char *ebm_tensor_shape_str(const ebm_tensor_t *t, char *buf, size_t n);

void ebm_tensor_set_requires_grad(ebm_tensor_t *t, int on);
int ebm_tensor_requires_grad(const ebm_tensor_t *t);

/* Frees now (the buffer returns to the pool). Only for tensors no live graph still uses. */
void ebm_tensor_free(ebm_tensor_t *t);
/* Marks t to survive the end of its scope: it moves to the parent scope, detached from its graph. */
void ebm_tensor_keep(ebm_tensor_t *t);

void ebm_scope_begin(ebm_ctx_t *ctx);
void ebm_scope_end(ebm_ctx_t *ctx);
int ebm_scope_depth(const ebm_ctx_t *ctx);

/* Bytes held by live tensors and by the pool's free lists. */
void ebm_pool_stats(const ebm_ctx_t *ctx, size_t *live_bytes, size_t *cached_bytes, size_t *n_device_allocs);
void ebm_pool_trim(ebm_ctx_t *ctx);
/* High-water marks of device memory since the context began or ebm_pool_peak_reset: bytes held by live
 * tensors (PyTorch's torch.cuda.max_memory_allocated), and by live tensors plus the pool's free lists
 * (max_memory_reserved). Both count buffers as allocated, rounded up to the pool's size classes. */
void ebm_pool_peak(const ebm_ctx_t *ctx, size_t *peak_live_bytes, size_t *peak_held_bytes);
void ebm_pool_peak_reset(ebm_ctx_t *ctx);

/* Debugging: with guards on, every new device buffer gets EBM_GUARD_FLOATS sentinel floats past
 * the tensor's end; ebm_debug_check_guards returns how many live buffers had them overwritten
 * (an out-of-bounds kernel write), or -1 on error. */
#define EBM_GUARD_FLOATS 64
void ebm_debug_set_guards(ebm_ctx_t *ctx, int on);
int ebm_debug_check_guards(ebm_ctx_t *ctx);

/* ---- parameters: one flat buffer for values, one for gradients ---- */
ebm_params_t *ebm_params_new(ebm_ctx_t *ctx);
void ebm_params_free(ebm_params_t *ps);
/* Registers a parameter; its storage exists after ebm_params_finalize. The name follows PyTorch
 * state_dict conventions ("0.weight"); conv weights are (O, I, kH, kW), linear (out, in). */
ebm_tensor_t *ebm_params_add(ebm_params_t *ps, const char *name, int ndim, const int *shape);
ebm_status_t ebm_params_finalize(ebm_params_t *ps);
int ebm_params_count(const ebm_params_t *ps);
ebm_tensor_t *ebm_params_get(const ebm_params_t *ps, int i);
ebm_tensor_t *ebm_params_find(const ebm_params_t *ps, const char *name);
const char *ebm_params_name(const ebm_params_t *ps, int i);
ebm_tensor_t *ebm_params_grad(const ebm_params_t *ps, int i);
size_t ebm_params_numel(const ebm_params_t *ps);
/* The flat buffers as 1-D tensors of ebm_params_numel elements. */
ebm_tensor_t *ebm_params_flat(const ebm_params_t *ps);
ebm_tensor_t *ebm_params_flat_grad(const ebm_params_t *ps);
ebm_status_t ebm_params_zero_grad(ebm_params_t *ps);
/* grad += d loss / d params (loss a scalar tensor with a graph). */
ebm_status_t ebm_params_backward(ebm_params_t *ps, ebm_tensor_t *loss);

#ifdef __cplusplus
}
#endif
#endif
