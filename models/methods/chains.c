/* chains.c — the replay buffer and the chains' start of the Langevin-trained methods, and the samples
 * and data batches of the sampling-free ones (chains.h). */
#include "chains.h"
#include <stdlib.h>
#include <string.h>

const ebm_config_key_t chains_buffer_keys[] = {
    {"buffer", "capacity", EBM_CFG_INT, "10000", "replay buffer rows (0: every chain starts from noise)", 0, 1e8},
    {"buffer", "reinit", EBM_CFG_FLOAT, "0.05", "probability that a drawn chain restarts from noise", 0, 1},
    {"buffer", "reservoir", EBM_CFG_BOOL, "false", "reservoir sampling (ICD) instead of FIFO (IGEBM)", 0, 0},
    {"buffer", "uint8", EBM_CFG_BOOL, "false", "store 8-bit codes of [init_lo, init_hi] (IGEBM/ICD; 4x less memory), read back dequantised", 0, 0},
    {NULL, NULL, 0, NULL, NULL, 0, 0}};

int chains_build(run_t *r, chains_t *ch) {
    const ebm_config_t *c = r->cfg;
    const char *init = ebm_config_str(c, "sampler", "init");
    if (!strcmp(init, "buffer")) ch->init = CHAINS_BUFFER;
    else if (!strcmp(init, "noise")) ch->init = CHAINS_NOISE;
    else if (!strcmp(init, "data")) ch->init = CHAINS_DATA;
    else {
        ERR("[sampler] init = \"%s\": expected buffer, noise or data\n", init);
        return 0;
    }
    int cap = (int)ebm_config_int(c, "buffer", "capacity");
    if (ch->init != CHAINS_BUFFER || cap <= 0) return 1;
    r->rb = ebm_replay_new(r->ctx, r->ndim, r->shape,
                           &(ebm_replay_cfg_t){.capacity = cap,
                                               .reinit_prob = (float)ebm_config_float(c, "buffer", "reinit"),
                                               .init_lo = r->init_lo,
                                               .init_hi = r->init_hi,
                                               .reservoir = ebm_config_bool(c, "buffer", "reservoir"),
                                               .uint8 = ebm_config_bool(c, "buffer", "uint8")});
    if (!r->rb) ERR("the replay buffer: %s\n", ebm_ctx_error(r->ctx));
    return r->rb != NULL;
}

ebm_tensor_t *chains_start(run_t *r, const chains_t *ch, ebm_tensor_t *xpos, int B, ebm_rng_t *rng) {
    if (r->rb) return ebm_replay_sample(r->rb, B, rng);
    return ch->init == CHAINS_DATA ? xpos : run_noise(r, B, rng);
}

int chains_channel_label(int y, int channel) {
    static const int div[3] = {100, 10, 1};
    return channel < 0 || channel > 2 ? y : y / div[channel] % 10;
}

int chains_check_label_channel(const ebm_dataset_t *ds, int channel) {
    if (channel >= 0 && (ds->ndim != 3 || ds->shape[0] != 3 || ds->n_classes != 1000)) {
        ERR("[data] label_channel = %d: only stacked three-channel images (fashion-mnist-stacked) have a class per channel\n",
            channel);
        return 0;
    }
    return 1;
}

int chains_data_labels(run_t *r, ebm_dataset_t *ds, int *y, int K, const char *what) {
    int B = r->batch, ch = (int)ebm_config_int(r->cfg, "data", "label_channel");
    if (!ds->y) {
        ERR("%s = %d needs labelled data; %s has no labels\n", what, K, ds->source);
        return 0;
    }
    if (!chains_check_label_channel(ds, ch)) return 0;
    ebm_dataset_batch_labels(ds, r->seed, r->iter, B, y);
    for (int i = 0; i < B; i++) {
        y[i] = chains_channel_label(y[i], ch);
        if (y[i] < 0 || y[i] >= K) {
            ERR("%s: label %d, but %s = %d%s\n", ds->source, y[i], what, K,
                ds->n_classes == 1000 && ch < 0 ? " (stacked images: [data] label_channel picks one channel's class)" : "");
            return 0;
        }
    }
    return 1;
}

/* labels uniform over the run's classes from rng into y[i], for every i (keep NULL) or where keep[i] < 0:
 * one draw of n uniforms, so that a data-parallel job's ranks (partitioned streams) draw together the
 * labels one process draws for the global batch; 0 when out of host memory */
static int uniform_labels(run_t *r, int n, ebm_rng_t *rng, int *y, const int *keep) {
    float *u = malloc(sizeof(float) * (size_t)n);
    if (!u) return 0;
    ebm_rng_host_uniform(rng, u, (size_t)n);
    for (int i = 0; i < n; i++) {
        if (keep && keep[i] >= 0) continue;
        int k = (int)(u[i] * (float)r->classes);
        y[i] = k < r->classes ? k : r->classes - 1;
    }
    free(u);
    return 1;
}

ebm_tensor_t *chains_start_labels(run_t *r, const chains_t *ch, ebm_tensor_t *xpos, const int *ypos, int B, ebm_rng_t *rng, int *y) {
    ebm_tensor_t *x = chains_start(r, ch, xpos, B, rng);
    if (!x) return NULL;
    int ok = 1;
    if (r->rb) {
        const int *idx = ebm_replay_indices(r->rb);
        for (int i = 0; i < B; i++) y[i] = idx[i] >= 0 ? r->rb_labels[idx[i]] : -1;
        ok = uniform_labels(r, B, rng, y, y);   /* the fresh ones (-1) */
    } else if (ch->init == CHAINS_DATA)
        memcpy(y, ypos, sizeof(int) * B);
    else
        ok = uniform_labels(r, B, rng, y, NULL);
    if (!ok) ERR("the chains' labels: out of host memory\n");
    return ok ? x : NULL;
}

ebm_status_t chains_push(run_t *r, ebm_tensor_t *x, const int *y, ebm_rng_t *rng) {
    ebm_status_t st = ebm_replay_push(r->rb, x, rng);
    if (st != EBM_OK || !r->rb_labels) return st;
    const int *slot = ebm_replay_indices(r->rb);
    for (int i = 0; i < ebm_tensor_dim(x, 0); i++)
        if (slot[i] >= 0) r->rb_labels[slot[i]] = y[i];
    return EBM_OK;
}

ebm_tensor_t *chains_draw(run_t *r, const ebm_sample_opts_t *o, int n, ebm_rng_t *rng, double *accept) {
    (void)accept;
    const char *init = o && o->init ? o->init : ebm_config_str(r->cfg, "eval", "init");
    if (strcmp(init, "noise")) {
        ERR("init = \"%s\": a run.method = %s run keeps no replay buffer; its chains start from noise\n", init, r->m->name);
        return NULL;
    }
    ebm_langevin_cfg_t lc = r->lc;
    lc.steps = o && o->steps >= 0 ? o->steps : (int)ebm_config_int(r->cfg, "eval", "steps");
    ebm_tensor_t *x = ebm_langevin(r->ctx, run_energy, r, run_noise(r, n, rng), &lc, rng);
    if (!x) ERR("sampling: %s\n", ebm_ctx_error(r->ctx));
    return x;
}

ebm_tensor_t *chains_data_batch(run_t *r, ebm_dataset_t *ds, float *host, ebm_rng_t *rng) {
    int B = r->batch;
    size_t m = (size_t)B * r->numel;
    ebm_dataset_batch(ds, r->seed, r->iter, B, host);
    if (r->dequantize) {
        float *u = malloc(sizeof(float) * m);
        if (!u) {
            ERR("iteration %ld: out of host memory\n", r->iter);
            return NULL;
        }
        ebm_rng_host_uniform(rng, u, m);
        for (size_t i = 0; i < m; i++) host[i] = host[i] * (255.0f / 256.0f) + u[i] / 256.0f;
        free(u);
    }
    int shape[4] = {B, r->shape[0], r->shape[1], r->shape[2]};
    return ebm_tensor_from_host(r->ctx, r->ndim + 1, shape, host);
}
