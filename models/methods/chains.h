/* chains.h — samples of the sampling-free methods (score matching, NCE): Langevin chains from noise on
 * the learned energy, with the [sampler] settings (chains.c). */
#ifndef EBM_CHAINS_H
#define EBM_CHAINS_H
#include "data.h"
#include "run.h"
#include "train.h"

/* n chains from U(init_lo, init_hi), o->steps (< 0 or o NULL: eval.steps) Langevin steps; NULL after
 * printing why (eval.init = buffer: these runs keep no replay buffer) */
ebm_tensor_t *chains_draw(run_t *r, const ebm_sample_opts_t *o, int n, ebm_rng_t *rng, double *accept);
/* the data batch of r->iter as a tensor (B, sample shape); images with [data] dequantize:
 * x 255/256 + U(0, 1/256) from rng, as CD does; NULL after printing why */
ebm_tensor_t *chains_data_batch(run_t *r, ebm_dataset_t *ds, float *host, ebm_rng_t *rng);
#endif
