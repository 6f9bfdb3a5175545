/* metrics.c — AUPRC, AUROC, Fréchet distance and KID (metrics.h). */
#include "metrics.h"
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* mean (d) and covariance (d x d, n - 1) of n rows */
static void moments(const double *x, int n, int d, double *mu, double *cov) {
    memset(mu, 0, sizeof(double) * d);
    memset(cov, 0, sizeof(double) * d * d);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k++) mu[k] += x[(size_t)i * d + k] / n;
    double *c = malloc(sizeof(double) * d);
    for (int i = 0; c && i < n; i++) {
        for (int k = 0; k < d; k++) c[k] = x[(size_t)i * d + k] - mu[k];
        for (int k = 0; k < d; k++)
            for (int l = k; l < d; l++) cov[(size_t)k * d + l] += c[k] * c[l];
    }
    free(c);
    for (int k = 0; k < d; k++)
        for (int l = k; l < d; l++) cov[(size_t)l * d + k] = cov[(size_t)k * d + l] /= n - 1;
}

/* eigenvalues (ascending) into w and eigenvectors into the columns of s (row-major); 0 on failure */
static int eig(double *s, double *w, int d) { return LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, s, d, w) == 0; }

/* c = a b, d x d row-major (i-k-j order: rows stream through the cache) */
static void matmul(const double *a, const double *b, double *c, int d) {
    memset(c, 0, sizeof(double) * d * d);
    for (int i = 0; i < d; i++)
        for (int k = 0; k < d; k++) {
            double v = a[(size_t)i * d + k];
            const double *br = b + (size_t)k * d;
            double *cr = c + (size_t)i * d;
            for (int j = 0; j < d; j++) cr[j] += v * br[j];
        }
}

double ebm_frechet_distance(const double *a, int na, const double *b, int nb, int d, char *err, size_t errn) {
    if (na < 2 || nb < 2 || d < 1) {
        snprintf(err, errn, "the Fréchet distance needs at least 2 rows in each set (%d and %d)", na, nb);
        return NAN;
    }
    size_t dd = (size_t)d * d;
    double *mua = malloc(sizeof(double) * d), *mub = malloc(sizeof(double) * d), *sa = malloc(sizeof(double) * dd),
           *sb = malloc(sizeof(double) * dd), *t = malloc(sizeof(double) * dd), *root = malloc(sizeof(double) * dd),
           *w = malloc(sizeof(double) * d);
    double fd = NAN;
    if (!mua || !mub || !sa || !sb || !t || !root || !w) {
        snprintf(err, errn, "out of host memory for %d x %d covariances", d, d);
        goto done;
    }
    moments(a, na, d, mua, sa);
    moments(b, nb, d, mub, sb);
    double tr = 0, dmu = 0;
    for (int k = 0; k < d; k++) tr += sa[(size_t)k * d + k] + sb[(size_t)k * d + k], dmu += (mua[k] - mub[k]) * (mua[k] - mub[k]);
    if (!eig(sa, w, d)) {   /* Sa = V diag(w) V^T, V into sa */
        snprintf(err, errn, "LAPACK's dsyevd failed on the first covariance (%d x %d)", d, d);
        goto done;
    }
    /* root = Sa^1/2 = V diag(sqrt(max(w, 0))) V^T */
    for (size_t i = 0; i < dd; i++) t[i] = sa[i] * sqrt(fmax(w[i % d], 0.0));
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double v = 0;
            for (int k = 0; k < d; k++) v += t[(size_t)i * d + k] * sa[(size_t)j * d + k];
            root[(size_t)i * d + j] = v;
        }
    matmul(sb, root, t, d);    /* Sb Sa^1/2 */
    matmul(root, t, sa, d);    /* M = Sa^1/2 Sb Sa^1/2 */
    for (int i = 0; i < d; i++)   /* symmetric up to rounding: the mean of both halves */
        for (int j = 0; j < i; j++) sa[(size_t)i * d + j] = sa[(size_t)j * d + i] = 0.5 * (sa[(size_t)i * d + j] + sa[(size_t)j * d + i]);
    if (!eig(sa, w, d)) {
        snprintf(err, errn, "LAPACK's dsyevd failed on Sa^1/2 Sb Sa^1/2 (%d x %d)", d, d);
        goto done;
    }
    double trs = 0;   /* tr M^1/2 = tr (Sa Sb)^1/2 */
    for (int k = 0; k < d; k++) trs += sqrt(fmax(w[k], 0.0));
    fd = dmu + tr - 2 * trs;
done:
    free(mua), free(mub), free(sa), free(sb), free(t), free(root), free(w);
    return fd;
}

static double kmean(const double *a, int na, const double *b, int nb, int d, int skip_diag) {
    double s = 0;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++) {
            if (skip_diag && i == j) continue;
            double dot = 0;
            for (int k = 0; k < d; k++) dot += a[(size_t)i * d + k] * b[(size_t)j * d + k];
            double u = dot / d + 1;
            s += u * u * u;
        }
    return s / ((double)na * (skip_diag ? nb - 1 : nb));
}

double ebm_kid(const double *a, int na, const double *b, int nb, int d) {
    if (na < 2 || nb < 2) return NAN;
    return kmean(a, na, a, na, d, 1) + kmean(b, nb, b, nb, d, 1) - 2 * kmean(a, na, b, nb, d, 0);
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
