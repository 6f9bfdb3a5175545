/* pictures.c — PNG grids of samples and heat maps of 2-D energies (run.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "run.h"

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* A 256x256 heat map of exp(-E/T) over [lo, hi]^2 (T the sampler's temperature sigma^2 / (2 eta)),
 * with the samples on top as white dots. A density so peaked that it would light under 2% of the
 * pixels (Kim & Bengio's energies at T = 1), or so flat that it lights over half (MEG's), is drawn as
 * the energy itself instead: bright at the minimum, dark from the lowest quarter of the energies up. */
int run_write_heatmap(run_t *r, const char *path, const float *xy, int n) {
    enum { G = 256 };
    float lo = r->init_lo, hi = r->init_hi;
    /* MEG trains E as the density exp(-E) itself; Langevin-trained energies at the sampler's temperature */
    float T = r->m->sampler_density && r->lc.noise > 0 ? r->lc.noise * r->lc.noise / (2 * r->lc.step_size) : 1.0f;
    float *pts = malloc(sizeof(float) * G * G * 2), *e = malloc(sizeof(float) * G * G), *img = malloc(sizeof(float) * 3 * G * G);
    int ok = 0;
    if (!pts || !e || !img) goto out;
    for (int i = 0; i < G; i++)
        for (int j = 0; j < G; j++) {
            pts[2 * (i * G + j)] = lo + (hi - lo) * (j + 0.5f) / G;
            pts[2 * (i * G + j) + 1] = hi - (hi - lo) * (i + 0.5f) / G;   /* y up */
        }
    ebm_scope_begin(r->ctx);
    int was = ebm_grad_set_enabled(r->ctx, 0);
    ebm_tensor_t *x = ebm_tensor_from_host(r->ctx, 2, (int[]){G * G, 2}, pts);
    ebm_tensor_t *en = run_energy(r, x);
    ok = en && ebm_tensor_read(en, e) == EBM_OK;
    ebm_grad_set_enabled(r->ctx, was);
    ebm_scope_end(r->ctx);
    if (!ok) goto out;
    float emin = INFINITY;
    int lit = 0;
    for (int i = 0; i < G * G; i++) emin = isfinite(e[i]) && e[i] < emin ? e[i] : emin;
    for (int i = 0; i < G * G; i++) lit += isfinite(e[i]) && expf(-(e[i] - emin) / T) > 0.01f;
    float q = emin;   /* under 2% or over half lit: the energy's lowest quarter spans the colours */
    if (lit < G * G / 50 || lit > G * G / 2) {
        memcpy(img, e, sizeof(float) * G * G);   /* img as scratch for the sort */
        qsort(img, G * G, sizeof(float), cmp_float);
        q = img[G * G / 4];
    }
    for (int i = 0; i < G * G; i++) {
        float d = !isfinite(e[i]) ? 0 : q > emin ? fmaxf(0, (q - e[i]) / (q - emin)) : expf(-(e[i] - emin) / T);
        float v = sqrtf(d);   /* sqrt: shows the tails */
        img[i] = fminf(1, 1.6f * v), img[G * G + i] = fmaxf(0, 1.4f * v - 0.4f), img[2 * G * G + i] = 0.35f * v + 0.15f * (1 - v);
    }
    for (int k = 0; k < n; k++) {
        int j = (int)((xy[2 * k] - lo) / (hi - lo) * G), i = (int)((hi - xy[2 * k + 1]) / (hi - lo) * G);
        if (i < 0 || j < 0 || i >= G || j >= G) continue;
        for (int c = 0; c < 3; c++) img[c * G * G + i * G + j] = 1;
    }
    char err[1024];
    ok = ebm_png_grid(path, img, 1, 3, G, G, 1, err, sizeof err) == EBM_OK;
    if (!ok) ERR("%s\n", err);
out:
    free(pts), free(e), free(img);
    return ok;
}

/* PNG of samples x (device): an image grid, or for 2-D data the heat map. */
int run_write_samples(run_t *r, const char *path, ebm_tensor_t *x) {
    int B = ebm_tensor_dim(x, 0);
    float *h = malloc(sizeof(float) * B * r->numel);
    int ok = h && ebm_tensor_read(x, h) == EBM_OK;
    char err[1024];
    if (ok && r->toy) ok = run_write_heatmap(r, path, h, B);
    else if (ok && r->ndim == 3 && (r->shape[0] == 1 || r->shape[0] == 3)) {
        int n = B < 64 ? B : 64, cols = (int)ceil(sqrt(n));
        ok = ebm_png_grid(path, h, n, r->shape[0], r->shape[1], r->shape[2], cols, err, sizeof err) == EBM_OK;
        if (!ok) ERR("%s\n", err);
    }
    free(h);
    return ok;
}

