/* replay.c — the device-resident replay buffer (ebm_replay.h). */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

struct ebm_replay {
    ebm_ctx_t *ctx;
    ebm_replay_cfg_t cfg;
    int ndim, shape[EBM_MAX_DIMS];   /* (capacity, sample shape) */
    int row_len;
    ebm_tensor_t *storage;
    cl_mem idx;                      /* int indices of the last draw or push */
    int idx_cap;
    int *host_idx;
    long size, pos, seen;
};

ebm_replay_t *ebm_replay_new(ebm_ctx_t *ctx, int ndim, const int *sample_shape, const ebm_replay_cfg_t *cfg) {
    if (ndim < 1 || ndim > EBM_MAX_DIMS - 1 || cfg->capacity < 1 || cfg->reinit_prob < 0 || cfg->reinit_prob > 1 ||
        !(cfg->init_hi > cfg->init_lo)) {
        ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT,
                 "replay buffer: capacity must be >= 1, reinit_prob in [0, 1], init_lo < init_hi, samples 1-3-D");
        return NULL;
    }
    ebm_replay_t *rb = calloc(1, sizeof *rb);
    if (!rb) return NULL;
    rb->ctx = ctx;
    rb->cfg = *cfg;
    rb->ndim = ndim + 1;
    rb->shape[0] = cfg->capacity;
    rb->row_len = 1;
    for (int i = 0; i < ndim; i++) {
        rb->shape[i + 1] = sample_shape[i];
        rb->row_len *= sample_shape[i];
    }
    /* outlives every scope; 8-bit codes are packed four to a float slot */
    size_t bytes = (size_t)cfg->capacity * rb->row_len;
    rb->storage = cfg->uint8 ? ebm_tensor_zeros_unscoped(ctx, 1, (int[]){(int)((bytes + 3) / 4)})
                             : ebm_tensor_zeros_unscoped(ctx, rb->ndim, rb->shape);
    if (!rb->storage) {
        free(rb);
        return NULL;
    }
    return rb;
}

void ebm_replay_free(ebm_replay_t *rb) {
    if (!rb) return;
    ebm_tensor_free(rb->storage);
    if (rb->idx) ebm_buffer_release(rb->ctx, rb->idx);
    free(rb->host_idx);
    free(rb);
}

static ebm_status_t upload_idx(ebm_replay_t *rb, int B) {
    ebm_ctx_t *ctx = rb->ctx;
    if (B > rb->idx_cap) {
        if (rb->idx) ebm_buffer_release(ctx, rb->idx);
        cl_int e;
        rb->idx = clCreateBuffer(ctx->context, CL_MEM_READ_ONLY, sizeof(int) * (size_t)B, NULL, &e);
        if (e != CL_SUCCESS) {
            rb->idx = NULL;
            rb->idx_cap = 0;
            return ebm_cl_fail(ctx, e, "replay buffer indices");
        }
        rb->idx_cap = B;
    }
    /* blocking: host_idx is reused by the next call */
    EBM_CL(ctx, clEnqueueWriteBuffer(ctx->queue, rb->idx, CL_TRUE, 0, sizeof(int) * (size_t)B, rb->host_idx, 0, NULL, NULL));
    return EBM_OK;
}

static int cl_ok(ebm_ctx_t *ctx, cl_int e, const char *what) { return e == CL_SUCCESS || (ebm_cl_fail(ctx, e, what), 0); }

static int *idx_array(ebm_replay_t *rb, int B) {
    int *p = realloc(rb->host_idx, sizeof(int) * (size_t)B);
    if (p) rb->host_idx = p;
    return p;
}

const int *ebm_replay_indices(const ebm_replay_t *rb) { return rb->host_idx; }

ebm_tensor_t *ebm_replay_sample(ebm_replay_t *rb, int B, ebm_rng_t *rng) {
    ebm_ctx_t *ctx = rb->ctx;
    if (ctx->status != EBM_OK || B < 1) return NULL;
    int *idx = idx_array(rb, B);
    float *u = malloc(sizeof(float) * 2 * (size_t)B);
    if (!idx || !u) {
        free(u);
        ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
        return NULL;
    }
    ebm_rng_host_uniform(rng, u, 2 * (size_t)B);
    for (int r = 0; r < B; r++) {
        int fresh = rb->size == 0 || u[2 * r] < rb->cfg.reinit_prob;
        long j = (long)(u[2 * r + 1] * (float)rb->size);
        idx[r] = fresh ? -1 : (int)(j < rb->size ? j : rb->size - 1);
    }
    free(u);
    int shape[EBM_MAX_DIMS];
    memcpy(shape, rb->shape, sizeof shape);
    shape[0] = B;
    ebm_tensor_t *y = ebm_tensor_new(ctx, rb->ndim, shape);
    cl_kernel k = rb->cfg.uint8 ? ebm_kernel_variant(ctx, EBM_K_ROWS_GATHER, EBM_RB_U8_DEFINES) : ebm_kernel(ctx, EBM_K_ROWS_GATHER);
    uint64_t c0;
    if (!y || !k || upload_idx(rb, B) != EBM_OK || !ebm_rng_claim(ctx, rng, (size_t)B * rb->row_len, &c0)) return NULL;
    if (ebm_kargs(ctx, k, "mmmiiffl" "ll", y->buf, rb->storage->buf, rb->idx, rb->row_len, B, (double)rb->cfg.init_lo,
                  (double)rb->cfg.init_hi, (size_t)rng->seed, (size_t)rng->stream, (size_t)c0) != EBM_OK ||
        ebm_launch3(ctx, k, (size_t)rb->row_len, (size_t)B, 1) != EBM_OK)
        return NULL;
    return y;
}

ebm_status_t ebm_replay_push(ebm_replay_t *rb, ebm_tensor_t *x, ebm_rng_t *rng) {
    ebm_ctx_t *ctx = rb->ctx;
    if (!x) return ctx->status != EBM_OK ? ctx->status : EBM_STATUS_INVALID_ARGUMENT;
    if (ctx->status != EBM_OK) return ctx->status;
    int B = x->shape[0];
    if (x->numel != (size_t)B * rb->row_len || x->ndim != rb->ndim) {
        char s[64];
        return ebm_fail(ctx, EBM_STATUS_SHAPE, "replay push: %s does not hold rows of %d values", ebm_tensor_shape_str(x, s, sizeof s),
                        rb->row_len);
    }
    int *slot = idx_array(rb, B);
    if (!slot) return ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
    long cap = rb->cfg.capacity;
    for (int r = 0; r < B; r++) {
        rb->seen++;
        if (!rb->cfg.reservoir) {
            slot[r] = (int)rb->pos;
            rb->pos = (rb->pos + 1) % cap;
            if (rb->size < cap) rb->size++;
        } else if (rb->size < cap) {
            slot[r] = (int)rb->size++;
        } else {   /* Algorithm R: keep the new row with probability cap / seen */
            float u;
            ebm_rng_host_uniform(rng, &u, 1);
            long j = (long)(u * (float)rb->seen);
            slot[r] = j < cap ? (int)j : -1;
        }
    }
    /* within one push, a later row to the same slot must win: drop earlier duplicates */
    for (int r = 0; r < B; r++)
        for (int q = r + 1; q < B && slot[r] >= 0; q++)
            if (slot[q] == slot[r]) slot[r] = -1;
    cl_kernel k = rb->cfg.uint8 ? ebm_kernel_variant(ctx, EBM_K_ROWS_SCATTER, EBM_RB_U8_DEFINES) : ebm_kernel(ctx, EBM_K_ROWS_SCATTER);
    if (!k || upload_idx(rb, B) != EBM_OK) return ctx->status;
    if (ebm_kargs(ctx, k, "mmlmiiff", rb->storage->buf, x->buf, x->off, rb->idx, rb->row_len, B, (double)rb->cfg.init_lo,
                  (double)rb->cfg.init_hi) != EBM_OK)
        return ctx->status;
    return ebm_launch3(ctx, k, (size_t)rb->row_len, (size_t)B, 1);
}

int ebm_replay_size(const ebm_replay_t *rb) { return (int)rb->size; }
long ebm_replay_seen(const ebm_replay_t *rb) { return rb->seen; }
int ebm_replay_capacity(const ebm_replay_t *rb) { return rb ? rb->shape[0] : 0; }

ebm_tensor_t *ebm_replay_storage(const ebm_replay_t *rb) { return rb->cfg.uint8 ? NULL : rb->storage; }

size_t ebm_replay_bytes(const ebm_replay_t *rb) { return rb->storage->numel * sizeof(float); }

ebm_tensor_t *ebm_replay_export(const ebm_replay_t *rb) {
    ebm_ctx_t *ctx = rb->ctx;
    if (ctx->status != EBM_OK) return NULL;
    if (!rb->cfg.uint8) return ebm_tensor_clone(rb->storage);
    size_t n = (size_t)rb->cfg.capacity * rb->row_len;
    unsigned char *b = malloc(n);
    float *f = malloc(sizeof(float) * n);
    ebm_tensor_t *t = NULL;
    if (!b || !f) ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
    else if (cl_ok(ctx, clEnqueueReadBuffer(ctx->queue, rb->storage->buf, CL_TRUE, rb->storage->off * sizeof(float), n, b, 0, NULL, NULL),
                   "reading the replay buffer")) {
        for (size_t i = 0; i < n; i++) f[i] = b[i];
        t = ebm_tensor_from_host(ctx, rb->ndim, rb->shape, f);
    }
    free(b);
    free(f);
    return t;
}

ebm_status_t ebm_replay_import(ebm_replay_t *rb, const ebm_tensor_t *t) {
    ebm_ctx_t *ctx = rb->ctx;
    if (!t) return ctx->status != EBM_OK ? ctx->status : EBM_STATUS_INVALID_ARGUMENT;
    size_t n = (size_t)rb->cfg.capacity * rb->row_len;
    if (t->numel != n) {
        char s[64];
        return ebm_fail(ctx, EBM_STATUS_SHAPE, "replay import: %s does not hold %d rows of %d values", ebm_tensor_shape_str(t, s, sizeof s),
                        rb->cfg.capacity, rb->row_len);
    }
    if (!rb->cfg.uint8) return ebm_tensor_copy_into(rb->storage, t);
    float *f = malloc(sizeof(float) * n);
    unsigned char *b = malloc(n);
    ebm_status_t st = f && b ? ebm_tensor_read(t, f) : ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
    for (size_t i = 0; st == EBM_OK && i < n; i++) {
        if (!(f[i] >= 0 && f[i] <= 255 && f[i] == (float)(int)f[i])) {
            st = ebm_fail(ctx, EBM_STATUS_FORMAT, "replay import: 8-bit code %g at element %zu is not an integer in [0, 255]", f[i], i);
            break;
        }
        b[i] = (unsigned char)f[i];
    }
    if (st == EBM_OK)
        st = cl_ok(ctx, clEnqueueWriteBuffer(ctx->queue, rb->storage->buf, CL_TRUE, rb->storage->off * sizeof(float), n, b, 0, NULL, NULL),
                   "writing the replay buffer")
                 ? EBM_OK
                 : ctx->status;
    free(f);
    free(b);
    return st;
}

void ebm_replay_state(const ebm_replay_t *rb, long *size, long *pos, long *seen) {
    if (size) *size = rb->size;
    if (pos) *pos = rb->pos;
    if (seen) *seen = rb->seen;
}

void ebm_replay_set_state(ebm_replay_t *rb, long size, long pos, long seen) {
    rb->size = size < 0 ? 0 : (size > rb->cfg.capacity ? rb->cfg.capacity : size);
    rb->pos = pos < 0 ? 0 : pos % rb->cfg.capacity;
    rb->seen = seen < rb->size ? rb->size : seen;
}
