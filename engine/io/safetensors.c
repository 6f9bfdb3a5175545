/* safetensors.c — the safetensors format: 8-byte little-endian header length N, N bytes of JSON
 * ({"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__":
 * {"key": "value"}}), then the raw little-endian data. Parsed with cJSON; every field checked. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../ebm_io.h"

#define MAX_HEADER (100u << 20)

ebm_status_t ebm_safetensors_save(const char *path, const ebm_named_tensor_t *ts, int n, const ebm_kv_t *meta, int n_meta,
                                  char *err, size_t errn) {
    cJSON *root = cJSON_CreateObject();
    size_t off = 0;
    ebm_status_t st = EBM_OK;
    if (!root) goto oom;
    if (n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; m && i < n_meta; i++) cJSON_AddStringToObject(m, meta[i].key, meta[i].value);
    }
    for (int i = 0; i < n; i++) {
        if (!ts[i].t || !ts[i].name) {
            snprintf(err, errn, "%s: tensor %d (%s) is missing", path, i, ts[i].name ? ts[i].name : "unnamed");
            cJSON_Delete(root);
            return EBM_STATUS_INVALID_ARGUMENT;
        }
        cJSON *e = cJSON_AddObjectToObject(root, ts[i].name);   /* key order as Python's safetensors writes it */
        cJSON *dt = e ? cJSON_AddStringToObject(e, "dtype", "F32") : NULL;
        cJSON *shape = dt ? cJSON_AddArrayToObject(e, "shape") : NULL, *offs = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        if (!offs) goto oom;
        for (int d = 0; d < ebm_tensor_ndim(ts[i].t); d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber(ebm_tensor_shape(ts[i].t)[d]));
        size_t bytes = ebm_tensor_numel(ts[i].t) * sizeof(float);
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + bytes)));
        off += bytes;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) goto oom;
    size_t hl = strlen(json), padded = (hl + 7) & ~(size_t)7, total = 8 + padded + off;
    unsigned char *buf = malloc(total);
    if (!buf) {
        free(json);
        goto oom;
    }
    for (int b = 0; b < 8; b++) buf[b] = (unsigned char)((uint64_t)padded >> (8 * b));
    memcpy(buf + 8, json, hl);
    memset(buf + 8 + hl, ' ', padded - hl);
    free(json);
    off = 8 + padded;
    for (int i = 0; i < n && st == EBM_OK; i++) {
        st = ebm_tensor_read(ts[i].t, (float *)(void *)(buf + off));   /* x86/ARM little-endian floats */
        if (st != EBM_OK) snprintf(err, errn, "%s: reading tensor %s from the device: %s", path, ts[i].name, ebm_status_str(st));
        off += ebm_tensor_numel(ts[i].t) * sizeof(float);
    }
    if (st == EBM_OK) st = ebm_write_atomic(path, buf, total, err, errn);
    free(buf);
    return st;
oom:
    snprintf(err, errn, "%s: out of memory while writing", path);
    return EBM_STATUS_OUT_OF_MEMORY;
}

static ebm_status_t fmt_err(char *err, size_t errn, const char *path, const char *what, const char *name) {
    snprintf(err, errn, "%s: not a valid safetensors file: %s%s%s", path, what, name ? " " : "", name ? name : "");
    return EBM_STATUS_FORMAT;
}

ebm_status_t ebm_safetensors_load(const char *path, const ebm_named_tensor_t *ts, int n, char **meta_json, char *err,
                                  size_t errn) {
    if (meta_json) *meta_json = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errn, "%s: cannot open: %s", path, strerror(errno));
        return EBM_STATUS_IO;
    }
    ebm_status_t st = EBM_OK;
    unsigned char *data = NULL;
    char *hdr = NULL;
    cJSON *root = NULL;
    long fsize = -1;
    if (fseek(f, 0, SEEK_END) == 0) fsize = ftell(f);
    unsigned char lenb[8];
    if (fsize < 8 || fseek(f, 0, SEEK_SET) != 0 || fread(lenb, 1, 8, f) != 8) {
        st = fmt_err(err, errn, path, "shorter than the 8-byte header length", NULL);
        goto done;
    }
    uint64_t hl = 0;
    for (int b = 7; b >= 0; b--) hl = hl << 8 | lenb[b];
    if (hl == 0 || hl > MAX_HEADER || hl > (uint64_t)fsize - 8) {
        snprintf(err, errn, "%s: not a valid safetensors file: header length %llu does not fit a file of %ld bytes", path,
                 (unsigned long long)hl, fsize);
        st = EBM_STATUS_FORMAT;
        goto done;
    }
    hdr = malloc((size_t)hl + 1);
    size_t dsize = (size_t)fsize - 8 - (size_t)hl;
    data = malloc(dsize ? dsize : 1);
    if (!hdr || !data) {
        snprintf(err, errn, "%s: out of memory", path);
        st = EBM_STATUS_OUT_OF_MEMORY;
        goto done;
    }
    if (fread(hdr, 1, (size_t)hl, f) != hl || fread(data, 1, dsize, f) != dsize) {
        snprintf(err, errn, "%s: read error: %s", path, strerror(errno));
        st = EBM_STATUS_IO;
        goto done;
    }
    hdr[hl] = 0;
    root = cJSON_Parse(hdr);
    if (!cJSON_IsObject(root)) {
        st = fmt_err(err, errn, path, "the header is not a JSON object", NULL);
        goto done;
    }
    if (meta_json) {
        cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
        *meta_json = m ? cJSON_PrintUnformatted(m) : NULL;
    }
    for (int i = 0; i < n && st == EBM_OK; i++) {
        cJSON *e = cJSON_GetObjectItemCaseSensitive(root, ts[i].name);
        if (!cJSON_IsObject(e)) {
            snprintf(err, errn, "%s: no tensor named %s", path, ts[i].name);
            st = EBM_STATUS_FORMAT;
            break;
        }
        cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype"), *shape = cJSON_GetObjectItemCaseSensitive(e, "shape"),
              *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "F32")) {
            snprintf(err, errn, "%s: tensor %s has dtype %s, expected F32", path, ts[i].name,
                     cJSON_IsString(dtype) ? dtype->valuestring : "(missing)");
            st = EBM_STATUS_FORMAT;
            break;
        }
        int nd = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : -1;
        const int *want = ebm_tensor_shape(ts[i].t);
        int wnd = ebm_tensor_ndim(ts[i].t), same = nd == wnd;
        size_t numel = 1;
        for (int d = 0; d < nd && same; d++) {
            cJSON *v = cJSON_GetArrayItem(shape, d);
            if (!cJSON_IsNumber(v) || v->valuedouble != want[d]) same = 0;
            numel *= (size_t)want[d];
        }
        if (!same) {
            char got[128] = "", exp[128] = "";
            cJSON_PrintPreallocated(shape ? shape : e, got, sizeof got, 0);
            ebm_tensor_shape_str(ts[i].t, exp, sizeof exp);
            snprintf(err, errn, "%s: tensor %s has shape %s, the model expects %s", path, ts[i].name, got, exp);
            st = EBM_STATUS_SHAPE;
            break;
        }
        cJSON *b0 = cJSON_IsArray(offs) && cJSON_GetArraySize(offs) == 2 ? cJSON_GetArrayItem(offs, 0) : NULL;
        cJSON *b1 = b0 ? cJSON_GetArrayItem(offs, 1) : NULL;
        if (!cJSON_IsNumber(b0) || !cJSON_IsNumber(b1) || b0->valuedouble < 0 || b1->valuedouble < b0->valuedouble ||
            b1->valuedouble > (double)dsize || b1->valuedouble - b0->valuedouble != (double)(numel * sizeof(float))) {
            snprintf(err, errn, "%s: tensor %s: data_offsets missing, out of the file's %zu data bytes, or not %zu bytes long (file truncated?)",
                     path, ts[i].name, dsize, numel * sizeof(float));
            st = EBM_STATUS_FORMAT;
            break;
        }
        const float *src = (const float *)(const void *)(data + (size_t)b0->valuedouble);
        float *tmp = malloc(numel * sizeof(float));
        if (!tmp) {
            st = EBM_STATUS_OUT_OF_MEMORY;
            break;
        }
        memcpy(tmp, src, numel * sizeof(float));   /* data offsets need not be 4-byte aligned */
        st = ebm_tensor_write(ts[i].t, tmp);
        free(tmp);
        if (st != EBM_OK) snprintf(err, errn, "%s: writing %s to the device: %s", path, ts[i].name, ebm_status_str(st));
    }
done:
    if (st != EBM_OK && meta_json && *meta_json) {
        free(*meta_json);
        *meta_json = NULL;
    }
    cJSON_Delete(root);
    free(hdr);
    free(data);
    fclose(f);
    return st;
}
