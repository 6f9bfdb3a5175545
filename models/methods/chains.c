/* chains.c — Langevin chains from noise for the methods that train without sampling (chains.h). */
#include "chains.h"
#include <stdlib.h>
#include <string.h>
#include "data.h"

ebm_tensor_t *chains_draw(run_t *r, const ebm_sample_opts_t *o, int n, ebm_rng_t *rng, double *accept) {
    (void)accept;
    const char *init = o && o->init ? o->init : ebm_config_str(r->cfg, "eval", "init");
    if (strcmp(init, "noise")) {
        ERR("init = \"%s\": a run.method = %s run keeps no replay buffer; its chains start from noise\n", init, r->m->name);
        return NULL;
    }
    ebm_langevin_cfg_t lc = r->lc;
    lc.steps = o && o->steps >= 0 ? o->steps : (int)ebm_config_int(r->cfg, "eval", "steps");
    ebm_tensor_t *x = ebm_langevin(r->ctx, run_energy, r, run_noise(r, n, rng), &lc, rng);
    if (!x) ERR("sampling: %s\n", ebm_ctx_error(r->ctx));
    return x;
}

ebm_tensor_t *chains_data_batch(run_t *r, ebm_dataset_t *ds, float *host, ebm_rng_t *rng) {
    int B = r->batch;
    size_t m = (size_t)B * r->numel;
    ebm_dataset_batch(ds, r->seed, r->iter, B, host);
    if (r->dequantize) {
        float *u = malloc(sizeof(float) * m);
        if (!u) {
            ERR("iteration %ld: out of host memory\n", r->iter);
            return NULL;
        }
        ebm_rng_host_uniform(rng, u, m);
        for (size_t i = 0; i < m; i++) host[i] = host[i] * (255.0f / 256.0f) + u[i] / 256.0f;
        free(u);
    }
    int shape[4] = {B, r->shape[0], r->shape[1], r->shape[2]};
    return ebm_tensor_from_host(r->ctx, r->ndim + 1, shape, host);
}
