/* commands.c — ebm sample, score and eval on a checkpoint (train.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "data.h"
#include <cjson/cJSON.h>
#include "metrics.h"
#include "run.h"
#include "train.h"

/* what sample/eval may change of a trained run's config: how it samples, not what it is */
static int settable(const char *a) {
    if (!strncmp(a, "sampler.init=", 13)) return 0;   /* where training chains started: the trained model's (its buffer) */
    static const char *ok[] = {"sampler.", "eval.", "generator.mala_steps=", "generator.mala_step_size=", "generator.langevin_steps=",
                               "rbm.log_z=", "rbm.exact_max=", "rbm.ais_betas=", "rbm.ais_runs=", "rbm.eval_limit=", NULL};
    for (int i = 0; ok[i]; i++)
        if (!strncmp(a, ok[i], strlen(ok[i]))) return 1;
    return 0;
}


static int open_checkpoint_with(run_t *r, ebm_config_t *cfg, const char *path, const char *device, int raw, const char *const *sets, int n_sets) {
    int ndim, shape[3];
    char err[1024];
    if (!ckpt_config(path, cfg, &ndim, shape)) return 0;
    for (int i = 0; i < n_sets; i++) {
        if (!settable(sets[i])) {
            ERR("--set %s: sampling and evaluation may change [sampler], [eval] and generator.mala_steps, mala_step_size, "
                "langevin_steps, rbm.log_z, exact_max, ais_betas, ais_runs, eval_limit; the rest is the trained model's\n", sets[i]);
            return 0;
        }
        if (ebm_config_set(cfg, sets[i], err, sizeof err) != EBM_OK) {
            ERR("%s\n", err);
            return 0;
        }
    }
    const ebm_method_t *m = ebm_method_of(cfg);
    if (!m || !run_build(r, cfg, m, device, ndim, shape) || !ckpt_load(r, path)) return 0;
    if (r->ema && !raw) ebm_ema_swap(r->ema);
    const char *src = ebm_config_str(cfg, "data", "source");
    r->toy = !strncmp(src, "toy:", 4) && ndim == 1 && shape[0] == 2;
    if (r->toy) snprintf(r->toy_name, sizeof r->toy_name, "%s", src + 4);
    snprintf(r->dir, sizeof r->dir, "%s", path);
    char *slash = strrchr(r->dir, '/');
    if (slash) *slash = 0;
    else snprintf(r->dir, sizeof r->dir, ".");
    return 1;
}

/* config, network and state of a checkpoint; EMA weights swapped in unless raw */
static int open_checkpoint(run_t *r, ebm_config_t *cfg, const char *path, const char *device, int raw) {
    return open_checkpoint_with(r, cfg, path, device, raw, NULL, 0);
}

/* n samples as `ebm sample` draws them (the run's method draws them); chunk > 0 draws from its own
 * stream (evaluations that sample in several batches) */
static ebm_tensor_t *draw_samples(run_t *r, const ebm_sample_opts_t *o, int n, double *accept, int chunk) {
    ebm_rng_t rng = ebm_rng_make(o->seed ? o->seed : r->seed, 0x53414d50ull + ((uint64_t)chunk << 32));   /* "SAMP" */
    if (!r->m->draw) {
        ERR("a run.method = %s run does not draw samples\n", r->m->name);
        return NULL;
    }
    return r->m->draw(r, o, n, &rng, accept);
}

static int is_npy(const char *path) {
    size_t n = strlen(path);
    return n >= 4 && !strcasecmp(path + n - 4, ".npy");
}

/* samples as a NumPy array, float32 (N, C, H, W) or (N, D); 0 after printing why */
static int write_npy(run_t *r, const char *path, ebm_tensor_t *x) {
    size_t n = ebm_tensor_numel(x);
    float *h = malloc(sizeof(float) * (n ? n : 1));
    char err[1400];
    int ok = h && ebm_tensor_read(x, h) == EBM_OK;
    if (!ok) ERR("reading the samples: %s\n", h ? ebm_ctx_error(r->ctx) : "out of host memory");
    else if (ebm_npy_write(path, h, ebm_tensor_ndim(x), ebm_tensor_shape(x), err, sizeof err) != EBM_OK) {
        ERR("%s\n", err);
        ok = 0;
    }
    free(h);
    return ok;
}

/* ---- composition: several runs' energies in one Langevin chain (ebm sample --compose) ---- */
enum { MAX_COMPOSE = 8 };
typedef struct compose {
    int n, or;
    run_t r[MAX_COMPOSE];
    ebm_config_t *cfg[MAX_COMPOSE];
    float w[MAX_COMPOSE];
    run_class_t cls[MAX_COMPOSE];   /* cls[i].k >= 0: E_i(x, k) of a run with classes */
} compose_t;

/* AND: sum_i w_i E_i(x); OR: -logsumexp_i(-w_i E_i(x)) */
static ebm_tensor_t *compose_energy(void *user, ebm_tensor_t *x) {
    compose_t *c = user;
    ebm_tensor_t *terms[MAX_COMPOSE], *tot = NULL;
    int B = ebm_tensor_dim(x, 0);
    for (int i = 0; i < c->n; i++) {
        ebm_tensor_t *ei = c->cls[i].k >= 0 ? run_class_energy(&c->cls[i], x) : run_energy(&c->r[i], x);
        ebm_tensor_t *e = ebm_scale(ei, c->or ? -c->w[i] : c->w[i]);
        if (c->or) terms[i] = ebm_reshape(e, 2, (int[]){B, 1});
        else tot = tot ? ebm_add(tot, e) : e;
    }
    return c->or ? ebm_neg(ebm_logsumexp(ebm_concat(terms, c->n, 1), 1, 0)) : tot;
}

/* "RUN[:class=K][:weight=W]" (either order) into the run's checkpoint path, class (-1: none) and
 * weight; 0 after printing why */
static int parse_compose(const char *spec, char *path, size_t n, int *k, float *w) {
    /* RUN ends at the first ":key=" after its last '/' (a path may hold colons, a key is [a-z_]+) */
    const char *base = strrchr(spec, '/') ? strrchr(spec, '/') : spec;
    size_t len = strlen(spec);
    for (const char *p = strchr(base, ':'); p; p = strchr(p + 1, ':')) {
        size_t kl = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_");
        if (kl > 0 && p[1 + kl] == '=') {
            len = (size_t)(p - spec);
            break;
        }
    }
    *w = 1, *k = -1;
    for (const char *p = spec + len; *p;) {   /* the ":key=value" parts after RUN */
        const char *next = strchr(p + 1, ':');
        size_t plen = next ? (size_t)(next - p) : strlen(p);
        char part[64], *end;
        if (plen >= sizeof part) plen = sizeof part - 1;
        snprintf(part, sizeof part, "%.*s", (int)plen, p);
        errno = 0;
        if (!strncmp(part, ":weight=", 8)) {
            double v = strtod(part + 8, &end);
            if (end == part + 8 || *end || errno || !isfinite(v) || fabs(v) > 1e6) {
                ERR("--compose %s: weight \"%s\" is not a number in [-1e6, 1e6]\n", spec, part + 8);
                return 0;
            }
            *w = (float)v;
        } else if (!strncmp(part, ":class=", 7)) {
            long v = strtol(part + 7, &end, 10);
            if (end == part + 7 || *end || errno || v < 0 || v > 100000) {
                ERR("--compose %s: class \"%s\" is not a class number\n", spec, part + 7);
                return 0;
            }
            *k = (int)v;
        } else {
            ERR("--compose %s: \"%s\": expected RUN[:class=K][:weight=W]\n", spec, part);
            return 0;
        }
        p += plen;
    }
    char run[1100];
    if (len == 0 || len >= sizeof run) {
        ERR("--compose \"%s\": expected RUN[:class=K][:weight=W]\n", spec);
        return 0;
    }
    snprintf(run, sizeof run, "%.*s", (int)len, spec);
    size_t rl = strlen(run);
    if (rl > 12 && !strcmp(run + rl - 12, ".safetensors")) snprintf(path, n, "%s", run);
    else snprintf(path, n, "%s/%s", run, CKPT_NAME);
    return 1;
}

/* ebm sample --compose RUN[:weight=W]...: Langevin with the first run's [sampler] settings (and --set,
 * --steps, eval.steps) from its fresh-chain range, on the composed energy; every run on one device */
static int sample_composed(const char *device, const ebm_sample_opts_t *o) {
    compose_t c = {.n = o->n_compose, .or = o->compose_or};
    ebm_ctx_t *ctx = NULL;
    int rc = 1;
    if (ebm_ctx_create(&ctx, device) != EBM_OK) {
        ERR("%s\n", ebm_ctx_error(NULL));
        return 1;
    }
    for (int i = 0; i < c.n; i++) {
        char path[1200];
        if (!parse_compose(o->compose[i], path, sizeof path, &c.cls[i].k, &c.w[i]) || !(c.cfg[i] = ebm_train_config_new())) goto done;
        c.r[i].ctx = ctx, c.r[i].ctx_shared = 1, c.cls[i].r = &c.r[i];
        if (!open_checkpoint_with(&c.r[i], c.cfg[i], path, device, o->raw, i == 0 ? o->sets : NULL, i == 0 ? o->n_sets : 0)) goto done;
        if (c.r[i].n_out != 1 && !c.r[i].m->energy) {
            ERR("--compose %s: a run.method = %s run has no energy to compose\n", o->compose[i], c.r[i].m->name);
            goto done;
        }
        if (c.cls[i].k >= 0 && c.cls[i].k >= run_classes(&c.r[i])) {
            if (!run_classes(&c.r[i])) ERR("--compose %s: a run.method = %s run's energy has no classes\n", o->compose[i], c.r[i].m->name);
            else ERR("--compose %s: the run has classes 0 .. %d\n", o->compose[i], run_classes(&c.r[i]) - 1);
            goto done;
        }
        if (c.r[i].ndim != c.r[0].ndim || memcmp(c.r[i].shape, c.r[0].shape, sizeof(int) * c.r[0].ndim)) {
            char a[64], b[64];
            ERR("--compose %s: its samples have shape (%s), the first run's (%s)\n", o->compose[i],
                run_shape_string(c.r[i].ndim, c.r[i].shape, a, sizeof a), run_shape_string(c.r[0].ndim, c.r[0].shape, b, sizeof b));
            goto done;
        }
        const ebm_langevin_cfg_t *l0 = &c.r[0].lc, *li = &c.r[i].lc;
        if (i > 0 && c.r[i].m->sampler_density && c.r[0].m->sampler_density &&
            fabs(li->noise * li->noise / (2 * li->step_size) - l0->noise * l0->noise / (2 * l0->step_size)) >
                1e-3 * l0->noise * l0->noise / (2 * l0->step_size))
            fprintf(stderr, "ebm: note: %s was trained at sampler temperature %g, the first run at %g: the chain samples "
                            "exp(-sum w E / %g)\n", o->compose[i], li->noise * li->noise / (2 * li->step_size),
                    l0->noise * l0->noise / (2 * l0->step_size), l0->noise * l0->noise / (2 * l0->step_size));
    }
    run_t *r = &c.r[0];
    int n = o->n > 0 ? o->n : (r->toy ? 1000 : 64);
    char path[1200];
    snprintf(path, sizeof path, "%s", o->out ? o->out : "");
    if (!o->out) snprintf(path, sizeof path, "%s/%s.png", r->dir, r->toy ? "composed-heatmap" : "composed");
    ebm_langevin_cfg_t lc = r->lc;
    lc.steps = o->steps >= 0 ? o->steps : (int)ebm_config_int(r->cfg, "eval", "steps");
    /* draw_samples' stream: one run composed alone samples exactly as `ebm sample RUN --init noise` */
    ebm_rng_t rng = ebm_rng_make(o->seed ? o->seed : r->seed, 0x53414d50ull);   /* "SAMP" */
    /* the first run's transitions between Langevin segments (improved CD's augmentation), as `ebm sample RUN` */
    int every = r->m->transition_every ? r->m->transition_every(r) : -1, steps = lc.steps;
    every = every < 0 || !r->m->transition ? 0 : o->augment_every >= 0 ? o->augment_every : every;
    ebm_scope_begin(ctx);
    ebm_tensor_t *x = run_langevin_transitions(r, compose_energy, &c, run_noise(r, n, &rng), &lc, every, &rng);
    if (!x) ERR("sampling: %s\n", ebm_ctx_error(ctx));
    else if (is_npy(path) ? write_npy(r, path, x) : run_write_samples(r, path, x)) {
        fprintf(stderr, "ebm sample: %d chains of %d Langevin steps on %s", n, lc.steps, c.or ? "-logsumexp(" : "");
        for (int i = 0; i < c.n; i++) {
            const char *spec = o->compose[i], *colon = strstr(spec, ":class="), *wt = strstr(spec, ":weight=");
            int len = (int)strlen(spec);
            if (colon && colon - spec < len) len = (int)(colon - spec);
            if (wt && wt - spec < len) len = (int)(wt - spec);
            char k[24] = "";
            if (c.cls[i].k >= 0) snprintf(k, sizeof k, ", class %d", c.cls[i].k);
            fprintf(stderr, "%s%s%g E(%.*s%s)", i ? (c.or ? ", " : " + ") : "", c.or ? "-" : "", c.w[i], len, spec, k);
        }
        fprintf(stderr, "%s", c.or ? ")" : "");
        if (every > 0 && every < steps) fprintf(stderr, ", the first run's augmentation transition every %d steps", every);
        fprintf(stderr, "\n");
        printf("%s\n", path);
        rc = 0;
    }
    ebm_scope_end(ctx);
done:
    for (int i = 0; i < c.n; i++) {
        run_free(&c.r[i]);
        ebm_config_free(c.cfg[i]);
    }
    ebm_ctx_free(ctx);
    return rc;
}

/* --class all: n samples of every class on E(x, k), a row per class (images) or one heat map (2-D) */
static int sample_classes(run_t *r, const ebm_sample_opts_t *o, int n, const char *path) {
    int K = run_classes(r), ok = 1;
    float *h = malloc(sizeof(float) * (size_t)K * n * r->numel);
    char err[1024];
    for (int k = 0; h && ok && k < K; k++) {
        ebm_sample_opts_t oc = *o;
        oc.label = k;
        ebm_scope_begin(r->ctx);
        ebm_tensor_t *x = draw_samples(r, &oc, n, NULL, 1 + k * 4096);
        ok = x && ebm_tensor_read(x, h + (size_t)k * n * r->numel) == EBM_OK;
        ebm_scope_end(r->ctx);
    }
    if (!h) ERR("out of host memory\n");
    if (h && ok && r->toy) ok = run_write_heatmap(r, path, h, K * n);
    else if (h && ok && r->ndim == 3 && (r->shape[0] == 1 || r->shape[0] == 3)) {
        ok = ebm_png_grid(path, h, K * n, r->shape[0], r->shape[1], r->shape[2], n, err, sizeof err) == EBM_OK;
        if (!ok) ERR("%s\n", err);
    }
    if (h && ok) printf("%s\n", path);
    free(h);
    return h && ok ? 0 : 1;
}

int ebm_sample(const char *checkpoint, const char *device, const ebm_sample_opts_t *o) {
    if (o->n_compose > 0) return sample_composed(device, o);
    ebm_config_t *cfg = ebm_train_config_new();
    run_t r = {0};
    int rc = 1;
    if (cfg && open_checkpoint_with(&r, cfg, checkpoint, device, o->raw, o->sets, o->n_sets)) {
        int n = o->n > 0 ? o->n : (r.toy ? 1000 : 64);
        char path[1200], cls[32];
        snprintf(path, sizeof path, "%s", o->out ? o->out : "");
        if (!o->out) snprintf(path, sizeof path, "%s/%s.png", r.dir, r.toy ? "sample-heatmap" : "samples");
        snprintf(cls, sizeof cls, o->label < 0 ? "all" : "%d", o->label);
        if (o->conditional && (!run_classes(&r) || o->label >= run_classes(&r))) {
            if (!run_classes(&r)) ERR("--class %s: %s is a run.method = %s run, whose energy has no classes\n", cls, checkpoint, r.m->name);
            else ERR("--class %s: %s has classes 0 .. %d\n", cls, checkpoint, run_classes(&r) - 1);
            goto sample_done;
        }
        if (o->conditional && o->label < 0) {   /* --class all */
            rc = sample_classes(&r, o, o->n > 0 ? o->n : 8, path);
            goto sample_done;
        }
        ebm_scope_begin(r.ctx);
        double accept = NAN;
        ebm_tensor_t *x = draw_samples(&r, o, n, &accept, 0);
        if (x && (is_npy(path) ? write_npy(&r, path, x) : run_write_samples(&r, path, x))) {
            printf("%s\n", path);
            rc = 0;
        }
        ebm_scope_end(r.ctx);
    }
sample_done:
    run_free(&r);
    ebm_config_free(cfg);
    return rc;
}

/* the run's [data] binarize, applied to the data it scores and evaluates on too */
static int run_binarize(const run_t *r) {
    int b = EBM_BINARIZE_NONE;
    ebm_data_binarize_of(ebm_config_str(r->cfg, "data", "binarize"), &b);
    return b;
}

/* E and (g2 not NULL) |grad_x E|^2 of n host rows of the run's sample shape; 0 after printing why */
static int score_rows(run_t *r, const float *xh, int n, float *e, float *g2) {
    enum { CHUNK = 256 };
    for (int i0 = 0; i0 < n; i0 += CHUNK) {
        int m = n - i0 < CHUNK ? n - i0 : CHUNK;
        int shape[4] = {m, r->shape[0], r->shape[1], r->shape[2]};
        ebm_scope_begin(r->ctx);
        ebm_tensor_t *x = ebm_tensor_from_host(r->ctx, r->ndim + 1, shape, xh + r->numel * i0), *gx = NULL;
        int was_grad = ebm_grad_set_enabled(r->ctx, g2 != NULL);
        if (g2) ebm_tensor_set_requires_grad(x, 1);
        int was = ebm_params_set_frozen(r->ctx, 1);
        ebm_tensor_t *en = run_energy(r, x), *tot = g2 ? ebm_sum_all(en) : en;
        ebm_params_set_frozen(r->ctx, was);
        int ok = tot && (!g2 || ebm_grad(&tot, 1, NULL, &x, 1, &gx, 0) == EBM_OK);
        ebm_tensor_t *gs = ok && g2 ? ebm_chain_sum(ebm_square(gx)) : NULL;
        ok = ok && ebm_tensor_read(en, e + i0) == EBM_OK && (!g2 || (gs && ebm_tensor_read(gs, g2 + i0) == EBM_OK));
        ebm_grad_set_enabled(r->ctx, was_grad);
        ebm_scope_end(r->ctx);
        if (!ok) {
            ERR("scoring: %s\n", ebm_ctx_error(r->ctx));
            return 0;
        }
    }
    return 1;
}

int ebm_score(const char *checkpoint, const char *data, const char *device, const char *out, int raw, int limit) {
    ebm_config_t *cfg = ebm_train_config_new();
    run_t r = {0};
    ebm_dataset_t ds = {0};
    int rc = 1;
    char err[1024];
    FILE *f = NULL;
    char *csv = NULL;
    size_t csv_len = 0;
    float *e = NULL, *g2 = NULL;
    if (!cfg || !open_checkpoint(&r, cfg, checkpoint, device, raw)) goto done;
    ebm_data_opts_t dopts = {.size = r.ndim == 3 ? r.shape[1] : 0, .channels = r.ndim == 3 ? r.shape[0] : 0, .toy_n = 1000,
                             .limit = limit, .binarize = run_binarize(&r)};
    if (ebm_dataset_open(&ds, data, &dopts, err, sizeof err) != EBM_OK) {
        ERR("%s\n", err);
        goto done;
    }
    if (ds.ndim != r.ndim || memcmp(ds.shape, r.shape, sizeof(int) * r.ndim)) {
        char a[64], b[64];
        ERR("%s: examples have shape (%s), the model expects (%s)\n", data, run_shape_string(ds.ndim, ds.shape, a, sizeof a),
            run_shape_string(r.ndim, r.shape, b, sizeof b));
        goto done;
    }
    e = malloc(sizeof(float) * ds.n), g2 = malloc(sizeof(float) * ds.n);
    if (!e || !g2 || !score_rows(&r, ds.x, ds.n, e, g2)) goto done;   /* before the file is created */
    /* the whole table in memory, then one atomic write (a file) or one checked write (stdout): a
     * failed write is an error, and never leaves half a file */
    f = open_memstream(&csv, &csv_len);
    if (!f) {
        ERR("out of host memory\n");
        goto done;
    }
    fprintf(f, "index,energy,grad_sqnorm\n");
    for (int i = 0; i < ds.n; i++) fprintf(f, "%d,%.9g,%.9g\n", i, e[i], g2[i]);   /* 9 digits: every float32 reads back exactly */
    if (fclose(f) != 0) {
        f = NULL;
        ERR("out of host memory\n");
        goto done;
    }
    f = NULL;
    if (out && ebm_write_atomic(out, csv, csv_len, err, sizeof err) != EBM_OK) ERR("%s\n", err);
    else if (!out && (fwrite(csv, 1, csv_len, stdout) != csv_len || fflush(stdout) != 0)) ERR("writing the scores to stdout: %s\n", strerror(errno));
    else rc = 0;
done:
    free(csv);
    free(e), free(g2);
    ebm_dataset_free(&ds);
    run_free(&r);
    ebm_config_free(cfg);
    return rc;
}

/* a classifier-energy run (network outputs > 1): the largest softmax probability of each of n host rows */
static int msp_rows(run_t *r, const float *xh, int n, float *msp) {
    int K = r->n_out;
    float *lg;
    if (!run_outputs(r, xh, n, &lg)) return 0;
    for (int i = 0; i < n; i++) {   /* 1 / sum_k exp(f_k - max f) */
        const float *v = lg + (size_t)i * K;
        double mx = v[run_argmax_row(v, K)], z = 0;
        for (int k = 0; k < K; k++) z += exp((double)v[k] - mx);
        msp[i] = (float)(1 / z);
    }
    free(lg);
    return 1;
}

/* MEG's anomaly protocol (data.h): the run trained on the training split of [data] anomaly_class; score
 * the test split (20% of the normal classes + every held-out example) by E(x) and by |grad_x E|^2 (high =
 * anomalous) and report the AUPRC of each (the held-out class is the positive class) */
static int eval_anomaly(run_t *r, const ebm_sample_opts_t *o, const char *checkpoint) {
    const char *src = ebm_config_str(r->cfg, "data", "source");
    int k = (int)ebm_config_int(r->cfg, "data", "anomaly_class"), rc = 1;
    ebm_data_opts_t dopts = {.size = r->shape[1], .channels = r->shape[0], .limit = o->n > 0 ? o->n : 0,
                             .anomaly = EBM_ANOMALY_TEST, .anomaly_class = k, .binarize = run_binarize(r)};
    ebm_dataset_t ds;
    char err[1024];
    if (ebm_dataset_open(&ds, src, &dopts, err, sizeof err) != EBM_OK) {
        ERR("%s\n", err);
        return 1;
    }
    float *e = malloc(sizeof(float) * ds.n), *g2 = malloc(sizeof(float) * ds.n);
    double *se = malloc(sizeof(double) * ds.n), *sg = malloc(sizeof(double) * ds.n);
    int *pos = malloc(sizeof(int) * ds.n), P = 0;
    if (e && g2 && se && sg && pos && score_rows(r, ds.x, ds.n, e, g2)) {
        for (int i = 0; i < ds.n; i++) {
            se[i] = e[i], sg[i] = g2[i];
            P += pos[i] = ds.y[i] == k;
        }
        double ae = ebm_auprc(se, pos, ds.n), ag = ebm_auprc(sg, pos, ds.n), re = ebm_auroc(se, pos, ds.n), rg = ebm_auroc(sg, pos, ds.n);
        cJSON *row = run_eval_row(r, checkpoint);
        cJSON_AddNumberToObject(row, "anomaly_class", k);
        cJSON_AddNumberToObject(row, "examples", ds.n);
        cJSON_AddNumberToObject(row, "anomalies", P);
        run_json_num(row, "auprc_energy", ae), run_json_num(row, "auprc_grad", ag);
        run_json_num(row, "auroc_energy", re), run_json_num(row, "auroc_grad", rg);
        run_json_num(row, "auprc_chance", (double)P / ds.n);
        fprintf(stderr, "ebm eval: class %d held out, %d test examples (%d anomalies): AUPRC %.4f by E(x), %.4f by |grad E|^2 (chance %.4f)\n",
                k, ds.n, P, ae, ag, (double)P / ds.n);
        rc = rundir_metrics_append(r->dir, row, stdout) ? 0 : 1;
    }
    free(e), free(g2), free(se), free(sg), free(pos);
    ebm_dataset_free(&ds);
    return rc;
}

/* out-of-distribution detection by -E (improved CD's protocol): the model's test images (Fashion-MNIST:
 * its t10k; an anomaly run: the normal test examples; else the training source) against uniform noise,
 * the same images upside down and inverted (1 - x), and o->ood_folder; AUROC with in-distribution as
 * the positive class */
static int eval_ood(run_t *r, const ebm_sample_opts_t *o, const char *checkpoint) {
    const char *src = ebm_config_str(r->cfg, "data", "source");
    int k = (int)ebm_config_int(r->cfg, "data", "anomaly_class");
    char in[700];   /* what the in-distribution images are, for the report */
    if (k >= 0) snprintf(in, sizeof in, "%s, normal test examples of the anomaly split (class %d held out)", src, k);
    else snprintf(in, sizeof in, "%s", run_test_source(r));
    ebm_data_opts_t dopts = {.size = r->shape[1], .channels = r->shape[0], .anomaly = k >= 0 ? EBM_ANOMALY_TEST : 0, .anomaly_class = k,
                             .binarize = run_binarize(r)};
    ebm_dataset_t ds, fold = {0};
    char err[1024];
    if (r->ndim != 3) {
        ERR("--ood: %s models vectors, not images\n", checkpoint);
        return 1;
    }
    if (ebm_dataset_open(&ds, k >= 0 ? src : run_test_source(r), &dopts, err, sizeof err) != EBM_OK) {
        ERR("%s\n", err);
        return 1;
    }
    if (o->ood_folder) {
        ebm_data_opts_t fo = {.size = r->shape[1], .channels = r->shape[0], .binarize = run_binarize(r)};
        if (ebm_dataset_open(&fold, o->ood_folder, &fo, err, sizeof err) != EBM_OK) {
            ERR("%s\n", err);
            ebm_dataset_free(&ds);
            return 1;
        }
    }
    /* in-distribution rows: the normal ones, at most o->n (default 10 000) */
    int want = o->n > 0 ? o->n : 10000, n = 0;
    size_t D = r->numel;
    for (int i = 0; i < ds.n && n < want; i++)
        if (k < 0 || ds.y[i] != k) memmove(ds.x + D * n++, ds.x + D * i, sizeof(float) * D);
    int nf = fold.n < want ? fold.n : want, most = n > nf ? n : nf, H = r->shape[1], W = r->shape[2], rc = 1;
    /* s, pos: the n in-distribution scores (positives) first, then one OOD set's at a time */
    float *x = malloc(sizeof(float) * D * most), *e_in = malloc(sizeof(float) * n), *e_out = malloc(sizeof(float) * most);
    double *s = malloc(sizeof(double) * (n + most));
    int *pos = malloc(sizeof(int) * (n + most)), ok = x && e_in && e_out && s && pos && n > 0 && score_rows(r, ds.x, n, e_in, NULL);
    /* a classifier's energy (JEM): also by its largest softmax probability, sp as s */
    int msp = r->n_out > 1;
    float *p_in = msp ? malloc(sizeof(float) * n) : NULL, *p_out = msp ? malloc(sizeof(float) * most) : NULL;
    double *sp = msp ? malloc(sizeof(double) * (n + most)) : NULL;
    ok = ok && (!msp || (p_in && p_out && sp && msp_rows(r, ds.x, n, p_in)));
    const char *names[] = {"uniform", "vflip", "inverted", "folder"};
    double auc[4] = {NAN, NAN, NAN, NAN}, auc_msp[4] = {NAN, NAN, NAN, NAN}, mean_out[4] = {NAN, NAN, NAN, NAN}, mean_in = 0;
    for (int i = 0; ok && i < n; i++) mean_in += e_in[i] / (double)n, s[i] = -(double)e_in[i], pos[i] = 1;
    for (int i = 0; ok && msp && i < n; i++) sp[i] = p_in[i];
    ebm_rng_t rng = ebm_rng_make(r->seed, 0x4f4f44ull);   /* "OOD" */
    for (int set = 0; ok && set < (o->ood_folder ? 4 : 3); set++) {
        int m = set == 3 ? nf : n;
        if (set == 0) ebm_rng_host_uniform(&rng, x, D * m);
        for (int i = 0; set == 1 && i < m; i++)   /* rows reversed in every channel */
            for (int c = 0; c < r->shape[0]; c++)
                for (int y = 0; y < H; y++)
                    memcpy(x + D * i + (size_t)(c * H + y) * W, ds.x + D * i + (size_t)(c * H + H - 1 - y) * W, sizeof(float) * W);
        for (size_t j = 0; set == 2 && j < D * m; j++) x[j] = 1 - ds.x[j];
        if (set == 3) memcpy(x, fold.x, sizeof(float) * D * m);
        if (!(ok = score_rows(r, x, m, e_out, NULL))) break;
        mean_out[set] = 0;
        for (int i = 0; i < m; i++) s[n + i] = -(double)e_out[i], pos[n + i] = 0, mean_out[set] += e_out[i] / (double)m;
        auc[set] = ebm_auroc(s, pos, n + m);
        if (msp && !(ok = msp_rows(r, x, m, p_out))) break;
        for (int i = 0; msp && i < m; i++) sp[n + i] = p_out[i];
        if (msp) auc_msp[set] = ebm_auroc(sp, pos, n + m);
    }
    if (ok) {
        cJSON *row = run_eval_row(r, checkpoint);
        cJSON_AddStringToObject(row, "ood_in", in);
        cJSON_AddNumberToObject(row, "examples", n);
        run_json_num(row, "mean_energy_in", mean_in);
        if (r->m->eval_row) r->m->eval_row(r, row);
        fprintf(stderr, "ebm eval: OOD, AUROC of -E with %d examples of %s (mean E %.4g) as in-distribution:\n", n, in, mean_in);
        for (int set = 0; set < 4; set++) {
            if (isnan(auc[set])) continue;
            char key[64];
            snprintf(key, sizeof key, "auroc_%s", names[set]);
            run_json_num(row, key, auc[set]);
            snprintf(key, sizeof key, "mean_energy_%s", names[set]);
            run_json_num(row, key, mean_out[set]);
            fprintf(stderr, "  vs %-9s %.4f  (mean E %.4g%s%s)", names[set], auc[set], mean_out[set], set == 3 ? ", " : "",
                    set == 3 ? o->ood_folder : "");
            if (msp) {
                snprintf(key, sizeof key, "auroc_msp_%s", names[set]);
                run_json_num(row, key, auc_msp[set]);
                fprintf(stderr, "  by max softmax %.4f", auc_msp[set]);
            }
            fprintf(stderr, "\n");
        }
        if (o->ood_folder) {
            cJSON_AddStringToObject(row, "ood_folder", o->ood_folder);
            cJSON_AddNumberToObject(row, "folder_examples", nf);
        }
        rc = rundir_metrics_append(r->dir, row, stdout) ? 0 : 1;
    } else if (n == 0)
        ERR("%s: no in-distribution examples\n", in);
    free(x), free(e_in), free(e_out), free(s), free(pos), free(p_in), free(p_out), free(sp);
    ebm_dataset_free(&ds);
    ebm_dataset_free(&fold);
    return rc;
}

/* MEG's mode count: n samples in batches of 1000, every channel classified on its own; a mode is the
 * tuple of channel classes (10^C of them); reports the modes hit and KL(sample mode histogram || uniform) */
/* Opens a classify run to judge r's samples with: one-channel images of r's size (each of r's at most 4
 * channels is one image); 0 after printing why. */
static int open_classifier(run_t *cl, ebm_config_t *ccfg, const run_t *r, const char *cpath, const char *device) {
    if (!open_checkpoint(cl, ccfg, cpath, device, 0)) return 0;
    if (cl->n_out < 2 || cl->ndim != 3 || cl->shape[0] != 1 || cl->shape[1] != r->shape[1] || cl->shape[2] != r->shape[2] ||
        r->shape[0] > 4) {
        ERR("%s: need a one-channel classifier run (as configs/fmnist-classifier.ini trains) of the samples' %dx%d images (at most 4 channels)\n", cpath,
            r->shape[1], r->shape[2]);
        return 0;
    }
    return 1;
}

/* n real examples of the run's held-out source (run_test_source: Fashion-MNIST's test images; stacked
 * Fashion-MNIST: triples drawn with the run's seed) in a fixed random order (Philox(42, "REAL")):
 * *x (n * numel floats) and *have (how many there are, n at most); 0 after printing why */
static int real_examples(const run_t *r, int n, float **x, int *have) {
    const char *src = run_test_source(r);
    ebm_dataset_t ds;
    char err[1024];
    ebm_data_opts_t dopts = {.size = r->shape[1], .channels = r->shape[0], .seed = r->seed};
    if (ebm_dataset_open(&ds, src, &dopts, err, sizeof err) != EBM_OK) {
        ERR("the real images to compare with: %s\n", err);
        return 0;
    }
    if (ds.ndim != 3 || ds.shape[0] != r->shape[0] || ds.shape[1] != r->shape[1] || ds.shape[2] != r->shape[2]) {
        ERR("%s: its images are not of the run's shape\n", src);
        ebm_dataset_free(&ds);
        return 0;
    }
    *have = ds.n < n ? ds.n : n;
    int *perm = malloc(sizeof(int) * ds.n);
    *x = malloc(sizeof(float) * (size_t)*have * r->numel);
    int ok = perm && *x;
    if (ok) {
        ebm_rng_t rng = ebm_rng_make(42, 0x5245414cull);   /* "REAL" */
        ebm_rng_host_permutation(&rng, perm, ds.n);
        for (int i = 0; i < *have; i++) memcpy(*x + (size_t)i * r->numel, ds.x + (size_t)perm[i] * r->numel, sizeof(float) * r->numel);
    } else {
        ERR("out of host memory\n");
        free(*x), *x = NULL;
    }
    free(perm);
    ebm_dataset_free(&ds);
    return ok;
}

/* n samples of r as host rows, drawn 1000 at a time (chunk k: stream k); NULL after printing why */
static float *sample_rows(run_t *r, const ebm_sample_opts_t *o, int n) {
    float *h = malloc(sizeof(float) * (size_t)n * r->numel);
    int ok = h != NULL;
    for (int i0 = 0, chunk = 1; ok && i0 < n; i0 += 1000, chunk++) {
        int m = n - i0 < 1000 ? n - i0 : 1000;
        ebm_scope_begin(r->ctx);
        ebm_tensor_t *x = draw_samples(r, o, m, NULL, chunk);
        ok = x && ebm_tensor_read(x, h + (size_t)i0 * r->numel) == EBM_OK;
        ebm_scope_end(r->ctx);
    }
    if (!ok) {
        if (h) ERR("sampling: %s\n", ebm_ctx_error(r->ctx));
        else ERR("out of host memory for %d samples\n", n);
        free(h);
        return NULL;
    }
    return h;
}

/* modes (tuples of per-channel classes) of n images of C channels: covered and KL(histogram || uniform) */
static int mode_stats(run_t *cl, const float *x, int n, int C, int *covered, double *kl) {
    int classes = cl->n_out, K = 1;
    for (int c = 0; c < C; c++) K *= classes;
    long *count = calloc((size_t)K, sizeof(long));
    int *pred = malloc(sizeof(int) * (size_t)n * C), ok = count && pred && run_argmax(cl, x, n * C, pred);   /* channel c of i: image i*C + c */
    for (int i = 0; ok && i < n; i++) {
        int mode = 0;
        for (int c = 0; c < C; c++) mode = mode * classes + pred[i * C + c];
        count[mode]++;
    }
    *covered = 0, *kl = 0;
    for (int k = 0; ok && k < K; k++)
        if (count[k] > 0) {
            double p = (double)count[k] / n;
            (*covered)++;
            *kl += p * log(p * K);
        }
    if (!count || !pred) ERR("out of host memory\n");
    free(count), free(pred);
    return ok;
}

static int eval_modes(run_t *r, const ebm_sample_opts_t *o, const char *checkpoint, const char *cpath, const char *device) {
    ebm_config_t *ccfg = ebm_train_config_new();
    run_t cl = {0};
    int rc = 1, C = r->shape[0];
    float *h = NULL, *real = NULL;
    if (!ccfg || !open_classifier(&cl, ccfg, r, cpath, device)) goto done;
    int n = o->n > 0 ? o->n : (C == 3 ? 26000 : 10000), K = 1, n_real = 0, covered, covered_real;
    for (int c = 0; c < C; c++) K *= cl.n_out;
    double kl, kl_real;
    if (!(h = sample_rows(r, o, n)) || !mode_stats(&cl, h, n, C, &covered, &kl)) goto done;
    /* the floor: real images through the same classifier, as many as there are samples (if the source has them) */
    if (!real_examples(r, n, &real, &n_real) || !mode_stats(&cl, real, n_real, C, &covered_real, &kl_real)) goto done;
    cJSON *row = run_eval_row(r, checkpoint);
    cJSON_AddStringToObject(row, "classifier", cpath);
    cJSON_AddNumberToObject(row, "samples", n);
    cJSON_AddNumberToObject(row, "modes", K);
    cJSON_AddNumberToObject(row, "modes_covered", covered);
    run_json_num(row, "kl_to_uniform", kl);
    cJSON_AddStringToObject(row, "real_source", run_test_source(r));
    cJSON_AddNumberToObject(row, "real_examples", n_real);
    cJSON_AddNumberToObject(row, "modes_covered_real", covered_real);
    run_json_num(row, "kl_to_uniform_real", kl_real);
    fprintf(stderr, "ebm eval: %d of %d modes covered by %d samples, KL(samples || uniform) = %.4f\n", covered, K, n, kl);
    fprintf(stderr, "ebm eval: the data's floor through the same classifier: %d real images of %s cover %d modes, KL %.4f\n", n_real,
            run_test_source(r), covered_real, kl_real);
    rc = rundir_metrics_append(r->dir, row, stdout) ? 0 : 1;
done:
    free(h), free(real);
    run_free(&cl);
    ebm_config_free(ccfg);
    return rc;
}

/* classifier features of n images of C channels: each channel through the classifier, concatenated
 * (n x C*F); NULL after printing why */
static double *image_features(run_t *cl, const float *x, int n, int C, int *dim) {
    double *f1;
    int F;
    if (!run_features(cl, x, n * C, &f1, &F)) return NULL;   /* rows i*C + c */
    *dim = C * F;   /* row i of n x C*F is rows i*C .. i*C+C-1 of n*C x F: the same numbers */
    return f1;
}

/* Fréchet distance and KID on a classifier's penultimate features: samples vs real images, and the
 * data's floor, two disjoint sets of real images */
static int eval_fd(run_t *r, const ebm_sample_opts_t *o, const char *checkpoint, const char *cpath, const char *device) {
    ebm_config_t *ccfg = ebm_train_config_new();
    run_t cl = {0};
    int rc = 1, C = r->shape[0], n = o->n > 0 ? o->n : 5000, n_real = 0, d = 0, d2 = 0;
    float *h = NULL, *real = NULL;
    double *fs = NULL, *fr = NULL;
    char err[512] = "";
    if (!ccfg || !open_classifier(&cl, ccfg, r, cpath, device)) goto done;
    if (!real_examples(r, 2 * n, &real, &n_real)) goto done;
    if (n_real < 2 * n) {
        if (n_real / 2 < 2) {
            ERR("%s has %d examples: too few for two sets to compare\n", run_test_source(r), n_real);
            goto done;
        }
        fprintf(stderr, "ebm eval: %s has %d examples, so the sets are %d examples each (not %d)\n", run_test_source(r), n_real, n_real / 2, n);
        n = n_real / 2;
    }
    if (!(h = sample_rows(r, o, n)) || !(fs = image_features(&cl, h, n, C, &d)) || !(fr = image_features(&cl, real, 2 * n, C, &d2))) goto done;
    if (d >= n)
        fprintf(stderr, "ebm eval: %d features from %d examples: the covariances are singular (FD is still defined; more --n steadies it)\n", d, n);
    const double *ra = fr, *rb = fr + (size_t)n * d;   /* the real sets: the first n, the next n */
    double fd = ebm_frechet_distance(fs, n, ra, n, d, err, sizeof err), fd0 = isfinite(fd) ? ebm_frechet_distance(rb, n, ra, n, d, err, sizeof err) : NAN;
    if (!isfinite(fd) || !isfinite(fd0)) {
        ERR("Fréchet distance: %s\n", err[0] ? err : "not finite (non-finite features: a diverged sample?)");
        goto done;
    }
    double kid = ebm_kid(fs, n, ra, n, d), kid0 = ebm_kid(rb, n, ra, n, d);
    cJSON *row = run_eval_row(r, checkpoint);
    cJSON_AddStringToObject(row, "classifier", cpath);
    cJSON_AddStringToObject(row, "features", "penultimate layer of the classifier (not Inception: not comparable with papers' FID/KID)");
    cJSON_AddNumberToObject(row, "feature_dim", d);
    cJSON_AddNumberToObject(row, "samples", n);
    cJSON_AddStringToObject(row, "real_source", run_test_source(r));
    run_json_num(row, "fd", fd);
    run_json_num(row, "fd_floor", fd0);
    run_json_num(row, "kid", kid);
    run_json_num(row, "kid_floor", kid0);
    fprintf(stderr,
            "ebm eval: on the %d penultimate features of %s (NOT the Inception FID/KID of papers):\n"
            "  FD  %.4f   (data floor %.4f: two disjoint sets of %d real images of %s)\n"
            "  KID %.6f (data floor %.6f)\n",
            d, cpath, fd, fd0, n, run_test_source(r), kid, kid0);
    rc = rundir_metrics_append(r->dir, row, stdout) ? 0 : 1;
done:
    free(h), free(real), free(fs), free(fr);
    run_free(&cl);
    ebm_config_free(ccfg);
    return rc;
}

/* Class-conditional samples of a run with classes (run_classes), judged by a classifier run of
 * the same data shape and classes: o->n (default 100) samples of each class k drawn on E(x, k), the
 * fraction the classifier assigns to k, per class and overall */
static int eval_conditional(run_t *r, const ebm_sample_opts_t *o, const char *checkpoint, const char *cpath, const char *device) {
    ebm_config_t *ccfg = ebm_train_config_new();
    run_t cl = {0};
    int rc = 1, K = run_classes(r);
    if (!ccfg || !open_checkpoint(&cl, ccfg, cpath, device, 0)) goto done;
    if (cl.n_out != K || cl.ndim != r->ndim || memcmp(cl.shape, r->shape, sizeof(int) * r->ndim)) {
        char a[64];
        ERR("%s: need a classifier run (e.g. run.method = classify) of %d classes on the model's examples of shape (%s)\n", cpath, K,
            run_shape_string(r->ndim, r->shape, a, sizeof a));
        goto done;
    }
    enum { CHUNK = 500 };
    int n = o->n > 0 ? o->n : 100, *hits = calloc((size_t)K, sizeof(int)), *pred = malloc(sizeof(int) * CHUNK);
    float *h = malloc(sizeof(float) * CHUNK * r->numel);
    int ok = hits && pred && h, total = 0;
    for (int k = 0; ok && k < K; k++)
        for (int i0 = 0, chunk = 0; ok && i0 < n; i0 += CHUNK, chunk++) {
            int m = n - i0 < CHUNK ? n - i0 : CHUNK;
            ebm_sample_opts_t oc = *o;
            oc.conditional = 1, oc.label = k;
            ebm_scope_begin(r->ctx);
            ebm_tensor_t *x = draw_samples(r, &oc, m, NULL, 1 + k * 4096 + chunk);
            ok = x && ebm_tensor_read(x, h) == EBM_OK;
            ebm_scope_end(r->ctx);
            ok = ok && run_argmax(&cl, h, m, pred);
            for (int i = 0; ok && i < m; i++) hits[k] += pred[i] == k;
        }
    if (ok) {
        cJSON *row = run_eval_row(r, checkpoint), *per = cJSON_CreateArray();
        fprintf(stderr, "ebm eval: class-conditional samples, %d per class, classified by %s as their class:", n, cpath);
        for (int k = 0; k < K; k++) {
            total += hits[k];
            cJSON_AddItemToArray(per, cJSON_CreateNumber(round((double)hits[k] / n * 1e6) / 1e6));
            fprintf(stderr, " %d:%.0f%%", k, 100.0 * hits[k] / n);
        }
        fprintf(stderr, "; overall %.2f%%\n", 100.0 * total / ((double)n * K));
        cJSON_AddStringToObject(row, "classifier", cpath);
        cJSON_AddNumberToObject(row, "samples_per_class", n);
        run_json_num(row, "conditional_accuracy", (double)total / ((double)n * K));
        cJSON_AddItemToObject(row, "class_accuracy", per);
        rc = rundir_metrics_append(r->dir, row, stdout) ? 0 : 1;
    }
    free(hits), free(pred), free(h);
done:
    run_free(&cl);
    ebm_config_free(ccfg);
    return rc;
}

int ebm_eval(const char *checkpoint, const char *device, const ebm_sample_opts_t *o, int min_per_mode) {
    ebm_config_t *cfg = ebm_train_config_new();
    run_t r = {0};
    int rc = 1;
    if (!cfg || !open_checkpoint_with(&r, cfg, checkpoint, device, o->raw, o->sets, o->n_sets)) goto done;
    if (r.m->eval && (rc = r.m->eval(&r, o, checkpoint)) >= 0) goto done;   /* the method's own (a classifier's accuracy) */
    rc = 1;
    if (o->classifier && run_classes(&r) > 0 && !o->fd) {
        rc = eval_conditional(&r, o, checkpoint, o->classifier, device);
        goto done;
    }
    if (o->fd && !o->classifier) {
        ERR("--fd needs --classifier RUN: the features are a classify run's penultimate layer\n");
        goto done;
    }
    if (o->classifier) {
        if (r.ndim != 3) {
            ERR("--classifier: %s models vectors, not images\n", checkpoint);
            goto done;
        }
        rc = o->fd ? eval_fd(&r, o, checkpoint, o->classifier, device) : eval_modes(&r, o, checkpoint, o->classifier, device);
        goto done;
    }
    if (o->ood || o->ood_folder) {
        rc = eval_ood(&r, o, checkpoint);
        goto done;
    }
    if (ebm_config_int(cfg, "data", "anomaly_class") >= 0) {
        rc = eval_anomaly(&r, o, checkpoint);
        goto done;
    }
    if (min_per_mode <= 0) min_per_mode = (int)ebm_config_int(cfg, "eval", "min_per_mode");
    int n = o->n > 0 ? o->n : (int)ebm_config_int(cfg, "eval", "n");
    float centres[2 * 64], sigma = 0;
    int K = r.toy ? ebm_toy_modes(r.toy_name, centres, 64, &sigma) : 0;
    float *h = malloc(sizeof(float) * n * r.numel);
    ebm_scope_begin(r.ctx);
    double accept = NAN;
    ebm_tensor_t *x = draw_samples(&r, o, n, &accept, 0);
    int ok = h && x && ebm_tensor_read(x, h) == EBM_OK;
    double mean_e = NAN;
    if (ok) {
        int was = ebm_grad_set_enabled(r.ctx, 0);
        ebm_tensor_t *m = ebm_mean_all(run_energy(&r, x));
        float mv;
        if (m && ebm_tensor_read(m, &mv) == EBM_OK) mean_e = mv;
        ebm_grad_set_enabled(r.ctx, was);
    }
    ebm_scope_end(r.ctx);
    if (!ok) {
        free(h);
        goto done;
    }
    cJSON *row = run_eval_row(&r, checkpoint);
    cJSON_AddNumberToObject(row, "samples", n);
    run_json_num(row, "mean_energy", mean_e);
    if (isfinite(accept)) run_json_num(row, "mala_accept", accept);
    if (r.m->eval_row) r.m->eval_row(&r, row);
    if (K > 0) {
        int *count = calloc((size_t)K, sizeof(int)), hq = 0, covered = 0;
        for (int i = 0; i < n && count; i++) {
            int best = -1;
            float bd = INFINITY;
            for (int k = 0; k < K; k++) {
                float dx = h[2 * i] - centres[2 * k], dy = h[2 * i + 1] - centres[2 * k + 1], d = sqrtf(dx * dx + dy * dy);
                if (d < bd) bd = d, best = k;
            }
            if (bd <= 3 * sigma) hq++, count[best]++;
        }
        for (int k = 0; k < K; k++) covered += count && count[k] >= min_per_mode;
        free(count);
        cJSON_AddStringToObject(row, "toy", r.toy_name);
        cJSON_AddNumberToObject(row, "modes", K);
        cJSON_AddNumberToObject(row, "modes_covered", covered);
        run_json_num(row, "high_quality", (double)hq / n);
        cJSON_AddNumberToObject(row, "min_per_mode", min_per_mode);
        fprintf(stderr, "ebm eval: %s: %d of %d modes covered (>= %d samples within 3 sigma), %.1f%% high-quality samples\n",
                r.toy_name, covered, K, min_per_mode, 100.0 * hq / n);
    }
    ok = rundir_metrics_append(r.dir, row, stdout);
    if (ok && r.toy) {
        char path[1200];
        snprintf(path, sizeof path, "%s/eval-heatmap.png", r.dir);
        ebm_scope_begin(r.ctx);
        ok = run_write_heatmap(&r, path, h, n);
        ebm_scope_end(r.ctx);
    }
    free(h);
    rc = ok ? 0 : 1;
done:
    run_free(&r);
    ebm_config_free(cfg);
    return rc;
}

