/* test_metrics.c — AUPRC (MEG's definition) and AUROC (models/metrics.h) on hand-computed cases and
 * against O(n^2) double-precision references on random scores with ties; the Fréchet distance
 * against the closed form of 2 x 2 covariances and, in 12 dimensions, its invariances (0 to itself,
 * symmetric although computed asymmetrically, unchanged by a rotation of both sets, |s|^2 for a
 * shift s, scaling by c^2); KID on hand-computed cases. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "testing.h"

/* every (positive, negative) pair: 1 if the positive scores higher, 1/2 on a tie */
static double ref_auroc(const double *s, const int *pos, int n) {
    double u = 0, pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (pos[i] && !pos[j]) u += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0, pairs++;
    return u / pairs;
}

/* thresholds t = the distinct scores from the highest down: recall = #pos >= t / P, precision =
 * #pos >= t / #all >= t, stopping at full recall; trapezoids from (0, 1) */
static double ref_auprc(const double *s, const int *pos, int n) {
    int P = 0;
    for (int i = 0; i < n; i++) P += pos[i] != 0;
    double r0 = 0, p0 = 1, area = 0, t = INFINITY;
    for (;;) {
        double next = -INFINITY;   /* the largest score below t */
        for (int i = 0; i < n; i++)
            if (s[i] < t && s[i] > next) next = s[i];
        if (next == -INFINITY) break;
        t = next;
        int tp = 0, all = 0;
        for (int i = 0; i < n; i++)
            if (s[i] >= t) all++, tp += pos[i] != 0;
        double r = (double)tp / P, p = (double)tp / all;
        area += (r - r0) * (p + p0) / 2;
        r0 = r, p0 = p;
        if (tp == P) break;
    }
    return area;
}

static void expect(double got, double want, double tol, const char *what) {
    char msg[128];
    snprintf(msg, sizeof msg, "got %.12g, want %.12g", got, want);
    check_msg(fabs(got - want) <= tol, what, msg);
}

/* n x d rows of N(0, 1) times a fixed mixing matrix (correlated, unequal variances), Box-Muller on rand() */
static double *gauss_rows(int n, int d, double scale) {
    double *x = malloc(sizeof(double) * n * d), *z = malloc(sizeof(double) * d);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < d; k++) {
            double u1 = (rand() + 1.0) / (RAND_MAX + 2.0), u2 = (rand() + 1.0) / (RAND_MAX + 2.0);
            z[k] = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
        }
        for (int k = 0; k < d; k++) {
            double v = 0;
            for (int l = 0; l <= k; l++) v += z[l] * scale * (1.0 + 0.3 * ((k + 2 * l) % 5)) / (1 + k - l);
            x[i * d + k] = v + 0.1 * k;
        }
    }
    free(z);
    return x;
}

static void test_fd_kid(void) {
    char err[256] = "", what[160];
    /* 2 x 2: tr (Sa Sb)^1/2 = sqrt(tr(Sa Sb) + 2 sqrt(det Sa det Sb)) (the eigenvalues l1, l2 of Sa Sb
     * are real and >= 0, and (sqrt l1 + sqrt l2)^2 = l1 + l2 + 2 sqrt(l1 l2)); the moments computed here */
    srand(11);
    double *a = gauss_rows(300, 2, 1.0), *b = gauss_rows(200, 2, 0.6);
    for (int i = 0; i < 200; i++) b[2 * i + 1] = 0.8 * b[2 * i + 1] - 0.9 * b[2 * i] + 0.5;   /* another shape and mean */
    double ma[2] = {0}, mb[2] = {0}, A[4] = {0}, Bm[4] = {0};
    for (int i = 0; i < 300; i++) ma[0] += a[2 * i] / 300, ma[1] += a[2 * i + 1] / 300;
    for (int i = 0; i < 200; i++) mb[0] += b[2 * i] / 200, mb[1] += b[2 * i + 1] / 200;
    for (int i = 0; i < 300; i++)
        for (int k = 0; k < 4; k++) A[k] += (a[2 * i + k / 2] - ma[k / 2]) * (a[2 * i + k % 2] - ma[k % 2]) / 299;
    for (int i = 0; i < 200; i++)
        for (int k = 0; k < 4; k++) Bm[k] += (b[2 * i + k / 2] - mb[k / 2]) * (b[2 * i + k % 2] - mb[k % 2]) / 199;
    double trAB = A[0] * Bm[0] + A[1] * Bm[2] + A[2] * Bm[1] + A[3] * Bm[3];
    double detA = A[0] * A[3] - A[1] * A[2], detB = Bm[0] * Bm[3] - Bm[1] * Bm[2];
    double want = (ma[0] - mb[0]) * (ma[0] - mb[0]) + (ma[1] - mb[1]) * (ma[1] - mb[1]) + A[0] + A[3] + Bm[0] + Bm[3] -
                  2 * sqrt(trAB + 2 * sqrt(detA * detB));
    /* rounding: sums of a few hundred products of O(1) numbers, ~1e-13 */
    expect(ebm_frechet_distance(a, 300, b, 200, 2, err, sizeof err), want, 1e-10, "Fréchet distance, 2 x 2 closed form");
    free(a), free(b);

    /* 12 dimensions: invariances that a wrong square root breaks */
    enum { D = 12, NA = 400, NB = 300 };
    a = gauss_rows(NA, D, 1.0), b = gauss_rows(NB, D, 0.7);
    for (int i = 0; i < NB; i++) b[i * D + 3] += 0.4 * b[i * D + 7];
    double fab = ebm_frechet_distance(a, NA, b, NB, D, err, sizeof err), fba = ebm_frechet_distance(b, NB, a, NA, D, err, sizeof err);
    /* the eigensolver's backward error ~ d * 2^-52 * |S|, |S| ~ 10 here: 1e-12, times the terms (~30) */
    snprintf(what, sizeof what, "Fréchet distance symmetric in 12-D (%.6f vs %.6f)", fab, fba);
    check(isfinite(fab) && fab > 0.1 && fabs(fab - fba) <= 1e-9 * (1 + fab), what);
    expect(ebm_frechet_distance(a, NA, a, NA, D, err, sizeof err), 0, 1e-6, "Fréchet distance of a set to itself: 0 (sqrt of eigenvalues ~1e-13)");
    double *ra = malloc(sizeof(double) * NA * D), *rb = malloc(sizeof(double) * NB * D), *sh = malloc(sizeof(double) * NA * D);
    /* a rotation: Givens rotations in planes (k, k+1) by angle 0.3 + 0.1 k, applied to both sets */
    memcpy(ra, a, sizeof(double) * NA * D), memcpy(rb, b, sizeof(double) * NB * D);
    for (int k = 0; k + 1 < D; k++) {
        double c = cos(0.3 + 0.1 * k), sn = sin(0.3 + 0.1 * k);
        for (int i = 0; i < NA + NB; i++) {
            double *row = i < NA ? ra + i * D : rb + (i - NA) * D, u = row[k], v = row[k + 1];
            row[k] = c * u - sn * v, row[k + 1] = sn * u + c * v;
        }
    }
    double frot = ebm_frechet_distance(ra, NA, rb, NB, D, err, sizeof err);
    snprintf(what, sizeof what, "Fréchet distance unchanged by a rotation of both sets (%.9f vs %.9f)", frot, fab);
    check(fabs(frot - fab) <= 1e-9 * (1 + fab), what);
    double s2 = 0;
    for (int i = 0; i < NA; i++)
        for (int k = 0; k < D; k++) sh[i * D + k] = a[i * D + k] + 0.05 * (k - 5);
    for (int k = 0; k < D; k++) s2 += 0.05 * (k - 5) * 0.05 * (k - 5);
    expect(ebm_frechet_distance(a, NA, sh, NA, D, err, sizeof err), s2, 1e-6, "Fréchet distance of a shifted copy: |shift|^2");
    for (int i = 0; i < NA * D; i++) ra[i] = 3 * a[i];
    for (int i = 0; i < NB * D; i++) rb[i] = 3 * b[i];
    expect(ebm_frechet_distance(ra, NA, rb, NB, D, err, sizeof err), 9 * fab, 1e-8 * (1 + fab), "Fréchet distance scales by c^2");
    double bad = ebm_frechet_distance(a, 1, b, NB, D, err, sizeof err);
    snprintf(what, sizeof what, "Fréchet distance of 1 row: NaN with a message (%s)", err);
    check(isnan(bad) && strstr(err, "at least 2 rows"), what);
    free(a), free(b), free(ra), free(rb), free(sh);

    /* KID, hand-computed, d = 1, k(x, y) = (xy + 1)^3: a = {0, 1}, b = {0, 2}: within a, k(0, 1) = 1;
     * within b, k(0, 2) = 1; across, k(0,0) k(0,2) k(1,0) k(1,2) = 1 1 1 27, mean 7.5: 1 + 1 - 15 = -13 */
    double ka[] = {0, 1}, kb[] = {0, 2};
    expect(ebm_kid(ka, 2, kb, 2, 1), -13, 1e-12, "KID, 1-D hand-computed case");
    /* d = 2, k = (x.y / 2 + 1)^3: a = {(1,0), (0,1), (1,1)}, b = {(2,0), (0,0)}.
     * within a (i != j, both orders): x.y = 0, 1, 1 -> k = 1, 3.375, 3.375: mean (2 * 7.75) / 6 = 31/12;
     * within b: x.y = 0 -> 1; across: x.y = 2, 0, 0, 0, 2, 0 -> k = 8, 1, 1, 1, 8, 1: mean 20/6 = 10/3;
     * KID = 31/12 + 1 - 20/3 = -37/12 */
    double ka2[] = {1, 0, 0, 1, 1, 1}, kb2[] = {2, 0, 0, 0};
    expect(ebm_kid(ka2, 3, kb2, 2, 2), -37.0 / 12, 1e-12, "KID, 2-D hand-computed case");
    check(isnan(ebm_kid(ka, 1, kb, 2, 1)), "KID of a 1-row set is NaN");
}

int main(void) {
    test_fd_kid();
    /* hand-computed: points (0,1) (.5,1) (.5,.5) (1,2/3) -> .5 + 0 + .5(.5 + 2/3)/2 = 19/24 */
    double s1[] = {0.9, 0.8, 0.7, 0.1};
    int p1[] = {1, 0, 1, 0};
    expect(ebm_auprc(s1, p1, 4), 19.0 / 24, 1e-15, "auprc, hand example");
    expect(ebm_auroc(s1, p1, 4), 0.75, 1e-15, "auroc, hand example");
    /* order of the input does not matter */
    double s1b[] = {0.1, 0.7, 0.9, 0.8};
    int p1b[] = {0, 1, 1, 0};
    expect(ebm_auprc(s1b, p1b, 4), 19.0 / 24, 1e-15, "auprc, permuted input");
    /* perfect and reversed rankings */
    double s2[] = {5, 4, 3, 2, 1};
    int p2[] = {1, 1, 0, 0, 0}, p3[] = {0, 0, 0, 1, 1};
    expect(ebm_auprc(s2, p2, 5), 1, 1e-15, "auprc, perfect ranking");
    expect(ebm_auroc(s2, p2, 5), 1, 1e-15, "auroc, perfect ranking");
    expect(ebm_auroc(s2, p3, 5), 0, 1e-15, "auroc, reversed ranking");
    /* reversed: (0,1) then (0,0) at thresholds 5, 4, 3, (.5, 1/4) at 2, (1, 2/5) at 1 */
    expect(ebm_auprc(s2, p3, 5), 0.5 * (0 + 0.25) / 2 + 0.5 * (0.25 + 0.4) / 2, 1e-15, "auprc, reversed ranking");
    /* all tied: one point (1, P/n), as sklearn; AUROC 1/2 */
    double s4[] = {3, 3, 3, 3};
    int p4[] = {0, 1, 0, 0};
    expect(ebm_auprc(s4, p4, 4), (0.25 + 1) / 2, 1e-15, "auprc, all scores tied");
    expect(ebm_auroc(s4, p4, 4), 0.5, 1e-15, "auroc, all scores tied");
    /* undefined without positives (or negatives, for AUROC) */
    int none[] = {0, 0, 0, 0}, all[] = {1, 1, 1, 1};
    check(isnan(ebm_auprc(s1, none, 4)), "auprc without positives is NaN");
    check(isnan(ebm_auroc(s1, none, 4)) && isnan(ebm_auroc(s1, all, 4)), "auroc with one class only is NaN");

    /* random scores on a coarse grid (many ties) against the references; both sum the same
     * trapezoids in the same order, so agreement is to rounding of a few thousand additions */
    srand(7);
    for (int trial = 0; trial < 20; trial++) {
        int n = 50 + rand() % 400;
        double *s = malloc(sizeof(double) * n);
        int *p = malloc(sizeof(int) * n), P = 0;
        for (int i = 0; i < n; i++) {
            p[i] = rand() % 4 == 0;
            P += p[i];
            s[i] = (rand() % 60) / 10.0 + (p[i] ? 0.7 : 0);   /* positives a little higher */
        }
        if (P == 0) p[0] = 1;
        char what[64];
        snprintf(what, sizeof what, "auprc vs reference, n = %d", n);
        expect(ebm_auprc(s, p, n), ref_auprc(s, p, n), 1e-12, what);
        snprintf(what, sizeof what, "auroc vs reference, n = %d", n);
        expect(ebm_auroc(s, p, n), ref_auroc(s, p, n), 1e-12, what);
        free(s), free(p);
    }
    return test_summary();
}
