/* generator.h — what the generator-based methods (meg, ddgm, dual) share: the generator G (z -> x)
 * from [generator], its prior, drawing G(z) with optional latent MALA and Langevin in x, and the
 * energy's update between them.
 *
 * Each such method's state (run->state) begins with a gen_t, so that these functions, the training
 * pictures and `ebm sample` find the generator of any of them. */
#ifndef EBM_GENERATOR_H
#define EBM_GENERATOR_H
#include "run.h"

/* [generator]: the section every generator-based method reads */
extern const ebm_config_key_t gen_keys[];

typedef struct gen {
    ebm_net_t *net;       /* G; its parameters are the run's group "generator." */
    run_group_t *group;
    int z_dim, uniform;   /* prior U(-1, 1) (Kim & Bengio) instead of N(0, I) */
    int mala_steps, langevin_steps;   /* how `ebm sample` draws: latent MALA, then Langevin in x */
    float mala_step_size;
} gen_t;

/* G from [generator] into the run's first group ("generator.*", optimizer "optim_generator"); its
 * parameters finalized, not yet initialised (gen_init); 0 after printing why */
int gen_build(run_t *r, gen_t *g);
/* the generator's and then each extra network's initialisation from the generators' own stream */
void gen_init(run_t *r, ebm_net_t *const *nets, int n);
/* base learning rate of G: [generator] lr, or [optim] lr when 0 */
float gen_lr(const run_t *r);

ebm_tensor_t *gen_z(run_t *r, int n, ebm_rng_t *rng);           /* (n, z_dim) from the generator's prior */
ebm_tensor_t *gen_x(run_t *r, ebm_tensor_t *z);                 /* G(z), (n, sample shape) */
ebm_tensor_t *gen_sample_from(run_t *r, ebm_tensor_t *z);       /* G(z) without a graph */
ebm_tensor_t *gen_sample(run_t *r, int n, ebm_rng_t *rng);      /* G(z) of fresh z without a graph */
/* the methods' draw: z from the prior, latent MALA on E(G(z)) + |z|^2/2 (N(0, I) only), x = G(z), then
 * Langevin in x with [sampler]; the training pictures (o NULL): G(z) alone */
ebm_tensor_t *gen_draw(run_t *r, const struct ebm_sample_opts *o, int n, ebm_rng_t *rng, double *accept);

/* a data batch on the device (images dequantised: x 255/256 + U(0, 1/256) from rng) */
ebm_tensor_t *gen_data_batch(run_t *r, struct ebm_dataset *ds, long index, int B, float *host, ebm_rng_t *rng);
/* n one-element tensors into v; 0 on error */
int gen_read_scalars(ebm_tensor_t *const *t, float *v, int n);
int gen_finite(const float *v, int n);
/* zero_grad, backward of loss, optimizer step; 0 on error */
int gen_step_params(ebm_params_t *ps, ebm_optim_t *opt, ebm_tensor_t *loss);
/* E(x+), E(x-) and the energy loss into hv[0..2]; then 0 (not finite: nothing updated), or the
 * energy's update (and EMA): 1, -1 on error */
int gen_energy_step(run_t *r, ebm_tensor_t *mp, ebm_tensor_t *mn, ebm_tensor_t *le, float *hv);
#endif
