/* test_jem.c — JEM (models/methods/jem.c) against independent double-precision host computations on a tiny case:
 * 8-gaussian points labelled by their mode, an MLP 2 -> 3 (swish) -> 8 logits f(x), a batch of 4.
 *   - one JEM step from the replay buffer (with data noise): the cross-entropy, accuracy, E(x+) =
 *     -logsumexp f(x+), E(x-) of the buffer's negatives, the loss CE + w (mean E+ - mean E-) + reg
 *     (mean E+^2 + mean E-^2), and dL/dtheta against central differences of the host loss;
 *   - one JEM step whose chains are one noiseless SGLD step from noise: x- = x0 - eta grad_x E(x0)
 *     with the host's E = -logsumexp f and its gradient by central differences (a sampler on another
 *     energy, e.g. one logit, is off by O(1));
 *   - run_energy and run_class_energy on JEM runs: -logsumexp f(x) and -f(x)[k];
 *   - the 8-gaussian labels: every point within 6 standard deviations of its label's centre, every
 *     class present about n/8 times;
 *   - the expected calibration error against a hand computation.
 * Tolerances as tests/test_methods.c (the harness is tests/method_case.h): float32 sums of a few
 * products, 3e-5 * (1 + largest magnitude); the host's finite differences in double add ~1e-9. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data.h"
#include "metrics.h"
#include "run.h"
#include "method_case.h"
#include "testing.h"
#include "train.h"

enum { B = 4, H = 3, D = 2, K = 8, MAXP = CASE_MAXP, NP = H * D + H + K * H + K, NE = H * D + H + H + 1 };

/* ---- the host networks: 2 -> 3 (swish) -> out, parameters w1 (H x D), b1, w2 (out x H), b2 ---- */
static void mlp(const double *th, int out, const double *x, double *y) {
    const double *w1 = th, *b1 = w1 + H * D, *w2 = b1 + H, *b2 = w2 + out * H;
    double h[H];
    for (int u = 0; u < H; u++) {
        double a = b1[u] + w1[u * D] * x[0] + w1[u * D + 1] * x[1];
        h[u] = a / (1 + exp(-a));
    }
    for (int o = 0; o < out; o++) {
        y[o] = b2[o];
        for (int u = 0; u < H; u++) y[o] += w2[o * H + u] * h[u];
    }
}

static double lse(const double *v, int n) {
    double m = v[0], s = 0;
    for (int k = 1; k < n; k++) m = fmax(m, v[k]);
    for (int k = 0; k < n; k++) s += exp(v[k] - m);
    return m + log(s);
}

static double jem_e(const double *th, const double *x) {   /* E(x) = -logsumexp f(x) */
    double f[K];
    mlp(th, K, x, f);
    return -lse(f, K);
}

/* grad_x of e at x by central differences in double */
static void grad_x(double (*e)(const double *, const double *), const double *th, const double *x, double *g) {
    for (int d = 0; d < D; d++) {
        double a[D] = {x[0], x[1]}, b[D] = {x[0], x[1]}, h = 1e-6;
        a[d] += h, b[d] -= h;
        g[d] = (e(th, a) - e(th, b)) / (2 * h);
    }
}

/* ---- the run's parameters by name ------------------------------------------------------------ */
static const char *const NAMES[] = {"0.weight", "0.bias", "2.weight", "2.bias", NULL};

/* the overrides of every case here, after method_case.h's: Langevin without clipping or clamping */
static const char *const SAMPLER[] = {"sampler.grad_clip=0", "sampler.clamp=false", "sampler.init_lo=-3", "sampler.init_hi=3", NULL};

static int open_case(case_t *c, const char *const *sets) { return open_case_with(c, SAMPLER, sets, "toy:8gaussians"); }

/* ---- JEM --------------------------------------------------------------------------------------- */
typedef struct {
    double xp[B * D], xn[B * D], w, reg;
    int y[B];
} jem_ctx_t;

static double jem_ce(const double *th, const jem_ctx_t *c) {
    double ce = 0, f[K];
    for (int i = 0; i < B; i++) {
        mlp(th, K, c->xp + i * D, f);
        ce += (lse(f, K) - f[c->y[i]]) / B;
    }
    return ce;
}

static double jem_loss(const double *th, void *p) {
    jem_ctx_t *c = p;
    double mp = 0, mn = 0, sp = 0, sn = 0;
    for (int i = 0; i < B; i++) {
        double ep = jem_e(th, c->xp + i * D), en = jem_e(th, c->xn + i * D);
        mp += ep / B, mn += en / B, sp += ep * ep / B, sn += en * en / B;
    }
    return jem_ce(th, c) + c->w * (mp - mn) + c->reg * (sp + sn);
}

/* the stats every JEM step reports, against the host */
static void check_jem_step(const char *what, case_t *c, jem_ctx_t *x, const double *th) {
    double mp = 0, mn = 0, f[K];
    int correct = 0;
    for (int i = 0; i < B; i++) {
        mp += jem_e(th, x->xp + i * D) / B, mn += jem_e(th, x->xn + i * D) / B;
        mlp(th, K, x->xp + i * D, f);
        int best = 0;
        for (int k = 1; k < K; k++)
            if (f[k] > f[best]) best = k;
        correct += best == x->y[i];
    }
    check_stat(what, &c->s, "ce", jem_ce(th, x));
    check_stat(what, &c->s, "accuracy", (double)correct / B);
    check_stat(what, &c->s, "e_pos", mp);
    check_stat(what, &c->s, "e_neg", mn);
    check_stat(what, &c->s, "loss", jem_loss(th, x));
    check_grad(what, c->r.ps, NAMES, jem_loss, th, NP, x);
}

/* negatives from the buffer (pushed into the empty buffer of 4 rows), data noise on */
static void test_jem_buffer(void) {
    case_t c;
    const char *sets[] = {"run.method=jem", "jem.classes=8", "jem.px_weight=0.7", "jem.reg=0.3", "jem.data_noise=0.05",
                          "buffer.capacity=4", "sampler.steps=2", "sampler.step_size=0.1", "sampler.noise=0.05",
                          "sampler.noise_first=false", NULL};
    double th[NP];
    jem_ctx_t x = {.w = 0.7, .reg = 0.3};
    float xn[B * D], clean[B * D];
    int ok = open_case(&c, sets) && gather(c.r.ps, NAMES, 0, th, NP) && step(&c);
    ebm_tensor_t *buf = ok ? ebm_replay_export(c.r.rb) : NULL;
    ok = ok && buf && ebm_tensor_numel(buf) == B * D && ebm_tensor_read(buf, xn) == EBM_OK;
    check(ok, "jem: one step from the replay buffer; its negatives read back from the buffer");
    if (!ok) {
        close_case(&c);
        return;
    }
    ebm_dataset_batch_labels(&c.ds, c.r.seed, 0, B, x.y);
    ebm_dataset_batch(&c.ds, c.r.seed, 0, B, clean);
    double moved = 0;   /* the data noise: x+ = clean + 0.05 N(0, 1), host-drawn first from the iteration's stream */
    float z[B * D];
    ebm_rng_t rng = run_iter_rng(&c.r, 0);
    ebm_rng_host_normal(&rng, z, B * D);
    for (int i = 0; i < B * D; i++) moved = fmax(moved, fabs(c.xhost[i] - (clean[i] + 0.05f * z[i])));
    check(moved < 1e-6, "jem: the data batch carries data_noise * N(0, 1) from the iteration's stream");
    for (int i = 0; i < B * D; i++) x.xp[i] = c.xhost[i], x.xn[i] = xn[i];
    check_jem_step("jem (buffer)", &c, &x, th);
    close_case(&c);
}

/* one noiseless SGLD step from noise: x- = x0 - eta grad_x E(x0), E = -logsumexp f */
static void test_jem_sgld(void) {
    case_t c;
    const char *sets[] = {"run.method=jem", "jem.classes=8", "jem.px_weight=1.3", "jem.data_noise=0", "buffer.capacity=0",
                          "sampler.steps=1", "sampler.step_size=0.8", "sampler.noise=0", "sampler.noise_first=false", NULL};
    double th[NP];
    jem_ctx_t x = {.w = 1.3, .reg = 0};
    float x0[B * D];
    int ok = open_case(&c, sets) && gather(c.r.ps, NAMES, 0, th, NP) && step(&c);
    ebm_rng_t rng = ok ? run_iter_rng(&c.r, 0) : ebm_rng_make(0, 0);
    ebm_tensor_t *t = ok ? run_noise(&c.r, B, &rng) : NULL;   /* the chains' start: the iteration's first draw */
    ok = ok && t && ebm_tensor_read(t, x0) == EBM_OK;
    check(ok, "jem: one step with chains of one SGLD step from noise; the start drawn again");
    if (!ok) {
        close_case(&c);
        return;
    }
    ebm_dataset_batch_labels(&c.ds, c.r.seed, 0, B, x.y);
    for (int i = 0; i < B; i++) {
        double a[D] = {x0[i * D], x0[i * D + 1]}, g[D];
        grad_x(jem_e, th, a, g);
        for (int d = 0; d < D; d++) x.xp[i * D + d] = c.xhost[i * D + d], x.xn[i * D + d] = a[d] - 0.8 * g[d];
    }
    check_jem_step("jem (SGLD on -logsumexp f)", &c, &x, th);
    close_case(&c);
}

/* run_energy = -logsumexp f, run_class_energy = -f[k] on a JEM run */
static void test_jem_energies(void) {
    case_t c;
    const char *sets[] = {"run.method=jem", "jem.classes=8", NULL};
    double th[NP];
    float xh[B * D] = {0.3f, -1.2f, 2.0f, 0.1f, -0.7f, -0.4f, 1.1f, 1.9f}, e[B], ek[B];
    int ok = open_case(&c, sets) && gather(c.r.ps, NAMES, 0, th, NP);
    if (ok) {
        ebm_scope_begin(c.r.ctx);
        ebm_tensor_t *xt = ebm_tensor_from_host(c.r.ctx, 2, (int[]){B, D}, xh);
        run_class_t cls = {&c.r, 5};
        ebm_tensor_t *te = run_energy(&c.r, xt), *tk = run_class_energy(&cls, xt);
        ok = te && tk && ebm_tensor_read(te, e) == EBM_OK && ebm_tensor_read(tk, ek) == EBM_OK;
        ebm_scope_end(c.r.ctx);
    }
    double worst = ok ? 0 : INFINITY;
    for (int i = 0; ok && i < B; i++) {
        double a[D] = {xh[i * D], xh[i * D + 1]}, f[K];
        mlp(th, K, a, f);
        worst = fmax(worst, fmax(fabs(e[i] + lse(f, K)), fabs(ek[i] + f[5])) / (3e-5 * (1 + fabs(lse(f, K)) + fabs(f[5]))));
    }
    char msg[200];
    snprintf(msg, sizeof msg, "jem: run_energy = -logsumexp f(x), run_class_energy(k = 5) = -f(x)[5]; worst %.3g of the tolerance", worst);
    check(worst <= 1, msg);
    close_case(&c);
}

/* ---- labels of the 8 gaussians, ECE ------------------------------------------------------------- */
static void test_toy_labels(void) {
    ebm_dataset_t ds;
    char err[256];
    enum { N = 8000 };
    int ok = ebm_dataset_open(&ds, "toy:8gaussians", &(ebm_data_opts_t){.toy_n = N, .seed = 3}, err, sizeof err) == EBM_OK && ds.y &&
             ds.n_classes == 8;
    int count[8] = {0}, far = 0;
    for (int i = 0; ok && i < N; i++) {
        int k = ds.y[i];
        if (k < 0 || k > 7) {
            ok = 0;
            break;
        }
        count[k]++;
        double dx = ds.x[2 * i] - 2 * cos(2 * M_PI * k / 8), dy = ds.x[2 * i + 1] - 2 * sin(2 * M_PI * k / 8);
        far += sqrt(dx * dx + dy * dy) > 0.6;   /* 6 sd of 0.1: never, for the drawn mode */
    }
    /* each class ~ Binomial(8000, 1/8): sd 29.6; 6 sd either side */
    int even = 1;
    for (int k = 0; k < 8; k++) even &= abs(count[k] - N / 8) < 180;
    char msg[200];
    snprintf(msg, sizeof msg, "toy:8gaussians labels: %d of %d points beyond 6 sd of their label's centre, classes %d..%d", far, N,
             count[0], count[7]);
    check(ok && far == 0 && even, msg);
    if (ok) ebm_dataset_free(&ds);
}

static void test_ece(void) {
    /* 3 bins: (0, 1/3]: {0.2 wrong} -> |0 - 0.2| = 0.2 x 1/6; (1/3, 2/3]: {0.5 right, 0.6 wrong} -> |0.5 - 0.55| x 2/6;
     * (2/3, 1]: {0.9, 0.8 right, 1.0 wrong} -> |2/3 - 0.9| x 3/6. ECE = 0.2/6 + 0.1/6 + 0.7/6 = 1/6 */
    double conf[] = {0.2, 0.5, 0.6, 0.9, 0.8, 1.0};
    int right[] = {0, 1, 0, 1, 1, 0};
    double e = ebm_ece(conf, right, 6, 3), e1 = ebm_ece(conf, right, 6, 1);
    char msg[200];
    snprintf(msg, sizeof msg, "ECE of 6 predictions in 3 bins %.12g (1/6), in 1 bin %.12g (|3/6 - 4/6| = 1/6)", e, e1);
    check(fabs(e - 1.0 / 6) < 1e-12 && fabs(e1 - 1.0 / 6) < 1e-12, msg);
    double c2[] = {0.95, 0.95, 0.95, 0.95};
    int r2[] = {1, 1, 1, 0};
    e = ebm_ece(c2, r2, 4, 15);
    snprintf(msg, sizeof msg, "ECE of 4 predictions at 0.95 with 3 right, 15 bins: %.12g (0.2)", e);
    check(fabs(e - 0.2) < 1e-12, msg);
}

int main(void) {
    test_jem_buffer();
    test_jem_sgld();
    test_jem_energies();
    test_toy_labels();
    test_ece();
    return test_summary();
}
