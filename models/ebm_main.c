/* ebm_main.c — the `ebm` command-line program.
 *
 *   ebm devices                 list every OpenCL platform and device
 *   ebm --version
 *
 * Training, sampling and scoring commands arrive with the Langevin training stack. */
#include <stdio.h>
#include <string.h>
#include "ebm.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ebm <command> [options]\n"
            "commands:\n"
            "  devices      list OpenCL platforms and devices (select one with --device or EBM_DEVICE:\n"
            "               pocl, nvidia, amd, intel, cpu, gpu, P:D, or a name substring)\n"
            "  --version    print the version\n");
}

static int cmd_devices(int argc, char **argv) {
    const char *sel = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) sel = argv[++i];
        else {
            fprintf(stderr, "ebm devices: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    ebm_status_t st = ebm_devices_print(stdout);
    if (st != EBM_OK) return 1;
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, sel) != EBM_OK) {
        fprintf(stderr, "ebm: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    const ebm_device_info_t *d = ebm_ctx_device(ctx);
    printf("selected: %d:%d %s (peak FP32 estimate %.0f GFLOP/s)\n", d->platform_index, d->device_index, d->name,
           ebm_ctx_peak_gflops(ctx));
    ebm_ctx_free(ctx);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "devices")) return cmd_devices(argc - 2, argv + 2);
    if (!strcmp(argv[1], "--version")) {
        printf("ebm %s\n", EBM_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "ebm: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
