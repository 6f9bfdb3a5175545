/* test_config.c — schema-checked INI configs: defaults, a good file, every kind of bad file (each
 * error names the file and line), --set overrides, and the printed configuration parsing back to
 * the same values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <math.h>
#include "config.h"
#include "run.h"
#include "testing.h"
#include "train.h"

static const ebm_config_key_t keys[] = {
    {"data", "name", EBM_CFG_STRING, "8gaussians", "data set", 0, 0},
    {"train", "iters", EBM_CFG_INT, "2000", "training iterations", 0, 1e9},
    {"train", "lr", EBM_CFG_FLOAT, "1e-4", "Adam learning rate", 0, 10},
    {"sampler", "noise_first", EBM_CFG_BOOL, "true", "add noise before the gradient step", 0, 0},
    {NULL, NULL, 0, NULL, NULL, 0, 0},
};

static char dir[] = "/tmp/ebm-config-test-XXXXXX";

static const char *write_file(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    char err[600];
    ebm_config_t *c = ebm_config_new(keys);
    check(ebm_config_int(c, "train", "iters") == 2000 && ebm_config_float(c, "train", "lr") == 1e-4 &&
              ebm_config_bool(c, "sampler", "noise_first") && !strcmp(ebm_config_str(c, "data", "name"), "8gaussians"),
          "defaults from the schema");
    ebm_status_t st = ebm_config_load(c, write_file("good.ini", "; a comment\n[train]\niters = 50\nlr = 0.003\n[sampler]\nnoise_first = no\n"), err, sizeof err);
    check_msg(st == EBM_OK && ebm_config_int(c, "train", "iters") == 50 && ebm_config_float(c, "train", "lr") == 0.003 &&
                  !ebm_config_bool(c, "sampler", "noise_first"),
              "a good file overrides the defaults", st ? err : NULL);
    struct { const char *file, *text, *expect; } bad[] = {
        {"unknown_key.ini", "[train]\niters = 5\nitres = 7\n", "unknown_key.ini:3: unknown key \"itres\" in section [train]"},
        {"unknown_section.ini", "[trian]\niters = 5\n", "unknown_section.ini:2: unknown section [trian]"},
        {"bad_int.ini", "[train]\niters = 12.5\n", "bad_int.ini:2: [train] iters = \"12.5\" is not an integer"},
        {"bad_float.ini", "[train]\nlr = fast\n", "bad_float.ini:2: [train] lr = \"fast\" is not a finite number"},
        {"nan.ini", "[train]\nlr = nan\n", "not a finite number"},
        {"bad_bool.ini", "[sampler]\nnoise_first = maybe\n", "is not true/false"},
        {"syntax.ini", "[train]\niters 5\n", "syntax.ini:2: malformed line"},
        {"negative.ini", "[train]\niters = -1\n", "negative.ini:2: [train] iters = -1 is out of range: an integer in [0, 1000000000]"},
        /* 2^32 + 1 would wrap to 1 in an int, and 1e20 overflows a long */
        {"wraps.ini", "[train]\niters = 4294967297\n", "[train] iters = 4294967297 is out of range"},
        {"overflow.ini", "[train]\niters = 100000000000000000000\n", "[train] iters = 100000000000000000000 is out of range"},
        {"float_range.ini", "[train]\nlr = 20\n", "float_range.ini:2: [train] lr = 20 is out of range: a number in [0, 10]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ebm_config_t *b = ebm_config_new(keys);
        err[0] = 0;
        st = ebm_config_load(b, write_file(bad[i].file, bad[i].text), err, sizeof err);
        char what[128];
        snprintf(what, sizeof what, "bad config %s: clear error with file and line", bad[i].file);
        check_msg(st != EBM_OK && strstr(err, bad[i].expect), what, err);
        ebm_config_free(b);
    }
    st = ebm_config_load(c, "/nonexistent/x.ini", err, sizeof err);
    check_msg(st == EBM_STATUS_IO && strstr(err, "/nonexistent/x.ini"), "missing config file: I/O error naming it", err);
    st = ebm_config_set(c, "train.iters=77", err, sizeof err);
    check(st == EBM_OK && ebm_config_int(c, "train", "iters") == 77, "--set train.iters=77 overrides");
    st = ebm_config_set(c, "train.iterz=1", err, sizeof err);
    check_msg(st != EBM_OK && strstr(err, "unknown key \"iterz\""), "--set with an unknown key is an error", err);
    st = ebm_config_set(c, "iters=1", err, sizeof err);
    check_msg(st != EBM_OK && strstr(err, "section.key=value"), "--set without a section is an error", err);
    st = ebm_config_set(c, "train.lr=-0.5", err, sizeof err);
    check_msg(st != EBM_OK && strstr(err, "out of range: a number in [0, 10]"), "--set out of range: an error naming the range", err);
    /* values that would not survive config.ini (Debian's inih reads 199-character lines, cuts " ;"
     * comments and outer blanks): refused when set, so that a run stays readable */
    char long_set[400];
    snprintf(long_set, sizeof long_set, "data.name=/data/%0186d", 0);   /* "name = " + 192 characters */
    st = ebm_config_set(c, long_set, err, sizeof err);
    check_msg(st != EBM_OK && strstr(err, "a value of 192 characters does not fit an INI line (at most 191 here)"),
              "--set of a value one character longer than an INI line holds is refused", err);
    snprintf(long_set, sizeof long_set, "data.name=/data/%0185d", 0);
    st = ebm_config_set(c, long_set, err, sizeof err);
    check_msg(st == EBM_OK && strlen(ebm_config_str(c, "data", "name")) == 191, "--set of a 191-character value (the longest that fits) is accepted",
              st ? err : NULL);
    const char *unreadable[] = {"data.name=a ;b", "data.name=trailing ", "data.name= leading"};
    for (int i = 0; i < 3; i++) {
        st = ebm_config_set(c, unreadable[i], err, sizeof err);
        char what[128];
        snprintf(what, sizeof what, "--set %s (would read back otherwise) is refused", unreadable[i]);
        check_msg(st != EBM_OK && strstr(err, "would not read back"), what, err);
    }
    st = ebm_config_load(c, dir, err, sizeof err);
    check_msg(st != EBM_OK && strstr(err, dir) && strstr(err, "is a folder"), "a folder given as the config file is an error", err);
    /* the printed configuration parses back to the same values */
    char *text = ebm_config_to_string(c);
    ebm_config_t *r = ebm_config_new(keys);
    st = ebm_config_load(r, write_file("printed.ini", text), err, sizeof err);
    check_msg(st == EBM_OK && ebm_config_int(r, "train", "iters") == 77 && ebm_config_float(r, "train", "lr") == 0.003 &&
                  !ebm_config_bool(r, "sampler", "noise_first") && !strcmp(ebm_config_str(r, "data", "name"), long_set + strlen("data.name=")) &&
                  strstr(text, "# training iterations (default 2000; range [0, 1000000000])"),
              "printed configuration (with defaults as comments) parses back to the same values", st ? err : NULL);
    free(text);
    ebm_config_free(r);
    ebm_config_free(c);
    /* the training schema: every method's sections are accepted, a config prints the common ones and
     * its method's, and the printed text loads back to the same; a key the code reads that no schema
     * has aborts with a message (a misspelt name used to read 0) */
    {
        ebm_config_t *t = ebm_train_config_new();
        st = t ? ebm_config_set(t, "run.method=meg", err, sizeof err) : EBM_STATUS_OUT_OF_MEMORY;
        st = st ? st : ebm_config_set(t, "buffer.capacity=7", err, sizeof err);   /* another method's: accepted */
        st = st ? st : ebm_config_set(t, "meg.gp=3", err, sizeof err);
        char *mt = st == EBM_OK ? ebm_config_to_string(t) : NULL, hidden[200];
        int nh = t ? ebm_config_hidden_changes(t, hidden, sizeof hidden) : -1;
        check_msg(mt && strstr(mt, "[generator]") && strstr(mt, "[meg]\n") && strstr(mt, "gp = 3") && !strstr(mt, "[buffer]") &&
                      !strstr(mt, "[loss]") && !strstr(mt, "[dual]") && strstr(mt, "[sampler]") && nh == 1 && !strcmp(hidden, "buffer.capacity"),
                  "a meg config prints [generator] and [meg], not [buffer], [loss] or [dual]; buffer.capacity = 7 is reported unused", mt);
        ebm_config_t *back = t ? ebm_config_new_like(t) : NULL;
        char *bt = back && mt && ebm_config_load_string(back, mt, "printed", err, sizeof err) == EBM_OK ? ebm_config_to_string(back) : NULL;
        check(bt && !strcmp(bt, mt) && ebm_config_float(back, "meg", "gp") == 3, "the printed meg config loads back to the same text");
        ebm_config_set(t, "run.method=cd", err, sizeof err);
        char *ct = ebm_config_to_string(t);
        check(ct && strstr(ct, "[buffer]") && strstr(ct, "[augment]") && strstr(ct, "[loss]") && !strstr(ct, "[meg]") && !strstr(ct, "[generator]"),
              "a cd config prints [buffer], [augment] and [loss], not [meg] or [generator]");
        free(mt), free(bt), free(ct);
        ebm_config_free(back);
        fflush(stderr);
        int pipefd[2];
        pid_t pid = pipe(pipefd) == 0 ? fork() : -1;
        if (pid == 0) {
            dup2(pipefd[1], 2);
            (void)ebm_config_int(t, "loss", "regg");   /* not in the schema */
            _exit(0);
        }
        char msg[300] = "";
        close(pipefd[1]);
        ssize_t got = read(pipefd[0], msg, sizeof msg - 1);
        msg[got > 0 ? got : 0] = 0;
        close(pipefd[0]);
        int status = 0;
        if (pid > 0) waitpid(pid, &status, 0);
        check_msg(pid > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(msg, "[loss] regg") && strstr(msg, "schema"),
                  "reading a key no schema has aborts, naming it", msg);
        ebm_config_free(t);
    }
    /* metrics rows: NaN and Inf as null with a "nonfinite" flag, any path escaped (valid JSON) */
    cJSON *row = cJSON_CreateObject();
    cJSON_AddStringToObject(row, "checkpoint", "runs/a \"b\"\\c\n");
    run_json_num(row, "loss", NAN), run_json_num(row, "e_pos", INFINITY), run_json_num(row, "e_neg", -INFINITY);
    run_json_num(row, "lr", 0.1f);
    char *json = cJSON_PrintUnformatted(row);
    const char *want = "{\"checkpoint\":\"runs/a \\\"b\\\"\\\\c\\n\",\"loss\":null,\"nonfinite\":{\"loss\":\"nan\",\"e_pos\":\"inf\","
                       "\"e_neg\":\"-inf\"},\"e_pos\":null,\"e_neg\":null,\"lr\":0.1}";
    check_msg(json && !strcmp(json, want), "metrics row: NaN/Inf as null plus nonfinite flags, a path with quotes, backslash and newline escaped", json);
    cJSON *back = json ? cJSON_Parse(json) : NULL;
    check(back && cJSON_IsNull(cJSON_GetObjectItem(back, "loss")), "the row parses back");
    cJSON_Delete(back);
    free(json);
    cJSON_Delete(row);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary();
}
