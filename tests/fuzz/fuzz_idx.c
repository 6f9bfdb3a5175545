/* fuzz_idx.c — IDX files (engine/io/idx.c) through ebm_idx_read, which reads plain and gzipped
 * files alike (zlib's gzread). Built twice:
 *   fuzz_idx      the input is the file: the header and data, and with a seed that starts with the
 *                 gzip magic (1f 8b), the gzip stream itself
 *   fuzz_idx_gz   (FUZZ_GZIP) the input is gzipped by the harness first, so mutations reach the
 *                 IDX header and sizes through the decompressing reader (Fashion-MNIST's .gz files)
 * A file the reader accepts must hold what its header declares (ASan checks the buffer's size). */
#include <zlib.h>
#include "ebm_io.h"
#include "fuzz_common.h"

static volatile unsigned char sink;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_workdir();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512], err[1024] = "";
#ifdef FUZZ_GZIP
    fuzz_path("data-images-idx3-ubyte.gz", path, sizeof path);
    gzFile z = gzopen(path, "wb1");
    FUZZ_CHECK(z, "cannot write %s", path);
    FUZZ_CHECK(size == 0 || gzwrite(z, data, (unsigned)size) == (int)size, "gzwrite failed");
    FUZZ_CHECK(gzclose(z) == Z_OK, "gzclose failed");
#else
    fuzz_write(fuzz_path("data-images-idx3-ubyte", path, sizeof path), data, size);
#endif
    ebm_idx_t idx;
    ebm_status_t st = ebm_idx_read(path, &idx, err, sizeof err);
    if (st != EBM_OK) {
        FUZZ_CHECK(err[0], "failure (%s) without a message", ebm_status_str(st));
        FUZZ_CHECK(!idx.data, "data left behind after a failure");
        return 0;
    }
    size_t n = 1;
    FUZZ_CHECK(idx.ndim >= 1 && idx.ndim <= 4, "ndim %d", idx.ndim);
    for (int d = 0; d < idx.ndim; d++) {
        FUZZ_CHECK(idx.dims[d] > 0, "dimension %d is %d", d, idx.dims[d]);
        n *= (size_t)idx.dims[d];
    }
    FUZZ_CHECK(n == idx.n && idx.data, "n = %zu, dims give %zu", idx.n, n);
    for (size_t i = 0; i < n; i++) sink = idx.data[i];   /* ASan stops at the end of a short buffer */
    ebm_idx_free(&idx);
    return 0;
}
