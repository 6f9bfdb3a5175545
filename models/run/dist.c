/* dist.c — data-parallel training over MPI ranks (dist.h); one rank when built without MPI. */
#include "dist.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef EBM_HAVE_MPI
#include <mpi.h>
#endif

#define DERR(...) fprintf(stderr, "ebm: " __VA_ARGS__)

static int rank_, size_ = 1, local_rank_, local_size_ = 1, ordered_ = 1, inited_;
static double comm_s_, wait_s_;   /* seconds in transfers (with host staging), in header exchanges (waiting for the others) */
static float *stage_;   /* host copy of a gradient, and rank 0's gather buffer */
static size_t stage_n_;
static int tainted_;    /* this iteration skipped an all-reduce: another rank ended it early */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int dist_rank(void) { return rank_; }
int dist_size(void) { return size_; }
int dist_local_rank(void) { return local_rank_; }
int dist_local_size(void) { return local_size_; }
void dist_set_ordered(int ordered) { ordered_ = ordered; }
double dist_comm_seconds(double *wait) {
    double s = comm_s_;
    if (wait) *wait = wait_s_;
    comm_s_ = wait_s_ = 0;
    return s;
}

static float *stage(size_t n) {
    if (n > stage_n_) {
        float *p = realloc(stage_, sizeof(float) * n);
        if (!p) {
            DERR("out of host memory for an all-reduce of %zu numbers\n", n);
            return NULL;
        }
        stage_ = p, stage_n_ = n;
    }
    return stage_;
}

#ifdef EBM_HAVE_MPI
int dist_built(void) { return 1; }

/* started by a launcher: Open MPI's mpirun, Hydra (MPICH), PMIx or Slurm's srun */
static int launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static int mpi_ok(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return 1;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    DERR("rank %d: MPI %s: %s\n", rank_, what, msg);
    return 0;
}

int dist_init(int *argc, char ***argv) {
    if (inited_ || !launched()) return 1;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        DERR("MPI_Init failed\n");
        return 0;
    }
    inited_ = 1;
    /* errors come back as codes (a message, then MPI_Abort) instead of the default silent abort */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm local;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
        MPI_Comm_rank(local, &local_rank_);
        MPI_Comm_size(local, &local_size_);
        MPI_Comm_free(&local);
    }
    return 1;
}

void dist_finalize(void) {
    if (inited_) MPI_Finalize();
    inited_ = 0;
    free(stage_);
    stage_ = NULL, stage_n_ = 0;
}

void dist_abort(int code) {
    if (inited_ && size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

int dist_barrier(void) {
    if (size_ == 1) return 1;
    double t = now_s();
    int ok = mpi_ok(MPI_Barrier(MPI_COMM_WORLD), "barrier");
    comm_s_ += now_s() - t;
    return ok;
}

int dist_bcast_bytes(void *v, size_t n) {
    if (size_ == 1) return 1;
    double t = now_s();
    int ok = 1;
    for (size_t off = 0; ok && off < n; off += 1u << 30) {   /* MPI counts are ints */
        size_t m = n - off < (1u << 30) ? n - off : (1u << 30);
        ok = mpi_ok(MPI_Bcast((char *)v + off, (int)m, MPI_BYTE, 0, MPI_COMM_WORLD), "broadcast");
    }
    comm_s_ += now_s() - t;
    return ok;
}

int dist_bcast(float *v, size_t n) { return dist_bcast_bytes(v, sizeof(float) * n); }

/* n bytes between rank 0 and rank peer (> 0): to the root (peer sends, rank 0 receives) or from it;
 * other ranks do nothing */
static int root_p2p(void *v, size_t n, int peer, int to_root) {
    if (size_ == 1 || (rank_ != 0 && rank_ != peer)) return 1;
    int recv = (rank_ == 0) == to_root, other = rank_ == 0 ? peer : 0, tag = to_root ? 7 : 8;
    double t = now_s();
    int ok = 1;
    for (size_t off = 0; ok && off < n; off += 1u << 30) {   /* MPI counts are ints */
        size_t m = n - off < (1u << 30) ? n - off : (1u << 30);
        ok = recv ? mpi_ok(MPI_Recv((char *)v + off, (int)m, MPI_BYTE, other, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "receive")
                  : mpi_ok(MPI_Send((char *)v + off, (int)m, MPI_BYTE, other, tag, MPI_COMM_WORLD), "send");
    }
    comm_s_ += now_s() - t;
    return ok;
}

int dist_send_to_root(void *v, size_t n, int from) { return root_p2p(v, n, from, 1); }
int dist_root_send(void *v, size_t n, int to) { return root_p2p(v, n, to, 0); }

/* The sum over ranks of v (n floats) on every rank. Ordered: rank 0 gathers every rank's v and adds
 * them in rank order (((v0 + v1) + v2) + ...), then broadcasts: the same bits for a given rank count
 * whatever the library or network does. */
static int sum_floats(float *v, size_t n) {
    if (size_ == 1 || n == 0) return 1;
    if (!ordered_) {
        int ok = 1;
        for (size_t off = 0; ok && off < n; off += 1u << 28)
            ok = mpi_ok(MPI_Allreduce(MPI_IN_PLACE, v + off, (int)(n - off < (1u << 28) ? n - off : (1u << 28)), MPI_FLOAT, MPI_SUM,
                                      MPI_COMM_WORLD), "all-reduce");
        return ok;
    }
    if (n > (1u << 28) / (size_t)size_) {
        DERR("an ordered all-reduce of %zu numbers over %d ranks is too large for one gather: run with run.allreduce = mpi\n", n, size_);
        return 0;
    }
    float *all = NULL;
    if (rank_ == 0 && !(all = stage(n * (size_t)size_))) return 0;
    if (!mpi_ok(MPI_Gather(v, (int)n, MPI_FLOAT, all, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD), "gather")) return 0;
    if (rank_ == 0)
        for (int k = 1; k < size_; k++)
            for (size_t i = 0; i < n; i++) v[i] += all[(size_t)k * n + i];
    return mpi_ok(MPI_Bcast(v, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD), "broadcast");
}

int dist_sum(float *v, size_t n) {
    double t = now_s();
    int ok = sum_floats(v, n);
    comm_s_ += now_s() - t;
    return ok;
}

int dist_all(int ok) {
    if (size_ == 1) return ok;
    int in = ok ? 1 : 0, out = 0;
    double t = now_s();
    int r = mpi_ok(MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "all-reduce");
    comm_s_ += now_s() - t;
    return r && out;
}

/* What each rank is doing in an iteration's collectives: a gradient all-reduce of n numbers, or the
 * iteration's end (completed, diverged, or completed after skipping an all-reduce), and whether it
 * was asked to stop. Every rank learns every rank's header. */
enum { HDR_END_OK = -1, HDR_END_DIVERGED = -2, HDR_END_TAINTED = -3 };
static int exchange(long code, int stop, long *all) {
    long mine[2] = {code, stop};
    double t = now_s();
    int ok = mpi_ok(MPI_Allgather(mine, 2, MPI_LONG, all, 2, MPI_LONG, MPI_COMM_WORLD), "header exchange");
    wait_s_ += now_s() - t;
    return ok;
}

int dist_grad_hook(void *user, ebm_tensor_t *g) {
    (void)user;
    if (size_ == 1) return 1;
    size_t n = ebm_tensor_numel(g);
    /* the device's queued work (the backward pass) done first: it is compute, not communication */
    if (ebm_ctx_finish(ebm_tensor_ctx(g)) != EBM_OK) return -1;
    long *all = malloc(sizeof(long) * 2 * (size_t)size_);
    if (!all || !exchange((long)n, 0, all)) {
        free(all);
        return -1;
    }
    int same = 1;
    for (int k = 0; k < size_; k++)
        if (all[2 * k] != (long)n) {
            same = 0;
            if (all[2 * k] >= 0) {   /* all-reduces of different sizes: the methods' steps disagree */
                DERR("rank %d: a gradient all-reduce of %zu numbers met one of %ld on rank %d\n", rank_, n, all[2 * k], k);
                free(all);
                return -1;
            }
        }
    free(all);
    if (!same) {   /* another rank ended its iteration early: skip, the iteration is void */
        tainted_ = 1;
        return 0;
    }
    /* host-staged: OpenCL has no device-side collectives (the copies count as communication) */
    double t = now_s();
    float *h = malloc(sizeof(float) * n);
    int ok = h && ebm_tensor_read(g, h) == EBM_OK && sum_floats(h, n);
    if (ok) {
        float inv = 1.0f / (float)size_;   /* each rank's loss is a mean over its rows: the mean of the means */
        for (size_t i = 0; i < n; i++) h[i] *= inv;
        ok = ebm_tensor_write(g, h) == EBM_OK;
    }
    free(h);
    comm_s_ += now_s() - t;
    return ok ? 1 : -1;
}

int dist_iteration_end(int diverged, int *stop) {
    if (size_ == 1) {
        int v = diverged != 0;
        tainted_ = 0;
        return v;
    }
    long code = diverged ? HDR_END_DIVERGED : tainted_ ? HDR_END_TAINTED : HDR_END_OK;
    long *all = malloc(sizeof(long) * 2 * (size_t)size_);
    if (!all) return -1;
    for (;;) {   /* answer the others' remaining all-reduces until every rank is at its end */
        if (!exchange(code, *stop, all)) {
            free(all);
            return -1;
        }
        int ended = 1, void_ = 0, any_stop = 0;
        for (int k = 0; k < size_; k++) {
            ended &= all[2 * k] < 0;
            void_ += all[2 * k] == HDR_END_DIVERGED;   /* (a tainted rank implies a diverged one) */
            any_stop |= all[2 * k + 1] != 0;
        }
        if (ended) {
            free(all);
            tainted_ = 0;
            *stop = any_stop;
            return void_;
        }
        if (code == HDR_END_OK) code = HDR_END_TAINTED;   /* completed, but others are still stepping: void */
    }
}
#else
int dist_built(void) { return 0; }
int dist_init(int *argc, char ***argv) {
    (void)argc, (void)argv;
    return 1;
}
void dist_finalize(void) {
    free(stage_);
    stage_ = NULL, stage_n_ = 0;
}
void dist_abort(int code) { (void)code; }
int dist_barrier(void) { return 1; }
int dist_bcast_bytes(void *v, size_t n) { return (void)v, (void)n, 1; }
int dist_bcast(float *v, size_t n) { return (void)v, (void)n, 1; }
int dist_send_to_root(void *v, size_t n, int from) { return (void)v, (void)n, (void)from, 1; }
int dist_root_send(void *v, size_t n, int to) { return (void)v, (void)n, (void)to, 1; }
int dist_sum(float *v, size_t n) { return (void)v, (void)n, 1; }
int dist_all(int ok) { return ok; }
int dist_grad_hook(void *user, ebm_tensor_t *g) { return (void)user, (void)g, 1; }
int dist_iteration_end(int diverged, int *stop) {
    (void)stop;
    (void)tainted_, (void)inited_, (void)stage, (void)now_s, (void)wait_s_;
    return diverged != 0;
}
#endif
