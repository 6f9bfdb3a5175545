/* labels.h — what the methods with classes (classify, jem) share: `ebm eval` of the classifier on the
 * test examples of the run's source (Fashion-MNIST: its t10k; a 2-D mixture: 10 000 fresh points,
 * labelled by mode): accuracy, the expected calibration error in `bins` equal-width confidence bins
 * (metrics.h) and the mean negative log-likelihood of the labels, on stderr and as a metrics.jsonl row
 * (echoed on stdout). With [data] label_channel = c >= 0 (stacked images), the label 100 y0 + 10 y1 + y2
 * becomes the class of channel c.
 *
 *   return labels_eval(r, o->n, 15, checkpoint);   // at most o->n examples (0: all); the exit status
 */
#ifndef EBM_LABELS_H
#define EBM_LABELS_H
#include "run.h"

int labels_eval(run_t *r, int n_max, int bins, const char *checkpoint);
#endif
