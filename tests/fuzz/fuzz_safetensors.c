/* fuzz_safetensors.c — safetensors checkpoints (engine/io/safetensors.c): the 8-byte header length,
 * the JSON header and its __metadata__ (ebm_safetensors_load with no tensors asked for: reading
 * tensors needs an OpenCL context), then what `ebm train --resume`, `ebm sample/score/eval` read
 * first: ebm_checkpoint_load_config (models/checkpoint.c: format, config text through the INI
 * parser, sample_shape). A config it accepts must print and load back unchanged.
 *
 *   fuzz_safetensors tests/fuzz/corpus/safetensors -dict=tests/fuzz/dict/safetensors.dict */
#include "ebm_io.h"
#include "fuzz_common.h"
#include "fuzz_config_check.h"
#include "train.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_workdir();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512], err[1024] = "", *meta = (char *)"unset";
    fuzz_write(fuzz_path("checkpoint.safetensors", path, sizeof path), data, size);
    ebm_status_t st = ebm_safetensors_load(path, NULL, 0, &meta, err, sizeof err);
    if (st != EBM_OK) {
        FUZZ_CHECK(err[0], "failure (%s) without a message", ebm_status_str(st));
        FUZZ_CHECK(!meta, "metadata left behind after a failure");
    }
    free(meta);   /* a leak here or inside the reader is LeakSanitizer's finding */

    ebm_config_t *cfg = ebm_train_config_new();
    FUZZ_CHECK(cfg, "out of memory");
    if (ebm_checkpoint_load_config(path, cfg)) fuzz_config_roundtrip(cfg);
    ebm_config_free(cfg);
    return 0;
}
