/* registry.c — every training method ([run] method), in the order help texts list them. A new method
 * is its file in this folder and one line here (and in CMakeLists.txt's source list). */
#include <stdio.h>
#include <string.h>
#include "config.h"
#include "method.h"

extern const ebm_method_t ebm_method_cd, ebm_method_meg, ebm_method_ddgm, ebm_method_dual, ebm_method_classify;
extern const ebm_method_t ebm_method_rbm, ebm_method_sm, ebm_method_nce, ebm_method_jem;

const ebm_method_t *const ebm_methods[] = {&ebm_method_cd,  &ebm_method_meg, &ebm_method_ddgm, &ebm_method_dual, &ebm_method_rbm,
                                           &ebm_method_sm,  &ebm_method_nce, &ebm_method_jem,  &ebm_method_classify, NULL};

const ebm_method_t *ebm_method_find(const char *name) {
    for (int i = 0; ebm_methods[i]; i++)
        if (!strcmp(ebm_methods[i]->name, name)) return ebm_methods[i];
    return NULL;
}

const char *ebm_method_names(char *buf, size_t n) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; ebm_methods[i] && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i == 0 ? "" : ebm_methods[i + 1] ? ", " : " or ", ebm_methods[i]->name);
    return buf;
}

const ebm_method_t *ebm_method_of(const ebm_config_t *cfg) {
    const char *name = ebm_config_str(cfg, "run", "method");
    const ebm_method_t *m = ebm_method_find(name);
    char names[200];
    if (!m) fprintf(stderr, "ebm: [run] method = \"%s\": expected %s\n", name, ebm_method_names(names, sizeof names));
    return m;
}
