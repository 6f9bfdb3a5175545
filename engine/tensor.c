/* tensor.c — device buffer pool, tensors, scopes and flat parameter storage. */
#include <stdio.h>
#include <string.h>
#include "internal.h"

/* ------------------------------------------------------------------------------------------ */
/* pool: size classes of 1/4 octave above 256 bytes, free lists per class                      */
/*
 * EBM_EXACT_BUFFERS=1 (for memory checkers; tests/oclgrind.sh): every tensor gets a buffer of
 * exactly its size, which the pool never hands to another tensor (it is released when its tensor
 * is); no guards; host writes and copies into part of a buffer go through the copy kernel. An
 * access one element past a tensor is then out of bounds for the checker too (not past a
 * parameter: parameters are views of one flat buffer, ebm_params_finalize).
 *
 * EBM_EXACT_BUFFERS=retire also keeps every buffer until the context ends, so that no later buffer
 * takes its place. A checker that tracks which bytes were written per cl_mem then sees each op's
 * output as the fresh, unwritten memory it stands for, and a read of a part that no kernel wrote
 * shows as what it is in the pooled engine: a read of whatever an earlier tensor left there.
 * Oclgrind 21.10's --uninitialized needs all of it: its shadow memory outlives a released buffer
 * (the next buffer with that buffer number inherits it), and a host write, fill or copy replaces
 * the shadow of the whole buffer by one the size of that write, defined only when it starts at
 * offset 0 (src/plugins/Uninitialized.cpp, hostMemoryStore). Retiring has a price there: Oclgrind's
 * race detector clears its record of every byte of every live buffer after each kernel, so a long
 * run's kernels get slower as the retired buffers add up (RaceDetector::kernelEnd). */

static int size_class(size_t bytes, size_t *rounded) {
    size_t s = 256;
    int cls = 0;
    while (s < bytes) {   /* octaves */
        s <<= 1;
        cls += 4;
    }
    if (cls > 0) {        /* quarter steps inside the octave [s/2, s] */
        size_t lo = s >> 1;
        for (int q = 1; q <= 4; q++) {
            size_t c = lo + (lo >> 2) * q;
            if (c >= bytes) {
                *rounded = c;
                return cls - 4 + q;
            }
        }
    }
    *rounded = s;
    return cls;
}

/* A request takes a cached buffer of its class, else of the next classes up to twice its size
 * (POOL_FIT_UP quarter octaves), before it makes a new one. Without that, a run whose phases use
 * different sizes (the Langevin chain's, the training step's, an algorithm measurement's) holds
 * every phase's buffers at once: cifar32 on PoCL held 754 MiB for a live peak of 544, and took
 * 641 with the larger buffers reused (peak RSS 965 -> 856 MiB). */
#define POOL_FIT_UP 4

static ebm_block_t *pool_get(ebm_ctx_t *ctx, size_t bytes) {
    size_t rounded;
    int cls = size_class(bytes ? bytes : 4, &rounded);
    ebm_pool_t *p = &ctx->pool;
    if (ebm_env()->exact_buffers) rounded = bytes ? bytes : 4, cls = EBM_POOL_CLASSES;   /* no free list */
    int take = -1;
    for (int c = cls; c < EBM_POOL_CLASSES && c <= cls + POOL_FIT_UP && take < 0; c++)
        if (p->free_n[c] > 0) take = c;
    if (take >= 0) {
        ebm_block_t *b = p->free_lists[take][--p->free_n[take]];
        p->cached_bytes -= b->bytes;
        p->live_bytes += b->bytes;
        if (p->live_bytes > p->peak_live) p->peak_live = p->live_bytes;
        return b;
    }
    if (rounded > ctx->info.max_alloc && ctx->info.max_alloc) {
        ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "a buffer of %zu bytes exceeds the device's largest allocation (%llu bytes) on %s",
                 bytes, ctx->info.max_alloc, ctx->info.name);
        return NULL;
    }
    cl_int e;
    cl_mem m = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, rounded, NULL, &e);
    if (e != CL_SUCCESS) {
        if (p->cached_bytes) {   /* give cached buffers back and try once more */
            ebm_pool_trim(ctx);
            m = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, rounded, NULL, &e);
        }
        if (e != CL_SUCCESS) {
            ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "cannot allocate %zu bytes on %s: %s", rounded, ctx->info.name,
                     ebm_cl_error_name(e));
            return NULL;
        }
    }
    ebm_block_t *b = malloc(sizeof *b);
    if (!b) {
        clReleaseMemObject(m);
        ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
        return NULL;
    }
    b->mem = m;
    b->bytes = rounded;
    b->cls = cls;
    p->live_bytes += rounded;
    p->n_allocs++;
    if (p->live_bytes > p->peak_live) p->peak_live = p->live_bytes;
    if (p->live_bytes + p->cached_bytes > p->peak_held) p->peak_held = p->live_bytes + p->cached_bytes;
    return b;
}

static void pool_put(ebm_ctx_t *ctx, ebm_block_t *b) {
    ebm_pool_t *p = &ctx->pool;
    p->live_bytes -= b->bytes;
    if (b->cls < EBM_POOL_CLASSES) {
        if (p->free_n[b->cls] == p->free_cap[b->cls]) {
            int cap = p->free_cap[b->cls] ? p->free_cap[b->cls] * 2 : 8;
            ebm_block_t **l = realloc(p->free_lists[b->cls], cap * sizeof *l);
            if (l) {
                p->free_lists[b->cls] = l;
                p->free_cap[b->cls] = cap;
            }
        }
        if (p->free_n[b->cls] < p->free_cap[b->cls]) {
            p->free_lists[b->cls][p->free_n[b->cls]++] = b;
            p->cached_bytes += b->bytes;
            return;
        }
    }
    ebm_buffer_release(ctx, b->mem);
    free(b);
}

void ebm_buffer_release(ebm_ctx_t *ctx, cl_mem m) {
    ebm_pool_t *p = &ctx->pool;
    if (ebm_env()->exact_buffers == 2) {   /* retire: kept until the context ends, no later buffer takes its place */
        if (p->n_retired == p->cap_retired) {
            cl_mem *r = ebm_grow_array(p->retired, &p->cap_retired, sizeof *r, 64);
            if (r) p->retired = r;
        }
        if (p->n_retired < p->cap_retired) {
            p->retired[p->n_retired++] = m;
            return;
        }
    }
    clReleaseMemObject(m);
}

void ebm_pool_trim(ebm_ctx_t *ctx) {
    ebm_pool_t *p = &ctx->pool;
    for (int c = 0; c < EBM_POOL_CLASSES; c++) {
        for (int i = 0; i < p->free_n[c]; i++) {
            clReleaseMemObject(p->free_lists[c][i]->mem);
            free(p->free_lists[c][i]);
        }
        p->free_n[c] = 0;
    }
    p->cached_bytes = 0;
}

void ebm_pool_stats(const ebm_ctx_t *ctx, size_t *live, size_t *cached, size_t *n_allocs) {
    if (live) *live = ctx->pool.live_bytes;
    if (cached) *cached = ctx->pool.cached_bytes;
    if (n_allocs) *n_allocs = ctx->pool.n_allocs;
}

void ebm_pool_peak(const ebm_ctx_t *ctx, size_t *peak_live, size_t *peak_held) {
    if (peak_live) *peak_live = ctx->pool.peak_live;
    if (peak_held) *peak_held = ctx->pool.peak_held;
}

void ebm_pool_peak_reset(ebm_ctx_t *ctx) {
    ctx->pool.peak_live = ctx->pool.live_bytes;
    ctx->pool.peak_held = ctx->pool.live_bytes + ctx->pool.cached_bytes;
}

/* ------------------------------------------------------------------------------------------ */
/* scopes                                                                                     */

static void scope_add(ebm_ctx_t *ctx, ebm_tensor_t *t, int depth) {
    ebm_scope_list_t *s = &ctx->scopes[depth];
    if (s->n == s->cap) {
        ebm_tensor_t **items = ebm_grow_array(s->items, &s->cap, sizeof *items, 64);
        EBM_ASSERT(items);
        s->items = items;
    }
    t->scope = depth;
    t->scope_slot = s->n;
    s->items[s->n++] = t;
}

static void tensor_destroy(ebm_tensor_t *t) {
    if (t->block) pool_put(t->ctx, t->block);
    free(t->node);
    free(t);
}

void ebm_scope_begin(ebm_ctx_t *ctx) {
    EBM_ASSERT(ctx->depth < EBM_MAX_SCOPES);
    ctx->depth++;
    ctx->scopes[ctx->depth].n = 0;
}

static void detach_in_place(ebm_tensor_t *t) {
    free(t->node);
    t->node = NULL;
}

void ebm_scope_end(ebm_ctx_t *ctx) {
    EBM_ASSERT(ctx->depth > 0);
    ebm_scope_list_t *s = &ctx->scopes[ctx->depth];
    /* kept views keep their storage owners (owners in outer scopes outlive this one anyway) */
    for (int i = 0; i < s->n; i++) {
        ebm_tensor_t *t = s->items[i];
        if (t && t->keep)
            for (ebm_tensor_t *b = t->base; b; b = b->base)
                if (b->scope == ctx->depth) b->keep = 1;
    }
    for (int i = 0; i < s->n; i++) {
        ebm_tensor_t *t = s->items[i];
        if (!t) continue;
        if (t->keep) {
            t->keep = 0;
            detach_in_place(t);
            scope_add(ctx, t, ctx->depth - 1);
        } else {
            tensor_destroy(t);
        }
    }
    s->n = 0;
    ctx->depth--;
}

int ebm_scope_depth(const ebm_ctx_t *ctx) { return ctx->depth; }

void ebm_pool_release_all(ebm_ctx_t *ctx);
void ebm_pool_release_all(ebm_ctx_t *ctx) {
    while (ctx->depth > 0) ebm_scope_end(ctx);
    ebm_scope_list_t *s = &ctx->scopes[0];
    for (int i = 0; i < s->n; i++)
        if (s->items[i]) tensor_destroy(s->items[i]);
    for (int d = 0; d <= EBM_MAX_SCOPES; d++) free(ctx->scopes[d].items);
    ebm_pool_trim(ctx);
    for (int c = 0; c < EBM_POOL_CLASSES; c++) free(ctx->pool.free_lists[c]);
    for (int i = 0; i < ctx->pool.n_retired; i++) clReleaseMemObject(ctx->pool.retired[i]);
    free(ctx->pool.retired);
}

/* ------------------------------------------------------------------------------------------ */
/* tensors                                                                                    */

size_t ebm_shape_numel(int ndim, const int *shape) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    return n;
}

int ebm_shape_eq(int na, const int *a, int nb, const int *b) {
    if (na != nb) return 0;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static ebm_tensor_t *tensor_alloc_struct(ebm_ctx_t *ctx, int ndim, const int *shape) {
    if (ctx->status != EBM_OK) return NULL;
    if (ndim < 1 || ndim > EBM_MAX_DIMS) {
        ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "tensors have 1 to %d dimensions, not %d", EBM_MAX_DIMS, ndim);
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) {
            ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "dimension %d has size %d (must be positive)", i, shape[i]);
            return NULL;
        }
    }
    ebm_tensor_t *t = calloc(1, sizeof *t);
    if (!t) {
        ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
        return NULL;
    }
    t->ctx = ctx;
    t->ndim = ndim;
    memcpy(t->shape, shape, ndim * sizeof(int));
    t->numel = ebm_shape_numel(ndim, shape);
    return t;
}

#define GUARD_BITS 0x7fc0deadu   /* a quiet NaN no kernel produces by accident */

ebm_tensor_t *ebm_tensor_new(ebm_ctx_t *ctx, int ndim, const int *shape) {
    ebm_tensor_t *t = tensor_alloc_struct(ctx, ndim, shape);
    if (!t) return NULL;
    size_t guard = ctx->guards && !ebm_env()->exact_buffers ? EBM_GUARD_FLOATS : 0;
    t->block = pool_get(ctx, (t->numel + guard) * sizeof(float));
    if (!t->block) {
        free(t);
        return NULL;
    }
    t->buf = t->block->mem;
    if (guard) {
        cl_uint pattern = GUARD_BITS;
        size_t off = t->numel * sizeof(float), len = t->block->bytes - off;
        cl_int e = clEnqueueFillBuffer(ctx->queue, t->buf, &pattern, sizeof pattern, off, len & ~(size_t)3, 0, NULL, NULL);
        if (e != CL_SUCCESS) ebm_cl_fail(ctx, e, "clEnqueueFillBuffer (guard)");
    }
    scope_add(ctx, t, ctx->depth);
    return t;
}

ebm_tensor_t *ebm_tensor_view(ebm_tensor_t *base, int ndim, const int *shape, size_t off) {
    if (!base) return NULL;
    ebm_tensor_t *t = tensor_alloc_struct(base->ctx, ndim, shape);
    if (!t) return NULL;
    t->buf = base->buf;
    t->off = off;
    t->base = base->block ? base : base->base;
    scope_add(base->ctx, t, base->ctx->depth);
    return t;
}

ebm_tensor_t *ebm_tensor_like(ebm_tensor_t *x) {
    return x ? ebm_tensor_new(x->ctx, x->ndim, x->shape) : NULL;
}

ebm_tensor_t *ebm_tensor_zeros_unscoped(ebm_ctx_t *ctx, int ndim, const int *shape) {
    int saved = ctx->depth;
    ctx->depth = 0;
    ebm_tensor_t *t = ebm_tensor_zeros(ctx, ndim, shape);
    ctx->depth = saved;
    return t;
}

ebm_tensor_t *ebm_tensor_zeros(ebm_ctx_t *ctx, int ndim, const int *shape) {
    return ebm_tensor_full(ctx, ndim, shape, 0.0f);
}

ebm_tensor_t *ebm_tensor_full(ebm_ctx_t *ctx, int ndim, const int *shape, float value) {
    ebm_tensor_t *t = ebm_tensor_new(ctx, ndim, shape);
    if (t && ebm_tensor_fill(t, value) != EBM_OK) return NULL;
    return t;
}

ebm_status_t ebm_fill_range(ebm_ctx_t *ctx, cl_mem buf, size_t off, size_t n, float value) {
    cl_kernel k = ebm_kernel(ctx, EBM_K_FILL);
    if (!k) return ctx->status;
    if (ebm_kargs(ctx, k, "mlfl", buf, off, (double)value, n) != EBM_OK) return ctx->status;
    return ebm_launch1(ctx, k, n);
}

ebm_status_t ebm_tensor_fill(ebm_tensor_t *t, float value) {
    if (!t) return EBM_STATUS_INVALID_ARGUMENT;
    return ebm_fill_range(t->ctx, t->buf, t->off, t->numel, value);
}

ebm_tensor_t *ebm_tensor_from_host(ebm_ctx_t *ctx, int ndim, const int *shape, const float *data) {
    ebm_tensor_t *t = ebm_tensor_new(ctx, ndim, shape);
    if (t && ebm_tensor_write(t, data) != EBM_OK) return NULL;
    return t;
}

ebm_status_t ebm_tensor_read(const ebm_tensor_t *t, float *host) {
    if (!t) return EBM_STATUS_INVALID_ARGUMENT;
    ebm_ctx_t *ctx = t->ctx;
    if (ctx->status != EBM_OK) return ctx->status;
    EBM_CL(ctx, clEnqueueReadBuffer(ctx->queue, t->buf, CL_TRUE, t->off * sizeof(float), t->numel * sizeof(float), host,
                                    0, NULL, NULL));
    return EBM_OK;
}

/* EBM_EXACT_BUFFERS: dst (elements doff..) = src (soff..), n elements, by the copy kernel */
static ebm_status_t copy_by_kernel(ebm_ctx_t *ctx, cl_mem dst, size_t doff, cl_mem src, size_t soff, size_t n) {
    const long str[4] = {0, 0, 0, 1};
    return ebm_copy_strided(ctx, (int[]){1, 1, 1, (int)n}, dst, doff, str, src, soff, str);
}

ebm_status_t ebm_tensor_write(ebm_tensor_t *t, const float *host) {
    if (!t) return EBM_STATUS_INVALID_ARGUMENT;
    ebm_ctx_t *ctx = t->ctx;
    if (ctx->status != EBM_OK) return ctx->status;
    if (ebm_env()->exact_buffers && !(t->block && t->off == 0)) {   /* part of a buffer: through a whole one */
        ebm_tensor_t *s = ebm_tensor_new(ctx, 1, (int[]){(int)t->numel});
        if (!s || ebm_tensor_write(s, host) != EBM_OK || copy_by_kernel(ctx, t->buf, t->off, s->buf, 0, t->numel) != EBM_OK)
            return ctx->status;
        ebm_tensor_free(s);
        return EBM_OK;
    }
    EBM_CL(ctx, clEnqueueWriteBuffer(ctx->queue, t->buf, CL_TRUE, t->off * sizeof(float), t->numel * sizeof(float), host,
                                     0, NULL, NULL));
    return EBM_OK;
}

ebm_status_t ebm_tensor_copy_into(ebm_tensor_t *dst, const ebm_tensor_t *src) {
    if (!dst || !src) return dst ? dst->ctx->status : EBM_STATUS_INVALID_ARGUMENT;
    ebm_ctx_t *ctx = dst->ctx;
    if (ctx->status != EBM_OK) return ctx->status;
    if (dst->numel != src->numel)
        return ebm_fail(ctx, EBM_STATUS_SHAPE, "copy of %zu elements into a tensor of %zu", src->numel, dst->numel);
    if (ebm_env()->exact_buffers) return copy_by_kernel(ctx, dst->buf, dst->off, src->buf, src->off, src->numel);
    EBM_CL(ctx, clEnqueueCopyBuffer(ctx->queue, src->buf, dst->buf, src->off * sizeof(float), dst->off * sizeof(float),
                                    src->numel * sizeof(float), 0, NULL, ebm_profile_event(ctx, "copy")));
    return EBM_OK;
}

ebm_tensor_t *ebm_tensor_clone(const ebm_tensor_t *t) {
    if (!t) return NULL;
    ebm_tensor_t *c = ebm_tensor_new(t->ctx, t->ndim, t->shape);
    if (c && ebm_tensor_copy_into(c, t) != EBM_OK) return NULL;
    return c;
}

ebm_ctx_t *ebm_tensor_ctx(const ebm_tensor_t *t) { return t ? t->ctx : NULL; }
int ebm_tensor_ndim(const ebm_tensor_t *t) { return t ? t->ndim : 0; }
const int *ebm_tensor_shape(const ebm_tensor_t *t) { return t->shape; }
size_t ebm_tensor_numel(const ebm_tensor_t *t) { return t ? t->numel : 0; }

int ebm_tensor_dim(const ebm_tensor_t *t, int axis) {
    if (!t) return 0;
    if (axis < 0) axis += t->ndim;
    return (axis >= 0 && axis < t->ndim) ? t->shape[axis] : 1;
}

const char *ebm_tensor_shape_str(const ebm_tensor_t *t, char *buf, size_t n) {
    if (!t) {
        snprintf(buf, n, "(null)");
        return buf;
    }
    size_t len = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < t->ndim && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, i ? ", %d" : "%d", t->shape[i]);
    if (len < n) snprintf(buf + len, n - len, ")");
    return buf;
}

void ebm_tensor_set_requires_grad(ebm_tensor_t *t, int on) {
    if (t) t->requires_grad = on ? 1 : 0;
}

int ebm_tensor_requires_grad(const ebm_tensor_t *t) { return t && t->requires_grad; }

int ebm_tensor_live_requires_grad(const ebm_tensor_t *t) {
    if (!t) return 0;
    if (t->is_param && t->ctx->params_frozen) return 0;
    return t->requires_grad || t->node != NULL;
}

void ebm_tensor_free(ebm_tensor_t *t) {
    if (!t) return;
    ebm_scope_list_t *s = &t->ctx->scopes[t->scope];
    if (t->scope_slot < s->n && s->items[t->scope_slot] == t) s->items[t->scope_slot] = NULL;
    tensor_destroy(t);
}

void ebm_tensor_keep(ebm_tensor_t *t) {
    if (t) t->keep = 1;
}

void ebm_debug_set_guards(ebm_ctx_t *ctx, int on) { ctx->guards = on ? 1 : 0; }

int ebm_debug_check_guards(ebm_ctx_t *ctx) {
    int bad = 0;
    for (int d = 0; d <= ctx->depth; d++) {
        ebm_scope_list_t *s = &ctx->scopes[d];
        for (int i = 0; i < s->n; i++) {
            ebm_tensor_t *t = s->items[i];
            if (!t || !t->block) continue;
            size_t off = t->numel * sizeof(float), len = (t->block->bytes - off) & ~(size_t)3;
            if (len < EBM_GUARD_FLOATS * sizeof(float)) continue;   /* made before guards were on */
            cl_uint *g = malloc(len);
            if (!g) return -1;
            if (clEnqueueReadBuffer(ctx->queue, t->buf, CL_TRUE, off, len, g, 0, NULL, NULL) != CL_SUCCESS) {
                free(g);
                return -1;
            }
            for (size_t k = 0; k < len / 4; k++) {
                if (g[k] != GUARD_BITS) {
                    char sh[64];
                    ebm_log_message(EBM_LOG_ERROR, "guard overwritten %zu floats past the end of a tensor %s", k,
                                    ebm_tensor_shape_str(t, sh, sizeof sh));
                    bad++;
                    break;
                }
            }
            free(g);
        }
    }
    return bad;
}

/* ------------------------------------------------------------------------------------------ */
/* parameters                                                                                 */

struct ebm_params {
    ebm_ctx_t *ctx;
    int n, cap;
    char **names;
    ebm_tensor_t **vals, **grads;
    size_t total;
    ebm_tensor_t *flat, *flat_grad;
    int finalized;
};

ebm_params_t *ebm_params_new(ebm_ctx_t *ctx) {
    ebm_params_t *ps = calloc(1, sizeof *ps);
    if (!ps) {
        ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
        return NULL;
    }
    ps->ctx = ctx;
    return ps;
}

void ebm_params_free(ebm_params_t *ps) {
    if (!ps) return;
    for (int i = 0; i < ps->n; i++) {
        free(ps->names[i]);
        if (ps->finalized) {
            ebm_tensor_free(ps->vals[i]);
            ebm_tensor_free(ps->grads[i]);
        } else {
            free(ps->vals[i]);
        }
    }
    if (ps->flat) ebm_tensor_free(ps->flat);
    if (ps->flat_grad) ebm_tensor_free(ps->flat_grad);
    free(ps->names);
    free(ps->vals);
    free(ps->grads);
    free(ps);
}

ebm_tensor_t *ebm_params_add(ebm_params_t *ps, const char *name, int ndim, const int *shape) {
    ebm_ctx_t *ctx = ps->ctx;
    if (ps->finalized) {
        ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "parameter %s added after ebm_params_finalize", name);
        return NULL;
    }
    if (ebm_params_find(ps, name)) {
        ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "parameter %s registered twice", name);
        return NULL;
    }
    ebm_tensor_t *t = tensor_alloc_struct(ctx, ndim, shape);
    if (!t) return NULL;
    if (ps->n == ps->cap) {
        int cap = ps->cap ? ps->cap * 2 : 16;
        char **nn = realloc(ps->names, cap * sizeof *nn);
        if (nn) ps->names = nn;
        ebm_tensor_t **nv = realloc(ps->vals, cap * sizeof *nv);
        if (nv) ps->vals = nv;
        ebm_tensor_t **ng = realloc(ps->grads, cap * sizeof *ng);
        if (ng) ps->grads = ng;
        if (!nn || !nv || !ng) {
            free(t);
            ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
            return NULL;
        }
        ps->cap = cap;
    }
    t->is_param = 1;
    t->requires_grad = 1;
    t->persistent = 1;
    t->off = ps->total;
    ps->total += (t->numel + 15) & ~(size_t)15;   /* 64-byte aligned offsets */
    ps->names[ps->n] = strdup(name);
    ps->vals[ps->n] = t;
    ps->grads[ps->n] = NULL;
    ps->n++;
    return t;
}

ebm_status_t ebm_params_finalize(ebm_params_t *ps) {
    ebm_ctx_t *ctx = ps->ctx;
    if (ps->finalized) return EBM_OK;
    if (ctx->status != EBM_OK) return ctx->status;
    /* parameter storage, and the views into it, live outside every scope */
    size_t total = ps->total ? ps->total : 1;
    ps->flat = ebm_tensor_zeros_unscoped(ctx, 1, (int[]){(int)total});
    ps->flat_grad = ebm_tensor_zeros_unscoped(ctx, 1, (int[]){(int)total});
    for (int i = 0; ps->flat && ps->flat_grad && i < ps->n; i++) {
        ebm_tensor_t *t = ps->vals[i], *g = tensor_alloc_struct(ctx, t->ndim, t->shape);
        if (!g) break;
        t->buf = ps->flat->buf;
        t->base = ps->flat;
        scope_add(ctx, t, 0);
        g->buf = ps->flat_grad->buf;
        g->off = t->off;
        g->base = ps->flat_grad;
        scope_add(ctx, g, 0);
        ps->grads[i] = g;
    }
    if (ctx->status == EBM_OK) ps->finalized = 1;
    return ctx->status;
}

int ebm_params_count(const ebm_params_t *ps) { return ps->n; }
ebm_tensor_t *ebm_params_get(const ebm_params_t *ps, int i) { return ps->vals[i]; }
const char *ebm_params_name(const ebm_params_t *ps, int i) { return ps->names[i]; }
ebm_tensor_t *ebm_params_grad(const ebm_params_t *ps, int i) { return ps->grads[i]; }
size_t ebm_params_numel(const ebm_params_t *ps) { return ps->total; }
ebm_tensor_t *ebm_params_flat(const ebm_params_t *ps) { return ps->flat; }
ebm_tensor_t *ebm_params_flat_grad(const ebm_params_t *ps) { return ps->flat_grad; }

ebm_tensor_t *ebm_params_find(const ebm_params_t *ps, const char *name) {
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->names[i], name)) return ps->vals[i];
    return NULL;
}

ebm_status_t ebm_params_zero_grad(ebm_params_t *ps) {
    if (!ps->finalized) return ebm_fail(ps->ctx, EBM_STATUS_INVALID_ARGUMENT, "parameters not finalized");
    return ebm_tensor_fill(ps->flat_grad, 0.0f);
}

ebm_status_t ebm_params_backward(ebm_params_t *ps, ebm_tensor_t *loss) {
    ebm_ctx_t *ctx = ps->ctx;
    if (!loss) return ctx->status != EBM_OK ? ctx->status : ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "loss is NULL");
    if (!ps->finalized) return ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "parameters not finalized");
    ebm_scope_begin(ctx);
    ebm_tensor_t **g = calloc(ps->n ? ps->n : 1, sizeof *g);
    ebm_status_t st = g ? ebm_grad(&loss, 1, NULL, ps->vals, ps->n, g, EBM_GRAD_ALLOW_UNUSED) : EBM_STATUS_OUT_OF_MEMORY;
    int was = ebm_grad_set_enabled(ctx, 0);
    for (int i = 0; st == EBM_OK && i < ps->n; i++) {
        if (!g[i]) continue;
        ebm_tensor_t *sum = ebm_add(ps->grads[i], g[i]);
        st = sum ? ebm_tensor_copy_into(ps->grads[i], sum) : ctx->status;
    }
    ebm_grad_set_enabled(ctx, was);
    free(g);
    ebm_scope_end(ctx);
    return st;
}
