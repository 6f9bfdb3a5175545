/* net_outputs CHECKPOINT OUT.safetensors [N] [--raw] — every network of a run on inputs drawn here,
 * for tools/torch_load.py --compare (tests/torch_load.sh): the energy on N chains from
 * U(sampler.init_lo, sampler.init_hi) (a classifier: its logits), and for generator runs the
 * generator's raw output (before the [-1, 1] -> [0, 1] map of images) on N draws of its prior, MEG's
 * statistics network on those (x, z) pairs and Dual-MCMC's inference network on the same x.
 * Tensors: energy.x, energy.out (a class-conditional energy: the marginal, and energy.y, labels i mod K,
 * with energy.cout, E(x | y)) | classify.x, classify.out; generator.z, generator.out; stats.x,
 * stats.z, stats.out; inference.x, inference.out. EMA weights unless --raw, as `ebm score`.
 *
 * The run is opened as `ebm sample` opens it and the energy and generator are the run's own. The
 * statistics and inference networks are private to their methods (methods/meg.c, dual.c): they are
 * built here the way those files build them, from the public builders, with the checkpoint's
 * weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "generator.h"
#include "run.h"
#include "train.h"

static run_group_t *group(run_t *r, const char *optim_name) {
    for (int i = 0; i < r->n_groups; i++)
        if (!strcmp(r->groups[i].optim_name, optim_name)) return &r->groups[i];
    return NULL;
}

/* ps's parameters from the checkpoint; 0 after printing why */
static int load_params(ebm_params_t *ps, const char *ckpt) {
    int n = ebm_params_count(ps), ok;
    ebm_named_tensor_t *ts = calloc((size_t)n, sizeof *ts);
    char err[1024];
    if (!ts) return 0;
    for (int i = 0; i < n; i++) ts[i] = (ebm_named_tensor_t){ebm_params_name(ps, i), ebm_params_get(ps, i)};
    ok = ebm_safetensors_load(ckpt, ts, n, NULL, err, sizeof err) == EBM_OK;
    if (!ok) fprintf(stderr, "net_outputs: %s\n", err);
    free(ts);
    return ok;
}

static ebm_tensor_t *flat(ebm_tensor_t *t) { return ebm_reshape(t, 2, (int[]){ebm_tensor_dim(t, 0), -1}); }

int main(int argc, char **argv) {
    const char *ckpt = NULL, *out = NULL;
    int n = 16, raw = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--raw")) raw = 1;
        else if (!ckpt) ckpt = argv[i];
        else if (!out) out = argv[i];
        else n = atoi(argv[i]);
    }
    if (!ckpt || !out || n < 2) {
        fprintf(stderr, "usage: net_outputs CHECKPOINT OUT.safetensors [N >= 2] [--raw]\n");
        return 2;
    }
    ebm_config_t *cfg = ebm_train_config_new();
    run_t r = {0};
    ebm_params_t *hps = NULL;
    int rc = 1, ndim, shape[3];
    const ebm_method_t *m = NULL;
    if (cfg && ckpt_config(ckpt, cfg, &ndim, shape) && (m = ebm_method_of(cfg)) && run_build(&r, cfg, m, NULL, ndim, shape) &&
        ckpt_load(&r, ckpt)) {
        if (r.ema && !raw) ebm_ema_swap(r.ema);
        const ebm_config_t *c = r.cfg;
        ebm_scope_begin(r.ctx);
        ebm_grad_set_enabled(r.ctx, 0);
        ebm_rng_t rng = ebm_rng_make(1234, 0x4f5554ull);   /* "OUT" */
        ebm_named_tensor_t ts[13];
        int k = 0, ok = 1;
        ebm_tensor_t *x = run_noise(&r, n, &rng);
        if (r.n_out > 1) {
            ts[k++] = (ebm_named_tensor_t){"classify.x", x};
            ts[k++] = (ebm_named_tensor_t){"classify.out", run_forward(&r, x)};
        } else {
            ts[k++] = (ebm_named_tensor_t){"energy.x", x};
            ts[k++] = (ebm_named_tensor_t){"energy.out", run_energy(&r, x)};   /* conditioned: the marginal */
            if (r.classes > 0) {   /* and E(x | y) with y_i = i mod K */
                int *y = malloc(sizeof(int) * (size_t)n);
                float *yf = malloc(sizeof(float) * (size_t)n);
                for (int i = 0; y && yf && i < n; i++) y[i] = i % r.classes, yf[i] = (float)y[i];
                ok = y && yf && run_set_labels(&r, y, n);
                ts[k++] = (ebm_named_tensor_t){"energy.y", ok ? ebm_tensor_from_host(r.ctx, 1, &n, yf) : NULL};
                ts[k++] = (ebm_named_tensor_t){"energy.cout", ok ? run_energy(&r, x) : NULL};
                run_clear_labels(&r);
                free(y), free(yf);
            }
        }
        if (group(&r, "optim_generator")) {   /* a generator method: its state begins with the gen_t */
            const gen_t *g = r.state;
            ebm_tensor_t *z = gen_z(&r, n, &rng), *xg = gen_x(&r, z);
            ts[k++] = (ebm_named_tensor_t){"generator.z", z};
            ts[k++] = (ebm_named_tensor_t){"generator.out", ebm_net_forward(g->net, z)};
            int hh[8], Z = g->z_dim, img = r.ndim == 3;
            ebm_net_t *h = NULL, *head = NULL;
            if (group(&r, "optim_stats")) {   /* MEG's statistics network, as methods/meg.c builds it */
                int nh = run_parse_widths(c, "meg", "stat_hidden", hh), f = (int)ebm_config_int(c, "meg", "stat_features");
                hps = ebm_params_new(r.ctx);
                if (img) {
                    h = ebm_net_dcgan_trunk(hps, "stats.trunk.", r.shape[0], (int)ebm_config_int(c, "meg", "stat_base"), r.shape[1], f);
                    head = ebm_net_mlp(hps, "stats.head.", f + Z, hh, nh, 1);
                    if (head) ebm_net_set_activation(head, "lrelu");
                } else if ((h = ebm_net_mlp(hps, "stats.", (int)r.numel + Z, hh, nh, 1)))
                    ebm_net_set_activation(h, "lrelu");
                ok = nh >= 0 && h && (!img || head) && ebm_params_finalize(hps) == EBM_OK && load_params(hps, ckpt);
                ebm_tensor_t *s = !ok ? NULL
                                  : head ? ebm_net_forward(head, ebm_concat((ebm_tensor_t *[]){ebm_net_forward(h, xg), z}, 2, 1))
                                         : ebm_net_forward(h, ebm_concat((ebm_tensor_t *[]){flat(xg), z}, 2, 1));
                ts[k++] = (ebm_named_tensor_t){"stats.x", xg};
                ts[k++] = (ebm_named_tensor_t){"stats.z", z};
                ts[k++] = (ebm_named_tensor_t){"stats.out", s};
            } else if (group(&r, "optim_inference")) {   /* Dual-MCMC's inference network, as methods/dual.c */
                int nh = run_parse_widths(c, "dual", "inf_hidden", hh);
                hps = ebm_params_new(r.ctx);
                if (img) h = ebm_net_dcgan_trunk(hps, "inference.", r.shape[0], (int)ebm_config_int(c, "model", "base"), r.shape[1], 2 * Z);
                else if ((h = ebm_net_mlp(hps, "inference.", (int)r.numel, hh, nh, 2 * Z))) ebm_net_set_activation(h, "lrelu");
                ok = nh >= 0 && h && ebm_params_finalize(hps) == EBM_OK && load_params(hps, ckpt);
                ts[k++] = (ebm_named_tensor_t){"inference.x", x};
                ts[k++] = (ebm_named_tensor_t){"inference.out", ok ? ebm_net_forward(h, x) : NULL};
            }
            ebm_net_free(h);
            ebm_net_free(head);
        }
        char err[1024];
        ok = ok && ebm_ctx_status(r.ctx) == EBM_OK;
        for (int i = 0; i < k; i++) ok = ok && ts[i].t;
        if (!ok) fprintf(stderr, "net_outputs: %s\n", ebm_ctx_error(r.ctx));
        else if (ebm_safetensors_save(out, ts, k, NULL, 0, err, sizeof err) != EBM_OK) fprintf(stderr, "net_outputs: %s\n", err);
        else rc = 0;
        ebm_scope_end(r.ctx);
    }
    ebm_params_free(hps);
    run_free(&r);
    ebm_config_free(cfg);
    return rc;
}
