/* fuzz_cli.c — the `ebm` program's command line (models/cli/ebm_main.c, compiled into this harness
 * unchanged): command dispatch, the options of train / sample / eval / score / devices, and what
 * each reads before a device would be opened — `train CONFIG --print-config` and `train CONFIG
 * --set ...` (the INI file and the overrides), `train --resume DIR` (the checkpoint's saved
 * config), `sample/eval/score RUN` (the checkpoint's config and --set overrides), `score RUN DATA`
 * (the data set), `devices --ids SEL,...` (selection and tags over a synthetic device list).
 *
 * ebm_main.c has no entry point but main() and calls straight into training and the OpenCL
 * runtime, so the harness renames, by macro, main and the functions that would open a device or
 * train (ebm_train, ebm_sample, ebm_eval, ebm_score, ebm_devices_list/print, ebm_ctx_*) to the stubs
 * below; the stubs do the reading that the real functions do first (open_checkpoint_with in commands.c:
 * ckpt_config, then the --set overrides; ebm_score: ebm_dataset_open) and stop there.
 *
 * Input: one argument per line up to an empty line (argv[1], argv[2], ...), then the text of the
 * file cfg.ini. The process works in its own folder, which holds run/ (a checkpoint of the default
 * config, images 1x28x28), toy/ (a 2-D toy run), pts.csv and cfg.ini; arguments that are absolute
 * paths or contain ".." are refused, so nothing outside that folder is read. */
#define main ebm_cli_main
#define ebm_train fuzz_train
#define ebm_sample fuzz_sample
#define ebm_eval fuzz_eval
#define ebm_score fuzz_score
#define ebm_devices_list fuzz_devices_list
#define ebm_devices_print fuzz_devices_print
#define ebm_ctx_create fuzz_ctx_create
#define ebm_ctx_free fuzz_ctx_free
#define ebm_ctx_device fuzz_ctx_device
int main(int argc, char **argv);
#include "../../models/cli/ebm_main.c"
#undef main

#include <fcntl.h>
#include <unistd.h>
#include "data.h"
#include "fuzz_common.h"
#include "fuzz_config_check.h"
#include "run.h"

/* the checkpoint's config and the overrides, as run_open_checkpoint_with reads them; 1 if accepted */
static int open_checkpoint(const char *path, const char *const *sets, int n_sets, int *ndim, int *shape) {
    ebm_config_t *cfg = ebm_train_config_new();
    char err[1024];
    int ok = cfg && ckpt_config(path, cfg, ndim, shape);
    FUZZ_CHECK(n_sets >= 0 && n_sets <= 32 && (n_sets == 0 || sets), "%d --set overrides", n_sets);
    if (ok) fuzz_config_roundtrip(cfg);   /* sampling's overrides are never written back */
    for (int i = 0; ok && i < n_sets; i++) {
        err[0] = 0;
        ok = ebm_config_set(cfg, sets[i], err, sizeof err) == EBM_OK;
        FUZZ_CHECK(ok || err[0], "--set failure without a message");
    }
    ebm_config_free(cfg);
    return ok;
}

int fuzz_train(ebm_config_t *cfg, const char *device, const char *out_dir, const char *resume_dir, int overwrite) {
    (void)device, (void)out_dir, (void)resume_dir, (void)overwrite;
    fuzz_config_roundtrip(cfg);   /* what config.ini and the checkpoint will hold, read back on --resume */
    return 0;
}

int fuzz_sample(const char *checkpoint, const char *device, const ebm_sample_opts_t *o) {
    int ndim, shape[3];
    (void)device;
    return open_checkpoint(checkpoint, o->sets, o->n_sets, &ndim, shape) ? 0 : 1;
}

int fuzz_eval(const char *checkpoint, const char *device, const ebm_sample_opts_t *o, int min_per_mode) {
    (void)min_per_mode;
    return fuzz_sample(checkpoint, device, o);
}

int fuzz_score(const char *checkpoint, const char *data, const char *device, const char *out, int raw, int limit) {
    int ndim, shape[3];
    (void)device, (void)out, (void)raw;
    FUZZ_CHECK(limit >= 0, "--limit %d", limit);
    if (!open_checkpoint(checkpoint, NULL, 0, &ndim, shape)) return 1;
    ebm_data_opts_t dopts = {.size = ndim == 3 ? shape[1] : 0, .channels = ndim == 3 ? shape[0] : 0, .toy_n = 1000, .limit = limit};
    ebm_dataset_t ds;
    char err[1024] = "";
    if (ebm_dataset_open(&ds, data, &dopts, err, sizeof err) != EBM_OK) {
        FUZZ_CHECK(err[0], "data set failure without a message");
        return 1;
    }
    ebm_dataset_free(&ds);
    return 0;
}

/* three devices of three vendors on three platforms, as `ebm devices --ids` would list them */
int fuzz_devices_list(ebm_device_info_t *out, int max) {
    static const struct { const char *platform, *pvendor, *name, *vendor; int gpu; } d[] = {
        {"Portable Computing Language", "The pocl project", "cpu-haswell-AMD EPYC", "AuthenticAMD", 0},
        {"NVIDIA CUDA", "NVIDIA Corporation", "NVIDIA H100", "NVIDIA Corporation", 1},
        {"Intel(R) OpenCL", "Intel(R) Corporation", "AMD EPYC 7B13", "Intel(R) Corporation", 0}};
    for (int i = 0; i < 3 && i < max; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].platform_index = i;
        snprintf(out[i].platform, sizeof out[i].platform, "%s", d[i].platform);
        snprintf(out[i].platform_vendor, sizeof out[i].platform_vendor, "%s", d[i].pvendor);
        snprintf(out[i].name, sizeof out[i].name, "%s", d[i].name);
        snprintf(out[i].vendor, sizeof out[i].vendor, "%s", d[i].vendor);
        out[i].is_gpu = d[i].gpu, out[i].is_cpu = !d[i].gpu;
    }
    return 3;
}

ebm_status_t fuzz_devices_print(FILE *f) {
    fprintf(f, "(no devices: fuzz harness)\n");
    return EBM_OK;
}

ebm_status_t fuzz_ctx_create(ebm_ctx_t **out, const char *selector) {
    (void)selector;
    *out = NULL;
    return EBM_STATUS_NO_DEVICE;
}

void fuzz_ctx_free(ebm_ctx_t *ctx) { (void)ctx; }

const ebm_device_info_t *fuzz_ctx_device(const ebm_ctx_t *ctx) {
    (void)ctx;
    abort();   /* never reached: fuzz_ctx_create gives no context */
}

static void write_checkpoint(const char *dir, const char *shape, const char *const *sets, int n_sets) {
    ebm_config_t *cfg = ebm_train_config_new();
    char err[1024], path[600];
    for (int i = 0; i < n_sets; i++) FUZZ_CHECK(ebm_config_set(cfg, sets[i], err, sizeof err) == EBM_OK, "%s", err);
    char *text = ebm_config_to_string(cfg);
    ebm_kv_t meta[] = {{"format", CKPT_FORMAT}, {"config", text}, {"sample_shape", shape}, {"iter", "10"}};
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    FUZZ_CHECK(ebm_safetensors_save(path, NULL, 0, meta, 4, err, sizeof err) == EBM_OK, "%s", err);
    free(text);
    ebm_config_free(cfg);
}

/* the program runs in the work folder; libFuzzer's own paths (corpus, artifacts) stay relative to
 * where it was started, so each call enters the folder and comes back */
static int start_dir = -1;

static void enter_workdir(void) {
    if (start_dir < 0) start_dir = open(".", O_RDONLY | O_DIRECTORY);
    FUZZ_CHECK(start_dir >= 0 && chdir(fuzz_workdir()) == 0, "cannot enter %s", fuzz_workdir());
}

static void leave_workdir(void) { FUZZ_CHECK(fchdir(start_dir) == 0, "cannot go back to the starting folder"); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    setenv("EBM_FASHION_MNIST_DIR", fuzz_workdir(), 1);   /* data.source = fashion-mnist: absent here */
    enter_workdir();
    write_checkpoint("run", "1,28,28", NULL, 0);
    static const char *const toy[] = {"data.source=toy:8gaussians", "model.net=mlp"};
    write_checkpoint("toy", "2", toy, 2);
    fuzz_write("pts.csv", "x,y\n0.5,-1\n2,0.25\n", 18);
    leave_workdir();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    enum { MAX_ARGS = 48 };
    char *argv[MAX_ARGS + 2] = {(char *)"ebm"};
    int argc = 1, refused = 0;
    const uint8_t *p = data, *end = data + size;
    size_t len;
    char *a;
    while (argc <= MAX_ARGS && (a = fuzz_take(&p, end, '\n', &len))) {
        if (!len) {   /* the empty line: cfg.ini follows */
            free(a);
            break;
        }
        refused |= a[0] == '/' || strstr(a, "..") != NULL;
        argv[argc++] = a;
    }
    enter_workdir();
    fuzz_write("cfg.ini", p, (size_t)(end - p));
    int rc = refused ? 0 : ebm_cli_main(argc, argv);
    leave_workdir();
    FUZZ_CHECK(rc >= 0 && rc <= 2, "exit status %d", rc);
    for (int i = 1; i < argc; i++) free(argv[i]);
    return refused ? -1 : 0;
}
