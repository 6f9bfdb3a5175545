/* fuzz_csv.c — CSV tables (models/data.c ebm_csv_read: an optional header line, comments, blank
 * lines, rows of numbers of one width) as `[data] source = FILE.csv` and `ebm score RUN FILE.csv`
 * open them, through ebm_dataset_open (which adds the finiteness check and the limit). An accepted
 * table has n > 0 rows of n_cols > 0 finite numbers. */
#include "data.h"
#include "fuzz_common.h"

static volatile float sink;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_workdir();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512], err[1024] = "";
    fuzz_write(fuzz_path("table.csv", path, sizeof path), data, size);
    float *rows = NULL;
    int n_rows = -1, n_cols = -1;
    ebm_status_t st = ebm_csv_read(path, &rows, &n_rows, &n_cols, err, sizeof err);
    if (st != EBM_OK) {
        FUZZ_CHECK(err[0], "failure (%s) without a message", ebm_status_str(st));
        return 0;
    }
    FUZZ_CHECK(n_rows > 0 && n_cols > 0 && rows, "%d rows of %d columns", n_rows, n_cols);
    for (size_t i = 0; i < (size_t)n_rows * (size_t)n_cols; i++) sink = rows[i];   /* ASan stops at the end of a short buffer */
    free(rows);

    ebm_dataset_t ds;
    err[0] = 0;
    st = ebm_dataset_open(&ds, path, &(ebm_data_opts_t){.limit = (int)(size % 4)}, err, sizeof err);
    if (st != EBM_OK) {   /* a non-finite value */
        FUZZ_CHECK(err[0], "failure (%s) without a message", ebm_status_str(st));
        return 0;
    }
    FUZZ_CHECK(ds.ndim == 1 && ds.shape[0] == n_cols && ds.n > 0 && ds.n <= n_rows, "n %d, cols %d", ds.n, ds.shape[0]);
    ebm_dataset_free(&ds);
    return 0;
}
