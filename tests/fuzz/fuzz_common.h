/* fuzz_common.h — what every libFuzzer harness of tests/fuzz shares: a private work folder for the
 * files the readers open (they all take paths), input splitting, and checks that abort (libFuzzer
 * records the input) when a reader breaks a promise of its header. */
#ifndef EBM_FUZZ_COMMON_H
#define EBM_FUZZ_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sanitizer/common_interface_defs.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One folder per process (parallel -jobs/-fork workers never share files), under $EBM_FUZZ_TMP
 * (run_fuzz.sh sets it), else /dev/shm when it is there: each input is written to a file and read
 * back, thousands of times a second. */
static char fuzz_dir[256];

/* removes path and, for a folder, what the harness put in it (no symlinks are followed) */
static inline void fuzz_remove(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            fuzz_remove(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    } else
        unlink(path);
}

static inline void fuzz_cleanup(void) {
    if (fuzz_dir[0]) fuzz_remove(fuzz_dir);
}

static inline const char *fuzz_workdir(void) {
    if (fuzz_dir[0]) return fuzz_dir;
    const char *base = getenv("EBM_FUZZ_TMP");
    FILE *probe = base ? NULL : fopen("/dev/shm/.", "r");
    if (!base) base = probe ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (probe) fclose(probe);
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/ebm-fuzz-XXXXXX", base);
    if (!mkdtemp(fuzz_dir)) {
        perror(fuzz_dir);
        abort();
    }
    atexit(fuzz_cleanup);
    return fuzz_dir;
}

/* fuzz_dir/name; a static buffer per call site is not needed: callers copy or use it at once */
static inline const char *fuzz_path(const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", fuzz_workdir(), name);
    return buf;
}

static inline void fuzz_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f)) {
        perror(path);
        abort();
    }
}

/* offset of the first sep in data[0, n), or n */
static inline size_t fuzz_find(const uint8_t *data, size_t n, const char *sep) {
    size_t m = strlen(sep);
    for (size_t i = 0; i + m <= n; i++)
        if (!memcmp(data + i, sep, m)) return i;
    return n;
}

/* The bytes of [*p, end) up to the byte sep (or the end) as a fresh NUL-terminated string, *len
 * its length (it may hold NULs when sep is not 0); *p moves past the separator. NULL when nothing
 * is left. */
static inline char *fuzz_take(const uint8_t **p, const uint8_t *end, int sep, size_t *len) {
    if (*p >= end) return NULL;
    size_t n = (size_t)(end - *p), i = 0;
    while (i < n && (*p)[i] != (uint8_t)sep) i++;
    char *s = malloc(i + 1);
    if (!s) abort();
    memcpy(s, *p, i);
    s[i] = 0;
    if (len) *len = i;
    *p += i < n ? i + 1 : i;
    return s;
}

/* A broken promise of a reader's header (e.g. a failure without a message): the message goes out
 * through the sanitizers' report channel, which libFuzzer keeps open under -close_fd_mask=3 (the
 * readers' own messages on stdout and stderr are noise at thousands of inputs a second), and abort()
 * makes libFuzzer save the input. */
static char fuzz_msg[2048];
#define FUZZ_CHECK(cond, ...)                                                                                                   \
    do {                                                                                                                         \
        if (!(cond)) {                                                                                                           \
            int fuzz_len_ = snprintf(fuzz_msg, sizeof fuzz_msg, "fuzz check failed: %s: ", #cond);                              \
            if (fuzz_len_ > 0 && (size_t)fuzz_len_ < sizeof fuzz_msg)                                                            \
                snprintf(fuzz_msg + fuzz_len_, sizeof fuzz_msg - (size_t)fuzz_len_, __VA_ARGS__);                                \
            __sanitizer_report_error_summary(fuzz_msg);                                                                          \
            abort();                                                                                                             \
        }                                                                                                                        \
    } while (0)
#endif
