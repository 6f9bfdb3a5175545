/* commands.c — ebm sample, score and eval on a checkpoint (train.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data.h"
#include <cjson/cJSON.h>
#include "metrics.h"
#include "run.h"
#include "train.h"

/* what sample/eval may change of a trained run's config: how it samples, not what it is */
static int settable(const char *a) {
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

int ebm_sample(const char *checkpoint, const char *device, const ebm_sample_opts_t *o) {
    ebm_config_t *cfg = ebm_train_config_new();
    run_t r = {0};
    int rc = 1;
    if (cfg && open_checkpoint_with(&r, cfg, checkpoint, device, o->raw, o->sets, o->n_sets)) {
        int n = o->n > 0 ? o->n : (r.toy ? 1000 : 64);
        char path[1200];
        snprintf(path, sizeof path, "%s", o->out ? o->out : "");
        if (!o->out) snprintf(path, sizeof path, "%s/%s.png", r.dir, r.toy ? "sample-heatmap" : "samples");
        ebm_scope_begin(r.ctx);
        double accept = NAN;
        ebm_tensor_t *x = draw_samples(&r, o, n, &accept, 0);
        if (x && run_write_samples(&r, path, x)) {
            printf("%s\n", path);
            rc = 0;
        }
        ebm_scope_end(r.ctx);
    }
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

int ebm_score(const char *checkpoint, const char *data, const char *device, const char *out, int raw) {
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
                             .binarize = run_binarize(&r)};
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
    for (int i = 0; i < ds.n; i++) fprintf(f, "%d,%.8g,%.8g\n", i, e[i], g2[i]);
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
        cJSON *row = run_eval_row(checkpoint);
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
    const char *names[] = {"uniform", "vflip", "inverted", "folder"};
    double auc[4] = {NAN, NAN, NAN, NAN}, mean_out[4] = {NAN, NAN, NAN, NAN}, mean_in = 0;
    for (int i = 0; ok && i < n; i++) mean_in += e_in[i] / (double)n, s[i] = -(double)e_in[i], pos[i] = 1;
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
    }
    if (ok) {
        cJSON *row = run_eval_row(checkpoint);
        cJSON_AddStringToObject(row, "ood_in", in);
        cJSON_AddNumberToObject(row, "examples", n);
        run_json_num(row, "mean_energy_in", mean_in);
        fprintf(stderr, "ebm eval: OOD, AUROC of -E with %d examples of %s (mean E %.4g) as in-distribution:\n", n, in, mean_in);
        for (int set = 0; set < 4; set++) {
            if (isnan(auc[set])) continue;
            char key[64];
            snprintf(key, sizeof key, "auroc_%s", names[set]);
            run_json_num(row, key, auc[set]);
            snprintf(key, sizeof key, "mean_energy_%s", names[set]);
            run_json_num(row, key, mean_out[set]);
            fprintf(stderr, "  vs %-9s %.4f  (mean E %.4g%s%s)\n", names[set], auc[set], mean_out[set], set == 3 ? ", " : "",
                    set == 3 ? o->ood_folder : "");
        }
        if (o->ood_folder) {
            cJSON_AddStringToObject(row, "ood_folder", o->ood_folder);
            cJSON_AddNumberToObject(row, "folder_examples", nf);
        }
        rc = rundir_metrics_append(r->dir, row, stdout) ? 0 : 1;
    } else if (n == 0)
        ERR("%s: no in-distribution examples\n", in);
    free(x), free(e_in), free(e_out), free(s), free(pos);
    ebm_dataset_free(&ds);
    ebm_dataset_free(&fold);
    return rc;
}

/* MEG's mode count: n samples in batches of 1000, every channel classified on its own; a mode is the
 * tuple of channel classes (10^C of them); reports the modes hit and KL(sample mode histogram || uniform) */
static int eval_modes(run_t *r, const ebm_sample_opts_t *o, const char *checkpoint, const char *cpath, const char *device) {
    ebm_config_t *ccfg = ebm_train_config_new();
    run_t cl = {0};
    int rc = 1, C = r->shape[0];
    if (!ccfg || !open_checkpoint(&cl, ccfg, cpath, device, 0)) goto done;
    if (cl.n_out < 2 || cl.ndim != 3 || cl.shape[0] != 1 || cl.shape[1] != r->shape[1] || cl.shape[2] != r->shape[2] ||
        C > 4) {
        ERR("%s: need a one-channel classifier run (as configs/fmnist-classifier.ini trains) of the samples' %dx%d images (at most 4 channels)\n", cpath,
            r->shape[1], r->shape[2]);
        goto done;
    }
    int n = o->n > 0 ? o->n : (C == 3 ? 26000 : 10000), K = 1, classes = cl.n_out;
    for (int c = 0; c < C; c++) K *= classes;
    long *count = calloc((size_t)K, sizeof(long));
    float *h = malloc(sizeof(float) * 1000 * r->numel);
    int *pred = malloc(sizeof(int) * 1000 * C), ok = count && h && pred;
    for (int i0 = 0, chunk = 1; ok && i0 < n; i0 += 1000, chunk++) {
        int m = n - i0 < 1000 ? n - i0 : 1000;
        ebm_scope_begin(r->ctx);
        ebm_tensor_t *x = draw_samples(r, o, m, NULL, chunk);
        ok = x && ebm_tensor_read(x, h) == EBM_OK;
        ebm_scope_end(r->ctx);
        ok = ok && run_argmax(&cl, h, m * C, pred);   /* channel c of sample i is image i*C + c */
        for (int i = 0; ok && i < m; i++) {
            int mode = 0;
            for (int c = 0; c < C; c++) mode = mode * classes + pred[i * C + c];
            count[mode]++;
        }
    }
    if (ok) {
        int covered = 0;
        double kl = 0;
        for (int k = 0; k < K; k++)
            if (count[k] > 0) {
                double p = (double)count[k] / n;
                covered++;
                kl += p * log(p * K);
            }
        cJSON *row = run_eval_row(checkpoint);
        cJSON_AddStringToObject(row, "classifier", cpath);
        cJSON_AddNumberToObject(row, "samples", n);
        cJSON_AddNumberToObject(row, "modes", K);
        cJSON_AddNumberToObject(row, "modes_covered", covered);
        run_json_num(row, "kl_to_uniform", kl);
        fprintf(stderr, "ebm eval: %d of %d modes covered by %d samples, KL(samples || uniform) = %.4f\n", covered, K, n, kl);
        rc = rundir_metrics_append(r->dir, row, stdout) ? 0 : 1;
    }
    free(count), free(h), free(pred);
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
    if (o->classifier) {
        if (r.ndim != 3) {
            ERR("--classifier: %s models vectors, not images\n", checkpoint);
            goto done;
        }
        rc = eval_modes(&r, o, checkpoint, o->classifier, device);
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
    cJSON *row = run_eval_row(checkpoint);
    cJSON_AddNumberToObject(row, "samples", n);
    run_json_num(row, "mean_energy", mean_e);
    if (isfinite(accept)) run_json_num(row, "mala_accept", accept);
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

