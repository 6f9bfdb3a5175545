/* fuzz_idx_dataset.c — IDX images with their labels, as training opens them (models/data.c
 * open_idx: the labels-idx1 file beside an images-idx3 file; open_stacked; the anomaly split;
 * concatenating train and test), through ebm_dataset_open, without an OpenCL device.
 *
 * Input: OPTIONS CLASS IMAGES [EBMLABEL LABELS]
 *   OPTIONS bits 0-1  source: 0 DIR/data-images-idx3-ubyte, 1 fashion-mnist, 2 fashion-mnist:test,
 *                     3 fashion-mnist-stacked (EBM_FASHION_MNIST_DIR points at the work folder,
 *                     where train-* and t10k-* both hold IMAGES and LABELS)
 *           bit 2     MEG's anomaly split, bit 3: its test half (else the training half)
 *           bits 4-7  [data] limit (0: all)
 *   CLASS             [data] anomaly_class = CLASS % 12 - 1 (-1 .. 10)
 *   no EBMLABEL       no labels file (unlabelled images)
 * An accepted data set must be what ebm_dataset_t promises: n > 0 finite examples, labels below
 * n_classes, and batches drawn from it. */
#include "data.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    setenv("EBM_FASHION_MNIST_DIR", fuzz_workdir(), 1);
    return 0;
}

static void put(const char *name, const uint8_t *bytes, size_t n, int present) {
    char path[512];
    fuzz_path(name, path, sizeof path);
    if (present) fuzz_write(path, bytes, n);
    else unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int opt = data[0], cls = data[1] % 12 - 1;
    const uint8_t *images = data + 2, *labels = NULL;
    size_t ni = fuzz_find(images, size - 2, "EBMLABEL"), nl = 0;
    if (ni < size - 2) labels = images + ni + 8, nl = size - 2 - ni - 8;
    static const char *const kinds[] = {"train", "t10k"};
    for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s-images-idx3-ubyte.gz", kinds[k]);   /* gzread reads plain files too */
        put(name, images, ni, 1);
        snprintf(name, sizeof name, "%s-labels-idx1-ubyte.gz", kinds[k]);
        put(name, labels, nl, labels != NULL);
    }
    put("data-images-idx3-ubyte", images, ni, 1);
    put("data-labels-idx1-ubyte", labels, nl, labels != NULL);

    char source[512], err[1024] = "";
    static const char *const named[] = {NULL, "fashion-mnist", "fashion-mnist:test", "fashion-mnist-stacked"};
    if (opt & 3) snprintf(source, sizeof source, "%s", named[opt & 3]);
    else fuzz_path("data-images-idx3-ubyte", source, sizeof source);
    ebm_data_opts_t o = {.limit = opt >> 4, .seed = 7, .anomaly_class = cls};
    if (opt & 4) o.anomaly = opt & 8 ? EBM_ANOMALY_TEST : EBM_ANOMALY_TRAIN;
    ebm_dataset_t ds;
    ebm_status_t st = ebm_dataset_open(&ds, source, &o, err, sizeof err);
    if (st != EBM_OK) {
        FUZZ_CHECK(err[0], "failure (%s) without a message", ebm_status_str(st));
        return 0;
    }
    FUZZ_CHECK(ds.n > 0 && ds.ndim == 3 && ds.sample_numel == (size_t)ds.shape[0] * ds.shape[1] * ds.shape[2],
               "n %d, ndim %d, sample_numel %zu", ds.n, ds.ndim, ds.sample_numel);
    FUZZ_CHECK(!o.limit || ds.n <= o.limit, "%d examples over the limit %d", ds.n, o.limit);
    for (int i = 0; ds.y && i < ds.n; i++)
        FUZZ_CHECK(ds.y[i] >= 0 && ds.y[i] < ds.n_classes, "label %d of example %d, %d classes", ds.y[i], i, ds.n_classes);
    enum { B = 3 };
    float *x = malloc(sizeof(float) * B * ds.sample_numel);
    int y[B];
    FUZZ_CHECK(x, "out of memory");
    ebm_dataset_batch(&ds, 1, 5, B, x);
    if (ds.y) ebm_dataset_batch_labels(&ds, 1, 5, B, y);
    for (size_t i = 0; i < B * ds.sample_numel; i++) FUZZ_CHECK(x[i] >= 0 && x[i] <= 1, "batch value %g", x[i]);
    free(x);
    ebm_dataset_free(&ds);
    return 0;
}
