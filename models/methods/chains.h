/* chains.h — what the Langevin-trained methods (cd, jem) share: the replay buffer's [buffer] keys and
 * where a training iteration's chains start ([sampler] init):
 *   buffer  the replay buffer when buffer.capacity > 0 (IGEBM's persistent chains), else fresh noise;
 *   noise   fresh U(init_lo, init_hi) chains every iteration (no buffer);
 *   data    the iteration's data batch x+ (textbook CD-k: k = sampler.steps; no buffer).
 *
 *   chains_t ch;
 *   if (!chains_build(r, &ch)) return 0;                   // in the method's build: r->rb when it is used
 *   ebm_tensor_t *x0 = chains_start(r, &ch, xpos, B, &rng); // in its step (a buffer draw: augment it yourself)
 */
#ifndef EBM_CHAINS_H
#define EBM_CHAINS_H
#include "run.h"

/* [buffer]: capacity, reinit, reservoir, uint8 */
extern const ebm_config_key_t chains_buffer_keys[];

typedef enum { CHAINS_BUFFER, CHAINS_NOISE, CHAINS_DATA } chains_init_t;
typedef struct chains {
    chains_init_t init;   /* [sampler] init; CHAINS_BUFFER with buffer.capacity = 0 starts from noise */
} chains_t;

/* [sampler] init into ch, and the replay buffer r->rb from [buffer] when init = buffer and capacity > 0;
 * 0 after printing why */
int chains_build(run_t *r, chains_t *ch);
/* B chain starts of an iteration: rows of the buffer (reinitialised from noise with buffer.reinit),
 * fresh noise, or xpos itself (init = data: the tensor is the chains' start, never changed by the
 * sampler, which returns new tensors) */
ebm_tensor_t *chains_start(run_t *r, const chains_t *ch, ebm_tensor_t *xpos, int B, ebm_rng_t *rng);
#endif
