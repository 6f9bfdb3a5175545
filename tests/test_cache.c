/* test_cache.c — the on-disk kernel cache: binaries appear in EBM_KERNEL_CACHE's folder with no
 * temporary files left behind, a second context loads them, and a corrupt entry is ignored
 * (rebuilt from source) rather than trusted. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ebm.h"
#include "testing.h"


static int count(const char *dir, const char *suffix, char *first, size_t n) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int c = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name), ls = strlen(suffix);
        if (l >= ls && !strcmp(e->d_name + l - ls, suffix)) {
            if (!c && first) snprintf(first, n, "%s/%s", dir, e->d_name);
            c++;
        }
        if (strstr(e->d_name, ".tmp.")) c += 1000;   /* a left-over temp file counts as failure */
    }
    closedir(d);
    return c;
}

static int hits, misses, saves, measured;
static char hit_path[512];   /* the last entry a context loaded ("kernel cache HIT name (path)") */
static void counter(ebm_log_level_t level, const char *msg, void *user) {
    (void)level, (void)user;
    if ((strstr(msg, "gemm ") && strstr(msg, "CLBlast")) || strstr(msg, "conv kind")) measured++;
    if (strstr(msg, "kernel cache HIT")) {
        hits++;
        const char *p = strrchr(msg, '(');
        if (p) snprintf(hit_path, sizeof hit_path, "%.*s", (int)strcspn(p + 1, ")"), p + 1);
    }
    if (strstr(msg, "kernel cache MISS")) misses++;
    if (strstr(msg, "kernel cache SAVE ")) saves++;
}

static int run_op(void) {
    hits = misses = saves = measured = 0;
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) return 0;
    ebm_tensor_t *x = ebm_tensor_full(ctx, 1, (int[]){5}, 2.0f);
    float v[5] = {0};
    ebm_tensor_read(ebm_square(x), v);
    /* a convolution: its algorithm (and its GEMM's) is measured once per device, then remembered */
    ebm_tensor_t *img = ebm_tensor_full(ctx, 4, (int[]){2, 3, 6, 6}, 1.0f), *w = ebm_tensor_full(ctx, 4, (int[]){4, 3, 3, 3}, 0.5f);
    float y[2 * 4 * 6 * 6];
    ebm_tensor_read(ebm_conv2d(img, w, NULL, EBM_CONV2D(1, 1)), y);
    int ok = v[4] == 4.0f && y[7] == 13.5f && ebm_ctx_status(ctx) == EBM_OK;
    ebm_ctx_free(ctx);
    return ok;
}

int main(void) {
    char dir[] = "/tmp/ebm-cache-test-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    setenv("EBM_KERNEL_CACHE", dir, 1);
    setenv("EBM_KERNEL_CACHE_DEBUG", "1", 1);
    ebm_log_set(counter, NULL);
    check(run_op() && misses >= 1 && saves == misses && hits == 0 && measured >= 1,
          "first run builds kernels from source, saves them, and measures the convolution algorithms");
    check(count(dir, ".txt", NULL, 0) == 1, "measured algorithm choices saved next to the kernel cache");
    char path[512] = "";
    int n = count(dir, ".bin", path, sizeof path);
    check(n >= 1 && n < 1000, "compiled programs saved to the cache folder, no temporary files left");
    check(run_op() && hits >= 1 && misses == 0 && measured == 0,
          "second context loads every program from the cache and reuses the saved algorithm choices");
    /* corrupt an entry the op loads (the first run also built the programs of the algorithms it
     * measured and did not choose, which later runs never load): truncate it */
    check(hit_path[0] != 0, "the second context named an entry it loaded");
    FILE *f = fopen(hit_path, "wb");
    if (f) {
        fputs("EBMKCACHE1garbage", f);
        fclose(f);
    }
    check(run_op() && misses == 1 && saves == 1, "a corrupt cache entry is ignored, rebuilt from source and rewritten");
    /* clean up */
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        remove(p);
    }
    if (d) closedir(d);
    rmdir(dir);
    return test_summary();
}
