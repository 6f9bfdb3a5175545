/* test_augment.c — augmentation transitions against the double reference (tests/ref.c), the
 * identity transition, torchvision's parameter ranges and rates, and shape errors.
 *
 * Tolerance: outputs lie in [0, 1]; the longest float chain per output (bilinear crop 7 ops, jitter
 * with the HSV round trip ~25, a 5x5 blur's 25-term sum with normalisation ~30) has at most ~64
 * roundings of relative size eps32/2, so |device - reference| <= 64 * eps32 = 7.6e-6. Rates use
 * 5 standard deviations of a binomial. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ebm.h"
#include "ref.h"
#include "testing.h"

static double compare(ebm_ctx_t *ctx, int B, int C, int H, int W, const ebm_augment_cfg_t *ac, uint64_t seed) {
    size_t n = (size_t)B * C * H * W;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n), *p = malloc(sizeof(float) * EBM_AUG_PARAMS * B);
    double *xd = malloc(sizeof(double) * n), *yd = malloc(sizeof(double) * n), err = INFINITY;
    ebm_rng_t r = ebm_rng_make(seed, 0);
    ebm_rng_host_uniform(&r, x, n);
    for (size_t i = 0; i < n; i++) xd[i] = x[i];
    ebm_augment_draw(ac, B, H, W, &r, p);
    ref_augment(xd, B, C, H, W, p, ac->blur_kernel, yd);
    ebm_scope_begin(ctx);
    ebm_tensor_t *t = ebm_augment_apply(ebm_tensor_from_host(ctx, 4, (int[]){B, C, H, W}, x), p, ac->blur_kernel);
    if (t && ebm_tensor_read(t, y) == EBM_OK) {
        err = 0;
        for (size_t i = 0; i < n; i++) err = fmax(err, fabs(y[i] - yd[i]));
    }
    ebm_scope_end(ctx);
    free(x), free(y), free(p), free(xd), free(yd);
    return err;
}

int main(void) {
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) {
        fprintf(stderr, "test_augment: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    char msg[256];
    const double tol = 64 * FLT_EPSILON;
    ebm_augment_cfg_t icd = EBM_AUGMENT_ICD;
    icd.blur_p = 0.5f;   /* exercise the blur too */
    double e = compare(ctx, 24, 3, 12, 12, &icd, 1);
    snprintf(msg, sizeof msg, "RGB 24x3x12x12, ICD settings + blur p=0.5: max |device - reference| %.2e (tol %.2e)", e, tol);
    check(e <= tol, msg);
    e = compare(ctx, 8, 1, 28, 28, &icd, 2);
    snprintf(msg, sizeof msg, "gray 8x1x28x28: max |device - reference| %.2e (tol %.2e)", e, tol);
    check(e <= tol, msg);

    /* identity parameters leave the images bit for bit */
    {
        int B = 4, C = 3, H = 9, W = 7;
        float x[4 * 3 * 9 * 7], y[4 * 3 * 9 * 7], p[4 * EBM_AUG_PARAMS] = {0};
        for (int b = 0; b < B; b++) p[b * EBM_AUG_PARAMS + 2] = (float)W, p[b * EBM_AUG_PARAMS + 3] = (float)H;
        ebm_rng_t r = ebm_rng_make(5, 0);
        ebm_rng_host_uniform(&r, x, sizeof x / sizeof *x);
        ebm_scope_begin(ctx);
        ebm_tensor_t *t = ebm_augment_apply(ebm_tensor_from_host(ctx, 4, (int[]){B, C, H, W}, x), p, 5);
        check(t && ebm_tensor_read(t, y) == EBM_OK && !memcmp(x, y, sizeof x), "identity parameters: output equals input bit for bit");
        ebm_scope_end(ctx);
    }

    /* parameter draws follow torchvision's ranges and rates */
    {
        enum { N = 4000 };
        float *p = malloc(sizeof(float) * EBM_AUG_PARAMS * N);
        ebm_rng_t r = ebm_rng_make(7, 0);
        ebm_augment_draw(&icd, N, 32, 32, &r, p);
        int flips = 0, jit = 0, gray = 0, blur = 0, ranges = 1;
        for (int i = 0; i < N; i++) {
            const float *q = p + i * EBM_AUG_PARAMS;
            double area = q[2] * q[3] / (32.0 * 32.0), aspect = q[2] / q[3];
            int full = q[2] == 32 && q[3] == 32;   /* the fallback after ten misses */
            ranges &= full || (area >= 0.08 - 1e-6 && area <= 1 + 1e-6 && aspect >= 0.75 - 1e-6 && aspect <= 4.0 / 3 + 1e-6);
            ranges &= q[0] >= 0 && q[1] >= 0 && q[0] + q[2] <= 32 + 1e-4 && q[1] + q[3] <= 32 + 1e-4;
            ranges &= q[6] >= 0.2f - 1e-6 && q[6] <= 1.8f + 1e-6 && fabsf(q[9]) <= 0.4f + 1e-6f;
            ranges &= q[11] == 0 || (q[11] >= 0.1f && q[11] <= 2.0f);
            flips += q[4] != 0, jit += q[5] != 0, gray += q[10] != 0, blur += q[11] != 0;
        }
        free(p);
        check(ranges, "crop boxes inside the image, area in [0.08, 1], aspect in [3/4, 4/3]; factors in range");
        double rates[4][2] = {{flips, 0.5}, {jit, 0.8}, {gray, 0.2}, {blur, 0.5}};
        const char *names[4] = {"flip", "jitter", "grayscale", "blur"};
        for (int k = 0; k < 4; k++) {
            double f = rates[k][0] / N, pr = rates[k][1], sd = sqrt(pr * (1 - pr) / N);
            snprintf(msg, sizeof msg, "%s rate %.4f vs %.2f (5 sd = %.4f)", names[k], f, pr, 5 * sd);
            check(fabs(f - pr) <= 5 * sd, msg);
        }
    }

    /* errors */
    ebm_scope_begin(ctx);
    ebm_tensor_t *bad = ebm_augment(ebm_tensor_zeros(ctx, 4, (int[]){2, 2, 8, 8}), &icd, &(ebm_rng_t){0});
    snprintf(msg, sizeof msg, "%s", ebm_ctx_error(ctx));
    check(!bad && strstr(msg, "(B, 1 or 3, H, W)") && strstr(msg, "(2, 2, 8, 8)"), "two-channel images are a shape error naming the shape");
    ebm_scope_end(ctx);
    ebm_ctx_free(ctx);
    return test_summary();
}
