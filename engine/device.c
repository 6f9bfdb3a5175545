/* device.c — platform/device enumeration and selection, context and queue, kernel programs
 * (embedded sources, on-disk binary cache), kernel argument and launch helpers. */
#include <ctype.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"


static const struct { const char *file, *name; } kernel_table[EBM_K_COUNT] = {
#define EBM_KERNEL(id, file, name) [id] = {file, name},
#include "kernels.def"
#undef EBM_KERNEL
};

static char create_error[2048];   /* message of the last failed ebm_ctx_create */

/* ------------------------------------------------------------------------------------------ */
/* enumeration                                                                                */

static void info_string(cl_device_id d, cl_device_info what, char *out, size_t n) {
    out[0] = 0;
    if (clGetDeviceInfo(d, what, n, out, NULL) != CL_SUCCESS) out[0] = 0;
    out[n - 1] = 0;
}

static void fill_info(cl_platform_id p, cl_device_id d, int pi, int di, ebm_device_info_t *o) {
    memset(o, 0, sizeof *o);
    o->platform_index = pi;
    o->device_index = di;
    clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof o->platform, o->platform, NULL);
    o->platform[sizeof o->platform - 1] = 0;
    clGetPlatformInfo(p, CL_PLATFORM_VENDOR, sizeof o->platform_vendor, o->platform_vendor, NULL);
    o->platform_vendor[sizeof o->platform_vendor - 1] = 0;
    info_string(d, CL_DEVICE_NAME, o->name, sizeof o->name);
    info_string(d, CL_DEVICE_VENDOR, o->vendor, sizeof o->vendor);
    info_string(d, CL_DRIVER_VERSION, o->driver, sizeof o->driver);
    info_string(d, CL_DEVICE_VERSION, o->version, sizeof o->version);
    info_string(d, CL_DEVICE_OPENCL_C_VERSION, o->c_version, sizeof o->c_version);
    cl_device_type type = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    o->is_gpu = (type & CL_DEVICE_TYPE_GPU) != 0;
    o->is_cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
    cl_uint u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL);
    o->compute_units = u;
    u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL);
    o->clock_mhz = u;
    cl_ulong m = 0;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof m, &m, NULL);
    o->global_mem = m;
    m = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof m, &m, NULL);
    o->max_alloc = m;
    m = 0;
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof m, &m, NULL);
    o->local_mem = m;
    size_t wg = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    o->max_work_group = wg;
    size_t items[3] = {wg, wg, wg};   /* OpenCL guarantees 3 dimensions */
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof items, items, NULL);
    memcpy(o->max_work_item, items, sizeof items);
    u = 0;
    clGetDeviceInfo(d, CL_DEVICE_ADDRESS_BITS, sizeof u, &u, NULL);
    o->address_bits = u;
}

/* The CPU clock the operating system reports, in MHz (the highest cpufreq maximum, else the
 * highest "cpu MHz" of /proc/cpuinfo), or 0. For CPU devices whose driver reports no clock. */
static double os_cpu_mhz(void) {
    double best = 0;
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "r");
    if (f) {
        double khz;
        if (fscanf(f, "%lf", &khz) == 1 && khz > 0) best = khz / 1000;
        fclose(f);
    }
    if (best > 0) return best;
    f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        double mhz;
        if (!strncmp(line, "cpu MHz", 7) && sscanf(strchr(line, ':') ? strchr(line, ':') + 1 : "", "%lf", &mhz) == 1 && mhz > best)
            best = mhz;
    }
    fclose(f);
    return best;
}

/* Whether this host's cores have AVX-512 (flag avx512f), and whether they run it on two 512-bit FMA
 * pipes: Intel's (an upper bound for the models with one), AMD's from family 1Ah (Zen 5); Zen 4
 * runs AVX-512 on 256-bit pipes. */
static int os_cpu_avx512(int *two_pipes) {
    *two_pipes = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[8192];
    int intel = 0, family = 0, avx512 = 0;
    while (fgets(line, sizeof line, f)) {
        const char *v = strchr(line, ':');
        if (!v) continue;
        if (!strncmp(line, "vendor_id", 9)) intel = strstr(v, "GenuineIntel") != NULL;
        else if (!strncmp(line, "cpu family", 10)) family = atoi(v + 1);
        else if (!strncmp(line, "flags", 5)) {
            for (const char *t = strstr(v, " avx512f"); t && !avx512; t = strstr(t + 1, " avx512f"))
                avx512 = t[8] == ' ' || t[8] == '\n' || t[8] == '\0';
            break;   /* the first core's lines are enough */
        }
    }
    fclose(f);
    *two_pipes = avx512 && (intel || family >= 0x1a);
    return avx512;
}

/* FP32 FMA lanes per cycle of one core of this host, for a CPU device's peak: 2 FMA pipes x 8 lanes
 * (AVX2), or x 16 where there are two 512-bit pipes */
static double os_cpu_lanes(void) {
    int two_pipes;
    os_cpu_avx512(&two_pipes);
    return two_pipes ? 32 : 16;
}

typedef struct {
    cl_platform_id p;
    cl_device_id d;
    ebm_device_info_t info;
} dev_entry_t;

/* Lists all devices; returns count or -1 (message in err). */
static int enumerate(dev_entry_t *out, int max, char *err, size_t errn) {
    cl_uint np = 0;
    cl_int e = clGetPlatformIDs(0, NULL, &np);
    if (e == -1001 || np == 0) {
        snprintf(err, errn, "no OpenCL platform found (is an ICD installed? e.g. apt-get install pocl-opencl-icd)");
        return 0;
    }
    if (e != CL_SUCCESS) {
        snprintf(err, errn, "clGetPlatformIDs failed: %s", ebm_cl_error_name(e));
        return -1;
    }
    cl_platform_id plats[16];
    if (np > 16) np = 16;
    clGetPlatformIDs(np, plats, NULL);
    int n = 0;
    for (cl_uint pi = 0; pi < np; pi++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[pi], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0) continue;
        cl_device_id devs[32];
        if (nd > 32) nd = 32;
        clGetDeviceIDs(plats[pi], CL_DEVICE_TYPE_ALL, nd, devs, NULL);
        for (cl_uint di = 0; di < nd; di++, n++) {
            if (n < max) {
                out[n].p = plats[pi];
                out[n].d = devs[di];
                fill_info(plats[pi], devs[di], (int)pi, (int)di, &out[n].info);
            }
        }
    }
    return n;
}

int ebm_devices_list(ebm_device_info_t *out, int max) {
    dev_entry_t ents[64];
    char err[256];
    int n = enumerate(ents, 64, err, sizeof err);
    for (int i = 0; i < n && i < max && i < 64; i++) out[i] = ents[i].info;
    return n;
}

ebm_status_t ebm_devices_print(FILE *f) {
    dev_entry_t ents[64];
    char err[256] = "";
    int n = enumerate(ents, 64, err, sizeof err);
    if (n <= 0) {
        fprintf(f, "no OpenCL devices%s%s\n", err[0] ? ": " : "", err);
        return n < 0 ? EBM_STATUS_OPENCL : EBM_STATUS_NO_DEVICE;
    }
    for (int i = 0; i < n && i < 64; i++) {
        const ebm_device_info_t *d = &ents[i].info;
        char tag[32], clock[64], peak[64];
        ebm_device_tag(d, tag, sizeof tag);
        fprintf(f, "%d:%d  %-24s  %-40s  %s  [%s]\n", d->platform_index, d->device_index, d->platform, d->name,
                d->is_gpu ? "GPU" : (d->is_cpu ? "CPU" : "other"), tag);
        fprintf(f, "     vendor %s (platform %s), driver %s, %s, %s, %u-bit addresses\n", d->vendor, d->platform_vendor, d->driver,
                d->version, d->c_version, d->address_bits);
        double os_mhz = d->clock_mhz ? 0 : os_cpu_mhz();
        if (d->clock_mhz) snprintf(clock, sizeof clock, "%u MHz", d->clock_mhz);
        else if (d->is_cpu && os_mhz > 0) snprintf(clock, sizeof clock, "0 MHz (driver), %.0f MHz (OS)", os_mhz);
        else snprintf(clock, sizeof clock, "clock unknown");
        double pk = ebm_device_peak_gflops(d);
        if (pk > 0) snprintf(peak, sizeof peak, "%.0f GFLOP/s", pk);
        else snprintf(peak, sizeof peak, "unknown");
        fprintf(f, "     %u compute units @ %s, peak FP32 estimate %s, %.1f GiB global memory, max alloc %.1f GiB\n",
                d->compute_units, clock, peak, d->global_mem / 1073741824.0, d->max_alloc / 1073741824.0);
        fprintf(f, "     max work-group %zu, work-items %zu x %zu x %zu, local memory %llu KiB\n", d->max_work_group,
                d->max_work_item[0], d->max_work_item[1], d->max_work_item[2], d->local_mem / 1024);
    }
    return EBM_OK;
}

static int contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    if (!n) return 1;
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, n)) return 1;
    return 0;
}

/* Vendor selectors and what names the company in a vendor string. */
static const struct { const char *sel, *names[3]; } vendor_sel[] = {
    {"nvidia", {"nvidia", NULL, NULL}},
    {"amd", {"advanced micro devices", "amd", NULL}},   /* AMD's driver: "Advanced Micro Devices, Inc." */
    {"intel", {"intel", NULL, NULL}},
};

static int names_vendor(const char *vendor, int v) {
    for (int j = 0; j < 3 && vendor_sel[v].names[j]; j++) {
        /* whole words: "amd" must not match inside another word */
        size_t n = strlen(vendor_sel[v].names[j]);
        for (const char *h = vendor; *h; h++)
            if (!strncasecmp(h, vendor_sel[v].names[j], n) && (h == vendor || !isalnum((unsigned char)h[-1])) &&
                !isalnum((unsigned char)h[n]))
                return 1;
    }
    return 0;
}

static int is_pocl(const ebm_device_info_t *d) {
    return contains_ci(d->platform, "Portable Computing Language") || contains_ci(d->platform_vendor, "pocl");
}

void ebm_device_tag(const ebm_device_info_t *d, char *out, size_t n) {
    if (is_pocl(d)) {
        snprintf(out, n, "pocl");
        return;
    }
    for (size_t v = 0; v < sizeof vendor_sel / sizeof vendor_sel[0]; v++)
        if (names_vendor(d->platform_vendor, (int)v)) {
            snprintf(out, n, "%s", vendor_sel[v].sel);
            return;
        }
    size_t k = 0;
    for (const char *c = d->platform; *c && isalnum((unsigned char)*c) && k + 1 < n; c++) out[k++] = (char)tolower((unsigned char)*c);
    if (!k && n > 1) out[k++] = '?';
    out[k] = 0;
}

int ebm_device_select(const ebm_device_info_t *list, int n, const char *sel) {
    if (!sel || !*sel) {
        for (int i = 0; i < n; i++)
            if (list[i].is_gpu) return i;
        return n > 0 ? 0 : -1;
    }
    int p, d;
    char tail;
    if (sscanf(sel, "%d:%d%c", &p, &d, &tail) == 2) {
        for (int i = 0; i < n; i++)
            if (list[i].platform_index == p && list[i].device_index == d) return i;
        return -1;
    }
    if (!strcasecmp(sel, "gpu") || !strcasecmp(sel, "cpu") || !strcasecmp(sel, "pocl")) {
        for (int i = 0; i < n; i++)
            if (!strcasecmp(sel, "gpu") ? list[i].is_gpu : !strcasecmp(sel, "cpu") ? list[i].is_cpu : is_pocl(&list[i])) return i;
        return -1;
    }
    for (size_t v = 0; v < sizeof vendor_sel / sizeof vendor_sel[0]; v++) {
        if (strcasecmp(sel, vendor_sel[v].sel)) continue;
        for (int i = 0; i < n; i++)   /* the company's own driver */
            if (names_vendor(list[i].platform_vendor, (int)v)) return i;
        for (int i = 0; i < n; i++)   /* its GPUs through another driver (a CPU's vendor string names only the chip) */
            if (list[i].is_gpu && names_vendor(list[i].vendor, (int)v)) return i;
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (contains_ci(list[i].name, sel) || contains_ci(list[i].platform, sel) || contains_ci(list[i].vendor, sel) ||
            contains_ci(list[i].platform_vendor, sel))
            return i;
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* context                                                                                    */

/* Algorithms known not to run on a device, each with the reason (not saved: decided anew each time). */
static void device_quirks(ebm_ctx_t *ctx) {
    struct { int applies; ebm_algo_t algo; const char *why; } q[] = {
        /* clFFT asserts MAX_WGS >= 64 in its kernel generator and aborts the process */
        {ctx->info.max_work_group < 64, EBM_ALGO_CONV_FFT, "clFFT needs work-groups of 64 items (it aborts on this device)"},
        /* Oclgrind (a simulator for checking kernels) reports data races inside clFFT's generated
         * kernels (they write outputs other work-items of the group may still read); those are
         * not ours to fix, and with FFT off every report is about the engine's own kernels */
        {ctx->simulated, EBM_ALGO_CONV_FFT, "clFFT's kernels race under Oclgrind"},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        if (q[i].applies) {
            ctx->algo_unavailable |= 1u << q[i].algo;
            snprintf(ctx->algo_reason[q[i].algo], sizeof ctx->algo_reason[q[i].algo], "%s", q[i].why);
        }
}

static size_t pow2_floor(size_t n) {
    size_t p = 1;
    while (p * 2 <= n) p *= 2;
    return p;
}

/* EBM_WG: 256 on every device that allows it, so that reductions add in the same order everywhere;
 * else the largest power of two within the device's work-group and work-item limits and its local
 * memory (the largest local buffer is EBM_WG floats), or within EBM_MAX_WORK_GROUP / EBM_MAX_LOCAL_MEM. */
static size_t work_group_size(const ebm_device_info_t *d, const ebm_env_t *env) {
    size_t lim = 256, local = (size_t)d->local_mem;
    if (d->max_work_group < lim) lim = d->max_work_group;
    if (d->max_work_item[0] < lim) lim = d->max_work_item[0];
    if (env->max_work_group && env->max_work_group < lim) lim = env->max_work_group;
    if (env->max_local_mem && env->max_local_mem < local) local = env->max_local_mem;
    if (local / sizeof(float) < lim) lim = local / sizeof(float);
    return pow2_floor(lim);
}

ebm_status_t ebm_ctx_create(ebm_ctx_t **out, const char *selector) {
    *out = NULL;
    create_error[0] = 0;
    const ebm_env_t *env = ebm_env();
    if (!selector || !*selector) selector = env->device;
    dev_entry_t ents[64];
    char err[256] = "";
    int n = enumerate(ents, 64, err, sizeof err);
    if (n < 0) {
        snprintf(create_error, sizeof create_error, "%s", err);
        return EBM_STATUS_OPENCL;
    }
    if (n > 64) n = 64;
    ebm_device_info_t infos[64];
    for (int i = 0; i < n; i++) infos[i] = ents[i].info;
    int idx = n ? ebm_device_select(infos, n, selector) : -1;
    if (idx < 0) {
        int len = snprintf(create_error, sizeof create_error, "no OpenCL device matches \"%s\"%s%s; available:",
                           selector ? selector : "", err[0] ? " — " : "", err);
        for (int i = 0; i < n && len < (int)sizeof create_error - 80; i++)
            len += snprintf(create_error + len, sizeof create_error - len, " [%d:%d %s / %s]",
                            ents[i].info.platform_index, ents[i].info.device_index, ents[i].info.platform,
                            ents[i].info.name);
        if (!n) snprintf(create_error + len, sizeof create_error - len, " none");
        return EBM_STATUS_NO_DEVICE;
    }
    ebm_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(create_error, sizeof create_error, "out of host memory");
        return EBM_STATUS_OUT_OF_MEMORY;
    }
    ctx->info = ents[idx].info;
    ctx->platform = ents[idx].p;
    ctx->device = ents[idx].d;
    ctx->grad_enabled = 1;
    ctx->profile = env->profile;
    ctx->wg_size = work_group_size(&ctx->info, env);
    /* cl/gemm.cl's register tile: 8 rows of one float16 where that is one register (a CPU device
     * on a host with AVX-512), else 6 (with AVX2 eight would spill accumulators in the inner loop;
     * GPUs keep the 6 rows they were measured with). PoCL reports a native float width of 16 on
     * AVX2 hosts too, so the host's flags decide. */
    int two_pipes;
    ctx->tile_rows = env->tile_rows ? env->tile_rows : ctx->info.is_cpu && os_cpu_avx512(&two_pipes) ? 8 : 6;
    /* two panels per implicit-forward group (16 accumulator chains) with 8 rows on PoCL: 6-23% less
     * forward time there; Intel's CPU runtime took twice as long with them (2026-12-05, AVX-512) */
    ctx->fwd_panels = env->fwd_panels ? env->fwd_panels : ctx->tile_rows == 8 && is_pocl(&ctx->info) ? 2 : 1;
    /* one work item per implicit-forward group on a CPU, where a group runs on one thread anyway: PoCL
     * then has no loop over work items keeping their values across the barrier, which took three
     * quarters of a three-channel forward's time there; Intel's runtime ran the forward with bias
     * and swish 4.5-7x faster at cifar32's shapes (2026-12-06, Zen 4). A work item per row tile elsewhere. */
    ctx->fwd_items = env->fwd_items ? env->fwd_items : ctx->info.is_cpu ? 1 : 2;
    /* the same for the implicit input gradients: per op 0-14% less on PoCL, on Intel's runtime up to
     * 3.7x less (cifar32's 128 -> 256 at stride 2: 93 -> 25 ms) (2026-12-06, Zen 4) */
    ctx->igrad_items = env->igrad_items ? env->igrad_items : ctx->info.is_cpu ? 1 : 2;
    /* PoCL: vectors (fmnist-ms's input gradients 6-16% less device time than with runs); Intel's CPU
     * runtime: runs (the vectors took 12-18% more there) */
    ctx->igrad_zload = env->igrad_zload ? env->igrad_zload : is_pocl(&ctx->info) ? 1 : 2;
    /* and two panels per gemm_tile work item wherever the tile has 8 rows (16 accumulators, 18 of
     * AVX-512's 32 registers): 24-40% less weight-gradient time on PoCL and on Intel's runtime alike */
    ctx->gemm_panels = env->gemm_panels ? env->gemm_panels : ctx->tile_rows == 8 ? 2 : 1;
    /* and two panels per stride-2 implicit input-gradient group with 8 rows: 5-16% less kernel time
     * on PoCL, 3-34% on Intel's runtime at fmnist-ms's shapes (2026-12-05) */
    ctx->igrad_panels = env->igrad_panels ? env->igrad_panels : ctx->tile_rows == 8 ? 2 : 1;
    /* 16 of the long reduction's items per work item, in the lanes of a vector, on PoCL: it runs a
     * loop inside a work item as scalar code (a bias gradient over 128x32x28x28 took 4-8 ms there,
     * 0.6-0.8 on Intel's runtime). The same sums in the same order: the bits do not change. */
    ctx->reduce_lanes = env->reduce_lanes ? env->reduce_lanes : is_pocl(&ctx->info) ? 16 : 1;
    /* streaming stores for the tile kernels' large outputs on CPU devices (ebm_stream_stores);
     * unmeasured on GPUs, which keep ordinary stores */
    ctx->stream_stores = env->stream_stores ? env->stream_stores - 1 : ctx->info.is_cpu ? 1 : 0;
    /* OpenCL lets float division and sqrt be off by 2.5 / 3 ulp unless built with
     * -cl-fp32-correctly-rounded-divide-sqrt; ask for it where offered, so that every device rounds
     * x / y and sqrt(x) alike (the NVIDIA driver otherwise approximates: an identity resize that
     * computes (i + 0.5) * W / W was not exact there) */
    cl_device_fp_config fp = 0;
    if (clGetDeviceInfo(ctx->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL) == CL_SUCCESS)
        ctx->exact_div = (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
    cl_int e;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform, 0};
    ctx->context = clCreateContext(props, 1, &ctx->device, NULL, NULL, &e);
    if (e != CL_SUCCESS) {
        snprintf(create_error, sizeof create_error, "clCreateContext on %s failed: %s", ctx->info.name, ebm_cl_error_name(e));
        free(ctx);
        return EBM_STATUS_OPENCL;
    }
    /* Profiling is always enabled on the queue: events are only requested when measuring. */
    ctx->queue = clCreateCommandQueue(ctx->context, ctx->device, CL_QUEUE_PROFILING_ENABLE, &e);
    if (e != CL_SUCCESS) {
        snprintf(create_error, sizeof create_error, "clCreateCommandQueue on %s failed: %s", ctx->info.name, ebm_cl_error_name(e));
        clReleaseContext(ctx->context);
        free(ctx);
        return EBM_STATUS_OPENCL;
    }
    ctx->simulated = strstr(ctx->info.platform, "Oclgrind") != NULL;   /* before the choices: a simulator has no file */
    /* software prefetches in the implicit convolutions on CPU devices, where every address space is
     * one (cl/gemm.cl PREFETCH): fmnist-ms's largest input gradient 9.2-9.3 -> 7.4-7.7 ms per launch,
     * its largest forward 6.2 -> 5.4-5.7 on PoCL (2026-12-07, Xeon). Not on GPUs (the cast there
     * would name another address space: EBM_PREFETCH=on is ignored), and not by default on Oclgrind
     * 21.10 (a CPU device to OpenCL), which cannot create a kernel that calls llvm.prefetch */
    ctx->prefetch = env->prefetch ? env->prefetch - 1 : ctx->info.is_cpu && !ctx->simulated ? 1 : 0;
    if (ctx->prefetch && !ctx->info.is_cpu) {
        ebm_log_message(EBM_LOG_WARN, "EBM_PREFETCH=on is for CPU devices; ignored on %s", ctx->info.name);
        ctx->prefetch = 0;
    }
    ebm_clblast_tuned_load(ctx);   /* first: its hash is part of the choices file's key */
    ebm_choices_load(ctx);
    device_quirks(ctx);
    *out = ctx;
    return EBM_OK;
}

void ebm_pool_release_all(ebm_ctx_t *ctx);   /* tensor.c */
static void profile_collect(ebm_ctx_t *ctx);
static void prof_print(ebm_ctx_t *ctx);
void ebm_fft_release(ebm_ctx_t *ctx);        /* ops/fftconv.c */

void ebm_ctx_free(ebm_ctx_t *ctx) {
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    if (ctx->profile >= 2) {
        profile_collect(ctx);
        prof_print(ctx);
    }
    free(ctx->prof_table);
    for (int i = 0; i < ctx->n_prof_labels; i++) free(ctx->prof_labels[i]);
    free(ctx->prof_labels);
    free(ctx->event_names);
    if (ctx->choices_dirty) ebm_choices_save(ctx);
    ebm_fft_release(ctx);
    ebm_clblast_release(ctx);
    ebm_clblast_tuned_free(ctx);
    ebm_pool_release_all(ctx);
    free(ctx->conv_choices);
    for (int i = 0; i < ctx->n_events; i++) clReleaseEvent(ctx->events[i]);
    free(ctx->events);
    free(ctx->gemm_choices);
    for (int i = 0; i < EBM_K_COUNT; i++)
        if (ctx->kernels[i]) clReleaseKernel(ctx->kernels[i]);
    for (int i = 0; i < ctx->n_variants; i++) clReleaseKernel(ctx->variants[i].k);
    free(ctx->variants);
    free(ctx->small_wg);
    for (int i = 0; i < ctx->n_programs; i++) {
        clReleaseProgram(ctx->programs[i]);
        free(ctx->program_options[i]);
    }
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->context) clReleaseContext(ctx->context);
    free(ctx);
}

const ebm_device_info_t *ebm_ctx_device(const ebm_ctx_t *ctx) { return &ctx->info; }

const char *ebm_ctx_error(const ebm_ctx_t *ctx) {
    if (!ctx) return create_error;
    return ctx->status == EBM_OK ? "" : ctx->errmsg;
}

ebm_status_t ebm_ctx_finish(ebm_ctx_t *ctx) {
    EBM_CL(ctx, clFinish(ctx->queue));
    return ctx->status;
}

double ebm_device_peak_gflops(const ebm_device_info_t *d) {
    const char *o = getenv("EBM_PEAK_GFLOPS");
    if (o && atof(o) > 0) return atof(o);
    /* FP32 lanes per compute unit x 2 (FMA): NVIDIA SM 128, AMD CU 64, Intel EU 8; a CPU core
     * (PoCL, Intel's CPU runtime: the host's cores): os_cpu_lanes */
    double lanes = 16;
    if (d->is_cpu) lanes = os_cpu_lanes();
    if (d->is_gpu) {
        if (contains_ci(d->vendor, "nvidia")) lanes = 128;
        else if (contains_ci(d->vendor, "advanced micro") || contains_ci(d->vendor, "amd")) lanes = 64;
        else if (contains_ci(d->vendor, "intel")) lanes = 8;
        else lanes = 64;
    }
    /* Intel's CPU runtime reports a 0 MHz clock: a CPU's clock is the operating system's; a GPU's
     * peak without a clock is unknown (0), never a made-up number */
    double mhz = d->clock_mhz ? d->clock_mhz : (d->is_cpu ? os_cpu_mhz() : 0);
    return d->compute_units * mhz * 1e-3 * lanes * 2.0;
}

double ebm_ctx_peak_gflops(const ebm_ctx_t *ctx) { return ebm_device_peak_gflops(&ctx->info); }

/* ------------------------------------------------------------------------------------------ */
/* profiling                                                                                  */

struct ebm_prof_entry {
    const char *name;
    double ms;
    long count;
};

cl_event *ebm_profile_event(ebm_ctx_t *ctx, const char *name) {
    ctx->launches++;
    if (!ctx->profile) return NULL;
    if (ctx->n_events == ctx->cap_events) {
        int cap = ctx->cap_events ? ctx->cap_events * 2 : 256;
        cl_event *ev = realloc(ctx->events, cap * sizeof *ev);
        if (!ev) return NULL;
        ctx->events = ev;
        const char **nm = realloc(ctx->event_names, cap * sizeof *nm);
        if (!nm) return NULL;
        ctx->event_names = nm;
        ctx->cap_events = cap;
    }
    ctx->events[ctx->n_events] = NULL;
    ctx->event_names[ctx->n_events] = name;
    return &ctx->events[ctx->n_events++];
}

static void prof_add(ebm_ctx_t *ctx, const char *name, double ms) {
    if (!name) name = "?";
    for (int i = 0; i < ctx->n_prof; i++)
        if (ctx->prof_table[i].name == name || !strcmp(ctx->prof_table[i].name, name)) {
            ctx->prof_table[i].ms += ms;
            ctx->prof_table[i].count++;
            return;
        }
    if (ctx->n_prof == ctx->cap_prof) {
        struct ebm_prof_entry *t = ebm_grow_array(ctx->prof_table, &ctx->cap_prof, sizeof *t, 32);
        if (!t) return;
        ctx->prof_table = t;
    }
    ctx->prof_table[ctx->n_prof++] = (struct ebm_prof_entry){name, ms, 1};
}

static int prof_cmp(const void *a, const void *b) {
    double x = ((const struct ebm_prof_entry *)a)->ms, y = ((const struct ebm_prof_entry *)b)->ms;
    return x < y ? 1 : (x > y ? -1 : 0);
}

static void prof_print(ebm_ctx_t *ctx) {
    if (!ctx->n_prof) return;
    double total = 0;
    for (int i = 0; i < ctx->n_prof; i++) total += ctx->prof_table[i].ms;
    qsort(ctx->prof_table, ctx->n_prof, sizeof *ctx->prof_table, prof_cmp);
    int w = 28;
    for (int i = 0; i < ctx->n_prof; i++) {
        int len = (int)strlen(ctx->prof_table[i].name);
        w = len > w ? len : w;
    }
    fprintf(stderr, "ebm profile (%s): %.1f ms of device time\n%-*s %10s %6s %9s %10s\n", ctx->info.name, total, w, "kernel", "ms",
            "%", "launches", "us/launch");
    for (int i = 0; i < ctx->n_prof; i++) {
        struct ebm_prof_entry *e = &ctx->prof_table[i];
        fprintf(stderr, "%-*s %10.1f %5.1f%% %9ld %10.1f\n", w, e->name, e->ms, 100 * e->ms / total, e->count, 1e3 * e->ms / e->count);
    }
}

static void profile_collect(ebm_ctx_t *ctx) {
    if (!ctx->n_events) return;
    clFinish(ctx->queue);
    for (int i = 0; i < ctx->n_events; i++) {
        if (!ctx->events[i]) continue;
        cl_ulong t0 = 0, t1 = 0;
        clGetEventProfilingInfo(ctx->events[i], CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        clGetEventProfilingInfo(ctx->events[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        if (t1 > t0) ctx->profile_ms += (t1 - t0) * 1e-6;
        if (ctx->profile >= 2 && t1 > t0) prof_add(ctx, ctx->event_names[i], (t1 - t0) * 1e-6);
        clReleaseEvent(ctx->events[i]);
    }
    ctx->n_events = 0;
}

void ebm_ctx_profile_reset(ebm_ctx_t *ctx) {
    profile_collect(ctx);
    if (!ctx->profile) ctx->profile = 1;
    ctx->profile_ms = 0;
}

double ebm_ctx_profile_ms(ebm_ctx_t *ctx) {
    profile_collect(ctx);
    return ctx->profile_ms;
}

unsigned long ebm_ctx_launches(const ebm_ctx_t *ctx) { return ctx ? ctx->launches : 0; }

/* ------------------------------------------------------------------------------------------ */
/* programs                                                                                   */

typedef struct { uint64_t a, b; } hash128_t;

static void hash_add(hash128_t *h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h->a = (h->a ^ p[i]) * 1099511628211ULL;                 /* FNV-1a */
        h->b = (h->b + p[i] + 0x9e3779b97f4a7c15ULL) * 0xff51afd7ed558ccdULL;
        h->b ^= h->b >> 29;
    }
    unsigned char z = 0;
    h->a = (h->a ^ z) * 1099511628211ULL;
    h->b = (h->b + 0x632be59bd9b4e019ULL) * 0xc4ceb9fe1a85ec53ULL;
}

#define CACHE_MAGIC "EBMKCACHE1"

int ebm_mkdir_p(const char *path) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    return 0;
}

/* The whole file at path, NUL-terminated (*len bytes before the NUL), read to its end (also a pipe);
 * NULL with why in err (errn > 0) where it cannot be opened or read, or holds more than max bytes
 * (max < SIZE_MAX / 4) */
char *ebm_read_file(const char *path, size_t max, size_t *len, char *err, size_t errn) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errn) snprintf(err, errn, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int oom = 0;
    for (;;) {   /* up to max + 1 bytes: one more than max says it is too large */
        if (n == cap) {
            if (cap > max) break;
            size_t want = cap ? 2 * cap : 65536;
            if (want > max + 1) want = max + 1;
            char *b = realloc(buf, want + 1);
            if (!b) {
                oom = 1;
                break;
            }
            buf = b, cap = want;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0) break;
        n += got;
    }
    int bad = ferror(f), e = errno;
    fclose(f);
    if (oom || bad || n > max) {
        if (errn && n > max) snprintf(err, errn, "%s: larger than %zu bytes", path, max);
        else if (errn) snprintf(err, errn, "%s: %s", path, oom ? "out of host memory" : strerror(e));
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static cl_program try_cached(ebm_ctx_t *ctx, const char *path, const char *options) {
    size_t len = 0;
    unsigned char *data = (unsigned char *)ebm_read_file(path, (size_t)1 << 30, &len, NULL, 0);   /* 1 GiB */
    if (!data) return NULL;
    size_t hdr = strlen(CACHE_MAGIC) + sizeof(uint64_t);
    cl_program prog = NULL;
    if (len > hdr && !memcmp(data, CACHE_MAGIC, strlen(CACHE_MAGIC))) {
        uint64_t blen;
        memcpy(&blen, data + strlen(CACHE_MAGIC), sizeof blen);
        if (blen == len - hdr) {
            const unsigned char *bin = data + hdr;
            size_t bl = (size_t)blen;
            cl_int st, e;
            prog = clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &bl, &bin, &st, &e);
            if (e != CL_SUCCESS || st != CL_SUCCESS) {
                if (prog) clReleaseProgram(prog);
                prog = NULL;
            } else if (clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL) != CL_SUCCESS) {
                clReleaseProgram(prog);
                prog = NULL;
            }
        }
    }
    free(data);
    return prog;
}

static void save_cached(ebm_ctx_t *ctx, cl_program prog, const char *dir, const char *path) {
    size_t bl = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof bl, &bl, NULL) != CL_SUCCESS || bl == 0) return;
    unsigned char *bin = malloc(bl);
    if (!bin) return;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
        free(bin);
        return;
    }
    if (ebm_mkdir_p(dir) == 0) {
        char tmp[1200];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
        FILE *f = fopen(tmp, "wb");
        int ok = 0;
        if (f) {
            uint64_t blen = bl;
            ok = fwrite(CACHE_MAGIC, 1, strlen(CACHE_MAGIC), f) == strlen(CACHE_MAGIC) &&
                 fwrite(&blen, sizeof blen, 1, f) == 1 && fwrite(bin, 1, bl, f) == bl;
            ok = (fclose(f) == 0) && ok;
            if (ok) ok = rename(tmp, path) == 0;
            if (!ok) remove(tmp);
        }
        if (ebm_env()->cache_debug) ebm_log_message(EBM_LOG_WARN, "kernel cache %s %s", ok ? "SAVE" : "SAVE-FAILED", path);
    }
    (void)ctx;
    free(bin);
}

/* The first line of a compiler log that reports an error (else its first non-empty line). */
static void first_error_line(const char *log, char *out, size_t n) {
    const char *line = NULL;
    for (const char *p = log; p && *p; p += strcspn(p, "\n"), p += *p == '\n') {
        size_t len = strcspn(p, "\n");
        if (!line && len) line = p;
        const char *e = strstr(p, "error");
        if (e && e < p + len) {
            line = p;
            break;
        }
    }
    snprintf(out, n, "%.*s", line ? (int)strcspn(line, "\n") : 0, line ? line : "");
}

static ebm_status_t build_log_fail(ebm_ctx_t *ctx, cl_program prog, const char *name, cl_int e) {
    size_t n = 0;
    clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    char *log = malloc(n + 1), first[300];
    if (log) {
        log[0] = 0;
        clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, n, log, NULL);
        log[n] = 0;
    }
    first_error_line(log, first, sizeof first);
    /* inside an algorithm's try the caller prints one line and moves on to another algorithm */
    ebm_log_message(ctx->algo_trying ? EBM_LOG_DEBUG : EBM_LOG_ERROR, "building %s for %s failed (%s); compiler log:\n%s", name,
                    ctx->info.name, ebm_cl_error_name(e), log ? log : "(none)");
    ebm_fail(ctx, EBM_STATUS_BUILD, "%s failed to compile for %s (%s): %.600s", name, ctx->info.name, ebm_cl_error_name(e),
             ctx->algo_trying ? first : (log ? log : ""));
    free(log);
    return EBM_STATUS_BUILD;
}

void ebm_program_options(char *out, size_t n, size_t wg, int exact_div, int tile_rows, int stream_stores, int prefetch,
                         const char *defines) {
    const char *user = ebm_env()->build_options;
    snprintf(out, n, "-cl-std=CL1.2 -DEBM_WG=%zu -DEBM_TILE_ROWS=%d -DEBM_STREAM_STORES=%d -DEBM_PREFETCH=%d%s%s%s%s%s", wg,
             tile_rows, stream_stores, prefetch,
             exact_div ? " -cl-fp32-correctly-rounded-divide-sqrt" : "", defines && *defines ? " " : "", defines ? defines : "",
             user && *user ? " " : "", user ? user : "");
}

/* Builds `source` (already including common.cl) with options; uses/fills the disk cache. */
static cl_program build_program(ebm_ctx_t *ctx, const char *name, const char *source, size_t len, const char *extra) {
    const ebm_env_t *env = ebm_env();
    char options[1024];
    ebm_program_options(options, sizeof options, ctx->wg_size, ctx->exact_div, ctx->tile_rows, ctx->stream_stores != 0,
                        ctx->prefetch, extra);
    char path[1200] = "";
    if (!env->cache_off) {
        hash128_t h = {14695981039346656037ULL, 0x84222325cbf29ce4ULL};
        hash_add(&h, CACHE_MAGIC, strlen(CACHE_MAGIC));
        hash_add(&h, source, len);
        hash_add(&h, options, strlen(options));
        hash_add(&h, ctx->info.name, strlen(ctx->info.name));
        hash_add(&h, ctx->info.driver, strlen(ctx->info.driver));
        hash_add(&h, ctx->info.platform, strlen(ctx->info.platform));
        hash_add(&h, ctx->info.version, strlen(ctx->info.version));
        snprintf(path, sizeof path, "%s/%016llx%016llx.bin", env->cache_dir, (unsigned long long)h.a,
                 (unsigned long long)h.b);
        cl_program p = try_cached(ctx, path, options);
        if (env->cache_debug) ebm_log_message(EBM_LOG_WARN, "kernel cache %s %s (%s)", p ? "HIT" : "MISS", name, path);
        if (p) return p;
    }
    cl_int e;
    cl_program prog = clCreateProgramWithSource(ctx->context, 1, &source, &len, &e);
    if (e != CL_SUCCESS) {
        ebm_cl_fail(ctx, e, "clCreateProgramWithSource");
        return NULL;
    }
    e = clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL);
    if (e != CL_SUCCESS) {
        build_log_fail(ctx, prog, name, e);
        clReleaseProgram(prog);
        return NULL;
    }
    if (path[0]) save_cached(ctx, prog, env->cache_dir, path);
    ebm_host_trim();   /* the compiler's memory (in this process for CPU drivers) */
    return prog;
}

ebm_status_t ebm_ctx_build_source(ebm_ctx_t *ctx, const char *name, const char *source, const char *options) {
    cl_program p = build_program(ctx, name, source, strlen(source), options);
    if (!p) return ctx->status;
    clReleaseProgram(p);
    return EBM_OK;
}

void ebm_host_trim(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* Returns malloc'd text of a kernel file: from EBM_CL_DIR if set, else the embedded copy. */
static char *load_source(const char *file, size_t *len, char *err, size_t errn) {
    const ebm_env_t *env = ebm_env();
    if (env->cl_dir && *env->cl_dir) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", env->cl_dir, file);
        char why[1400];
        char *s = ebm_read_file(path, (size_t)64 << 20, len, why, sizeof why);   /* 64 MiB: a source, not a stream */
        if (!s) snprintf(err, errn, "cannot read kernel source (EBM_CL_DIR): %s", why);
        return s;
    }
    const char *text = ebm_cl_embedded(file, len);
    char *c = text ? malloc(*len + 1) : NULL;
    if (c) {
        memcpy(c, text, *len);
        c[*len] = 0;
    } else {
        snprintf(err, errn, text ? "out of host memory" : "kernel source %s is not embedded in this build", file);
    }
    return c;
}

/* Programs that apply the scalar functions get cl/fns.cl between common.cl and their own text. */
static int wants_fns(const char *file) {
    return !strcmp(file, "elementwise.cl") || !strcmp(file, "gemm.cl") || !strcmp(file, "conv.cl");
}

char *ebm_program_text(const char *file, size_t *len, char *err, size_t errn) {
    size_t lc = 0, lf = 0, lp = 0;
    char *common = load_source("common.cl", &lc, err, errn);
    char *prelude = common && wants_fns(file) ? load_source("fns.cl", &lp, err, errn) : NULL;
    char *body = common && (prelude || !wants_fns(file)) ? load_source(file, &lf, err, errn) : NULL;
    /* EBM_BREAK=file: a line this compiler (any compiler) rejects, to test the fallbacks */
    static const char broken[] = "\n#error \"EBM_BREAK: this program is made to fail\"\n";
    char *src = body ? malloc(lc + lp + lf + 128 + sizeof broken) : NULL;
    if (src) {
        int n = sprintf(src, "%s\n%s%s#line 1 \"%s\"\n", common, prelude ? "#line 1 \"fns.cl\"\n" : "", prelude ? prelude : "",
                        file);
        memcpy(src + n, body, lf + 1);
        *len = (size_t)n + lf;
        if (ebm_env_breaks(file)) {
            memcpy(src + *len, broken, sizeof broken);
            *len += sizeof broken - 1;
        }
    } else if (body) {
        snprintf(err, errn, "out of host memory");
    }
    free(common);
    free(prelude);
    free(body);
    return src;
}

/* The files whose kernels are built one per program (-DONE_KERNEL -DONLY_<kernel>, cl/gemm.cl):
 * gemm.cl's whole file took 14-20 s to compile on PoCL and 12-30 on Intel's CPU runtime (2-core
 * EPYC VM), and once more for each activation a convolution fuses, where a run launches a few of
 * its twelve kernels (0.6-3.6 s each on PoCL). */
int ebm_kernel_one_per_program(ebm_kernel_id_t id) { return !strcmp(kernel_table[id].file, "gemm.cl"); }

const char *ebm_program_defines(ebm_kernel_id_t id, const char *defines, char out[EBM_PROGRAM_DEFINES_SIZE]) {
    if (!defines) defines = "";
    if (!ebm_kernel_one_per_program(id)) return defines;
    int n = snprintf(out, EBM_PROGRAM_DEFINES_SIZE, "%s%s-DONE_KERNEL -DONLY_%s", defines, *defines ? " " : "",
                     kernel_table[id].name);
    EBM_ASSERT(n > 0 && n < EBM_PROGRAM_DEFINES_SIZE);
    return out;
}

/* The program of kernel id built with defines (NULL: none), from the context's list or built now */
static cl_program get_program(ebm_ctx_t *ctx, ebm_kernel_id_t id, const char *defines) {
    const char *file = kernel_table[id].file;
    char one[EBM_PROGRAM_DEFINES_SIZE];
    defines = ebm_program_defines(id, defines, one);
    for (int i = 0; i < ctx->n_programs; i++)
        if (!strcmp(ctx->program_names[i], file) && !strcmp(ctx->program_options[i], defines)) return ctx->programs[i];
    size_t len = 0;
    char err[1400];
    char *src = ebm_program_text(file, &len, err, sizeof err);
    if (!src) {
        ebm_fail(ctx, EBM_STATUS_IO, "%s", err);
        return NULL;
    }
    char name[96];   /* for messages: the file, and the kernel where it is built alone */
    snprintf(name, sizeof name, ebm_kernel_one_per_program(id) ? "%s (kernel %s)" : "%s", file, kernel_table[id].name);
    cl_program p = build_program(ctx, name, src, len, defines);
    free(src);
    if (p) {
        if (ctx->n_programs == EBM_MAX_PROGRAMS) {
            clReleaseProgram(p);
            ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "more than %d kernel programs", EBM_MAX_PROGRAMS);
            return NULL;
        }
        ctx->programs[ctx->n_programs] = p;
        ctx->program_options[ctx->n_programs] = strdup(defines);
        ctx->program_names[ctx->n_programs++] = file;
    }
    return p;
}

/* Remembers a kernel that allows fewer work-items per group than wg_size (register pressure on a
 * GPU, or a driver's limit); every launch of it uses its own limit. */
static ebm_status_t note_kernel_wg(ebm_ctx_t *ctx, cl_kernel k) {
    size_t wg = 0;
    EBM_CL(ctx, clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL));
    if (wg >= ctx->wg_size) return EBM_OK;
    if (ctx->n_small_wg == ctx->cap_small_wg) {
        struct ebm_kernel_wg *a = ebm_grow_array(ctx->small_wg, &ctx->cap_small_wg, sizeof *a, 8);
        if (!a) return ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
        ctx->small_wg = a;
    }
    ctx->small_wg[ctx->n_small_wg++] = (struct ebm_kernel_wg){k, pow2_floor(wg ? wg : 1)};
    return EBM_OK;
}

size_t ebm_kernel_wg(const ebm_ctx_t *ctx, cl_kernel k) {
    for (int i = 0; i < ctx->n_small_wg; i++)
        if (ctx->small_wg[i].k == k) return ctx->small_wg[i].wg;
    return ctx->wg_size;
}

cl_kernel ebm_kernel_variant(ebm_ctx_t *ctx, ebm_kernel_id_t id, const char *defines) {
    for (int i = 0; i < ctx->n_variants; i++)
        if (ctx->variants[i].id == (int)id && !strcmp(ctx->variants[i].defines, defines)) return ctx->variants[i].k;
    EBM_ASSERT(strlen(defines) < sizeof ctx->variants[0].defines);
    EBM_ASSERT(ebm_kernel_variant_listed(kernel_table[id].file, defines));   /* engine/variants.c */
    cl_program p = get_program(ctx, id, defines);
    if (!p) return NULL;
    cl_int e;
    cl_kernel k = clCreateKernel(p, kernel_table[id].name, &e);
    if (e != CL_SUCCESS) {
        ebm_fail(ctx, EBM_STATUS_OPENCL, "clCreateKernel(%s %s): %s", kernel_table[id].name, defines, ebm_cl_error_name(e));
        return NULL;
    }
    if (note_kernel_wg(ctx, k) != EBM_OK) {
        clReleaseKernel(k);
        return NULL;
    }
    if (ctx->n_variants == ctx->cap_variants) {
        struct ebm_kernel_variant *v = ebm_grow_array(ctx->variants, &ctx->cap_variants, sizeof *v, 32);
        if (!v) {
            clReleaseKernel(k);
            ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
            return NULL;
        }
        ctx->variants = v;
    }
    struct ebm_kernel_variant *v = &ctx->variants[ctx->n_variants++];
    v->id = (int)id;
    snprintf(v->defines, sizeof v->defines, "%s", defines);
    v->k = k;
    return k;
}

cl_kernel ebm_kernel(ebm_ctx_t *ctx, ebm_kernel_id_t id) {
    if (ctx->kernels[id]) return ctx->kernels[id];
    cl_program p = get_program(ctx, id, NULL);
    if (!p) return NULL;
    cl_int e;
    cl_kernel k = clCreateKernel(p, kernel_table[id].name, &e);
    if (e != CL_SUCCESS) {
        ebm_fail(ctx, EBM_STATUS_OPENCL, "clCreateKernel(%s in %s): %s", kernel_table[id].name, kernel_table[id].file,
                 ebm_cl_error_name(e));
        return NULL;
    }
    if (note_kernel_wg(ctx, k) != EBM_OK) {
        clReleaseKernel(k);
        return NULL;
    }
    ctx->kernels[id] = k;
    return k;
}

cl_kernel ebm_kernel_fn_order(ebm_ctx_t *ctx, ebm_kernel_id_t id, int fn, int order) {
    char defines[EBM_UNARY_DEFINES_SIZE];
    snprintf(defines, sizeof defines, EBM_UNARY_DEFINES, ebm_fn_names[fn], order);
    return ebm_kernel_variant(ctx, id, defines);
}

cl_kernel ebm_kernel_fn(ebm_ctx_t *ctx, ebm_kernel_id_t id, int fn) {
    return fn < 0 ? ebm_kernel(ctx, id) : ebm_kernel_fn_order(ctx, id, fn, 0);
}

ebm_status_t ebm_kargs(ebm_ctx_t *ctx, cl_kernel k, const char *fmt, ...) {
    cl_uint nargs = 0;
    if (clGetKernelInfo(k, CL_KERNEL_NUM_ARGS, sizeof nargs, &nargs, NULL) == CL_SUCCESS && nargs != strlen(fmt)) {
        char name[64] = "?";
        clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
        name[sizeof name - 1] = 0;
        return ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "internal: kernel %s takes %u arguments, given %zu (\"%s\")", name,
                        (unsigned)nargs, strlen(fmt), fmt);
    }
    va_list ap;
    va_start(ap, fmt);
    cl_int e = CL_SUCCESS;
    cl_uint i = 0;
    for (const char *f = fmt; *f && e == CL_SUCCESS; f++, i++) {
        switch (*f) {
        case 'm': { cl_mem m = va_arg(ap, cl_mem); e = clSetKernelArg(k, i, sizeof m, &m); break; }
        case 'i': { cl_int v = va_arg(ap, int); e = clSetKernelArg(k, i, sizeof v, &v); break; }
        case 'u': { cl_uint v = va_arg(ap, unsigned); e = clSetKernelArg(k, i, sizeof v, &v); break; }
        case 'l': { cl_ulong v = va_arg(ap, size_t); e = clSetKernelArg(k, i, sizeof v, &v); break; }
        case 'f': { cl_float v = (float)va_arg(ap, double); e = clSetKernelArg(k, i, sizeof v, &v); break; }
        case 'L': { size_t v = va_arg(ap, size_t); e = clSetKernelArg(k, i, v, NULL); break; }   /* local memory, bytes */
        default: EBM_ASSERT(!"bad kernel argument format");
        }
    }
    va_end(ap);
    if (e != CL_SUCCESS) return ebm_cl_fail(ctx, e, "clSetKernelArg");
    return EBM_OK;
}

const char *ebm_profile_label(ebm_ctx_t *ctx, const char *name, int dims, const size_t *global, int rows) {
    if (ctx->profile != 3 || !name) return name;
    char buf[160];
    int n = snprintf(buf, sizeof buf, "%s [%zu", name, global[0]);
    for (int d = 1; d < dims && n > 0 && n < (int)sizeof buf; d++)
        n += snprintf(buf + n, sizeof buf - n, " x %zu", global[d]);
    if (n > 0 && n < (int)sizeof buf) n += snprintf(buf + n, sizeof buf - n, "]");
    if (rows > 0 && n > 0 && n < (int)sizeof buf) snprintf(buf + n, sizeof buf - n, " rows=%d", rows);
    for (int i = 0; i < ctx->n_prof_labels; i++)
        if (!strcmp(ctx->prof_labels[i], buf)) return ctx->prof_labels[i];
    if (ctx->n_prof_labels == ctx->cap_prof_labels) {
        char **t = ebm_grow_array(ctx->prof_labels, &ctx->cap_prof_labels, sizeof *t, 32);
        if (!t) return name;
        ctx->prof_labels = t;
    }
    char *copy = strdup(buf);
    if (!copy) return name;
    return ctx->prof_labels[ctx->n_prof_labels++] = copy;
}

/* the kernel's name for the profile table (only queried when profiling per kernel) */
static const char *kname(ebm_ctx_t *ctx, cl_kernel k) {
    if (ctx->profile < 2) return NULL;
    for (int i = 0; i < EBM_K_COUNT; i++)
        if (ctx->kernels[i] == k) return kernel_table[i].name;
    for (int i = 0; i < ctx->n_variants; i++)
        if (ctx->variants[i].k == k) return kernel_table[ctx->variants[i].id].name;
    return "kernel";
}

ebm_status_t ebm_launch1(ebm_ctx_t *ctx, cl_kernel k, size_t n) {
    if (n == 0) return EBM_OK;
    size_t local = ebm_kernel_wg(ctx, k);
    size_t global = (n + local - 1) / local * local;
    EBM_CL(ctx, clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &global, &local, 0, NULL,
                                       ebm_profile_event(ctx, ebm_profile_label(ctx, kname(ctx, k), 1, &global, 0))));
    return EBM_OK;
}

/* Local size (32, 4, 1) or what the device and the kernel allow: dimension 0 is the contiguous one. */
ebm_status_t ebm_launch3(ebm_ctx_t *ctx, cl_kernel k, size_t n0, size_t n1, size_t n2) {
    if (!n0 || !n1 || !n2) return EBM_OK;
    size_t wg = ebm_kernel_wg(ctx, k);   /* a power of two within the device's work-item limit of dimension 0 */
    size_t l0 = n0 >= 32 ? 32 : (n0 >= 16 ? 16 : (n0 >= 8 ? 8 : 1));
    if (l0 > wg) l0 = wg;
    size_t l1 = wg / l0 >= 4 && ctx->info.max_work_item[1] >= 4 ? 4 : 1;
    size_t local[3] = {l0, l1, 1};
    size_t global[3] = {(n0 + l0 - 1) / l0 * l0, (n1 + l1 - 1) / l1 * l1, n2};
    EBM_CL(ctx, clEnqueueNDRangeKernel(ctx->queue, k, 3, NULL, global, local, 0, NULL,
                                       ebm_profile_event(ctx, ebm_profile_label(ctx, kname(ctx, k), 3, global, 0))));
    return EBM_OK;
}

ebm_status_t ebm_launch_groups(ebm_ctx_t *ctx, cl_kernel k, size_t n_groups, size_t local) {
    if (n_groups == 0) return EBM_OK;
    size_t global = n_groups * local;
    EBM_CL(ctx, clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &global, &local, 0, NULL,
                                       ebm_profile_event(ctx, ebm_profile_label(ctx, kname(ctx, k), 1, &global, 0))));
    return EBM_OK;
}
