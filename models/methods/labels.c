/* labels.c — the evaluation of the methods with classes (labels.h). */
#include "labels.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "chains.h"
#include "data.h"
#include "metrics.h"

int labels_eval(run_t *r, int n_max, int bins, const char *checkpoint) {
    const char *test = run_test_source(r);
    int channel = (int)ebm_config_int(r->cfg, "data", "label_channel");
    if (!strcmp(test, "fashion-mnist-stacked")) test = "fashion-mnist-stacked:test";   /* triples of the test images */
    ebm_dataset_t ds;
    char err[1024];
    ebm_data_opts_t dopts = {.size = r->ndim == 3 ? r->shape[1] : 0, .channels = r->ndim == 3 ? r->shape[0] : 0, .toy_n = 10000,
                             .seed = r->seed ^ 0x54455354ull /* "TEST": other points than the training set's */};
    if (ebm_dataset_open(&ds, test, &dopts, err, sizeof err) != EBM_OK) {
        ERR("%s\n", err);
        return 1;
    }
    int K = r->n_out, n = n_max > 0 && n_max < ds.n ? n_max : ds.n, rc = 1;
    float *lg = NULL;
    double *conf = malloc(sizeof(double) * n), nll = 0;
    int *right = malloc(sizeof(int) * n), correct = 0, ok = conf && right && ds.y;
    if (!ds.y) ERR("%s: no labels to evaluate against\n", test);
    else if (!conf || !right) ERR("out of host memory\n");
    ok = ok && chains_check_label_channel(&ds, channel);
    for (int i = 0; ok && i < n; i++) {
        int y = chains_channel_label(ds.y[i], channel);
        if (y < 0 || y >= K) {
            ERR("%s: label %d of example %d outside the run's %d classes%s\n", test, y, i, K,
                ds.n_classes == 1000 && channel < 0 ? " (stacked images: [data] label_channel picks one channel's class)" : "");
            ok = 0;
        }
    }
    ok = ok && run_outputs(r, ds.x, n, &lg);
    for (int i = 0; ok && i < n; i++) {   /* softmax in double */
        const float *v = lg + (size_t)i * K;
        int best = run_argmax_row(v, K), y = chains_channel_label(ds.y[i], channel);
        double z = 0;
        for (int k = 0; k < K; k++) z += exp((double)v[k] - v[best]);
        conf[i] = 1 / z;
        right[i] = best == y;
        correct += right[i];
        nll += (log(z) + v[best] - v[y]) / n;
    }
    if (ok) {
        double ece = ebm_ece(conf, right, n, bins);
        cJSON *row = run_eval_row(r, checkpoint);
        cJSON_AddStringToObject(row, "data", test);
        cJSON_AddNumberToObject(row, "examples", n);
        run_json_num(row, "accuracy", (double)correct / n);
        run_json_num(row, "ece", ece);
        cJSON_AddNumberToObject(row, "ece_bins", bins);
        run_json_num(row, "nll", nll);
        fprintf(stderr, "ebm eval: %s: accuracy %.2f%%, ECE %.4f (%d bins), NLL %.4f on %d examples of %s\n", checkpoint,
                100.0 * correct / n, ece, bins, nll, n, test);
        rc = rundir_metrics_append(r->dir, row, stdout) ? 0 : 1;
    }
    free(lg), free(conf), free(right);
    ebm_dataset_free(&ds);
    return rc;
}

