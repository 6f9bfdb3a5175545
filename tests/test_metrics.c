/* test_metrics.c — AUPRC (MEG's definition) and AUROC (models/metrics.h) on hand-computed cases and
 * against O(n^2) double-precision references on random scores with ties. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

int main(void) {
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
