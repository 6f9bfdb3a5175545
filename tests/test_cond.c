/* test_cond.c — class-conditional energies E(x | y) (nets.h ebm_net_condition, run.method = cd with
 * [model] classes) against double-precision host computations:
 *   - the conditioned convnet and resnet: energies of a batch with mixed labels, every parameter
 *     (FiLM embeddings included) random, against a host forward in double (FiLM h (1 + S_y) + T_y per
 *     channel after each conv / residual block); freshly initialised, the energy is the same for
 *     every label bit for bit (the embeddings start at 0);
 *   - one conditional CD step on labelled 4x4 images: the labels of the positives (the data's) and of
 *     the negatives (kept beside their replay-buffer rows), E+, E-, the loss, and the gradients of the
 *     FiLM embeddings and the last layer against central differences of the host's loss; the host's
 *     loss with any label changed differs by far more than the tolerance, so a step that used the
 *     wrong labels fails; after it, the run's energy without a label (score, --compose RUN) is the
 *     marginal -log sum_k exp(-E(x | k)) of the host's per-class energies;
 *   - bad configurations refused with a message (an MLP conditioned, a method without conditioning,
 *     labels beyond the classes, a label channel on one-channel images).
 * Tolerances: the net comparisons allow 1e-5 (1 + sum of the magnitudes of the final layer's terms):
 * each energy is a float32 chain of sums of at most ~300 products, whose rounding is a few hundred
 * 2^-24 ~ 6e-8 of those magnitudes; the CD step uses method_case.h's 3e-5 (1 + largest magnitude). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "chains.h"
#include "method_case.h"
#include "ref.h"

/* ---- host convnet with FiLM (nets.h: conv3x3 pad 1, strides 1, 2, 2, 2; FiLM; activation; mean; linear) ---- */
typedef struct {
    int cin, base, K;
    double *w[5], *b[5], *S[4], *T[4];   /* w[4], b[4]: the final linear; S, T: (K, C_l) or NULL */
} hconv_t;

static double swish(double v) { return v / (1 + exp(-v)); }

static double hconv_energy(const hconv_t *n, const double *x, int H, int y, double *mag) {
    int ch[5] = {n->cin, n->base, 2 * n->base, 4 * n->base, 4 * n->base}, h = H;
    double *cur = malloc(sizeof(double) * n->cin * H * H);
    memcpy(cur, x, sizeof(double) * n->cin * H * H);
    for (int l = 0; l < 4; l++) {
        int s = l ? 2 : 1, ho = ref_conv_out(h, 3, s, 1, 1);
        double *o = malloc(sizeof(double) * ch[l + 1] * ho * ho);
        ref_conv2d(cur, 1, ch[l], h, h, n->w[l], ch[l + 1], 3, 3, (ref_conv_t){s, s, 1, 1, 1, 1}, o);
        for (int c = 0; c < ch[l + 1]; c++)
            for (int p = 0; p < ho * ho; p++) {
                double v = o[c * ho * ho + p] + n->b[l][c];
                if (n->S[l]) v = v * (1 + n->S[l][y * ch[l + 1] + c]) + n->T[l][y * ch[l + 1] + c];
                o[c * ho * ho + p] = swish(v);
            }
        free(cur);
        cur = o, h = ho;
    }
    double e = n->b[4][0];
    *mag = fabs(e);
    for (int c = 0; c < ch[4]; c++) {
        double m = 0;
        for (int p = 0; p < h * h; p++) m += cur[c * h * h + p] / (h * h);
        e += n->w[4][c] * m, *mag += fabs(n->w[4][c] * m);
    }
    free(cur);
    return e;
}

/* a parameter's values into a new double array (NULL if missing) */
static double *host_param(ebm_params_t *ps, const char *name) {
    ebm_tensor_t *t = case_named(ps, name, 0);
    if (!t) return NULL;
    size_t n = ebm_tensor_numel(t);
    float *f = malloc(sizeof(float) * n);
    double *d = malloc(sizeof(double) * n);
    if (ebm_tensor_read(t, f) != EBM_OK) {
        free(d);
        d = NULL;
    }
    for (size_t i = 0; d && i < n; i++) d[i] = f[i];
    free(f);
    return d;
}

static void hconv_load(hconv_t *n, ebm_params_t *ps, const char *prefix, int film) {
    char name[64];
    for (int l = 0; l < 5; l++) {
        int idx = l < 4 ? 2 * l : 10;
        snprintf(name, sizeof name, "%s%d.weight", prefix, idx), n->w[l] = host_param(ps, name);
        snprintf(name, sizeof name, "%s%d.bias", prefix, idx), n->b[l] = host_param(ps, name);
    }
    for (int l = 0; l < 4; l++) {
        snprintf(name, sizeof name, "%scond.%d.scale", prefix, l), n->S[l] = film ? host_param(ps, name) : NULL;
        snprintf(name, sizeof name, "%scond.%d.shift", prefix, l), n->T[l] = film ? host_param(ps, name) : NULL;
    }
}

static void hconv_free(hconv_t *n) {
    for (int l = 0; l < 5; l++) free(n->w[l]), free(n->b[l]);
    for (int l = 0; l < 4; l++) free(n->S[l]), free(n->T[l]);
}

/* every parameter of ps from U(-a, a) */
static int randomize(ebm_params_t *ps, ebm_rng_t *rng, float a) {
    for (int i = 0; i < ebm_params_count(ps); i++)
        if (ebm_tensor_fill_uniform(ebm_params_get(ps, i), rng, -a, a) != EBM_OK) return 0;
    return 1;
}

static ebm_tensor_t *onehot(ebm_ctx_t *ctx, const int *y, int B, int K) {
    float h[64] = {0};
    for (int i = 0; i < B; i++) h[i * K + y[i]] = 1;
    return ebm_tensor_from_host(ctx, 2, (int[]){B, K}, h);
}

enum { NB = 3, NC = 3, NH = 8, NK = 4 };

static void test_convnet(void) {
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) {
        check(0, "conditioned convnet: a device");
        return;
    }
    ebm_params_t *ps = ebm_params_new(ctx);
    ebm_net_t *net = ebm_net_convnet(ps, "", NC, 2);
    int ok = net && ebm_net_condition(net, ps, "", NK) == EBM_OK && ebm_params_finalize(ps) == EBM_OK;
    ebm_rng_t rng = ebm_rng_make(11, 0);
    ok = ok && ebm_net_init(net, &rng) == EBM_OK && ebm_net_set_activation(net, "swish") == EBM_OK;
    check(ok && ebm_net_classes(net) == NK && case_named(ps, "cond.3.shift", 0) &&
              ebm_tensor_dim(case_named(ps, "cond.3.shift", 0), 0) == NK && ebm_tensor_dim(case_named(ps, "cond.3.shift", 0), 1) == 8,
          "conditioned convnet: embeddings cond.<l>.scale/shift of (classes, channels)");
    float xf[NB * NC * NH * NH];
    double xd[NB * NC * NH * NH];
    ebm_rng_host_uniform(&rng, xf, NB * NC * NH * NH);
    for (int i = 0; i < NB * NC * NH * NH; i++) xd[i] = xf[i];
    int y[NB] = {2, 0, 3}, y2[NB] = {1, 3, 0};
    /* initialised: E(x | y) = E(x | y') bit for bit */
    ebm_scope_begin(ctx);
    ebm_tensor_t *x = ebm_tensor_from_host(ctx, 4, (int[]){NB, NC, NH, NH}, xf);
    float e1[NB], e2[NB];
    ebm_net_set_condition(net, onehot(ctx, y, NB, NK));
    ok = ok && ebm_tensor_read(ebm_net_energy(net, x), e1) == EBM_OK;
    ebm_net_set_condition(net, onehot(ctx, y2, NB, NK));
    ok = ok && ebm_tensor_read(ebm_net_energy(net, x), e2) == EBM_OK;
    ebm_net_set_condition(net, NULL);
    check(ok && !memcmp(e1, e2, sizeof e1), "conditioned convnet, initialised: the same energy for every label (embeddings 0)");
    check(ebm_net_energy(net, x) == NULL, "conditioned convnet without labels: no energy");
    ebm_scope_end(ctx);
    /* random parameters: against the host */
    ok = ok && randomize(ps, &rng, 0.5f);
    hconv_t h = {.cin = NC, .base = 2, .K = NK};
    hconv_load(&h, ps, "", 1);
    ebm_scope_begin(ctx);
    x = ebm_tensor_from_host(ctx, 4, (int[]){NB, NC, NH, NH}, xf);
    ebm_net_set_condition(net, onehot(ctx, y, NB, NK));
    ok = ok && ebm_tensor_read(ebm_net_energy(net, x), e1) == EBM_OK;
    ebm_net_set_condition(net, NULL);
    ebm_scope_end(ctx);
    double worst = 0, spread = 0;
    for (int i = 0; ok && i < NB; i++) {
        double mag, want = hconv_energy(&h, xd + i * NC * NH * NH, NH, y[i], &mag), other = hconv_energy(&h, xd + i * NC * NH * NH, NH, y2[i], &mag);
        worst = fmax(worst, fabs(e1[i] - want) / (1e-5 * (1 + mag)));
        spread = fmax(spread, fabs(other - want) / (1e-5 * (1 + mag)));
    }
    char msg[200];
    snprintf(msg, sizeof msg, "conditioned convnet vs double reference, labels (2, 0, 3): worst error %.3g of the tolerance; "
                              "another label moves E by %.3g tolerances", worst, spread);
    check(ok && worst <= 1 && spread > 100, msg);
    hconv_free(&h);
    ebm_net_free(net);
    ebm_params_free(ps);
    ebm_ctx_free(ctx);
}

/* ---- host resnet of one stage (nets.h: conv_in, two residual blocks with WS convs and instance norm,
 * FiLM after each block's sum, the second block's conv_down, avg-pool 3x3 s2 p1, swish; swish, mean, fc) ---- */
static void instance_norm(double *h, int C, int HW, const double *g, const double *b) {
    for (int c = 0; c < C; c++) {
        double m = 0, v = 0;
        for (int p = 0; p < HW; p++) m += h[c * HW + p] / HW;
        for (int p = 0; p < HW; p++) v += (h[c * HW + p] - m) * (h[c * HW + p] - m) / HW;
        for (int p = 0; p < HW; p++) h[c * HW + p] = g[c] * (h[c * HW + p] - m) / sqrt(v + 1e-5) + b[c];
    }
}

/* conv3x3 pad 1 of (C, H, H) with optional weight standardisation, bias */
static void conv3(const double *x, int C, int H, const double *w, const double *b, int O, int ws, double *y) {
    double *wz = malloc(sizeof(double) * O * C * 9);
    if (ws) ref_weight_standardize(w, O, C * 9, 1e-5, wz);
    else memcpy(wz, w, sizeof(double) * O * C * 9);
    ref_conv2d(x, 1, C, H, H, wz, O, 3, 3, (ref_conv_t){1, 1, 1, 1, 1, 1}, y);
    for (int o = 0; o < O; o++)
        for (int p = 0; p < H * H; p++) y[o * H * H + p] += b[o];
    free(wz);
}

static double hres_energy(ebm_params_t *ps, const double *x, int C0, int F, int H, int y, double *mag) {
    char name[64];
#define P(s) (snprintf(name, sizeof name, "%s", s), host_param(ps, name))
    double *inw = P("conv_in.weight"), *inb = P("conv_in.bias");
    int HW = H * H;
    double *h = malloc(sizeof(double) * F * HW), *r = malloc(sizeof(double) * F * HW), *r2 = malloc(sizeof(double) * F * HW);
    conv3(x, C0, H, inw, inb, F, 0, h);
    for (int i = 0; i < F * HW; i++) h[i] = swish(h[i]);
    double e = 0;
    for (int blk = 0; blk < 2; blk++) {
        char p[32];
        snprintf(p, sizeof p, "blocks.%d.", blk);
#define Q(s) (snprintf(name, sizeof name, "%s%s", p, s), host_param(ps, name))
        double *c1w = Q("conv1.weight"), *c1b = Q("conv1.bias"), *n1g = Q("norm1.weight"), *n1b = Q("norm1.bias");
        double *c2w = Q("conv2.weight"), *c2b = Q("conv2.bias"), *n2g = Q("norm2.weight"), *n2b = Q("norm2.bias");
        conv3(h, F, H, c1w, c1b, F, 1, r);
        instance_norm(r, F, HW, n1g, n1b);
        for (int i = 0; i < F * HW; i++) r[i] = swish(r[i]);
        conv3(r, F, H, c2w, c2b, F, 1, r2);
        instance_norm(r2, F, HW, n2g, n2b);
        snprintf(name, sizeof name, "cond.%d.scale", blk);
        double *S = host_param(ps, name);
        snprintf(name, sizeof name, "cond.%d.shift", blk);
        double *T = host_param(ps, name);
        for (int c = 0; c < F; c++)
            for (int q = 0; q < HW; q++) {
                double v = h[c * HW + q] + swish(r2[c * HW + q]);
                h[c * HW + q] = v * (1 + S[y * F + c]) + T[y * F + c];
            }
        free(c1w), free(c1b), free(n1g), free(n1b), free(c2w), free(c2b), free(n2g), free(n2b), free(S), free(T);
        if (blk == 1) {   /* conv_down (F -> F, one stage keeps the width), avg-pool 3x3 s2 p1, swish, mean, fc */
            double *dw = Q("conv_down.weight"), *db = Q("conv_down.bias"), *fw = P("fc.weight"), *fb = P("fc.bias");
            int Ho = ref_conv_out(H, 3, 2, 1, 1);
            double *pool = malloc(sizeof(double) * F * Ho * Ho);
            conv3(h, F, H, dw, db, F, 0, r);
            ref_avgpool(r, F, H, H, 3, 2, 1, pool);
            e = fb[0], *mag = fabs(fb[0]);
            for (int c = 0; c < F; c++) {
                double m = 0;
                for (int q = 0; q < Ho * Ho; q++) m += swish(swish(pool[c * Ho * Ho + q])) / (Ho * Ho);   /* the block's, then the head's */
                e += fw[c] * m, *mag += fabs(fw[c] * m);
            }
            free(dw), free(db), free(fw), free(fb), free(pool);
        }
#undef Q
    }
#undef P
    free(inw), free(inb), free(h), free(r), free(r2);
    return e;
}

static void test_resnet(void) {
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) {
        check(0, "conditioned resnet: a device");
        return;
    }
    enum { F = 4 };
    ebm_params_t *ps = ebm_params_new(ctx);
    ebm_net_t *net = ebm_net_resnet(ps, "", NC, F, 1, 0, 1);
    int ok = net && ebm_net_condition(net, ps, "", NK) == EBM_OK && ebm_params_finalize(ps) == EBM_OK;
    ebm_rng_t rng = ebm_rng_make(12, 0);
    ok = ok && ebm_net_init(net, &rng) == EBM_OK && randomize(ps, &rng, 0.5f);
    /* the norms' scales near 1, as trained ones are */
    for (int b = 0; ok && b < 2; b++)
        for (int k = 1; k <= 2; k++) {
            char name[64];
            snprintf(name, sizeof name, "blocks.%d.norm%d.weight", b, k);
            ok = ebm_tensor_fill_uniform(case_named(ps, name, 0), &rng, 0.5f, 1.5f) == EBM_OK;
        }
    float xf[NB * NC * NH * NH], e[NB];
    double xd[NB * NC * NH * NH];
    ebm_rng_host_uniform(&rng, xf, NB * NC * NH * NH);
    for (int i = 0; i < NB * NC * NH * NH; i++) xd[i] = xf[i];
    int y[NB] = {3, 1, 0}, y2[NB] = {0, 2, 2};
    ebm_scope_begin(ctx);
    ebm_net_set_condition(net, onehot(ctx, y, NB, NK));
    ok = ok && ebm_tensor_read(ebm_net_energy(net, ebm_tensor_from_host(ctx, 4, (int[]){NB, NC, NH, NH}, xf)), e) == EBM_OK;
    ebm_net_set_condition(net, NULL);
    ebm_scope_end(ctx);
    double worst = 0, spread = 0;
    for (int i = 0; ok && i < NB; i++) {
        double mag, want = hres_energy(ps, xd + i * NC * NH * NH, NC, F, NH, y[i], &mag), other = hres_energy(ps, xd + i * NC * NH * NH, NC, F, NH, y2[i], &mag);
        worst = fmax(worst, fabs(e[i] - want) / (1e-5 * (1 + mag)));
        spread = fmax(spread, fabs(other - want) / (1e-5 * (1 + mag)));
    }
    char msg[200];
    snprintf(msg, sizeof msg, "conditioned resnet (one stage) vs double reference: worst error %.3g of the tolerance; another label "
                              "moves E by %.3g tolerances", worst, spread);
    check(ok && worst <= 1 && spread > 100, msg);
    ebm_net_free(net);
    ebm_params_free(ps);
    ebm_ctx_free(ctx);
}

/* ---- one conditional CD step -------------------------------------------------------------------- */
enum { B = 4, S = 4, K = 3, NIMG = 8 };

/* 8 labelled 4x4 images as IDX files DIR/train-images-idx3-ubyte and DIR/train-labels-idx1-ubyte */
static int write_idx(const char *dir, char *images, size_t n) {
    unsigned char hdr[16] = {0, 0, 8, 3, 0, 0, 0, NIMG, 0, 0, 0, S, 0, 0, 0, S}, lhdr[8] = {0, 0, 8, 1, 0, 0, 0, NIMG}, px[NIMG * S * S];
    unsigned char lab[NIMG] = {0, 1, 2, 0, 1, 2, 1, 0};
    ebm_rng_t rng = ebm_rng_make(5, 0);
    float u[NIMG * S * S];
    ebm_rng_host_uniform(&rng, u, NIMG * S * S);
    for (int i = 0; i < NIMG * S * S; i++) px[i] = (unsigned char)(u[i] * 255);
    snprintf(images, n, "%s/train-images-idx3-ubyte", dir);
    char lpath[600];
    snprintf(lpath, sizeof lpath, "%s/train-labels-idx1-ubyte", dir);
    FILE *f = fopen(images, "wb"), *g = fopen(lpath, "wb");
    int ok = f && g && fwrite(hdr, 1, 16, f) == 16 && fwrite(px, 1, sizeof px, f) == sizeof px && fwrite(lhdr, 1, 8, g) == 8 &&
             fwrite(lab, 1, NIMG, g) == NIMG;
    if (f) ok &= fclose(f) == 0;
    if (g) ok &= fclose(g) == 0;
    return ok;
}

/* the step's host loss: full parameters with the checked subset th in place */
typedef struct {
    hconv_t net;
    double *slot[16];   /* where each checked tensor's values go */
    int len[16], n_slots;
    double xp[B * S * S], xn[B * S * S], alpha;
    int yp[B], yn[B];
} step_ctx_t;

static void set_subset(step_ctx_t *c, const double *th) {
    for (int j = 0, k = 0; j < c->n_slots; k += c->len[j], j++) memcpy(c->slot[j], th + k, sizeof(double) * c->len[j]);
}

static double host_loss(const double *th, void *p) {
    step_ctx_t *c = p;
    set_subset(c, th);
    double mp = 0, mn = 0, sp = 0, sn = 0, mag;
    for (int i = 0; i < B; i++) {
        double ep = hconv_energy(&c->net, c->xp + i * S * S, S, c->yp[i], &mag), en = hconv_energy(&c->net, c->xn + i * S * S, S, c->yn[i], &mag);
        mp += ep / B, mn += en / B, sp += ep * ep / B, sn += en * en / B;
    }
    return mp - mn + c->alpha * (sp + sn);
}

static double host_mean(step_ctx_t *c, const double *x, const int *y) {
    double m = 0, mag;
    for (int i = 0; i < B; i++) m += hconv_energy(&c->net, x + i * S * S, S, y[i], &mag) / B;
    return m;
}

static const char *const CHECKED[] = {"cond.0.scale", "cond.0.shift", "cond.1.scale", "cond.1.shift", "cond.3.scale", "cond.3.shift",
                                      "10.weight", "10.bias", NULL};

/* run_energy of a conditioned run without labels (score, --compose RUN without a class): the marginal
 * -log sum_k exp(-E(x | k)), against the host's per-class energies of the step's positives; it must
 * also differ from every single class's energy (else a marginal that took one class would pass). The
 * tolerance is the net comparisons' 1e-5 (1 + magnitudes), the largest over the classes: the
 * log-sum-exp of K = 3 terms adds a few roundings of |E| */
static void check_marginal(case_t *c, const step_ctx_t *x) {
    hconv_t net = {.cin = 1, .base = 1, .K = K};   /* the parameters after the step's update */
    hconv_load(&net, c->r.ps, "", 1);
    ebm_scope_begin(c->r.ctx);
    float xf[B * S * S], got[B];
    for (int i = 0; i < B * S * S; i++) xf[i] = (float)x->xp[i];
    ebm_tensor_t *e = run_energy(&c->r, ebm_tensor_from_host(c->r.ctx, 4, (int[]){B, 1, S, S}, xf));
    int ok = e && ebm_tensor_numel(e) == B && ebm_tensor_read(e, got) == EBM_OK && !ebm_net_get_condition(c->r.net);
    double worst = 0, apart = INFINITY, mag;
    for (int i = 0; ok && i < B; i++) {
        double ek[K], lo = INFINITY, scale = 1, s = 0;
        for (int k = 0; k < K; k++) ek[k] = hconv_energy(&net, x->xp + i * S * S, S, k, &mag), lo = fmin(lo, ek[k]), scale = fmax(scale, 1 + mag);
        for (int k = 0; k < K; k++) s += exp(-(ek[k] - lo));
        double want = lo - log(s);
        worst = fmax(worst, fabs(got[i] - want) / (1e-5 * scale));
        for (int k = 0; k < K; k++) apart = fmin(apart, fabs(ek[k] - want) / (1e-5 * scale));
    }
    ebm_scope_end(c->r.ctx);
    hconv_free(&net);
    char msg[200];
    snprintf(msg, sizeof msg, "conditional cd: the energy without a label is -log sum_k exp(-E(x | k)) (worst %.3g of the tolerance; "
             "every single class's energy >= %.3g tolerances away); the labels cleared after", worst, apart);
    check(ok && worst <= 1 && apart > 10, msg);
}

static void test_cd_step(const char *images) {
    case_t c;
    char src[700];
    snprintf(src, sizeof src, "data.source=%s", images);
    const char *sets[] = {"run.method=cd", src, "model.net=convnet", "model.base=1", "model.scales=1", "model.classes=3", "data.dequantize=false",
                          "buffer.capacity=4", "sampler.steps=2", "sampler.step_size=0.1", "sampler.noise=0.05", "sampler.grad_clip=0",
                          "loss.reg=0.5", NULL};
    int ok = open_case_with(&c, NULL, sets, images);
    ebm_rng_t rng = ebm_rng_make(3, 0);
    /* the embeddings away from 0, so that every label changes the energies */
    for (int l = 0; ok && l < 4; l++) {
        char name[32];
        snprintf(name, sizeof name, "cond.%d.scale", l);
        ok = ebm_tensor_fill_uniform(case_named(c.r.ps, name, 0), &rng, -0.5f, 0.5f) == EBM_OK;
        snprintf(name, sizeof name, "cond.%d.shift", l);
        ok = ok && ebm_tensor_fill_uniform(case_named(c.r.ps, name, 0), &rng, -0.5f, 0.5f) == EBM_OK;
    }
    step_ctx_t x = {.alpha = 0.5, .net = {.cin = 1, .base = 1, .K = K}};
    if (ok) hconv_load(&x.net, c.r.ps, "", 1);
    double th[CASE_MAXP];
    int n = 0;
    for (int j = 0; ok && CHECKED[j]; j++) {
        ebm_tensor_t *t = case_named(c.r.ps, CHECKED[j], 0);
        int L = t ? (int)ebm_tensor_numel(t) : 0;
        double *dst = !strcmp(CHECKED[j], "10.weight") ? x.net.w[4] : !strcmp(CHECKED[j], "10.bias") ? x.net.b[4]
                                                                                                      : x.net.S[CHECKED[j][5] - '0'];
        if (strstr(CHECKED[j], "shift")) dst = x.net.T[CHECKED[j][5] - '0'];
        ok = t && n + L <= CASE_MAXP;
        if (ok) {
            memcpy(th + n, dst, sizeof(double) * L);
            x.slot[x.n_slots] = dst, x.len[x.n_slots++] = L, n += L;
        }
    }
    ok = ok && step(&c);
    float xn[B * S * S];
    ebm_tensor_t *buf = ok ? ebm_replay_export(c.r.rb) : NULL;   /* the step's negatives, pushed into the empty buffer */
    ok = ok && buf && ebm_tensor_numel(buf) == B * S * S && ebm_tensor_read(buf, xn) == EBM_OK && c.r.rb_labels;
    check(ok, "conditional cd: one step on labelled images; its negatives and their labels read back from the buffer");
    if (!ok) {
        close_case(&c);
        return;
    }
    to_double(c.xhost, x.xp, B * S * S), to_double(xn, x.xn, B * S * S);
    ebm_dataset_batch_labels(&c.ds, c.r.seed, 0, B, x.yp);
    int in_range = 1, distinct = 0;
    for (int i = 0; i < B; i++) {
        x.yn[i] = c.r.rb_labels[i];   /* FIFO into the empty buffer: row i holds chain i */
        in_range &= x.yn[i] >= 0 && x.yn[i] < K;
        distinct |= x.yn[i] != x.yn[0];
    }
    char msg[160];
    snprintf(msg, sizeof msg, "conditional cd: the fresh chains' labels (%d %d %d %d) are classes, not all the same", x.yn[0], x.yn[1], x.yn[2], x.yn[3]);
    check(in_range && distinct, msg);
    set_subset(&x, th);
    check_stat("conditional cd", &c.s, "e_pos", host_mean(&x, x.xp, x.yp));
    check_stat("conditional cd", &c.s, "e_neg", host_mean(&x, x.xn, x.yn));
    check_stat("conditional cd", &c.s, "loss", host_loss(th, &x));
    check_grad("conditional cd: dL/d(FiLM embeddings, last layer)", c.r.ps, CHECKED, host_loss, th, n, &x);
    /* the comparisons see the labels: another label for one positive or one negative moves the loss */
    double l0 = host_loss(th, &x), moved = INFINITY;
    for (int i = 0; i < B; i++)
        for (int which = 0; which < 2; which++) {
            int *yy = which ? x.yn : x.yp, keep = yy[i];
            yy[i] = (keep + 1) % K;
            moved = fmin(moved, fabs(host_loss(th, &x) - l0) / (3e-5 * (1 + fabs(l0))));
            yy[i] = keep;
        }
    snprintf(msg, sizeof msg, "conditional cd: any one label changed moves the host loss by >= %.3g tolerances", moved);
    check(moved > 10, msg);
    check_marginal(&c, &x);
    hconv_free(&x.net);
    close_case(&c);
}

/* [data] label_channel: stacked label 100 y0 + 10 y1 + y2 -> channel c's class (test_data ties each
 * digit to the image in its channel) */
static void test_channel_label(void) {
    check(chains_channel_label(537, 0) == 5 && chains_channel_label(537, 1) == 3 && chains_channel_label(537, 2) == 7 &&
              chains_channel_label(537, -1) == 537 && chains_channel_label(9, 0) == 0 && chains_channel_label(9, 2) == 9,
          "label_channel 0, 1, 2 of the stacked label 537: 5, 3, 7 (-1: 537 itself)");
}

/* ---- refusals ---------------------------------------------------------------------------------- */
static void test_refusals(const char *images) {
    case_t c;
    char src[700];
    snprintf(src, sizeof src, "data.source=%s", images);
    const char *mlp[] = {"run.method=cd", "model.classes=3", NULL};
    check(!open_case_with(&c, NULL, mlp, "toy:8gaussians"), "model.classes with net = mlp: refused (message above)");
    close_case(&c);
    const char *sm[] = {"run.method=sm", src, "model.net=convnet", "model.base=1", "model.scales=1", "model.classes=3", NULL};
    check(!open_case_with(&c, NULL, sm, images), "model.classes with run.method = sm: refused (message above)");
    close_case(&c);
    const char *big[] = {"run.method=cd", src, "model.net=convnet", "model.base=1", "model.scales=1", "model.classes=2", "data.dequantize=false", NULL};
    int ok = open_case_with(&c, NULL, big, images);
    check(ok && !step(&c) && c.st == -1, "model.classes = 2 on data labelled 0 .. 2: the step fails with a message (above)");
    close_case(&c);
    const char *chan[] = {"run.method=cd", src, "model.net=convnet", "model.base=1", "model.scales=1", "model.classes=3", "data.label_channel=1", NULL};
    ok = open_case_with(&c, NULL, chan, images);
    check(ok && !step(&c) && c.st == -1, "data.label_channel on one-channel images: the step fails with a message (above)");
    close_case(&c);
}

int main(void) {
    test_convnet();
    test_resnet();
    char dir[] = "/tmp/ebm-test-cond-XXXXXX", images[600];
    if (!mkdtemp(dir) || !write_idx(dir, images, sizeof images)) {
        check(0, "writing the labelled images");
        return test_summary();
    }
    test_cd_step(images);
    test_refusals(images);
    test_channel_label();
    char lpath[600];
    snprintf(lpath, sizeof lpath, "%s/train-labels-idx1-ubyte", dir);
    remove(images), remove(lpath), rmdir(dir);
    return test_summary();
}
