/* fuzz_config.c — INI configs against the training schema (models/config.c through inih:
 * ebm_config_load from a file and ebm_config_load_string from text, as a checkpoint's saved config
 * is read) and `--set section.key=value` overrides (ebm_config_set), then the round trip every run
 * depends on: the printed config (config.ini, the checkpoint's metadata) loads back unchanged.
 *
 * Input: INI text, then NUL-separated --set strings (at most 16; an --set argument can hold any
 * byte but NUL, newlines included). */
#include "fuzz_common.h"
#include "fuzz_config_check.h"
#include "train.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_workdir();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *p = data, *end = data + size;
    size_t n_ini = 0;
    char *ini = fuzz_take(&p, end, 0, &n_ini), path[512], err[1024];
    if (!ini) ini = calloc(1, 1);
    FUZZ_CHECK(ini, "out of memory");
    fuzz_write(fuzz_path("config.ini", path, sizeof path), ini, n_ini);

    ebm_config_t *from_file = ebm_train_config_new(), *cfg = ebm_train_config_new();
    FUZZ_CHECK(from_file && cfg, "out of memory");
    err[0] = 0;
    ebm_status_t st = ebm_config_load(from_file, path, err, sizeof err);
    FUZZ_CHECK(st == EBM_OK || err[0], "failure (%s) without a message", ebm_status_str(st));
    if (st == EBM_OK) fuzz_config_roundtrip(from_file);
    err[0] = 0;
    st = ebm_config_load_string(cfg, ini, "fuzz.ini", err, sizeof err);
    FUZZ_CHECK(st == EBM_OK || err[0], "failure (%s) without a message", ebm_status_str(st));
    free(ini);
    if (st == EBM_OK) {   /* as ebm train CONFIG --set ... applies them */
        char *set;
        for (int i = 0; i < 16 && (set = fuzz_take(&p, end, 0, NULL)); i++) {
            err[0] = 0;
            st = ebm_config_set(cfg, set, err, sizeof err);
            FUZZ_CHECK(st == EBM_OK || err[0], "failure (%s) without a message", ebm_status_str(st));
            free(set);
        }
        fuzz_config_roundtrip(cfg);
    }
    ebm_config_free(from_file);
    ebm_config_free(cfg);
    return 0;
}
