/* atomic.c — write a whole file through a temporary name and rename. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "../ebm_io.h"

ebm_status_t ebm_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errn) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errn, "%s: path too long", path);
        return EBM_STATUS_INVALID_ARGUMENT;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errn, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        return EBM_STATUS_IO;
    }
    int ok = fwrite(data, 1, len, f) == len;
    int saved = errno;
    ok = (fflush(f) == 0) && ok;
    ok = (fsync(fileno(f)) == 0) && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        if (ok) saved = errno;
        remove(tmp);
        snprintf(err, errn, "%s: write failed: %s", path, strerror(saved));
        return EBM_STATUS_IO;
    }
    return EBM_OK;
}
