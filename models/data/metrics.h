/* metrics.h — ranking metrics and sample-quality distances of the evaluations, in double precision
 * on the host.
 *
 *   double s[] = {0.9, 0.8, 0.7, 0.1};  int pos[] = {1, 0, 1, 0};
 *   ebm_auprc(s, pos, 4);   // 0.7917: MEG's AUPRC (higher score = more likely positive)
 *   ebm_auroc(s, pos, 4);   // 0.75: P(score of a positive > score of a negative), ties count 1/2
 */
#ifndef EBM_METRICS_H
#define EBM_METRICS_H
#include <stddef.h>

/* Area under the precision-recall curve as MEG computes it (sklearn's auc(recall, precision) of
 * precision_recall_curve): one point per distinct score, from the highest down, until every positive
 * is found, plus the point (recall 0, precision 1); trapezoids in recall. NaN without positives. */
double ebm_auprc(const double *score, const int *positive, int n);
/* Area under the ROC curve (Mann-Whitney U / (positives x negatives)); NaN without both classes. */
double ebm_auroc(const double *score, const int *positive, int n);
/* Expected calibration error (Guo et al. 2017): the n predictions' confidences (the largest class
 * probability) in `bins` equal-width bins (b/bins, (b+1)/bins] (a confidence of 0 in the first),
 * sum over bins of (n_b / n) |accuracy_b - mean confidence_b|; NaN when n = 0. */
double ebm_ece(const double *confidence, const int *correct, int n, int bins);

/* Fréchet distance between Gaussians fitted to two sets of feature rows (a: na x d, b: nb x d,
 * row-major): |mu_a - mu_b|^2 + tr(Sa) + tr(Sb) - 2 tr((Sa^1/2 Sb Sa^1/2)^1/2), covariances with
 * n - 1 (as FID implementations use), the square roots from LAPACK's symmetric eigensolver (dsyevd;
 * eigenvalues below 0 from rounding taken as 0). NaN after writing why into err (fewer than 2 rows,
 * out of memory, LAPACK failing). */
double ebm_frechet_distance(const double *a, int na, const double *b, int nb, int d, char *err, size_t errn);
/* Kernel inception distance's estimator (Binkowski et al. 2018, "Demystifying MMD GANs"): the
 * unbiased MMD^2 between the sets with the cubic kernel k(x, y) = (x.y / d + 1)^3, pairs i != j within
 * each set; unbiased at any size, so it can be negative. NaN with fewer than 2 rows in a set. */
double ebm_kid(const double *a, int na, const double *b, int nb, int d);
#endif
