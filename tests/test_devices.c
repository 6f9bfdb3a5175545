/* test_devices.c — device selectors and tags: what `--device` / EBM_DEVICE picks among synthetic
 * device lists with the strings real drivers report (PoCL on Intel and AMD CPUs, Intel's CPU
 * runtime, Intel's GPU driver, NVIDIA, AMD ROCm, Mesa's rusticl), then against the devices present:
 * each device's tag and its P:D index select it, and the peak estimate is never 0 for a CPU. */
#include <stdio.h>
#include <string.h>
#include "ebm.h"
#include "testing.h"

static ebm_device_info_t dev(int p, int d, const char *platform, const char *pvendor, const char *name, const char *vendor,
                             int gpu) {
    ebm_device_info_t x;
    memset(&x, 0, sizeof x);
    x.platform_index = p, x.device_index = d;
    snprintf(x.platform, sizeof x.platform, "%s", platform);
    snprintf(x.platform_vendor, sizeof x.platform_vendor, "%s", pvendor);
    snprintf(x.name, sizeof x.name, "%s", name);
    snprintf(x.vendor, sizeof x.vendor, "%s", vendor);
    x.is_gpu = gpu, x.is_cpu = !gpu;
    x.compute_units = 8;
    return x;
}

static void expect(const ebm_device_info_t *list, int n, const char *sel, int want, const char *what) {
    int got = ebm_device_select(list, n, sel);
    char msg[160];
    snprintf(msg, sizeof msg, "selector \"%s\" picked %d, expected %d", sel, got, want);
    check_msg(got == want, what, got == want ? NULL : msg);
}

static void expect_tag(const ebm_device_info_t *d, const char *want) {
    char tag[32], what[400];
    ebm_device_tag(d, tag, sizeof tag);
    snprintf(what, sizeof what, "tag of %s / %s is \"%s\" (got \"%s\")", d->platform, d->name, want, tag);
    check(!strcmp(tag, want), what);
}

int main(void) {
    /* a workstation: PoCL and Intel's CPU runtime on an Intel CPU, an NVIDIA GPU, an Intel GPU */
    ebm_device_info_t w[4] = {
        dev(0, 0, "Portable Computing Language", "The pocl project", "pthread-skylake-avx512-Intel(R) Xeon(R) Gold 6230",
            "GenuineIntel", 0),
        dev(1, 0, "Intel(R) OpenCL", "Intel(R) Corporation", "Intel(R) Xeon(R) Gold 6230", "Intel(R) Corporation", 0),
        dev(2, 0, "NVIDIA CUDA", "NVIDIA Corporation", "NVIDIA H100 80GB HBM3", "NVIDIA Corporation", 1),
        dev(3, 0, "Intel(R) OpenCL Graphics", "Intel(R) Corporation", "Intel(R) Arc(TM) A770 Graphics", "Intel(R) Corporation", 1),
    };
    expect(w, 4, NULL, 2, "no selector: the first GPU");
    expect(w, 4, "pocl", 0, "pocl: PoCL's device");
    expect(w, 4, "intel", 1, "intel: Intel's own driver (its CPU runtime), not PoCL on an Intel CPU");
    expect(w, 4, "INTEL", 1, "selectors are case-insensitive");
    expect(w, 4, "nvidia", 2, "nvidia: NVIDIA's driver");
    expect(w, 4, "amd", -1, "amd: nothing AMD here");
    expect(w, 4, "cpu", 0, "cpu: the first CPU device");
    expect(w, 4, "gpu", 2, "gpu: the first GPU");
    expect(w, 4, "3:0", 3, "P:D: by index");
    expect(w, 4, "3:1", -1, "P:D out of range: no device");
    expect(w, 4, "Arc", 3, "a substring of the device name");
    expect(w, 4, "Graphics", 3, "a substring of the platform name");
    expect(w, 4, "no-such-thing", -1, "an unknown name: no device");
    expect_tag(&w[0], "pocl");
    expect_tag(&w[1], "intel");
    expect_tag(&w[2], "nvidia");

    /* an AMD machine: PoCL on an EPYC (device vendor AuthenticAMD), Intel's CPU runtime on it, ROCm,
     * and the same GPU through Mesa's rusticl */
    ebm_device_info_t a[4] = {
        dev(0, 0, "Portable Computing Language", "The pocl project", "pthread-haswell-AMD EPYC", "AuthenticAMD", 0),
        dev(1, 0, "Intel(R) OpenCL", "Intel(R) Corporation", "AMD EPYC", "Intel(R) Corporation", 0),
        dev(2, 0, "rusticl", "Mesa/X.org", "AMD Radeon RX 7900 XTX (radeonsi, navi31)", "AMD", 1),
        dev(3, 0, "AMD Accelerated Parallel Processing", "Advanced Micro Devices, Inc.", "gfx1100", "Advanced Micro Devices, Inc.", 1),
    };
    expect(a, 4, "amd", 3, "amd: AMD's own driver first (ROCm), not PoCL on an AMD CPU");
    expect(a, 3, "amd", 2, "amd without ROCm: an AMD GPU through another driver (rusticl)");
    expect(a, 2, "amd", -1, "amd with only CPU drivers: no device (a CPU's vendor string names the chip, not the driver)");
    expect(a, 4, "intel", 1, "intel: Intel's CPU runtime on an AMD CPU");
    expect(a, 4, "EPYC", 0, "a substring matches the first device named so");
    expect(a, 4, "Mesa", 2, "a substring of the platform vendor");
    expect_tag(&a[2], "rusticl");
    expect_tag(&a[3], "amd");

    /* the devices present */
    ebm_device_info_t d[64];
    int n = ebm_devices_list(d, 64);
    check(n > 0, "at least one OpenCL device present");
    if (n > 64) n = 64;
    for (int i = 0; i < n; i++) {
        char tag[32], pd[16], what[256];
        ebm_device_tag(&d[i], tag, sizeof tag);
        snprintf(pd, sizeof pd, "%d:%d", d[i].platform_index, d[i].device_index);
        snprintf(what, sizeof what, "present: %s [%s] is selected by \"%s\"", d[i].name, tag, pd);
        check(ebm_device_select(d, n, pd) == i, what);
        int first = 1;   /* the tag selects the first device carrying it */
        for (int j = 0; j < i; j++) {
            char other[32];
            ebm_device_tag(&d[j], other, sizeof other);
            first &= strcmp(other, tag) != 0;
        }
        if (first) {
            snprintf(what, sizeof what, "present: %s is selected by its tag \"%s\"", d[i].name, tag);
            check(ebm_device_select(d, n, tag) == i, what);
        }
        if (d[i].is_cpu) {
            snprintf(what, sizeof what, "present: %s: FP32 peak estimate %.0f GFLOP/s (a CPU's is never 0: the OS knows its clock)",
                     d[i].name, ebm_device_peak_gflops(&d[i]));
            check(ebm_device_peak_gflops(&d[i]) > 0, what);
        }
    }
    return test_summary();
}
