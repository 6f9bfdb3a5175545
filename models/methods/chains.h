/* chains.h — Langevin chains the methods share:
 *  - for the Langevin-trained methods (cd, jem): the replay buffer's [buffer] keys and where a training
 *    iteration's chains start ([sampler] init):
 *      buffer  the replay buffer when buffer.capacity > 0 (IGEBM's persistent chains), else fresh noise;
 *      noise   fresh U(init_lo, init_hi) chains every iteration (no buffer);
 *      data    the iteration's data batch x+ (textbook CD-k: k = sampler.steps; no buffer).
 *
 *      chains_t ch;
 *      if (!chains_build(r, &ch)) return 0;                   // in the method's build: r->rb when it is used
 *      ebm_tensor_t *x0 = chains_start(r, &ch, xpos, B, &rng); // in its step (a buffer draw: augment it yourself)
 *
 *  - for the sampling-free methods (score matching, NCE): their samples, Langevin chains from noise on
 *    the learned energy with the [sampler] settings;
 *  - for cd, sm and nce: the iteration's data batch, dequantized as [data] dequantize says. */
#ifndef EBM_CHAINS_H
#define EBM_CHAINS_H
#include "data.h"
#include "run.h"
#include "train.h"

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

/* Labelled runs (cd with r->classes > 0: E(x | y); jem; classify):
 * the labels of the iteration's data batch (ebm_dataset_batch_labels; [data] label_channel c >= 0:
 * the class of channel c of stacked images, whose label is 100 y0 + 10 y1 + y2) into y; 0 after
 * printing why (unlabelled data, a label outside [0, K); what names K's key, e.g. "[model] classes") */
int chains_data_labels(run_t *r, ebm_dataset_t *ds, int *y, int K, const char *what);
/* the class of channel c of a stacked image's label 100 y0 + 10 y1 + y2 (c < 0: the label itself) */
int chains_channel_label(int y, int c);
/* 1 when [data] label_channel = c suits ds (c < 0, or stacked three-channel images), else 0 after printing why */
int chains_check_label_channel(const ebm_dataset_t *ds, int c);
/* chains_start with the chains' labels into y: a buffer row's own, ypos's with init = data, a uniform
 * draw from rng for fresh noise (drawn after the chains) */
ebm_tensor_t *chains_start_labels(run_t *r, const chains_t *ch, ebm_tensor_t *xpos, const int *ypos, int B, ebm_rng_t *rng, int *y);
/* the final chains x (B rows, labels y) into the buffer, the labels beside their rows */
ebm_status_t chains_push(run_t *r, ebm_tensor_t *x, const int *y, ebm_rng_t *rng);

/* n chains from U(init_lo, init_hi), o->steps (< 0 or o NULL: eval.steps) Langevin steps; NULL after
 * printing why (eval.init = buffer: these runs keep no replay buffer) */
ebm_tensor_t *chains_draw(run_t *r, const ebm_sample_opts_t *o, int n, ebm_rng_t *rng, double *accept);
/* the data batch of r->iter as a tensor (B, sample shape); images with [data] dequantize:
 * x 255/256 + U(0, 1/256) from rng, as CD does; NULL after printing why */
ebm_tensor_t *chains_data_batch(run_t *r, ebm_dataset_t *ds, float *host, ebm_rng_t *rng);
#endif
