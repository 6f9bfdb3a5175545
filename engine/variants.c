/* variants.c — the one list of kernel programs the engine builds: every cl/ file of kernels.def
 * as is, and every -D variant the ops ask ebm_kernel_variant for, generated from the constants
 * the ops use. ebm_kernel_variant refuses a variant missing here; tests/kernel_sources.c writes
 * each one out for the offline strict compile (tests/strict_kernels.sh). */
#include <stdio.h>
#include <string.h>
#include "internal.h"

struct ebm_cl_source { const char *name; const char *text; size_t len; };
extern const struct ebm_cl_source ebm_cl_sources[];   /* generated: cmake/embed_cl.cmake */

static const char *const kernel_files[EBM_K_COUNT] = {
#define EBM_KERNEL(id, file, name) [id] = file,
#include "kernels.def"
#undef EBM_KERNEL
};

void ebm_kernel_variants_each(void (*fn)(const char *file, const char *defines, void *user), void *user) {
    for (int i = 0; i < EBM_K_COUNT; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = !strcmp(kernel_files[j], kernel_files[i]);
        if (!seen) fn(kernel_files[i], "", user);
    }
    char d[EBM_UNARY_DEFINES_SIZE];
    for (int f = 0; f < EBM_FN_COUNT; f++)   /* engine/ops/elementwise.c: unary_impl */
        for (int order = 0; order <= EBM_FN_MAX_ORDER; order++) {
            snprintf(d, sizeof d, EBM_UNARY_DEFINES, ebm_fn_names[f], order);
            fn("elementwise.cl", d, user);
        }
    for (int f = 0; f < EBM_FN_COUNT; f++) {   /* engine/ops/linalg.c, conv.c: activations and their derivatives */
        snprintf(d, sizeof d, EBM_UNARY_DEFINES, ebm_fn_names[f], 0);
        fn("gemm.cl", d, user);
        fn("conv.cl", d, user);
    }
    for (int op = 0; op < EBM_OP_COUNT; op++) {   /* engine/ops/elementwise.c: binary_impl */
        snprintf(d, sizeof d, EBM_BINARY_DEFINES, op);
        fn("elementwise.cl", d, user);
    }
    fn("rng.cl", EBM_RB_U8_DEFINES, user);   /* engine/replay.c */
}

const char *ebm_kernel_file(ebm_kernel_id_t id) { return kernel_files[id]; }

struct lookup { const char *file, *defines; int found; };

static void match(const char *file, const char *defines, void *user) {
    struct lookup *l = user;
    if (!strcmp(file, l->file) && !strcmp(defines, l->defines)) l->found = 1;
}

int ebm_kernel_variant_listed(const char *file, const char *defines) {
    struct lookup l = {file, defines, 0};
    ebm_kernel_variants_each(match, &l);
    return l.found;
}

const char *ebm_cl_embedded(const char *file, size_t *len) {
    for (const struct ebm_cl_source *s = ebm_cl_sources; s->name; s++)
        if (!strcmp(s->name, file)) {
            *len = s->len;
            return s->text;
        }
    return NULL;
}
