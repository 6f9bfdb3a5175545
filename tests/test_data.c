/* test_data.c — data sources (models/data.h): image folders (values, centre crop, resize, sort
 * order, a large crop's block means before the resize), PNG channels as stb_image converts them,
 * CSV tables, the epoch shuffle, and clear errors for corrupt, truncated, crafted
 * (zero-size or huge BMPs, a JPEG with an impossible Huffman table) or non-finite inputs. */
#include <math.h>
#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ebm_io.h"
#include "data.h"
#include "testing.h"

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static int expect_error(const char *source, const ebm_data_opts_t *o, const char *needle1, const char *needle2, const char *what) {
    ebm_dataset_t ds;
    char err[1024] = "", msg[1300];
    ebm_status_t st = ebm_dataset_open(&ds, source, o, err, sizeof err);
    int ok = st != EBM_OK && strstr(err, needle1) && (!needle2 || strstr(err, needle2));
    snprintf(msg, sizeof msg, "%s", err);
    check_msg(ok, what, msg);
    if (st == EBM_OK) ebm_dataset_free(&ds);
    return ok;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "test_data_files";
    char path[1400], sub[1024];
    mkdir(dir, 0755);
    snprintf(sub, sizeof sub, "%s/images", dir);
    mkdir(sub, 0755);

    /* two 6x4 RGB PNGs: centre crop 4x4, no resize at size 4; pixel (y, x) channel c = (10y + x + 50c) / 255 */
    unsigned char px[4 * 6 * 3];
    for (int img = 0; img < 2; img++) {
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 6; x++)
                for (int c = 0; c < 3; c++) px[(y * 6 + x) * 3 + c] = (unsigned char)(10 * y + x + 50 * c + 100 * img);
        snprintf(path, sizeof path, "%s/%c.png", sub, img ? 'b' : 'a');
        stbi_write_png(path, 6, 4, 3, px, 6 * 3);
    }
    snprintf(path, sizeof path, "%s/notes.txt", sub);
    write_file(path, "not an image", 12);   /* ignored: not an image extension */
    ebm_dataset_t ds;
    char err[1024];
    ebm_status_t st = ebm_dataset_open(&ds, sub, &(ebm_data_opts_t){.size = 4}, err, sizeof err);
    int ok = st == EBM_OK && ds.n == 2 && ds.ndim == 3 && ds.shape[0] == 3 && ds.shape[1] == 4 && ds.shape[2] == 4;
    for (int img = 0; ok && img < 2; img++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 4; x++)
                    ok &= ds.x[img * 48 + c * 16 + y * 4 + x] == (float)(10 * y + (x + 1) + 50 * c + 100 * img) / 255.0f;
    check_msg(ok, "image folder: sorted files, centre crop 6x4 -> 4x4, CHW floats in [0, 1] equal to the pixels", st ? err : NULL);
    if (st == EBM_OK) ebm_dataset_free(&ds);
    st = ebm_dataset_open(&ds, sub, &(ebm_data_opts_t){.size = 2, .channels = 1}, err, sizeof err);
    ok = st == EBM_OK && ds.shape[0] == 1 && ds.shape[1] == 2;
    for (int i = 0; ok && i < 8; i++) ok &= ds.x[i] >= 0 && ds.x[i] <= 1;
    check_msg(ok, "image folder: grayscale, resized 4x4 -> 2x2, values stay in [0, 1]", st ? err : NULL);
    if (st == EBM_OK) ebm_dataset_free(&ds);

    /* corrupt and truncated images */
    snprintf(path, sizeof path, "%s/a.png", sub);
    FILE *f = fopen(path, "rb");
    unsigned char buf[4096];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    snprintf(path, sizeof path, "%s/c.png", sub);
    write_file(path, buf, n / 2);
    expect_error(sub, &(ebm_data_opts_t){.size = 4}, "c.png", "not a readable PNG image", "truncated PNG: error names the file");
    write_file(path, "\x89PNG\r\n\x1a\ngarbage", 15);
    expect_error(sub, &(ebm_data_opts_t){.size = 4}, "c.png", "not a readable", "corrupt PNG header: error names the file");
    remove(path);

    /* untrusted image files: each gives an error naming it, never an abort, an out-of-bounds write
     * (run the sanitizer build) or a huge allocation */
    char one[1100];
    snprintf(one, sizeof one, "%s/one", dir);
    mkdir(one, 0755);
    snprintf(path, sizeof path, "%s/x.bmp", one);
    unsigned char bmp[58] = {'B', 'M', 58, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0,   /* file header */
                             40, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,               /* info header: width 1, height 0 */
                             1, 0, 24, 0, 0, 0, 0, 0, 4, 0, 0, 0};
    write_file(path, bmp, sizeof bmp);
    expect_error(one, &(ebm_data_opts_t){.size = 4}, "x.bmp", NULL, "a zero-height BMP: an error naming the file (was an abort in stb_image_resize)");
    unsigned w12m = 12000000;   /* a 58-byte BMP declaring 12 000 000 x 17 pixels (was 800 MB and 10 s) */
    memcpy(bmp + 18, &w12m, 4);
    bmp[22] = 17;
    write_file(path, bmp, sizeof bmp);
    expect_error(one, &(ebm_data_opts_t){.size = 4}, "x.bmp", "12000000 x 17 pixels", "a BMP declaring 12M x 17 pixels is refused before decoding");
    unsigned char rgb[5 * 3 * 3];   /* a valid 5 x 3 BMP (rows padded to 4 bytes) reads back exactly, centre-cropped to 3 x 3 */
    for (int i = 0; i < 45; i++) rgb[i] = (unsigned char)(5 * i);
    stbi_write_bmp(path, 5, 3, 3, rgb);
    float bx[27];
    st = ebm_image_read(path, 3, 3, bx, err, sizeof err);
    ok = st == EBM_OK;
    for (int c = 0; ok && c < 3; c++)
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++) ok &= bx[c * 9 + y * 3 + x] == (float)(5 * ((y * 5 + x + 1) * 3 + c)) / 255.0f;
    check_msg(ok, "a 5 x 3 BMP reads back exactly (centre crop 3 x 3)", st ? err : NULL);
    unsigned w2092 = 2092, h15230 = 15230;   /* within the size limits, but its 1-bit rows are not in the file (found by fuzzing: 6 s) */
    memcpy(bmp + 18, &w2092, 4), memcpy(bmp + 22, &h15230, 4);
    bmp[28] = 1;
    write_file(path, bmp, 44);
    expect_error(one, &(ebm_data_opts_t){.size = 4}, "x.bmp", "a truncated BMP (2092 x 15230 pixels of 1 bits need 4020774 bytes, the file has 44)",
                 "a 44-byte BMP declaring 2092 x 15230 pixels is refused before decoding");
    remove(path);
    /* a JPEG (written by stb_image_write, read by libjpeg-turbo): a flat colour reads back within
     * JPEG's rounding; then its first Huffman table's counts made to sum past 256 (stb_image 2.27
     * wrote out of bounds there) must be refused */
    snprintf(path, sizeof path, "%s/j.jpg", one);
    unsigned char flat[16 * 16 * 3];
    for (int i = 0; i < 16 * 16; i++) flat[3 * i] = 200, flat[3 * i + 1] = 100, flat[3 * i + 2] = 50;
    stbi_write_jpg(path, 16, 16, 3, flat, 100);
    float jx[3 * 16 * 16];
    st = ebm_image_read(path, 3, 16, jx, err, sizeof err);
    double jerr = 0;
    for (int c = 0; st == EBM_OK && c < 3; c++)
        for (int i = 0; i < 256; i++) jerr = fmax(jerr, fabs(jx[c * 256 + i] * 255.0 - flat[c]));
    check_msg(st == EBM_OK && jerr <= 3, "a JPEG reads back (flat colour within 3 of 255)", st ? err : NULL);
    f = fopen(path, "rb");
    unsigned char jpg[8192];
    size_t nj = f ? fread(jpg, 1, sizeof jpg, f) : 0;
    if (f) fclose(f);
    size_t dht = 0;
    for (size_t i = 2; i + 21 < nj && !dht; i++)
        if (jpg[i] == 0xFF && jpg[i + 1] == 0xC4) dht = i;
    for (int k = 0; dht && k < 16; k++) jpg[dht + 5 + k] = 17;   /* 16 code lengths x 17 codes = 272 > 256 */
    write_file(path, jpg, nj);
    check(dht > 0, "the test JPEG has a DHT segment");
    expect_error(one, &(ebm_data_opts_t){.size = 4}, "j.jpg", "not a readable JPEG image", "a JPEG whose Huffman counts sum past 256 is refused");
    write_file(path, "GIF89a\x01\x00\x01\x00", 10);   /* named .jpg: the content decides, and only PNG/JPEG/BMP are decoded */
    expect_error(one, &(ebm_data_opts_t){.size = 4}, "j.jpg", "not a PNG, JPEG or BMP image", "another format under an image name is refused");
    remove(path);

    /* PNG channels as stb_image converts them: gray, gray + alpha, RGB and RGBA files read as gray
     * and as RGB equal stb_image's own decoding of the same file, byte for byte */
    unsigned rng = 12345;
    unsigned char src[7 * 5 * 4];
    for (int i = 0; i < 7 * 5 * 4; i++) src[i] = (unsigned char)((rng = rng * 1103515245u + 12345u) >> 16);
    snprintf(path, sizeof path, "%s/c.png", one);
    for (int have = 1; have <= 4; have++) {
        stbi_write_png(path, 7, 5, have, src, 7 * have);
        for (int want = 1; want <= 3; want += 2) {
            int w = 0, h = 0, sw, sh, sc;
            unsigned char *ours = ebm_image_decode(path, want, &w, &h, err, sizeof err), *ref = stbi_load(path, &sw, &sh, &sc, want);
            char what[120];
            snprintf(what, sizeof what, "a PNG of %d channels read as %d equals stb_image's decoding", have, want);
            check_msg(ours && ref && w == 7 && h == 5 && sw == 7 && sh == 5 && !memcmp(ours, ref, 7 * 5 * want), what, ours ? NULL : err);
            free(ours), stbi_image_free(ref);
        }
    }
    /* a crop more than 3x the size is averaged over f x f blocks first: 103 x 100 RGB to 2 x 2 has
     * f = 100 / 6 = 16, a 96 x 96 crop at (3, 2), 6 x 6 block means (double sums) resampled by
     * stb_image_resize; equal to that computed here */
    enum { BW = 103, BH = 100, F = 16, R = 6 };
    unsigned char *photo = malloc(BW * BH * 3);
    for (int i = 0; photo && i < BW * BH * 3; i++) photo[i] = (unsigned char)((rng = rng * 1103515245u + 12345u) >> 16);
    if (photo) stbi_write_png(path, BW, BH, 3, photo, BW * 3);
    float blocks[R * R * 3], small[2 * 2 * 3], got[3 * 2 * 2];
    for (int qy = 0; photo && qy < R; qy++)
        for (int qx = 0; qx < R; qx++)
            for (int c = 0; c < 3; c++) {
                double sum = 0;
                for (int y = 2 + qy * F; y < 2 + (qy + 1) * F; y++)
                    for (int x = 3 + qx * F; x < 3 + (qx + 1) * F; x++) sum += photo[(y * BW + x) * 3 + c];
                blocks[(qy * R + qx) * 3 + c] = (float)(sum / (255.0 * F * F));
            }
    ok = photo && stbir_resize_float(blocks, R, R, 0, small, 2, 2, 0, 3);
    st = ebm_image_read(path, 3, 2, got, err, sizeof err);
    for (int c = 0; ok && c < 3; c++)
        for (int i = 0; i < 4; i++) {
            float v = small[i * 3 + c];
            ok &= got[c * 4 + i] == (v < 0 ? 0 : v > 1 ? 1 : v);
        }
    check_msg(st == EBM_OK && ok, "a 103 x 100 PNG to 2 x 2: 16 x 16 block means of the centre 96 x 96, then resampled", st ? err : NULL);
    free(photo);
    remove(path);

    expect_error(sub, &(ebm_data_opts_t){.size = 0}, "images", "needs [data] size", "image folder without a size");
    snprintf(path, sizeof path, "%s/empty", dir);
    mkdir(path, 0755);
    expect_error(path, &(ebm_data_opts_t){.size = 4}, "empty", "no .png", "folder without images");

    /* CSV */
    snprintf(path, sizeof path, "%s/t.csv", dir);
    write_file(path, "a,b,c\n1,2,3\n# comment\n4, 5.5 ,-6e1\n", 35);
    float *rows;
    int nr, nc;
    st = ebm_csv_read(path, &rows, &nr, &nc, err, sizeof err);
    check_msg(st == EBM_OK && nr == 2 && nc == 3 && rows[0] == 1 && rows[4] == 5.5f && rows[5] == -60, "CSV: header, comment, spaces", st ? err : NULL);
    if (st == EBM_OK) free(rows);
    write_file(path, "1,2,3\n4,5\n", 10);
    expect_error(path, &(ebm_data_opts_t){0}, "t.csv:2", "2 columns, but the rows before have 3", "ragged CSV names file:line");
    write_file(path, "1,2\n3,x\n", 8);
    expect_error(path, &(ebm_data_opts_t){0}, "t.csv:2", "not a row of numbers", "non-numeric CSV cell names file:line");
    write_file(path, "1,2\n3,nan\n", 10);
    expect_error(path, &(ebm_data_opts_t){0}, "t.csv", "example 1 has a non-finite value", "NaN in data names the example");
    expect_error("/no/such/file.csv", &(ebm_data_opts_t){0}, "/no/such/file.csv", "cannot open", "missing CSV");
    expect_error("toy:9gaussians", &(ebm_data_opts_t){0}, "9gaussians", NULL, "unknown toy names it");

    /* IDX whose size disagrees with the config */
    snprintf(path, sizeof path, "%s/i.idx", dir);
    unsigned char idx[4 + 12 + 2 * 9] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3};
    write_file(path, idx, sizeof idx);
    expect_error(path, &(ebm_data_opts_t){.size = 28}, "i.idx", "images are 3x3 but [data] size = 28", "IDX size mismatch");
    write_file(path, idx, 20);
    expect_error(path, &(ebm_data_opts_t){0}, "i.idx", NULL, "truncated IDX names the file");
    {   /* a 117-byte IDX whose header declares 1024 x 1024 x 1024 x 3 bytes (3.2 GB): read with the
         * address space limited to 256 MB, the reader must report the truncation, not fail to
         * allocate (it used to allocate what the header claimed before reading) */
        unsigned char big[117] = {0, 0, 8, 4, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 0, 3};
        write_file(path, big, sizeof big);
        pid_t pid = fork();
        if (pid == 0) {
            struct rlimit lim = {256u << 20, 256u << 20};
            setrlimit(RLIMIT_AS, &lim);
            ebm_idx_t im;
            char e[512];
            ebm_status_t s = ebm_idx_read(path, &im, e, sizeof e);
            _exit(s == EBM_STATUS_FORMAT && strstr(e, "truncated IDX data: 97 of 3221225472 bytes") ? 0 : 1);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        check(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "an IDX header claiming 3.2 GB in a 117-byte file: \"truncated\", within 256 MB of address space");
    }

    /* labels from the labels-idx1 file beside an images-idx3 file, in the same shuffled order */
    write_file(path, idx, sizeof idx);
    char ipath[1400], lpath[1400];
    snprintf(ipath, sizeof ipath, "%s/t-images-idx3-ubyte", dir);
    snprintf(lpath, sizeof lpath, "%s/t-labels-idx1-ubyte", dir);
    for (int i = 0; i < 9; i++) idx[16 + i] = 0, idx[25 + i] = 255;   /* image 0 black, image 1 white */
    write_file(ipath, idx, sizeof idx);
    unsigned char lab[8 + 2] = {0, 0, 8, 1, 0, 0, 0, 2, 4, 7};
    write_file(lpath, lab, sizeof lab);
    st = ebm_dataset_open(&ds, ipath, &(ebm_data_opts_t){0}, err, sizeof err);
    if (st == EBM_OK) {
        float xb[4 * 9];
        int yb[4], same = ds.y && ds.n_classes == 8;
        ebm_dataset_batch(&ds, 5, 0, 4, xb);
        ebm_dataset_batch_labels(&ds, 5, 0, 4, yb);
        for (int i = 0; same && i < 4; i++) same = yb[i] == (xb[9 * i] > 0.5f ? 7 : 4);
        check(same, "IDX labels: 8 classes, each batch label belongs to its image");
        ebm_dataset_free(&ds);
    } else
        check_msg(0, "IDX labels", err);
    lab[3] = 3;   /* labels file claims 3 dimensions */
    write_file(lpath, lab, sizeof lab);
    expect_error(ipath, &(ebm_data_opts_t){0}, "t-labels-idx1-ubyte", NULL, "corrupt labels file names it");
    lab[3] = 1, lab[7] = 1;   /* one label for two images */
    write_file(lpath, lab, 9);
    expect_error(ipath, &(ebm_data_opts_t){0}, "t-labels-idx1-ubyte", "1 labels for 2 images", "too few labels named");
    remove(lpath);
    st = ebm_dataset_open(&ds, ipath, &(ebm_data_opts_t){0}, err, sizeof err);
    check(st == EBM_OK && !ds.y, "images without a labels file load unlabelled");
    if (st == EBM_OK) ebm_dataset_free(&ds);
    {   /* stacked Fashion-MNIST from a folder whose labels go up to 40: the 1000-class label
         * 100 y0 + 10 y1 + y2 needs digits (found by fuzzing; it overflowed the mode table) */
        char fm[1100], p2[1200];
        snprintf(fm, sizeof fm, "%s/fm", dir);
        mkdir(fm, 0755);
        snprintf(p2, sizeof p2, "%s/train-images-idx3-ubyte.gz", fm);   /* zlib reads plain files too */
        write_file(p2, idx, sizeof idx);
        unsigned char lab40[10] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 40};
        snprintf(p2, sizeof p2, "%s/train-labels-idx1-ubyte.gz", fm);
        write_file(p2, lab40, sizeof lab40);
        setenv("EBM_FASHION_MNIST_DIR", fm, 1);
        expect_error("fashion-mnist-stacked", &(ebm_data_opts_t){0}, "stacking needs labels 0 .. 9", "labels up to 40",
                     "stacked images with a label of 40 are refused");
        write_file(p2, lab40, 9);   /* one label for two images: the images are freed too (the sanitizer build sees a leak) */
        expect_error("fashion-mnist-stacked", &(ebm_data_opts_t){0}, "truncated IDX data", "(the labels of", "stacked images with a short labels file");
        /* fashion-mnist-stacked:test stacks the t10k files (labels 5 and 7 here), not the broken train files */
        snprintf(p2, sizeof p2, "%s/t10k-images-idx3-ubyte.gz", fm);
        write_file(p2, idx, sizeof idx);
        unsigned char lab57[10] = {0, 0, 8, 1, 0, 0, 0, 2, 5, 7};
        snprintf(p2, sizeof p2, "%s/t10k-labels-idx1-ubyte.gz", fm);
        write_file(p2, lab57, sizeof lab57);
        st = ebm_dataset_open(&ds, "fashion-mnist-stacked:test", &(ebm_data_opts_t){0}, err, sizeof err);
        /* image 0 (black) has label 5, image 1 (white) label 7: channel c of a triple is black exactly
         * when the label's digit for channel c (hundreds for 0, tens for 1, units for 2) is 5 */
        int digits_ok = st == EBM_OK && ds.n == 2 && ds.y && ds.shape[0] == 3 && ds.n_classes == 1000, black = 0, white = 0;
        for (int i = 0; digits_ok && i < ds.n; i++)
            for (int c = 0, d = 100; c < 3; c++, d /= 10) {
                int digit = ds.y[i] / d % 10, dark = ds.x[ds.sample_numel * i + (size_t)c * 9] == 0.0f;
                digits_ok &= (digit == 5 || digit == 7) && dark == (digit == 5);
                black += dark, white += !dark;
            }
        check(digits_ok && black && white, "fashion-mnist-stacked:test: two triples of the t10k images, each channel's class the digit of its place");
        if (st == EBM_OK) ebm_dataset_free(&ds);
        unsetenv("EBM_FASHION_MNIST_DIR");
    }

    /* MEG's anomaly split: 30 labelled 2x2 images, image i filled with i/255, label i % 3; class 1 held
     * out: train = 80% of the 20 normal images (16), test = the other 4 + the 10 anomalies, in order */
    {
        unsigned char im[16 + 30 * 4], lb[8 + 30];
        unsigned char ih[16] = {0, 0, 8, 3, 0, 0, 0, 30, 0, 0, 0, 2, 0, 0, 0, 2}, lh[8] = {0, 0, 8, 1, 0, 0, 0, 30};
        memcpy(im, ih, 16), memcpy(lb, lh, 8);
        for (int i = 0; i < 30; i++) {
            memset(im + 16 + 4 * i, i, 4);
            lb[8 + i] = (unsigned char)(i % 3);
        }
        snprintf(ipath, sizeof ipath, "%s/a-images-idx3-ubyte", dir);
        snprintf(lpath, sizeof lpath, "%s/a-labels-idx1-ubyte", dir);
        write_file(ipath, im, sizeof im);
        write_file(lpath, lb, sizeof lb);
        ebm_dataset_t tr, te, tr2;
        ebm_data_opts_t otr = {.anomaly = EBM_ANOMALY_TRAIN, .anomaly_class = 1}, ote = {.anomaly = EBM_ANOMALY_TEST, .anomaly_class = 1};
        int opened = ebm_dataset_open(&tr, ipath, &otr, err, sizeof err) == EBM_OK;
        opened = opened && ebm_dataset_open(&te, ipath, &ote, err, sizeof err) == EBM_OK;
        opened = opened && ebm_dataset_open(&tr2, ipath, &otr, err, sizeof err) == EBM_OK;
        if (opened) {
            int count[30] = {0}, sizes = tr.n == 16 && te.n == 14, order = 1, labels = 1, anomalies = 0, same = tr2.n == tr.n;
            for (int i = 0; i < tr.n; i++) {
                int id = (int)lroundf(tr.x[4 * i] * 255);
                count[id]++, labels &= tr.y[i] == id % 3 && id % 3 != 1;
                order &= i == 0 || tr.x[4 * i] > tr.x[4 * (i - 1)];
                same &= tr2.x[4 * i] == tr.x[4 * i];
            }
            for (int i = 0; i < te.n; i++) {
                int id = (int)lroundf(te.x[4 * i] * 255);
                count[id]++, labels &= te.y[i] == id % 3, anomalies += id % 3 == 1;
                order &= i == 0 || te.x[4 * i] > te.x[4 * (i - 1)];
            }
            int once = 1;
            for (int i = 0; i < 30; i++) once &= count[i] == 1;
            check(sizes && anomalies == 10, "anomaly split: 16 training images, 4 normal + 10 anomalous test images");
            check(once && labels, "anomaly split: every image in exactly one split, the held-out class only in the test split");
            check(order && same, "anomaly split: source order kept, the same split every time");
            ebm_dataset_free(&tr), ebm_dataset_free(&te), ebm_dataset_free(&tr2);
            st = ebm_dataset_open(&te, ipath, &(ebm_data_opts_t){.anomaly = EBM_ANOMALY_TEST, .anomaly_class = 1, .limit = 5}, err, sizeof err);
            check(st == EBM_OK && te.n == 5, "anomaly split: limit applies to the split");
            if (st == EBM_OK) ebm_dataset_free(&te);
        } else
            check_msg(0, "anomaly split", err);
        expect_error(ipath, &(ebm_data_opts_t){.anomaly = EBM_ANOMALY_TRAIN, .anomaly_class = 3}, "anomaly_class = 3", "0 .. 2",
                     "anomaly class out of range named");
        remove(lpath);
        expect_error(ipath, &(ebm_data_opts_t){.anomaly = EBM_ANOMALY_TRAIN, .anomaly_class = 1}, "a-images-idx3-ubyte", "needs class labels",
                     "anomaly split of unlabelled images refused");
    }

    /* the shuffle: each epoch a permutation; the same rows for the same (seed, iteration) */
    snprintf(path, sizeof path, "%s/seq.csv", dir);
    FILE *g = fopen(path, "w");
    for (int i = 0; g && i < 10; i++) fprintf(g, "%d\n", i);
    if (g) fclose(g);
    st = ebm_dataset_open(&ds, path, &(ebm_data_opts_t){0}, err, sizeof err);
    if (st == EBM_OK) {
        float b[20], b2[5];
        int seen[10] = {0}, perm_ok = 1;
        ebm_dataset_batch(&ds, 3, 0, 5, b);
        ebm_dataset_batch(&ds, 3, 1, 5, b + 5);
        for (int i = 0; i < 10; i++) seen[(int)b[i]]++;
        for (int i = 0; i < 10; i++) perm_ok &= seen[i] == 1;
        ebm_dataset_batch(&ds, 3, 3, 5, b + 10);   /* epoch 1 */
        ebm_dataset_batch(&ds, 3, 0, 5, b2);       /* back to epoch 0 */
        check(perm_ok && !memcmp(b, b2, sizeof b2), "epoch shuffle: every row once per epoch; batches reproducible after other epochs");
        ebm_dataset_free(&ds);
    } else
        check_msg(0, "epoch shuffle", err);
    return test_summary();
}
