/* test_errors.c — bad input gives a clear error and the library carries on: a missing device, a
 * malformed kernel source (compiler log in the message), an allocation larger than the device
 * allows, shape mismatches, a sticky error and NULL handles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ebm.h"
#include "testing.h"


static int quiet_log_count;
static void quiet(ebm_log_level_t level, const char *msg, void *user) {
    (void)level, (void)msg, (void)user;
    quiet_log_count++;
}

int main(void) {
    ebm_log_set(quiet, NULL);
    ebm_ctx_t *ctx = NULL;
    ebm_status_t st = ebm_ctx_create(&ctx, "no-such-device-xyz");
    check_msg(st == EBM_STATUS_NO_DEVICE && !ctx && strstr(ebm_ctx_error(NULL), "no-such-device-xyz") &&
              strstr(ebm_ctx_error(NULL), "available"),
          "missing device: EBM_STATUS_NO_DEVICE naming the selector and listing what exists", ebm_ctx_error(NULL));
    st = ebm_ctx_create(&ctx, "9:9");
    check_msg(st == EBM_STATUS_NO_DEVICE && !ctx, "platform:device index out of range is NO_DEVICE", ebm_ctx_error(NULL));

    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) {
        fprintf(stderr, "test_errors: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    const char *bad = "kernel void broken(global float *y) { y[0] = undefined_symbol + ; }\n";
    st = ebm_ctx_build_source(ctx, "broken.cl", bad, NULL);
    check_msg(st == EBM_STATUS_BUILD && strstr(ebm_ctx_error(ctx), "broken.cl") && strstr(ebm_ctx_error(ctx), "undefined_symbol"),
          "malformed kernel source: EBM_STATUS_BUILD with the compiler log", ebm_ctx_error(ctx));
    ebm_ctx_clear_error(ctx);

    /* allocation beyond the device's maximum */
    const ebm_device_info_t *di = ebm_ctx_device(ctx);
    unsigned long long want = di->max_alloc / sizeof(float) + 1024;
    int shape[4] = {1, 1, 1, 1};
    unsigned long long rem = want;
    for (int i = 3; i >= 0 && rem > 1; i--) {   /* split into dims that fit in int */
        unsigned long long d = rem > 1000000000ULL ? 1000000000ULL : rem;
        shape[i] = (int)d;
        rem = (rem + d - 1) / d;
    }
    ebm_tensor_t *huge = ebm_tensor_new(ctx, 4, shape);
    check_msg(huge == NULL && ebm_ctx_status(ctx) == EBM_STATUS_OUT_OF_MEMORY, "allocation above the device maximum: EBM_STATUS_OUT_OF_MEMORY",
          ebm_ctx_error(ctx));
    ebm_ctx_clear_error(ctx);
    ebm_tensor_t *ok = ebm_tensor_zeros(ctx, 2, (int[]){3, 4});
    check_msg(ok != NULL && ebm_ctx_status(ctx) == EBM_OK, "the context works after an allocation failure", NULL);

    /* shape mismatches */
    ebm_tensor_t *a = ebm_tensor_zeros(ctx, 2, (int[]){2, 3}), *b = ebm_tensor_zeros(ctx, 2, (int[]){4, 5});
    ebm_tensor_t *y = ebm_add(a, b);
    check_msg(y == NULL && ebm_ctx_status(ctx) == EBM_STATUS_SHAPE && strstr(ebm_ctx_error(ctx), "(2, 3)") && strstr(ebm_ctx_error(ctx), "(4, 5)"),
          "add of (2,3) and (4,5): EBM_STATUS_SHAPE naming both shapes", ebm_ctx_error(ctx));
    /* sticky: the next op does nothing until the error is cleared */
    check_msg(ebm_square(a) == NULL, "errors are sticky: later ops return NULL", NULL);
    ebm_ctx_clear_error(ctx);
    y = ebm_matmul(a, a, 0, 0);
    check_msg(y == NULL && ebm_ctx_status(ctx) == EBM_STATUS_SHAPE, "matmul (2,3)x(2,3): inner sizes differ", ebm_ctx_error(ctx));
    ebm_ctx_clear_error(ctx);
    ebm_tensor_t *x = ebm_tensor_zeros(ctx, 4, (int[]){1, 3, 8, 8}), *w = ebm_tensor_zeros(ctx, 4, (int[]){4, 2, 3, 3});
    y = ebm_conv2d(x, w, NULL, EBM_CONV2D(1, 1));
    check_msg(y == NULL && ebm_ctx_status(ctx) == EBM_STATUS_SHAPE, "conv2d with 3 input channels and a 2-channel weight", ebm_ctx_error(ctx));
    ebm_ctx_clear_error(ctx);
    y = ebm_conv2d(x, ebm_tensor_zeros(ctx, 4, (int[]){4, 3, 11, 11}), NULL, EBM_CONV2D(1, 0));
    check_msg(y == NULL && ebm_ctx_status(ctx) == EBM_STATUS_SHAPE, "conv2d kernel larger than its input", ebm_ctx_error(ctx));
    ebm_ctx_clear_error(ctx);
    ebm_tensor_t *w3 = ebm_tensor_zeros(ctx, 4, (int[]){4, 3, 3, 3});
    y = ebm_conv2d_act(x, w3, NULL, EBM_CONV2D(1, 1), EBM_FN_COUNT, 0.0f);
    check_msg(y == NULL && ebm_ctx_status(ctx) == EBM_STATUS_INVALID_ARGUMENT && strstr(ebm_ctx_error(ctx), "unknown elementwise function"),
              "conv2d_act with an unknown function", ebm_ctx_error(ctx));
    ebm_ctx_clear_error(ctx);
    y = ebm_conv2d_act(x, w3, ebm_tensor_zeros(ctx, 1, (int[]){3}), EBM_CONV2D(1, 1), EBM_FN_SWISH, 0.0f);
    check_msg(y == NULL && ebm_ctx_status(ctx) == EBM_STATUS_SHAPE && strstr(ebm_ctx_error(ctx), "bias of 3 elements for 4 channels"),
              "conv2d_act with a 3-element bias for 4 channels", ebm_ctx_error(ctx));
    ebm_ctx_clear_error(ctx);
    y = ebm_reshape(a, 2, (int[]){4, 2});
    check_msg(y == NULL && ebm_ctx_status(ctx) == EBM_STATUS_SHAPE, "reshape to a different element count", ebm_ctx_error(ctx));
    ebm_ctx_clear_error(ctx);
    y = ebm_tensor_new(ctx, 5, (int[]){1, 1, 1, 1, 1});
    check_msg(y == NULL && ebm_ctx_status(ctx) == EBM_STATUS_INVALID_ARGUMENT, "5-D tensors are refused", ebm_ctx_error(ctx));
    ebm_ctx_clear_error(ctx);
    y = ebm_tensor_new(ctx, 2, (int[]){3, -1});
    check_msg(y == NULL && ebm_ctx_status(ctx) == EBM_STATUS_INVALID_ARGUMENT, "negative dimension is refused", ebm_ctx_error(ctx));
    ebm_ctx_clear_error(ctx);
    /* derivative orders beyond what a function provides */
    y = ebm_unary(a, EBM_FN_SWISH, 4, 0, 0);
    check_msg(y == NULL && ebm_ctx_status(ctx) == EBM_STATUS_NOT_IMPLEMENTED, "fourth derivative of swish: NOT_IMPLEMENTED", ebm_ctx_error(ctx));
    ebm_ctx_clear_error(ctx);
    /* NULL handles propagate instead of crashing */
    check_msg(ebm_swish(NULL) == NULL && ebm_add(a, NULL) == NULL && ebm_tensor_read(NULL, NULL) == EBM_STATUS_INVALID_ARGUMENT,
          "NULL inputs propagate as NULL / INVALID_ARGUMENT", NULL);
    ebm_tensor_t *gout;
    st = ebm_grad(&a, 1, NULL, &b, 1, &gout, 0);
    check_msg(st == EBM_OK && gout != NULL, "gradient of an unrelated tensor is zero, not an error", NULL);
    /* NaN stays visible (no fast-math): log(-1) and 0/0 */
    ebm_tensor_t *neg = ebm_tensor_full(ctx, 1, (int[]){4}, -1.0f);
    float v[4];
    ebm_tensor_read(ebm_log(neg), v);
    int nan_log = v[0] != v[0];
    ebm_tensor_read(ebm_div(ebm_tensor_zeros(ctx, 1, (int[]){4}), ebm_tensor_zeros(ctx, 1, (int[]){4})), v);
    check_msg(nan_log && v[0] != v[0], "NaN from log(-1) and 0/0 stays NaN (no fast-math)", NULL);
    check_msg(quiet_log_count > 0, "failures reach the installed log callback", NULL);
    ebm_ctx_free(ctx);
    ebm_log_set(NULL, NULL);
    return test_summary();
}
