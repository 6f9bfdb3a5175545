/* metrics.c — AUPRC and AUROC (metrics.h). */
#include "metrics.h"
#include <math.h>
#include <stdlib.h>

typedef struct {
    double s;
    int pos;
} item_t;

static int by_score_desc(const void *a, const void *b) {
    double x = ((const item_t *)a)->s, y = ((const item_t *)b)->s;
    return x < y ? 1 : x > y ? -1 : 0;
}

static item_t *sorted(const double *score, const int *positive, int n, long *n_pos) {
    item_t *it = malloc(sizeof(item_t) * (n > 0 ? n : 1));
    *n_pos = 0;
    if (!it) return NULL;
    for (int i = 0; i < n; i++) {
        it[i].s = score[i];
        it[i].pos = positive[i] != 0;
        *n_pos += it[i].pos;
    }
    qsort(it, (size_t)n, sizeof *it, by_score_desc);
    return it;
}

double ebm_auprc(const double *score, const int *positive, int n) {
    long P;
    item_t *it = sorted(score, positive, n, &P);
    if (!it || P == 0) {
        free(it);
        return NAN;
    }
    double area = 0, r0 = 0, p0 = 1;   /* the point (recall 0, precision 1) */
    long tp = 0, fp = 0;
    for (int i = 0; i < n && tp < P;) {
        double s = it[i].s;
        for (; i < n && it[i].s == s; i++) it[i].pos ? tp++ : fp++;   /* every example at this threshold */
        double r = (double)tp / P, p = (double)tp / (tp + fp);
        area += (r - r0) * (p + p0) / 2;
        r0 = r, p0 = p;
    }
    free(it);
    return area;
}

double ebm_auroc(const double *score, const int *positive, int n) {
    long P;
    item_t *it = sorted(score, positive, n, &P);
    long N = n - P;
    if (!it || P == 0 || N == 0) {
        free(it);
        return NAN;
    }
    /* for every positive, the negatives ranked below it, ties counted half */
    double u = 0;
    long neg_below = N;
    for (int i = 0; i < n;) {
        double s = it[i].s;
        long tp = 0, tn = 0;
        for (; i < n && it[i].s == s; i++) it[i].pos ? tp++ : tn++;
        neg_below -= tn;
        u += tp * (neg_below + 0.5 * tn);
    }
    free(it);
    return u / ((double)P * N);
}

double ebm_ece(const double *confidence, const int *correct, int n, int bins) {
    if (n <= 0 || bins <= 0) return NAN;
    double *conf = calloc((size_t)bins, sizeof(double)), *acc = calloc((size_t)bins, sizeof(double));
    int *count = calloc((size_t)bins, sizeof(int));
    double ece = NAN;
    if (conf && acc && count) {
        for (int i = 0; i < n; i++) {
            int b = (int)ceil(confidence[i] * bins) - 1;   /* (b/bins, (b+1)/bins] */
            b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
            conf[b] += confidence[i], acc[b] += correct[i] != 0, count[b]++;
        }
        ece = 0;
        for (int b = 0; b < bins; b++)
            if (count[b]) ece += fabs(acc[b] - conf[b]) / n;   /* (n_b / n) |acc_b - conf_b| */
    }
    free(conf), free(acc), free(count);
    return ece;
}
