/* idx.c — IDX files (LeCun's MNIST format), gzipped or plain (zlib's gzread reads both):
 * magic 0 0 <type> <ndim>, ndim big-endian uint32 sizes, then the data. Unsigned bytes only
 * (type 0x08), as MNIST and Fashion-MNIST use. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "../ebm_io.h"

void ebm_idx_free(ebm_idx_t *idx) {
    if (!idx) return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}

ebm_status_t ebm_idx_read(const char *path, ebm_idx_t *out, char *err, size_t errn) {
    memset(out, 0, sizeof *out);
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(err, errn, "%s: cannot open: %s", path, errno ? strerror(errno) : "zlib error");
        return EBM_STATUS_IO;
    }
    ebm_status_t st = EBM_OK;
    unsigned char m[4];
    int got = gzread(f, m, 4);
    if (got != 4 || m[0] != 0 || m[1] != 0) {
        snprintf(err, errn, "%s: not an IDX file (bad magic number%s)", path, got < 0 ? ": corrupt gzip stream" : "");
        st = EBM_STATUS_FORMAT;
        goto done;
    }
    if (m[2] != 0x08) {
        snprintf(err, errn, "%s: IDX element type 0x%02x is not supported (only unsigned bytes, 0x08)", path, m[2]);
        st = EBM_STATUS_FORMAT;
        goto done;
    }
    if (m[3] < 1 || m[3] > 4) {
        snprintf(err, errn, "%s: IDX with %d dimensions (1 to 4 supported)", path, m[3]);
        st = EBM_STATUS_FORMAT;
        goto done;
    }
    out->ndim = m[3];
    size_t n = 1;
    for (int d = 0; d < out->ndim; d++) {
        unsigned char b[4];
        if (gzread(f, b, 4) != 4) {
            snprintf(err, errn, "%s: truncated IDX header", path);
            st = EBM_STATUS_FORMAT;
            goto done;
        }
        uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (v == 0 || v > (1u << 30) || n > ((size_t)1 << 32) / v) {
            snprintf(err, errn, "%s: IDX dimension %d has implausible size %u", path, d, v);
            st = EBM_STATUS_FORMAT;
            goto done;
        }
        out->dims[d] = (int)v;
        n *= v;
    }
    out->n = n;
    /* the buffer grows with the data that arrives, so that a short file whose header claims
     * gigabytes (a 117-byte file asked for 3.2 GB) costs what it holds; a gzipped file's size says
     * nothing about its contents */
    size_t have = 0, cap = 0;
    while (have < n) {
        if (have == cap) {
            size_t grow = cap ? cap : ((size_t)1 << 20);
            cap = n - cap > grow ? cap + grow : n;
            unsigned char *d = realloc(out->data, cap);
            if (!d) {
                snprintf(err, errn, "%s: out of memory for %zu bytes", path, cap);
                st = EBM_STATUS_OUT_OF_MEMORY;
                goto done;
            }
            out->data = d;
        }
        size_t want = cap - have;
        int r = gzread(f, out->data + have, want > (1u << 30) ? (1u << 30) : (unsigned)want);
        if (r <= 0) break;
        have += (size_t)r;
    }
    if (have != n) {
        int zerr;
        const char *zmsg = gzerror(f, &zerr);
        snprintf(err, errn, "%s: truncated IDX data: %zu of %zu bytes%s%s", path, have, n, zerr ? ": " : "", zerr ? zmsg : "");
        st = EBM_STATUS_FORMAT;
        goto done;
    }
    unsigned char extra;
    if (gzread(f, &extra, 1) > 0) {
        snprintf(err, errn, "%s: data continues past the %zu bytes the IDX header declares", path, n);
        st = EBM_STATUS_FORMAT;
    }
done:
    gzclose(f);
    if (st != EBM_OK) ebm_idx_free(out);
    return st;
}
