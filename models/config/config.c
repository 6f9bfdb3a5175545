/* config.c — schema-checked INI configs through inih (config.h). */
#include "config.h"
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct ebm_config {
    const ebm_config_key_t *keys;
    int n;
    char **values;
    ebm_config_shown_fn shown;   /* which sections print (NULL: all) */
};

ebm_config_t *ebm_config_new(const ebm_config_key_t *keys) {
    ebm_config_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->keys = keys;
    while (keys[c->n].section) c->n++;
    c->values = calloc((size_t)c->n + 1, sizeof *c->values);
    for (int i = 0; c->values && i < c->n; i++) c->values[i] = strdup(keys[i].def);
    if (!c->values) {
        free(c);
        return NULL;
    }
    return c;
}

ebm_config_t *ebm_config_new_like(const ebm_config_t *c) {
    ebm_config_t *n = ebm_config_new(c->keys);
    if (n) n->shown = c->shown;
    return n;
}

void ebm_config_set_shown(ebm_config_t *c, ebm_config_shown_fn shown) { c->shown = shown; }

static int is_shown(const ebm_config_t *c, const char *section) { return !c->shown || c->shown(c, section); }

int ebm_config_hidden_changes(const ebm_config_t *c, char *buf, size_t n) {
    size_t len = 0;
    int count = 0;
    if (n) buf[0] = 0;
    for (int i = 0; i < c->n; i++)
        if (!is_shown(c, c->keys[i].section) && strcmp(c->values[i], c->keys[i].def)) {
            count++;
            if (len < n) len += (size_t)snprintf(buf + len, n - len, "%s%s.%s", count > 1 ? ", " : "", c->keys[i].section, c->keys[i].key);
        }
    return count;
}

void ebm_config_free(ebm_config_t *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) free(c->values[i]);
    free(c->values);
    free(c);
}

static int find(const ebm_config_t *c, const char *section, const char *key) {
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->keys[i].section, section) && !strcmp(c->keys[i].key, key)) return i;
    return -1;
}

/* "[min, max]" with every digit of the bounds */
static void range_text(const ebm_config_key_t *k, char *out, size_t n) { snprintf(out, n, "[%.16g, %.16g]", k->min, k->max); }

/* checks value against the key's type and range; message in err */
static int valid(const ebm_config_key_t *k, const char *v, char *err, size_t errn) {
    char *end, range[80];
    errno = 0;
    range_text(k, range, sizeof range);
    switch (k->type) {
    case EBM_CFG_INT: {
        long long i = strtoll(v, &end, 10);
        if (!*v || *end) {
            snprintf(err, errn, "[%s] %s = \"%s\" is not an integer", k->section, k->key, v);
            return 0;
        }
        if (errno == ERANGE || (double)i < k->min || (double)i > k->max) {
            snprintf(err, errn, "[%s] %s = %s is out of range: an integer in %s", k->section, k->key, v, range);
            return 0;
        }
        return 1;
    }
    case EBM_CFG_FLOAT: {
        double d = strtod(v, &end);
        if (!*v || *end || !isfinite(d)) {
            snprintf(err, errn, "[%s] %s = \"%s\" is not a finite number", k->section, k->key, v);
            return 0;
        }
        if (d < k->min || d > k->max) {
            snprintf(err, errn, "[%s] %s = %s is out of range: a number in %s", k->section, k->key, v, range);
            return 0;
        }
        return 1;
    }
    case EBM_CFG_BOOL:
        if (strcasecmp(v, "true") && strcasecmp(v, "false") && strcmp(v, "1") && strcmp(v, "0") && strcasecmp(v, "yes") &&
            strcasecmp(v, "no")) {
            snprintf(err, errn, "[%s] %s = \"%s\" is not true/false", k->section, k->key, v);
            return 0;
        }
        return 1;
    default:
        return 1;
    }
}

struct readback {
    const char *key;
    char value[INI_MAX_LINE];
    int found;
};

static int on_readback(void *user, const char *section, const char *name, const char *value) {
    struct readback *rb = user;
    (void)section;
    if (!strcmp(name, rb->key) && !rb->found) {
        snprintf(rb->value, sizeof rb->value, "%s", value);
        rb->found = 1;
    }
    return 1;
}

/* Whether "key = value" written to an INI file (config.ini, a checkpoint's config) reads back as
 * value: inih (Debian's build) reads lines of INI_MAX_LINE - 1 characters, cuts inline " ;"
 * comments and leading and trailing blanks; a newline ends the line. */
static int survives_ini(const ebm_config_key_t *k, const char *v, char *err, size_t errn) {
    size_t line = strlen(k->key) + 3 + strlen(v);
    if (line + 2 > INI_MAX_LINE) {
        snprintf(err, errn, "[%s] %s: a value of %zu characters does not fit an INI line (at most %zu here)", k->section, k->key,
                 strlen(v), (size_t)INI_MAX_LINE - 5 - strlen(k->key));
        return 0;
    }
    char text[2 * INI_MAX_LINE];   /* the line fits: checked above */
    snprintf(text, sizeof text, "[s]\n%s = %s\n", k->key, v);
    struct readback rb = {k->key, "", 0};
    if (strchr(v, '\n') || strchr(v, '\r') || ini_parse_string(text, on_readback, &rb) != 0 || !rb.found || strcmp(rb.value, v)) {
        snprintf(err, errn, "[%s] %s = \"%.100s\" would not read back from an INI file (newlines, \" ;\" comments, leading or "
                 "trailing blanks)", k->section, k->key, v);
        return 0;
    }
    return 1;
}

static ebm_status_t assign(ebm_config_t *c, const char *section, const char *key, const char *value, char *err, size_t errn) {
    int i = find(c, section, key);
    if (i < 0) {
        int known_section = 0;
        for (int j = 0; j < c->n; j++) known_section |= !strcmp(c->keys[j].section, section);
        if (known_section) snprintf(err, errn, "unknown key \"%s\" in section [%s]", key, section);
        else snprintf(err, errn, "unknown section [%s] (key \"%s\")", section, key);
        return EBM_STATUS_INVALID_ARGUMENT;
    }
    if (!valid(&c->keys[i], value, err, errn) || !survives_ini(&c->keys[i], value, err, errn)) return EBM_STATUS_INVALID_ARGUMENT;
    char *v = strdup(value);
    if (!v) return EBM_STATUS_OUT_OF_MEMORY;
    free(c->values[i]);
    c->values[i] = v;
    return EBM_OK;
}

typedef struct {
    ebm_config_t *c;
    char msg[512];
    int failed;
} parse_state_t;

static int on_entry(void *user, const char *section, const char *name, const char *value) {
    parse_state_t *s = user;
    if (s->failed) return 1;   /* keep the first error */
    if (assign(s->c, section, name, value, s->msg, sizeof s->msg) != EBM_OK) {
        s->failed = 1;
        return 0;
    }
    return 1;
}

ebm_status_t ebm_config_load(ebm_config_t *c, const char *path, char *err, size_t errn) {
    parse_state_t s = {c, "", 0};
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {   /* a folder reads as an empty file */
        snprintf(err, errn, "%s: is a %s, not a config file", path, S_ISDIR(sb.st_mode) ? "folder" : "special file");
        return EBM_STATUS_IO;
    }
    int r = ini_parse(path, on_entry, &s);
    if (r == -1) {
        snprintf(err, errn, "%s: cannot open: %s", path, strerror(errno));
        return EBM_STATUS_IO;
    }
    if (r == -2) {
        snprintf(err, errn, "%s: out of memory while parsing", path);
        return EBM_STATUS_OUT_OF_MEMORY;
    }
    if (r > 0) {
        snprintf(err, errn, "%s:%d: %s", path, r, s.failed ? s.msg : "malformed line (expected [section] or key = value)");
        return EBM_STATUS_FORMAT;
    }
    return EBM_OK;
}

ebm_status_t ebm_config_load_string(ebm_config_t *c, const char *text, const char *origin, char *err, size_t errn) {
    parse_state_t s = {c, "", 0};
    int r = ini_parse_string(text, on_entry, &s);
    if (r == -2) {
        snprintf(err, errn, "%s: out of memory while parsing", origin);
        return EBM_STATUS_OUT_OF_MEMORY;
    }
    if (r != 0) {
        snprintf(err, errn, "%s:%d: %s", origin, r, s.failed ? s.msg : "malformed line (expected [section] or key = value)");
        return EBM_STATUS_FORMAT;
    }
    return EBM_OK;
}

ebm_status_t ebm_config_set(ebm_config_t *c, const char *a, char *err, size_t errn) {
    const char *dot = strchr(a, '.'), *eq = strchr(a, '=');
    if (!dot || !eq || dot > eq || dot == a || eq == dot + 1) {
        snprintf(err, errn, "--set %s: expected section.key=value", a);
        return EBM_STATUS_INVALID_ARGUMENT;
    }
    char section[128], key[128];
    snprintf(section, sizeof section, "%.*s", (int)(dot - a), a);
    snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
    char msg[400];
    ebm_status_t st = assign(c, section, key, eq + 1, msg, sizeof msg);
    if (st != EBM_OK) snprintf(err, errn, "--set %s: %s", a, msg);
    return st;
}

static size_t render(const ebm_config_t *c, char *buf, size_t n) {
    size_t len = 0;
    const char *section = NULL;
#define OUT(...) len += (size_t)snprintf(buf ? buf + len : NULL, buf && len < n ? n - len : 0, __VA_ARGS__)
    /* each section once, at its first key, with every key of it (tables may add keys to a section
     * another table began: a method's [model] or [data] keys) */
    for (int first = 0; first < c->n; first++) {
        int seen = 0;
        for (int j = 0; j < first && !seen; j++) seen = !strcmp(c->keys[j].section, c->keys[first].section);
        if (seen || !is_shown(c, c->keys[first].section)) continue;
        OUT("%s[%s]\n", section ? "\n" : "", c->keys[first].section);
        section = c->keys[first].section;
        for (int i = first; i < c->n; i++) {
            if (strcmp(section, c->keys[i].section)) continue;
            const ebm_config_key_t *k = &c->keys[i];
            char note[512], range[80] = "";
            if (k->type == EBM_CFG_INT || k->type == EBM_CFG_FLOAT) {
                range_text(k, range, sizeof range);
                snprintf(note, sizeof note, "%s (default %s; range %s)", k->help, k->def, range);
            } else {
                snprintf(note, sizeof note, "%s (default %s)", k->help, k->def);
            }
            /* inih reads the tail of a line over INI_MAX_LINE - 1 characters as a line of its own: a long
             * comment goes on lines of at most ~100 characters */
            size_t wrap = strlen(note) + 3 < INI_MAX_LINE ? sizeof note : 96;
            for (const char *p = note; *p;) {
                size_t take = strlen(p);
                if (take > wrap) {
                    take = wrap;
                    while (take > 40 && p[take] != ' ') take--;
                }
                OUT("# %.*s\n", (int)take, p);
                p += take;
                while (*p == ' ') p++;
            }
            OUT("%s = %s\n", k->key, c->values[i]);
        }
    }
#undef OUT
    return len;
}

void ebm_config_print(const ebm_config_t *c, FILE *f) {
    char *s = ebm_config_to_string(c);
    if (s) fputs(s, f);
    free(s);
}

char *ebm_config_to_string(const ebm_config_t *c) {
    size_t n = render(c, NULL, 0) + 1;
    char *s = malloc(n);
    if (s) render(c, s, n);
    return s;
}

/* A key the code reads that the schema lacks is a defect of the program, not of the config (a
 * misspelt name would read 0): said loudly, at once. */
static const char *value_of(const ebm_config_t *c, const char *section, const char *key) {
    int i = find(c, section, key);
    if (i < 0) {
        fprintf(stderr, "ebm: internal error: the program reads [%s] %s, which its config schema does not have\n", section, key);
        abort();
    }
    return c->values[i];
}

long ebm_config_int(const ebm_config_t *c, const char *s, const char *k) { return strtol(value_of(c, s, k), NULL, 10); }

double ebm_config_float(const ebm_config_t *c, const char *s, const char *k) { return strtod(value_of(c, s, k), NULL); }

const char *ebm_config_str(const ebm_config_t *c, const char *s, const char *k) { return value_of(c, s, k); }

int ebm_config_bool(const ebm_config_t *c, const char *s, const char *k) {
    const char *v = value_of(c, s, k);
    return !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes");
}
