/* npy.c — NumPy's .npy format (numpy.lib.format, versions 1.0, 2.0 and 3.0): the magic "\x93NUMPY",
 * the version, a little-endian header length (2 bytes in 1.0, 4 in 2.0/3.0), then a Python dict
 * literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, C, H, W), } padded with spaces to a
 * multiple of 64 bytes and ended by '\n', then the array in C order.
 *
 * No maintained C library for .npy is packaged by Debian, so this is a strict reader of exactly what
 * numpy.save writes (the three keys, each once; string values in ' or "; a tuple of non-negative
 * integers; True/False), refusing anything else with a message naming the file and the problem.
 * Readable element types: float32 and float64 (either byte order; float64 values outside float32's
 * range are refused rather than made infinite) and uint8 (divided by 255, as IDX and PNG pixels
 * are). Fortran order is refused (save a C-order array: numpy.ascontiguousarray). The file must
 * hold exactly the array: a truncated file or trailing bytes are errors. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../ebm_io.h"

#define NPY_MAGIC "\x93NUMPY"

void ebm_npy_free(ebm_npy_t *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

ebm_status_t ebm_npy_write(const char *path, const float *data, int ndim, const int *shape, char *err, size_t errn) {
    if (ndim < 1 || ndim > EBM_NPY_MAX_DIMS) {
        snprintf(err, errn, "%s: %d dimensions (1 to %d can be written)", path, ndim, EBM_NPY_MAX_DIMS);
        return EBM_STATUS_INVALID_ARGUMENT;
    }
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            snprintf(err, errn, "%s: negative dimension %d", path, shape[d]);
            return EBM_STATUS_INVALID_ARGUMENT;
        }
        n *= (size_t)shape[d];
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%d%s", shape[d], ndim == 1 ? "," : d + 1 < ndim ? ", " : "");
    }
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    /* magic (6) + version (2) + length (2) + dict + spaces + '\n': a multiple of 64 */
    size_t head = 10 + (size_t)len + 1, total_head = (head + 63) / 64 * 64, bytes = n * sizeof(float);
    unsigned char *buf = malloc(total_head + bytes);
    if (!buf) {
        snprintf(err, errn, "%s: out of memory", path);
        return EBM_STATUS_OUT_OF_MEMORY;
    }
    memcpy(buf, NPY_MAGIC, 6);
    buf[6] = 1, buf[7] = 0;
    size_t hl = total_head - 10;
    buf[8] = (unsigned char)(hl & 0xff), buf[9] = (unsigned char)(hl >> 8);
    memcpy(buf + 10, dict, (size_t)len);
    memset(buf + 10 + len, ' ', total_head - 10 - (size_t)len - 1);
    buf[total_head - 1] = '\n';
    for (size_t i = 0; i < n; i++) {   /* little-endian float32 whatever the host */
        uint32_t u;
        memcpy(&u, &data[i], 4);
        unsigned char *p = buf + total_head + 4 * i;
        p[0] = (unsigned char)u, p[1] = (unsigned char)(u >> 8), p[2] = (unsigned char)(u >> 16), p[3] = (unsigned char)(u >> 24);
    }
    ebm_status_t st = ebm_write_atomic(path, buf, total_head + bytes, err, errn);
    free(buf);
    return st;
}

/* ---- the header dict ---- */
typedef struct {
    const char *s, *end;
} cursor_t;

static void skip_ws(cursor_t *c) {
    while (c->s < c->end && (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r')) c->s++;
}

static int accept(cursor_t *c, char ch) {
    skip_ws(c);
    if (c->s < c->end && *c->s == ch) {
        c->s++;
        return 1;
    }
    return 0;
}

/* a quoted string into out (at most n-1 characters); 0 if none */
static int quoted(cursor_t *c, char *out, size_t n) {
    skip_ws(c);
    if (c->s >= c->end || (*c->s != '\'' && *c->s != '"')) return 0;
    char q = *c->s++;
    size_t k = 0;
    while (c->s < c->end && *c->s != q) {
        if (*c->s == '\\' || k + 1 >= n) return 0;
        out[k++] = *c->s++;
    }
    if (c->s >= c->end) return 0;
    c->s++;
    out[k] = 0;
    return 1;
}

static int word(cursor_t *c, const char *w) {
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->s) >= n && !memcmp(c->s, w, n)) {
        c->s += n;
        return 1;
    }
    return 0;
}

/* (d0, d1, ...) with a trailing comma allowed, () for a scalar; the count, or -1 */
static int shape_tuple(cursor_t *c, long long *dims, int max) {
    if (!accept(c, '(')) return -1;
    int n = 0;
    for (;;) {
        if (accept(c, ')')) return n;
        skip_ws(c);
        if (c->s >= c->end || *c->s < '0' || *c->s > '9' || n >= max) return -1;
        long long v = 0;
        while (c->s < c->end && *c->s >= '0' && *c->s <= '9') {
            v = v * 10 + (*c->s++ - '0');
            if (v > (1LL << 40)) return -1;
        }
        if (c->s < c->end && *c->s == 'L') c->s++;   /* Python 2's long suffix, as old numpy wrote */
        dims[n++] = v;
        if (!accept(c, ',')) return accept(c, ')') ? n : -1;
    }
}

ebm_status_t ebm_npy_parse(const char *name, const unsigned char *buf, size_t len, ebm_npy_t *out, char *err, size_t errn) {
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(buf, NPY_MAGIC, 6)) {
        snprintf(err, errn, "%s: not a .npy file (%s)", name, len < 10 ? "shorter than its magic and version" : "bad magic");
        return EBM_STATUS_FORMAT;
    }
    int major = buf[6];
    size_t hl, off;
    if (major == 1) hl = (size_t)buf[8] | (size_t)buf[9] << 8, off = 10;
    else if (major == 2 || major == 3) {
        if (len < 12) {
            snprintf(err, errn, "%s: truncated .npy header", name);
            return EBM_STATUS_FORMAT;
        }
        hl = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24, off = 12;
    } else {
        snprintf(err, errn, "%s: .npy format version %d.%d (1.0, 2.0 and 3.0 are read)", name, major, buf[7]);
        return EBM_STATUS_FORMAT;
    }
    if (hl > len - off) {
        snprintf(err, errn, "%s: truncated .npy header (%zu bytes announced, %zu present)", name, hl, len - off);
        return EBM_STATUS_FORMAT;
    }
    cursor_t c = {(const char *)buf + off, (const char *)buf + off + hl};
    char descr[16] = "";
    long long dims[EBM_NPY_MAX_DIMS + 1];
    int ndim = -1, fortran = -1, got_descr = 0;
    if (!accept(&c, '{')) goto bad_header;
    while (!accept(&c, '}')) {
        char key[32];
        if (!quoted(&c, key, sizeof key) || !accept(&c, ':')) goto bad_header;
        if (!strcmp(key, "descr") && !got_descr) {
            if (!quoted(&c, descr, sizeof descr)) {
                snprintf(err, errn, "%s: .npy 'descr' is not a simple type string (structured arrays are not read)", name);
                return EBM_STATUS_FORMAT;
            }
            got_descr = 1;
        } else if (!strcmp(key, "fortran_order") && fortran < 0) {
            if (word(&c, "True")) fortran = 1;
            else if (word(&c, "False")) fortran = 0;
            else goto bad_header;
        } else if (!strcmp(key, "shape") && ndim < 0) {
            if ((ndim = shape_tuple(&c, dims, EBM_NPY_MAX_DIMS + 1)) < 0) goto bad_header;
        } else {
            snprintf(err, errn, "%s: .npy header has %s key '%s'", name, strcmp(key, "descr") && strcmp(key, "fortran_order") && strcmp(key, "shape") ? "an unknown" : "a repeated", key);
            return EBM_STATUS_FORMAT;
        }
        if (!accept(&c, ',')) {
            if (!accept(&c, '}')) goto bad_header;
            break;
        }
    }
    skip_ws(&c);
    if (c.s != c.end || !got_descr || fortran < 0 || ndim < 0) goto bad_header;
    if (fortran) {
        snprintf(err, errn, "%s: a Fortran-order array (save it in C order: numpy.ascontiguousarray)", name);
        return EBM_STATUS_FORMAT;
    }
    if (ndim < 1 || ndim > EBM_NPY_MAX_DIMS) {
        snprintf(err, errn, "%s: an array of %d dimensions (1 to %d are read)", name, ndim, EBM_NPY_MAX_DIMS);
        return EBM_STATUS_FORMAT;
    }
    int kind;   /* 4: f4, 8: f8, 1: u1 */
    int big = descr[0] == '>';
    if (!strcmp(descr, "<f4") || !strcmp(descr, ">f4") || (sizeof(float) == 4 && !strcmp(descr, "=f4"))) kind = 4;
    else if (!strcmp(descr, "<f8") || !strcmp(descr, ">f8")) kind = 8;
    else if (!strcmp(descr, "|u1") || !strcmp(descr, "<u1") || !strcmp(descr, ">u1")) kind = 1, big = 0;
    else {
        snprintf(err, errn, "%s: .npy element type '%s' is not read (float32 '<f4', float64 '<f8' or uint8 '|u1')", name, descr);
        return EBM_STATUS_FORMAT;
    }
    size_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] > (1LL << 31) - 1 || (dims[d] > 0 && n > ((size_t)1 << 34) / (size_t)dims[d])) {
            snprintf(err, errn, "%s: implausible .npy shape (dimension %d is %lld)", name, d, dims[d]);
            return EBM_STATUS_FORMAT;
        }
        n *= (size_t)dims[d];
        out->shape[d] = (int)dims[d];
    }
    size_t data_off = off + hl, need = n * (size_t)kind;
    if (len - data_off != need) {
        snprintf(err, errn, "%s: %s: the header's shape needs %zu bytes of data, the file has %zu", name,
                 len - data_off < need ? "truncated" : "trailing bytes after the array", need, len - data_off);
        return EBM_STATUS_FORMAT;
    }
    float *x = malloc(sizeof(float) * (n ? n : 1));
    if (!x) {
        snprintf(err, errn, "%s: out of memory for %zu numbers", name, n);
        return EBM_STATUS_OUT_OF_MEMORY;
    }
    const unsigned char *p = buf + data_off;
    for (size_t i = 0; i < n; i++) {
        if (kind == 1) {
            x[i] = p[i] / 255.0f;
            continue;
        }
        uint64_t u = 0;
        for (int b = 0; b < kind; b++) u |= (uint64_t)p[kind * i + (size_t)(big ? kind - 1 - b : b)] << (8 * b);
        if (kind == 4) {
            uint32_t u32 = (uint32_t)u;
            memcpy(&x[i], &u32, 4);
        } else {
            double v;
            memcpy(&v, &u, 8);
            if (isfinite(v) && fabs(v) > FLT_MAX) {
                snprintf(err, errn, "%s: element %zu (%g) is outside float32's range", name, i, v);
                free(x);
                return EBM_STATUS_FORMAT;
            }
            x[i] = (float)v;
        }
    }
    out->ndim = ndim;
    out->n = n;
    out->data = x;
    return EBM_OK;
bad_header:
    snprintf(err, errn, "%s: malformed .npy header (expected {'descr': ..., 'fortran_order': ..., 'shape': (...), })", name);
    return EBM_STATUS_FORMAT;
}

ebm_status_t ebm_npy_read(const char *path, ebm_npy_t *out, char *err, size_t errn) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errn, "%s: cannot open: %s", path, strerror(errno));
        return EBM_STATUS_IO;
    }
    /* read the whole file, growing the buffer with what is there (a header cannot make us allocate) */
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    ebm_status_t st = EBM_OK;
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap) break;
        if (cap > ((size_t)1 << 36)) {
            snprintf(err, errn, "%s: larger than 64 GiB", path);
            st = EBM_STATUS_FORMAT;
            break;
        }
        unsigned char *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb, cap *= 2;
    }
    if (st == EBM_OK && !buf) {
        snprintf(err, errn, "%s: out of memory", path);
        st = EBM_STATUS_OUT_OF_MEMORY;
    } else if (st == EBM_OK && ferror(f)) {
        snprintf(err, errn, "%s: read error: %s", path, strerror(errno));
        st = EBM_STATUS_IO;
    }
    fclose(f);
    if (st == EBM_OK) st = ebm_npy_parse(path, buf, len, out, err, errn);
    free(buf);
    return st;
}
