/* test_io.c — file formats: safetensors round trip and every kind of corruption; IDX plain and
 * gzipped, truncated and malformed, and the real Fashion-MNIST files; .npy round trip, the byte
 * layout numpy writes (float32/float64 either order, uint8, version 2.0) and every malformed header,
 * truncation and trailing data; toy data; PNG grids read back with stb_image; no temporary files
 * left behind. */
#include <math.h>
#include <stb_image.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "ebm.h"
#include "testing.h"

static char dir[] = "/tmp/ebm-io-test-XXXXXX";

static const char *pth(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    if (b && fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

/* a .npy file as numpy lays it out: magic, version, header length, dict padded with spaces and a
 * newline to a multiple of 64 bytes, data; returns its length in out */
static size_t npy_bytes(unsigned char *out, int version, const char *dict, const void *data, size_t n) {
    size_t pre = version == 1 ? 10 : 12, L = strlen(dict), total = (pre + L + 1 + 63) / 64 * 64, hl = total - pre;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)version, out[7] = 0;
    for (size_t b = 0; b < pre - 8; b++) out[8 + b] = (unsigned char)(hl >> (8 * b));
    memcpy(out + pre, dict, L);
    memset(out + pre + L, ' ', total - pre - L - 1);
    out[total - 1] = '\n';
    memcpy(out + total, data, n);
    return total + n;
}

static int no_tmp_files(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q '\\.tmp\\.'", dir);
    return system(cmd) != 0;
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, NULL) != EBM_OK) {
        fprintf(stderr, "test_io: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    char err[1024], msg[1200];
    /* ---- safetensors ---- */
    float a[6] = {1, -2, 3.5f, 4, 5, 6}, b[3] = {0.25f, -0.5f, 1e-7f};
    ebm_tensor_t *ta = ebm_tensor_from_host(ctx, 2, (int[]){2, 3}, a), *tb = ebm_tensor_from_host(ctx, 1, (int[]){3}, b);
    ebm_named_tensor_t ts[2] = {{"net.0.weight", ta}, {"net.0.bias", tb}};
    ebm_kv_t meta[2] = {{"model", "mlp"}, {"config", "[model]\nkind = mlp\n"}};
    ebm_status_t st = ebm_safetensors_save(pth("ok.safetensors"), ts, 2, meta, 2, err, sizeof err);
    check_msg(st == EBM_OK && no_tmp_files(), "safetensors written atomically (no temporary file left)", st ? err : NULL);
    ebm_tensor_t *ra = ebm_tensor_zeros(ctx, 2, (int[]){2, 3}), *rb = ebm_tensor_zeros(ctx, 1, (int[]){3});
    ebm_named_tensor_t rs[2] = {{"net.0.bias", rb}, {"net.0.weight", ra}};
    char *mj = NULL;
    st = ebm_safetensors_load(pth("ok.safetensors"), rs, 2, &mj, err, sizeof err);
    float a2[6], b2[3];
    ebm_tensor_read(ra, a2);
    ebm_tensor_read(rb, b2);
    check_msg(st == EBM_OK && !memcmp(a, a2, sizeof a) && !memcmp(b, b2, sizeof b) && mj && strstr(mj, "\"model\":\"mlp\""),
              "safetensors round trip: values bit-exact, names, __metadata__", st ? err : mj);
    free(mj);
    /* the header is what PyTorch's safetensors expects: 8-byte length, JSON, F32, data_offsets */
    size_t n = 0;
    unsigned char *raw = slurp(pth("ok.safetensors"), &n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | raw[i];
    check(raw && hl % 8 == 0 && n == 8 + hl + 36 && strstr((char *)raw + 8, "\"dtype\":\"F32\"") &&
              strstr((char *)raw + 8, "\"net.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"),
          "safetensors layout: length prefix, JSON header, F32 entries with data_offsets, 36 data bytes");
    /* corruptions */
    struct { const char *name; size_t cut; const char *patch_from, *patch_to; ebm_status_t want; const char *expect; } bad[] = {
        {"truncated.safetensors", 30, NULL, NULL, EBM_STATUS_FORMAT, "header length"},
        {"short.safetensors", 5, NULL, NULL, EBM_STATUS_FORMAT, "8-byte"},
        {"datacut.safetensors", (size_t)-8, NULL, NULL, EBM_STATUS_FORMAT, "truncated"},
        {"json.safetensors", 0, "{\"__metadata__\"", "[\"__metadata__\"", EBM_STATUS_FORMAT, "JSON"},
        {"dtype.safetensors", 0, "\"F32\",\"shape\":[2,3]", "\"F16\",\"shape\":[2,3]", EBM_STATUS_FORMAT, "F16"},
        {"shape.safetensors", 0, "\"shape\":[2,3]", "\"shape\":[3,2]", EBM_STATUS_SHAPE, "[3,2]"},
        {"offsets.safetensors", 0, "[0,24]", "[0,99]", EBM_STATUS_FORMAT, "data_offsets"},
        {"name.safetensors", 0, "net.0.weight", "net.9.weight", EBM_STATUS_FORMAT, "no tensor named net.0.weight"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char *c = malloc(n);
        memcpy(c, raw, n);
        size_t len = n;
        if (bad[i].cut == (size_t)-8) len = n - 8;
        else if (bad[i].cut) len = bad[i].cut;
        if (bad[i].patch_from) {
            char *p = strstr((char *)c + 8, bad[i].patch_from);
            if (p) memcpy(p, bad[i].patch_to, strlen(bad[i].patch_to));
        }
        write_bytes(pth(bad[i].name), c, len);
        free(c);
        err[0] = 0;
        st = ebm_safetensors_load(pth(bad[i].name), rs, 2, NULL, err, sizeof err);
        snprintf(msg, sizeof msg, "corrupt checkpoint %s: clear error", bad[i].name);
        check_msg(st == bad[i].want && strstr(err, bad[i].name) && strstr(err, bad[i].expect), msg, err);
    }
    st = ebm_safetensors_load(pth("missing.safetensors"), rs, 2, NULL, err, sizeof err);
    check_msg(st == EBM_STATUS_IO && strstr(err, "missing.safetensors"), "missing checkpoint: I/O error naming the file", err);
    st = ebm_safetensors_save("/nonexistent-dir/x.safetensors", ts, 2, NULL, 0, err, sizeof err);
    check_msg(st == EBM_STATUS_IO, "unwritable checkpoint path: I/O error", err);
    free(raw);

    /* ---- IDX ---- */
    unsigned char idx[4 + 12 + 2 * 3 * 4] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};
    for (int i = 0; i < 24; i++) idx[16 + i] = (unsigned char)(10 * i);
    write_bytes(pth("a.idx"), idx, sizeof idx);
    gzFile gz = gzopen(pth("a.idx.gz"), "wb");
    gzwrite(gz, idx, sizeof idx);
    gzclose(gz);
    ebm_idx_t d;
    for (int z = 0; z < 2; z++) {
        st = ebm_idx_read(pth(z ? "a.idx.gz" : "a.idx"), &d, err, sizeof err);
        check_msg(st == EBM_OK && d.ndim == 3 && d.dims[0] == 2 && d.dims[1] == 3 && d.dims[2] == 4 && d.n == 24 && d.data[23] == 230,
                  z ? "IDX gzipped: dims and data" : "IDX plain: dims and data", st ? err : NULL);
        ebm_idx_free(&d);
    }
    write_bytes(pth("trunc.idx"), idx, sizeof idx - 5);
    st = ebm_idx_read(pth("trunc.idx"), &d, err, sizeof err);
    check_msg(st == EBM_STATUS_FORMAT && strstr(err, "truncated") && strstr(err, "trunc.idx"), "truncated IDX: clear error", err);
    unsigned char m2[sizeof idx];
    memcpy(m2, idx, sizeof idx);
    m2[0] = 0x1f;
    write_bytes(pth("magic.idx"), m2, sizeof m2);
    st = ebm_idx_read(pth("magic.idx"), &d, err, sizeof err);
    check_msg(st == EBM_STATUS_FORMAT && strstr(err, "magic"), "not an IDX file: clear error", err);
    memcpy(m2, idx, sizeof idx);
    m2[2] = 0x0D;
    write_bytes(pth("float.idx"), m2, sizeof m2);
    st = ebm_idx_read(pth("float.idx"), &d, err, sizeof err);
    check_msg(st == EBM_STATUS_FORMAT && strstr(err, "0x0d"), "unsupported IDX element type: clear error", err);
    unsigned char badgz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7};
    write_bytes(pth("bad.idx.gz"), badgz, sizeof badgz);
    st = ebm_idx_read(pth("bad.idx.gz"), &d, err, sizeof err);
    check_msg(st == EBM_STATUS_FORMAT, "corrupt gzip stream: clear error", err);
    const char *fm = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    if (access(fm, R_OK) == 0) {
        st = ebm_idx_read(fm, &d, err, sizeof err);
        long sum = 0;
        for (size_t i = 0; st == EBM_OK && i < d.n; i++) sum += d.data[i];
        snprintf(msg, sizeof msg, "Fashion-MNIST test images: %d x %d x %d, mean pixel %.1f", d.dims[0], d.dims[1], d.dims[2],
                 st == EBM_OK ? (double)sum / d.n : 0.0);
        check_msg(st == EBM_OK && d.dims[0] == 10000 && d.dims[1] == 28 && d.dims[2] == 28 && sum > 0, msg, st ? err : NULL);
        ebm_idx_free(&d);
    } else {
        printf("note: %s not installed (Debian package dataset-fashion-mnist); real-data check not run\n", fm);
    }

    /* ---- toy data ---- */
    float xy[2 * 4000], centres[50], sd;
    ebm_rng_t r = ebm_rng_make(5, 0);
    int k = ebm_toy_modes("8gaussians", centres, 25, &sd);
    st = ebm_toy_sample("8gaussians", &r, xy, 4000, err, sizeof err);
    int counts[8] = {0}, near = 0;
    for (int i = 0; i < 4000; i++)
        for (int m = 0; m < k; m++) {
            float dx = xy[2 * i] - centres[2 * m], dy = xy[2 * i + 1] - centres[2 * m + 1];
            if (dx * dx + dy * dy < 9 * sd * sd) {
                counts[m]++;
                near++;
            }
        }
    int minc = 4000;
    for (int m = 0; m < 8; m++) minc = counts[m] < minc ? counts[m] : minc;
    /* within 3 sigma in 2-D: P = 1 - exp(-9/2) = 0.989; each mode gets ~500 +- 22 */
    snprintf(msg, sizeof msg, "8 gaussians: %d of 4000 within 3 sd of a mode (expect ~98.9%%), fewest per mode %d", near, minc);
    check(st == EBM_OK && k == 8 && near > 0.97 * 4000 && minc > 400, msg);
    check(ebm_toy_modes("25gaussians", centres, 25, &sd) == 25 && ebm_toy_sample("swissroll", &r, xy, 100, err, sizeof err) == EBM_OK &&
              ebm_toy_sample("2spirals", &r, xy, 100, err, sizeof err) == EBM_OK && ebm_toy_sample("rings", &r, xy, 100, err, sizeof err) == EBM_OK,
          "25 gaussians, swiss roll, two spirals, rings generate");
    st = ebm_toy_sample("moons3", &r, xy, 10, err, sizeof err);
    check_msg(st == EBM_STATUS_INVALID_ARGUMENT && strstr(err, "moons3"), "unknown toy data set: clear error", err);

    /* ---- .npy ---- */
    {
        float v[24];
        for (int i = 0; i < 24; i++) v[i] = (float)i * 0.37f - 3.1f;
        v[5] = 1e-38f, v[6] = -0.0f, v[7] = 3.4e38f;
        st = ebm_npy_write(pth("a.npy"), v, 4, (int[]){2, 3, 2, 2}, err, sizeof err);
        size_t fn = 0;
        unsigned char *f = st == EBM_OK ? slurp(pth("a.npy"), &fn) : NULL;
        /* numpy's layout: magic, version 1.0, header length, dict padded so data starts at 64k */
        const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 2, 2), }";
        check_msg(f && fn == 128 + 96 && !memcmp(f, "\x93NUMPY\x01\x00", 8) && f[8] + 256 * f[9] == 118 && !memcmp(f + 10, dict, strlen(dict)) &&
                      f[127] == '\n' && f[126] == ' ' && no_tmp_files(),
                  ".npy write: numpy's header layout (dict, spaces, newline, data at byte 128), atomically", st ? err : NULL);
        ebm_npy_t rd;
        st = ebm_npy_read(pth("a.npy"), &rd, err, sizeof err);
        check_msg(st == EBM_OK && rd.ndim == 4 && rd.shape[0] == 2 && rd.shape[1] == 3 && rd.shape[3] == 2 && rd.n == 24 &&
                      !memcmp(rd.data, v, sizeof v),
                  ".npy round trip: shape and every bit of the floats", st ? err : NULL);
        ebm_npy_free(&rd);
        /* the byte layouts numpy writes for other types: big-endian float32, float64, uint8, version 2.0, 1-tuple shape */
        unsigned char buf[256];
        size_t len = npy_bytes(buf, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", "\x3f\xc0\x00\x00\xc1\x20\x00\x00", 8);
        st = ebm_npy_parse("be.npy", buf, len, &rd, err, sizeof err);   /* 1.5, -10 big-endian */
        check_msg(st == EBM_OK && len == 128 + 8 && rd.n == 2 && rd.data[0] == 1.5f && rd.data[1] == -10.0f, ".npy big-endian float32", st ? err : NULL);
        ebm_npy_free(&rd);
        double d2[2] = {0.1, -2.5e300};
        len = npy_bytes(buf, 2, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", d2, 16);
        st = ebm_npy_parse("f8.npy", buf, len - 8, &rd, err, sizeof err);
        check_msg(st == EBM_STATUS_FORMAT && strstr(err, "truncated"), ".npy version 2.0 float64, 8 of 16 data bytes: truncated", err);
        st = ebm_npy_parse("f8.npy", buf, len, &rd, err, sizeof err);
        check_msg(st == EBM_STATUS_FORMAT && strstr(err, "outside float32's range"), ".npy float64 beyond float32's range is refused", err);
        d2[1] = -2.5;
        len = npy_bytes(buf, 2, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", d2, 16);
        st = ebm_npy_parse("f8.npy", buf, len, &rd, err, sizeof err);
        check_msg(st == EBM_OK && rd.ndim == 2 && rd.data[0] == 0.1f && rd.data[1] == -2.5f, ".npy version 2.0 float64 rounded to float32", st ? err : NULL);
        ebm_npy_free(&rd);
        buf[len] = 0;
        st = ebm_npy_parse("f8.npy", buf, len + 1, &rd, err, sizeof err);
        check_msg(st == EBM_STATUS_FORMAT && strstr(err, "trailing"), ".npy with a byte after the array is refused", err);
        len = npy_bytes(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", "\x00\x80\xff", 3);
        st = ebm_npy_parse("u1.npy", buf, len, &rd, err, sizeof err);
        check_msg(st == EBM_OK && rd.data[0] == 0 && rd.data[1] == 128 / 255.0f && rd.data[2] == 1.0f, ".npy uint8 divided by 255", st ? err : NULL);
        ebm_npy_free(&rd);
        /* malformed: each must be refused with a message naming the file and the problem */
        static const struct {
            const char *hdr, *want;
        } malformed[] = {
            {"{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", "Fortran"},
            {"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", "'<i8' is not read"},
            {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "structured"},
            {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }", "unknown key 'extra'"},
            {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "repeated key 'descr'"},
            {"{'descr': '<f4', 'fortran_order': False, }", "malformed"},
            {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", "malformed"},
            {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4, 5, 6), }", "5 dimensions"},
            {"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", "0 dimensions"},
            {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", "malformed"},
            {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,), }", "implausible"},
            {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,) } junk", "malformed"},
            {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", "malformed"},
        };
        for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
            len = npy_bytes(buf, 1, malformed[i].hdr, "\0\0\0\0\0\0\0\0", 8);   /* data for shape (2,) */
            st = ebm_npy_parse("bad.npy", buf, len, &rd, err, sizeof err);
            snprintf(msg, sizeof msg, ".npy header %s: refused (%s)", malformed[i].hdr, malformed[i].want);
            check_msg(st == EBM_STATUS_FORMAT && strstr(err, "bad.npy") && strstr(err, malformed[i].want) && !rd.data, msg, err);
        }
        st = ebm_npy_parse("short.npy", (const unsigned char *)"\x93NUMPY\x01\x00\xff\x00{'descr'", 18, &rd, err, sizeof err);
        check_msg(st == EBM_STATUS_FORMAT && strstr(err, "truncated .npy header"), ".npy header longer than the file", err);
        st = ebm_npy_parse("v9.npy", (const unsigned char *)"\x93NUMPY\x09\x00\x00\x00", 10, &rd, err, sizeof err);
        check_msg(st == EBM_STATUS_FORMAT && strstr(err, "version 9.0"), ".npy version 9 is refused", err);
        st = ebm_npy_parse("png.npy", (const unsigned char *)"\x89PNG\r\n\x1a\n\0\0\0", 11, &rd, err, sizeof err);
        check_msg(st == EBM_STATUS_FORMAT && strstr(err, "not a .npy file"), "a PNG is not a .npy file", err);
        st = ebm_npy_read(pth("none.npy"), &rd, err, sizeof err);
        check_msg(st == EBM_STATUS_IO && strstr(err, "none.npy"), ".npy missing file", err);
        st = ebm_npy_write(pth("five.npy"), v, 5, (int[]){1, 1, 1, 1, 24}, err, sizeof err);
        check_msg(st == EBM_STATUS_INVALID_ARGUMENT && access(pth("five.npy"), F_OK) != 0, ".npy write of 5 dimensions refused, no file", err);
        free(f);
    }

    /* ---- PNG grid ---- */
    float img[3 * 1 * 4 * 5];
    for (int i = 0; i < 60; i++) img[i] = (float)(i % 20) / 19.0f;
    img[0] = NAN;
    st = ebm_png_grid(pth("grid.png"), img, 3, 1, 4, 5, 2, err, sizeof err);
    int w = 0, h = 0, c = 0;
    unsigned char *px = st == EBM_OK ? stbi_load(pth("grid.png"), &w, &h, &c, 3) : NULL;
    /* 2 columns x 2 rows of 5x4 images with 2-pixel borders: (2*(5+2)+2) x (2*(4+2)+2) */
    check_msg(px && w == 16 && h == 14 && px[(2 * 16 + 2) * 3] == 0 && px[((2 + 3) * 16 + 2 + 4) * 3] == 255 && no_tmp_files(),
              "PNG grid: size with borders, NaN drawn black, 1.0 drawn white, written atomically", st ? err : NULL);
    stbi_image_free(px);
    st = ebm_png_grid(pth("bad.png"), img, 3, 2, 4, 5, 2, err, sizeof err);
    check_msg(st == EBM_STATUS_INVALID_ARGUMENT, "PNG grid with 2 channels is refused", err);

    ebm_ctx_free(ctx);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary();
}
