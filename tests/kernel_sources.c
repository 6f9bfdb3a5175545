/* kernel_sources.c — writes every kernel program as the engine builds it, for an offline compiler
 * (tests/strict_kernels.sh):
 *
 *   kernel_sources OUTDIR WG...
 *
 * OUTDIR/<file>       the program text of cl/<file>: the embedded common.cl, "\n#line 1 \"<file>\"\n",
 *                     the embedded cl/<file> (as get_program in engine/device.c puts them together)
 * OUTDIR/variants.txt one line "<file>\t<options>" per program of engine/variants.c and work-group
 *                     size WG, the options as build_program in engine/device.c writes them for a
 *                     device with correctly rounded division and sqrt (the other devices get the
 *                     same line without -cl-fp32-correctly-rounded-divide-sqrt) */
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
    size_t lc, lf;
    const char *common = ebm_cl_embedded("common.cl", &lc), *body = ebm_cl_embedded(file, &lf);
    if (!common || !body) {
        fprintf(stderr, "kernel_sources: %s is not embedded in this build\n", body ? "common.cl" : file);
        return 0;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 0;
    }
    fwrite(common, 1, lc, f);
    fprintf(f, "\n#line 1 \"%s\"\n", file);
    fwrite(body, 1, lf, f);
    if (fclose(f) != 0) {
        perror(path);
        return 0;
    }
    return 1;
}

static void add_variant(const char *file, const char *defines, void *user) {
    struct out *o = user;
    if (!defines[0] && !write_program(o->dir, file)) o->failed = 1;   /* each file comes first with no defines */
    for (int i = 0; i < o->n_wg; i++)
        fprintf(o->list, "%s\t-cl-std=CL1.2 -DEBM_WG=%s -cl-fp32-correctly-rounded-divide-sqrt%s%s\n", file, o->wg[i],
                defines[0] ? " " : "", defines);
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
    if (fclose(o.list) != 0) {
        perror(path);
        return 1;
    }
    if (o.failed) return 1;
    printf("kernel_sources: %d programs x %d work-group sizes in %s\n", o.n_programs, o.n_wg, path);
    return 0;
}
