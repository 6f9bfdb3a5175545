/* ebm_replay.h — a replay buffer of sampler states that lives on the device (IGEBM, improved CD).
 *
 *   ebm_replay_t *rb = ebm_replay_new(ctx, 3, (int[]){1, 28, 28}, &(ebm_replay_cfg_t){
 *       .capacity = 10000, .reinit_prob = 0.05f, .init_lo = 0, .init_hi = 1});
 *   ebm_tensor_t *x0 = ebm_replay_sample(rb, 128, &rng);    // (128, 1, 28, 28): buffer rows or fresh noise
 *   ebm_tensor_t *x = ebm_langevin(...x0...);
 *   ebm_replay_push(rb, x, &rng);                          // FIFO, or reservoir sampling
 *
 * Which rows are drawn, re-initialised or replaced is decided with the host Philox stream, so a run
 * with the same seed makes the same choices on every device. */
#ifndef EBM_REPLAY_H
#define EBM_REPLAY_H
#include "ebm_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ebm_replay ebm_replay_t;

typedef struct ebm_replay_cfg {
    int capacity;
    float reinit_prob;      /* a drawn row is replaced by fresh U(init_lo, init_hi) noise with this probability */
    float init_lo, init_hi;
    int reservoir;          /* 0: FIFO (overwrite the oldest); 1: reservoir sampling (Algorithm R) */
    int uint8;              /* 1: store 8-bit codes k = floor(256 (x - lo) / (hi - lo)) clamped to [0, 255] (4x less
                               memory, as IGEBM/ICD); draws read (k + U(0, 1)) / 256 back into [lo, hi] */
} ebm_replay_cfg_t;

ebm_replay_t *ebm_replay_new(ebm_ctx_t *ctx, int ndim, const int *sample_shape, const ebm_replay_cfg_t *cfg);
void ebm_replay_free(ebm_replay_t *rb);
/* (B, sample_shape): rows drawn uniformly with replacement from the filled part; fresh noise where
 * re-initialised, and everywhere while the buffer is empty. */
ebm_tensor_t *ebm_replay_sample(ebm_replay_t *rb, int B, ebm_rng_t *rng);
/* Stores the rows of x (B, sample_shape). */
ebm_status_t ebm_replay_push(ebm_replay_t *rb, ebm_tensor_t *x, ebm_rng_t *rng);
int ebm_replay_size(const ebm_replay_t *rb);
/* The rows the last call touched, one per row of its batch (valid until the next sample or push):
 * after ebm_replay_sample the row each chain was drawn from (-1: fresh noise), after ebm_replay_push
 * the row each was stored in (-1: not stored); lets a caller keep its own data beside the rows. */
const int *ebm_replay_indices(const ebm_replay_t *rb);
/* Rows it holds at most (the capacity it was made with). */
int ebm_replay_capacity(const ebm_replay_t *rb);
long ebm_replay_seen(const ebm_replay_t *rb);
/* The float storage (capacity, sample_shape); NULL with 8-bit storage. */
ebm_tensor_t *ebm_replay_storage(const ebm_replay_t *rb);
/* Device memory the rows take. */
size_t ebm_replay_bytes(const ebm_replay_t *rb);
/* For checkpoints: the contents as a new float tensor (capacity, sample_shape) — the values, or the
 * 8-bit codes 0..255 — and back (codes must be integers in [0, 255]). */
ebm_tensor_t *ebm_replay_export(const ebm_replay_t *rb);
ebm_status_t ebm_replay_import(ebm_replay_t *rb, const ebm_tensor_t *t);
/* Its state (size, write position, seen). */
void ebm_replay_state(const ebm_replay_t *rb, long *size, long *pos, long *seen);
void ebm_replay_set_state(ebm_replay_t *rb, long size, long pos, long seen);

#ifdef __cplusplus
}
#endif
#endif
