/* rundir.c — a run directory belongs to one training at a time (run.h): an exclusive lock while it
 * trains, no second run started over a first one's checkpoint, temporary files of killed processes
 * removed, and metrics.jsonl written one whole line per write, so that a full disk, two writers or a
 * kill leave no torn or interleaved rows. */
#define _DEFAULT_SOURCE   /* flock, DT_REG */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "run.h"

int rundir_lock(const char *dir) {
    char path[1200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        ERR("%s: cannot create the run's lock file: %s\n", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = read(fd, pid, sizeof pid - 1);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        if (errno == EWOULDBLOCK || errno == EAGAIN)
            ERR("%s is in use: another `ebm train` (pid %s) is training there; wait for it, or give another --out\n", dir,
                *pid ? pid : "?");
        else
            ERR("%s: cannot lock: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    char pid[32];   /* for the message another process prints */
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    int written = ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)len, 0) == len;
    (void)written;
    return fd;
}

void rundir_unlock(int fd) {
    if (fd >= 0) close(fd);   /* releases the flock */
}

/* "NAME.tmp.PID" (ebm_write_atomic's temporary names) of a process that no longer runs */
static int stale_temp(const char *name) {
    const char *t = strstr(name, ".tmp.");
    if (!t || !t[5]) return 0;
    char *end;
    long pid = strtol(t + 5, &end, 10);
    if (*end || pid <= 0) return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

void rundir_remove_stale_temps(const char *dir) {
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/samples", dir);
    const char *dirs[2] = {dir, sub};
    for (int i = 0; i < 2; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d) continue;
        for (struct dirent *e; (e = readdir(d));) {
            if (!stale_temp(e->d_name)) continue;
            char path[1500];
            snprintf(path, sizeof path, "%s/%s", dirs[i], e->d_name);
            if (remove(path) == 0) fprintf(stderr, "ebm: removed %s (a temporary file of a process that ended)\n", path);
        }
        closedir(d);
    }
}

int rundir_clear(const char *dir) {
    static const char *const files[] = {CKPT_NAME, "metrics.jsonl", "config.ini", "samples.png", "eval-heatmap.png"};
    char path[1500];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (remove(path) != 0 && errno != ENOENT) {
            ERR("%s: cannot remove: %s\n", path, strerror(errno));
            return 0;
        }
    }
    snprintf(path, sizeof path, "%s/samples", dir);
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {   /* the pictures a run writes: samples_*.png, heatmap_*.png */
        size_t n = strlen(e->d_name);
        if ((strncmp(e->d_name, "samples_", 8) && strncmp(e->d_name, "heatmap_", 8)) || n < 4 || strcmp(e->d_name + n - 4, ".png"))
            continue;
        char f[1800];
        snprintf(f, sizeof f, "%s/%s", path, e->d_name);
        remove(f);
    }
    if (d) closedir(d);
    return 1;
}

void run_json_num(cJSON *o, const char *key, double v) {
    if (!isfinite(v)) {   /* JSON has no NaN or Inf: null, the row stays valid, and "nonfinite" says which */
        cJSON_AddNullToObject(o, key);
        cJSON *flags = cJSON_GetObjectItemCaseSensitive(o, "nonfinite");
        if (!flags) flags = cJSON_AddObjectToObject(o, "nonfinite");
        if (flags) cJSON_AddStringToObject(flags, key, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return;
    }
    char buf[32];   /* float32 values with the digits they have, not a double's 17 */
    snprintf(buf, sizeof buf, "%.7g", v);
    cJSON_AddNumberToObject(o, key, strtod(buf, NULL));
}

cJSON *run_eval_row(const run_t *r, const char *checkpoint) {
    cJSON *row = cJSON_CreateObject();
    if (row) cJSON_AddStringToObject(row, "event", "eval");
    if (row) cJSON_AddStringToObject(row, "checkpoint", checkpoint);
    if (row) cJSON_AddNumberToObject(row, "iter", (double)r->iter);
    return row;
}

int rundir_metrics_append(const char *dir, cJSON *row, FILE *echo) {
    char path[1200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    char *text = cJSON_PrintUnformatted(row);
    cJSON_Delete(row);
    if (!text) {
        ERR("%s: out of memory writing a row\n", path);
        return 0;
    }
    if (echo) fprintf(echo, "%s\n", text);
    size_t len = strlen(text);
    text[len++] = '\n';   /* replaces the terminating NUL: one write of the whole line */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644), ok = fd >= 0;
    ssize_t w = ok ? write(fd, text, len) : -1;
    int e = errno;
    if (ok && close(fd) != 0 && w == (ssize_t)len) w = -1, e = errno;
    free(text);
    if (w != (ssize_t)len) {
        ERR("%s: writing a row failed: %s\n", path, w < 0 ? strerror(e) : "short write (disk full?)");
        return 0;
    }
    return 1;
}

/* Keeps the rows a resumed run will not write again: those up to iteration `iter` (rows past it
 * were logged after the checkpoint by a run that was then killed) and no torn last line. */
int rundir_metrics_trim(const char *dir, long iter) {
    char path[1200], err[1400];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? 1 : (ERR("%s: %s\n", path, strerror(errno)), 0);
    char *keep = NULL, *line = NULL;
    size_t cap = 0, n_keep = 0, dropped = 0;
    FILE *out = open_memstream(&keep, &n_keep);
    ssize_t len;
    while (out && (len = getline(&line, &cap, f)) > 0) {
        cJSON *row = line[len - 1] == '\n' ? cJSON_Parse(line) : NULL;   /* a line without its newline is torn */
        cJSON *it = row ? cJSON_GetObjectItemCaseSensitive(row, "iter") : NULL;
        if (row && (!cJSON_IsNumber(it) || it->valuedouble <= (double)iter)) fputs(line, out);
        else dropped++;
        cJSON_Delete(row);
    }
    free(line);
    int ok = out && !ferror(f);
    fclose(f);
    if (out && fclose(out) != 0) ok = 0;
    if (ok && dropped) {
        ok = ebm_write_atomic(path, keep, n_keep, err, sizeof err) == EBM_OK;
        if (!ok) ERR("%s\n", err);
        else fprintf(stderr, "ebm: %s: dropped %zu row(s) past the checkpoint's iteration %ld or torn\n", path, dropped, iter);
    } else if (!ok) {
        ERR("%s: cannot read: %s\n", path, strerror(errno));
    }
    free(keep);
    return ok;
}
