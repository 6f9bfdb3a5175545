/* test_optim.c — fused optimizer kernels against double-precision references of PyTorch's update
 * rules (SGD with momentum and weight decay, Adam with beta1 = 0 and 0.9, AdamW, AdaGrad),
 * global-norm clipping, and EMA. Gradients are set directly in the flat gradient buffer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ebm.h"
#include "testing.h"

#define EPS32 1.1920928955078125e-07

enum { N1 = 37, N2 = 5 };

static void run(ebm_ctx_t *ctx, const char *name, ebm_optim_config_t cfg, int steps) {
    ebm_params_t *ps = ebm_params_new(ctx);
    ebm_tensor_t *a = ebm_params_add(ps, "a", 1, (int[]){N1});
    ebm_tensor_t *b = ebm_params_add(ps, "b", 2, (int[]){1, N2});
    ebm_params_finalize(ps);
    double p[N1 + N2], m[N1 + N2] = {0}, v[N1 + N2] = {0};
    float f[N1 + N2];
    for (int i = 0; i < N1 + N2; i++) p[i] = f[i] = (float)(0.3 * sin(i + 1.0));
    ebm_tensor_write(a, f);
    ebm_tensor_write(b, f + N1);
    ebm_optim_t *opt = ebm_optim_new(ps, &cfg);
    double max_err = 0;
    for (int t = 1; t <= steps; t++) {
        double g[N1 + N2], sq = 0;
        for (int i = 0; i < N1 + N2; i++) {
            g[i] = (float)(cos(0.7 * i + t) * (i < N1 ? 1.0 : 3.0));
            f[i] = (float)g[i];
            sq += g[i] * g[i];
        }
        ebm_tensor_write(ebm_params_grad(ps, 0), f);
        ebm_tensor_write(ebm_params_grad(ps, 1), f + N1);
        ebm_optim_step(opt);
        double scale = 1.0;
        if (cfg.clip_norm > 0) {
            double c = cfg.clip_norm / (sqrt(sq) + 1e-6);
            scale = c < 1 ? c : 1;
        }
        for (int i = 0; i < N1 + N2; i++) {
            double gi = g[i] * scale;
            if (cfg.kind == EBM_OPTIM_SGD) {
                gi += cfg.weight_decay * p[i];
                if (cfg.momentum != 0) {
                    m[i] = cfg.momentum * m[i] + gi;
                    gi = m[i];
                }
                p[i] -= cfg.lr * gi;
            } else if (cfg.kind == EBM_OPTIM_ADAM) {
                if (cfg.decoupled_wd) p[i] -= cfg.lr * cfg.weight_decay * p[i];
                else gi += cfg.weight_decay * p[i];
                m[i] = cfg.beta1 * m[i] + (1 - cfg.beta1) * gi;
                v[i] = cfg.beta2 * v[i] + (1 - cfg.beta2) * gi * gi;
                double bc1 = 1 - pow(cfg.beta1, t), bc2 = 1 - pow(cfg.beta2, t);
                p[i] -= cfg.lr / bc1 * m[i] / (sqrt(v[i] / bc2) + (cfg.eps ? cfg.eps : 1e-8));
            } else {
                gi += cfg.weight_decay * p[i];
                m[i] += gi * gi;
                p[i] -= cfg.lr * gi / (sqrt(m[i]) + (cfg.eps ? cfg.eps : 1e-10));
            }
        }
        ebm_tensor_read(a, f);
        ebm_tensor_read(b, f + N1);
        for (int i = 0; i < N1 + N2; i++) max_err = fmax(max_err, fabs(f[i] - p[i]));
        if (cfg.clip_norm > 0 && t == 1) {
            float nrm;
            ebm_tensor_read(ebm_optim_last_grad_norm(opt), &nrm);
            check(fabs(nrm - sqrt(sq)) <= 1e-5 * sqrt(sq), "global gradient norm computed on the device");
        }
    }
    /* each step rounds a handful of float ops on values of size ~lr; 32 ulps of the parameters'
     * magnitude per step bounds it */
    double tol = 32 * EPS32 * steps;
    char msg[160];
    snprintf(msg, sizeof msg, "%s: %d steps match the double reference (max err %.2e, tol %.2e)", name, steps, max_err, tol);
    check(max_err <= tol && ebm_ctx_status(ctx) == EBM_OK, msg);
    ebm_optim_free(opt);
    ebm_params_free(ps);
}

int main(void) {
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) {
        fprintf(stderr, "test_optim: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    run(ctx, "SGD", (ebm_optim_config_t){.kind = EBM_OPTIM_SGD, .lr = 0.1f}, 5);
    run(ctx, "SGD momentum 0.9 + weight decay", (ebm_optim_config_t){.kind = EBM_OPTIM_SGD, .lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-2f}, 5);
    run(ctx, "Adam beta=(0, 0.999) (IGEBM)", (ebm_optim_config_t){.kind = EBM_OPTIM_ADAM, .lr = 1e-2f, .beta1 = 0.0f, .beta2 = 0.999f}, 6);
    run(ctx, "Adam beta=(0.5, 0.9) + L2", (ebm_optim_config_t){.kind = EBM_OPTIM_ADAM, .lr = 1e-2f, .beta1 = 0.5f, .beta2 = 0.9f, .weight_decay = 0.1f}, 6);
    run(ctx, "AdamW decoupled decay", (ebm_optim_config_t){.kind = EBM_OPTIM_ADAM, .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .weight_decay = 0.1f, .decoupled_wd = 1}, 6);
    run(ctx, "Adam + grad-norm clip 0.5 (improved CD)", (ebm_optim_config_t){.kind = EBM_OPTIM_ADAM, .lr = 2e-2f, .beta1 = 0.0f, .beta2 = 0.9f, .clip_norm = 0.5f}, 6);
    run(ctx, "AdaGrad", (ebm_optim_config_t){.kind = EBM_OPTIM_ADAGRAD, .lr = 0.1f}, 5);

    /* EMA: e <- d e + (1 - d) p, and swap */
    ebm_params_t *ps = ebm_params_new(ctx);
    ebm_tensor_t *a = ebm_params_add(ps, "a", 1, (int[]){N1});
    ebm_params_finalize(ps);
    float f[N1], e[64];   /* the flat buffer holds ebm_params_numel floats (aligned), >= N1 */
    if (ebm_params_numel(ps) > 64) return 1;
    for (int i = 0; i < N1; i++) f[i] = (float)i;
    ebm_tensor_write(a, f);
    ebm_ema_t *ema = ebm_ema_new(ps, 0.9f);
    for (int i = 0; i < N1; i++) f[i] = (float)(2 * i);
    ebm_tensor_write(a, f);
    ebm_ema_update(ema);
    ebm_ema_update(ema);
    ebm_tensor_read(ebm_ema_flat(ema), e);
    double err = 0;
    for (int i = 0; i < N1; i++) err = fmax(err, fabs(e[i] - (0.81 * i + 0.19 * 2 * i)));
    check(err <= 8 * EPS32 * 2 * N1, "EMA of weights matches 0.81 p0 + 0.19 p1 after two updates");
    ebm_ema_swap(ema);
    ebm_tensor_read(a, f);
    check(fabs(f[10] - e[10]) == 0, "EMA swap puts the averaged weights into the parameters");
    ebm_ema_free(ema);
    ebm_params_free(ps);
    /* bad configuration is an error, not a crash */
    ebm_params_t *ps2 = ebm_params_new(ctx);
    ebm_params_add(ps2, "a", 1, (int[]){3});
    ebm_params_finalize(ps2);
    ebm_optim_t *bad = ebm_optim_new(ps2, &(ebm_optim_config_t){.kind = EBM_OPTIM_ADAM, .lr = -1.0f, .beta2 = 0.9f});
    check(bad == NULL && ebm_ctx_status(ctx) == EBM_STATUS_INVALID_ARGUMENT, "negative learning rate is rejected with a clear error");
    ebm_ctx_clear_error(ctx);
    ebm_params_free(ps2);
    ebm_ctx_free(ctx);
    return test_summary();
}
