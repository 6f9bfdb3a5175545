/* toy.c — 2-D toy distributions (the usual EBM / GAN toy set), drawn with the engine's RNG. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "../ebm_io.h"

#define PI 3.14159265358979323846

/* 8 gaussians: centres on the circle of radius 2, standard deviation 0.1;
 * 25 gaussians: centres on the grid {-2, ..., 2}^2, standard deviation 0.05. */
int ebm_toy_modes(const char *name, float *c, int max, float *sigma) {
    int n = 0;
    if (!strcmp(name, "8gaussians")) {
        for (int k = 0; k < 8; k++, n++)
            if (n < max) {
                c[2 * n] = (float)(2.0 * cos(2 * PI * k / 8));
                c[2 * n + 1] = (float)(2.0 * sin(2 * PI * k / 8));
            }
        if (sigma) *sigma = 0.1f;
        return n;
    }
    if (!strcmp(name, "25gaussians")) {
        for (int i = -2; i <= 2; i++)
            for (int j = -2; j <= 2; j++, n++)
                if (n < max) {
                    c[2 * n] = (float)i;
                    c[2 * n + 1] = (float)j;
                }
        if (sigma) *sigma = 0.05f;
        return n;
    }
    if (sigma) *sigma = 0;
    return 0;
}

ebm_status_t ebm_toy_sample(const char *name, ebm_rng_t *r, float *xy, size_t n, char *err, size_t errn) {
    float centres[50], sd;
    int k = ebm_toy_modes(name, centres, 25, &sd);
    float u[4];
    if (k > 0) {
        for (size_t i = 0; i < n; i++) {
            float z[2];
            ebm_rng_host_uniform(r, u, 1);
            int m = (int)(u[0] * k);
            if (m >= k) m = k - 1;
            ebm_rng_host_normal(r, z, 2);
            xy[2 * i] = centres[2 * m] + sd * z[0];
            xy[2 * i + 1] = centres[2 * m + 1] + sd * z[1];
        }
        return EBM_OK;
    }
    for (size_t i = 0; i < n; i++) {
        float z[2];
        ebm_rng_host_uniform(r, u, 2);
        ebm_rng_host_normal(r, z, 2);
        double t, rad, x, y;
        if (!strcmp(name, "swissroll")) {
            t = 1.5 * PI * (1 + 2 * u[0]);
            x = t * cos(t) / 5.0, y = t * sin(t) / 5.0;   /* radius up to ~2.8 */
            xy[2 * i] = (float)(x + 0.05 * z[0]);
            xy[2 * i + 1] = (float)(y + 0.05 * z[1]);
        } else if (!strcmp(name, "2spirals")) {
            t = sqrt(u[0]) * 3 * PI;
            double s = u[1] < 0.5 ? 1 : -1;
            x = s * -cos(t) * t / 3.0, y = s * sin(t) * t / 3.0;
            xy[2 * i] = (float)(x + 0.05 * z[0]);
            xy[2 * i + 1] = (float)(y + 0.05 * z[1]);
        } else if (!strcmp(name, "rings")) {
            rad = 0.5 + 0.5 * floor(u[0] * 4);   /* 4 rings: radii 0.5, 1, 1.5, 2 */
            t = 2 * PI * u[1];
            xy[2 * i] = (float)(rad * cos(t) + 0.05 * z[0]);
            xy[2 * i + 1] = (float)(rad * sin(t) + 0.05 * z[1]);
        } else {
            snprintf(err, errn, "unknown toy data set \"%s\" (8gaussians, 25gaussians, swissroll, 2spirals, rings)", name);
            return EBM_STATUS_INVALID_ARGUMENT;
        }
    }
    return EBM_OK;
}
