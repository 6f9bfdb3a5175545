/* internal.h — structures shared by the engine's source files. Not installed. */
#ifndef EBM_INTERNAL_H
#define EBM_INTERNAL_H

#include <CL/cl.h>
#include <stdint.h>
#include <stdlib.h>
#include "ebm.h"

/* Internal invariant: a broken one is a bug in libebm, reported and aborted on. */
#define EBM_ASSERT(x)                                                                         \
    do {                                                                                      \
        if (!(x)) ebm_assert_fail(#x, __FILE__, __LINE__);                                    \
    } while (0)
void ebm_assert_fail(const char *expr, const char *file, int line);

/* ---- environment knobs, read once (env.c) ---- */
typedef struct ebm_env {
    const char *device;        /* EBM_DEVICE */
    const char *cl_dir;        /* EBM_CL_DIR: load kernel sources from disk */
    int cache_off;             /* EBM_KERNEL_CACHE=off|0 */
    char cache_dir[1024];      /* EBM_KERNEL_CACHE=<dir>, else $XDG_CACHE_HOME/ebm-cl, ~/.cache/ebm-cl */
    int cache_debug;           /* EBM_KERNEL_CACHE_DEBUG=1 */
    int profile;               /* EBM_PROFILE=1: time kernels; 2: also a table per kernel at ebm_ctx_free; 3: per
                                  kernel and NDRange */
    const char *build_options; /* EBM_CL_OPTIONS: extra compiler options (e.g. fast math, opt-in) */
    int gemm;                  /* EBM_GEMM: 0 auto (measure per shape), 1 clblast, 2 tile */
    int conv;                  /* EBM_CONV: 0 auto (measure per shape), 1 im2col+GEMM, 2 FFT where applicable, 3 tile path */
    size_t max_work_group;     /* EBM_MAX_WORK_GROUP: work-group size limit below the device's (0: none) */
    size_t max_local_mem;      /* EBM_MAX_LOCAL_MEM: local-memory limit in bytes below the device's (0: none) */
    const char *breaks;        /* EBM_BREAK: comma-separated kernel files (gemm.cl) and libraries (clblast,
                                * clfft) made to fail as a compiler that rejects them would (tests) */
    int exact_buffers;         /* EBM_EXACT_BUFFERS=1: a buffer of exactly its size per tensor, for memory checkers;
                                * =retire (2): also kept until the context ends (tensor.c) */
    int tile_rows;             /* EBM_TILE_ROWS=6|8: rows of cl/gemm.cl's register tile (0: per device) */
    int fwd_panels;            /* EBM_FWD_PANELS=1|2: panels per implicit-forward work-group (0: per device) */
    int fwd_items;             /* EBM_FWD_ITEMS=one|tiles: work items per implicit-forward and weight-gradient
                                * work-group, one or one per row tile (1, 2; 0: per device) */
    int igrad_items;           /* EBM_IGRAD_ITEMS=one|tiles: the same for the implicit input gradients */
    int igrad_zload;           /* EBM_IGRAD_ZLOAD=vectors|runs: how they read z where f' is fused (1, 2; 0: per device) */
    int gemm_panels;           /* EBM_GEMM_PANELS=1|2: panels per gemm_tile work item and conv_implicit_wgrad
                                * work-group (0: per device) */
    int igrad_panels;          /* EBM_IGRAD_PANELS=1|2: panels per conv_implicit_igrad2 work-group (0: per device) */
    int igrad_pack;            /* EBM_TILE_IGRAD_B=packed: the tile path's input gradients pack the output gradient
                                * into panels also where the GEMM could read it in place (inplace, the default) */
    int clblast_tuned_off;     /* EBM_CLBLAST_TUNED=off|0: CLBlast's tuned parameters ignored (ops/clblast_tuned.c) */
    int reduce_lanes;          /* EBM_REDUCE_LANES=1|16: items of the long reduction per work item (reduce_lanes: 16) (0: per device) */
    int stream_stores;         /* EBM_STREAM_STORES=off|large|all: which launches of the tile kernels store their
                                * outputs with a non-temporal hint (cl/gemm.cl STORE16_STREAM): none, those that
                                * write more than EBM_STREAM_MIN_BYTES, every one (1, 2, 3; 0: per device) */
    int prefetch;              /* EBM_PREFETCH=off|on: the implicit convolutions ask for the lines they will read
                                * next (cl/gemm.cl PREFETCH) (1, 2; 0: per device) */
    int first_order_off;       /* EBM_FIRST_ORDER=off: ebm_grad_set_first_order changes nothing (z kept) */
    int log_level;             /* EBM_LOG=debug|info|warn|error: the least level the default logger prints */
} ebm_env_t;
/* Whether EBM_BREAK names `what` (a kernel file or a library). */
int ebm_env_breaks(const char *what);
const ebm_env_t *ebm_env(void);

/* ---- kernels: one table, looked up by enum ---- */
typedef enum ebm_kernel_id {
#define EBM_KERNEL(id, file, name) id,
#include "kernels.def"
#undef EBM_KERNEL
    EBM_K_COUNT
} ebm_kernel_id_t;

/* measured algorithm choices (linalg.c, conv.c), persisted per device by choices.c */
struct ebm_gemm_choice {
    size_t m, n, k, batch;
    int ta, tb, algo;   /* algo 1 CLBlast, 2 tile */
};

typedef struct {
    int N, C, H, W, O, KH, KW, Ho, Wo;
    ebm_conv2d_params_t p;
} ebm_conv_geom_t;

#define EBM_CONV_KINDS 5
struct ebm_conv_choice {
    ebm_conv_geom_t g;
    int kind, algo;     /* kind 0 forward, 1 input-grad, 2 weight-grad, 3 forward with bias and/or activation,
                           4 input-grad times its input's activation derivative (EBM_CONV_KINDS kinds);
                           algo 1 im2col+GEMM, 2 FFT, 3 tile path, 4 implicit path */
};

/* The choices saved for this device: loaded at context creation, and saved as soon as one is
 * measured (and at ebm_ctx_free, when an algorithm was found unavailable), merged with the file as
 * it is then: an entry another process saved first wins, in the file and in this context, so every
 * process on a machine runs the same algorithm for a shape and its results do not depend on which
 * process measured (a resumed run ends bit-identical to one never stopped). */
/* FNV-1a over a string's bytes, from h (EBM_FNV_START to begin): the keys of the per-device files
 * next to the kernel cache (choices.c, ops/clblast_tuned.c) */
#define EBM_FNV_START 14695981039346656037ULL
static inline uint64_t ebm_fnv1a(uint64_t h, const char *s) {
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}
void ebm_choices_load(ebm_ctx_t *ctx);
/* CLBlast's parameters tuned for the device (ops/clblast_tuned.c): loaded with the context, handed
 * to CLBlast before its first GEMM in the context, freed with it; the hash (0: none) keys the
 * choices file */
enum { EBM_CLBLAST_MAX_PARAMS = 24, EBM_CLBLAST_NAME_LEN = 24 };
struct ebm_clblast_set {
    char kernel[EBM_CLBLAST_NAME_LEN];   /* CLBlast's database name: Xgemm, XgemmDirect, Copy, ... */
    double ms;                           /* the tuner's best time (information only) */
    int n;
    char names[EBM_CLBLAST_MAX_PARAMS][EBM_CLBLAST_NAME_LEN];
    size_t values[EBM_CLBLAST_MAX_PARAMS];
    char source[1024];                   /* the file it came from (import) */
};
/* A line of the device's file ("KERNEL MS NAME=VALUE ...") into s: NULL, or why not */
const char *ebm_clblast_parse_line(const char *line, struct ebm_clblast_set *s);
/* A tuner's JSON result (text[0..len)) into s: EBM_OK; EBM_STATUS_INVALID_ARGUMENT where it was tuned
 * on another device than device_name; EBM_STATUS_FORMAT where it is not a usable result (why: which) */
ebm_status_t ebm_clblast_parse_result(const char *text, size_t len, const char *device_name, struct ebm_clblast_set *s,
                                      char *why, size_t whyn);
void ebm_clblast_tuned_load(ebm_ctx_t *ctx);
void ebm_clblast_tuned_apply(ebm_ctx_t *ctx);
void ebm_clblast_tuned_free(ebm_ctx_t *ctx);
uint64_t ebm_clblast_tuned_hash(const ebm_ctx_t *ctx);
/* C = alpha op(A) op(B) + beta C through CLBlast (row-major; batch > 1: strided batches) */
ebm_status_t ebm_gemm_clblast(ebm_ctx_t *ctx, int ta, int tb, size_t m, size_t n, size_t k, float alpha, cl_mem a,
                              size_t a_off, size_t lda, size_t a_stride, cl_mem b, size_t b_off, size_t ldb, size_t b_stride,
                              float beta, cl_mem c, size_t c_off, size_t ldc, size_t c_stride, size_t batch);
/* mkdir -p: 0, or -1 with errno */
int ebm_mkdir_p(const char *path);
/* The whole file at path, NUL-terminated (*len bytes before the NUL), read to its end (also a pipe);
 * NULL with why in err (errn > 0: "PATH: ...") where it cannot be opened or read, or holds more than
 * max bytes (max < SIZE_MAX / 4) */
char *ebm_read_file(const char *path, size_t max, size_t *len, char *err, size_t errn);
void ebm_choices_save(ebm_ctx_t *ctx);
/* The remembered choice for a GEMM (q's sizes and transposes) or a convolution (NULL: none yet). */
struct ebm_gemm_choice *ebm_gemm_choice_find(ebm_ctx_t *ctx, const struct ebm_gemm_choice *q);
struct ebm_conv_choice *ebm_conv_choice_find(ebm_ctx_t *ctx, int kind, const ebm_conv_geom_t *g);
/* A measured choice, remembered and saved at once: the algorithm to run, which is the file's where
 * another process saved one first (0: out of host memory, the context failed). */
int ebm_choices_record_gemm(ebm_ctx_t *ctx, const struct ebm_gemm_choice *q);
int ebm_choices_record_conv(ebm_ctx_t *ctx, int kind, const ebm_conv_geom_t *g, int algo);

/* Algorithms an op can choose between. One that cannot be built or run on a device (a kernel the
 * compiler rejects, a library that fails) is marked unavailable there, with one warning line, and
 * the op uses the next; marks from build and library failures are saved with the choices. */
#define EBM_ALGOS(X)                                                   \
    X(EBM_ALGO_GEMM_CLBLAST, "gemm:clblast", "GEMM through CLBlast")   \
    X(EBM_ALGO_GEMM_TILE, "gemm:tile", "GEMM tile kernel (gemm.cl)")   \
    X(EBM_ALGO_CONV_IM2COL, "conv:im2col", "convolution im2col+GEMM") \
    X(EBM_ALGO_CONV_FFT, "conv:fft", "convolution through clFFT")      \
    X(EBM_ALGO_CONV_TILE, "conv:tile", "convolution tile path")          \
    X(EBM_ALGO_CONV_IMPLICIT, "conv:implicit", "convolution implicit path")
typedef enum ebm_algo {
#define EBM_ALGO_ENUM(id, key, label) id,
    EBM_ALGOS(EBM_ALGO_ENUM)
#undef EBM_ALGO_ENUM
    EBM_ALGO_COUNT
} ebm_algo_t;

int ebm_algo_available(const ebm_ctx_t *ctx, ebm_algo_t a);
/* Brackets one run of algorithm a: inside, build failures are logged quietly. try_end returns 1
 * when it ran; 0 when it failed for a reason of its own (a build, library or launch failure): the
 * algorithm is marked unavailable, one warning names device, algorithm and first compiler error,
 * the context's error is cleared and the caller tries the next; -1 when it failed for a reason no
 * other algorithm avoids (out of memory, a bad argument): the error stays. */
void ebm_algo_try_begin(ebm_ctx_t *ctx);
int ebm_algo_try_end(ebm_ctx_t *ctx, ebm_algo_t a);
/* Fails the op with a message listing why each of its algorithms is unavailable. */
ebm_status_t ebm_algo_none_left(ebm_ctx_t *ctx, const char *op, const ebm_algo_t *algos, int n);

struct ebm_kernel_variant {
    int id;
    char defines[96];
    cl_kernel k;
};

/* ---- kernel programs: every (cl file, -D defines) the engine builds (variants.c; gemm.cl one kernel per program) ---- */
#define EBM_MAX_PROGRAMS 512                       /* programs per context: gemm.cl builds one per kernel (device.c) */
#define EBM_FN_MAX_ORDER 3                          /* highest derivative order of enum ebm_fn */
#define EBM_UNARY_DEFINES "-DFN=fn_%s -DORDER=%d"   /* elementwise.cl unary, unary_mul: (ebm_fn_names[fn], order) */
extern const char *const ebm_fn_names[EBM_FN_COUNT];   /* the names of EBM_FNS (ebm_ops.h), ops/elementwise.c */
/* the unary defines of the longest name fit a buffer of this size, and struct ebm_kernel_variant */
#define EBM_FN_NAME_SIZE_(id, name) char id[sizeof name];
union ebm_fn_name_size { EBM_FNS(EBM_FN_NAME_SIZE_) };
#undef EBM_FN_NAME_SIZE_
#define EBM_UNARY_DEFINES_SIZE (sizeof "-DFN=fn_ -DORDER=9" - 1 + sizeof(union ebm_fn_name_size))
_Static_assert(EBM_FN_MAX_ORDER <= 9 && EBM_UNARY_DEFINES_SIZE <= sizeof ((struct ebm_kernel_variant *)0)->defines,
               "unary kernel defines longer than struct ebm_kernel_variant holds");
enum { EBM_OP_ADD = 0, EBM_OP_SUB, EBM_OP_MUL, EBM_OP_DIV, EBM_OP_COUNT };   /* = OP_* in cl/elementwise.cl */
#define EBM_BINARY_DEFINES "-DOP=%d"                /* elementwise.cl binary, binary_bcast: EBM_OP_* */
#define EBM_RB_U8_DEFINES "-DRB_U8"                 /* rng.cl rows_gather, rows_scatter: 8-bit replay storage */
/* Calls fn(file, defines, user) once per program the engine can build: each kernel file of
 * kernels.def with no defines (""), then each variant ebm_kernel_variant is asked for. A variant
 * missing here is an internal error (checked when it is first created). */
void ebm_kernel_variants_each(void (*fn)(const char *file, const char *defines, void *user), void *user);
int ebm_kernel_variant_listed(const char *file, const char *defines);
/* the cl/ file of kernel id (kernels.def) */
const char *ebm_kernel_file(ebm_kernel_id_t id);
/* Whether kernel id's file is built one kernel per program (cl/gemm.cl, device.c), and the defines
 * of the program that holds kernel id in the variant `defines` (NULL or "": none): defines itself,
 * or there defines and "-DONE_KERNEL -DONLY_<kernel name>" (in out) */
#define EBM_PROGRAM_DEFINES_SIZE 160
int ebm_kernel_one_per_program(ebm_kernel_id_t id);
const char *ebm_program_defines(ebm_kernel_id_t id, const char *defines, char out[EBM_PROGRAM_DEFINES_SIZE]);
/* The kernel source cl/<file> embedded at build time (NULL if none), its length in *len. */
const char *ebm_cl_embedded(const char *file, size_t *len);
/* A program of the engine as it is built (device.c): its text, malloc'd (common.cl, a #line, the
 * file, from EBM_CL_DIR or embedded; NULL with the reason in err), and its compiler options
 * (OpenCL C 1.2, EBM_WG, correctly rounded division where offered, the variant's defines, EBM_CL_OPTIONS). */
char *ebm_program_text(const char *file, size_t *len, char *err, size_t errn);
/* Hands the host heap's free pages back to the system (glibc's malloc_trim; nothing elsewhere)
 * after work that allocates much and frees it all: a program built from source (the OpenCL
 * compiler's memory, which CPU drivers allocate in this process) and an algorithm measurement
 * (every candidate's temporaries; PoCL compiles a kernel at its first launch). Only a first run,
 * with empty caches, does either. Its peak RSS on PoCL (2-core Xeon, 2026-12-07): fmnist-ms
 * 772-789 MiB without, 665-672 with; cifar32 1137 and 1034-1035. (Releasing the pool's cached buffers
 * after each measurement as well changed neither.) */
void ebm_host_trim(void);
void ebm_program_options(char *out, size_t n, size_t wg, int exact_div, int tile_rows, int stream_stores, int prefetch,
                         const char *defines);

/* ---- device buffers and the pool ---- */
typedef struct ebm_block {
    cl_mem mem;
    size_t bytes;
    int cls;
} ebm_block_t;

#define EBM_POOL_CLASSES 256
typedef struct ebm_pool {
    ebm_block_t **free_lists[EBM_POOL_CLASSES];
    int free_n[EBM_POOL_CLASSES], free_cap[EBM_POOL_CLASSES];
    size_t live_bytes, cached_bytes, n_allocs;
    size_t peak_live, peak_held;   /* high-water marks of live_bytes and of live_bytes + cached_bytes */
    cl_mem *retired;            /* EBM_EXACT_BUFFERS=retire: buffers no tensor uses, released with the context */
    int n_retired, cap_retired;
} ebm_pool_t;
/* clReleaseMemObject, except under EBM_EXACT_BUFFERS=retire: kept until the context ends (tensor.c) */
void ebm_buffer_release(ebm_ctx_t *ctx, cl_mem m);

/* ---- autograd node ---- */
struct ebm_node;
/* Computes gradients of the node's inputs from gy (shape of the output), using public ops, so the
 * result can itself be differentiated. need[i] says whether input i wants a gradient. */
typedef void (*ebm_backward_fn)(struct ebm_node *n, ebm_tensor_t *gy, const int *need, ebm_tensor_t **gx);

#define EBM_NODE_MAX_IN 4
typedef struct ebm_node {
    const char *name;
    ebm_backward_fn backward;
    int n_in;
    ebm_tensor_t *in[EBM_NODE_MAX_IN];
    unsigned char rg[EBM_NODE_MAX_IN];   /* input required a gradient when recorded */
    ebm_tensor_t *out;
    int ip[16];
    float fp[4];
    unsigned char first_order;   /* its rule gives first derivatives only: no graph of its gradient (ebm_grad) */
} ebm_node_t;

/* A backward rule's chance to apply, itself, the derivative that the activation which made its input
 * i would apply next: the gradient it returns for input i may be gx * f'(x), taken as the gradient
 * of x (the activation's input) and the activation's own rule skipped. Offered by ebm_grad without
 * a graph only (the fused result has no graph), when input i is f(x) (ebm_unary, order 0), has no
 * other consumer and is not a requested input; a rule that can fuse calls ebm_grad_fuse_take. */
typedef struct { struct ebm_tensor *x; int fn; float a, b; } ebm_grad_fuse_t;
const ebm_grad_fuse_t *ebm_grad_fuse_offer(ebm_ctx_t *ctx, int i);
void ebm_grad_fuse_take(ebm_ctx_t *ctx, int i);
/* n is an activation y = f(x) (ebm_unary of order 0): its backward as a fusion offer */
int ebm_node_unary(const struct ebm_node *n, ebm_grad_fuse_t *f);

struct ebm_tensor {
    ebm_ctx_t *ctx;
    int ndim;
    int shape[EBM_MAX_DIMS];
    size_t numel;
    cl_mem buf;
    size_t off;              /* in floats */
    ebm_block_t *block;      /* owned pool block, or NULL for views */
    ebm_tensor_t *base;      /* storage owner for views */
    ebm_node_t *node;        /* producing op, NULL for leaves */
    unsigned requires_grad : 1, is_param : 1, keep : 1, persistent : 1;
    int scope, scope_slot;
    /* autograd traversal scratch (valid while gen == ctx->grad_gen) */
    unsigned gen;
    int state;               /* 0 unvisited, 1 needed, 2 not needed */
    unsigned in_gen;         /* == gen: t is one of the requested inputs */
    ebm_tensor_t *acc;       /* accumulated gradient */
    int acc_refs;            /* storage owners: how many tensors' acc hold it (ebm_grad without a graph) */
    int n_cons;              /* needed nodes that take t as an input (each slot counted) */
};

typedef struct ebm_scope_list {
    ebm_tensor_t **items;
    int n, cap;
} ebm_scope_list_t;

#define EBM_MAX_SCOPES 64

struct ebm_ctx {
    ebm_device_info_t info;
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    size_t wg_size;          /* work-group size of 1-D launches, EBM_WG in kernels: a power of two <= 256 */
    struct ebm_kernel_wg { cl_kernel k; size_t wg; } *small_wg;   /* kernels that allow less than wg_size */
    int n_small_wg, cap_small_wg;
    int exact_div;           /* device offers correctly rounded float division and sqrt (built with them) */
    int tile_rows;           /* rows of cl/gemm.cl's register tile, EBM_TILE_ROWS in kernels: 6 or 8 */
    int fwd_panels;          /* panels per conv_implicit_fwd work-group where they fit in local memory: 1 or 2 */
    int fwd_items;           /* work items per conv_implicit_fwd and conv_implicit_wgrad work-group: 1 one (it walks
                              * every row tile), 2 one per row tile */
    int igrad_items;         /* the same for conv_implicit_igrad and conv_implicit_igrad2 (their tiles: of input channels) */
    int igrad_zload;         /* their fused f'(z): z read as vectors kept on each run's lanes (1) or run by run through a
                              * private array (2): cl/gemm.cl IGRAD_STORE_ROW */
    int gemm_panels;         /* 16-column panels per gemm_tile work item and conv_implicit_wgrad work-group: 1 or 2 */
    int igrad_panels;        /* panels per conv_implicit_igrad2 work-group where they fit in local memory: 1 or 2 */
    int reduce_lanes;        /* items of the long reduction per work item: 1 (cl/reduce.cl's reduce) or 16 (reduce_lanes) */
    int stream_stores;       /* which tile-kernel launches stream their stores: 0 none, 1 those writing more than
                              * EBM_STREAM_MIN_BYTES, 2 all (ebm_stream_stores; kernels built with EBM_STREAM_STORES=1
                              * where not 0) */
    int prefetch;            /* the implicit convolutions' software prefetches (cl/gemm.cl PREFETCH): 1 on CPU devices
                              * but Oclgrind unless EBM_PREFETCH says otherwise, never on others; kernels built
                              * with EBM_PREFETCH=1 */
    int simulated;           /* Oclgrind, a simulator: an algorithm measurement runs each candidate once, because
                              * its times say nothing of hardware and every run costs seconds there, and no
                              * choices file is read or written (choices.c) */
    cl_program programs[EBM_MAX_PROGRAMS];
    const char *program_names[EBM_MAX_PROGRAMS];
    char *program_options[EBM_MAX_PROGRAMS];
    int n_programs;
    cl_kernel kernels[EBM_K_COUNT];
    struct ebm_kernel_variant *variants;
    int n_variants, cap_variants;
    ebm_pool_t pool;
    ebm_scope_list_t scopes[EBM_MAX_SCOPES + 1];   /* [0] = outside any scope */
    int depth;
    int grad_enabled;
    int first_order;         /* ebm_grad_set_first_order: activations fused into a convolution keep f'(z) for
                              * the backward in place of z (ops/conv.c), where EBM_FIRST_ORDER allows it */
    int params_frozen;
    unsigned grad_gen;
    ebm_grad_fuse_t grad_fuse[EBM_NODE_MAX_IN];   /* the node now running backward: offers (x != NULL) */
    int grad_fused[EBM_NODE_MAX_IN];              /* and the ones its rule took */
    ebm_status_t status;
    char errmsg[2048];
    int profile;
    int guards;              /* debug: sentinel floats after every tensor (ebm_debug_set_guards) */
    struct ebm_gemm_choice *gemm_choices;   /* measured fastest GEMM per shape (linalg.c) */
    int n_gemm_choices, cap_gemm_choices;
    struct ebm_conv_choice *conv_choices;   /* measured fastest convolution algorithm (conv.c) */
    int n_conv_choices, cap_conv_choices;
    int choices_dirty;                      /* a new choice since loading: saved by ebm_ctx_free */
    uint64_t programs_hash;                 /* the algorithms' programs' text, hashed once for the file's key
                                             * (0: not yet; choices.c) */
    unsigned algo_unavailable;              /* bit per ebm_algo_t: cannot run on this device */
    unsigned algo_saved;                    /* ... of which these are saved with the choices */
    char algo_reason[EBM_ALGO_COUNT][200];  /* why, for messages */
    int algo_trying;                        /* depth of ebm_algo_try_begin */
    struct ebm_fft_plan *fft_plans;         /* baked clFFT plans (fftconv.c) */
    int n_fft_plans, cap_fft_plans, fft_ready;
    int clblast_used;                       /* this context counts in linalg.c's clblast_users */
    struct ebm_clblast_tuned *clblast_tuned;   /* the device's tuned CLBlast parameters (clblast_tuned.c) */
    cl_event *events;
    const char **event_names;
    int n_events, cap_events;
    unsigned long launches;   /* kernels and copies enqueued (a CLBlast or clFFT call once): ebm_ctx_launches */
    double profile_ms;
    struct ebm_prof_entry *prof_table;   /* EBM_PROFILE=2, 3: time per kernel name (3: with its NDRange) */
    int n_prof, cap_prof;
    char **prof_labels;                  /* EBM_PROFILE=3: the names with their NDRanges, each once */
    int n_prof_labels, cap_prof_labels;
};

/* Doubles a growable array (capacity *cap, at least `initial`): returns the new array, or NULL
 * (the old array and *cap untouched) when memory runs out. Call when the array is full. */
void *ebm_grow_array(void *items, int *cap, size_t elem, int initial);

/* The first Philox block of r's draw of n numbers on the device (a partitioned stream: its part's,
 * ebm_rng.h), advancing r past the draw; 0 after ebm_fail when the part does not start at a block. */
int ebm_rng_claim(ebm_ctx_t *ctx, ebm_rng_t *r, size_t n, uint64_t *start);

/* ---- errors ---- */
/* Records the first error on ctx (sticky), logs it, returns st. */
ebm_status_t ebm_fail(ebm_ctx_t *ctx, ebm_status_t st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
ebm_status_t ebm_cl_fail(ebm_ctx_t *ctx, cl_int err, const char *what);
/* A library's (CLBlast's, clFFT's) error code: OpenCL codes by name; out-of-memory codes as
 * EBM_STATUS_OUT_OF_MEMORY, every other as EBM_STATUS_BLAS (the library cannot run here). */
ebm_status_t ebm_lib_fail(ebm_ctx_t *ctx, int code, const char *what);
#define EBM_CL(ctx, call)                                                                     \
    do {                                                                                      \
        cl_int ebm_err_ = (call);                                                             \
        if (ebm_err_ != CL_SUCCESS) return ebm_cl_fail((ctx), ebm_err_, #call);               \
    } while (0)

/* ---- kernels ---- */
cl_kernel ebm_kernel(ebm_ctx_t *ctx, ebm_kernel_id_t id);
/* A variant of a kernel compiled with extra -D options (e.g. "-DFN=7 -DORDER=1"); cached per
 * (kernel, options), the program per (file, options). */
cl_kernel ebm_kernel_variant(ebm_ctx_t *ctx, ebm_kernel_id_t id, const char *defines);
/* The kernel id, or (fn >= 0) its variant built for the scalar function fn, which the kernel applies
 * as it stores (an activation, or its derivative: gemm.cl, conv.cl). */
cl_kernel ebm_kernel_fn(ebm_ctx_t *ctx, ebm_kernel_id_t id, int fn);
/* The variant of id built for the order-th derivative of fn (EBM_UNARY_DEFINES; fn >= 0) */
cl_kernel ebm_kernel_fn_order(ebm_ctx_t *ctx, ebm_kernel_id_t id, int fn, int order);
/* Sets arguments from a format: m cl_mem, i int, u uint, l ulong (size_t), f float. */
ebm_status_t ebm_kargs(ebm_ctx_t *ctx, cl_kernel k, const char *fmt, ...);
/* The work-group size for k: wg_size, or the largest power of two the kernel allows when it
 * allows less (CL_KERNEL_WORK_GROUP_SIZE). Kernels with local buffers of EBM_WG use this many. */
size_t ebm_kernel_wg(const ebm_ctx_t *ctx, cl_kernel k);
ebm_status_t ebm_launch1(ebm_ctx_t *ctx, cl_kernel k, size_t n);
/* n floats of buf from element off set to value (ebm_tensor_fill's kernel; part of a buffer) */
ebm_status_t ebm_fill_range(ebm_ctx_t *ctx, cl_mem buf, size_t off, size_t n, float value);
/* 3-D launch over (n0, n1, n2) work items; the kernel guards its own bounds. */
ebm_status_t ebm_launch3(ebm_ctx_t *ctx, cl_kernel k, size_t n0, size_t n1, size_t n2);
ebm_status_t ebm_launch_groups(ebm_ctx_t *ctx, cl_kernel k, size_t n_groups, size_t local);
/* An event slot for the command about to be enqueued, attributed to `name` (NULL when not profiling). */
cl_event *ebm_profile_event(ebm_ctx_t *ctx, const char *name);
/* name, or with EBM_PROFILE=3 "name [g0 x g1 x g2]" (the global NDRange of dims dimensions) and, where
 * given, " rows=R" (the output rows of a convolution's work-groups: layers with one NDRange apart), for
 * ebm_profile_event */
const char *ebm_profile_label(ebm_ctx_t *ctx, const char *name, int dims, const size_t *global, int rows);

/* ---- tensors ---- */
ebm_tensor_t *ebm_tensor_view(ebm_tensor_t *base, int ndim, const int *shape, size_t off);
ebm_tensor_t *ebm_tensor_like(ebm_tensor_t *x);
/* Zeros outside every scope (lives until freed or ebm_ctx_free): parameter, optimizer and buffer state. */
ebm_tensor_t *ebm_tensor_zeros_unscoped(ebm_ctx_t *ctx, int ndim, const int *shape);
int ebm_tensor_live_requires_grad(const ebm_tensor_t *t);
int ebm_shape_eq(int na, const int *a, int nb, const int *b);
size_t ebm_shape_numel(int ndim, const int *shape);

/* ---- autograd recording ---- */
/* Returns a node attached to `out` when any of the inputs needs a gradient, else NULL. */
ebm_node_t *ebm_record(ebm_tensor_t *out, const char *name, ebm_backward_fn bw, int n_in, ebm_tensor_t *const *in);
/* records y = f(x), computed by another kernel (ops/conv.c: the GEMM epilogue), as ebm_unary's node */
void ebm_record_unary(ebm_tensor_t *y, ebm_tensor_t *x, ebm_fn_t fn, float a, float b);
/* the same with d = f'(z) kept in place of z: first derivatives only (ebm_grad_set_first_order) */
void ebm_record_unary_first_order(ebm_tensor_t *y, ebm_tensor_t *d);
/* gx += g (g may be NULL); returns the sum */
ebm_tensor_t *ebm_accumulate(ebm_tensor_t *acc, ebm_tensor_t *g);

/* ---- BLAS ---- */
ebm_status_t ebm_gemm(ebm_ctx_t *ctx, int ta, int tb, size_t m, size_t n, size_t k, float alpha,
                      cl_mem a, size_t a_off, size_t lda, size_t a_stride,
                      cl_mem b, size_t b_off, size_t ldb, size_t b_stride, float beta,
                      cl_mem c, size_t c_off, size_t ldc, size_t c_stride, size_t batch);
/* At context end: CLBlast's program cache is cleared when the last context that used it ends. */
void ebm_clblast_release(ebm_ctx_t *ctx);

/* Whether a tile-kernel launch that writes `bytes` of output (its z included) streams its stores
 * (cl/gemm.cl STORE16_STREAM): per ctx->stream_stores, by default on CPU devices where it writes
 * more than EBM_STREAM_MIN_BYTES. */
#define EBM_STREAM_MIN_BYTES ((size_t)16 << 20)
int ebm_stream_stores(const ebm_ctx_t *ctx, size_t bytes);
/* The tiled GEMM on pre-packed B panels (cl/gemm.cl; layouts and splits documented there). */
ebm_status_t ebm_gemm_tile_packed(ebm_ctx_t *ctx, size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off,
                                  int sai, int sal, int lsplit, int sln, size_t a_stride, cl_mem bp, size_t bp_off,
                                  size_t bp_stride, int kpanel, float beta, cl_mem c, size_t c_off, int ldc, int csplit,
                                  int cjn, size_t c_stride, size_t batch);
/* The tile GEMM's epilogue (beta 0): C = f(alpha A B + bias[row]), Z = alpha A B + bias[row] (cl/gemm.cl).
 * bias (per row of C) when bias != NULL; Z (laid out as C) when z != NULL, or f'(Z) in its place
 * where z_deriv (an activation's derivative kept for a first-order graph); f = fn (with a, b) when
 * fn >= 0, else the identity. */
typedef struct ebm_gemm_epilogue {
    cl_mem bias;
    size_t bias_off;
    cl_mem z;
    size_t z_off;
    int fn;
    float a, b;
    int z_deriv;
} ebm_gemm_epilogue_t;
ebm_status_t ebm_gemm_tile_packed_epi(ebm_ctx_t *ctx, size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off,
                                      int sai, int sal, int lsplit, int sln, size_t a_stride, cl_mem bp, size_t bp_off,
                                      size_t bp_stride, int kpanel, cl_mem c, size_t c_off, int ldc, int csplit, int cjn,
                                      size_t c_stride, size_t batch, const ebm_gemm_epilogue_t *epi);
/* The tiled GEMM reading B in place, unpacked: B(l, j) = B[b_off + (j / bsplit)*bjn + j % bsplit +
 * l*bls], bsplit and n multiples of 16 (one batch; A and C as in ebm_gemm_tile_packed, lsplit = k). */
typedef struct ebm_b_inplace {
    int bsplit;
    size_t bjn;
    int bls;
} ebm_b_inplace_t;
ebm_status_t ebm_gemm_tile_inplace(ebm_ctx_t *ctx, size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off, int sai,
                                   int sal, cl_mem b, size_t b_off, const ebm_b_inplace_t *bi, float beta, cl_mem c,
                                   size_t c_off, int ldc, int csplit, int cjn);
/* Packs B(l, j) = B[b_off + l*sbl + (j / jsplit)*sjn + (j % jsplit)*sbj] into panels in dst. */
ebm_status_t ebm_pack_b(ebm_ctx_t *ctx, ebm_tensor_t *dst, cl_mem b, size_t b_off, int sbl, int sbj, size_t b_stride,
                        size_t k, size_t n, int jsplit, int sjn, size_t batch);

/* ---- strided copy (shape.c) ---- */
/* dst[d_off + sum i_k*d_str_k] = src[s_off + sum i_k*s_str_k] over a 4-D box. */
ebm_status_t ebm_copy_strided(ebm_ctx_t *ctx, const int *box, cl_mem dst, size_t d_off, const long *d_str,
                              cl_mem src, size_t s_off, const long *s_str);
void ebm_contig_strides(int ndim, const int *shape, long *str);

#endif
