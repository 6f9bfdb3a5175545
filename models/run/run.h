/* run.h — a run, what the methods, the training loop and the sample/score/eval commands share
 * (internal to models/; docs/ARCHITECTURE.md): the device context, the energy network, optimizer,
 * EMA, replay buffer, sampler settings, counters and the method's other networks, built from a
 * config; its checkpoints, run folder and pictures. */
#ifndef EBM_RUN_H
#define EBM_RUN_H
#include <stdio.h>
#include "config.h"
#include "nets.h"
#include "method.h"
#include "sampler.h"

#define CKPT_NAME "checkpoint.safetensors"
#define CKPT_FORMAT "ebm-cl checkpoint 1"
#define ERR(...) fprintf(stderr, "ebm: " __VA_ARGS__)

/* A network of the method's besides the energy (a generator, an inference network): checkpointed
 * under its parameters' names and "<optim_name>.exp_avg" / ".exp_avg_sq", rolled back and
 * learning-rate scaled with the energy. */
typedef struct run_group {
    const char *optim_name;
    ebm_params_t *ps;
    ebm_optim_t *opt;
    float lr;   /* base learning rate (times lr_scale) */
} run_group_t;
enum { RUN_MAX_GROUPS = 4 };

typedef struct run {
    ebm_config_t *cfg;
    const ebm_method_t *m;   /* [run] method */
    void *state;             /* the method's own (m->free frees it) */
    ebm_ctx_t *ctx;          /* set before run_build: shared with other runs (not freed by run_free) */
    int ctx_shared;
    ebm_params_t *ps;        /* the energy (or a classifier: n_out outputs) */
    ebm_net_t *net;
    ebm_optim_t *opt;
    ebm_ema_t *ema;
    ebm_replay_t *rb;
    int ndim, shape[3];   /* per-sample shape */
    size_t numel;
    int flatten;          /* images into an MLP */
    int n_out;            /* network outputs: 1 (energies) or the method's (a classifier's classes) */
    int classes;          /* [model] classes > 0: the energy is E(x | y), y in 0 .. classes-1 (m->conditional) */
    int *rb_labels;       /* with classes and a replay buffer: the label of each buffer row (checkpointed) */
    int toy;
    char toy_name[32];
    /* read once from the common sections */
    int batch;                /* [run] batch */
    int dequantize;           /* images: x 255/256 + U(0, 1/256) ([data] dequantize) */
    float init_lo, init_hi;   /* fresh chains from U(init_lo, init_hi) ([sampler]) */
    ebm_langevin_cfg_t lc;    /* [sampler] */
    uint64_t seed;
    long iter;
    int rollbacks;
    float lr_scale;
    char dir[1024];
    run_group_t groups[RUN_MAX_GROUPS];   /* the method's other networks (run_add_group) */
    int n_groups;
    /* training (set before run_build; 0: sample, eval, score): this process is rank `rank` of
     * `ranks`; r->batch is then its run.batch / ranks rows of the global batch, and every random draw of
     * run_iter_rng is this rank's slice of the global batch's draw (ebm_rng.h: partitioned streams) */
    int rank, ranks;
} run_t;

/* run.c */
/* every random draw of iteration `it` comes from this stream; a rollback moves to fresh streams */
ebm_rng_t run_iter_rng(const run_t *r, long it);
ebm_tensor_t *run_energy(void *run, ebm_tensor_t *x);   /* x (B, sample shape) -> (B); the method's energy hook */
/* E(x, k) of a method with classes (m->class_energy) as a sampler's energy: user is a run_class_t */
typedef struct run_class {
    run_t *r;
    int k;
} run_class_t;
ebm_tensor_t *run_class_energy(void *user, ebm_tensor_t *x);
/* the classes E(x, k) knows: a conditioned energy's (r->classes), a method's with m->class_energy (its
 * n_out), else 0 */
int run_classes(const run_t *r);
/* A conditioned energy (r->classes): the labels y[0..B) of the next run_energy calls (inputs of B
 * rows), as a one-hot tensor of the current scope; run_clear_labels before that scope ends. Without
 * labels run_energy is the marginal -log sum_k exp(-E(x | k)). 0 after printing why (a label out of range). */
int run_set_labels(run_t *r, const int *y, int B);
void run_clear_labels(run_t *r);
/* the held-out images of a run's source: Fashion-MNIST's t10k for fashion-mnist, else the source itself */
const char *run_test_source(const run_t *r);
ebm_tensor_t *run_forward(run_t *r, ebm_tensor_t *x);   /* the network's outputs (B, n_out) */
/* the network's outputs of n host rows of the sample shape (no gradients, 256 rows at a time): n x n_out
 * floats into *out (free it); 0 after printing why */
int run_outputs(run_t *r, const float *x, int n, float **out);
/* host rows of the sample shape -> argmax of the outputs (a classifier's classes); 0 after printing why */
int run_argmax(run_t *r, const float *x, int n, int *out);
int run_argmax_row(const float *v, int K);   /* index of the largest of v[0..K), the first on ties */
/* a classifier's penultimate features (ebm_net_features: mlp or dcgan nets) of n host rows of the
 * sample shape, n x *dim doubles into *out (free it); 0 after printing why */
int run_features(run_t *r, const float *x, int n, double **out, int *dim);
int run_parse_ints(const char *s, int *out, int max);      /* "1,2,3" -> count, -1 if malformed */
/* hidden widths of an MLP from [sec] key into w (room for 7): count, or -1 after printing why */
int run_parse_widths(const ebm_config_t *c, const char *sec, const char *key, int *w);
/* context (r->ctx if set: several runs on one device, as `ebm sample --compose` needs), network
 * (initialised from run.seed), optimizer, EMA, buffer and the method's build (m: ebm_method_of(cfg));
 * 0 after printing why */
int run_build(run_t *r, ebm_config_t *cfg, const ebm_method_t *m, const char *device, int ndim, const int *shape);
void run_free(run_t *r);
/* Registers a parameter set of the method's (the run frees it from now on, also on failure: NULL
 * after printing why); once finalized and initialised, run_group_optimizer gives it an optimizer of
 * [optim] at base rate lr (0 after printing why). */
run_group_t *run_add_group(run_t *r, const char *optim_name, ebm_params_t *ps);
int run_group_optimizer(run_t *r, run_group_t *g, float lr);
/* [optim] kind, betas, eps, clip_norm at learning rate lr; 0 after printing why */
int run_optim_config(const ebm_config_t *c, float lr, ebm_optim_config_t *oc);
/* learning rates of every optimizer from their bases times r->lr_scale */
void run_apply_lr_scale(run_t *r);
/* lc->steps Langevin steps on energy(user, .) from x, with r's method transition (m->transition, an
 * augmentation) after every `every` steps (0: none): what `ebm sample` of a run and of a composition
 * draw; NULL on failure (the context's error) */
ebm_tensor_t *run_langevin_transitions(run_t *r, ebm_energy_fn energy, void *user, ebm_tensor_t *x, const ebm_langevin_cfg_t *lc,
                                       int every, ebm_rng_t *rng);
/* n fresh chains from U(sampler.init_lo, sampler.init_hi), (n, sample shape) */
ebm_tensor_t *run_noise(run_t *r, int n, ebm_rng_t *rng);

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
/* {"event": "eval", "checkpoint": checkpoint, "iter": the checkpoint's iteration}: an evaluation's row */
struct cJSON *run_eval_row(const run_t *r, const char *checkpoint);
/* Appends row (freed here) as one line of DIR/metrics.jsonl in a single write, also to echo when
 * given; 0 after printing why. */
int rundir_metrics_append(const char *dir, struct cJSON *row, FILE *echo);
/* Before a resumed run appends: drops rows past iteration iter and a torn last line. */
int rundir_metrics_trim(const char *dir, long iter);

/* pictures.c */
int run_write_heatmap(run_t *r, const char *path, const float *xy, int n);
int run_write_samples(run_t *r, const char *path, ebm_tensor_t *x);   /* grid, or heat map for 2-D */
#endif
