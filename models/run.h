/* run.h — what the trainer and the sample/score/eval commands share (internal to models/): a run
 * (device context, network, optimizer, EMA, replay buffer, sampler settings, counters) built from a
 * config, its checkpoints, and its pictures. */
#ifndef EBM_RUN_H
#define EBM_RUN_H
#include <stdio.h>
#include "config.h"
#include "nets.h"
#include "sampler.h"

#define CKPT_NAME "checkpoint.safetensors"
#define CKPT_FORMAT "ebm-cl checkpoint 1"
#define ERR(...) fprintf(stderr, "ebm: " __VA_ARGS__)

typedef struct run {
    ebm_config_t *cfg;
    ebm_ctx_t *ctx;
    ebm_params_t *ps;
    ebm_net_t *net;
    ebm_optim_t *opt;
    ebm_ema_t *ema;
    ebm_replay_t *rb;
    int ndim, shape[3];   /* per-sample shape */
    size_t numel;
    int flatten;          /* images into an MLP */
    int toy;
    char toy_name[32];
    ebm_langevin_cfg_t lc;
    uint64_t seed;
    long iter;
    int rollbacks;
    float lr_scale;
    char dir[1024];
    /* generator-based methods (run.method = meg | ddgm | dual; gen.c): generator G (z -> x) with its
     * own parameters and optimizer, and a second network H: MEG's statistics network ((x, z) -> logit;
     * on images a conv trunk net_h then the MLP head net_h2), Dual-MCMC's inference network
     * (x -> mean and log-variance of z); Kim & Bengio have none */
    int method, z_dim;
    int n_out;   /* network outputs: 1 (energies) or [classify] classes */
    ebm_params_t *ps_g, *ps_h;
    ebm_net_t *net_g, *net_h, *net_h2;
    ebm_optim_t *opt_g, *opt_h;
    float lr_g, lr_h;   /* base learning rates (times lr_scale) */
} run_t;

enum { METHOD_CD, METHOD_MEG, METHOD_DDGM, METHOD_DUAL, METHOD_CLASSIFY };

typedef struct stats {
    float e_pos, e_neg, loss, kl, ent;   /* energy: E(x+), E(x-), its loss; improved CD's KL and entropy terms */
    float gen_loss, aux;                 /* generator loss; MEG: MI critic BCE, DDGM: entropy, Dual: inference loss */
} stats_t;

/* every random draw of iteration `it` comes from this stream; a rollback moves to fresh streams */
ebm_rng_t run_iter_rng(const run_t *r, long it);

/* run.c */
ebm_tensor_t *run_energy(void *run, ebm_tensor_t *x);   /* x (B, sample shape) -> (B) */
int run_parse_ints(const char *s, int *out, int max);      /* "1,2,3" -> count, -1 if malformed */
/* hidden widths of an MLP from [sec] key into w (room for 7): count, or -1 after printing why */
int run_parse_widths(const ebm_config_t *c, const char *sec, const char *key, int *w);
/* context, network (initialised from run.seed), optimizer, EMA and buffer; 0 after printing why */
int run_build(run_t *r, ebm_config_t *cfg, const char *device, int ndim, const int *shape);
void run_free(run_t *r);
/* config, network and state of a checkpoint; EMA weights swapped in unless raw */
int run_open_checkpoint(run_t *r, ebm_config_t *cfg, const char *path, const char *device, int raw);
/* ... with "section.key=value" overrides of how it samples ([sampler], [eval], generator.mala_* and
 * langevin_steps; anything else is refused) */
int run_open_checkpoint_with(run_t *r, ebm_config_t *cfg, const char *path, const char *device, int raw, const char *const *sets, int n_sets);
/* [optim] kind, betas, eps, clip_norm at learning rate lr; 0 after printing why */
int run_optim_config(const ebm_config_t *c, float lr, ebm_optim_config_t *oc);
/* n fresh chains from U(sampler.init_lo, sampler.init_hi), (n, sample shape) */
ebm_tensor_t *run_noise(run_t *r, int n, ebm_rng_t *rng);
/* an augmentation transition (augment.enable, images only; else x unchanged) */
ebm_tensor_t *run_augment(run_t *r, ebm_tensor_t *x, ebm_rng_t *rng);

/* gen.c */
int gen_build(run_t *r);   /* G, H and their optimizers from [generator], [meg], [dual]; 0 after printing why */
/* one training iteration of a generator-based method: 1 done, 0 diverged, -1 error */
struct ebm_dataset;
int gen_step(run_t *r, struct ebm_dataset *ds, float *xpos_host, stats_t *s);
ebm_tensor_t *gen_z(run_t *r, int n, ebm_rng_t *rng);           /* (n, z_dim) from the generator's prior */
ebm_tensor_t *gen_x(run_t *r, ebm_tensor_t *z);                 /* G(z), (n, sample shape) */
ebm_tensor_t *gen_sample(run_t *r, int n, ebm_rng_t *rng);      /* G(z) without a graph */
const char *gen_aux_name(const run_t *r);                       /* what stats.aux holds */
/* learning rates of every optimizer from their bases times r->lr_scale */
void run_apply_lr_scale(run_t *r);

/* classify.c (run.method = classify) */
int classify_step(run_t *r, struct ebm_dataset *ds, float *xhost, stats_t *s);   /* 1 done, 0 diverged, -1 error */
ebm_tensor_t *classify_logits(run_t *r, ebm_tensor_t *x);                        /* (B, classes) */
int classify_argmax(run_t *r, const float *x, int n, int *out);                   /* host rows -> classes; 0 on error */

/* checkpoint.c */
char *run_shape_string(int ndim, const int *shape, char *buf, size_t n);   /* "1,28,28" */
int ckpt_save(run_t *r, const char *path);
int ckpt_load(run_t *r, const char *path);   /* everything the run has, and the counters */
int ckpt_config(const char *path, ebm_config_t *cfg, int *ndim, int *shape);

/* rundir.c: a run directory (train.c takes the lock for the whole run) */
struct cJSON;
/* An exclusive lock on DIR/.lock (flock: released when the process ends, however it ends): the
 * descriptor, or -1 after printing why (another training holds it: its pid). */
int rundir_lock(const char *dir);
void rundir_unlock(int fd);
/* Removes DIR's and DIR/samples' temporary files ("NAME.tmp.PID") whose process has ended. */
void rundir_remove_stale_temps(const char *dir);
/* Removes what a run writes into DIR (checkpoint, metrics, config, pictures): --overwrite. */
int rundir_clear(const char *dir);
/* A number with float32's 7 significant digits; NaN and Inf: null, and "nonfinite": {key: "nan" |
 * "inf" | "-inf"} in the same object. */
void run_json_num(struct cJSON *o, const char *key, double v);
/* Appends row (freed here) as one line of DIR/metrics.jsonl in a single write, also to echo when
 * given; 0 after printing why. */
int rundir_metrics_append(const char *dir, struct cJSON *row, FILE *echo);
/* Before a resumed run appends: drops rows past iteration iter and a torn last line. */
int rundir_metrics_trim(const char *dir, long iter);

/* pictures.c */
int run_write_heatmap(run_t *r, const char *path, const float *xy, int n);
int run_write_samples(run_t *r, const char *path, ebm_tensor_t *x);   /* grid, or heat map for 2-D */
#endif
