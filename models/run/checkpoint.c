/* checkpoint.c — a run's state as safetensors: parameters under PyTorch state_dict names, "ema.<name>",
 * Adam moments, the replay buffer, and in __metadata__ the config and counters (run.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "dist.h"
#include "run.h"
#include "train.h"

char *run_shape_string(int ndim, const int *shape, char *buf, size_t n) {
    size_t len = 0;
    for (int i = 0; i < ndim; i++) len += (size_t)snprintf(buf + len, n - len, "%s%d", i ? "," : "", shape[i]);
    return buf;
}

/* "<tensor>.rank<k>": rank k's own copy of a per-rank tensor (replay.buffer, replay.labels), malloc'ed;
 * NULL when out of host memory */
static char *rank_name(const char *tensor, int k) {
    char *s = malloc(48);
    if (s) snprintf(s, 48, "%s.rank%d", tensor, k);
    return s;
}

/* params, ema.<name>, optim.<k>, replay.buffer; for_save: the EMA weights and buffer contents, else
 * empty tensors to load them into */
static int ckpt_tensors(run_t *r, ebm_named_tensor_t *ts, char **names, int for_save) {
    int n = 0, np = ebm_params_count(r->ps), n_names = np;
    for (int i = 0; i < np; i++) ts[n++] = (ebm_named_tensor_t){ebm_params_name(r->ps, i), ebm_params_get(r->ps, i)};
    if (r->ema) {
        if (for_save) ebm_ema_swap(r->ema);
        for (int i = 0; i < np; i++) {
            ebm_tensor_t *p = ebm_params_get(r->ps, i);
            size_t len = strlen(ebm_params_name(r->ps, i)) + 5;
            names[i] = malloc(len);
            snprintf(names[i], len, "ema.%s", ebm_params_name(r->ps, i));
            ts[n++] = (ebm_named_tensor_t){names[i], for_save ? ebm_tensor_clone(p)
                                                                     : ebm_tensor_zeros(r->ctx, ebm_tensor_ndim(p), ebm_tensor_shape(p))};
        }
        if (for_save) ebm_ema_swap(r->ema);
    }
    if (r->opt) {
        if (ebm_optim_state(r->opt, 0)) ts[n++] = (ebm_named_tensor_t){"optim.exp_avg", ebm_optim_state(r->opt, 0)};
        if (ebm_optim_state(r->opt, 1)) ts[n++] = (ebm_named_tensor_t){"optim.exp_avg_sq", ebm_optim_state(r->opt, 1)};
    }
    int own = !for_save && r->ranks > 1 && r->rank > 0;   /* rank k > 0 of a job loads its own buffer and labels */
    if (r->rb) {   /* values, or 8-bit codes 0..255 (buffer.uint8) */
        int shape[4] = {ebm_replay_capacity(r->rb), r->shape[0], r->shape[1], r->shape[2]};
        if (own) {
            names[n_names] = rank_name("replay.buffer", r->rank);
            ts[n++] = (ebm_named_tensor_t){names[n_names++], ebm_tensor_zeros(r->ctx, r->ndim + 1, shape)};
        } else
            ts[n++] = (ebm_named_tensor_t){"replay.buffer", for_save ? ebm_replay_export(r->rb) : ebm_tensor_zeros(r->ctx, r->ndim + 1, shape)};
    }
    if (r->rb_labels) {   /* a conditioned run's buffer labels, as floats (exact below 2^24) */
        int cap = ebm_replay_capacity(r->rb);
        ebm_tensor_t *t = ebm_tensor_zeros(r->ctx, 1, &cap);
        float *h = for_save && t ? malloc(sizeof(float) * (size_t)cap) : NULL;
        for (int i = 0; h && i < cap; i++) h[i] = (float)r->rb_labels[i];
        if (h) ebm_tensor_write(t, h);
        free(h);
        ts[n++] = (ebm_named_tensor_t){own ? (names[n_names++] = rank_name("replay.labels", r->rank)) : "replay.labels", t};
    }
    for (int k = 0; k < r->n_groups; k++) {   /* the method's other networks (generator.*, ...) and their optimizer moments */
        const run_group_t *g = &r->groups[k];
        for (int i = 0; i < ebm_params_count(g->ps); i++) ts[n++] = (ebm_named_tensor_t){ebm_params_name(g->ps, i), ebm_params_get(g->ps, i)};
        for (int j = 0; j < 2; j++)
            if (ebm_optim_state(g->opt, j)) {
                char *name = malloc(strlen(g->optim_name) + 16);
                if (name) sprintf(name, "%s.%s", g->optim_name, j ? "exp_avg_sq" : "exp_avg");
                names[n_names++] = name;
                ts[n++] = (ebm_named_tensor_t){name, ebm_optim_state(g->opt, j)};
            }
    }
    return n;
}

/* room for every tensor ckpt_tensors lists */
static size_t ckpt_capacity(const run_t *r) {
    size_t n = 2 * (size_t)ebm_params_count(r->ps) + 5;
    for (int k = 0; k < r->n_groups; k++) n += (size_t)ebm_params_count(r->groups[k].ps) + 2;
    return n;
}

/* room for the names ckpt_tensors allocates: ema.* and the groups' optimizer moments */
static size_t ckpt_names(const run_t *r) { return (size_t)ebm_params_count(r->ps) + 2 * (size_t)r->n_groups + 2; }

/* A data-parallel job's other ranks' replay buffers, for rank 0's checkpoint: "replay.buffer.rank<k>"
 * (and a conditioned run's "replay.labels.rank<k>") tensors into ts[n..], their names into
 * names[2 (k - 1)] and names[2 (k - 1) + 1], and "replay_state.rank<k>" = "size,pos,seen" into
 * meta[nm..]; every rank calls it. Returns the new n (-1 after printing why); *nm advanced. */
enum { RANK_META_LEN = 80 };
static int rank_buffers(run_t *r, ebm_named_tensor_t *ts, int n, char **names, ebm_kv_t *meta, int *nm, char (*text)[RANK_META_LEN]) {
    if (!r->rb || r->ranks < 2) return n;
    int cap = ebm_replay_capacity(r->rb);
    size_t numel = (size_t)cap * r->numel;
    int shape[4] = {cap, r->shape[0], r->shape[1], r->shape[2]};
    float *h = malloc(sizeof(float) * numel), *lab = r->rb_labels ? malloc(sizeof(float) * (size_t)cap) : NULL;
    int alloc_ok = h && (!r->rb_labels || lab);   /* every rank's, rank 0's included: all ranks agree before any transfer */
    for (int k = 1; k < r->ranks; k++) {
        long st[3] = {0, 0, 0};
        int ok = alloc_ok;
        if (r->rank == k && ok) {   /* mine, to rank 0 */
            ebm_replay_state(r->rb, &st[0], &st[1], &st[2]);
            ebm_tensor_t *t = ebm_replay_export(r->rb);
            ok = t && ebm_tensor_read(t, h) == EBM_OK;
            for (int i = 0; ok && lab && i < cap; i++) lab[i] = (float)r->rb_labels[i];
        }
        if (!dist_all(ok) || !dist_send_to_root(st, sizeof st, k) || !dist_send_to_root(h, sizeof(float) * numel, k) ||
            (r->rb_labels && !dist_send_to_root(lab, sizeof(float) * (size_t)cap, k))) {
            free(h), free(lab);
            return -1;
        }
        if (r->rank == 0) {
            char **name = &names[2 * (k - 1)];
            name[0] = rank_name("replay.buffer", k);
            ts[n++] = (ebm_named_tensor_t){name[0], ebm_tensor_from_host(r->ctx, r->ndim + 1, shape, h)};
            if (lab) {
                name[1] = rank_name("replay.labels", k);
                ts[n++] = (ebm_named_tensor_t){name[1], ebm_tensor_from_host(r->ctx, 1, &cap, lab)};
            }
            snprintf(text[2 * (k - 1)], RANK_META_LEN, "replay_state.rank%d", k);
            snprintf(text[2 * (k - 1) + 1], RANK_META_LEN, "%ld,%ld,%ld", st[0], st[1], st[2]);
            meta[(*nm)++] = (ebm_kv_t){text[2 * (k - 1)], text[2 * (k - 1) + 1]};
        }
    }
    free(h), free(lab);
    return n;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

int ckpt_save(run_t *r, const char *path) {
    int ok, ranks = r->ranks > 1 ? r->ranks : 1;
    ebm_named_tensor_t *ts = calloc(ckpt_capacity(r) + 2 * (size_t)ranks, sizeof *ts);
    char **names = calloc(ckpt_names(r), sizeof *names), err[1024];
    char **rnames = calloc(2 * (size_t)ranks, sizeof *rnames), (*rtext)[RANK_META_LEN] = calloc(2 * (size_t)ranks, RANK_META_LEN);
    ebm_kv_t *rmeta = calloc((size_t)ranks, sizeof *rmeta);
    int nrm = 0;
    if (!ts || !names || !rnames || !rtext || !rmeta) {
        free(ts), free(names), free(rnames), free(rtext), free(rmeta);
        ERR("writing checkpoint: out of host memory\n");
        return 0;
    }
    ebm_scope_begin(r->ctx);
    int n = ckpt_tensors(r, ts, names, 1);
    if ((n = rank_buffers(r, ts, n, rnames, rmeta, &nrm, rtext)) < 0) {   /* a data-parallel job: every rank's buffer */
        ebm_scope_end(r->ctx);
        free(ts), free_names(names, ckpt_names(r)), free_names(rnames, 2 * (size_t)ranks), free(rtext), free(rmeta);
        return 0;
    }
    char iter[32], seed[32], rb[32], lrs[32], steps[32], rsize[32], rpos[32], rseen[32], shape[64], msteps[32], nranks[32];
    long size = 0, pos = 0, seen = 0;
    if (r->rb) ebm_replay_state(r->rb, &size, &pos, &seen);
    snprintf(iter, sizeof iter, "%ld", r->iter);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->seed);
    snprintf(rb, sizeof rb, "%d", r->rollbacks);
    snprintf(lrs, sizeof lrs, "%.9g", r->lr_scale);
    snprintf(steps, sizeof steps, "%ld", ebm_optim_steps(r->opt));
    snprintf(rsize, sizeof rsize, "%ld", size);
    snprintf(rpos, sizeof rpos, "%ld", pos);
    snprintf(rseen, sizeof rseen, "%ld", seen);
    snprintf(msteps, sizeof msteps, "%ld", r->n_groups ? ebm_optim_steps(r->groups[0].opt) : 0L);
    snprintf(nranks, sizeof nranks, "%d", ranks);
    char *config = ebm_config_to_string(r->cfg);
    ebm_kv_t meta[] = {{"format", CKPT_FORMAT},    {"ebm_version", EBM_VERSION},   {"config", config ? config : ""},
                       {"sample_shape", run_shape_string(r->ndim, r->shape, shape, sizeof shape)},   {"iter", iter},
                       {"seed", seed},             {"rollbacks", rb},              {"lr_scale", lrs},
                       {"optim_steps", steps},     {"replay_size", rsize},         {"replay_pos", rpos},
                       {"replay_seen", rseen},     {"gen_optim_steps", msteps},    {"ranks", nranks}};
    int nmeta = (int)(sizeof meta / sizeof *meta) - (ranks == 1);   /* one process: no "ranks", as before */
    ebm_kv_t *all = calloc((size_t)(nmeta + nrm), sizeof *all);
    if (all) memcpy(all, meta, sizeof(ebm_kv_t) * nmeta), memcpy(all + nmeta, rmeta, sizeof(ebm_kv_t) * nrm);
    ok = all && ebm_ctx_status(r->ctx) == EBM_OK;
    if (ok && r->rank == 0) ok = ebm_safetensors_save(path, ts, n, all, nmeta + nrm, err, sizeof err) == EBM_OK;   /* rank 0 writes */
    if (!ok) ERR("writing checkpoint: %s\n", !all ? "out of host memory" : ebm_ctx_status(r->ctx) != EBM_OK ? ebm_ctx_error(r->ctx) : err);
    ebm_scope_end(r->ctx);
    free(all);
    free(config);
    free_names(names, ckpt_names(r));
    free_names(rnames, 2 * (size_t)ranks);
    free(rtext), free(rmeta);
    free(ts);
    return r->ranks > 1 ? dist_all(ok) : ok;   /* every rank knows the checkpoint is complete */
}

static const char *meta_get(cJSON *m, const char *key) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A counter of __metadata__: a decimal integer in [lo, hi] (a file can say anything: iter -1 used to
 * index the data permutation out of bounds); 0 after printing why. A missing optional key gives def. */
static int meta_count(cJSON *m, const char *key, long lo, long hi, int required, long def, long *out, const char *path) {
    const char *v = meta_get(m, key);
    if (!v) {
        if (required) ERR("%s: __metadata__ lacks the training counter \"%s\"\n", path, key);
        *out = def;
        return !required;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        ERR("%s: __metadata__ %s = \"%.40s\" is not an integer in [%ld, %ld]\n", path, key, v, lo, hi);
        return 0;
    }
    *out = (long)x;
    return 1;
}

/* The config stored in a checkpoint, for resuming or sampling. */
int ckpt_config(const char *path, ebm_config_t *cfg, int *ndim, int *shape) {
    char err[1024], *meta = NULL;
    if (ebm_safetensors_load(path, NULL, 0, &meta, err, sizeof err) != EBM_OK) {
        ERR("%s\n", err);
        return 0;
    }
    cJSON *m = cJSON_Parse(meta ? meta : "");
    free(meta);
    const char *fmt = meta_get(m, "format"), *text = meta_get(m, "config"), *shp = meta_get(m, "sample_shape");
    int ok = 0;
    if (!fmt || strcmp(fmt, CKPT_FORMAT) || !text || !shp)
        ERR("%s: not an ebm-cl training checkpoint (its __metadata__ lacks format \"%s\", config or sample_shape)\n", path,
            CKPT_FORMAT);
    else if (ebm_config_load_string(cfg, text, path, err, sizeof err) != EBM_OK)
        ERR("%s: its saved config: %s\n", path, err);
    else if ((*ndim = run_parse_ints(shp, shape, 3)) < 1)
        ERR("%s: bad sample_shape \"%s\" in __metadata__\n", path, shp);
    else
        ok = 1;
    cJSON_Delete(m);
    return ok;
}

int ebm_checkpoint_load_config(const char *path, ebm_config_t *cfg) {
    int nd, sh[3];
    return ckpt_config(path, cfg, &nd, sh);
}

/* a conditioned run's buffer labels from t (capacity floats, the tensor `name`); 0 after printing why */
static int load_labels(run_t *r, ebm_tensor_t *t, const char *name, const char *path) {
    int cap = ebm_replay_capacity(r->rb), ok = 1;
    float *h = malloc(sizeof(float) * (size_t)cap);
    if (!h || ebm_tensor_read(t, h) != EBM_OK) {
        ERR("%s: reading %s: %s\n", path, name, h ? ebm_ctx_error(r->ctx) : "out of host memory");
        free(h);
        return 0;
    }
    for (int i = 0; ok && i < cap; i++) {
        ok = h[i] >= 0 && h[i] < r->classes && h[i] == (float)(int)h[i];
        if (ok) r->rb_labels[i] = (int)h[i];
        else ERR("%s: %s[%d] = %g is not a class 0 .. %d\n", path, name, i, h[i], r->classes - 1);
    }
    free(h);
    return ok;
}

/* Loads everything the run has (EMA, optimizer and buffer when present) and the counters. */
int ckpt_load(run_t *r, const char *path) {
    int np = ebm_params_count(r->ps), ok = 0;
    ebm_named_tensor_t *ts = calloc(ckpt_capacity(r), sizeof *ts);
    char **names = calloc(ckpt_names(r), sizeof *names), err[1024], *meta = NULL;
    if (!ts || !names) {
        free(ts), free(names);
        ERR("reading checkpoint: out of host memory\n");
        return 0;
    }
    ebm_scope_begin(r->ctx);
    int n = ckpt_tensors(r, ts, names, 0);
    if (ebm_safetensors_load(path, ts, n, &meta, err, sizeof err) != EBM_OK) ERR("%s\n", err);
    else {
        if (r->ema) {   /* the loaded ema.* tensors into the EMA buffer */
            ebm_ema_swap(r->ema);
            for (int i = 0; i < np; i++) ebm_tensor_copy_into(ebm_params_get(r->ps, i), ts[np + i].t);
            ebm_ema_swap(r->ema);
        }
        for (int i = 0; r->rb && i < n; i++)
            if (ts[i].name && !strncmp(ts[i].name, "replay.buffer", 13)) ebm_replay_import(r->rb, ts[i].t);
        for (int i = 0; r->rb_labels && i < n; i++)
            if (ts[i].name && !strncmp(ts[i].name, "replay.labels", 13) && !load_labels(r, ts[i].t, ts[i].name, path)) goto labels_bad;
        cJSON *m = cJSON_Parse(meta ? meta : "");
        /* the ranges of what a run can reach: the config's ranges, the buffer's capacity */
        long cap = r->rb ? ebm_replay_capacity(r->rb) : 0, it, rbk, st, sz, ps, sn, ms, ckranks = 1;
        int ranks = r->ranks > 1 ? r->ranks : 1, rank_ok = meta_count(m, "ranks", 1, 1 << 20, 0, 1, &ckranks, path);
        if (rank_ok && r->rb && r->ranks > 0 && ckranks != ranks) {   /* (sample, eval: r->ranks 0, rank 0's buffer) */
            ERR("%s was written by a job of %ld rank%s, each with its own replay buffer: resume it with %ld rank%s "
                "(mpirun -np %ld), not %d\n", path, ckranks, ckranks > 1 ? "s" : "", ckranks, ckranks > 1 ? "s" : "", ckranks, ranks);
            rank_ok = 0;
        }
        const char *lrs = meta_get(m, "lr_scale");
        char *end = NULL;
        double lr_scale = lrs ? strtod(lrs, &end) : 0;
        if (rank_ok && meta_count(m, "iter", 0, 1000000000L, 1, 0, &it, path) && meta_count(m, "rollbacks", 0, 1000, 1, 0, &rbk, path) &&
            meta_count(m, "optim_steps", 0, 1L << 40, 1, 0, &st, path) && meta_count(m, "replay_size", 0, cap, 1, 0, &sz, path) &&
            meta_count(m, "replay_pos", 0, cap ? cap - 1 : 0, 1, 0, &ps, path) &&
            meta_count(m, "replay_seen", sz, 1L << 50, 1, 0, &sn, path) &&
            meta_count(m, "gen_optim_steps", 0, 1L << 40, 0, 0, &ms, path)) {
            if (!lrs || !*lrs || *end || !(lr_scale > 0 && lr_scale <= 1)) {
                ERR("%s: __metadata__ lr_scale = \"%.40s\" is not a number in (0, 1]\n", path, lrs ? lrs : "(missing)");
            } else {
                r->iter = it;
                r->rollbacks = (int)rbk;
                r->lr_scale = (float)lr_scale;
                ebm_optim_set_steps(r->opt, st);
                run_apply_lr_scale(r);
                if (r->rb && r->ranks > 1 && r->rank > 0) {   /* this rank's buffer's counters */
                    char key[48];
                    snprintf(key, sizeof key, "replay_state.rank%d", r->rank);
                    const char *v = meta_get(m, key);
                    if (!v || sscanf(v, "%ld,%ld,%ld", &sz, &ps, &sn) != 3 || sz < 0 || sz > cap || ps < 0 || (cap && ps >= cap) || sn < sz) {
                        ERR("%s: __metadata__ %s = \"%.40s\" is not size,pos,seen of a buffer of %ld rows\n", path, key, v ? v : "(missing)", cap);
                        sz = -1;
                    }
                }
                if (r->rb && sz >= 0) ebm_replay_set_state(r->rb, sz, ps, sn);
                for (int k = 0; k < r->n_groups; k++) ebm_optim_set_steps(r->groups[k].opt, ms);
                ok = ebm_ctx_status(r->ctx) == EBM_OK && sz >= 0;
                if (!ok && sz >= 0) ERR("%s: %s\n", path, ebm_ctx_error(r->ctx));
            }
        }
        cJSON_Delete(m);
    }
labels_bad:
    free(meta);
    ebm_scope_end(r->ctx);
    free_names(names, ckpt_names(r));
    free(ts);
    return ok;
}
