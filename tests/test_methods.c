/* test_methods.c — one training step of every method (models/methods/) against an independent
 * double-precision host computation on a tiny case: 2-D points (a classifier: 2x2 IDX images), MLP
 * networks of 3 hidden units, a batch of 4. Each case runs the registry's step on a run built from a
 * config, reads what the step used (the data rows from the host buffer, the negatives from the
 * replay buffer, the latent draws by replaying the iteration's Philox stream, which host and device
 * draw identically) and the parameters before and after, and compares
 *   - the stats the step reports (energies, losses) with the host's values,
 *   - every parameter gradient the step left (energy, generator, statistics or inference network)
 *     with central differences of the host's loss in double precision.
 * Cases: CD (Langevin negatives into the buffer), CD from the data (sampler.init = data: with 0
 * Langevin steps E+ = E- bit for bit and the loss exactly 0; one noiseless step x- = x+ - eta grad E(x+)),
 * improved CD's KL term (x_kl = x - eta grad_x E_theta(x)
 * through the energy frozen), MEG (G/H step on the mutual-information BCE, then E with the gradient
 * penalty, whose grad_x E is analytic here), Kim & Bengio (batch-norm generator and its entropy),
 * Dual-MCMC (generator, inference network and energy with chains of 0 steps, so the z-chain start
 * z0 = mu + sigma eps is the posterior sample), the classifier (cross-entropy, accuracy).
 *
 * Tolerance: each value or gradient component is a sum over 4 examples of products of at most ~20
 * float32 factors and sums of at most 5 terms; its rounding error is below ~40 * 2^-24 (2.4e-6) of the
 * sum of the magnitudes of its terms, which is at most ~10 times the largest component here. The
 * comparisons allow 3e-5 * (1 + largest reference magnitude); central differences in double add
 * ~1e-9. A missing term, a wrong sign or a factor of 2 in a loss is off by O(1) of it. (Measured on
 * PoCL: at most 3e-3 of this tolerance.) The harness (runs from config overrides, comparisons) is
 * tests/method_case.h. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "data.h"
#include "run.h"
#include "method_case.h"
#include "testing.h"
#include "train.h"

enum { B = 4, H = 3, D = 2, Z = 2, MAXP = CASE_MAXP };

/* ---- host networks: MLPs of one hidden layer, parameters in one flat array ------------------- */
typedef enum { A_SWISH, A_LRELU, A_RELU } act_t;

typedef struct {
    int in, hid, out, bn;   /* bn: batch norm (batch statistics, eps 1e-5) before the activation */
    act_t act;
} mlp_t;

/* offsets in the flat array: w1 (hid x in), b1, [gamma, beta], w2 (out x hid), b2 */
static int mlp_size(const mlp_t *m) { return m->hid * m->in + m->hid + (m->bn ? 2 * m->hid : 0) + m->out * m->hid + m->out; }

static double act(act_t a, double u) {
    switch (a) {
    case A_SWISH: return u / (1 + exp(-u));
    case A_LRELU: return u > 0 ? u : 0.2 * u;
    default: return u > 0 ? u : 0;
    }
}

/* forward of n rows x (n x in) -> y (n x out) */
static void mlp_forward(const mlp_t *m, const double *th, const double *x, int n, double *y) {
    const double *w1 = th, *b1 = w1 + m->hid * m->in, *gm = b1 + m->hid, *bt = gm + m->hid;
    const double *w2 = m->bn ? bt + m->hid : gm, *b2 = w2 + m->out * m->hid;
    double h[16][8];
    for (int i = 0; i < n; i++)
        for (int u = 0; u < m->hid; u++) {
            h[i][u] = b1[u];
            for (int d = 0; d < m->in; d++) h[i][u] += w1[u * m->in + d] * x[i * m->in + d];
        }
    for (int u = 0; u < m->hid; u++) {
        double mean = 0, var = 0;
        if (m->bn) {
            for (int i = 0; i < n; i++) mean += h[i][u] / n;
            for (int i = 0; i < n; i++) var += (h[i][u] - mean) * (h[i][u] - mean) / n;
        }
        for (int i = 0; i < n; i++) h[i][u] = act(m->act, m->bn ? gm[u] * (h[i][u] - mean) / sqrt(var + 1e-5) + bt[u] : h[i][u]);
    }
    for (int i = 0; i < n; i++)
        for (int o = 0; o < m->out; o++) {
            y[i * m->out + o] = b2[o];
            for (int u = 0; u < m->hid; u++) y[i * m->out + o] += w2[o * m->hid + u] * h[i][u];
        }
}

/* the energy network here: 2 -> 3 (swish) -> 1 */
static const mlp_t EN = {D, H, 1, 0, A_SWISH};

static double energy(const double *th, const double *x) {
    double e;
    mlp_forward(&EN, th, x, 1, &e);
    return e;
}

/* grad_x E of the swish energy, analytic: W1^T (w2 * swish'(W1 x + b1)) */
static void energy_grad_x(const double *th, const double *x, double *g) {
    const double *w1 = th, *b1 = w1 + H * D, *w2 = b1 + H;
    g[0] = g[1] = 0;
    for (int u = 0; u < H; u++) {
        double a = b1[u] + w1[u * D] * x[0] + w1[u * D + 1] * x[1], s = 1 / (1 + exp(-a)), ds = s + a * s * (1 - s);
        for (int d = 0; d < D; d++) g[d] += w1[u * D + d] * w2[u] * ds;
    }
}

static double mean_energy(const double *th, const double *x, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m += energy(th, x + i * D) / n;
    return m;
}

static const char *const E_NAMES[] = {"0.weight", "0.bias", "2.weight", "2.bias", NULL};

/* ---- CD ---------------------------------------------------------------------------------------- */
typedef struct {
    double xp[B * D], xn[B * D], alpha;
} cd_ctx_t;

static double cd_loss(const double *th, void *p) {
    cd_ctx_t *c = p;
    double mp = 0, mn = 0, sp = 0, sn = 0;
    for (int i = 0; i < B; i++) {
        double ep = energy(th, c->xp + i * D), en = energy(th, c->xn + i * D);
        mp += ep / B, mn += en / B, sp += ep * ep / B, sn += en * en / B;
    }
    return mp - mn + c->alpha * (sp + sn);
}

static void test_cd(void) {
    case_t c;
    const char *sets[] = {"run.method=cd", "buffer.capacity=4", "sampler.steps=2", "sampler.step_size=0.1", "sampler.noise=0.05",
                          "sampler.grad_clip=0", "sampler.init_lo=-3", "sampler.init_hi=3", "loss.reg=0.5", NULL};
    double th[13];
    cd_ctx_t x = {.alpha = 0.5};
    int ok = open_case_with(&c, NULL, sets, "toy:8gaussians") && gather(c.r.ps, E_NAMES, 0, th, 13) && step(&c);
    float xn[B * D];
    ebm_tensor_t *buf = ok ? ebm_replay_export(c.r.rb) : NULL;   /* the step's negatives, pushed into the empty buffer */
    ok = ok && buf && ebm_tensor_numel(buf) == B * D && ebm_tensor_read(buf, xn) == EBM_OK;
    check(ok, "cd: one step; its Langevin negatives read back from the buffer");
    if (!ok) {
        close_case(&c);
        return;
    }
    to_double(c.xhost, x.xp, B * D), to_double(xn, x.xn, B * D);
    check_stat("cd", &c.s, "e_pos", mean_energy(th, x.xp, B));
    check_stat("cd", &c.s, "e_neg", mean_energy(th, x.xn, B));
    check_stat("cd", &c.s, "loss", cd_loss(th, &x));
    check_grad("cd: dL/dtheta of the energy", c.r.ps, E_NAMES, cd_loss, th, 13, &x);
    close_case(&c);
}

/* improved CD's KL term: chains of one step without noise; x_kl = x0 - eta grad_x E_theta(x0) */
/* ---- CD from the data (sampler.init = data) --------------------------------------------------- */
/* Langevin without clipping or clamping */
static const char *const SAMPLER[] = {"sampler.grad_clip=0", "sampler.clamp=false", "sampler.init_lo=-3", "sampler.init_hi=3", NULL};

static void test_cd_from_data(void) {
    case_t c;
    /* 0 steps, no regulariser: the negatives are the data, so the loss is exactly 0 */
    const char *zero[] = {"run.method=cd", "sampler.init=data", "sampler.steps=0", "loss.reg=0", NULL};
    int ok = open_case_with(&c, SAMPLER, zero, "toy:8gaussians") && c.r.rb == NULL && step(&c);
    double ep = stat(&c.s, "e_pos"), en = stat(&c.s, "e_neg"), l = stat(&c.s, "loss");
    char msg[200];
    snprintf(msg, sizeof msg, "cd, sampler.init = data, 0 steps: no buffer, E+ = %.9g, E- = %.9g, loss = %.3g (exactly 0)", ep, en, l);
    check(ok && ep == en && l == 0, msg);
    close_case(&c);

    /* one noiseless step from the data: x- = x+ - eta grad_x E(x+) */
    const char *one[] = {"run.method=cd", "sampler.init=data", "buffer.capacity=100", "sampler.steps=1", "sampler.step_size=0.6",
                         "sampler.noise=0", "loss.reg=0.5", "model.net=mlp", NULL};
    double th[13];
    cd_ctx_t x = {.alpha = 0.5};
    ok = open_case_with(&c, SAMPLER, one, "toy:8gaussians") && c.r.rb == NULL && gather(c.r.ps, E_NAMES, 0, th, 13) && step(&c);
    check(ok, "cd, sampler.init = data: one step of chains started at the data (buffer.capacity ignored)");
    if (ok) {
        double mn = 0;
        for (int i = 0; i < B; i++) {
            double a[D] = {c.xhost[i * D], c.xhost[i * D + 1]}, g[D];
            energy_grad_x(th, a, g);
            for (int d = 0; d < D; d++) x.xp[i * D + d] = a[d], x.xn[i * D + d] = a[d] - 0.6 * g[d];
            mn += energy(th, x.xn + i * D) / B;
        }
        check_stat("cd from data", &c.s, "e_neg", mn);
        check_stat("cd from data", &c.s, "loss", cd_loss(th, &x));
        check_grad("cd from data: dL/dtheta", c.r.ps, E_NAMES, cd_loss, th, 13, &x);
    }
    close_case(&c);

    const char *bad[] = {"run.method=cd", "sampler.init=prior", NULL};
    fprintf(stderr, "(an error message follows)\n");
    ok = open_case_with(&c, SAMPLER, bad, "toy:8gaussians");
    check(!ok, "cd: sampler.init = prior refused");
    close_case(&c);
}

typedef struct {
    double xp[B * D], x0[B * D], xkl0[B * D], th0[13], eta, alpha, kl;
} kl_ctx_t;

static void x_kl(const double *th, const double *x0, double eta, double *out) {
    for (int i = 0; i < B; i++) {
        double g[D];
        energy_grad_x(th, x0 + i * D, g);
        for (int d = 0; d < D; d++) out[i * D + d] = x0[i * D + d] - eta * g[d];
    }
}

static double kl_loss(const double *th, void *p) {
    kl_ctx_t *c = p;
    double xkl[B * D], mp = 0, mn = 0, sp = 0, sn = 0, k = 0;
    x_kl(th, c->x0, c->eta, xkl);   /* through theta; the energy on it frozen at theta0 */
    for (int i = 0; i < B; i++) {
        double ep = energy(th, c->xp + i * D), en = energy(th, c->xkl0 + i * D);
        mp += ep / B, mn += en / B, sp += ep * ep / B, sn += en * en / B;
        k += energy(c->th0, xkl + i * D) / B;
    }
    return mp - mn + c->alpha * (sp + sn) + c->kl * k;
}

static void test_cd_kl(void) {
    case_t c;
    const char *sets[] = {"run.method=cd", "buffer.capacity=0", "sampler.steps=1", "sampler.step_size=0.7", "sampler.noise=0",
                          "sampler.grad_clip=0", "sampler.clamp=false", "sampler.init_lo=-2", "sampler.init_hi=2", "loss.reg=0.3",
                          "loss.kl=true", "loss.kl_coeff=2", "loss.entropy_coeff=0", NULL};
    kl_ctx_t x = {.eta = 0.7, .alpha = 0.3, .kl = 2};
    int ok = open_case_with(&c, NULL, sets, "toy:8gaussians") && gather(c.r.ps, E_NAMES, 0, x.th0, 13) && step(&c);
    /* the chains' start: the iteration's first draw, U(init_lo, init_hi) */
    float x0[B * D];
    ebm_rng_t rng = ok ? run_iter_rng(&c.r, 0) : ebm_rng_make(0, 0);
    ebm_tensor_t *t = ok ? run_noise(&c.r, B, &rng) : NULL;
    ok = ok && t && ebm_tensor_read(t, x0) == EBM_OK;
    check(ok, "cd with loss.kl: one step; the chains' start drawn again from the iteration's stream");
    if (!ok) {
        close_case(&c);
        return;
    }
    to_double(c.xhost, x.xp, B * D), to_double(x0, x.x0, B * D);
    x_kl(x.th0, x.x0, x.eta, x.xkl0);
    double kl = 0;
    for (int i = 0; i < B; i++) kl += energy(x.th0, x.xkl0 + i * D) / B;
    check_stat("cd kl", &c.s, "e_neg", mean_energy(x.th0, x.xkl0, B));
    check_stat("cd kl", &c.s, "kl", kl);
    check_stat("cd kl", &c.s, "loss", kl_loss(x.th0, &x));
    check_grad("cd kl: dL/dtheta (KL term through x_kl, energy frozen)", c.r.ps, E_NAMES, kl_loss, x.th0, 13, &x);
    close_case(&c);
}

/* ---- MEG ------------------------------------------------------------------------------------- */
static const mlp_t GEN = {Z, H, D, 0, A_RELU};          /* generator.0, generator.2 */
static const mlp_t STATS = {D + Z, H, 1, 0, A_LRELU};   /* stats.0, stats.2 */
static const char *const G_NAMES[] = {"generator.0.weight", "generator.0.bias", "generator.2.weight", "generator.2.bias", NULL};
static const char *const H_NAMES[] = {"stats.0.weight", "stats.0.bias", "stats.2.weight", "stats.2.bias", NULL};

typedef struct {
    double the[13], thg[MAXP], thh[MAXP], z[B * Z], zp[B * Z];   /* G/H step */
    double xp[B * D], xf[B * D], lambda;                         /* E step */
} meg_ctx_t;

static double softplus(double v) { return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)); }

/* L_G = mean E(G(z)) + mean softplus(-H(G(z), z)) + mean softplus(H(G(z), z_perm)); *bce: the BCE */
static double meg_lg(const double *thg, const double *thh, const meg_ctx_t *c, double *bce) {
    double x[B * D], in[B * (D + Z)], t[B], tp[B], e = 0, b = 0;
    mlp_forward(&GEN, thg, c->z, B, x);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < B; i++) {
            memcpy(in + i * (D + Z), x + i * D, sizeof(double) * D);
            memcpy(in + i * (D + Z) + D, (pass ? c->zp : c->z) + i * Z, sizeof(double) * Z);
        }
        mlp_forward(&STATS, thh, in, B, pass ? tp : t);
    }
    for (int i = 0; i < B; i++) e += energy(c->the, x + i * D) / B, b += (softplus(-t[i]) + softplus(tp[i])) / B;
    if (bce) *bce = b;
    return e + b;
}

static double meg_lg_of_g(const double *thg, void *p) { return meg_lg(thg, ((meg_ctx_t *)p)->thh, p, NULL); }
static double meg_lg_of_h(const double *thh, void *p) { return meg_lg(((meg_ctx_t *)p)->thg, thh, p, NULL); }

/* L_E = mean E(x+) - mean E(G'(z2)) + lambda mean |grad_x E(x+)|^2 */
static double meg_le(const double *th, void *p) {
    meg_ctx_t *c = p;
    double gp = 0;
    for (int i = 0; i < B; i++) {
        double g[D];
        energy_grad_x(th, c->xp + i * D, g);
        gp += (g[0] * g[0] + g[1] * g[1]) / B;
    }
    return mean_energy(th, c->xp, B) - mean_energy(th, c->xf, B) + c->lambda * gp;
}

static void test_meg(void) {
    case_t c;
    const char *sets[] = {"run.method=meg", "generator.hidden=3", "generator.z_dim=2", "meg.stat_hidden=3", "meg.energy_steps=1",
                          "meg.gp=0.5", NULL};
    meg_ctx_t x = {.lambda = 0.5};
    int ng = mlp_size(&GEN), nh = mlp_size(&STATS);
    ebm_params_t *pg = NULL, *ph = NULL;
    int ok = open_case_with(&c, NULL, sets, "toy:25gaussians") && c.r.n_groups == 2;
    if (ok) pg = c.r.groups[0].ps, ph = c.r.groups[1].ps;
    ok = ok && gather(c.r.ps, E_NAMES, 0, x.the, 13) && gather(pg, G_NAMES, 0, x.thg, ng) && gather(ph, H_NAMES, 0, x.thh, nh) && step(&c);
    /* the iteration's draws: z and its row shuffle on the host, then the energy step's z2 on the device */
    float z[B * Z], z2[B * Z];
    int perm[B];
    double thg1[MAXP], xf[B * D], z2d[B * Z];
    ebm_rng_t rng = ok ? run_iter_rng(&c.r, 0) : ebm_rng_make(0, 0);
    ebm_rng_host_normal(&rng, z, B * Z);
    ebm_rng_host_permutation(&rng, perm, B);
    ebm_tensor_t *t = ok ? ebm_rand_normal(c.r.ctx, &rng, 2, (int[]){B, Z}, 0, 1) : NULL;
    ok = ok && t && ebm_tensor_read(t, z2) == EBM_OK && gather(pg, G_NAMES, 0, thg1, ng);
    check(ok, "meg: one step (a G/H update, one E update); its latent draws replayed");
    if (!ok) {
        close_case(&c);
        return;
    }
    to_double(z, x.z, B * Z), to_double(c.xhost, x.xp, B * D), to_double(z2, z2d, B * Z);
    for (int i = 0; i < B; i++)
        for (int d = 0; d < Z; d++) x.zp[i * Z + d] = z[perm[i] * Z + d];
    mlp_forward(&GEN, thg1, z2d, B, xf);   /* negatives from the updated generator */
    memcpy(x.xf, xf, sizeof xf);
    double bce, lg = meg_lg(x.thg, x.thh, &x, &bce);
    check_stat("meg", &c.s, "gen_loss", lg);
    check_stat("meg", &c.s, "mi_bce", bce);
    check_stat("meg", &c.s, "e_pos", mean_energy(x.the, x.xp, B));
    check_stat("meg", &c.s, "e_neg", mean_energy(x.the, x.xf, B));
    check_stat("meg", &c.s, "loss", meg_le(x.the, &x));
    check_grad("meg: dL_G/dtheta of the generator", pg, G_NAMES, meg_lg_of_g, x.thg, ng, &x);
    check_grad("meg: dL_G/dtheta of the statistics network", ph, H_NAMES, meg_lg_of_h, x.thh, nh, &x);
    check_grad("meg: dL_E/dtheta of the energy (gradient penalty included)", c.r.ps, E_NAMES, meg_le, x.the, 13, &x);
    close_case(&c);
}

/* ---- Kim & Bengio -------------------------------------------------------------------------- */
static const mlp_t GBN = {Z, H, D, 1, A_RELU};   /* generator.0, generator.1 (batch norm), generator.3 */
static const char *const GBN_NAMES[] = {"generator.0.weight", "generator.0.bias", "generator.1.weight", "generator.1.bias",
                                        "generator.3.weight", "generator.3.bias", NULL};

typedef struct {
    double the[13], z[B * Z], w, xp[B * D], xf[B * D];
} ddgm_ctx_t;

static double ddgm_lg(const double *thg, void *p) {
    ddgm_ctx_t *c = p;
    double x[B * D], ent = 0;
    mlp_forward(&GBN, thg, c->z, B, x);
    for (int u = 0; u < H; u++) {
        double gam = thg[H * Z + H + u];
        ent += 0.5 * log(gam * gam) + 1.4189385332046727 /* log(2 pi e) / 2 */;
    }
    return mean_energy(c->the, x, B) - c->w * ent;
}

static double ddgm_le(const double *th, void *p) {
    ddgm_ctx_t *c = p;
    return mean_energy(th, c->xp, B) - mean_energy(th, c->xf, B);
}

static void test_ddgm(void) {
    case_t c;
    const char *sets[] = {"run.method=ddgm", "generator.hidden=3", "generator.z_dim=2", "generator.batch_norm=true",
                          "generator.prior=uniform", "ddgm.entropy_weight=0.5", NULL};
    ddgm_ctx_t x = {.w = 0.5};
    int ng = mlp_size(&GBN);
    double thg[MAXP], thg1[MAXP];
    ebm_params_t *pg = NULL;
    int ok = open_case_with(&c, NULL, sets, "toy:8gaussians") && c.r.n_groups == 1;
    if (ok) pg = c.r.groups[0].ps;
    ok = ok && gather(c.r.ps, E_NAMES, 0, x.the, 13) && gather(pg, GBN_NAMES, 0, thg, ng) && step(&c);
    float z[B * Z];
    ebm_rng_t rng = ok ? run_iter_rng(&c.r, 0) : ebm_rng_make(0, 0);
    ebm_tensor_t *t = ok ? ebm_rand_uniform(c.r.ctx, &rng, 2, (int[]){B, Z}, -1, 1) : NULL;   /* z ~ U(-1, 1) */
    ok = ok && t && ebm_tensor_read(t, z) == EBM_OK && gather(pg, GBN_NAMES, 0, thg1, ng);
    check(ok, "ddgm: one step (G, then E on the same z); z replayed");
    if (!ok) {
        close_case(&c);
        return;
    }
    to_double(z, x.z, B * Z), to_double(c.xhost, x.xp, B * D);
    mlp_forward(&GBN, thg1, x.z, B, x.xf);
    double ent = 0;
    for (int u = 0; u < H; u++) ent += 0.5 * log(thg[H * Z + H + u] * thg[H * Z + H + u]) + 1.4189385332046727 /* log(2 pi e) / 2 */;
    check_stat("ddgm", &c.s, "bn_entropy", ent);
    check_stat("ddgm", &c.s, "gen_loss", ddgm_lg(thg, &x));
    check_stat("ddgm", &c.s, "loss", ddgm_le(x.the, &x));
    check_grad("ddgm: dL_G/dtheta of the batch-norm generator (entropy of its scales included)", pg, GBN_NAMES, ddgm_lg, thg, ng, &x);
    check_grad("ddgm: dL_E/dtheta of the energy", c.r.ps, E_NAMES, ddgm_le, x.the, 13, &x);
    close_case(&c);
}

/* ---- Dual-MCMC ----------------------------------------------------------------------------- */
static const mlp_t INF = {D, H, 2 * Z, 0, A_LRELU};   /* inference.0, inference.2 */
static const char *const I_NAMES[] = {"inference.0.weight", "inference.0.bias", "inference.2.weight", "inference.2.bias", NULL};

typedef struct {
    double z[B * Z], xp[B * D], xt[B * D], zt[B * Z], xt2[B * D], sf, wneg, T;
} dual_ctx_t;

static double nll(const double *q, const double *z) {
    double s = 0;
    for (int d = 0; d < Z; d++) s += q[Z + d] + (z[d] - q[d]) * (z[d] - q[d]) / (exp(q[Z + d]) + 1e-6);
    return 0.5 * s;
}

static double dual_lg(const double *thg, void *p) {
    dual_ctx_t *c = p;
    double a[B * D], b[B * D], s = 0;
    mlp_forward(&GEN, thg, c->zt, B, a);
    mlp_forward(&GEN, thg, c->z, B, b);
    for (int i = 0; i < B * D; i++) s += (a[i] - c->xp[i]) * (a[i] - c->xp[i]) / B + c->sf * (b[i] - c->xt[i]) * (b[i] - c->xt[i]) / B;
    return s;
}

static double dual_li(const double *thi, void *p) {
    dual_ctx_t *c = p;
    double qp[B * 2 * Z], qt[B * 2 * Z], s = 0;
    mlp_forward(&INF, thi, c->xp, B, qp);
    mlp_forward(&INF, thi, c->xt, B, qt);
    for (int i = 0; i < B; i++) s += nll(qp + i * 2 * Z, c->zt + i * Z) / B + c->wneg * nll(qt + i * 2 * Z, c->z + i * Z) / B;
    return s;
}

static double dual_le(const double *th, void *p) {
    dual_ctx_t *c = p;
    return (mean_energy(th, c->xp, B) - mean_energy(th, c->xt2, B)) / c->T;
}

static void test_dual(void) {
    case_t c;
    const char *sets[] = {"run.method=dual", "generator.hidden=3", "generator.z_dim=2", "dual.inf_hidden=3", "sampler.steps=0",
                          "dual.z_steps=0", "dual.temperature=2", "dual.s_factor=3", "dual.inf_neg_weight=0.4", NULL};
    dual_ctx_t x = {.sf = 3, .wneg = 0.4, .T = 2};
    int ng = mlp_size(&GEN), ni = mlp_size(&INF);
    double the[13], thg[MAXP], thi[MAXP], thg1[MAXP];
    ebm_params_t *pg = NULL, *pi = NULL;
    int ok = open_case_with(&c, NULL, sets, "toy:8gaussians") && c.r.n_groups == 2;
    if (ok) pg = c.r.groups[0].ps, pi = c.r.groups[1].ps;
    ok = ok && gather(c.r.ps, E_NAMES, 0, the, 13) && gather(pg, G_NAMES, 0, thg, ng) && gather(pi, I_NAMES, 0, thi, ni) && step(&c);
    /* the draws: z ~ N(0, I), then eps of the z-chain's start z0 = mu + exp(logvar / 2) eps */
    float z[B * Z], eps[B * Z];
    ebm_rng_t rng = ok ? run_iter_rng(&c.r, 0) : ebm_rng_make(0, 0);
    ebm_tensor_t *tz = ok ? ebm_rand_normal(c.r.ctx, &rng, 2, (int[]){B, Z}, 0, 1) : NULL;
    ebm_tensor_t *te = tz ? ebm_rand_normal(c.r.ctx, &rng, 2, (int[]){B, Z}, 0, 1) : NULL;
    ok = ok && te && ebm_tensor_read(tz, z) == EBM_OK && ebm_tensor_read(te, eps) == EBM_OK && gather(pg, G_NAMES, 0, thg1, ng);
    check(ok, "dual: one step (G, inference network, E) with chains of 0 steps; z and eps replayed");
    if (!ok) {
        close_case(&c);
        return;
    }
    to_double(z, x.z, B * Z), to_double(c.xhost, x.xp, B * D);
    mlp_forward(&GEN, thg, x.z, B, x.xt);   /* x-chain of 0 steps from G(z) */
    double q[B * 2 * Z];
    mlp_forward(&INF, thi, x.xp, B, q);
    for (int i = 0; i < B; i++)
        for (int d = 0; d < Z; d++) x.zt[i * Z + d] = q[i * 2 * Z + d] + exp(0.5 * q[i * 2 * Z + Z + d]) * eps[i * Z + d];
    mlp_forward(&GEN, thg1, x.z, B, x.xt2);   /* the updated generator */
    check_stat("dual", &c.s, "gen_loss", dual_lg(thg, &x));
    check_stat("dual", &c.s, "inf_loss", dual_li(thi, &x));
    check_stat("dual", &c.s, "loss", dual_le(the, &x));
    check_grad("dual: dL_G/dtheta of the generator", pg, G_NAMES, dual_lg, thg, ng, &x);
    check_grad("dual: dL_I/dtheta of the inference network", pi, I_NAMES, dual_li, thi, ni, &x);
    check_grad("dual: dL_E/dtheta of the energy", c.r.ps, E_NAMES, dual_le, the, 13, &x);
    close_case(&c);
}

/* ---- the classifier -------------------------------------------------------------------------- */
enum { K = 3, PIX = 4 };
static const mlp_t CLS = {PIX, H, K, 0, A_SWISH};

typedef struct {
    double x[B * PIX];
    int y[B];
} cls_ctx_t;

static double cls_loss(const double *th, void *p) {
    cls_ctx_t *c = p;
    double lg[B * K], ce = 0;
    mlp_forward(&CLS, th, c->x, B, lg);
    for (int i = 0; i < B; i++) {
        double m = fmax(lg[i * K], fmax(lg[i * K + 1], lg[i * K + 2])), s = 0;
        for (int k = 0; k < K; k++) s += exp(lg[i * K + k] - m);
        ce += (m + log(s) - lg[i * K + c->y[i]]) / B;
    }
    return ce;
}

/* 12 images of 2x2 pixels and labels 0..2 in IDX files under dir; the images' path */
static const char *write_idx(const char *dir, char *path, size_t n) {
    unsigned char img[16 + 12 * PIX], lab[8 + 12];
    memcpy(img, (unsigned char[]){0, 0, 8, 3, 0, 0, 0, 12, 0, 0, 0, 2, 0, 0, 0, 2}, 16);
    memcpy(lab, (unsigned char[]){0, 0, 8, 1, 0, 0, 0, 12}, 8);
    for (int i = 0; i < 12; i++) {
        lab[8 + i] = (unsigned char)(i % K);
        for (int p = 0; p < PIX; p++) img[16 + i * PIX + p] = (unsigned char)((i * 53 + p * 97 + (i % K) * 60) % 256);
    }
    char lpath[600];
    snprintf(path, n, "%s/t-images-idx3-ubyte", dir);
    snprintf(lpath, sizeof lpath, "%s/t-labels-idx1-ubyte", dir);
    FILE *f = fopen(path, "wb"), *g = fopen(lpath, "wb");
    int ok = f && g && fwrite(img, 1, sizeof img, f) == sizeof img && fwrite(lab, 1, sizeof lab, g) == sizeof lab;
    if (f) fclose(f);
    if (g) fclose(g);
    return ok ? path : NULL;
}

static void test_classify(void) {
    case_t c;
    char dir[] = "/tmp/test_methods_XXXXXX", path[600];
    const char *sets[] = {"run.method=classify", "classify.classes=3", NULL};
    static const char *const names[] = {"0.weight", "0.bias", "2.weight", "2.bias", NULL};
    cls_ctx_t x;
    int n = mlp_size(&CLS);
    double th[MAXP];
    const char *src = mkdtemp(dir) ? write_idx(dir, path, sizeof path) : NULL;
    int ok = src && open_case_with(&c, NULL, sets, src) && gather(c.r.ps, names, 0, th, n) && step(&c);
    if (ok) ebm_dataset_batch_labels(&c.ds, c.r.seed, 0, B, x.y);
    check(ok, "classify: one step on 2x2 IDX images with labels");
    if (ok) {
        to_double(c.xhost, x.x, B * PIX);
        double lg[B * K];
        int correct = 0;
        mlp_forward(&CLS, th, x.x, B, lg);
        for (int i = 0; i < B; i++) {
            int best = 0;
            for (int k = 1; k < K; k++)
                if (lg[i * K + k] > lg[i * K + best]) best = k;
            correct += best == x.y[i];
        }
        check_stat("classify", &c.s, "loss", cls_loss(th, &x));
        check_stat("classify", &c.s, "accuracy", (double)correct / B);
        check_grad("classify: d(cross-entropy)/dtheta", c.r.ps, names, cls_loss, th, n, &x);
    }
    if (src) close_case(&c);
    if (src) {
        char lpath[600];
        snprintf(lpath, sizeof lpath, "%s/t-labels-idx1-ubyte", dir);
        unlink(path), unlink(lpath);
    }
    rmdir(dir);
}

int main(void) {
    test_cd();
    test_cd_from_data();
    test_cd_kl();
    test_meg();
    test_ddgm();
    test_dual();
    test_classify();
    return test_summary();
}
