/* kernel_sources.c — writes every kernel program as the engine builds it, for an offline compiler
 * (tests/strict_kernels.sh):
 *
 *   kernel_sources OUTDIR WG...
 *
 * OUTDIR/<file>       the program text of cl/<file> as the engine builds it (ebm_program_text:
 *                     common.cl, "\n#line 1 \"<file>\"\n", cl/<file>)
 * OUTDIR/variants.txt one line "<file>\t<options>" per program of engine/variants.c and work-group
 *                     size WG, the options as the engine gives them (ebm_program_options) to a
 *                     device with correctly rounded division and sqrt (the other devices get the
 *                     same line without -cl-fp32-correctly-rounded-divide-sqrt); gemm.cl's at
 *                     both tile row counts (EBM_TILE_ROWS 8 and 6), with and without streaming
 *                     stores and prefetches (EBM_STREAM_STORES and EBM_PREFETCH both 1, as on CPU
 *                     devices, and both 0); then each kernel of a file the engine builds one kernel
 *                     per program (gemm.cl: -DONE_KERNEL -DONLY_<name>, ebm_program_defines) alone,
 *                     with no defines and in the first -DFN variant, at the first work-group size,
 *                     8 tile rows, streaming stores and prefetches on: the whole file checks the
 *                     code, these that each kernel has what it needs without the others */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

struct out {
    const char *dir;
    FILE *list;
    int n_wg;
    char **wg;
    int n_programs, failed;
};

static int write_program(const char *dir, const char *file) {
    size_t len;
    char err[1400], path[1024];
    char *text = ebm_program_text(file, &len, err, sizeof err);
    if (!text) {
        fprintf(stderr, "kernel_sources: %s\n", err);
        return 0;
    }
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(text, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) perror(path);
    free(text);
    return ok;
}

static void add_variant(const char *file, const char *defines, void *user) {
    struct out *o = user;
    if (!defines[0] && !write_program(o->dir, file)) o->failed = 1;   /* each file comes first with no defines */
    /* gemm.cl's tile at both row counts the engine builds (EBM_TILE_ROWS: 8 on AVX-512 hosts, else 6),
     * each with and without streaming stores and prefetches (EBM_STREAM_STORES, EBM_PREFETCH: 1 on
     * CPU devices) */
    int gemm = !strcmp(file, "gemm.cl"), rows[2] = {8, 6}, n_rows = gemm ? 2 : 1, n_streams = gemm ? 2 : 1;
    for (int i = 0; i < o->n_wg; i++)
        for (int r = 0; r < n_rows; r++)
            for (int stream = 0; stream < n_streams; stream++) {
                char options[1024];
                ebm_program_options(options, sizeof options, (size_t)atol(o->wg[i]), 1, rows[r], stream, stream, defines);
                fprintf(o->list, "%s\t%s\n", file, options);
            }
    o->n_programs++;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: kernel_sources OUTDIR WG...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        char *end;
        long wg = strtol(argv[i], &end, 10);
        if (*end || wg < 1) {
            fprintf(stderr, "kernel_sources: bad work-group size %s\n", argv[i]);
            return 2;
        }
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/variants.txt", argv[1]);
    struct out o = {argv[1], fopen(path, "w"), argc - 2, argv + 2, 0, 0};
    if (!o.list) {
        perror(path);
        return 1;
    }
    ebm_kernel_variants_each(add_variant, &o);
    char fn_defines[EBM_UNARY_DEFINES_SIZE];
    snprintf(fn_defines, sizeof fn_defines, EBM_UNARY_DEFINES, ebm_fn_names[0], 0);
    const char *const each[2] = {"", fn_defines};
    int n_alone = 0;
    for (int id = 0; id < EBM_K_COUNT; id++)
        for (int v = 0; v < 2 && ebm_kernel_one_per_program((ebm_kernel_id_t)id); v++) {
            char one[EBM_PROGRAM_DEFINES_SIZE], options[1024];
            ebm_program_options(options, sizeof options, (size_t)atol(o.wg[0]), 1, 8, 1, 1,
                                ebm_program_defines((ebm_kernel_id_t)id, each[v], one));
            fprintf(o.list, "%s\t%s\n", ebm_kernel_file((ebm_kernel_id_t)id), options);
            n_alone++;
        }
    if (fclose(o.list) != 0) {
        perror(path);
        return 1;
    }
    if (o.failed) return 1;
    printf("kernel_sources: %d programs x %d work-group sizes, %d kernels alone, in %s\n", o.n_programs, o.n_wg, n_alone,
           path);
    return 0;
}
