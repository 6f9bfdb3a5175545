/* data.h — training data held on the host as float32 rows, batched by epoch-wise shuffles drawn
 * from the engine's RNG.
 *
 *   ebm_dataset_t ds;
 *   char err[512];
 *   if (ebm_dataset_open(&ds, "fashion-mnist", &(ebm_data_opts_t){.size = 28}, err, sizeof err)) puts(err);
 *   float *x = malloc(sizeof(float) * B * ds.sample_numel);
 *   ebm_dataset_batch(&ds, seed, iter, B, x);      // the same rows for the same (seed, iter)
 *
 * Sources (`[data] source`):
 *   fashion-mnist        /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz (Debian package)
 *   FILE.idx / .gz       IDX unsigned-byte images (N, H, W) or (N, C, H, W), scaled to [0, 1]
 *   toy:NAME             2-D toys of ebm_io.h (8gaussians, 25gaussians, swissroll, 2spirals, rings)
 *   toy:barsN            bars and stripes, (1, N, N) binary images, 2 <= N <= 8: every one of the 2^N
 *                        choices of lit rows and every one of the 2^N choices of lit columns, 2^(N+1)
 *                        rows; the blank and the full image are both a row and a column choice, so each
 *                        is in the set twice (2^(N+1) - 2 distinct images; ebm_bars_best_loglik)
 *   FILE.csv             numeric table, one row per example (a non-numeric first line is a header)
 *   DIRECTORY            PNG/JPEG/BMP images, centre-cropped to a square and resized to size x size
 * Every failure names the file (and line or image) and the problem. */
#ifndef EBM_DATA_H
#define EBM_DATA_H
#include <stddef.h>
#include <stdint.h>
#include "ebm.h"

/* where data.source = fashion-mnist looks (Debian package dataset-fashion-mnist); the environment
 * variable EBM_FASHION_MNIST_DIR overrides it */
#define EBM_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct ebm_data_opts {
    int size;          /* images: output height = width (0: keep the file's size; folders need it) */
    int channels;      /* images from folders: 1 or 3 (0: 3) */
    int limit;         /* > 0: keep only the first `limit` examples */
    int toy_n;         /* toys: number of points to draw (0: 50 000) */
    uint64_t seed;     /* toys, stacked images: RNG seed of the drawn points / image triples */
    int anomaly;       /* EBM_ANOMALY_TRAIN or _TEST: MEG's held-out-class split (below); 0: every example */
    int anomaly_class; /* the class held out as the anomaly */
    int binarize;      /* EBM_BINARIZE_*: images and vectors made 0/1 after loading */
} ebm_data_opts_t;

/* [data] binarize: none; threshold: x > 0.5; stochastic: 1 with probability x (x clamped to [0, 1]),
 * drawn once when the data are opened from Philox(0x42494e, 0) ("BIN"), the same for every run and
 * seed (a fixed binarised copy, as Salakhutdinov & Murray's binarised MNIST) */
enum { EBM_BINARIZE_NONE = 0, EBM_BINARIZE_THRESHOLD = 1, EBM_BINARIZE_STOCHASTIC = 2 };
/* the EBM_BINARIZE_* of a name (none, threshold, stochastic) into *out: 1, or 0 for an unknown name */
int ebm_data_binarize_of(const char *name, int *out);
/* the best mean log-likelihood of any model on toy:barsN's 2^(N+1) rows, in nats: sum_x p(x) log p(x)
 * with p the rows' frequencies (the blank and full images 2 / 2^(N+1), the others 1 / 2^(N+1)) */
double ebm_bars_best_loglik(int n);

/* MEG's anomaly protocol (README, Anomaly detection): of a labelled source (fashion-mnist: its train and test
 * files together, 70 000 images), the examples of anomaly_class are anomalies; a fixed permutation
 * (Philox(42, "ANOM"), the same for every run) puts 80% of the others in the training split; the test
 * split is the other 20% of normal examples plus every anomaly, in source order (labels kept). */
enum { EBM_ANOMALY_TRAIN = 1, EBM_ANOMALY_TEST = 2 };

typedef struct ebm_dataset {
    char source[512];
    int n;                 /* examples */
    int ndim;              /* per-example dims: 1 (vectors) or 3 (C, H, W) */
    int shape[3];
    size_t sample_numel;
    float *x;              /* n * sample_numel */
    int *y;                /* class labels (IDX images with a labels file beside them; a mixture toy: its mode), else NULL */
    int n_classes;
    int toy;               /* 1 for 2-D toys (heat maps and mode evaluation apply) */
    char toy_name[32];
    /* shuffle state: the permutation of the epoch last asked for */
    int *perm;
    long perm_epoch;
    uint64_t perm_seed;
    /* parts > 1 (data-parallel training, one part per process): a batch of B rows is rows
     * [part*B, part*B + B) of the batch of B*parts rows (0 after ebm_dataset_open: whole batches) */
    int part, parts;
} ebm_dataset_t;

ebm_status_t ebm_dataset_open(ebm_dataset_t *ds, const char *source, const ebm_data_opts_t *opts, char *err, size_t errn);
void ebm_dataset_free(ebm_dataset_t *ds);
/* Rows of batch `iter` (B of them) into out: iteration i takes positions i*B .. i*B+B-1 of the
 * concatenated epoch permutations, each epoch shuffled with Philox(seed, epoch). */
void ebm_dataset_batch(ebm_dataset_t *ds, uint64_t seed, long iter, int B, float *out);
/* the labels of the same rows (ds->y must exist) */
void ebm_dataset_batch_labels(ebm_dataset_t *ds, uint64_t seed, long iter, int B, int *out);
/* NaN or Inf anywhere: an error naming the example */
ebm_status_t ebm_dataset_check_finite(const ebm_dataset_t *ds, char *err, size_t errn);

/* Single readers (also used by `ebm score`). */
ebm_status_t ebm_csv_read(const char *path, float **rows, int *n_rows, int *n_cols, char *err, size_t errn);
/* One image file (PNG, JPEG or BMP, known by its first bytes; at most 16384 pixels a side and 2^26
 * pixels) as 8-bit pixels, row-major with `channels` (1 or 3) interleaved, malloc'd; NULL with the
 * reason (naming the file) in err (imagefile.c). */
unsigned char *ebm_image_decode(const char *path, int channels, int *w, int *h, char *err, size_t errn);
/* One image file as floats in [0, 1], (channels, size, size), centre-cropped and resized. */
ebm_status_t ebm_image_read(const char *path, int channels, int size, float *out, char *err, size_t errn);
#endif
