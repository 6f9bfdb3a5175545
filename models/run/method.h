/* method.h — a training method: what one iteration computes, what it samples, what it adds to a run.
 *
 * The training loop, checkpoints, rollback, logging, pictures and the sample/score/eval commands know
 * no method by name: they call these hooks on the run's method (run->m), found by [run] method in the
 * registry (methods/registry.c). A new method is one file in methods/ that defines an ebm_method_t,
 * and one row of the registry.
 *
 *   static int my_step(run_t *r, ebm_dataset_t *ds, float *host, stats_t *s) {
 *       ...                                             // losses on the run's energy r->net
 *       stats_add(s, "loss", "loss", loss);             // printed and logged under its key
 *       return 1;                                       // 0: diverged (nothing updated), -1: error
 *   }
 *   const ebm_method_t ebm_method_mine = {.name = "mine", .summary = "...", .step = my_step, .draw = ...};
 *
 * Networks besides the energy (a generator, an inference network) are registered with
 * run_add_group() and run_group_optimizer(): they are checkpointed under their parameter names with their optimizer's state,
 * and rolled back and learning-rate scaled with the energy's. */
#ifndef EBM_METHOD_H
#define EBM_METHOD_H
#include "config.h"

typedef struct run run_t;
struct ebm_config;
struct ebm_dataset;
struct ebm_sample_opts;
struct cJSON;

/* An iteration's statistics: name/value pairs the loop prints (label value) and logs (key: value)
 * without knowing what they mean. */
enum { STATS_MAX = 8 };
typedef struct stat_entry {
    const char *key, *label;   /* metrics.jsonl key; progress-line label */
    float v;
    int general;               /* printed %.4g (else %+.4f) */
} stat_entry_t;
typedef struct stats {
    int n;
    stat_entry_t s[STATS_MAX];
} stats_t;
void stats_add(stats_t *s, const char *key, const char *label, float v);     /* printed %+.4f */
void stats_add_g(stats_t *s, const char *key, const char *label, float v);   /* printed %.4g */

typedef struct ebm_method {
    const char *name;      /* [run] method */
    const char *title;     /* a few words: the config's help lists methods with them */
    const char *summary;   /* a line for the docs */
    /* the config sections it reads besides the common ones (run, data, model, sampler, optim, eval):
     * tables of keys, NULL-terminated; --print-config and config.ini show only these */
    const ebm_config_key_t *const *keys;
    /* the energy network's outputs (NULL: 1, an energy; a classifier: its classes) */
    int (*outputs)(const struct ebm_config *cfg);
    /* the energy E(x) (B) from the network's outputs (B, n_out) (NULL: the single output is E; JEM:
     * -logsumexp of a classifier's logits); run_energy, hence Langevin, score and eval, use it */
    ebm_tensor_t *(*energy)(run_t *r, ebm_tensor_t *outputs);
    /* the energy of x and class k, E(x, k) (B) from the outputs: `ebm sample --class K` draws
     * class-conditional samples from it, `ebm eval --classifier` judges them (NULL: no classes) */
    ebm_tensor_t *(*class_energy)(run_t *r, ebm_tensor_t *outputs, int k);
    /* trains E(x | y) with [model] classes > 0 (the net conditioned on labels: run_set_labels); its
     * class-conditional samples and compositions then go through run_class_energy */
    int conditional;
    int sampler_density;   /* E is learnt at the Langevin sampler's temperature (heat maps show exp(-E/T)) */
    /* after the energy network, optimizer, EMA and buffer: the method's own networks (run_add_group)
     * and r->state; 0 after printing why (NULL: nothing to add) */
    int (*build)(run_t *r);
    void (*free)(run_t *r);   /* r->state */
    /* one training iteration from r->iter's random stream (run_iter_rng): 1 done, 0 diverged
     * (nothing updated; the loop rolls back), -1 error after printing why */
    int (*step)(run_t *r, struct ebm_dataset *ds, float *host, stats_t *s);
    /* n samples as `ebm sample` draws them (o NULL: the training loop's pictures, o->steps < 0 and
     * o->mala < 0: the config's); NULL: the method draws nothing */
    ebm_tensor_t *(*draw)(run_t *r, const struct ebm_sample_opts *o, int n, ebm_rng_t *rng, double *accept);
    /* a transition between the Langevin segments of sampling chains (improved CD's augmentation of
     * images, [augment] enable): the Langevin steps between two (augment.sample_every), or -1 when the
     * run has none (NULL hook: none); `ebm sample` of the run and `ebm sample --compose` with the run
     * first apply it every that many steps (--augment-every N instead) */
    int (*transition_every)(const run_t *r);
    ebm_tensor_t *(*transition)(run_t *r, ebm_tensor_t *x, ebm_rng_t *rng);
    /* `ebm eval` of this method's runs, returning the exit status (NULL, or -1 returned: the energy
     * evaluations, after what the method reported) */
    int (*eval)(run_t *r, const struct ebm_sample_opts *o, const char *checkpoint);
    /* adds the method's own numbers to the energy evaluations' row (NCE: its learned log Z); NULL: none */
    void (*eval_row)(run_t *r, struct cJSON *row);
} ebm_method_t;

/* the registry: every method, NULL-terminated */
extern const ebm_method_t *const ebm_methods[];
/* by name, or NULL */
const ebm_method_t *ebm_method_find(const char *name);
/* the config's [run] method, or NULL after printing why */
const ebm_method_t *ebm_method_of(const struct ebm_config *cfg);
/* "cd, meg, ... or classify" into buf */
const char *ebm_method_names(char *buf, size_t n);
#endif
