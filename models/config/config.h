/* config.h — INI experiment configs against a schema: every key has a type, a default and a help
 * line; unknown sections or keys and malformed values are errors naming the file and line;
 * `--set section.key=value` overrides; the full configuration prints as INI with every default.
 * Numbers must lie in their key's range; any value must survive being written to an INI file and
 * read back (inih reads lines of at most 199 characters, cuts " ;" comments and outer blanks).
 *
 *   static const ebm_config_key_t keys[] = {
 *       {"train", "iters", EBM_CFG_INT, "2000", "training iterations", 0, 1e9},
 *       {"sampler", "step_size", EBM_CFG_FLOAT, "10", "Langevin step size", 0, 1e9}, {NULL}};
 *   ebm_config_t *cfg = ebm_config_new(keys);
 *   if (ebm_config_load(cfg, "configs/toy.ini", err, sizeof err) != EBM_OK) puts(err);
 *   ebm_config_set(cfg, "train.iters=100", err, sizeof err);
 *   int iters = ebm_config_int(cfg, "train", "iters");
 */
#ifndef EBM_CONFIG_H
#define EBM_CONFIG_H
#include <stdio.h>
#include "ebm.h"

typedef enum { EBM_CFG_INT, EBM_CFG_FLOAT, EBM_CFG_STRING, EBM_CFG_BOOL } ebm_config_type_t;

typedef struct ebm_config_key {
    const char *section, *key;
    ebm_config_type_t type;
    const char *def;    /* default, as it would be written in the file */
    const char *help;
    double min, max;    /* EBM_CFG_INT / EBM_CFG_FLOAT: the allowed range, bounds included */
} ebm_config_key_t;

typedef struct ebm_config ebm_config_t;

/* keys: terminated by an entry with section == NULL; must outlive the config */
ebm_config_t *ebm_config_new(const ebm_config_key_t *keys);
/* A config of the same schema and shown sections, every value its default. */
ebm_config_t *ebm_config_new_like(const ebm_config_t *cfg);
/* Which sections the printed configuration shows (a training method's own, say): those shown(cfg,
 * section) accepts; NULL, the default: every section. Loading and --set accept every key. */
typedef int (*ebm_config_shown_fn)(const ebm_config_t *cfg, const char *section);
void ebm_config_set_shown(ebm_config_t *cfg, ebm_config_shown_fn shown);
/* How many keys of sections not shown differ from their defaults; their "section.key" names,
 * comma-separated, into buf. */
int ebm_config_hidden_changes(const ebm_config_t *cfg, char *buf, size_t n);
void ebm_config_free(ebm_config_t *cfg);
ebm_status_t ebm_config_load(ebm_config_t *cfg, const char *path, char *err, size_t errn);
/* The same from INI text (a checkpoint's saved config); origin names it in messages. */
ebm_status_t ebm_config_load_string(ebm_config_t *cfg, const char *text, const char *origin, char *err, size_t errn);
/* "section.key=value" */
ebm_status_t ebm_config_set(ebm_config_t *cfg, const char *assignment, char *err, size_t errn);
/* The whole configuration (its shown sections) as INI, each key with its help as a comment. */
void ebm_config_print(const ebm_config_t *cfg, FILE *f);
/* The same text in a malloc'd string (for checkpoint metadata). */
char *ebm_config_to_string(const ebm_config_t *cfg);

/* A key the schema lacks aborts the process with a message (a defect of the program). */
long ebm_config_int(const ebm_config_t *cfg, const char *section, const char *key);
double ebm_config_float(const ebm_config_t *cfg, const char *section, const char *key);
const char *ebm_config_str(const ebm_config_t *cfg, const char *section, const char *key);
int ebm_config_bool(const ebm_config_t *cfg, const char *section, const char *key);
#endif
