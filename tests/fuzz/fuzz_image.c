/* fuzz_image.c — image files as an image folder's examples are read (models/data.c
 * ebm_image_read through models/imagefile.c: the format from the first bytes, whatever the file's
 * name — PNG by libpng, JPEG by libjpeg-turbo, BMP by stb_image — the size limits, then the centre
 * crop and stb_image_resize to 16x16), once as grey (channels 1) and once as RGB (channels 3).
 * stb_image and stb_image_resize are compiled into the harness with the same instrumentation
 * (fuzz_stb.c), so ASan and UBSan see inside them too; libpng and libjpeg are the system's.
 * Accepted images give values in [0, 1]. */
#include "data.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_workdir();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    enum { SIZE = 16 };
    char path[512], err[1024];
    float out[3 * SIZE * SIZE];
    fuzz_write(fuzz_path("image.png", path, sizeof path), data, size);
    for (int C = 1; C <= 3; C += 2) {
        err[0] = 0;
        ebm_status_t st = ebm_image_read(path, C, SIZE, out, err, sizeof err);
        if (st != EBM_OK) {
            FUZZ_CHECK(err[0], "failure (%s) without a message", ebm_status_str(st));
            continue;
        }
        for (int i = 0; i < C * SIZE * SIZE; i++) FUZZ_CHECK(out[i] >= 0 && out[i] <= 1, "pixel value %g", out[i]);
    }
    return 0;
}
