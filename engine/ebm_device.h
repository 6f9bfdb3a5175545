/* ebm_device.h — OpenCL device runtime: enumeration, selection, context.
 *
 *   ebm_ctx_t *ctx = NULL;
 *   ebm_status_t st = ebm_ctx_create(&ctx, NULL);   // NULL: EBM_DEVICE, else the first GPU, else any
 *   if (st != EBM_OK) { fprintf(stderr, "%s\n", ebm_ctx_error(NULL)); return 1; }
 *   ...
 *   ebm_ctx_free(ctx);
 *
 * Selectors (case-insensitive): "P:D" (platform:device indices); "gpu", "cpu"; "pocl"; a vendor,
 * "nvidia", "amd" or "intel": the first device of a platform whose vendor is that company (its
 * driver: Intel's CPU runtime is "intel", PoCL on an Intel CPU is not), else the first GPU made by
 * that company on another platform (e.g. Mesa's rusticl); otherwise a substring of the device
 * name, the platform name or a vendor string.
 */
#ifndef EBM_DEVICE_H
#define EBM_DEVICE_H

#include <stddef.h>
#include <stdio.h>
#include "ebm_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ebm_ctx ebm_ctx_t;

typedef struct ebm_device_info {
    int platform_index, device_index;
    char platform[128];
    char platform_vendor[128];   /* CL_PLATFORM_VENDOR: whose driver */
    char name[128];
    char vendor[128];            /* CL_DEVICE_VENDOR */
    char driver[64];
    char version[64];     /* CL_DEVICE_VERSION */
    char c_version[64];   /* CL_DEVICE_OPENCL_C_VERSION */
    int is_gpu, is_cpu;
    unsigned compute_units;
    unsigned clock_mhz;          /* as the driver reports it (Intel's CPU runtime: 0) */
    unsigned long long global_mem;
    unsigned long long max_alloc;
    unsigned long long local_mem;   /* CL_DEVICE_LOCAL_MEM_SIZE */
    size_t max_work_group;          /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    size_t max_work_item[3];        /* CL_DEVICE_MAX_WORK_ITEM_SIZES */
    unsigned address_bits;
} ebm_device_info_t;

/* Fills up to max entries; returns the number of devices found (may exceed max), or -1 on error. */
int ebm_devices_list(ebm_device_info_t *out, int max);
/* Prints the table `ebm devices` shows. Returns the status of the enumeration. */
ebm_status_t ebm_devices_print(FILE *f);

/* Creates a context on the selected device. selector NULL or "" uses $EBM_DEVICE, then a GPU,
 * then any device. On failure *out is NULL and ebm_ctx_error(NULL) holds the message. */
ebm_status_t ebm_ctx_create(ebm_ctx_t **out, const char *selector);
void ebm_ctx_free(ebm_ctx_t *ctx);
const ebm_device_info_t *ebm_ctx_device(const ebm_ctx_t *ctx);

/* Sticky error state: the first failure of an op is kept until cleared. ctx NULL gives the
 * message of the last failed ebm_ctx_create. */
ebm_status_t ebm_ctx_status(const ebm_ctx_t *ctx);
const char *ebm_ctx_error(const ebm_ctx_t *ctx);
void ebm_ctx_clear_error(ebm_ctx_t *ctx);

/* Blocks until all enqueued work is done. */
ebm_status_t ebm_ctx_finish(ebm_ctx_t *ctx);

/* Peak FP32 GFLOP/s estimate of the device (compute units x clock x lanes; see device.c); for a CPU
 * whose driver reports no clock, the clock the operating system reports; 0 when unknown. */
double ebm_ctx_peak_gflops(const ebm_ctx_t *ctx);
double ebm_device_peak_gflops(const ebm_device_info_t *d);
/* A short name for the device (pocl, intel, nvidia, amd, or the platform's first word, lowercase),
 * as test names and logs use it. */
void ebm_device_tag(const ebm_device_info_t *d, char *out, size_t n);
/* The index in list[0..n) of the device the selector picks (NULL or "": the first GPU, else the
 * first device), or -1. */
int ebm_device_select(const ebm_device_info_t *list, int n, const char *selector);

/* Profiling: when on, kernel launches are timed with OpenCL events (ebm_ctx_create reads
 * EBM_PROFILE too). Returns the device time in ms of the work enqueued since the last reset. */
void ebm_ctx_profile_reset(ebm_ctx_t *ctx);
double ebm_ctx_profile_ms(ebm_ctx_t *ctx);
/* Kernels and buffer copies enqueued on the context so far (a CLBlast GEMM or a clFFT transform
 * counted once); the difference over a piece of work is its launch count (bench_workloads: per
 * Langevin step). */
unsigned long ebm_ctx_launches(const ebm_ctx_t *ctx);

/* Why an algorithm cannot run on the context's device ("gemm:clblast", "gemm:tile", "conv:im2col",
 * "conv:fft", "conv:tile"), or NULL while it can (as far as is known: algorithms are tried when
 * first needed, and failures are remembered per device with the measured choices). */
const char *ebm_ctx_algorithm_unavailable(const ebm_ctx_t *ctx, const char *algorithm);

/* CLBlast's kernel parameters tuned for the context's device (tools/clblast_tune.sh runs CLBlast's
 * tuners; README, Devices). ebm_clblast_import reads the tuners' JSON result files (the
 * fastest per kernel where several name one), checks that CLBlast takes the parameters and that
 * GEMMs run with them give products within float32's rounding bound of a double-precision host
 * product, and keeps them for the device next to the kernel cache, over the kernels' earlier sets;
 * every later context on the device hands them to CLBlast before its first GEMM (not with
 * EBM_CLBLAST_TUNED=off). A file that is not a tuner's single-precision result for this device
 * fails naming the file, and nothing is kept. report (may be NULL) gets the kept sets and the
 * path. It leaves CLBlast's settings for the device changed in this process (the new parameters,
 * and CLBlast's threshold between its direct and indirect GEMM kernels, forced for the checks):
 * call it in a process that ends after it, as `ebm clblast-import` does. ebm_ctx_clblast_tuned: the number of kernels with tuned parameters loaded for the
 * context, their names (space-separated) into kernels; ebm_ctx_clblast_tuned_path: the device's
 * file (whether or not it exists; NULL with EBM_KERNEL_CACHE=off). */
ebm_status_t ebm_clblast_import(ebm_ctx_t *ctx, const char *const *files, int n_files, FILE *report);
int ebm_ctx_clblast_tuned(const ebm_ctx_t *ctx, char *kernels, size_t n);
const char *ebm_ctx_clblast_tuned_path(const ebm_ctx_t *ctx);

/* Compiles a user kernel source against the context (used by tests of the error path). */
ebm_status_t ebm_ctx_build_source(ebm_ctx_t *ctx, const char *name, const char *source, const char *options);

const char *ebm_cl_error_name(int cl_error);

#ifdef __cplusplus
}
#endif
#endif
