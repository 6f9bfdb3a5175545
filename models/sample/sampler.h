/* sampler.h — MCMC on an energy: Langevin / SGLD (fused update kernel) and MALA.
 *
 *   ebm_langevin_cfg_t lc = {.steps = 60, .step_size = 10, .noise = 0.005f, .grad_clip = 0.01f,
 *                            .clamp_lo = 0, .clamp_hi = 1, .noise_first = 1};   // IGEBM
 *   ebm_tensor_t *x = ebm_langevin(ctx, energy, net, x0, &lc, &rng);            // detached result
 *
 * energy(user, x) returns per-sample energies (B); the samplers differentiate sum(E) in x. Each step
 * runs in its own scope, so memory stays flat over any number of steps. */
#ifndef EBM_SAMPLER_H
#define EBM_SAMPLER_H
#include "ebm.h"

typedef ebm_tensor_t *(*ebm_energy_fn)(void *user, ebm_tensor_t *x);

/* per-chain sum over all but the first axis: (B, ...) -> (B) */
ebm_tensor_t *ebm_chain_sum(ebm_tensor_t *t);

typedef struct ebm_langevin_cfg {
    int steps;
    float step_size;    /* eta: x <- x - eta * grad */
    float noise;        /* sigma: + sigma * N(0, 1) */
    float grad_clip;    /* > 0: clip each gradient component to [-c, c] */
    float clamp_lo, clamp_hi;   /* clamp after each step; equal values (e.g. 0, 0) mean no clamp */
    int noise_first;    /* 1: x <- x + sigma*N, then the gradient step at the noisy point (IGEBM);
                           0: x <- x - eta*grad(x) + sigma*N (docs/WORKLOADS.md) */
} ebm_langevin_cfg_t;

ebm_tensor_t *ebm_langevin(ebm_ctx_t *ctx, ebm_energy_fn energy, void *user, ebm_tensor_t *x0, const ebm_langevin_cfg_t *cfg,
                           ebm_rng_t *rng);

typedef struct ebm_mala_cfg {
    int steps;
    float step_size;    /* proposal x' = x - eta grad E(x) + sqrt(2 eta) N(0, 1) */
} ebm_mala_cfg_t;

/* Metropolis-adjusted Langevin; *accept_rate (if not NULL) gets the mean acceptance over all steps and chains. */
ebm_tensor_t *ebm_mala(ebm_ctx_t *ctx, ebm_energy_fn energy, void *user, ebm_tensor_t *x0, const ebm_mala_cfg_t *cfg,
                       ebm_rng_t *rng, double *accept_rate);

/* MALA in a generator's latent space (MEG's sampler, issue 4): the target is
 * p(z) ∝ exp(-E(G(z)) - |z|^2 / 2), the N(0, I) prior included, with the squared norm in the Langevin
 * proposal density (MEG's public code drops both; docs/METHODS.md section 2).
 * energy_of_z(user, z) returns E(G(z)) per chain (B). */
ebm_tensor_t *ebm_latent_mala(ebm_ctx_t *ctx, ebm_energy_fn energy_of_z, void *user, ebm_tensor_t *z0, const ebm_mala_cfg_t *cfg,
                              ebm_rng_t *rng, double *accept_rate);
#endif
