/* data.c — data sources for training and scoring (data.h). */
#include "data.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stb_image_resize.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static ebm_status_t open_idx(ebm_dataset_t *ds, const char *path, const ebm_data_opts_t *o, char *err, size_t errn) {
    ebm_idx_t idx;
    ebm_status_t st = ebm_idx_read(path, &idx, err, errn);
    if (st != EBM_OK) return st;
    int C, H, W;
    if (idx.ndim == 3) C = 1, H = idx.dims[1], W = idx.dims[2];
    else if (idx.ndim == 4) C = idx.dims[1], H = idx.dims[2], W = idx.dims[3];
    else {
        snprintf(err, errn, "%s: IDX data has %d dimensions; images need (N, H, W) or (N, C, H, W)", path, idx.ndim);
        ebm_idx_free(&idx);
        return EBM_STATUS_FORMAT;
    }
    if (o->size && (o->size != H || o->size != W)) {
        snprintf(err, errn, "%s: images are %dx%d but [data] size = %d (IDX images are not resized; set size = 0 or %d)", path, H,
                 W, o->size, H);
        ebm_idx_free(&idx);
        return EBM_STATUS_INVALID_ARGUMENT;
    }
    ds->n = idx.dims[0];
    ds->ndim = 3;
    ds->shape[0] = C, ds->shape[1] = H, ds->shape[2] = W;
    ds->sample_numel = (size_t)C * H * W;
    if (o->limit > 0 && o->limit < ds->n) ds->n = o->limit;
    ds->x = malloc(sizeof(float) * ds->sample_numel * ds->n);
    if (!ds->x) {
        ebm_idx_free(&idx);
        snprintf(err, errn, "%s: out of memory", path);
        return EBM_STATUS_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < ds->sample_numel * ds->n; i++) ds->x[i] = idx.data[i] / 255.0f;
    ebm_idx_free(&idx);
    /* labels: the same name with labels-idx1 for images-idx3 (MNIST / Fashion-MNIST naming) */
    char lpath[600];
    const char *at = strstr(path, "images-idx3");
    if (at && strlen(path) < sizeof lpath) {
        snprintf(lpath, sizeof lpath, "%.*slabels-idx1%s", (int)(at - path), path, at + strlen("images-idx3"));
        ebm_idx_t lab;
        char lerr[512];
        ebm_status_t lst = ebm_idx_read(lpath, &lab, lerr, sizeof lerr);
        if (lst != EBM_OK && lst != EBM_STATUS_IO) {   /* there, but corrupt or truncated (absent: unlabelled) */
            snprintf(err, errn, "%s (the labels of %s)", lerr, path);
            return lst;
        }
        if (lst == EBM_OK) {
            if (lab.ndim != 1 || lab.dims[0] < ds->n) {
                snprintf(err, errn, "%s: %d labels for %d images in %s", lpath, lab.ndim == 1 ? lab.dims[0] : -1, ds->n, path);
                ebm_idx_free(&lab);
                return EBM_STATUS_FORMAT;
            }
            ds->y = malloc(sizeof(int) * ds->n);
            for (int i = 0; ds->y && i < ds->n; i++) {
                ds->y[i] = lab.data[i];
                if (ds->y[i] + 1 > ds->n_classes) ds->n_classes = ds->y[i] + 1;
            }
            ebm_idx_free(&lab);
        }
    }
    return EBM_OK;
}

/* MEG's StackedMNIST on Fashion-MNIST: example i is three images drawn with replacement (Philox(seed,
 * "STACK")) as the three channels, label 100 y0 + 10 y1 + y2 (1000 classes) */
static ebm_status_t open_stacked(ebm_dataset_t *ds, const char *path, const ebm_data_opts_t *o, char *err, size_t errn) {
    ebm_dataset_t one;
    memset(&one, 0, sizeof one);
    ebm_data_opts_t o1 = *o;
    o1.limit = 0;
    ebm_status_t st = open_idx(&one, path, &o1, err, errn);
    if (st != EBM_OK) {
        ebm_dataset_free(&one);   /* the images, when the labels failed */
        return st;
    }
    if (one.shape[0] != 1 || !one.y) {
        snprintf(err, errn, "%s: stacking needs one-channel images with a labels file", path);
        ebm_dataset_free(&one);
        return EBM_STATUS_FORMAT;
    }
    if (one.n_classes > 10) {   /* the label 100 y0 + 10 y1 + y2 has 1000 values only for digits */
        snprintf(err, errn, "%s: stacking needs labels 0 .. 9; its labels file has labels up to %d", path, one.n_classes - 1);
        ebm_dataset_free(&one);
        return EBM_STATUS_FORMAT;
    }
    int n = o->limit > 0 ? o->limit : one.n, HW = one.shape[1] * one.shape[2];
    ds->ndim = 3;
    ds->shape[0] = 3, ds->shape[1] = one.shape[1], ds->shape[2] = one.shape[2];
    ds->sample_numel = (size_t)3 * HW;
    ds->x = malloc(sizeof(float) * ds->sample_numel * n);
    ds->y = malloc(sizeof(int) * n);
    if (!ds->x || !ds->y) {
        ebm_dataset_free(&one);
        snprintf(err, errn, "%s: out of memory", path);
        return EBM_STATUS_OUT_OF_MEMORY;
    }
    ds->n = n;
    ds->n_classes = 1000;
    ebm_rng_t r = ebm_rng_make(o->seed, 0x535441434bull);   /* "STACK" */
    for (int i = 0; i < n; i++) {
        float u[3];
        ebm_rng_host_uniform(&r, u, 3);
        ds->y[i] = 0;
        for (int c = 0; c < 3; c++) {
            int k = (int)(u[c] * one.n);
            if (k >= one.n) k = one.n - 1;
            memcpy(ds->x + ds->sample_numel * i + (size_t)c * HW, one.x + (size_t)HW * k, sizeof(float) * HW);
            ds->y[i] = 10 * ds->y[i] + one.y[k];
        }
    }
    ebm_dataset_free(&one);
    return EBM_OK;
}

/* a (after concatenating b onto it; b freed) */
static ebm_status_t concat(ebm_dataset_t *a, ebm_dataset_t *b, char *err, size_t errn) {
    ebm_status_t st = EBM_OK;
    if (a->sample_numel != b->sample_numel || !a->y != !b->y) {
        snprintf(err, errn, "%s: the train and test files differ in image shape or labels", a->source);
        st = EBM_STATUS_FORMAT;
    }
    float *x = st == EBM_OK ? realloc(a->x, sizeof(float) * a->sample_numel * (a->n + b->n)) : NULL;
    if (x) a->x = x;
    int *y = x && a->y ? realloc(a->y, sizeof(int) * (a->n + b->n)) : NULL;
    if (y) a->y = y;
    if (st == EBM_OK && (!x || (a->y && !y))) {
        snprintf(err, errn, "%s: out of memory", a->source);
        st = EBM_STATUS_OUT_OF_MEMORY;
    }
    if (st == EBM_OK) {
        memcpy(a->x + a->sample_numel * a->n, b->x, sizeof(float) * b->sample_numel * b->n);
        if (a->y) memcpy(a->y + a->n, b->y, sizeof(int) * b->n);
        if (b->n_classes > a->n_classes) a->n_classes = b->n_classes;
        a->n += b->n;
    }
    ebm_dataset_free(b);
    return st;
}

/* keep the examples of MEG's anomaly split (data.h) in source order */
static ebm_status_t anomaly_split(ebm_dataset_t *ds, const ebm_data_opts_t *o, char *err, size_t errn) {
    int k = o->anomaly_class, n_normal = 0;
    if (!ds->y) {
        snprintf(err, errn, "%s: the anomaly split ([data] anomaly_class) needs class labels", ds->source);
        return EBM_STATUS_FORMAT;
    }
    if (k < 0 || k >= ds->n_classes) {
        snprintf(err, errn, "%s: anomaly_class = %d, but the labels are 0 .. %d", ds->source, k, ds->n_classes - 1);
        return EBM_STATUS_INVALID_ARGUMENT;
    }
    int *normal = malloc(sizeof(int) * ds->n), *perm = malloc(sizeof(int) * ds->n);
    char *keep = calloc((size_t)ds->n, 1);
    if (!normal || !perm || !keep) {
        free(normal), free(perm), free(keep);
        snprintf(err, errn, "%s: out of memory", ds->source);
        return EBM_STATUS_OUT_OF_MEMORY;
    }
    for (int i = 0; i < ds->n; i++)
        if (ds->y[i] != k) normal[n_normal++] = i;
    ebm_rng_t r = ebm_rng_make(42, 0x414e4f4dull);   /* "ANOM" */
    ebm_rng_host_permutation(&r, perm, n_normal);
    int n_train = (int)((8LL * n_normal) / 10);
    for (int j = 0; j < n_normal; j++) keep[normal[perm[j]]] = (j < n_train) == (o->anomaly == EBM_ANOMALY_TRAIN);
    if (o->anomaly == EBM_ANOMALY_TEST)
        for (int i = 0; i < ds->n; i++) keep[i] |= ds->y[i] == k;
    int m = 0;
    for (int i = 0; i < ds->n; i++)
        if (keep[i]) {
            memmove(ds->x + ds->sample_numel * m, ds->x + ds->sample_numel * i, sizeof(float) * ds->sample_numel);
            ds->y[m++] = ds->y[i];
        }
    ds->n = m;
    free(normal), free(perm), free(keep);
    return EBM_OK;
}

int ebm_data_binarize_of(const char *name, int *out) {
    static const char *const names[] = {"none", "threshold", "stochastic"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) return *out = i, 1;
    return 0;
}

double ebm_bars_best_loglik(int n) {
    double rows = ldexp(1.0, n + 1);
    return (rows - 4) / rows * log(1 / rows) + 4 / rows * log(2 / rows);
}

/* toy:barsN: rows 0 .. 2^N - 1 light the image rows of the bits of their index, the next 2^N the columns */
static ebm_status_t open_bars(ebm_dataset_t *ds, const char *name, char *err, size_t errn) {
    char *end;
    long n = strtol(name + 4, &end, 10);
    if (end == name + 4 || *end || n < 2 || n > 8) {
        snprintf(err, errn, "toy:%s: bars and stripes are toy:barsN with 2 <= N <= 8", name);
        return EBM_STATUS_INVALID_ARGUMENT;
    }
    int N = (int)n, half = 1 << N;
    ds->n = 2 * half;
    ds->ndim = 3;
    ds->shape[0] = 1, ds->shape[1] = N, ds->shape[2] = N;
    ds->sample_numel = (size_t)N * N;
    if (!(ds->x = malloc(sizeof(float) * ds->sample_numel * ds->n))) return EBM_STATUS_OUT_OF_MEMORY;
    for (int k = 0; k < ds->n; k++)
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) ds->x[(size_t)k * N * N + i * N + j] = (float)(((k % half) >> (k < half ? i : j)) & 1);
    return EBM_OK;
}

static ebm_status_t open_toy(ebm_dataset_t *ds, const char *name, const ebm_data_opts_t *o, char *err, size_t errn) {
    if (!strncmp(name, "bars", 4)) return open_bars(ds, name, err, errn);
    ds->n = o->toy_n > 0 ? o->toy_n : 50000;
    ds->ndim = 1;
    ds->shape[0] = 2;
    ds->sample_numel = 2;
    ds->toy = 1;
    snprintf(ds->toy_name, sizeof ds->toy_name, "%s", name);
    ds->x = malloc(sizeof(float) * 2 * ds->n);
    if (!ds->x) return EBM_STATUS_OUT_OF_MEMORY;
    ebm_rng_t r = ebm_rng_make(o->seed, 0x7079ull);
    ebm_status_t st = ebm_toy_sample(name, &r, ds->x, (size_t)ds->n, err, errn);
    /* a mixture's points are labelled by their mode, the nearest centre: the mode each was drawn from
     * but with probability below 1e-13 (8 gaussians: half the distance between neighbouring centres is
     * 7.6 standard deviations; 25 gaussians: 10) */
    float c[2 * 25], sd;
    int K = ebm_toy_modes(name, c, 25, &sd);
    if (st != EBM_OK || K <= 0) return st;
    if (!(ds->y = malloc(sizeof(int) * ds->n))) return EBM_STATUS_OUT_OF_MEMORY;
    ds->n_classes = K;
    for (int i = 0; i < ds->n; i++) {
        float best = INFINITY;
        for (int k = 0; k < K; k++) {
            float dx = ds->x[2 * i] - c[2 * k], dy = ds->x[2 * i + 1] - c[2 * k + 1];
            if (dx * dx + dy * dy < best) best = dx * dx + dy * dy, ds->y[i] = k;
        }
    }
    return EBM_OK;
}

ebm_status_t ebm_csv_read(const char *path, float **rows, int *n_rows, int *n_cols, char *err, size_t errn) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errn, "%s: cannot open: %s", path, strerror(errno));
        return EBM_STATUS_IO;
    }
    char *line = NULL;
    size_t cap = 0, n = 0, alloc = 0;
    int cols = -1, lineno = 0;
    float *data = NULL;
    ebm_status_t st = EBM_OK;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\n' || *p == '\r' || *p == 0 || *p == '#') continue;
        int c = 0, numeric = 1;
        for (char *q = p;;) {
            char *end;
            errno = 0;
            double v = strtod(q, &end);
            while (*end == ' ' || *end == '\t') end++;
            if (end == q || errno || (*end && *end != ',' && *end != '\n' && *end != '\r')) {
                numeric = 0;
                break;
            }
            if (n + (size_t)c + 1 > alloc) {
                alloc = alloc ? 2 * alloc : 1024;
                float *d = realloc(data, sizeof(float) * alloc);
                if (!d) {
                    st = EBM_STATUS_OUT_OF_MEMORY;
                    snprintf(err, errn, "%s: out of memory", path);
                    goto done;
                }
                data = d;
            }
            data[n + c++] = (float)v;
            if (*end != ',') break;
            q = end + 1;
        }
        if (!numeric) {
            if (cols < 0 && n == 0 && lineno == 1) continue;   /* header */
            p[strcspn(p, "\r\n")] = 0;
            snprintf(err, errn, "%s:%d: not a row of numbers: %.60s", path, lineno, p);
            st = EBM_STATUS_FORMAT;
            goto done;
        }
        if (cols >= 0 && c != cols) {
            snprintf(err, errn, "%s:%d: %d columns, but the rows before have %d", path, lineno, c, cols);
            st = EBM_STATUS_FORMAT;
            goto done;
        }
        cols = c;
        n += (size_t)c;
    }
    if (cols <= 0) {
        snprintf(err, errn, "%s: no rows of numbers", path);
        st = EBM_STATUS_FORMAT;
    }
done:
    free(line);
    fclose(f);
    if (st != EBM_OK) {
        free(data);
        return st;
    }
    *rows = data;
    *n_cols = cols;
    *n_rows = (int)(n / (size_t)cols);
    return EBM_OK;
}

static ebm_status_t open_csv(ebm_dataset_t *ds, const char *path, const ebm_data_opts_t *o, char *err, size_t errn) {
    int rows, cols;
    ebm_status_t st = ebm_csv_read(path, &ds->x, &rows, &cols, err, errn);
    if (st != EBM_OK) return st;
    ds->n = o->limit > 0 && o->limit < rows ? o->limit : rows;
    ds->ndim = 1;
    ds->shape[0] = cols;
    ds->sample_numel = (size_t)cols;
    return EBM_OK;
}

/* a NumPy .npy array (ebm_npy_read): (N, D) vectors, (N, H, W) grey or (N, C, H, W) images, as they
 * are (values are not rescaled, except uint8 arrays, divided by 255) */
static ebm_status_t open_npy(ebm_dataset_t *ds, const char *path, const ebm_data_opts_t *o, char *err, size_t errn) {
    ebm_npy_t a;
    ebm_status_t st = ebm_npy_read(path, &a, err, errn);
    if (st != EBM_OK) return st;
    if (a.ndim < 2) {
        snprintf(err, errn, "%s: a .npy array of shape (%d): examples need (N, D), (N, H, W) or (N, C, H, W)", path, a.shape[0]);
        ebm_npy_free(&a);
        return EBM_STATUS_FORMAT;
    }
    int C = a.ndim == 4 ? a.shape[1] : 1, H = a.shape[a.ndim - 2], W = a.shape[a.ndim - 1];
    if (a.ndim > 2 && o->size && (o->size != H || o->size != W)) {
        snprintf(err, errn, "%s: images are %dx%d but [data] size = %d (.npy images are not resized; set size = 0 or %d)", path, H,
                 W, o->size, H);
        ebm_npy_free(&a);
        return EBM_STATUS_INVALID_ARGUMENT;
    }
    ds->n = a.shape[0];
    if (a.ndim == 2) ds->ndim = 1, ds->shape[0] = a.shape[1];
    else ds->ndim = 3, ds->shape[0] = C, ds->shape[1] = H, ds->shape[2] = W;
    ds->sample_numel = a.ndim == 2 ? (size_t)a.shape[1] : (size_t)C * H * W;
    if (ds->sample_numel == 0) {
        snprintf(err, errn, "%s: examples of 0 numbers", path);
        ebm_npy_free(&a);
        return EBM_STATUS_FORMAT;
    }
    if (o->limit > 0 && o->limit < ds->n) ds->n = o->limit;
    ds->x = a.data;   /* the array's first n examples are the data set's */
    return EBM_OK;
}

/* A square crop much larger than the size it is resized to is first averaged over f x f blocks,
 * f = side / (REDUCE_GAP * size) rounded down, then resampled by stb_image_resize from at least
 * REDUCE_GAP times the size (Pillow's Image.reduce before resize, its reducing_gap). Resampling a
 * whole 8192 x 8192 photo took 0.9 s (gray) and 1.6 s (RGB) here, with a float copy of the crop
 * (800 MB in RGB), and 53 s for both in the fuzz build; the blocks make it 0.2 and 0.4 s (2.7 s).
 * The crop loses the side's remainder modulo f, split between both ends: less than
 * 1 / (2 REDUCE_GAP) of an output pixel at each. */
#define REDUCE_GAP 3

ebm_status_t ebm_image_read(const char *path, int C, int size, float *out, char *err, size_t errn) {
    int w, h;
    unsigned char *px = ebm_image_decode(path, C, &w, &h, err, errn);   /* w, h >= 1 */
    if (!px) return errno == ENOMEM ? EBM_STATUS_OUT_OF_MEMORY : EBM_STATUS_FORMAT;
    int s = w < h ? w : h, f = s / (REDUCE_GAP * size) > 1 ? s / (REDUCE_GAP * size) : 1;
    int r = s / f, x0 = (w - r * f) / 2, y0 = (h - r * f) / 2;   /* the crop: r x r blocks of f x f pixels */
    float *crop = malloc(sizeof(float) * r * r * C), *res = malloc(sizeof(float) * size * size * C);
    uint32_t *acc = malloc(sizeof(uint32_t) * r * f * C);   /* one block row's column sums (f x 255 at most) */
    if (!crop || !res || !acc) {
        free(crop), free(res), free(acc), free(px);
        snprintf(err, errn, "%s: out of memory", path);
        return EBM_STATUS_OUT_OF_MEMORY;
    }
    double den = 255.0 * f * f;
    size_t n = (size_t)r * f * C;
    for (int by = 0; by < r; by++) {
        memset(acc, 0, sizeof(uint32_t) * n);
        for (int y = by * f; y < (by + 1) * f; y++) {
            const unsigned char *row = px + ((size_t)(y + y0) * w + x0) * C;
            for (size_t i = 0; i < n; i++) acc[i] += row[i];
        }
        float *dst = crop + (size_t)by * r * C;
        for (int bx = 0; bx < r; bx++)
            for (int c = 0; c < C; c++) {
                uint64_t sum = 0;
                for (int x = bx * f; x < (bx + 1) * f; x++) sum += acc[(size_t)x * C + c];
                dst[bx * C + c] = (float)(sum / den);   /* the pixel / 255.0f where f = 1 */
            }
    }
    free(acc), free(px);
    int ok = r == size ? (memcpy(res, crop, sizeof(float) * r * r * C), 1)
                       : stbir_resize_float(crop, r, r, 0, res, size, size, 0, C);
    free(crop);
    if (!ok) {
        free(res);
        snprintf(err, errn, "%s: resizing to %dx%d failed", path, size, size);
        return EBM_STATUS_FORMAT;
    }
    for (int c = 0; c < C; c++)   /* HWC -> CHW, clamped (the resampling filter can overshoot) */
        for (int i = 0; i < size * size; i++) {
            float v = res[(size_t)i * C + c];
            out[(size_t)c * size * size + i] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
    free(res);
    return EBM_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static ebm_status_t open_folder(ebm_dataset_t *ds, const char *dir, const ebm_data_opts_t *o, char *err, size_t errn) {
    if (o->size <= 0) {
        snprintf(err, errn, "%s: an image folder needs [data] size (the side of the square the images are resized to)", dir);
        return EBM_STATUS_INVALID_ARGUMENT;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errn, "%s: cannot open: %s", dir, strerror(errno));
        return EBM_STATUS_IO;
    }
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!ends_with(e->d_name, ".png") && !ends_with(e->d_name, ".jpg") && !ends_with(e->d_name, ".jpeg") &&
            !ends_with(e->d_name, ".bmp"))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, sizeof(char *) * cap);
            if (!nn) break;
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    ebm_status_t st = EBM_OK;
    if (n == 0) {
        snprintf(err, errn, "%s: no .png, .jpg, .jpeg or .bmp files", dir);
        st = EBM_STATUS_FORMAT;
    }
    if (n > 0) qsort(names, (size_t)n, sizeof *names, cmp_str);   /* the same order on every machine */
    int C = o->channels ? o->channels : 3, n_files = n;
    if (o->limit > 0 && o->limit < n) n = o->limit;
    ds->n = n;
    ds->ndim = 3;
    ds->shape[0] = C, ds->shape[1] = o->size, ds->shape[2] = o->size;
    ds->sample_numel = (size_t)C * o->size * o->size;
    if (st == EBM_OK && !(ds->x = malloc(sizeof(float) * ds->sample_numel * n))) st = EBM_STATUS_OUT_OF_MEMORY;
    for (int i = 0; i < n && st == EBM_OK; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        st = ebm_image_read(path, C, o->size, ds->x + ds->sample_numel * i, err, errn);
    }
    for (int i = 0; i < n_files; i++) free(names[i]);
    free(names);
    return st;
}

ebm_status_t ebm_dataset_open(ebm_dataset_t *ds, const char *source, const ebm_data_opts_t *o, char *err, size_t errn) {
    memset(ds, 0, sizeof *ds);
    ds->perm_epoch = -1;
    snprintf(ds->source, sizeof ds->source, "%s", source);
    ebm_status_t st;
    ebm_data_opts_t o1 = *o;   /* the anomaly split keeps o->limit for after the split */
    if (o->anomaly) o1.limit = 0;
    int stacked = !strcmp(source, "fashion-mnist-stacked") || !strcmp(source, "fashion-mnist-stacked:test");
    if (!strcmp(source, "fashion-mnist") || !strcmp(source, "fashion-mnist:test") || stacked) {
        char path[600];
        const char *env = getenv("EBM_FASHION_MNIST_DIR"), *dir = env && *env ? env : EBM_FASHION_MNIST_DIR;
        int test = strstr(source, ":test") != NULL;
        snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, test ? "t10k" : "train");
        st = stacked ? open_stacked(ds, path, &o1, err, errn) : open_idx(ds, path, &o1, err, errn);
        if (st == EBM_OK && o->anomaly && !strcmp(source, "fashion-mnist")) {   /* MEG: train and test together */
            ebm_dataset_t t;
            memset(&t, 0, sizeof t);
            snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
            st = open_idx(&t, path, &o1, err, errn);
            st = st == EBM_OK ? concat(ds, &t, err, errn) : (ebm_dataset_free(&t), st);
        }
        if (st == EBM_STATUS_IO)
            snprintf(err + strlen(err), errn - strlen(err), " (install the Debian package dataset-fashion-mnist)");
    } else if (!strncmp(source, "toy:", 4))
        st = open_toy(ds, source + 4, &o1, err, errn);
    else if (is_dir(source))
        st = open_folder(ds, source, &o1, err, errn);
    else if (ends_with(source, ".csv"))
        st = open_csv(ds, source, &o1, err, errn);
    else if (ends_with(source, ".npy"))
        st = open_npy(ds, source, &o1, err, errn);
    else
        st = open_idx(ds, source, &o1, err, errn);
    if (st == EBM_OK && o->anomaly) {
        if (ds->toy || ds->ndim != 3) {
            snprintf(err, errn, "%s: the anomaly split ([data] anomaly_class) needs labelled IDX images", source);
            st = EBM_STATUS_INVALID_ARGUMENT;
        } else
            st = anomaly_split(ds, o, err, errn);
        if (st == EBM_OK && o->limit > 0 && o->limit < ds->n) ds->n = o->limit;
    }
    if (st == EBM_OK && ds->n <= 0) {
        snprintf(err, errn, "%s: no examples", source);
        st = EBM_STATUS_FORMAT;
    }
    if (st == EBM_OK) st = ebm_dataset_check_finite(ds, err, errn);
    if (st == EBM_OK && o->binarize) {
        size_t m = ds->sample_numel * ds->n;
        float *u = o->binarize == EBM_BINARIZE_STOCHASTIC ? malloc(sizeof(float) * m) : NULL;
        if (o->binarize == EBM_BINARIZE_STOCHASTIC && !u) st = EBM_STATUS_OUT_OF_MEMORY;
        ebm_rng_t r = ebm_rng_make(0x42494eull, 0);
        if (u) ebm_rng_host_uniform(&r, u, m);
        for (size_t i = 0; st == EBM_OK && i < m; i++) ds->x[i] = (u ? u[i] < ds->x[i] : ds->x[i] > 0.5f) ? 1.0f : 0.0f;
        free(u);
    }
    if (st == EBM_OK && !(ds->perm = malloc(sizeof(int) * ds->n))) st = EBM_STATUS_OUT_OF_MEMORY;
    if (st != EBM_OK) ebm_dataset_free(ds);
    return st;
}

void ebm_dataset_free(ebm_dataset_t *ds) {
    free(ds->x);
    free(ds->perm);
    free(ds->y);
    ds->x = NULL;
    ds->perm = NULL;
    ds->y = NULL;
}

ebm_status_t ebm_dataset_check_finite(const ebm_dataset_t *ds, char *err, size_t errn) {
    for (size_t i = 0; i < ds->sample_numel * ds->n; i++)
        if (!isfinite(ds->x[i])) {
            snprintf(err, errn, "%s: example %zu has a non-finite value (%g) at position %zu", ds->source, i / ds->sample_numel,
                     ds->x[i], i % ds->sample_numel);
            return EBM_STATUS_FORMAT;
        }
    return EBM_OK;
}

static void make_perm(ebm_dataset_t *ds, uint64_t seed, long epoch) {
    if (ds->perm_epoch == epoch && ds->perm_seed == seed) return;
    ebm_rng_t r = ebm_rng_make(seed, 0x5348554646ull + (uint64_t)epoch);   /* "SHUFF" + epoch */
    ebm_rng_host_permutation(&r, ds->perm, ds->n);
    ds->perm_epoch = epoch;
    ds->perm_seed = seed;
}

/* position of row b of a batch of B rows of iteration iter (of this part's rows) */
static long batch_pos(const ebm_dataset_t *ds, long iter, int B, int b) {
    return ds->parts > 1 ? iter * (long)B * ds->parts + (long)ds->part * B + b : iter * (long)B + b;
}

void ebm_dataset_batch(ebm_dataset_t *ds, uint64_t seed, long iter, int B, float *out) {
    for (int b = 0; b < B; b++) {
        long pos = batch_pos(ds, iter, B, b);
        make_perm(ds, seed, pos / ds->n);
        int row = ds->perm[pos % ds->n];
        memcpy(out + ds->sample_numel * b, ds->x + ds->sample_numel * row, sizeof(float) * ds->sample_numel);
    }
}

void ebm_dataset_batch_labels(ebm_dataset_t *ds, uint64_t seed, long iter, int B, int *out) {
    for (int b = 0; b < B; b++) {
        long pos = batch_pos(ds, iter, B, b);
        make_perm(ds, seed, pos / ds->n);
        out[b] = ds->y[ds->perm[pos % ds->n]];
    }
}
