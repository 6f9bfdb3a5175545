/* classify.c — a classifier trained with the engine (run.method = classify), for the evaluations of
 * issue 4: class coverage of samples and the stacked Fashion-MNIST mode count (MEG's protocol uses a
 * small MNIST CNN). The network is [model] net = dcgan (conv trunk, base = [model] base) or mlp with
 * [classify] classes outputs; loss = mean cross-entropy, Adam from [optim]. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data.h"
#include "run.h"

/* logits (B, classes) of x (B, sample shape) */
ebm_tensor_t *classify_logits(run_t *r, ebm_tensor_t *x) {
    if (r->flatten) x = ebm_reshape(x, 2, (int[]){ebm_tensor_dim(x, 0), -1});
    return ebm_net_forward(r->net, x);
}

static int argmax(const float *v, int K) {
    int best = 0;
    for (int k = 1; k < K; k++)
        if (v[k] > v[best]) best = k;
    return best;
}

int classify_argmax(run_t *r, const float *x, int n, int *out) {
    int K = r->n_out;
    float *lg = malloc(sizeof(float) * 256 * K);
    int ok = lg != NULL;
    for (int i0 = 0; ok && i0 < n; i0 += 256) {
        int m = n - i0 < 256 ? n - i0 : 256;
        int shape[4] = {m, r->shape[0], r->shape[1], r->shape[2]};
        ebm_scope_begin(r->ctx);
        int was = ebm_grad_set_enabled(r->ctx, 0);
        ebm_tensor_t *l = classify_logits(r, ebm_tensor_from_host(r->ctx, r->ndim + 1, shape, x + r->numel * i0));
        ebm_grad_set_enabled(r->ctx, was);
        ok = l && ebm_tensor_read(l, lg) == EBM_OK;
        ebm_scope_end(r->ctx);
        for (int i = 0; ok && i < m; i++) out[i0 + i] = argmax(lg + i * K, K);
    }
    free(lg);
    if (!ok) ERR("classifying: %s\n", lg ? ebm_ctx_error(r->ctx) : "out of host memory");
    return ok;
}

/* one Adam step on a batch; s->loss = cross-entropy, s->aux = batch accuracy */
int classify_step(run_t *r, ebm_dataset_t *ds, float *xhost, stats_t *s) {
    int B = (int)ebm_config_int(r->cfg, "run", "batch"), K = r->n_out;
    if (!ds->y) {
        ERR("%s: run.method = classify needs labelled data (IDX images with a labels file beside them)\n", ds->source);
        return -1;
    }
    int *y = malloc(sizeof(int) * B);
    float *onehot = calloc((size_t)B * K, sizeof(float)), *lg = malloc(sizeof(float) * B * K), loss = NAN;
    int ok = y && onehot && lg;
    if (ok) {
        ebm_dataset_batch(ds, r->seed, r->iter, B, xhost);
        ebm_dataset_batch_labels(ds, r->seed, r->iter, B, y);
        for (int i = 0; i < B; i++) {
            if (y[i] < 0 || y[i] >= K) {
                ERR("%s: label %d outside [0, %d) ([classify] classes)\n", ds->source, y[i], K);
                ok = 0;
                break;
            }
            onehot[i * K + y[i]] = 1;
        }
    }
    if (ok) {
        int shape[4] = {B, r->shape[0], r->shape[1], r->shape[2]};
        ebm_scope_begin(r->ctx);
        ebm_tensor_t *logits = classify_logits(r, ebm_tensor_from_host(r->ctx, r->ndim + 1, shape, xhost));
        ebm_tensor_t *picked = ebm_sum(ebm_mul(logits, ebm_tensor_from_host(r->ctx, 2, (int[]){B, K}, onehot)), 0x2u, 0);
        ebm_tensor_t *ce = ebm_mean_all(ebm_sub(ebm_logsumexp(logits, 1, 0), picked));
        ok = ce && ebm_tensor_read(ce, &loss) == EBM_OK && ebm_tensor_read(logits, lg) == EBM_OK;
        if (ok && isfinite(loss))
            ok = ebm_params_zero_grad(r->ps) == EBM_OK && ebm_params_backward(r->ps, ce) == EBM_OK && ebm_optim_step(r->opt) == EBM_OK &&
                 (!r->ema || ebm_ema_update(r->ema) == EBM_OK);
        ebm_scope_end(r->ctx);
    }
    int correct = 0;
    for (int i = 0; ok && i < B; i++) correct += argmax(lg + i * K, K) == y[i];
    free(y), free(onehot), free(lg);
    if (!ok) {
        ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(r->ctx));
        return -1;
    }
    *s = (stats_t){.e_pos = NAN, .e_neg = NAN, .loss = loss, .aux = (float)correct / B};
    return isfinite(loss) ? 1 : 0;
}
