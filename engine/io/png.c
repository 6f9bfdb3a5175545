/* png.c — image grids through stb_image_write, written atomically. */
#include <stb_image_write.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../ebm_io.h"

typedef struct {
    unsigned char *buf;
    size_t len, cap;
    int failed;
} membuf_t;

static void to_mem(void *ctx, void *data, int size) {
    membuf_t *m = ctx;
    if (m->failed) return;
    if (m->len + (size_t)size > m->cap) {
        size_t cap = (m->len + (size_t)size) * 2;
        unsigned char *b = realloc(m->buf, cap);
        if (!b) {
            m->failed = 1;
            return;
        }
        m->buf = b;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, data, (size_t)size);
    m->len += (size_t)size;
}

ebm_status_t ebm_png_grid(const char *path, const float *im, int B, int C, int H, int W, int cols, char *err, size_t errn) {
    if (B < 1 || (C != 1 && C != 3) || H < 1 || W < 1 || cols < 1) {
        snprintf(err, errn, "%s: cannot make a grid of %d images of %dx%dx%d", path, B, C, H, W);
        return EBM_STATUS_INVALID_ARGUMENT;
    }
    if (cols > B) cols = B;
    int rows = (B + cols - 1) / cols, pad = 2;
    int GW = cols * (W + pad) + pad, GH = rows * (H + pad) + pad;
    unsigned char *px = calloc((size_t)GW * GH * 3, 1);
    if (!px) {
        snprintf(err, errn, "%s: out of memory", path);
        return EBM_STATUS_OUT_OF_MEMORY;
    }
    for (int b = 0; b < B; b++) {
        int oy = pad + (b / cols) * (H + pad), ox = pad + (b % cols) * (W + pad);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++) {
                    float v = im[(((size_t)b * C + (C == 3 ? c : 0)) * H + y) * W + x];
                    v = v != v ? 0.0f : (v < 0 ? 0 : (v > 1 ? 1 : v));   /* NaN shows black */
                    px[((size_t)(oy + y) * GW + ox + x) * 3 + c] = (unsigned char)(v * 255.0f + 0.5f);
                }
    }
    membuf_t m = {0};
    int ok = stbi_write_png_to_func(to_mem, &m, GW, GH, 3, px, GW * 3) && !m.failed;
    free(px);
    ebm_status_t st = ok ? ebm_write_atomic(path, m.buf, m.len, err, errn) : EBM_STATUS_OUT_OF_MEMORY;
    if (!ok) snprintf(err, errn, "%s: PNG encoding failed", path);
    free(m.buf);
    return st;
}
