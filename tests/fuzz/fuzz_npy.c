/* fuzz_npy.c — NumPy .npy arrays (engine/io/npy.c) through ebm_npy_read: the input is the file. A
 * file the reader accepts must hold what its header declares: 1 to EBM_NPY_MAX_DIMS dimensions whose
 * product is n, n numbers (ASan checks the buffer's size); a refusal must say why and leave nothing. */
#include "ebm_io.h"
#include "fuzz_common.h"

static volatile float sink;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_workdir();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512], err[1024] = "";
    fuzz_write(fuzz_path("data.npy", path, sizeof path), data, size);
    ebm_npy_t a;
    ebm_status_t st = ebm_npy_read(path, &a, err, sizeof err);
    if (st != EBM_OK) {
        FUZZ_CHECK(err[0], "failure (%s) without a message", ebm_status_str(st));
        FUZZ_CHECK(!a.data, "data left behind after a failure");
        return 0;
    }
    size_t n = 1;
    FUZZ_CHECK(a.ndim >= 1 && a.ndim <= EBM_NPY_MAX_DIMS, "ndim %d", a.ndim);
    for (int d = 0; d < a.ndim; d++) {
        FUZZ_CHECK(a.shape[d] >= 0, "dimension %d is %d", d, a.shape[d]);
        n *= (size_t)a.shape[d];
    }
    FUZZ_CHECK(n == a.n, "shape product %zu, n %zu", n, a.n);
    FUZZ_CHECK(a.data, "no data buffer");
    float acc = 0;
    for (size_t i = 0; i < a.n; i++) acc += a.data[i];   /* every number is there */
    sink = acc;
    ebm_npy_free(&a);
    return 0;
}
