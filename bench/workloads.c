/* workloads.c — the reference EBM training iterations of docs/WORKLOADS.md, built from the
 * same networks as bench/torch_reference.py, timed on one OpenCL device.
 *
 *   bench_workloads [-d DEVICE] [-w toy2d,fmnist-ms,cifar32] [-n ITERS] [--csv FILE]
 *
 * Iteration: x- ~ U(0,1); K steps x <- clamp(x - eta dE/dx + sigma N, 0, 1); loss = mean E(x+) -
 * mean E(x-) + mean(E(x+)^2 + E(x-)^2); backward to theta; Adam(1e-4, betas (0, 0.999)).
 * Gradient-penalty step: mean E(x+) - mean E(x-) + 0.1 mean ||dE/dx(x+)||^2 (double backward) + Adam.
 * Before timing, the network's energies on two samples are checked against a double-precision
 * forward (tests/ref.c) and the first losses must be finite. Also reported: kernel launches per
 * Langevin step and the process's peak resident memory so far (on a CPU device the device buffers
 * are host memory; one workload per process, as bench/workloads.sh runs them, gives its own peak). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "ebm.h"
#include "nets.h"
#include "ref.h"
#include "sampler.h"

typedef struct {
    const char *name;
    int shape[4], ndim;
    int K;
    float eta, sigma;
    int iters;   /* default timed iterations */
} workload_t;

static const workload_t WL[] = {
    {"toy2d", {1000, 2}, 2, 20, 0.01f, 0.005f, 20},
    {"fmnist-ms", {128, 1, 28, 28}, 4, 40, 10.0f, 0.005f, 2},
    {"cifar32", {128, 3, 32, 32}, 4, 60, 10.0f, 0.005f, 1},
};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static ebm_tensor_t *energy_cb(void *user, ebm_tensor_t *x) { return ebm_net_energy(user, x); }

typedef struct {
    ebm_ctx_t *ctx;
    ebm_params_t *ps;
    ebm_net_t *net;
    ebm_optim_t *opt;
    ebm_rng_t rng;
    ebm_tensor_t *xpos;
    const workload_t *w;
} bench_t;

/* backward to theta, Adam step, and the loss read back (the one host sync per iteration) */
static float finish_step(bench_t *b, ebm_tensor_t *loss) {
    ebm_params_zero_grad(b->ps);
    ebm_params_backward(b->ps, loss);
    ebm_optim_step(b->opt);
    float l = NAN;
    if (loss) ebm_tensor_read(loss, &l);
    ebm_scope_end(b->ctx);
    return l;
}

/* one CD iteration */
static float cd_iteration(bench_t *b) {
    ebm_ctx_t *ctx = b->ctx;
    ebm_scope_begin(ctx);
    ebm_tensor_t *x0 = ebm_rand_uniform(ctx, &b->rng, b->w->ndim, b->w->shape, 0.0f, 1.0f);
    ebm_langevin_cfg_t lc = {.steps = b->w->K, .step_size = b->w->eta, .noise = b->w->sigma, .clamp_lo = 0, .clamp_hi = 1};
    ebm_tensor_t *xneg = ebm_langevin(ctx, energy_cb, b->net, x0, &lc, &b->rng);
    ebm_tensor_t *ep = ebm_net_energy(b->net, b->xpos), *en = ebm_net_energy(b->net, xneg);
    return finish_step(b, ebm_add(ebm_sub(ebm_mean_all(ep), ebm_mean_all(en)), ebm_mean_all(ebm_add(ebm_square(ep), ebm_square(en)))));
}

static float gp_iteration(bench_t *b) {
    ebm_ctx_t *ctx = b->ctx;
    ebm_scope_begin(ctx);
    ebm_tensor_t *xneg = ebm_rand_uniform(ctx, &b->rng, b->w->ndim, b->w->shape, 0.0f, 1.0f);
    ebm_tensor_t *xp = ebm_detach(b->xpos);
    ebm_tensor_set_requires_grad(xp, 1);
    ebm_tensor_t *ep = ebm_net_energy(b->net, xp), *gx;
    ebm_tensor_t *tot = ebm_sum_all(ep);
    ebm_grad(&tot, 1, NULL, &xp, 1, &gx, EBM_GRAD_CREATE_GRAPH);
    int B = b->w->shape[0];
    ebm_tensor_t *pen = ebm_mean_all(ebm_sum(ebm_reshape(ebm_square(gx), 2, (int[]){B, -1}), 0x2u, 0));
    return finish_step(b, ebm_add(ebm_sub(ebm_mean_all(ep), ebm_mean_all(ebm_net_energy(b->net, xneg))), ebm_scale(pen, 0.1f)));
}

/* double-precision forward of the same network for two samples, from the device's parameters */
static double *param(bench_t *b, const char *name, size_t *n) {
    ebm_tensor_t *t = ebm_params_find(b->ps, name);
    *n = ebm_tensor_numel(t);
    float *f = malloc(*n * sizeof *f);
    double *d = malloc(*n * sizeof *d);
    ebm_tensor_read(t, f);
    for (size_t i = 0; i < *n; i++) d[i] = f[i];
    free(f);
    return d;
}

static double sw(double x) { return x / (1 + exp(-x)); }

static double convnet_ref(bench_t *b, const char *prefix, const double *x, int C, int H, int W) {
    double *h = malloc(sizeof(double) * C * H * W);
    memcpy(h, x, sizeof(double) * C * H * W);
    for (int l = 0; l < 4; l++) {
        char nm[96];
        size_t nw, nb;
        snprintf(nm, sizeof nm, "%s%d.weight", prefix, 2 * l);
        double *w = param(b, nm, &nw);
        snprintf(nm, sizeof nm, "%s%d.bias", prefix, 2 * l);
        double *bi = param(b, nm, &nb);
        int O = (int)nb, s = l ? 2 : 1;
        ref_conv_t cp = {s, s, 1, 1, 1, 1};
        int Ho = ref_conv_out(H, 3, s, 1, 1), Wo = ref_conv_out(W, 3, s, 1, 1);
        double *y = malloc(sizeof(double) * O * Ho * Wo);
        ref_conv2d(h, 1, C, H, W, w, O, 3, 3, cp, y);
        for (int i = 0; i < O * Ho * Wo; i++) y[i] = sw(y[i] + bi[i / (Ho * Wo)]);
        free(h), free(w), free(bi);
        h = y, C = O, H = Ho, W = Wo;
    }
    char nm[96];
    size_t nw, nb;
    snprintf(nm, sizeof nm, "%s10.weight", prefix);
    double *w = param(b, nm, &nw);
    snprintf(nm, sizeof nm, "%s10.bias", prefix);
    double *bi = param(b, nm, &nb);
    double e = bi[0];
    for (int c = 0; c < C; c++) {
        double m = 0;
        for (int i = 0; i < H * W; i++) m += h[c * H * W + i];
        e += w[c] * m / (H * W);
    }
    free(h), free(w), free(bi);
    return e;
}

static double energy_ref(bench_t *b, const double *x) {
    const workload_t *w = b->w;
    if (!strcmp(w->name, "toy2d")) {
        double h[128], g[128];
        int in = 2;
        memcpy(h, x, 2 * sizeof(double));
        for (int l = 0; l < 4; l++) {
            char nm[32];
            size_t nw, nb;
            snprintf(nm, sizeof nm, "%d.weight", 2 * l);
            double *W = param(b, nm, &nw);
            snprintf(nm, sizeof nm, "%d.bias", 2 * l);
            double *bi = param(b, nm, &nb);
            for (size_t o = 0; o < nb; o++) {
                double s = bi[o];
                for (int i = 0; i < in; i++) s += W[o * in + i] * h[i];
                g[o] = l < 3 ? sw(s) : s;
            }
            in = (int)nb;
            memcpy(h, g, sizeof(double) * in);
            free(W), free(bi);
        }
        return h[0];
    }
    int C = w->shape[1], H = w->shape[2], W = w->shape[3];
    if (!strcmp(w->name, "cifar32")) return convnet_ref(b, "", x, C, H, W);
    double e = 0, *xs = malloc(sizeof(double) * C * H * W);
    memcpy(xs, x, sizeof(double) * C * H * W);
    for (int s = 0; s < 3; s++) {
        char p[32];
        snprintf(p, sizeof p, "nets.%d.", s);
        if (s) {
            double *y = malloc(sizeof(double) * C * (H / 2) * (W / 2));
            ref_avgpool(xs, C, H, W, 2, 2, 0, y);
            free(xs);
            xs = y, H /= 2, W /= 2;
        }
        e += convnet_ref(b, p, xs, C, H, W);
    }
    free(xs);
    return e;
}

int main(int argc, char **argv) {
    const char *device = NULL, *which = NULL, *csv_path = NULL;
    int iters = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-d") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "-w") && i + 1 < argc) which = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc) csv_path = argv[++i];
        else {
            fprintf(stderr, "usage: %s [-d device] [-w toy2d,fmnist-ms,cifar32] [-n iters] [--csv file]\n", argv[0]);
            return 2;
        }
    }
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, device) != EBM_OK) {
        fprintf(stderr, "bench_workloads: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    const ebm_device_info_t *di = ebm_ctx_device(ctx);
    double peak = ebm_ctx_peak_gflops(ctx);
    FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
    if (csv_path && !csv) {
        fprintf(stderr, "bench_workloads: cannot write %s\n", csv_path);
        return 1;
    }
    if (csv)
        fprintf(csv, "workload,device,ms_per_iter,gp_ms,gflop_per_iter,gflops,fraction_of_peak,launches_per_step,peak_rss_mib,"
                     "device_peak_mib,device_held_mib\n");
    const char *peak_set = getenv("EBM_PEAK_GFLOPS");
    if (peak > 0 && peak_set && atof(peak_set) > 0)
        printf("device: %s (%s), FP32 peak %.0f GFLOP/s (EBM_PEAK_GFLOPS)\n", di->name, di->platform, peak);
    else if (peak > 0) printf("device: %s (%s), FP32 peak estimate %.0f GFLOP/s\n", di->name, di->platform, peak);
    else printf("device: %s (%s), FP32 peak unknown (no clock reported): peak%% left blank\n", di->name, di->platform);
    printf("%-10s %12s %12s %10s %9s %7s %9s %9s %9s\n", "workload", "ms/iter", "GP ms/step", "GFLOP/it", "GFLOP/s", "peak%",
           "launch/st", "RSS MiB", "dev MiB");
    int fails = 0;
    for (size_t wi = 0; wi < sizeof WL / sizeof WL[0]; wi++) {
        const workload_t *w = &WL[wi];
        if (which && !strstr(which, w->name)) continue;
        ebm_pool_trim(ctx);   /* this workload's device memory peak, not the one before it */
        ebm_pool_peak_reset(ctx);
        bench_t b = {ctx, ebm_params_new(ctx), NULL, NULL, ebm_rng_make(1234 + wi, 0), NULL, w};
        if (!strcmp(w->name, "toy2d")) b.net = ebm_net_mlp(b.ps, "", 2, (int[]){128, 128, 128}, 3, 1);
        else if (!strcmp(w->name, "cifar32")) b.net = ebm_net_convnet(b.ps, "", 3, 64);
        else b.net = ebm_net_multiscale(b.ps, "", 1, 32, 3);
        if (!b.net || ebm_params_finalize(b.ps) != EBM_OK || ebm_net_init(b.net, &b.rng) != EBM_OK) {
            fprintf(stderr, "%s: %s\n", w->name, ebm_ctx_error(ctx));
            return 1;
        }
        b.opt = ebm_optim_new(b.ps, &(ebm_optim_config_t){.kind = EBM_OPTIM_ADAM, .lr = 1e-4f, .beta1 = 0.0f, .beta2 = 0.999f});
        b.xpos = ebm_rand_uniform(ctx, &b.rng, w->ndim, w->shape, 0.0f, 1.0f);
        /* validate: energies of two samples against the double reference; finite first losses */
        size_t per = ebm_tensor_numel(b.xpos) / (size_t)w->shape[0];
        float *xh = malloc(sizeof(float) * per * 2), e2[2];
        ebm_scope_begin(ctx);
        ebm_tensor_t *two = ebm_slice(b.xpos, 0, 0, 2);
        ebm_tensor_read(two, xh);
        ebm_tensor_read(ebm_net_energy(b.net, two), e2);
        ebm_scope_end(ctx);
        double max_err = 0;
        for (int s = 0; s < 2; s++) {
            double *xd = malloc(sizeof(double) * per);
            for (size_t i = 0; i < per; i++) xd[i] = xh[s * per + i];
            double r = energy_ref(&b, xd);
            max_err = fmax(max_err, fabs(e2[s] - r) / fmax(1.0, fabs(r)));
            free(xd);
        }
        free(xh);
        float l1 = cd_iteration(&b), l2 = gp_iteration(&b);   /* also the warm-up */
        /* energies are sums over layers of K <= 2304 products: 1e-4 relative is far above float32
         * rounding there, far below any wrong network */
        if (!(max_err < 1e-4) || !isfinite(l1) || !isfinite(l2)) {
            printf("FAIL %s validation: energy error %.2e, losses %g %g %s\n", w->name, max_err, l1, l2, ebm_ctx_error(ctx));
            fails++;
            continue;
        }
        int n = iters > 0 ? iters : w->iters;
        cd_iteration(&b);
        ebm_ctx_finish(ctx);
        double t0 = now_s();
        for (int i = 0; i < n; i++) cd_iteration(&b);
        ebm_ctx_finish(ctx);
        double dt = (now_s() - t0) / n;
        gp_iteration(&b);
        ebm_ctx_finish(ctx);
        t0 = now_s();
        for (int i = 0; i < n; i++) gp_iteration(&b);
        ebm_ctx_finish(ctx);
        double dg = (now_s() - t0) / n;
        /* launches per Langevin step: a 3-step chain less a 1-step one (what the chain's set-up costs cancels) */
        unsigned long lc[2];
        for (int r = 0; r < 2; r++) {
            ebm_scope_begin(ctx);
            ebm_tensor_t *x0 = ebm_rand_uniform(ctx, &b.rng, w->ndim, w->shape, 0.0f, 1.0f);
            ebm_langevin_cfg_t lcfg = {.steps = r ? 3 : 1, .step_size = w->eta, .noise = w->sigma, .clamp_lo = 0, .clamp_hi = 1};
            unsigned long l0 = ebm_ctx_launches(ctx);
            ebm_langevin(ctx, energy_cb, b.net, x0, &lcfg, &b.rng);
            lc[r] = ebm_ctx_launches(ctx) - l0;
            ebm_scope_end(ctx);
        }
        double per_step = (double)(lc[1] - lc[0]) / 2;
        struct rusage ru;
        double rss_mib = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024.0 : NAN;   /* Linux: KiB */
        size_t dev_live, dev_held;   /* device buffers: live tensors' peak (torch's max_memory_allocated), with the pool's cache */
        ebm_pool_peak(ctx, &dev_live, &dev_held);
        double fwd = ebm_net_flops(b.net, w->shape + 1) * w->shape[0];
        double flop = (2.0 * w->K + 6) * fwd;
        double frac = peak > 0 ? flop / dt * 1e-9 / peak : NAN;   /* unknown peak: no fraction (blank in the CSV) */
        printf("%-10s %12.2f %12.2f %10.2f %9.1f %6.1f%% %9.0f %9.0f %9.0f   (validated: energy err %.1e)\n", w->name, dt * 1e3,
               dg * 1e3, flop * 1e-9, flop / dt * 1e-9, 100 * frac, per_step, rss_mib, dev_live / 1048576.0, max_err);
        if (csv) {
            fprintf(csv, "%s,\"%s\",%.3f,%.3f,%.4f,%.2f,", w->name, di->name, dt * 1e3, dg * 1e3, flop * 1e-9, flop / dt * 1e-9);
            if (peak > 0) fprintf(csv, "%.4f", frac);
            fprintf(csv, ",%.0f,%.0f,%.1f,%.1f\n", per_step, rss_mib, dev_live / 1048576.0, dev_held / 1048576.0);
        }
        fflush(stdout);
        ebm_optim_free(b.opt);
        ebm_net_free(b.net);
        ebm_params_free(b.ps);
    }
    if (csv) fclose(csv);
    ebm_ctx_free(ctx);
    return fails ? 1 : 0;
}
