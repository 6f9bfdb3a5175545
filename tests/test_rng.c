/* test_rng.c — Philox4x32-10: known-answer vectors (Random123's kat_vectors), host and device
 * giving identical bits for raw words, uniforms and normals, and the moments of the draws. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ebm.h"
#include "testing.h"


int main(void) {
    /* known answers: philox4x32 with 10 rounds (Random123 kat_vectors) */
    struct { uint32_t ctr[4], key[2], out[4]; } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}, {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}, {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (int i = 0; i < 3; i++) {
        uint32_t out[4];
        ebm_philox4x32_10(kat[i].ctr, kat[i].key, out);
        char msg[96];
        snprintf(msg, sizeof msg, "Philox4x32-10 known-answer vector %d (%08x %08x ...)", i, out[0], out[1]);
        check(!memcmp(out, kat[i].out, sizeof out), msg);
    }

    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) {
        fprintf(stderr, "test_rng: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    const int n = 100003;   /* not a multiple of 4 */
    float *h = malloc(n * sizeof *h), *d = malloc(n * sizeof *d);
    for (int kind = 0; kind < 3; kind++) {
        ebm_rng_t rh = ebm_rng_make(0x1234567890abcdefULL, 7), rd = rh;
        rh.counter = rd.counter = 1000;
        ebm_tensor_t *t = ebm_tensor_new(ctx, 1, &n);
        if (kind == 0) {
            ebm_rng_host_bits(&rh, (uint32_t *)h, n);
            ebm_tensor_fill_bits(t, &rd);
        } else if (kind == 1) {
            ebm_rng_host_uniform(&rh, h, n);
            ebm_tensor_fill_uniform(t, &rd, 0.0f, 1.0f);
        } else {
            ebm_rng_host_normal(&rh, h, n);
            ebm_tensor_fill_normal(t, &rd, 0.0f, 1.0f);
        }
        if (ebm_tensor_read(t, d) != EBM_OK) printf("error: %s\n", ebm_ctx_error(ctx));
        int diff = 0;
        for (int i = 0; i < n; i++) diff += memcmp(&h[i], &d[i], 4) != 0;
        const char *names[] = {"raw words", "uniforms", "normals"};
        char msg[128];
        snprintf(msg, sizeof msg, "host and device give identical bits for %d %s (%d differ); counters advance alike", n, names[kind], diff);
        check(diff == 0 && rh.counter == rd.counter && rh.counter == 1000 + (n + 3) / 4, msg);
        if (kind > 0) {
            /* moments, with bounds of 6 standard errors of each estimator */
            double m1 = 0, m2 = 0, m4 = 0;
            for (int i = 0; i < n; i++) m1 += d[i];
            m1 /= n;
            for (int i = 0; i < n; i++) {
                double c = d[i] - m1;
                m2 += c * c;
                m4 += c * c * c * c;
            }
            m2 /= n;
            m4 /= n;
            double mu = kind == 1 ? 0.5 : 0.0, var = kind == 1 ? 1.0 / 12 : 1.0, kurt = kind == 1 ? 1.8 : 3.0;
            /* se(mean) = sqrt(var/n); se(var) = sqrt((mu4 - var^2)/n); se(kurtosis) ~ sqrt(24/n) for normals, less for uniforms */
            double se1 = sqrt(var / n), se2 = sqrt((kurt - 1) * var * var / n), se4 = sqrt(24.0 / n);
            snprintf(msg, sizeof msg, "%s: mean %.5f var %.5f kurtosis %.4f (expect %.4f, %.5f, %.2f)", names[kind], m1, m2,
                     m4 / (m2 * m2), mu, var, kurt);
            check(fabs(m1 - mu) < 6 * se1 && fabs(m2 - var) < 6 * se2 && fabs(m4 / (m2 * m2) - kurt) < 6 * se4, msg);
        }
        if (kind == 1) {
            float lo = 1, hi = 0;
            for (int i = 0; i < n; i++) {
                lo = d[i] < lo ? d[i] : lo;
                hi = d[i] > hi ? d[i] : hi;
            }
            check(lo >= 0.0f && hi < 1.0f, "uniforms lie in [0, 1)");
        }
        ebm_tensor_free(t);
    }
    /* streams are independent: same seed and counter, different stream, different numbers */
    ebm_rng_t a = ebm_rng_make(1, 0), b = ebm_rng_make(1, 1);
    ebm_rng_host_uniform(&a, h, 1000);
    ebm_rng_host_uniform(&b, d, 1000);
    int same = 0;
    for (int i = 0; i < 1000; i++) same += h[i] == d[i];
    check(same < 5, "different streams give different numbers");
    /* a draw split in two continues the sequence exactly when split at a multiple of 4 */
    ebm_rng_t c1 = ebm_rng_make(9, 3), c2 = c1;
    ebm_rng_host_normal(&c1, h, 16);
    ebm_rng_host_normal(&c2, d, 8);
    ebm_rng_host_normal(&c2, d + 8, 8);
    check(!memcmp(h, d, 16 * sizeof *h), "counter-based: two draws of 8 equal one draw of 16");
    free(h);
    free(d);
    ebm_ctx_free(ctx);
    return test_summary();
}
