/* ebm_rng.h — counter-based Philox4x32-10, bit-identical on the host and on every OpenCL device.
 *
 *   ebm_rng_t rng = ebm_rng_make(1234, 0);           // (seed, stream)
 *   ebm_tensor_t *noise = ebm_rand_normal(ctx, &rng, 2, (int[]){B, D}, 0.0f, 1.0f);
 *   float host[8]; ebm_rng_t r2 = ebm_rng_make(1234, 0);
 *   ebm_rng_host_normal(&r2, host, 8);                // the same 8 numbers, same bits
 *
 * A draw of n numbers at counter c uses Philox blocks c .. c + ceil(n/4) - 1, element i taking word
 * i % 4 of block c + i / 4, then advances the counter past them. Uniforms are (w >> 8) * 2^-24;
 * normals use Box–Muller with log/sqrt/sin/cos evaluated by the same float polynomial code on both
 * sides (no FMA contraction, no library transcendental), so they too match bit for bit.
 *
 * A partitioned stream (parts > 1, data-parallel training: one part per process) draws, for a
 * request of n numbers, elements [part*n, part*n + n) of the draw of n*parts numbers the whole
 * stream would make at its counter, then advances past all n*parts: the parts of a batch's rows
 * together are the rows one process would draw alone. Device draws need part*n to be a multiple of 4
 * (a draw starts at a block); host draws take any n. ebm_rng_host_permutation always draws whole.
 */
#ifndef EBM_RNG_H
#define EBM_RNG_H

#include <stdint.h>
#include <stddef.h>
#include "ebm_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ebm_rng {
    uint64_t seed;
    uint64_t stream;
    uint64_t counter;   /* next Philox block */
    uint32_t part, parts;   /* parts > 1: this stream draws the part-th slice of every draw (above) */
} ebm_rng_t;

ebm_rng_t ebm_rng_make(uint64_t seed, uint64_t stream);
void ebm_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

void ebm_rng_host_bits(ebm_rng_t *r, uint32_t *out, size_t n);
void ebm_rng_host_uniform(ebm_rng_t *r, float *out, size_t n);   /* [0, 1) */
void ebm_rng_host_normal(ebm_rng_t *r, float *out, size_t n);    /* N(0, 1) */
void ebm_rng_host_permutation(ebm_rng_t *r, int *perm, int n);   /* uniform permutation of 0..n-1 */

ebm_status_t ebm_tensor_fill_uniform(ebm_tensor_t *t, ebm_rng_t *r, float lo, float hi);
ebm_status_t ebm_tensor_fill_normal(ebm_tensor_t *t, ebm_rng_t *r, float mean, float std);
/* Raw 32-bit words as floats reinterpreted (for the host/device identity test). */
ebm_status_t ebm_tensor_fill_bits(ebm_tensor_t *t, ebm_rng_t *r);
ebm_tensor_t *ebm_rand_uniform(ebm_ctx_t *ctx, ebm_rng_t *r, int ndim, const int *shape, float lo, float hi);
ebm_tensor_t *ebm_rand_normal(ebm_ctx_t *ctx, ebm_rng_t *r, int ndim, const int *shape, float mean, float std);

/* ---- fused sampler updates (no graph is recorded) ---- */
/* y = clamp(x - eta * clip(g, -c, c) + sigma * N(0, 1), lo, hi) in one kernel, the noise drawn from r
 * exactly as ebm_rng_host_normal would draw it (c <= 0: no clipping; -INFINITY/INFINITY: no clamp).
 * The same (seed, stream, counter) gives the same chain on every device. */
ebm_tensor_t *ebm_langevin_update(ebm_tensor_t *x, ebm_tensor_t *g, float eta, float sigma, float clip, float lo, float hi,
                                  ebm_rng_t *r);
/* Metropolis-Hastings for a batch of chains: x (B, ...) takes proposal (B, ...) for chain c when
 * u_c < exp(log_alpha[c]), u_c ~ U[0,1) from r. Returns the (B) tensor of 0/1 acceptances. */
ebm_tensor_t *ebm_mh_accept(ebm_tensor_t *x, ebm_tensor_t *proposal, ebm_tensor_t *log_alpha, ebm_rng_t *r);
/* Bernoulli draws (Gibbs sampling of binary units): y_i = 1 where u_i < p_i, else 0, with u drawn from r
 * exactly as ebm_rng_host_uniform would draw p's numel uniforms; p contiguous, no graph recorded. */
ebm_tensor_t *ebm_bernoulli(ebm_tensor_t *p, ebm_rng_t *r);

#ifdef __cplusplus
}
#endif
#endif
