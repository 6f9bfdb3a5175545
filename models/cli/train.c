/* train.c — the Langevin CD / improved-CD trainer (train.h). */
#include "train.h"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "data.h"
#include "dist.h"
#include "run.h"

/* The sections every method reads; each method's own are in its file (methods/). Defaults are
 * IGEBM's (docs/METHODS.md section 1); configs/fmnist-gpu.ini and icd-imagefolder.ini set improved CD's. */
static const ebm_config_key_t common_keys[] = {
    {"run", "seed", EBM_CFG_INT, "1", "seed of every random draw (initialisation, data order, sampler, buffer)", 0, 9007199254740992},
    {"run", "iters", EBM_CFG_INT, "2000", "training iterations", 0, 1e9},
    {"run", "batch", EBM_CFG_INT, "128", "data examples and chains per iteration", 1, 65536},
    {"run", "log_every", EBM_CFG_INT, "50", "iterations between progress lines and metrics.jsonl rows", 1, 1e9},
    {"run", "sample_every", EBM_CFG_INT, "500", "iterations between PNGs of the negatives (0: only at the end)", 0, 1e9},
    {"run", "ckpt_every", EBM_CFG_INT, "500", "iterations between checkpoints (also written at the end and on Ctrl-C)", 1, 1e9},
    {"run", "diverge_bound", EBM_CFG_FLOAT, "10", "divergence when |mean E(x+)| exceeds this (ICD aborts at 10; 0: NaN/Inf only)", 0, 1e30},
    {"run", "max_rollbacks", EBM_CFG_INT, "5", "divergences rolled back (last checkpoint, new RNG stream) before the run stops", 0, 1000},
    {"run", "rollback_lr_scale", EBM_CFG_FLOAT, "1", "learning rate multiplied by this at each rollback (1: only a new RNG stream)", 1e-6, 1},
    {"run", "method", EBM_CFG_STRING, NULL, NULL, 0, 0},   /* the registry's first method and list (ebm_train_schema) */
    {"run", "allreduce", EBM_CFG_STRING, "ordered", "data-parallel jobs (mpirun): ordered (gathered and summed in rank order: bit-for-bit reproducible for a given rank count) | mpi (MPI_Allreduce)", 0, 0},
    {"data", "source", EBM_CFG_STRING, "fashion-mnist",
     "fashion-mnist | IDX file (.gz ok) | toy:8gaussians|25gaussians|swissroll|2spirals|rings | toy:barsN (bars and stripes, N x N) | file.csv | image folder", 0, 0},
    {"data", "size", EBM_CFG_INT, "0", "image side after centre-crop and resize (folders need it; 0: the file's size)", 0, 4096},
    {"data", "channels", EBM_CFG_INT, "0", "image-folder channels: 1 or 3 (0: 3)", 0, 3},
    {"data", "limit", EBM_CFG_INT, "0", "use only the first N examples (0: all)", 0, 1e9},
    {"data", "toy_n", EBM_CFG_INT, "50000", "points drawn for a 2-D toy data set", 1, 1e8},
    {"data", "anomaly_class", EBM_CFG_INT, "-1", "MEG anomaly protocol: hold this class out, train on 80% of the others (ebm eval: AUPRC on the rest); -1: off", -1, 1000},
    {"data", "binarize", EBM_CFG_STRING, "none", "none | threshold (x > 0.5) | stochastic (1 with probability x, drawn once from a fixed Philox stream, the same for every run); ebm score and eval binarise their data alike", 0, 0},
    {"data", "dequantize", EBM_CFG_BOOL, "true", "images: x*255/256 + U(0, 1/256), as ICD (ignored for vectors)", 0, 0},
    {"model", "net", EBM_CFG_STRING, "convnet",
     "mlp | convnet | multiscale (convnets on x, avgpool2(x), ...) | resnet (improved CD's) | poe (Kim & Bengio's experts) | dcgan (MEG's conv energy) | quadratic (a Gaussian energy, score matching and NCE tests) | rbm_free_energy (a restricted Boltzmann machine's)", 0, 0},
    {"model", "hidden", EBM_CFG_STRING, "128,128,128", "mlp: hidden widths; rbm_free_energy: the number of hidden units", 0, 0},
    {"model", "rbm_visible", EBM_CFG_STRING, "bernoulli", "rbm: visible units bernoulli | gaussian", 0, 0},
    {"model", "rbm_sigma", EBM_CFG_FLOAT, "1", "rbm, gaussian visible units: sigma (fixed, or the initial value with rbm_learn_sigma)", 1e-6, 1e6},
    {"model", "rbm_learn_sigma", EBM_CFG_BOOL, "false", "rbm, gaussian visible units: learn log sigma per visible unit", 0, 0},
    {"model", "activation", EBM_CFG_STRING, "auto", "auto (the net's own: lrelu for dcgan, swish for the others) or one of" EBM_NET_ACTIVATION_NAMES " (lrelu: leaky ReLU, slope 0.2)", 0, 0},
    {"model", "base", EBM_CFG_INT, "32", "convnet: channels of the first layer (then 2x, 4x, 4x)", 1, 4096},
    {"model", "scales", EBM_CFG_INT, "3", "multiscale, resnet: number of resolutions (full, half, quarter, ...), one network each", 1, 8},
    {"model", "stages", EBM_CFG_INT, "4", "resnet: stages of two residual blocks at full resolution (one fewer per coarser scale)", 1, 16},
    {"model", "experts", EBM_CFG_INT, "4", "poe: number of experts softplus(w_k.f(x) + c_k)", 1, 100000},
    {"model", "poe_sigma", EBM_CFG_FLOAT, "1", "poe: sigma of the |x|^2/sigma^2 term", 1e-6, 1e6},
    {"model", "attention", EBM_CFG_BOOL, "true", "resnet: SAGAN self-attention after stage 2 (8x8 for 32x32 images)", 0, 0},
    {"sampler", "steps", EBM_CFG_INT, "60", "Langevin steps per iteration (K)", 0, 1e6},
    {"sampler", "step_size", EBM_CFG_FLOAT, "10", "eta: x <- x - eta * grad_x E", 0, 1e9},
    {"sampler", "noise", EBM_CFG_FLOAT, "0.005", "sigma: x <- x + sigma * N(0, 1)", 0, 1e6},
    {"sampler", "grad_clip", EBM_CFG_FLOAT, "0.01", "clip each component of grad_x E to [-c, c] (0: off)", 0, 1e30},
    {"sampler", "clamp", EBM_CFG_BOOL, "true", "clamp x to [init_lo, init_hi] after every step", 0, 0},
    {"sampler", "noise_first", EBM_CFG_BOOL, "true", "add the noise before the gradient step (IGEBM/ICD order)", 0, 0},
    {"sampler", "init_lo", EBM_CFG_FLOAT, "0", "fresh chains start from U(init_lo, init_hi)", -1e6, 1e6},
    {"sampler", "init_hi", EBM_CFG_FLOAT, "1", "upper end of the fresh-chain range (and of the clamp)", -1e6, 1e6},
    {"sampler", "init", EBM_CFG_STRING, "buffer", "cd, jem: chains start from buffer (the replay buffer; noise when buffer.capacity = 0) | noise | data (the data batch: CD-k)", 0, 0},
    {"optim", "kind", EBM_CFG_STRING, "adam", "adam | adagrad | sgd (every network of the run)", 0, 0},
    {"optim", "lr", EBM_CFG_FLOAT, "3e-4", "learning rate of the energy", 0, 10},
    {"optim", "weight_decay", EBM_CFG_FLOAT, "0", "L2 on the energy's parameters (Kim & Bengio 1e-5)", 0, 1},
    {"optim", "momentum", EBM_CFG_FLOAT, "0", "SGD momentum (PyTorch's: buf = m buf + g)", 0, 0.999999},
    {"optim", "beta1", EBM_CFG_FLOAT, "0", "Adam beta1", 0, 0.999999},
    {"optim", "beta2", EBM_CFG_FLOAT, "0.999", "Adam beta2", 0, 0.999999},
    {"optim", "eps", EBM_CFG_FLOAT, "1e-8", "Adam epsilon", 0, 1e3},
    {"optim", "clip_norm", EBM_CFG_FLOAT, "0", "global gradient-norm clip (ICD 0.5; 0: off)", 0, 1e30},
    {"optim", "ema", EBM_CFG_FLOAT, "0", "EMA decay of the weights used by sample/score/eval (ICD 0.99; 0: off)", 0, 0.999999},
    {"eval", "n", EBM_CFG_INT, "1000", "chains for ebm eval / heat maps", 1, 1e7},
    {"eval", "steps", EBM_CFG_INT, "200", "Langevin steps of ebm eval and ebm sample", 0, 1e7},
    {"eval", "init", EBM_CFG_STRING, "noise", "chains start from noise | buffer", 0, 0},
    {"eval", "min_per_mode", EBM_CFG_INT, "10", "2-D mixtures: samples within 3 sigma a mode needs to count as covered", 1, 1e9},
    {NULL, NULL, 0, NULL, NULL, 0, 0}};


/* the method's help: "cd (IGEBM, improved CD) | meg (...) | ..." */
static const char *method_help(void) {
    static char help[600];
    size_t len = 0;
    for (int i = 0; ebm_methods[i] && len < sizeof help; i++)
        len += (size_t)snprintf(help + len, sizeof help - len, "%s%s (%s)", i ? " | " : "", ebm_methods[i]->name, ebm_methods[i]->title);
    return help;
}

const ebm_config_key_t *ebm_train_schema(void) {
    static ebm_config_key_t *schema;
    if (schema) return schema;
    const ebm_config_key_t *tables[32];
    int nt = 0;
    tables[nt++] = common_keys;
    for (int i = 0; ebm_methods[i]; i++)   /* each table once (the generator's serves three methods) */
        for (int j = 0; ebm_methods[i]->keys && ebm_methods[i]->keys[j]; j++) {
            int seen = 0;
            for (int k = 0; k < nt; k++) seen |= tables[k] == ebm_methods[i]->keys[j];
            if (!seen && nt < 32) tables[nt++] = ebm_methods[i]->keys[j];
        }
    size_t n = 0;
    for (int k = 0; k < nt; k++)
        for (const ebm_config_key_t *r = tables[k]; r->section; r++) n++;
    schema = calloc(n + 1, sizeof *schema);
    if (!schema) return NULL;
    n = 0;
    for (int k = 0; k < nt; k++)
        for (const ebm_config_key_t *r = tables[k]; r->section; r++) {
            schema[n] = *r;
            if (!schema[n].help) schema[n].help = method_help();
            if (!schema[n].def) schema[n].def = ebm_methods[0]->name;
            n++;
        }
    return schema;
}

/* the common sections, and those of the config's method (every section for an unknown method:
 * the run refuses it later, naming the methods) */
static int section_shown(const ebm_config_t *cfg, const char *section) {
    for (const ebm_config_key_t *r = common_keys; r->section; r++)
        if (!strcmp(r->section, section)) return 1;
    const ebm_method_t *m = ebm_method_find(ebm_config_str(cfg, "run", "method"));
    if (!m) return 1;
    for (int j = 0; m->keys && m->keys[j]; j++)
        for (const ebm_config_key_t *r = m->keys[j]; r->section; r++)
            if (!strcmp(r->section, section)) return 1;
    return 0;
}

ebm_config_t *ebm_train_config_new(void) {
    const ebm_config_key_t *schema = ebm_train_schema();
    ebm_config_t *cfg = schema ? ebm_config_new(schema) : NULL;
    if (cfg) ebm_config_set_shown(cfg, section_shown);
    return cfg;
}

static volatile sig_atomic_t interrupted;   /* SIGINT or SIGTERM: checkpoint once and stop */
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static void fmt_duration(double s, char *buf, size_t n) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int mkdirs(const char *path) {
    char buf[1200];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) && errno != EEXIST) return 0;
            *p = '/';
        }
    return !mkdir(buf, 0755) || errno == EEXIST;
}

/* What `ebm sample` would show now (the method's draw for pictures: CD's chains from the buffer with
 * eval.steps more Langevin steps, a generator's G(z)), with the EMA weights when the run keeps them.
 * Touches no training state. */
static int save_pictures(run_t *r) {
    if (!r->m->draw) return 1;   /* nothing to draw (a classifier) */
    char path[1200];
    snprintf(path, sizeof path, "%s/samples/%s_%06ld.png", r->dir, r->toy ? "heatmap" : "samples", r->iter);
    ebm_rng_t rng = ebm_rng_make(r->seed, 0x504943ull + ((uint64_t)r->iter << 20));   /* never a training stream */
    ebm_scope_begin(r->ctx);
    if (r->ema) ebm_ema_swap(r->ema);
    ebm_tensor_t *x = r->m->draw(r, NULL, r->toy ? 1000 : 64, &rng, NULL);
    if (r->ema) ebm_ema_swap(r->ema);
    int ok = x && run_write_samples(r, path, x);
    ebm_scope_end(r->ctx);
    return ok;
}

/* the stats of an iteration: "  label value" each on the progress line, key: value into the row */
static void stats_print(const stats_t *s, FILE *f) {
    for (int i = 0; i < s->n; i++) fprintf(f, s->s[i].general ? "  %s %.4g" : "  %s %+.4f", s->s[i].label, s->s[i].v);
}

static void stats_json(const stats_t *s, cJSON *row) {
    for (int i = 0; i < s->n; i++) run_json_num(row, s->s[i].key, s->s[i].v);
}

/* An iteration's or an event's metrics row: {"event": event (NULL: none), "iter": iter, ...} */
static cJSON *metrics_row(const char *event, long iter) {
    cJSON *row = cJSON_CreateObject();
    if (row && event) cJSON_AddStringToObject(row, "event", event);
    if (row) cJSON_AddNumberToObject(row, "iter", (double)iter);
    if (row) cJSON_AddNumberToObject(row, "ranks", dist_size());
    return row;
}

/* rank 0 writes the metrics (the others' rows are dropped: 1 as if written) */
static int metrics_append(const char *dir, cJSON *row) {
    if (dist_rank() == 0) return rundir_metrics_append(dir, row, NULL);
    cJSON_Delete(row);
    return 1;
}

/* The device of this rank of a data-parallel job: the local rank's entry of a list "SEL,SEL,..."
 * (cyclically), else the local rank's among the devices a selector matches (no selector: among the
 * GPUs; none: the default device); one rank on a machine: sel itself. */
static const char *rank_device(const char *sel, char *buf, size_t n) {
    if (!sel || !*sel) sel = getenv("EBM_DEVICE");
    int lr = dist_local_rank(), ls = dist_local_size();
    if (sel && strchr(sel, ',')) {
        int count = 1;
        for (const char *p = sel; *p; p++) count += *p == ',';
        const char *p = sel;
        for (int k = lr % count; k > 0; k--) p = strchr(p, ',') + 1;
        size_t len = strcspn(p, ",");
        snprintf(buf, n, "%.*s", (int)(len < n ? len : n - 1), p);
        return buf;
    }
    if (ls < 2) return sel;
    ebm_device_info_t list[64];
    int nd = ebm_devices_list(list, 64), match[64], nm = 0;
    for (int i = 0; i < nd && i < 64; i++)
        if (sel && *sel ? ebm_device_select(&list[i], 1, sel) == 0 : list[i].is_gpu) match[nm++] = i;
    if (nm < 2) return sel;
    const ebm_device_info_t *d = &list[match[lr % nm]];
    snprintf(buf, n, "%d:%d", d->platform_index, d->device_index);
    return buf;
}

/* rank 0's values of a tensor on every rank */
static int bcast_tensor(ebm_tensor_t *t) {
    if (!t) return 1;
    size_t n = ebm_tensor_numel(t);
    float *h = malloc(sizeof(float) * n);
    int ok = h && ebm_tensor_read(t, h) == EBM_OK && dist_bcast(h, n) && ebm_tensor_write(t, h) == EBM_OK;
    free(h);
    return ok;
}

/* FNV-1a over a tensor's float bits */
static uint64_t hash_tensor(ebm_tensor_t *t, uint64_t h, int *ok) {
    if (!t || !*ok) return h;
    size_t n = ebm_tensor_numel(t);
    float *v = malloc(sizeof(float) * n);
    if (!v || ebm_tensor_read(t, v) != EBM_OK) *ok = 0;
    const unsigned char *b = (const unsigned char *)v;
    for (size_t i = 0; *ok && i < n * sizeof(float); i++) h = (h ^ b[i]) * 0x100000001b3ull;
    free(v);
    return h;
}

/* every tensor of a run's state that the ranks must agree on: the parameters, EMA and optimizer
 * moments of the energy and of the method's other networks (NULL entries: none, e.g. SGD's moments) */
enum { STATE_MAX = 4 + 3 * RUN_MAX_GROUPS };
static int state_tensors(run_t *r, ebm_tensor_t **t) {
    int n = 0;
    t[n++] = ebm_params_flat(r->ps), t[n++] = r->ema ? ebm_ema_flat(r->ema) : NULL;
    t[n++] = ebm_optim_state(r->opt, 0), t[n++] = ebm_optim_state(r->opt, 1);
    for (int k = 0; k < r->n_groups; k++)
        t[n++] = ebm_params_flat(r->groups[k].ps), t[n++] = ebm_optim_state(r->groups[k].opt, 0), t[n++] = ebm_optim_state(r->groups[k].opt, 1);
    return n;
}

/* a data-parallel job starts from rank 0's state */
static int bcast_state(run_t *r) {
    ebm_tensor_t *t[STATE_MAX];
    int n = state_tensors(r, t), ok = 1;
    for (int i = 0; ok && i < n; i++) ok = bcast_tensor(t[i]);
    if (!ok) ERR("rank %d: broadcasting the parameters: %s\n", dist_rank(), ebm_ctx_error(r->ctx));
    return ok;
}

/* Before a checkpoint: every rank's state must be rank 0's bits. It is when every rank's device rounds
 * the update kernels alike; devices of different vendors may not (a fused multiply-add where another
 * rounds twice): then rank 0's state is broadcast, and rank 0 says so. */
static int resync(run_t *r) {
    ebm_tensor_t *t[STATE_MAX];
    int n = state_tensors(r, t), ok = 1;
    uint64_t h = 0xcbf29ce484222325ull, h0;
    for (int i = 0; i < n; i++) h = hash_tensor(t[i], h, &ok);
    h0 = h;
    if (!dist_all(ok) || !dist_bcast_bytes(&h0, sizeof h0)) return 0;
    if (dist_all(h == h0)) return 1;
    if (r->rank == 0)
        fprintf(stderr, "ebm: iteration %ld: the ranks' states differ (expected only when their devices round differently; "
                        "on identical devices, a bug): every rank continues from rank 0's\n", r->iter);
    return bcast_state(r);
}

/* The run directory: created, locked for this process, not another run's unless overwrite or
 * resuming, without stale temporary files; returns the lock's descriptor or -1 after printing why. */
static int open_run_dir(const char *dir, int resume, int overwrite) {
    char samples_dir[1100], ckpt[1200];
    snprintf(samples_dir, sizeof samples_dir, "%s/samples", dir);
    if (!mkdirs(samples_dir)) {
        ERR("%s: cannot create the run directory: %s\n", dir, strerror(errno));
        return -1;
    }
    int lock = rundir_lock(dir);
    if (lock < 0) return -1;
    snprintf(ckpt, sizeof ckpt, "%s/" CKPT_NAME, dir);
    if (!resume && access(ckpt, F_OK) == 0) {
        if (!overwrite) {
            ERR("%s already holds a run (%s): continue it with `ebm train --resume %s [--set run.iters=N]`, give another --out, "
                "or start again there with --overwrite\n", dir, CKPT_NAME, dir);
            rundir_unlock(lock);
            return -1;
        }
        if (!rundir_clear(dir)) {
            rundir_unlock(lock);
            return -1;
        }
        fprintf(stderr, "ebm: --overwrite: removed the previous run's checkpoint, metrics, config and pictures from %s\n", dir);
    }
    rundir_remove_stale_temps(dir);
    return lock;
}

int ebm_train(ebm_config_t *cfg, const char *device, const char *out_dir, const char *resume_dir, int overwrite) {
    const ebm_config_t *c = cfg;
    char err[1024], ckpt[1200];
    ebm_dataset_t ds;
    long iters = ebm_config_int(c, "run", "iters");
    int B = (int)ebm_config_int(c, "run", "batch"), log_every = (int)ebm_config_int(c, "run", "log_every");
    int sample_every = (int)ebm_config_int(c, "run", "sample_every"), ckpt_every = (int)ebm_config_int(c, "run", "ckpt_every");
    int max_rb = (int)ebm_config_int(c, "run", "max_rollbacks");
    if (iters < 0 || B < 1 || log_every < 1 || ckpt_every < 1 || sample_every < 0) {
        ERR("need run.iters >= 0, run.batch >= 1, run.log_every >= 1, run.ckpt_every >= 1, run.sample_every >= 0\n");
        return 2;
    }
    ebm_data_opts_t dopts = {.size = (int)ebm_config_int(c, "data", "size"),
                             .channels = (int)ebm_config_int(c, "data", "channels"),
                             .limit = (int)ebm_config_int(c, "data", "limit"),
                             .toy_n = (int)ebm_config_int(c, "data", "toy_n"),
                             .seed = (uint64_t)ebm_config_int(c, "run", "seed"),
                             .anomaly = ebm_config_int(c, "data", "anomaly_class") >= 0 ? EBM_ANOMALY_TRAIN : 0,
                             .anomaly_class = (int)ebm_config_int(c, "data", "anomaly_class")};
    if (!ebm_data_binarize_of(ebm_config_str(c, "data", "binarize"), &dopts.binarize)) {
        ERR("[data] binarize = \"%s\": expected none, threshold or stochastic\n", ebm_config_str(c, "data", "binarize"));
        return 2;
    }
    if (ebm_dataset_open(&ds, ebm_config_str(c, "data", "source"), &dopts, err, sizeof err) != EBM_OK) {
        ERR("%s\n", err);
        return 1;
    }
    run_t r = {0};
    int rc = 1, lock = -1, ranks = dist_size(), root = dist_rank() == 0;
    float *xhost = malloc(sizeof(float) * B * ds.sample_numel);
    char devbuf[256];
    r.rank = dist_rank(), r.ranks = ranks;   /* (1: one process; a checkpoint of several ranks' buffers is refused) */
    if (ranks > 1) {   /* this rank's rows of every batch, its device */
        ds.part = r.rank, ds.parts = ranks;
        device = rank_device(device, devbuf, sizeof devbuf);
        const char *ar = ebm_config_str(c, "run", "allreduce");
        if (strcmp(ar, "ordered") && strcmp(ar, "mpi")) {
            ERR("[run] allreduce = \"%s\": expected ordered or mpi\n", ar);
            goto done;
        }
        dist_set_ordered(!strcmp(ar, "ordered"));
    }
    snprintf(r.dir, sizeof r.dir, "%s", out_dir ? out_dir : resume_dir);
    snprintf(ckpt, sizeof ckpt, "%s/" CKPT_NAME, r.dir);
    if (!xhost) {
        ERR("out of host memory\n");
        goto done;
    }
    if (root && (lock = open_run_dir(r.dir, resume_dir != NULL, overwrite)) < 0) {   /* rank 0 owns the folder */
        rc = 2;
        goto done;
    }
    const ebm_method_t *m = ebm_method_of(cfg);
    if (!m || !run_build(&r, cfg, m, device, ds.ndim, ds.shape)) goto done;
    char unused[600];
    if (!resume_dir && ebm_config_hidden_changes(cfg, unused, sizeof unused))
        fprintf(stderr, "ebm: warning: run.method = %s does not read %s: ignored (config.ini leaves them out)\n", m->name, unused);
    r.toy = ds.toy && ebm_toy_modes(ds.toy_name, NULL, 0, NULL) >= 0 && ds.shape[0] == 2;
    snprintf(r.toy_name, sizeof r.toy_name, "%s", ds.toy_name);
    if (resume_dir) {
        char from[1200];
        snprintf(from, sizeof from, "%s/" CKPT_NAME, resume_dir);
        if (!ckpt_load(&r, from) || (root && !rundir_metrics_trim(r.dir, r.iter))) goto done;
        if (root) fprintf(stderr, "ebm: resumed %s at iteration %ld\n", from, r.iter);
    }
    if (ranks > 1) {   /* every rank from rank 0's state; gradients averaged over the ranks before every update */
        if (!bcast_state(&r)) goto done;
        ebm_optim_set_grad_hook(r.opt, dist_grad_hook, NULL);
        for (int k = 0; k < r.n_groups; k++) ebm_optim_set_grad_hook(r.groups[k].opt, dist_grad_hook, NULL);
    }
    if (root) {   /* the full config, every default visible */
        char *text = ebm_config_to_string(cfg), path[1200];
        snprintf(path, sizeof path, "%s/config.ini", r.dir);
        int ok = text && ebm_write_atomic(path, text, strlen(text), err, sizeof err) == EBM_OK;
        free(text);
        if (!ok) {
            ERR("%s\n", err);
            goto done;
        }
    }
    if (!resume_dir && !ckpt_save(&r, ckpt)) goto done;   /* iteration 0: the first rollback target */
    const ebm_device_info_t *dev = ebm_ctx_device(r.ctx);
    if (ranks > 1) {   /* each rank's device, then the first progress line */
        char tag[32];
        ebm_device_tag(dev, tag, sizeof tag);
        fprintf(stderr, "ebm: rank %d of %d: %s (%s), %d rows of every batch of %d\n", r.rank, ranks, dev->name, tag, r.batch, B);
        if (!dist_barrier()) goto done;
    }
    char job[160] = "";
    if (ranks > 1)
        snprintf(job, sizeof job, " with %d ranks (data-parallel: %d rows each, run.allreduce = %s)", ranks, r.batch,
                 ebm_config_str(c, "run", "allreduce"));
    if (root)
        fprintf(stderr, "ebm: training %s on %s (%d examples of %zu numbers) on %s; %ld iterations into %s%s\n",
                ebm_config_str(c, "model", "net"), ds.source, ds.n, ds.sample_numel, dev->name, iters, r.dir, job);
    struct sigaction sa = {0}, old_sa, old_term;
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old_sa);
    sigaction(SIGTERM, &sa, &old_term);
    interrupted = 0;
    double t0 = now_s(), t_log = t0, comm = 0, wait = 0, w;
    long it_log = r.iter;
    dist_comm_seconds(NULL);
    while (r.iter < iters && !interrupted) {
        stats_t s = {0};
        int st = r.m->step(&r, &ds, xhost, &s);
        if (st < 0) goto done;
        if (ranks > 1) {   /* every rank's verdict: any rank diverged (or was stopped) and all act alike */
            int stop = interrupted, nvoid = dist_iteration_end(st == 0, &stop);
            if (nvoid < 0) goto done;
            if (stop) interrupted = 1;
            if (nvoid > 0 && st == 1) {
                st = 0;
                s.n = 0;
            }
            if (nvoid > 0 && root) fprintf(stderr, "ebm: iteration %ld diverged on %d of %d ranks\n", r.iter, nvoid, ranks);
        }
        if (st == 0) {
            if (root) {
                fprintf(stderr, "ebm: divergence at iteration %ld:", r.iter);
                stats_print(&s, stderr);
                fprintf(stderr, " (run.diverge_bound = %g)\n", ebm_config_float(c, "run", "diverge_bound"));
            }
            cJSON *row = metrics_row("divergence", r.iter);
            stats_json(&s, row);
            if (!metrics_append(r.dir, row)) goto done;
            if (r.rollbacks >= max_rb) {
                if (root) ERR("stopping: %d divergences rolled back already (run.max_rollbacks = %d). Lower optim.lr or "
                    "sampler.step_size, raise loss.reg, or raise run.max_rollbacks; %s holds the last good state.\n",
                    r.rollbacks, max_rb, ckpt);
                goto done;
            }
            int rollbacks = r.rollbacks + 1;
            float scale = r.lr_scale * (float)ebm_config_float(c, "run", "rollback_lr_scale");
            if (!ckpt_load(&r, ckpt)) goto done;
            r.rollbacks = rollbacks;
            r.lr_scale = scale;
            run_apply_lr_scale(&r);
            if (root)
                fprintf(stderr, "ebm: rolled back to the checkpoint of iteration %ld with a new RNG stream (rollback %d of at most %d; lr %g)\n",
                        r.iter, r.rollbacks, max_rb, ebm_optim_lr(r.opt));
            row = metrics_row("rollback", r.iter);
            cJSON_AddNumberToObject(row, "rollbacks", r.rollbacks);
            run_json_num(row, "lr", ebm_optim_lr(r.opt));
            if (!metrics_append(r.dir, row)) goto done;
            continue;
        }
        r.iter++;
        comm += dist_comm_seconds(&w);
        wait += w;
        if (r.iter % log_every == 0 || r.iter == iters) {
            if (ranks > 1) {   /* the iteration's numbers averaged over the ranks (each a mean over its rows) */
                float v[STATS_MAX];
                for (int i = 0; i < s.n; i++) v[i] = s.s[i].v;
                if (!dist_sum(v, (size_t)s.n)) goto done;
                for (int i = 0; i < s.n; i++) s.s[i].v = v[i] / (float)ranks;
                dist_comm_seconds(NULL);   /* (not the iteration's communication) */
            }
            double t = now_s(), rate = (r.iter - it_log) / fmax(t - t_log, 1e-9);
            float gn = NAN;
            ebm_tensor_t *g = ebm_optim_last_grad_norm(r.opt);
            if (g) ebm_tensor_read(g, &gn);
            char eta[32];
            fmt_duration((iters - r.iter) / fmax(rate, 1e-9), eta, sizeof eta);
            if (root) {
                fprintf(stderr, "it %ld/%ld  %.2f it/s", r.iter, iters, rate);
                stats_print(&s, stderr);
                fprintf(stderr, "  |grad| %.3g  ETA %s\n", gn, eta);
            }
            cJSON *row = metrics_row(NULL, r.iter);
            stats_json(&s, row);
            run_json_num(row, "grad_norm", gn), run_json_num(row, "it_per_s", rate), run_json_num(row, "lr", ebm_optim_lr(r.opt));
            cJSON_AddNumberToObject(row, "elapsed_s", round((t - t0) * 1e3) / 1e3);
            /* rank 0's seconds per iteration in collectives: transfers (the gradient all-reduces with their
             * host staging) and waiting for the other ranks (dist.h) */
            if (ranks > 1) {
                run_json_num(row, "comm_s_per_it", comm / (double)(r.iter - it_log));
                run_json_num(row, "wait_s_per_it", wait / (double)(r.iter - it_log));
            }
            comm = wait = 0;
            /* a row that cannot be written (a full disk) stops the run: the last checkpoint stays */
            if (!metrics_append(r.dir, row)) goto done;
            t_log = t, it_log = r.iter;
        }
        if (r.iter % ckpt_every == 0 && r.iter < iters && ((ranks > 1 && !resync(&r)) || !ckpt_save(&r, ckpt))) goto done;
        if (sample_every > 0 && r.iter % sample_every == 0 && r.iter < iters && root && !save_pictures(&r)) goto done;
    }
    sigaction(SIGINT, &old_sa, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if ((ranks > 1 && !resync(&r)) || !ckpt_save(&r, ckpt) || (root && !save_pictures(&r))) goto done;
    char last[1300];
    snprintf(last, sizeof last, "%s/samples/%s_%06ld.png", r.dir, r.toy ? "heatmap" : "samples", r.iter);
    if (root) {
        fprintf(stderr, "ebm: %s after %ld iterations (%.1f s); checkpoint %s\n", interrupted ? "interrupted" : "done", r.iter,
                now_s() - t0, ckpt);
        printf("%s\n", r.m->draw ? last : ckpt);
    }
    rc = interrupted ? 130 : 0;
done:
    if (rc != 0 && rc != 130 && ranks > 1) {   /* the other ranks would wait for this one: end the job (the last checkpoint stays) */
        ERR("rank %d of %d stops the job (exit status %d)\n", dist_rank(), ranks, rc);
        dist_abort(rc);
    }
    if (lock >= 0) rundir_unlock(lock);
    free(xhost);
    ebm_dataset_free(&ds);
    run_free(&r);
    return rc;
}

