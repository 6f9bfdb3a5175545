/* augment.c — augmentation transitions (ebm_augment.h): parameters drawn on the host, applied by
 * cl/augment.cl. */
#include <math.h>
#include <stdlib.h>
#include "../ebm_augment.h"
#include "../internal.h"

#define AUG_WG 64   /* work-items per sample of the colour kernel, or fewer where the device allows fewer (cl/augment.cl) */

void ebm_augment_draw(const ebm_augment_cfg_t *c, int B, int H, int W, ebm_rng_t *rng, float *params) {
    for (int b = 0; b < B; b++) {
        float *q = params + (size_t)b * EBM_AUG_PARAMS, u[32];
        ebm_rng_host_uniform(rng, u, 32);   /* a fixed number of draws per sample */
        q[0] = 0, q[1] = 0, q[2] = (float)W, q[3] = (float)H;
        if (c->crop_scale_min > 0 && c->crop_scale_min < 1) {
            /* torchvision RandomResizedCrop: ten tries of (area, log aspect), then the whole image */
            for (int t = 0; t < 10; t++) {
                double area = H * (double)W * (c->crop_scale_min + (1 - c->crop_scale_min) * u[2 * t]);
                double ratio = exp(log(3.0 / 4.0) + (log(4.0 / 3.0) - log(3.0 / 4.0)) * u[2 * t + 1]);
                double w = sqrt(area * ratio), h = sqrt(area / ratio);
                if (w <= W && h <= H) {
                    q[0] = (float)((W - w) * u[20]), q[1] = (float)((H - h) * u[21]), q[2] = (float)w, q[3] = (float)h;
                    break;
                }
            }
        }
        q[4] = c->flip && u[22] < 0.5f;
        q[5] = u[23] < c->jitter_p;
        q[6] = fmaxf(0, 1 + c->brightness * (2 * u[24] - 1));
        q[7] = fmaxf(0, 1 + c->contrast * (2 * u[25] - 1));
        q[8] = fmaxf(0, 1 + c->saturation * (2 * u[26] - 1));
        q[9] = c->hue * (2 * u[27] - 1);
        q[10] = u[28] < c->gray_p;
        q[11] = u[29] < c->blur_p ? c->blur_sigma_min + (c->blur_sigma_max - c->blur_sigma_min) * u[30] : 0;
    }
}

ebm_tensor_t *ebm_augment_apply(ebm_tensor_t *x, const float *params, int k) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    ebm_ctx_t *ctx = x->ctx;
    char s[64];
    if (x->ndim != 4 || (x->shape[1] != 1 && x->shape[1] != 3)) {
        ebm_fail(ctx, EBM_STATUS_SHAPE, "augment needs images (B, 1 or 3, H, W), got %s", ebm_tensor_shape_str(x, s, sizeof s));
        return NULL;
    }
    if (k < 1 || k % 2 == 0 || k / 2 >= x->shape[2] || k / 2 >= x->shape[3]) {
        ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "augment: blur kernel %d must be odd and smaller than twice the image", k);
        return NULL;
    }
    int B = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    ebm_tensor_t *xc = x->off ? ebm_tensor_clone(x) : x;   /* kernels index from the buffer start */
    ebm_tensor_t *p = ebm_tensor_from_host(ctx, 2, (int[]){B, EBM_AUG_PARAMS}, params);
    ebm_tensor_t *y = ebm_tensor_new(ctx, 4, x->shape), *z = ebm_tensor_new(ctx, 4, x->shape);
    cl_kernel kc = ebm_kernel(ctx, EBM_K_AUG_CROP_FLIP), kj = ebm_kernel(ctx, EBM_K_AUG_COLOR), kb = ebm_kernel(ctx, EBM_K_AUG_BLUR);
    if (!xc || !p || !y || !z || !kc || !kj || !kb) return NULL;
    if (ebm_kargs(ctx, kc, "mmmiii", y->buf, xc->buf, p->buf, C, H, W) != EBM_OK ||
        ebm_launch3(ctx, kc, (size_t)W, (size_t)H, (size_t)B * C) != EBM_OK ||
        ebm_kargs(ctx, kj, "mmii", y->buf, p->buf, C, H * W) != EBM_OK || ebm_launch_groups(ctx, kj, (size_t)B, ebm_kernel_wg(ctx, kj) < AUG_WG ? ebm_kernel_wg(ctx, kj) : AUG_WG) != EBM_OK ||
        ebm_kargs(ctx, kb, "mmmiiii", z->buf, y->buf, p->buf, C, H, W, k) != EBM_OK ||
        ebm_launch3(ctx, kb, (size_t)W, (size_t)H, (size_t)B * C) != EBM_OK)
        return NULL;
    return z;
}

ebm_tensor_t *ebm_augment(ebm_tensor_t *x, const ebm_augment_cfg_t *cfg, ebm_rng_t *rng) {
    if (!x || x->ctx->status != EBM_OK) return NULL;
    if (x->ndim != 4) return ebm_augment_apply(x, NULL, cfg->blur_kernel);   /* reports the shape error */
    int B = x->shape[0];
    float *params = malloc(sizeof(float) * EBM_AUG_PARAMS * (size_t)B);
    if (!params) {
        ebm_fail(x->ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
        return NULL;
    }
    ebm_augment_draw(cfg, B, x->shape[2], x->shape[3], rng, params);
    ebm_tensor_t *y = ebm_augment_apply(x, params, cfg->blur_kernel);
    free(params);
    return y;
}
