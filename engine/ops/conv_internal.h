/* conv_internal.h — convolution geometry shared by the im2col/GEMM path (conv.c) and the FFT path
 * (fftconv.c). x (N, C, H, W), w (O, C, KH, KW), y (N, O, Ho, Wo). */
#ifndef EBM_CONV_INTERNAL_H
#define EBM_CONV_INTERNAL_H
#include "../internal.h"

int ebm_fftconv_applicable(const ebm_conv_geom_t *g);
ebm_tensor_t *ebm_fftconv_fwd(ebm_ctx_t *ctx, const ebm_conv_geom_t *g, ebm_tensor_t *x, ebm_tensor_t *w);
ebm_tensor_t *ebm_fftconv_igrad(ebm_ctx_t *ctx, const ebm_conv_geom_t *g, ebm_tensor_t *gy, ebm_tensor_t *w);
ebm_tensor_t *ebm_fftconv_wgrad(ebm_ctx_t *ctx, const ebm_conv_geom_t *g, ebm_tensor_t *x, ebm_tensor_t *gy);
void ebm_fft_release(ebm_ctx_t *ctx);
#endif
