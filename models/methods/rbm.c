/* rbm.c — restricted Boltzmann machines trained by contrastive divergence (run.method = rbm, [model]
 * net = rbm_free_energy; Hinton 2002, "Training Products of Experts by Minimizing Contrastive Divergence"; persistent
 * CD: Tieleman 2008). The energy network is the RBM's free energy F(v) (models/nn/nets.h), so score,
 * OOD and anomaly evaluations read it as any energy.
 *
 * One iteration: v+ the data batch; negatives v- after [rbm] k block Gibbs steps (h ~ p(h | v), then
 * v ~ p(v | h), Bernoulli draws by ebm_bernoulli from the iteration's Philox stream) from v+ (CD-k) or
 * from the persistent chains (PCD-k: run.batch chains kept in the replay buffer's storage, so they are
 * checkpointed and a resumed run continues them; they start at the first batch), and
 *   loss = mean F(v+) - mean F(v-) [+ sparsity_cost sum_j (mean_batch p(h_j = 1 | v+) - sparsity_target)^2]
 * differentiated by autodiff with v- held fixed. dF/dW = -p(h = 1 | v) v^T, so the gradient is CD's
 * -(<v p(h|v)>_data - <v p(h|v)>_negatives), with hidden probabilities rather than hidden samples on
 * both sides (the lower-variance form of Hinton's practical guide); the bias gradients likewise.
 * Weight decay and momentum are the optimizer's ([optim] weight_decay, kind = sgd, momentum).
 *
 * `ebm eval`: the mean log-likelihood of the test images, -F(v) - log Z in nats, with log Z exact
 * (double precision, summing over the smaller layer) or by annealed importance sampling. */
#include "rbm.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data.h"
#include "train.h"

/* [rbm] */
static const ebm_config_key_t rbm_keys[] = {
    {"rbm", "k", EBM_CFG_INT, "1", "block Gibbs steps per iteration (CD-k / PCD-k)", 1, 1e6},
    {"rbm", "persistent", EBM_CFG_BOOL, "false", "persistent CD: run.batch chains carried across iterations (in the checkpoint)", 0, 0},
    {"rbm", "sparsity_target", EBM_CFG_FLOAT, "0.1", "rho: target mean of p(h_j = 1 | v+) (with sparsity_cost > 0)", 0, 1},
    {"rbm", "sparsity_cost", EBM_CFG_FLOAT, "0", "+ cost * sum_j (mean p(h_j = 1 | v+) - rho)^2 (0: off)", 0, 1e6},
    {"rbm", "log_z", EBM_CFG_STRING, "auto", "ebm eval: auto (exact when the smaller layer has <= exact_max units, else AIS) | exact | ais", 0, 0},
    {"rbm", "exact_max", EBM_CFG_INT, "20", "ebm eval: largest layer summed over for the exact log Z (2^units states)", 1, 30},
    {"rbm", "ais_betas", EBM_CFG_INT, "10000", "ebm eval: AIS intermediate distributions", 1, 1e8},
    {"rbm", "ais_runs", EBM_CFG_INT, "100", "ebm eval: AIS independent runs", 2, 1e6},
    {"rbm", "eval_limit", EBM_CFG_INT, "0", "ebm eval: test examples whose log-likelihood is averaged (0: all)", 0, 1e9},
    {NULL, NULL, 0, NULL, NULL, 0, 0}};

typedef struct rbm {
    int k, persistent;
    float sparsity_target, sparsity_cost;
} rbm_t;

int rbm_view(run_t *r, rbm_view_t *m) {
    memset(m, 0, sizeof *m);
    if (strcmp(ebm_config_str(r->cfg, "model", "net"), "rbm_free_energy")) {
        ERR("run.method = rbm needs [model] net = rbm_free_energy (\"%s\")\n", ebm_config_str(r->cfg, "model", "net"));
        return 0;
    }
    m->w = ebm_params_find(r->ps, "weight");
    m->bv = ebm_params_find(r->ps, "visible_bias");
    m->bh = ebm_params_find(r->ps, "hidden_bias");
    if (!m->w || !m->bv || !m->bh) {
        ERR("the RBM's parameters are missing\n");
        return 0;
    }
    m->H = ebm_tensor_dim(m->w, 0), m->D = ebm_tensor_dim(m->w, 1);
    int was = ebm_grad_set_enabled(r->ctx, 0);
    m->sigma = ebm_net_rbm_sigma(r->net);
    ebm_grad_set_enabled(r->ctx, was);
    if (!strcmp(ebm_config_str(r->cfg, "model", "rbm_visible"), "gaussian") && !m->sigma) {
        ERR("the RBM's sigma: %s\n", ebm_ctx_error(r->ctx));
        return 0;
    }
    return 1;
}

/* beta (c + W (v / sigma)): the hidden units' input at inverse temperature beta (B, H) */
static ebm_tensor_t *hidden_input(const rbm_view_t *m, ebm_tensor_t *v) {
    return ebm_linear(m->sigma ? ebm_div(v, m->sigma) : v, m->w, m->bh);
}

ebm_tensor_t *rbm_hidden_probs(const rbm_view_t *m, ebm_tensor_t *v) { return ebm_sigmoid(hidden_input(m, v)); }

/* E[v | h] at inverse temperature beta (the interaction scaled by beta; AIS): Bernoulli sigmoid(b +
 * beta W^T h), Gaussian b + beta sigma W^T h */
static ebm_tensor_t *visible_mean_at(const rbm_view_t *m, ebm_tensor_t *h, float beta) {
    ebm_tensor_t *a = ebm_matmul(h, m->w, 0, 0);   /* (B, D) */
    if (beta != 1.0f) a = ebm_scale(a, beta);
    return m->sigma ? ebm_add(ebm_mul(a, m->sigma), m->bv) : ebm_sigmoid(ebm_add(a, m->bv));
}

ebm_tensor_t *rbm_visible_mean(const rbm_view_t *m, ebm_tensor_t *h) { return visible_mean_at(m, h, 1.0f); }

/* v ~ p(v | h) at beta */
static ebm_tensor_t *sample_visible(const rbm_view_t *m, ebm_tensor_t *h, float beta, ebm_rng_t *rng) {
    ebm_tensor_t *mean = visible_mean_at(m, h, beta);
    if (!m->sigma) return ebm_bernoulli(mean, rng);
    int shape[2] = {ebm_tensor_dim(mean, 0), m->D};
    return ebm_add(mean, ebm_mul(ebm_rand_normal(ebm_tensor_ctx(mean), rng, 2, shape, 0.0f, 1.0f), m->sigma));
}

ebm_tensor_t *rbm_gibbs(const rbm_view_t *m, ebm_tensor_t *v, int k, ebm_rng_t *rng) {
    if (!v) return NULL;
    ebm_ctx_t *ctx = ebm_tensor_ctx(v);
    int was = ebm_grad_set_enabled(ctx, 0);
    for (int s = 0; s < k && v; s++) v = sample_visible(m, ebm_bernoulli(rbm_hidden_probs(m, v), rng), 1.0f, rng);
    ebm_grad_set_enabled(ctx, was);
    return v;
}

/* ---- log Z --------------------------------------------------------------------------------------- */
#define LOG_SQRT_2PI 0.91893853320467274178   /* log sqrt(2 pi) */
static double softplus_d(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* log sum over s in {0,1}^K of exp(bs.s + sum_n g(bn_n + (A^T s)_n)), A (K x N) row-major, with g =
 * softplus (a Bernoulli layer summed out) or, gauss, the Gaussian integral's exponent b a / sigma +
 * a^2 / 2 (bn = b / sigma then); states visited in Gray-code order, A^T s updated by one row per state */
static double sum_layer(const double *A, const double *bs, const double *bn, int K, int N, int gauss) {
    double *a = calloc((size_t)N, sizeof(double)), mx = -INFINITY, acc = 0;
    if (!a) return NAN;
    unsigned long n_states = 1ul << K, s = 0;
    double lin = 0;
    for (unsigned long t = 0; t < n_states; t++) {
        if (t > 0) {   /* Gray code: flip the lowest set bit of t */
            int j = __builtin_ctzl(t);
            double sign = (s >> j & 1) ? -1 : 1;
            s ^= 1ul << j;
            lin += sign * bs[j];
            for (int n = 0; n < N; n++) a[n] += sign * A[(size_t)j * N + n];
        }
        double val = lin;
        for (int n = 0; n < N; n++) val += gauss ? bn[n] * a[n] + 0.5 * a[n] * a[n] : softplus_d(bn[n] + a[n]);
        if (val > mx) acc = acc * exp(mx - val) + 1, mx = val;
        else acc += exp(val - mx);
    }
    free(a);
    return mx + log(acc);
}

double rbm_log_z_host(const double *w, const double *bv, const double *bh, const double *sigma, int D, int H) {
    if (sigma) {   /* sum over h; int exp(-(v-b)^2/(2 s^2) + v a / s) dv = sqrt(2 pi) s exp(b a / s + a^2 / 2) */
        double *bn = malloc(sizeof(double) * D), c = 0;
        if (!bn) return NAN;
        for (int i = 0; i < D; i++) bn[i] = bv[i] / sigma[i], c += LOG_SQRT_2PI + log(sigma[i]);
        double z = sum_layer(w, bh, bn, H, D, 1) + c;
        free(bn);
        return z;
    }
    if (H <= D) return sum_layer(w, bh, bv, H, D, 0);
    double *wt = malloc(sizeof(double) * D * H);   /* over v: A = W^T (D x H) */
    if (!wt) return NAN;
    for (int j = 0; j < H; j++)
        for (int i = 0; i < D; i++) wt[(size_t)i * H + j] = w[(size_t)j * D + i];
    double z = sum_layer(wt, bv, bh, D, H, 0);
    free(wt);
    return z;
}

/* a device tensor into a new double array (NULL after printing why) */
static double *read_double(ebm_tensor_t *t) {
    size_t n = ebm_tensor_numel(t);
    float *f = malloc(sizeof(float) * n);
    double *d = malloc(sizeof(double) * n);
    if (!f || !d || ebm_tensor_read(t, f) != EBM_OK) {
        ERR("reading the RBM's parameters: %s\n", f && d ? ebm_ctx_error(ebm_tensor_ctx(t)) : "out of host memory");
        free(f), free(d);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) d[i] = f[i];
    free(f);
    return d;
}

int rbm_log_z_exact(const rbm_view_t *m, int max_units, double *logz) {
    int units = m->sigma ? m->H : (m->H < m->D ? m->H : m->D);
    if (units > max_units) {
        ERR("exact log Z sums over 2^%d states (%s layer); at most %d units ([rbm] exact_max): use log_z = ais\n", units,
            m->sigma || m->H <= m->D ? "hidden" : "visible", max_units);
        return 0;
    }
    double *w = read_double(m->w), *bv = w ? read_double(m->bv) : NULL, *bh = bv ? read_double(m->bh) : NULL;
    double *sg = bh && m->sigma ? read_double(m->sigma) : NULL;
    int ok = bh && (!m->sigma || sg);
    if (ok) *logz = rbm_log_z_host(w, bv, bh, sg, m->D, m->H);
    free(w), free(bv), free(bh), free(sg);
    return ok && isfinite(*logz);
}

/* Salakhutdinov & Murray's schedule, scaled to K steps: 3.4% of the steps uniform on [0, 0.5], 27.6% on
 * [0.5, 0.9], the rest on [0.9, 1] (their 500, 4000 and 10 000 of 14 500) */
double rbm_ais_beta(int k, int K) {
    int k1 = (int)(0.034 * K + 0.5), k2 = (int)(0.31 * K + 0.5);
    if (k1 < 1) k1 = 1;
    if (k2 <= k1) k2 = k1 + 1;
    if (k >= K) return 1.0;
    if (k2 >= K) return (double)k / K;   /* too few steps to split */
    if (k <= k1) return 0.5 * k / k1;
    if (k <= k2) return 0.5 + 0.4 * (k - k1) / (k2 - k1);
    return 0.9 + 0.1 * (double)(k - k2) / (K - k2);
}

/* AIS from the base p_0(v) ∝ exp(b.v) (Gaussian: exp(-|v - b|^2 / (2 sigma^2))) with no interaction to
 * the RBM, through p_k(v) ∝ p_0(v) prod_j (1 + exp(beta_k (c_j + W_j.(v / sigma)))):
 *   Z_0 = 2^H prod_i (1 + e^(b_i))  (Gaussian: 2^H prod_i sqrt(2 pi) sigma_i),
 *   log w = sum_k [log p*_k(v_(k-1)) - log p*_(k-1)(v_(k-1))], v_k from the Gibbs transition T_k of p_k,
 *   log Z = log Z_0 + log mean w;  stderr(log Z) = sd(w) / (sqrt(runs) mean(w)) (the delta method).
 * The per-step increments sum_j softplus(beta_k a_j) - softplus(beta_(k-1) a_j) are accumulated on the
 * device in float32 over chunks of 64 steps (each chunk's sum is a few nats at most, rounding ~1e-6 of it) and in
 * double on the host across chunks. */
int rbm_ais(const rbm_view_t *m, int K, int M, ebm_rng_t *rng, double *logz, double *stderr_logz) {
    ebm_ctx_t *ctx = ebm_tensor_ctx(m->w);
    double *lw = calloc((size_t)M, sizeof(double)), *bv = read_double(m->bv), *sg = m->sigma ? read_double(m->sigma) : NULL;
    float *chunk = malloc(sizeof(float) * M);
    int ok = lw && bv && chunk && (!m->sigma || sg), was = ebm_grad_set_enabled(ctx, 0);
    ebm_tensor_t *v = NULL, *acc = NULL;
    ebm_scope_begin(ctx);   /* v and acc live in it across the steps' scopes */
    if (ok) {               /* v ~ p_0 */
        v = ebm_tensor_clone(sample_visible(m, ebm_tensor_zeros(ctx, 2, (int[]){M, m->H}), 0.0f, rng));
        acc = ebm_tensor_zeros(ctx, 1, &M);
        ok = v && acc;
    }
    for (int k = 1; ok && k <= K; k++) {
        float b0 = (float)rbm_ais_beta(k - 1, K), b1 = (float)rbm_ais_beta(k, K);
        ebm_scope_begin(ctx);
        ebm_tensor_t *a = hidden_input(m, v);
        ebm_tensor_t *inc = ebm_sum(ebm_sub(ebm_softplus(ebm_scale(a, b1)), ebm_softplus(ebm_scale(a, b0))), 0x2u, 0);
        ebm_tensor_t *sum = ebm_add(acc, inc);
        ok = sum && ebm_tensor_copy_into(acc, sum) == EBM_OK;
        if (ok && k < K) {   /* v ~ T_k(v): h ~ sigmoid(beta_k a), v ~ p_k(v | h) */
            ebm_tensor_t *vn = sample_visible(m, ebm_bernoulli(ebm_sigmoid(ebm_scale(a, b1)), rng), b1, rng);
            ok = vn && ebm_tensor_copy_into(v, vn) == EBM_OK;
        }
        if (ok && (k % 64 == 0 || k == K)) {
            ok = ebm_tensor_read(acc, chunk) == EBM_OK && ebm_tensor_fill(acc, 0.0f) == EBM_OK;
            for (int i = 0; ok && i < M; i++) lw[i] += chunk[i];
        }
        ebm_scope_end(ctx);
    }
    ebm_scope_end(ctx);
    ebm_grad_set_enabled(ctx, was);
    if (ok) {
        double logz0 = m->H * log(2.0), mx = -INFINITY, s = 0, s2 = 0;
        for (int i = 0; i < m->D; i++) logz0 += sg ? LOG_SQRT_2PI + log(sg[i]) : softplus_d(bv[i]);
        for (int i = 0; i < M; i++) mx = lw[i] > mx ? lw[i] : mx;
        for (int i = 0; i < M; i++) s += exp(lw[i] - mx);
        double mean = s / M;
        for (int i = 0; i < M; i++) s2 += (exp(lw[i] - mx) - mean) * (exp(lw[i] - mx) - mean);
        *logz = logz0 + mx + log(mean);
        *stderr_logz = sqrt(s2 / (M - 1)) / (sqrt((double)M) * mean);
        ok = isfinite(*logz);
    }
    if (!ok) ERR("AIS: %s\n", ebm_ctx_status(ctx) != EBM_OK ? ebm_ctx_error(ctx) : "out of host memory or a non-finite weight");
    free(lw), free(bv), free(sg), free(chunk);
    return ok;
}

/* ---- the method ------------------------------------------------------------------------------------ */
static int rbm_build(run_t *r) {
    const ebm_config_t *c = r->cfg;
    rbm_view_t m;
    ebm_scope_begin(r->ctx);
    int ok = rbm_view(r, &m);
    ebm_scope_end(r->ctx);
    if (!ok) return 0;
    rbm_t *s = calloc(1, sizeof *s);
    if (!(r->state = s)) {
        ERR("out of host memory\n");
        return 0;
    }
    s->k = (int)ebm_config_int(c, "rbm", "k");
    s->persistent = ebm_config_bool(c, "rbm", "persistent");
    s->sparsity_target = (float)ebm_config_float(c, "rbm", "sparsity_target");
    s->sparsity_cost = (float)ebm_config_float(c, "rbm", "sparsity_cost");
    if (s->persistent) {   /* the chains: a buffer of run.batch rows used whole, never drawn from at random */
        r->rb = ebm_replay_new(r->ctx, r->ndim, r->shape, &(ebm_replay_cfg_t){.capacity = r->batch, .init_lo = 0, .init_hi = 1});
        if (!r->rb) {
            ERR("the persistent chains: %s\n", ebm_ctx_error(r->ctx));
            return 0;
        }
    }
    return 1;
}

static void rbm_free(run_t *r) {
    free(r->state);
    r->state = NULL;
}

/* the persistent chains (B, D) as a new tensor, or NULL while there are none */
static ebm_tensor_t *chains(run_t *r) {
    if (!r->rb || ebm_replay_size(r->rb) < ebm_replay_capacity(r->rb)) return NULL;
    return ebm_reshape(ebm_tensor_clone(ebm_replay_storage(r->rb)), 2, (int[]){ebm_replay_capacity(r->rb), -1});
}

static int rbm_step(run_t *r, ebm_dataset_t *ds, float *xhost, stats_t *st) {
    const rbm_t *s = r->state;
    int B = r->batch, D = (int)r->numel;
    ebm_rng_t rng = run_iter_rng(r, r->iter);
    ebm_ctx_t *ctx = r->ctx;
    rbm_view_t m;
    ebm_dataset_batch(ds, r->seed, r->iter, B, xhost);
    ebm_scope_begin(ctx);
    int ok = rbm_view(r, &m);
    ebm_tensor_t *vpos = ebm_tensor_from_host(ctx, 2, (int[]){B, D}, xhost), *start = s->persistent ? chains(r) : NULL;
    ebm_tensor_t *vneg = ok ? rbm_gibbs(&m, start ? start : vpos, s->k, &rng) : NULL;
    ebm_tensor_t *ph = rbm_hidden_probs(&m, vpos);   /* with its graph: the sparsity term */
    ebm_tensor_t *fpos = ebm_mean_all(run_energy(r, vpos)), *fneg = ebm_mean_all(run_energy(r, vneg));
    ebm_tensor_t *loss = ebm_sub(fpos, fneg), *recon;
    if (s->sparsity_cost > 0)
        loss = ebm_add(loss, ebm_scale(ebm_sum_all(ebm_square(ebm_add_scalar(ebm_mean(ph, 0x1u, 0), -s->sparsity_target))), s->sparsity_cost));
    {   /* reconstruction error mean |v+ - E[v | h ~ p(h | v+)]|^2 per example, for the progress line */
        int was = ebm_grad_set_enabled(ctx, 0);
        ebm_rng_t rr = ebm_rng_make(r->seed, 0x5245434full + ((uint64_t)r->iter << 24));   /* "RECO": not a training stream */
        recon = ebm_scale(ebm_sum_all(ebm_square(ebm_sub(vpos, rbm_visible_mean(&m, ebm_bernoulli(ebm_detach(ph), &rr))))), 1.0f / B);
        ebm_grad_set_enabled(ctx, was);
    }
    float hv[4] = {NAN, NAN, NAN, NAN};
    ok = ok && loss && recon && ebm_tensor_read(fpos, &hv[0]) == EBM_OK && ebm_tensor_read(fneg, &hv[1]) == EBM_OK &&
         ebm_tensor_read(loss, &hv[2]) == EBM_OK && ebm_tensor_read(recon, &hv[3]) == EBM_OK;
    stats_add(st, "e_pos", "F+", hv[0]), stats_add(st, "e_neg", "F-", hv[1]), stats_add(st, "loss", "loss", hv[2]);
    stats_add_g(st, "recon", "recon", hv[3]);
    if (!ok) {
        ebm_scope_end(ctx);
        ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(ctx));
        return -1;
    }
    if (!isfinite(hv[0]) || !isfinite(hv[1]) || !isfinite(hv[2])) {
        ebm_scope_end(ctx);
        return 0;
    }
    ok = ebm_params_zero_grad(r->ps) == EBM_OK && ebm_params_backward(r->ps, loss) == EBM_OK && ebm_optim_step(r->opt) == EBM_OK &&
         (!r->ema || ebm_ema_update(r->ema) == EBM_OK);
    if (ok && s->persistent) {   /* the chains go back whole; the buffer counts them as full */
        long size, pos, seen;
        ebm_replay_state(r->rb, &size, &pos, &seen);
        ok = ebm_tensor_copy_into(ebm_replay_storage(r->rb), vneg) == EBM_OK;
        ebm_replay_set_state(r->rb, B, 0, seen + B);
    }
    ebm_scope_end(ctx);
    if (!ok) {
        ERR("iteration %ld: %s\n", r->iter, ebm_ctx_error(ctx));
        return -1;
    }
    return 1;
}

/* [model] hidden filters W_j as a grid of image tiles (each scaled to its own min..max), at most 100 */
static int write_filters(run_t *r, const char *path) {
    if (r->ndim != 3 || r->shape[0] != 1) return 1;   /* grey images only */
    rbm_view_t m;
    if (!rbm_view(r, &m)) return 0;
    int n = m.H < 100 ? m.H : 100;
    float *w = malloc(sizeof(float) * m.H * m.D);
    int ok = w && ebm_tensor_read(m.w, w) == EBM_OK;
    for (int j = 0; ok && j < n; j++) {
        float lo = INFINITY, hi = -INFINITY, *f = w + (size_t)j * m.D;
        for (int i = 0; i < m.D; i++) lo = f[i] < lo ? f[i] : lo, hi = f[i] > hi ? f[i] : hi;
        for (int i = 0; i < m.D; i++) f[i] = hi > lo ? (f[i] - lo) / (hi - lo) : 0.5f;
    }
    char err[1024];
    if (ok && ebm_png_grid(path, w, n, 1, r->shape[1], r->shape[2], (int)ceil(sqrt(n)), err, sizeof err) != EBM_OK) {
        ERR("%s\n", err);
        ok = 0;
    }
    free(w);
    return ok;
}

/* `ebm sample`: [eval] steps Gibbs steps from v ~ Bernoulli(1/2) (Gaussian: N(b, sigma^2)) or, with
 * init = buffer, from the persistent chains; the training pictures (o NULL): from the persistent chains
 * when there are, else from noise, and the filters picture beside them. The last visible sample is
 * returned (binary for Bernoulli units), not its mean. */
static ebm_tensor_t *rbm_draw(run_t *r, const ebm_sample_opts_t *o, int n, ebm_rng_t *rng, double *accept) {
    (void)accept;
    rbm_view_t m;
    if (!rbm_view(r, &m)) return NULL;
    const char *init = o && o->init ? o->init : o ? ebm_config_str(r->cfg, "eval", "init") : "buffer";
    int steps = o && o->steps >= 0 ? o->steps : (int)ebm_config_int(r->cfg, "eval", "steps");
    ebm_tensor_t *v = NULL;
    if (!strcmp(init, "buffer") && r->rb && ebm_replay_size(r->rb) > 0) {
        ebm_tensor_t *c = chains(r);
        int have = c ? ebm_tensor_dim(c, 0) : 0;
        if (!o && n > have) n = have;   /* the pictures: as many as there are */
        v = c && n <= have ? ebm_slice(c, 0, 0, n) : NULL;
        if (!v) ERR("init = buffer: %d persistent chains, asked for %d\n", have, n);
    } else if (o && !strcmp(init, "buffer")) {
        ERR("init = buffer, but the checkpoint has no persistent chains ([rbm] persistent)\n");
    } else if (!strcmp(init, "noise") || !o) {
        int was = ebm_grad_set_enabled(r->ctx, 0);
        v = m.sigma ? sample_visible(&m, ebm_tensor_zeros(r->ctx, 2, (int[]){n, m.H}), 1.0f, rng)   /* N(b, sigma^2) */
                    : ebm_bernoulli(ebm_tensor_full(r->ctx, 2, (int[]){n, m.D}, 0.5f), rng);
        ebm_grad_set_enabled(r->ctx, was);
    } else
        ERR("init = \"%s\": expected noise or buffer\n", init);
    v = rbm_gibbs(&m, v, steps, rng);
    if (!o && v) {
        char path[1200];
        snprintf(path, sizeof path, "%s/samples/filters_%06ld.png", r->dir, r->iter);
        if (!write_filters(r, path)) return NULL;
    }
    int shape[4] = {n, r->shape[0], r->shape[1], r->shape[2]};
    return v ? ebm_reshape(v, r->ndim + 1, shape) : NULL;
}

/* `ebm eval`: log Z (exact or AIS) and the mean log-likelihood -F(v) - log Z of the test images (for
 * toy:barsN, of its rows, against the best possible); with --classifier, --ood or an anomaly split, the
 * energy evaluations (-1) */
static int rbm_eval(run_t *r, const ebm_sample_opts_t *o, const char *checkpoint) {
    const ebm_config_t *c = r->cfg;
    if (o->classifier || o->ood || o->ood_folder || ebm_config_int(c, "data", "anomaly_class") >= 0) return -1;
    rbm_view_t m;
    if (!rbm_view(r, &m)) return 1;
    const char *how = ebm_config_str(c, "rbm", "log_z");
    int exact_max = (int)ebm_config_int(c, "rbm", "exact_max"), units = m.sigma ? m.H : (m.H < m.D ? m.H : m.D);
    if (strcmp(how, "auto") && strcmp(how, "exact") && strcmp(how, "ais")) {
        ERR("[rbm] log_z = \"%s\": expected auto, exact or ais\n", how);
        return 1;
    }
    int exact = !strcmp(how, "exact") || (!strcmp(how, "auto") && units <= exact_max);
    int betas = (int)ebm_config_int(c, "rbm", "ais_betas"), runs = (int)ebm_config_int(c, "rbm", "ais_runs");
    double logz = NAN, se = 0;
    ebm_rng_t rng = ebm_rng_make(o->seed ? o->seed : r->seed, 0x414953ull);   /* "AIS" */
    if (exact ? !rbm_log_z_exact(&m, !strcmp(how, "exact") ? 30 : exact_max, &logz)
              : !rbm_ais(&m, betas, runs, &rng, &logz, &se))
        return 1;
    const char *test = run_test_source(r), *src = ebm_config_str(c, "data", "source");
    ebm_data_opts_t dopts = {.size = r->ndim == 3 ? r->shape[1] : 0, .channels = r->ndim == 3 ? r->shape[0] : 0,
                             .limit = (int)ebm_config_int(c, "rbm", "eval_limit"), .seed = r->seed};
    ebm_data_binarize_of(ebm_config_str(c, "data", "binarize"), &dopts.binarize);
    ebm_dataset_t ds;
    char err[1024];
    if (ebm_dataset_open(&ds, test, &dopts, err, sizeof err) != EBM_OK) {
        ERR("%s\n", err);
        return 1;
    }
    double sum_f = 0;
    int ok = 1;
    for (int i0 = 0; ok && i0 < ds.n; i0 += 256) {
        int n = ds.n - i0 < 256 ? ds.n - i0 : 256;
        float f[256];
        ebm_scope_begin(r->ctx);
        int was = ebm_grad_set_enabled(r->ctx, 0);
        ebm_tensor_t *e = run_energy(r, ebm_tensor_from_host(r->ctx, 2, (int[]){n, m.D}, ds.x + (size_t)i0 * m.D));
        ok = e && ebm_tensor_read(e, f) == EBM_OK;
        for (int i = 0; ok && i < n; i++) sum_f += f[i];
        ebm_grad_set_enabled(r->ctx, was);
        ebm_scope_end(r->ctx);
    }
    double ll = -sum_f / ds.n - logz;
    int bars = !strncmp(src, "toy:bars", 8);
    if (ok) {
        cJSON *row = run_eval_row(r, checkpoint);
        cJSON_AddStringToObject(row, "data", test);
        cJSON_AddNumberToObject(row, "examples", ds.n);
        cJSON_AddStringToObject(row, "log_z_method", exact ? "exact" : "ais");
        cJSON_AddNumberToObject(row, "log_z", logz);   /* double precision: log Z is large, the log-likelihood its difference */
        if (!exact) {
            cJSON_AddNumberToObject(row, "log_z_stderr", se);
            cJSON_AddNumberToObject(row, "ais_betas", betas);
            cJSON_AddNumberToObject(row, "ais_runs", runs);
        }
        cJSON_AddNumberToObject(row, "loglik", ll);
        fprintf(stderr, "ebm eval: %s: log Z = %.4f", checkpoint, logz);
        if (!exact) fprintf(stderr, " +- %.4f (AIS, %d betas, %d runs)", se, betas, runs);
        else fprintf(stderr, " (exact)");
        fprintf(stderr, ", mean log-likelihood %.4f nats over %d examples of %s", ll, ds.n, test);
        if (bars) {
            double best = ebm_bars_best_loglik(r->shape[1]);
            cJSON_AddNumberToObject(row, "best_loglik", best);
            fprintf(stderr, " (the best possible: %.4f)", best);
        }
        fprintf(stderr, "\n");
        ok = rundir_metrics_append(r->dir, row, stdout);
    }
    ebm_dataset_free(&ds);
    char path[1200];
    snprintf(path, sizeof path, "%s/filters.png", r->dir);
    if (ok) {
        ebm_scope_begin(r->ctx);
        ok = write_filters(r, path);
        ebm_scope_end(r->ctx);
    }
    if (!ok) ERR("evaluating: %s\n", ebm_ctx_error(r->ctx));
    return ok ? 0 : 1;
}

const ebm_method_t ebm_method_rbm = {
    .name = "rbm",
    .title = "restricted Boltzmann machine, CD-k / PCD",
    .keys = (const ebm_config_key_t *const[]){rbm_keys, NULL},
    .summary = "a restricted Boltzmann machine ([model] net = rbm_free_energy) trained by CD-k or persistent CD with block Gibbs sampling; "
               "ebm eval: log-likelihood with exact log Z or AIS",
    .build = rbm_build,
    .free = rbm_free,
    .step = rbm_step,
    .draw = rbm_draw,
    .eval = rbm_eval,
};
