/* reduce_bits — the reductions' results as bits, for tests/reduce_lanes.sh: PoCL runs the long ones
 * with 16 items per work item (EBM_REDUCE_LANES=16, cl/reduce.cl's reduce_lanes) and the short ones
 * with 16 outputs per work item (reduce_small16), other devices one (reduce, reduce_small); both
 * must add the same numbers in the same order. Prints, per case, a hash of the
 * output's bits; fails when an output is further from the double-precision sum than float32
 * rounding over R terms allows (so equal hashes of wrong numbers do not pass). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ebm.h"

int main(void) {
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) {
        fprintf(stderr, "reduce_bits: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    /* bias-gradient shapes (with runs per image longer than the work-group, one with a partial last
     * vector, and shorter: the strided walk), a long strided axis, one long run, sums over outer
     * axes (short ones: 16 outputs per work item of reduce_small16 where they are contiguous), and
     * the same through max */
    static const int shapes[][4] = {{16, 8, 28, 28}, {3, 2, 17, 19}, {64, 6, 4, 5}, {40, 3, 7, 7}, {7, 5, 9, 300},
                                    {2, 600, 3, 5}, {1, 1, 1, 100003}};
    static const unsigned masks[] = {0xDu, 0x3u, 0x4u, 0x8u, 0xCu, 0xFu, 0x1u};
    int fails = 0;
    uint32_t seed = 12345;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (size_t m = 0; m < sizeof masks / sizeof masks[0]; m++) {
            const int *s = shapes[i];
            size_t n = (size_t)s[0] * s[1] * s[2] * s[3];
            float *h = malloc(n * sizeof *h);
            for (size_t j = 0; j < n; j++) {
                seed = seed * 1664525u + 1013904223u;
                h[j] = (float)(seed >> 8) * 0x1p-24f - 0.3f;
            }
            ebm_scope_begin(ctx);
            ebm_tensor_t *x = ebm_tensor_from_host(ctx, 4, s, h);
            int tgt[4];
            for (int a = 0; a < 4; a++) tgt[a] = masks[m] >> a & 1u ? 1 : s[a];
            ebm_tensor_t *y[2] = {ebm_sum(x, masks[m], 1), ebm_max_to(x, 4, tgt)};
            uint64_t hash = 1469598103934665603ULL;
            for (int k = 0; k < 2; k++) {
                size_t ny = y[k] ? ebm_tensor_numel(y[k]) : 0;
                float *d = malloc((ny ? ny : 1) * sizeof *d);
                if (!y[k] || ebm_tensor_read(y[k], d) != EBM_OK) {
                    fprintf(stderr, "reduce_bits: case %zu/%zu failed: %s\n", i, m, ebm_ctx_error(ctx));
                    return 1;
                }
                /* the double-precision result of every output, visiting the input once */
                double *ref = calloc(ny, sizeof *ref);
                for (size_t o = 0; o < ny; o++) ref[o] = k ? -INFINITY : 0.0;
                size_t R = n / ny;
                for (size_t j = 0; j < n; j++) {
                    size_t c[4] = {j / ((size_t)s[1] * s[2] * s[3]), j / ((size_t)s[2] * s[3]) % s[1], j / s[3] % s[2], j % s[3]}, o = 0;
                    for (int a = 0; a < 4; a++) o = o * tgt[a] + (tgt[a] == 1 ? 0 : c[a]);
                    ref[o] = k ? fmax(ref[o], h[j]) : ref[o] + h[j];
                }
                for (size_t o = 0; o < ny; o++) {
                    uint32_t b;
                    memcpy(&b, &d[o], 4);
                    hash = (hash ^ b) * 1099511628211ULL;
                    /* |error| <= R * 2^-24 * sum |x| <= R * 2^-24 * R (|x| < 1) */
                    double tol = k ? 0.0 : (double)R * R * 0x1p-24 + 1e-30;
                    if (!(fabs(d[o] - ref[o]) <= tol)) {
                        if (fails++ < 5) printf("FAIL case %zu/%zu %s output %zu: %.9g, double %.9g\n", i, m, k ? "max" : "sum", o, d[o], ref[o]);
                    }
                }
                free(ref);
                free(d);
            }
            printf("%dx%dx%dx%d axes 0x%x: %016llx\n", s[0], s[1], s[2], s[3], masks[m], (unsigned long long)hash);
            ebm_scope_end(ctx);
            free(h);
        }
    ebm_ctx_free(ctx);
    return fails != 0;
}
