/* bench/cpu_peak.c: this host's measured FP32 peak, for the fraction-of-peak columns of the CPU
 * benchmarks. `ebm devices` estimates a CPU device's peak as cores x the clock the OS reports x FMA
 * lanes x 2; on a VM whose cores boost past the reported clock (or that share them) the estimate
 * can be far off, and a benchmark can read above 100% of it. This measures instead: one thread per
 * online core, each running independent chains of fused multiply-adds, three rounds at each vector
 * width the host has from the widest down (AVX-512, AVX2 with FMA; else SSE multiply-add), and
 * prints the sum over the threads in GFLOP/s (an FMA counts as 2 FLOP) of the fastest round.
 *
 *   build/bench_cpu_peak [-s SECONDS] [-t THREADS] [-q]
 *
 * -s: the three rounds of one width take about SECONDS (default 1); -t: threads (default: cores).
 * -q prints only the number (bench/workloads.sh passes it to bench_workloads as EBM_PEAK_GFLOPS for
 * the CPU devices). */
#include <errno.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define X86 1
#else
#define X86 0
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHAINS 12   /* independent accumulators: FMA latency 4-5 cycles x 2 pipes, with room */

/* One body per vector width: CHAINS independent chains of acc = acc * m + a, `reps` times (the
 * intrinsics, since C11 mode does not contract a * b + c into an FMA). The sum is returned so the
 * compiler keeps the work. */
#define FMA_BODY(V, SET1, FMA, STORE, LANES)                                                        \
    V m = SET1(0.999999f), a = SET1(1e-7f);                                                         \
    V c0 = SET1(1.000f), c1 = SET1(1.001f), c2 = SET1(1.002f), c3 = SET1(1.003f);                   \
    V c4 = SET1(1.004f), c5 = SET1(1.005f), c6 = SET1(1.006f), c7 = SET1(1.007f);                   \
    V c8 = SET1(1.008f), c9 = SET1(1.009f), c10 = SET1(1.010f), c11 = SET1(1.011f);                 \
    for (long r = 0; r < reps; r++) {                                                               \
        c0 = FMA(c0, m, a), c1 = FMA(c1, m, a), c2 = FMA(c2, m, a), c3 = FMA(c3, m, a);             \
        c4 = FMA(c4, m, a), c5 = FMA(c5, m, a), c6 = FMA(c6, m, a), c7 = FMA(c7, m, a);             \
        c8 = FMA(c8, m, a), c9 = FMA(c9, m, a), c10 = FMA(c10, m, a), c11 = FMA(c11, m, a);         \
    }                                                                                               \
    V all[CHAINS] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11};                             \
    float s = 0, t[LANES];                                                                          \
    for (int c = 0; c < CHAINS; c++) {                                                              \
        STORE(t, all[c]);                                                                           \
        for (int e = 0; e < LANES; e++) s += t[e];                                                  \
    }                                                                                               \
    return s;

#if X86
__attribute__((target("avx512f,fma"))) static float run512(long reps) {
    FMA_BODY(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps, 16)
}
__attribute__((target("avx2,fma"))) static float run256(long reps) {
    FMA_BODY(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps, 8)
}
/* SSE: a multiply and an add, also 2 FLOP a lane */
#define MULADD128(x, y, z) _mm_add_ps(_mm_mul_ps(x, y), z)
static float run128(long reps) { FMA_BODY(__m128, _mm_set1_ps, MULADD128, _mm_storeu_ps, 4) }
#else
/* elsewhere: 4-lane vectors of the compiler's generic kind, a multiply and an add */
typedef float v4 __attribute__((vector_size(16)));
static v4 set1_4(float x) { return (v4){x, x, x, x}; }
static void store4(float *t, v4 v) { memcpy(t, &v, sizeof v); }
#define MULADD4(x, y, z) ((x) * (y) + (z))
static float run128(long reps) { FMA_BODY(v4, set1_4, MULADD4, store4, 4) }
static float run512(long reps) { return run128(reps); }
static float run256(long reps) { return run128(reps); }
#endif

typedef struct {
    int lanes;
    long reps;
    double seconds;
    volatile float sink;   /* the result, stored so the work is kept */
} job_t;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static float run(int lanes, long reps) {
    return lanes == 16 ? run512(reps) : lanes == 8 ? run256(reps) : run128(reps);
}

static void *worker(void *p) {
    job_t *j = p;
    double t0 = now();
    j->sink = run(j->lanes, j->reps);
    j->seconds = now() - t0;
    return NULL;
}

/* GFLOP/s of nt threads each running reps steps at the given width */
static double measure(int nt, int lanes, long reps) {
    job_t jobs[256];
    pthread_t th[256];
    for (int i = 0; i < nt; i++) {
        jobs[i] = (job_t){lanes, reps, 0, 0};
        if (pthread_create(&th[i], NULL, worker, &jobs[i])) {
            fprintf(stderr, "bench_cpu_peak: cannot start thread %d: %s\n", i, strerror(errno));
            exit(1);
        }
    }
    double slowest = 0;
    for (int i = 0; i < nt; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].seconds > slowest) slowest = jobs[i].seconds;
    }
    return (double)nt * reps * CHAINS * lanes * 2.0 / slowest * 1e-9;
}

static long parse_long(const char *s, const char *what, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "bench_cpu_peak: %s must be an integer in [%ld, %ld], got '%s'\n", what, lo, hi, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    double seconds = 1.0;
    long nt = sysconf(_SC_NPROCESSORS_ONLN);
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-q")) quiet = 1;
        else if (!strcmp(argv[i], "-s") && i + 1 < argc) seconds = (double)parse_long(argv[++i], "-s", 1, 60);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) nt = parse_long(argv[++i], "-t", 1, 256);
        else {
            fprintf(stderr, "usage: %s [-s SECONDS] [-t THREADS] [-q]\n", argv[0]);
            return 2;
        }
    }
    if (nt < 1) nt = 1;
    if (nt > 256) nt = 256;
    int lanes = 4;
#if X86
    __builtin_cpu_init();
    lanes = __builtin_cpu_supports("avx512f") ? 16 : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 8 : 4;
#endif
    /* size the rounds: reps for about seconds/3 each, from a short calibration on one thread */
    long reps = 1 << 20;
    double t0 = now();
    volatile float sink = run(lanes, reps);   /* used, so the call is made */
    double dt = now() - t0;
    (void)sink;
    if (dt > 0) reps = (long)(reps * (seconds / 3) / dt);
    if (reps < 1000) reps = 1000;
    /* every width the host has from the widest down: some cores run the widest slower (a VM's host
     * may split 512-bit FMAs, or lower the clock for them); the peak is the fastest */
    double best = 0;
    int best_lanes = lanes;
    for (int l = lanes;; l /= 2) {   /* the same FLOP per round at every width */
        for (int round = 0; round < 3; round++) {
            double g = measure((int)nt, l, reps * (lanes / l));
            if (!quiet) fprintf(stderr, "  %2d-lane FMA, round %d: %.1f GFLOP/s\n", l, round + 1, g);
            if (g > best) best = g, best_lanes = l;
        }
        if (l <= 8) break;
    }
    if (quiet)
        printf("%.1f\n", best);
    else
        printf("FP32 peak measured: %.1f GFLOP/s (%ld threads, %d-lane FMA, %d chains each, the best round)\n", best, nt,
               best_lanes, CHAINS);
    return 0;
}
