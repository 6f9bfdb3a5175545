/* ebm_io.h — files: safetensors checkpoints, IDX data sets, NumPy .npy arrays, 2-D toy data, PNG image grids.
 *
 *   ebm_named_tensor_t ts[] = {{"0.weight", w0}, {"0.bias", b0}};
 *   ebm_kv_t meta[] = {{"model", "mlp"}};
 *   char err[512];
 *   if (ebm_safetensors_save("run/ckpt.safetensors", ts, 2, meta, 1, err, sizeof err) != EBM_OK) puts(err);
 *   ebm_safetensors_load("run/ckpt.safetensors", ts, 2, NULL, err, sizeof err);  // shapes must match
 *
 *   ebm_idx_t idx;                          // Fashion-MNIST: /usr/share/datasets/fashion-mnist/
 *   ebm_idx_read("train-images-idx3-ubyte.gz", &idx, err, sizeof err);   // gzipped or not
 *
 * Every function returns a status and, on failure, a message naming the file and the problem in
 * err. Files are written to a temporary name and renamed, so a failed write leaves nothing behind
 * and a reader never sees half a file. */
#ifndef EBM_IO_H
#define EBM_IO_H

#include <stddef.h>
#include <stdint.h>
#include "ebm_rng.h"
#include "ebm_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ebm_named_tensor {
    const char *name;
    ebm_tensor_t *t;
} ebm_named_tensor_t;

typedef struct ebm_kv {
    const char *key, *value;
} ebm_kv_t;

/* Writes float32 tensors (PyTorch layouts as given) and string metadata (the header's
 * __metadata__) atomically. */
ebm_status_t ebm_safetensors_save(const char *path, const ebm_named_tensor_t *ts, int n, const ebm_kv_t *meta, int n_meta,
                                  char *err, size_t errn);
/* Reads each named tensor into ts[i].t (dtype F32 and shape must match; other entries in the file
 * are ignored). *meta_json (optional) receives the __metadata__ object as JSON text (free() it). */
ebm_status_t ebm_safetensors_load(const char *path, const ebm_named_tensor_t *ts, int n, char **meta_json, char *err,
                                  size_t errn);

/* IDX (unsigned byte data, 1 to 4 dimensions), gzipped or plain. */
typedef struct ebm_idx {
    int ndim;
    int dims[4];
    size_t n;              /* product of dims */
    unsigned char *data;
} ebm_idx_t;
ebm_status_t ebm_idx_read(const char *path, ebm_idx_t *out, char *err, size_t errn);
void ebm_idx_free(ebm_idx_t *idx);

/* 2-D toy distributions: n points into xy (n x 2), drawn with r. Modes (centres) of the mixtures
 * through ebm_toy_modes. Names: "8gaussians", "25gaussians", "swissroll", "2spirals", "rings". */
ebm_status_t ebm_toy_sample(const char *name, ebm_rng_t *r, float *xy, size_t n, char *err, size_t errn);
/* Mode centres and the per-mode standard deviation of a mixture toy; returns the number of modes
 * (0 for the continuous toys), writing at most max centres. */
int ebm_toy_modes(const char *name, float *centres, int max, float *sigma);

/* Writes images (B, C, H, W), C = 1 or 3, values clamped to [0, 1], as one PNG grid of `cols`
 * columns with a 2-pixel border. */
ebm_status_t ebm_png_grid(const char *path, const float *images, int B, int C, int H, int W, int cols, char *err, size_t errn);

/* NumPy .npy arrays (format versions 1.0-3.0). Reading: float32, float64 (either byte order) and
 * uint8 (divided by 255) in C order, 1 to EBM_NPY_MAX_DIMS dimensions, converted to float32; the file
 * must hold exactly the array the header describes. Writing: float32, little-endian, version 1.0,
 * atomically. ebm_npy_parse reads a file already in memory (name: for messages). */
enum { EBM_NPY_MAX_DIMS = 4 };
typedef struct ebm_npy {
    int ndim;
    int shape[EBM_NPY_MAX_DIMS];
    size_t n;      /* product of shape */
    float *data;   /* n numbers, C order */
} ebm_npy_t;
ebm_status_t ebm_npy_read(const char *path, ebm_npy_t *out, char *err, size_t errn);
ebm_status_t ebm_npy_parse(const char *name, const unsigned char *buf, size_t len, ebm_npy_t *out, char *err, size_t errn);
ebm_status_t ebm_npy_write(const char *path, const float *data, int ndim, const int *shape, char *err, size_t errn);
void ebm_npy_free(ebm_npy_t *a);

/* Writes `len` bytes to path via a temporary file and rename (used by every writer here). */
ebm_status_t ebm_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errn);

#ifdef __cplusplus
}
#endif
#endif
