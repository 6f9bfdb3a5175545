/* train.h — Langevin-trained EBMs (IGEBM contrastive divergence and improved CD) and the commands
 * built on their checkpoints: train, sample, score, eval.
 *
 *   ebm_config_t *cfg = ebm_train_config_new();
 *   ebm_config_load(cfg, "configs/toy-8gaussians.ini", err, sizeof err);
 *   ebm_train(cfg, NULL, "runs/toy", NULL);        // device NULL: EBM_DEVICE or the first GPU
 *
 * A run directory holds config.ini, checkpoint.safetensors (rewritten atomically every
 * run.ckpt_every iterations), metrics.jsonl (one JSON object per logged iteration and per event),
 * samples/ (PNG grids of negatives, and for 2-D data heat maps of the learned density with samples on
 * top). The checkpoint has the network's parameters under the names a PyTorch state_dict of the same
 * module uses, the EMA weights as "ema.<name>", the optimizer state, the replay buffer and, in
 * __metadata__, the config and the iteration: resuming continues exactly as if never stopped,
 * because every random draw of iteration i comes from Philox(seed, stream(i, rollbacks)). */
#ifndef EBM_TRAIN_H
#define EBM_TRAIN_H
#include "config.h"

/* The schema of a training config: the sections every method reads (run, data, model, sampler,
 * optim, eval) and each method's own (models/methods/), assembled once. */
const ebm_config_key_t *ebm_train_schema(void);
/* A config of that schema, every value its default, whose printed form (--print-config, config.ini,
 * a checkpoint's saved config) shows the common sections and those of its [run] method. */
ebm_config_t *ebm_train_config_new(void);

/* The config saved in a checkpoint into cfg (for --resume); 1 on success, else prints why. */
int ebm_checkpoint_load_config(const char *path, ebm_config_t *cfg);

/* Each returns a process exit status (0 ok, 1 failure, 2 usage) after printing what went wrong. */
/* out_dir must not hold another run's checkpoint unless overwrite (its files are removed first);
 * the directory is locked while the run trains. */
int ebm_train(ebm_config_t *cfg, const char *device, const char *out_dir, const char *resume_dir, int overwrite);

typedef struct ebm_sample_opts {
    int n;              /* chains (0: 64) */
    int steps;          /* Langevin steps (< 0: the config's eval.steps; generator runs: generator.langevin_steps) */
    int mala;           /* generator runs: latent MALA steps before G (< 0: generator.mala_steps) */
    const char *init;   /* "noise" or "buffer" (NULL: eval.init); generator runs always start from G(z) */
    int augment_every;  /* > 0: an augmentation transition every this many steps (< 0: the config's) */
    int raw;            /* use the trained weights, not the EMA */
    uint64_t seed;
    const char *out;    /* PNG path (NULL: samples.png next to the checkpoint) */
    const char *classifier;   /* eval of image models: a classify run's checkpoint; modes = tuples of channel classes */
    int ood;                  /* eval of image models: out-of-distribution AUROC of -E (noise, flipped, inverted) */
    const char *ood_folder;   /* ... and against this image folder */
    int conditional;          /* sample: class-conditional samples of class `label` (--class; methods with classes), */
                              /* label -1: of every class (--class all) */
    int label;
    const char *compose[8];   /* sample: "RUN[:weight=W]" energies composed in one chain (no CHECKPOINT then) */
    int n_compose;
    int compose_or;           /* -logsumexp(-w E) (OR) instead of sum w E (AND) */
    int fd;                   /* with classifier: Fréchet distance and KID on its penultimate features, and the data floor */
    const char *const *sets;  /* "section.key=value" overrides of [sampler], [eval], generator.mala_* / langevin_steps */
    int n_sets;
} ebm_sample_opts_t;
int ebm_sample(const char *checkpoint, const char *device, const ebm_sample_opts_t *opts);
/* per-example energy and |grad_x E|^2 of DATA's first `limit` examples (0: all) to CSV (stdout when
 * out is NULL), 9 significant digits so every float32 reads back exactly */
int ebm_score(const char *checkpoint, const char *data, const char *device, const char *out, int raw, int limit);
/* 2-D mixtures: modes covered and high-quality fraction of the EMA model's Langevin samples (JSON on
 * stdout, also appended to the run's metrics.jsonl); images: energies of data vs samples; with a
 * classifier: modes of the samples; --ood: AUROC of -E against noise, flipped, inverted and a folder;
 * a run with [data] anomaly_class: AUPRC of E and |grad E|^2 on MEG's test split. */
int ebm_eval(const char *checkpoint, const char *device, const ebm_sample_opts_t *opts, int min_per_mode);
#endif
