/* test_replay.c — the device replay buffer: fresh noise while empty (bit-identical to the host RNG),
 * FIFO contents, draws that come from the buffer, the re-initialisation rate, reservoir sampling's
 * uniform inclusion, and shape errors. Statistical checks use 5 standard deviations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ebm.h"
#include "testing.h"

int main(void) {
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) {
        fprintf(stderr, "test_replay: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    char msg[256];
    const int R = 3;   /* values per row */
    ebm_replay_t *rb = ebm_replay_new(ctx, 1, &R, &(ebm_replay_cfg_t){.capacity = 10, .reinit_prob = 0.0f, .init_lo = 100, .init_hi = 200});
    /* 1. empty: every row is fresh noise, the same bits the host draws */
    ebm_rng_t rd = ebm_rng_make(3, 1), rh = rd;
    ebm_tensor_t *s = ebm_replay_sample(rb, 5, &rd);
    float got[15], want[15], u[10];
    ebm_tensor_read(s, got);
    ebm_rng_host_uniform(&rh, u, 10);   /* the slot/re-init draws */
    ebm_rng_host_uniform(&rh, want, 15);
    for (int i = 0; i < 15; i++) want[i] = 100.0f + 100.0f * want[i];
    check(!memcmp(got, want, sizeof got) && rh.counter == rd.counter, "empty buffer: fresh U(lo, hi) rows, bit-identical to the host RNG");
    /* 2. FIFO: push ids 0..15 in batches of 4; the last 10 remain, at id % 10 */
    for (int b = 0; b < 4; b++) {
        float rows[12];
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < R; c++) rows[r * R + c] = (float)(4 * b + r) + 0.1f * c;
        ebm_scope_begin(ctx);
        ebm_replay_push(rb, ebm_tensor_from_host(ctx, 2, (int[]){4, R}, rows), &rd);
        ebm_scope_end(ctx);
    }
    float st[30];
    ebm_tensor_read(ebm_replay_storage(rb), st);
    int ok = ebm_replay_size(rb) == 10 && ebm_replay_seen(rb) == 16;
    for (int id = 6; id < 16; id++)
        for (int c = 0; c < R; c++) ok &= st[(id % 10) * R + c] == (float)id + 0.1f * c;
    check(ok, "FIFO: after 16 pushes into 10 slots the newest 10 rows remain in order");
    /* 3. draws come from the buffer (reinit_prob 0) */
    ebm_scope_begin(ctx);
    float d[3 * 200];
    ebm_tensor_read(ebm_replay_sample(rb, 200, &rd), d);
    int from = 0, seen_ids[16] = {0};
    for (int r = 0; r < 200; r++) {
        int id = (int)d[r * R];
        if (id >= 6 && id < 16 && d[r * R + 1] == (float)id + 0.1f && d[r * R + 2] == (float)id + 0.2f) {
            from++;
            seen_ids[id] = 1;
        }
    }
    int distinct = 0;
    for (int i = 6; i < 16; i++) distinct += seen_ids[i];
    snprintf(msg, sizeof msg, "draws are stored rows: %d of 200, covering %d of 10 slots", from, distinct);
    check(from == 200 && distinct == 10, msg);
    ebm_scope_end(ctx);
    ebm_replay_free(rb);
    /* 4. re-initialisation rate */
    rb = ebm_replay_new(ctx, 1, &R, &(ebm_replay_cfg_t){.capacity = 10, .reinit_prob = 0.3f, .init_lo = 100, .init_hi = 200});
    ebm_scope_begin(ctx);
    ebm_replay_push(rb, ebm_tensor_zeros(ctx, 2, (int[]){10, R}), &rd);
    const int B = 4000;
    float *big = malloc(sizeof(float) * B * R);
    ebm_tensor_read(ebm_replay_sample(rb, B, &rd), big);
    int fresh = 0;
    for (int r = 0; r < B; r++) fresh += big[r * R] >= 100.0f;
    double sd = sqrt(B * 0.3 * 0.7);
    snprintf(msg, sizeof msg, "re-initialised rows: %d of %d (expect %.0f +- %.0f)", fresh, B, 0.3 * B, 5 * sd);
    check(fabs(fresh - 0.3 * B) < 5 * sd, msg);
    free(big);
    /* shape mismatch */
    ebm_status_t e = ebm_replay_push(rb, ebm_tensor_zeros(ctx, 2, (int[]){4, R + 1}), &rd);
    check_msg(e == EBM_STATUS_SHAPE, "pushing rows of the wrong size: EBM_STATUS_SHAPE", ebm_ctx_error(ctx));
    ebm_ctx_clear_error(ctx);
    ebm_scope_end(ctx);
    ebm_replay_free(rb);
    /* 5. reservoir: 1000 rows into 100 slots; every row is kept with probability 0.1 */
    rb = ebm_replay_new(ctx, 1, &R, &(ebm_replay_cfg_t){.capacity = 100, .reservoir = 1, .init_lo = 0, .init_hi = 1});
    for (int b = 0; b < 100; b++) {
        float rows[10 * 3];
        for (int r = 0; r < 10; r++)
            for (int c = 0; c < R; c++) rows[r * R + c] = (float)(10 * b + r);
        ebm_scope_begin(ctx);
        ebm_replay_push(rb, ebm_tensor_from_host(ctx, 2, (int[]){10, R}, rows), &rd);
        ebm_scope_end(ctx);
    }
    float res[300];
    ebm_tensor_read(ebm_replay_storage(rb), res);
    int early = 0, uniq = 1;
    for (int i = 0; i < 100; i++) {
        early += res[i * R] < 500;
        for (int j = 0; j < i; j++) uniq &= res[j * R] != res[i * R];
    }
    /* hypergeometric: 100 kept of 1000, half of them early: sd = sqrt(100 * 0.5 * 0.5 * 900/999) */
    sd = sqrt(100 * 0.25 * 900.0 / 999.0);
    snprintf(msg, sizeof msg, "reservoir: %d of 100 kept rows come from the first half (expect 50 +- %.0f); all distinct", early, 5 * sd);
    check(ebm_replay_size(rb) == 100 && ebm_replay_seen(rb) == 1000 && uniq && fabs(early - 50.0) < 5 * sd, msg);
    ebm_replay_free(rb);
    /* 6. 8-bit storage on [-1, 3]: codes floor(256 (x + 1) / 4) clamped; draws land in the code's bin,
     * uniformly; export gives the codes, import restores them; a quarter of the float memory */
    {
        const int Q = 64;
        ebm_replay_cfg_t c8 = {.capacity = 4, .init_lo = -1, .init_hi = 3, .uint8 = 1};
        ebm_replay_t *q8 = ebm_replay_new(ctx, 1, &Q, &c8);
        float rows[4 * 64], out[400 * 64], codes[4 * 64];
        ebm_rng_t rq = ebm_rng_make(11, 0);
        ebm_rng_host_uniform(&rq, rows, 4 * Q);
        for (int i = 0; i < 4 * Q; i++) rows[i] = -1.5f + 5.0f * rows[i];   /* some outside [lo, hi]: clamped */
        rows[0] = -1, rows[1] = 3, rows[2] = NAN;
        ebm_scope_begin(ctx);
        ebm_replay_push(q8, ebm_tensor_from_host(ctx, 2, (int[]){4, Q}, rows), &rq);
        ebm_tensor_t *ex = ebm_replay_export(q8);
        int ok8 = ex && ebm_tensor_read(ex, codes) == EBM_OK;
        for (int i = 0; ok8 && i < 4 * Q; i++) {
            double k = isnan(rows[i]) ? 0 : fmin(fmax(floor(256.0 * (rows[i] + 1.0) / 4.0), 0), 255);
            ok8 &= codes[i] == (float)k;
        }
        check(ok8, "8-bit storage: codes floor(256 (x - lo) / (hi - lo)), clamped to [0, 255], NaN -> 0");
        ok8 = ebm_tensor_read(ebm_replay_sample(q8, 400, &rq), out) == EBM_OK;
        double sum = 0;
        int nin = 0;
        for (int r = 0; ok8 && r < 400; r++) {
            /* which stored row? match the codes of its first 8 values */
            int row = -1;
            for (int s8 = 0; s8 < 4 && row < 0; s8++) {
                int m = 1;
                for (int i = 0; i < 8; i++) m &= (int)floor((out[r * Q + i] + 1.0) / 4.0 * 256.0) == (int)codes[s8 * Q + i];
                if (m) row = s8;
            }
            ok8 &= row >= 0;
            for (int i = 0; ok8 && i < Q; i++) {
                double pos = (out[r * Q + i] + 1.0) / 4.0 * 256.0 - codes[row * Q + i];   /* position inside the bin */
                ok8 &= pos >= -1e-3 && pos <= 1 + 1e-3;
                sum += pos, nin++;
            }
        }
        double mean = nin ? sum / nin : 0, sdm = sqrt(1.0 / 12 / (nin ? nin : 1));
        snprintf(msg, sizeof msg, "8-bit draws lie in their code's bin, mean position %.4f (expect 0.5 +- %.4f)", mean, 5 * sdm);
        check(ok8 && fabs(mean - 0.5) < 5 * sdm, msg);
        ebm_replay_t *q8b = ebm_replay_new(ctx, 1, &Q, &c8);
        float back[4 * 64];
        ok8 = ebm_replay_import(q8b, ex) == EBM_OK && ebm_tensor_read(ebm_replay_export(q8b), back) == EBM_OK && !memcmp(back, codes, sizeof back);
        check(ok8, "8-bit export -> import round trip");
        codes[5] = 256;
        ebm_tensor_t *badc = ebm_tensor_from_host(ctx, 2, (int[]){4, Q}, codes);
        snprintf(msg, sizeof msg, "%s", "");
        ebm_status_t st8 = ebm_replay_import(q8b, badc);
        check_msg(st8 == EBM_STATUS_FORMAT && strstr(ebm_ctx_error(ctx), "256"), "importing a code outside [0, 255] is an error", ebm_ctx_error(ctx));
        ebm_ctx_clear_error(ctx);
        snprintf(msg, sizeof msg, "8-bit storage takes %zu bytes for %d values", ebm_replay_bytes(q8b), 4 * Q);
        check(ebm_replay_bytes(q8b) == (size_t)4 * Q && ebm_replay_storage(q8b) == NULL, msg);
        ebm_scope_end(ctx);
        ebm_replay_free(q8);
        ebm_replay_free(q8b);
    }
    ebm_ctx_free(ctx);
    return test_summary();
}
