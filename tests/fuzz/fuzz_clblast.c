/* fuzz_clblast.c — CLBlast tuner results and the device's tuned-parameter file
 * (engine/ops/clblast_tuned.c): the input is a tuner's JSON result for the device "fuzz device"
 * (ebm_clblast_parse_result), and each of its lines a line of the device's file
 * (ebm_clblast_parse_line). An accepted input must give a kernel CLBlast's GEMM uses, 1 to 24
 * parameters with names of upper case letters, digits and _ (PRECISION never among them), on/off
 * parameters 0 or 1 and the others 1 to 2^20, and a finite time >= 0; a refusal must say why. */
#include <math.h>
#include <string.h>
#include "fuzz_common.h"
#include "internal.h"

static void check_set(const struct ebm_clblast_set *s, const char *what) {
    static const char *kernels[] = {"Xgemm", "XgemmDirect", "Pad", "Transpose", "Padtranspose"};
    static const char *switches[] = {"GEMMK", "SA", "SB", "STRM", "STRN", "PADA", "PADB", "TRA_PAD", "TRA_SHUFFLE", "PADTRA_PAD"};
    int known = 0;
    for (size_t i = 0; i < sizeof kernels / sizeof *kernels; i++) known |= !strcmp(s->kernel, kernels[i]);
    FUZZ_CHECK(known, "%s: kernel \"%s\"", what, s->kernel);
    FUZZ_CHECK(s->n >= 1 && s->n <= EBM_CLBLAST_MAX_PARAMS, "%s: %d parameters", what, s->n);
    FUZZ_CHECK(isfinite(s->ms) && s->ms >= 0, "%s: time %g", what, s->ms);
    for (int i = 0; i < s->n; i++) {
        size_t len = strlen(s->names[i]);
        FUZZ_CHECK(len >= 1 && len < EBM_CLBLAST_NAME_LEN && strspn(s->names[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == len,
                   "%s: parameter name \"%s\"", what, s->names[i]);
        FUZZ_CHECK(strcmp(s->names[i], "PRECISION"), "%s: PRECISION kept", what);
        int on_off = 0;
        for (size_t j = 0; j < sizeof switches / sizeof *switches; j++) on_off |= !strcmp(s->names[i], switches[j]);
        FUZZ_CHECK(on_off ? s->values[i] <= 1 : s->values[i] >= 1 && s->values[i] <= 1u << 20, "%s: %s=%zu", what, s->names[i], s->values[i]);
        for (int j = 0; j < i; j++) FUZZ_CHECK(strcmp(s->names[i], s->names[j]), "%s: %s twice", what, s->names[i]);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct ebm_clblast_set s;
    char why[600] = "";
    if (ebm_clblast_parse_result((const char *)data, size, "fuzz device", &s, why, sizeof why) == EBM_OK) check_set(&s, "result");
    else FUZZ_CHECK(why[0], "a result refused without a reason");
    /* the lines, as the device's file is read (fgets into 1024 bytes, the newline removed) */
    for (size_t at = 0; at < size;) {
        char line[1024];
        size_t n = 0;
        while (at < size && data[at] != '\n' && n + 1 < sizeof line) line[n++] = data[at] ? (char)data[at] : ' ', at++;
        if (at < size && data[at] == '\n') at++;
        line[n] = 0;
        const char *bad = ebm_clblast_parse_line(line, &s);
        if (!bad) check_set(&s, "line");
        else FUZZ_CHECK(bad[0], "a line refused without a reason");
    }
    return 0;
}
