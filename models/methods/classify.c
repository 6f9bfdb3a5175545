/* classify.c — a classifier trained with the engine (run.method = classify), for the evaluations of
 * energy models: class coverage of samples and the stacked Fashion-MNIST mode count (MEG's protocol
 * uses a small MNIST CNN). The network is [model] net = dcgan (conv trunk, base = [model] base) or mlp
 * with [classify] classes outputs; loss = mean cross-entropy, the optimizer of [optim]. `ebm eval`
 * reports its accuracy on the source's test images. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "chains.h"
#include "data.h"
#include "labels.h"
#include "run.h"
#include "train.h"

/* [classify] */
static const ebm_config_key_t classify_keys[] = {
    {"classify", "classes", EBM_CFG_INT, "10", "run.method = classify: number of classes (labels 0 .. classes-1)", 2, 100000},
    {NULL, NULL, 0, NULL, NULL, 0, 0}};

static int classify_outputs(const ebm_config_t *c) { return (int)ebm_config_int(c, "classify", "classes"); }

/* one optimizer step on a batch: cross-entropy and the batch's accuracy */
static int classify_step(run_t *r, ebm_dataset_t *ds, float *xhost, stats_t *s) {
    int B = r->batch, K = r->n_out;
    if (!ds->y) {
        ERR("%s: run.method = classify needs labelled data (IDX images with a labels file beside them)\n", ds->source);
        return -1;
    }
    int *y = malloc(sizeof(int) * B);
    float *onehot = calloc((size_t)B * K, sizeof(float)), *lg = malloc(sizeof(float) * B * K), loss = NAN;
    int ok = y && onehot && lg;
    if (ok) {
        ebm_dataset_batch(ds, r->seed, r->iter, B, xhost);
        if (!chains_data_labels(r, ds, y, K, "[classify] classes")) {   /* [data] label_channel: one channel's class */
            free(y), free(onehot), free(lg);
            return -1;
        }
        for (int i = 0; i < B; i++) onehot[i * K + y[i]] = 1;
    }
    if (ok) {
        int shape[4] = {B, r->shape[0], r->shape[1], r->shape[2]};
        ebm_scope_begin(r->ctx);
        ebm_tensor_t *logits = run_forward(r, ebm_tensor_from_host(r->ctx, r->ndim + 1, shape, xhost));
        ebm_tensor_t *picked = ebm_sum(ebm_mul(logits, ebm_tensor_from_host(r->ctx, 2, (int[]){B, K}, onehot)), 0x2u, 0);
        ebm_tensor_t *ce = ebm_mean_all(ebm_sub(ebm_logsumexp(logits, 1, 0), picked));
        ok = ce && ebm_tensor_read(ce, &loss) == EBM_OK && ebm_tensor_read(logits, lg) == EBM_OK;
        if (ok && isfinite(loss))
            ok = ebm_params_zero_grad(r->ps) == EBM_OK && ebm_params_backward(r->ps, ce) == EBM_OK && ebm_optim_step(r->opt) == EBM_OK &&
                 (!r->ema || ebm_ema_update(r->ema) == EBM_OK);
        ebm_scope_end(r->ctx);
    }
    int correct = 0;
    for (int i = 0; ok && i < B; i++) correct += run_argmax_row(lg + i * K, K) == y[i];
    free(y), free(onehot), free(lg);
    if (!ok) {
        ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(r->ctx));
        return -1;
    }
    stats_add_g(s, "loss", "cross-entropy", loss);
    stats_add_g(s, "accuracy", "batch accuracy", (float)correct / B);
    return isfinite(loss) ? 1 : 0;
}

/* `ebm eval`: accuracy, calibration error (15 bins) and NLL on the test examples of the run's source (labels.h) */
static int classify_eval(run_t *r, const ebm_sample_opts_t *o, const char *checkpoint) {
    if (o->classifier || o->ood || o->ood_folder) {
        ERR("%s is a classifier (run.method = classify): ebm eval reports its test accuracy; --classifier and --ood apply to "
            "energy models\n", checkpoint);
        return 1;
    }
    return labels_eval(r, o->n, 15, checkpoint);
}

const ebm_method_t ebm_method_classify = {
    .name = "classify",
    .title = "a classifier for evaluations",
    .keys = (const ebm_config_key_t *const[]){classify_keys, NULL},
    .summary = "a classifier of [classify] classes (cross-entropy), for the mode-count evaluations of energy models",
    .outputs = classify_outputs,
    .step = classify_step,
    .eval = classify_eval,
};
