/* dist.h — data-parallel training over MPI processes ("ranks"): the only module that talks to MPI.
 *
 * A build without MPI (CMake EBM_MPI off, or no MPI found) compiles the same functions for one rank,
 * so the rest of the code has no #ifdef: dist_size() is 1 and every collective is a no-op.
 *
 *   dist_init(&argc, &argv);                 // MPI_Init when started by a launcher (mpirun, srun)
 *   if (dist_size() > 1) ...                 // rank, size, local rank (ranks on this machine)
 *   dist_bcast(v, n);                        // rank 0's floats on every rank
 *   dist_sum(v, n);                          // the sum over ranks on every rank
 *   ebm_optim_set_grad_hook(opt, dist_grad_hook, NULL);   // gradients averaged before each update
 *   int st = dist_iteration_end(diverged, &stop);         // every rank's verdict on the iteration
 *
 * Sums are deterministic by default: gathered on rank 0, summed in rank order, broadcast; so a run is
 * bit-for-bit reproducible for a given number of ranks. dist_set_ordered(0) uses MPI_Allreduce
 * (a tree or ring whose order may vary between runs and libraries).
 *
 * An iteration's gradient all-reduces and its end are collectives with a small header (what each rank
 * is doing), so a rank that has diverged and stopped its iteration early does not leave the others
 * waiting: their remaining all-reduces of the iteration are skipped (nothing updated) and every rank
 * learns at dist_iteration_end that the iteration is void. */
#ifndef EBM_DIST_H
#define EBM_DIST_H
#include <stddef.h>
#include "ebm.h"

int dist_built(void);       /* 1 when built with MPI */
/* MPI_Init when started as a rank of a launcher (Open MPI's, Hydra's, Slurm's variables); 1, or 0
 * after printing why */
int dist_init(int *argc, char ***argv);
void dist_finalize(void);
int dist_rank(void);
int dist_size(void);
int dist_local_rank(void);   /* among the ranks on this machine */
int dist_local_size(void);
/* ends every rank of the job with status code (a rank that cannot continue: the others would wait) */
void dist_abort(int code);
void dist_set_ordered(int ordered);   /* 1 (default): gather and sum in rank order; 0: MPI_Allreduce */

/* collectives: every rank calls them in the same order; 1, or 0 after printing why */
int dist_barrier(void);
int dist_bcast(float *v, size_t n);                  /* rank 0's v everywhere */
int dist_bcast_bytes(void *v, size_t n);
int dist_sum(float *v, size_t n);                    /* the sum over ranks everywhere */
int dist_all(int ok);                                /* 1 when ok on every rank */
/* rank 0 receives n bytes from rank `from` (> 0) into v; rank `from` sends v; others do nothing */
int dist_send_to_root(void *v, size_t n, int from);
/* rank `to` (> 0) receives n bytes from rank 0; rank 0 sends v */
int dist_root_send(void *v, size_t n, int to);

/* ebm_grad_hook_t: the flat gradient averaged over ranks (host-staged); 0 when another rank has ended
 * its iteration early (diverged), -1 on error */
int dist_grad_hook(void *user, ebm_tensor_t *flat_grad);
/* The end of an iteration on every rank: diverged says this rank's step diverged, *stop that this
 * rank was asked to stop (signal) and on return whether any rank was. Returns the number of ranks
 * whose step diverged (> 0: the iteration is void on every rank, also where an all-reduce was skipped
 * because another rank had ended it); 0 when every rank completed it; -1 on error. */
int dist_iteration_end(int diverged, int *stop);
/* seconds spent in collectives since the last call: returned, the transfers (gradient all-reduces with
 * their host staging, broadcasts, sums); *wait (NULL: not asked), the header exchanges that open each
 * gradient all-reduce and end each iteration, where a rank waits for the slowest */
double dist_comm_seconds(double *wait);
#endif
