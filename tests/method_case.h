/* method_case.h — what the single-step method tests share (test_methods.c, test_jem.c): a run built
 * from config overrides on a tiny data set (MLP networks of 3 hidden units, a batch of 4, plain SGD),
 * one call of its method's step, and comparisons with a host computation in double precision:
 *   - the stats the step reports against the host's values (check_stat),
 *   - the parameter gradients the step leaves against central differences of the host's loss
 *     (check_grad, parameters named as the run's parameter set names them).
 * Tolerance 3e-5 * (1 + largest reference magnitude): each value is a float32 sum of a few products
 * (test_methods.c derives it); central differences in double add ~1e-9. */
#ifndef EBM_METHOD_CASE_H
#define EBM_METHOD_CASE_H
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "data.h"
#include "run.h"
#include "testing.h"
#include "train.h"

enum { CASE_MAXP = 64 };   /* parameters of one network, numbers of one data batch */

/* ---- the run's parameters by name, into flat arrays ---- */
static inline ebm_tensor_t *case_named(ebm_params_t *ps, const char *name, int grad) {
    for (int i = 0; i < ebm_params_count(ps); i++)
        if (!strcmp(ebm_params_name(ps, i), name)) return grad ? ebm_params_grad(ps, i) : ebm_params_get(ps, i);
    return NULL;
}

/* the tensors names[] of ps (values, or gradients) one after the other into out; 0 if one is missing */
static inline int gather(ebm_params_t *ps, const char *const *names, int grad, double *out, int n) {
    int k = 0;
    for (int j = 0; names[j]; j++) {
        ebm_tensor_t *t = case_named(ps, names[j], grad);
        float buf[CASE_MAXP];
        size_t m = t ? ebm_tensor_numel(t) : 0;
        if (!t || k + (int)m > n || m > CASE_MAXP || ebm_tensor_read(t, buf) != EBM_OK) return 0;
        for (size_t i = 0; i < m; i++) out[k++] = buf[i];
    }
    return k == n;
}

/* ---- comparisons ---- */
typedef double (*loss_fn)(const double *th, void *ctx);

static inline void numeric_grad(loss_fn f, const double *th0, int n, void *ctx, double *g) {
    double th[CASE_MAXP];
    memcpy(th, th0, sizeof(double) * n);
    for (int i = 0; i < n; i++) {
        double h = 1e-6 * fmax(1, fabs(th0[i]));
        th[i] = th0[i] + h;
        double up = f(th, ctx);
        th[i] = th0[i] - h;
        double dn = f(th, ctx);
        th[i] = th0[i];
        g[i] = (up - dn) / (2 * h);
    }
}

/* the engine's gradient of ps (names) against the numeric gradient of f at th0 */
static inline void check_grad(const char *what, ebm_params_t *ps, const char *const *names, loss_fn f, const double *th0, int n,
                              void *ctx) {
    double got[CASE_MAXP], want[CASE_MAXP], scale = 0, worst = 0;
    int ok = gather(ps, names, 1, got, n);
    numeric_grad(f, th0, n, ctx, want);
    for (int i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (int i = 0; ok && i < n; i++) worst = fmax(worst, fabs(got[i] - want[i]) / (3e-5 * (1 + scale)));
    char msg[300];
    snprintf(msg, sizeof msg, "%s: %d components, largest %.3g, worst error %.3g of the tolerance", what, n, scale, worst);
    check(ok && worst <= 1 && scale > 1e-3, msg);
}

/* a stat the step reported (NaN if it did not) */
static inline double stat(const stats_t *s, const char *key) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->s[i].key, key)) return s->s[i].v;
    return NAN;
}

/* a reported stat against the host's value */
static inline void check_stat(const char *what, const stats_t *s, const char *key, double want) {
    double got = stat(s, key);
    char msg[200];
    snprintf(msg, sizeof msg, "%s: %s = %.7g, host %.7g", what, key, got, want);
    check(fabs(got - want) <= 3e-5 * (1 + fabs(want)), msg);
}

static inline void to_double(const float *f, double *d, int n) {
    for (int i = 0; i < n; i++) d[i] = f[i];
}

/* ---- a run of the method from config overrides, its data set ---- */
typedef struct {
    run_t r;
    ebm_config_t *cfg;
    ebm_dataset_t ds;
    float xhost[CASE_MAXP];
    stats_t s;
    int st;   /* the last step's status */
} case_t;

/* the common overrides, then more (NULL: none), then sets, on `source` (64 toy points, seed 7) */
static inline int open_case_with(case_t *c, const char *const *more, const char *const *sets, const char *source) {
    char err[512];
    memset(c, 0, sizeof *c);
    c->cfg = ebm_train_config_new();
    const char *common[] = {"data.toy_n=64", "model.net=mlp", "model.hidden=3", "model.activation=swish", "run.batch=4",
                            "optim.kind=sgd", "optim.lr=0.01", "run.seed=7", NULL};
    const char *const *lists[] = {common, more, sets};
    for (int l = 0; l < 3; l++)
        for (int i = 0; c->cfg && lists[l] && lists[l][i]; i++)
            if (ebm_config_set(c->cfg, lists[l][i], err, sizeof err) != EBM_OK) {
                fprintf(stderr, "%s\n", err);
                return 0;
            }
    ebm_data_opts_t dopts = {.toy_n = 64, .seed = 7};
    if (!c->cfg || ebm_dataset_open(&c->ds, source, &dopts, err, sizeof err) != EBM_OK) {
        fprintf(stderr, "%s\n", err);
        return 0;
    }
    const ebm_method_t *m = ebm_method_of(c->cfg);
    return m && run_build(&c->r, c->cfg, m, NULL, c->ds.ndim, c->ds.shape);
}

static inline void close_case(case_t *c) {
    run_free(&c->r);
    ebm_dataset_free(&c->ds);
    ebm_config_free(c->cfg);
}

/* one step of the run's method: 1 if it completed */
static inline int step(case_t *c) {
    c->st = c->r.m->step(&c->r, &c->ds, c->xhost, &c->s);
    return c->st == 1;
}
#endif
