/* Uses the installed library: d/dx sum(x^2) = 2x on the default device. */
#include <ebm.h>
#include <stdio.h>

int main(void) {
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) {
        fprintf(stderr, "%s\n", ebm_ctx_error(NULL));
        return 1;
    }
    float data[3] = {1, 2, 3}, g[3];
    ebm_tensor_t *x = ebm_tensor_from_host(ctx, 1, (int[]){3}, data), *gx;
    ebm_tensor_set_requires_grad(x, 1);
    ebm_tensor_t *e = ebm_sum_all(ebm_square(x));
    ebm_grad(&e, 1, NULL, &x, 1, &gx, 0);
    ebm_tensor_read(gx, g);
    ebm_ctx_free(ctx);
    printf("%g %g %g\n", g[0], g[1], g[2]);
    return (g[0] == 2 && g[1] == 4 && g[2] == 6) ? 0 : 1;
}
