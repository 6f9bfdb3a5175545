/* rbm.h — restricted Boltzmann machines ([model] net = rbm_free_energy, run.method = rbm): block Gibbs sampling,
 * exact log Z by summing over the smaller layer, annealed importance sampling (rbm.c). The energy
 * function and its conventions are ebm_net_rbm's (models/nn/nets.h).
 *
 *   rbm_view_t m;
 *   rbm_view(r, &m);                                   // the run's W, b, c (and sigma) on the device
 *   ebm_tensor_t *v = rbm_gibbs(&m, v0, 10, &rng);     // 10 steps v -> h -> v from v0 (B, D)
 *   double logz, se;
 *   rbm_log_z_exact(&m, &logz);                        // the smaller layer <= ~20 units, double precision
 *   rbm_ais(&m, 10000, 100, &rng, &logz, &se);         // any size: log Z and its standard error
 */
#ifndef EBM_RBM_H
#define EBM_RBM_H
#include "run.h"

typedef struct rbm_view {
    ebm_tensor_t *w;       /* (H, D) */
    ebm_tensor_t *bv;      /* visible biases b (D) */
    ebm_tensor_t *bh;      /* hidden biases c (H) */
    ebm_tensor_t *sigma;   /* Gaussian visible units: sigma (D), no graph; NULL: Bernoulli */
    int D, H;
} rbm_view_t;

/* the run's RBM (r->net is [model] net = rbm_free_energy); 0 after printing why */
int rbm_view(run_t *r, rbm_view_t *m);
/* k block Gibbs steps from v (B, D): h ~ p(h | v), v ~ p(v | h), every draw from rng; no graph */
ebm_tensor_t *rbm_gibbs(const rbm_view_t *m, ebm_tensor_t *v, int k, ebm_rng_t *rng);
/* p(h = 1 | v) (B, H), and E[v | h] (B, D) */
ebm_tensor_t *rbm_hidden_probs(const rbm_view_t *m, ebm_tensor_t *v);
ebm_tensor_t *rbm_visible_mean(const rbm_view_t *m, ebm_tensor_t *h);
/* log Z in double precision by summing over every state of the smaller layer (Bernoulli visible
 * units; Gaussian ones: over the hidden layer, integrating v out): at most max_units units there, else
 * 0 after printing why */
int rbm_log_z_exact(const rbm_view_t *m, int max_units, double *logz);
/* the same on host arrays: w (H x D), bv (D), bh (H), sigma (D, NULL: Bernoulli visible units) */
double rbm_log_z_host(const double *w, const double *bv, const double *bh, const double *sigma, int D, int H);
/* Annealed importance sampling (Salakhutdinov & Murray 2008) with `betas` intermediate distributions
 * and `runs` independent runs: log Z and the standard error of that estimate; 0 after printing why */
int rbm_ais(const rbm_view_t *m, int betas, int runs, ebm_rng_t *rng, double *logz, double *stderr_logz);
/* inverse temperature k of AIS's schedule of K steps (rbm.c) */
double rbm_ais_beta(int k, int K);
#endif
