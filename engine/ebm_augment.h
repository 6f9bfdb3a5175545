/* ebm_augment.h — augmentation transitions for sampler chains (improved CD's replay-buffer draws):
 * random resized crop, horizontal flip, colour jitter, grayscale and Gaussian blur as kernels, with
 * every random choice drawn from the host Philox stream (the same on every device).
 *
 *   ebm_augment_cfg_t ac = EBM_AUGMENT_ICD;            // torchvision settings of ICD's CIFAR runs
 *   ebm_tensor_t *y = ebm_augment(x, &ac, &rng);       // x (B, C, H, W) in [0, 1], C = 1 or 3
 *
 * Not differentiable (it acts on detached chains). */
#ifndef EBM_AUGMENT_H
#define EBM_AUGMENT_H
#include "ebm_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ebm_augment_cfg {
    float crop_scale_min;   /* RandomResizedCrop area fraction in [min, 1], aspect in [3/4, 4/3]; >= 1: no crop */
    int flip;               /* horizontal flip with p = 0.5 */
    float brightness, contrast, saturation, hue;   /* ColorJitter strengths (factors 1 +- s; hue +- h) */
    float jitter_p;         /* probability of the jitter */
    float gray_p;           /* probability of grayscale */
    float blur_p;           /* probability of a Gaussian blur, sigma ~ U(blur_sigma_min, blur_sigma_max) */
    float blur_sigma_min, blur_sigma_max;
    int blur_kernel;        /* odd side of the blur kernel */
} ebm_augment_cfg_t;

#define EBM_AUGMENT_ICD                                                                                                    \
    ((ebm_augment_cfg_t){.crop_scale_min = 0.08f, .flip = 1, .brightness = 0.8f, .contrast = 0.8f, .saturation = 0.8f, \
                         .hue = 0.4f, .jitter_p = 0.8f, .gray_p = 0.2f, .blur_p = 0.0f, .blur_sigma_min = 0.1f,       \
                         .blur_sigma_max = 2.0f, .blur_kernel = 5})

/* floats of per-sample parameters (layout in cl/augment.cl) */
#define EBM_AUG_PARAMS 12

/* Draws the parameters of B samples of H x W images into params (B * EBM_AUG_PARAMS floats). */
void ebm_augment_draw(const ebm_augment_cfg_t *cfg, int B, int H, int W, ebm_rng_t *rng, float *params);
/* Applies given parameters (crop/flip, then colour, then blur). */
ebm_tensor_t *ebm_augment_apply(ebm_tensor_t *x, const float *params, int blur_kernel);
/* draw + apply */
ebm_tensor_t *ebm_augment(ebm_tensor_t *x, const ebm_augment_cfg_t *cfg, ebm_rng_t *rng);

#ifdef __cplusplus
}
#endif
#endif
