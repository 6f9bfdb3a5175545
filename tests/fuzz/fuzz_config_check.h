/* fuzz_config_check.h — the config round trip every config-reading harness checks: what
 * ebm_config_to_string prints (config.ini of a run, a checkpoint's saved config) must load back
 * with ebm_config_load_string to the same values, or `ebm train --resume` and `ebm sample` would
 * refuse, or silently change, a run that was accepted when it started. */
#ifndef EBM_FUZZ_CONFIG_CHECK_H
#define EBM_FUZZ_CONFIG_CHECK_H
#include "config.h"
#include "fuzz_common.h"

/* "line N: \"printed\" reloaded as \"...\"": the first line where a and b differ, for the report */
static inline const char *fuzz_first_difference(const char *a, const char *b, char *buf, size_t n) {
    int line = 1;
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n') line++, la = a + 1, lb = b + 1;
        a++, b++;
    }
    snprintf(buf, n, "line %d \"%.*s\" reloaded as \"%.*s\"", line, (int)strcspn(la, "\n"), la, (int)strcspn(lb, "\n"), lb);
    return buf;
}

/* line `line` of text (1-based) */
static inline const char *fuzz_line(const char *text, int line, char *buf, size_t n) {
    for (int i = 1; i < line && strchr(text, '\n'); i++) text = strchr(text, '\n') + 1;
    snprintf(buf, n, "%.*s", (int)strcspn(text, "\n"), text);
    return buf;
}

static inline void fuzz_config_roundtrip(const ebm_config_t *cfg) {
    char *text = ebm_config_to_string(cfg), err[1024] = "";
    ebm_config_t *again = ebm_config_new_like(cfg);   /* the same schema and shown sections (a method's) */
    FUZZ_CHECK(text && again, "out of memory");
    ebm_status_t st = ebm_config_load_string(again, text, "printed config", err, sizeof err);
    char buf[600];
    const char *at = strchr(err, ':');   /* "printed config:LINE: ..." */
    FUZZ_CHECK(st == EBM_OK, "ebm_config_load_string refuses what ebm_config_to_string printed: %s (the line: \"%s\")", err,
               fuzz_line(text, at ? atoi(at + 1) : 0, buf, sizeof buf));
    char *back = ebm_config_to_string(again);
    FUZZ_CHECK(back, "out of memory");
    FUZZ_CHECK(!strcmp(text, back), "the printed config loads back with other values: %s",
               fuzz_first_difference(text, back, buf, sizeof buf));
    free(back);
    free(text);
    ebm_config_free(again);
}
#endif
