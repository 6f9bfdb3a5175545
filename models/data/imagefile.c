/* imagefile.c — one image file as 8-bit pixels, for files nobody vouches for (image folders, ebm
 * eval --ood-folder). The format comes from the first bytes and only three are decoded: PNG through
 * libpng and JPEG through libjpeg-turbo (Debian's maintained decoders: stb_image 2.27 writes out of
 * bounds on a JPEG whose Huffman table counts sum past 256), BMP through stb_image (its other
 * decoders are never reached). Width and height are checked against limits before a pixel is
 * decoded, so a small file cannot ask for gigabytes. Channels are converted as stb_image does:
 * gray to RGB by copying, RGB to gray by (77 R + 150 G + 29 B) / 256, alpha dropped. */
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>   /* after stdio.h: it uses FILE and size_t without including them */
#include <png.h>
#include <stb_image.h>
#include "data.h"

#define MAX_SIDE 16384
#define MAX_PIXELS (1 << 26)         /* 64 Mpixels: a 8192 x 8192 photo */
#define MAX_FILE_BYTES (256 << 20)   /* BMP files are read whole */

static int dims_ok(const char *path, long w, long h, char *err, size_t errn) {
    if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE || w * h > MAX_PIXELS) {
        snprintf(err, errn, "%s: an image of %ld x %ld pixels (at most %d a side and %d pixels)", path, w, h, MAX_SIDE, MAX_PIXELS);
        return 0;
    }
    return 1;
}

/* n RGB pixels to gray in a new buffer, with stb_image's weights */
static unsigned char *rgb_to_gray(const unsigned char *src, long n) {
    unsigned char *out = malloc((size_t)n);
    for (long i = 0; out && i < n; i++, src += 3) out[i] = (unsigned char)((src[0] * 77 + src[1] * 150 + src[2] * 29) >> 8);
    return out;
}

/* ---- PNG (libpng; errors longjmp back here) ---- */

static void png_error_fn(png_structp png, png_const_charp msg) {
    char *err = png_get_error_ptr(png);
    snprintf(err, 200, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static unsigned char *read_png(FILE *f, const char *path, int want, int *w, int *h, char *err, size_t errn) {
    char msg[200] = "";
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, msg, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *volatile px = NULL, *out = NULL;
    png_bytep *volatile rows = NULL;
    if (!info) {
        snprintf(err, errn, "%s: out of memory", path);
        png_destroy_read_struct(&png, NULL, NULL);
        return NULL;
    }
    if (setjmp(png_jmpbuf(png))) {
        snprintf(err, errn, "%s: not a readable PNG image (%s)", path, msg);
        free(px);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return NULL;
    }
    png_set_user_limits(png, MAX_SIDE, MAX_SIDE);
    png_init_io(png, f);
    png_read_info(png, info);
    png_uint_32 pw = png_get_image_width(png, info), ph = png_get_image_height(png, info);
    if (!dims_ok(path, (long)pw, (long)ph, err, errn)) {
        png_destroy_read_struct(&png, &info, NULL);
        return NULL;
    }
    /* 8-bit gray or RGB as stb_image reads them (16 bits: the high byte; alpha dropped), gray as RGB
     * where RGB is asked for (RGB to gray is ours below: stb_image's weights) */
    png_set_strip_16(png);
    png_set_palette_to_rgb(png);
    png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_alpha(png);
    if (want == 3) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int have = png_get_channels(png, info);
    size_t stride = png_get_rowbytes(png, info);
    if ((have != 1 && have != 3) || stride != (size_t)pw * have) png_error(png, "unexpected pixel layout");
    px = malloc(stride * ph);
    rows = malloc(sizeof(png_bytep) * ph);
    if (!px || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < ph; y++) rows[y] = px + y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    out = have == want ? px : rgb_to_gray(px, (long)pw * ph);
    if (out != px) free(px);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    if (!out) snprintf(err, errn, "%s: out of memory", path);
    *w = (int)pw, *h = (int)ph;
    return out;
}

/* ---- JPEG (libjpeg-turbo; errors longjmp back here) ---- */

struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
};

static void jpeg_error_fn(j_common_ptr c) { longjmp(((struct jpeg_err *)c->err)->jump, 1); }
static void jpeg_message_fn(j_common_ptr c) { (void)c; }   /* warnings: the data decides, not stderr */

static unsigned char *read_jpeg(FILE *f, const char *path, int want, int *w, int *h, char *err, size_t errn) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_err jerr;
    unsigned char *volatile px = NULL;
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = jpeg_error_fn;
    jerr.mgr.output_message = jpeg_message_fn;
    if (setjmp(jerr.jump)) {
        char msg[JMSG_LENGTH_MAX];
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, msg);
        snprintf(err, errn, "%s: not a readable JPEG image (%s)", path, msg);
        free(px);
        jpeg_destroy_decompress(&cinfo);
        return NULL;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    if (!dims_ok(path, (long)cinfo.image_width, (long)cinfo.image_height, err, errn)) {
        jpeg_destroy_decompress(&cinfo);
        return NULL;
    }
    cinfo.out_color_space = want == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != want) {
        snprintf(err, errn, "%s: a JPEG with %d components cannot be read as %d channels", path, cinfo.output_components, want);
        jpeg_destroy_decompress(&cinfo);
        return NULL;
    }
    size_t stride = (size_t)cinfo.output_width * want;
    px = malloc(stride * cinfo.output_height);
    if (!px) {
        snprintf(err, errn, "%s: out of memory", path);
        jpeg_destroy_decompress(&cinfo);
        return NULL;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = px + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    *w = (int)cinfo.output_width, *h = (int)cinfo.output_height;
    jpeg_destroy_decompress(&cinfo);
    return px;
}

/* ---- BMP (stb_image on the file's bytes: "BM" makes it pick its BMP decoder) ---- */

static unsigned char *read_bmp(FILE *f, const char *path, int want, int *w, int *h, char *err, size_t errn) {
    if (fseek(f, 0, SEEK_END) != 0) {
        snprintf(err, errn, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    long size = ftell(f);
    if (size < 0 || size > MAX_FILE_BYTES) {
        snprintf(err, errn, "%s: a BMP file of %ld bytes (at most %d)", path, size, MAX_FILE_BYTES);
        return NULL;
    }
    unsigned char *bytes = malloc((size_t)size + 1), *px = NULL;
    if (!bytes || fseek(f, 0, SEEK_SET) != 0 || fread(bytes, 1, (size_t)size, f) != (size_t)size) {
        snprintf(err, errn, "%s: cannot read: %s", path, bytes ? strerror(errno) : "out of memory");
        free(bytes);
        return NULL;
    }
    /* the pixel rows the header declares must be in the file (stb reads BI_RGB / BITFIELDS rows
     * of ((w * bpp + 31) / 32) * 4 bytes, and a 44-byte file declaring 2092 x 15230 pixels made it
     * decode 32 million pixels of nothing) */
    if (size >= 30) {
        unsigned long off = bytes[10] | bytes[11] << 8 | (unsigned long)bytes[12] << 16 | (unsigned long)bytes[13] << 24;
        long bw = (long)(int32_t)(bytes[18] | bytes[19] << 8 | bytes[20] << 16 | (uint32_t)bytes[21] << 24);
        long bh = (long)(int32_t)(bytes[22] | bytes[23] << 8 | bytes[24] << 16 | (uint32_t)bytes[25] << 24);
        long bpp = bytes[28] | bytes[29] << 8;
        bh = bh < 0 ? -bh : bh;
        if (bytes[14] >= 40 && dims_ok(path, bw, bh, err, errn)) {   /* a Windows BMP header with its size */
            double need = (double)off + (double)((bw * bpp + 31) / 32 * 4) * (double)bh;
            if (need > (double)size) {
                snprintf(err, errn, "%s: a truncated BMP (%ld x %ld pixels of %ld bits need %.0f bytes, the file has %ld)", path, bw, bh,
                         bpp, need, size);
                free(bytes);
                return NULL;
            }
        } else if (bytes[14] >= 40) {
            free(bytes);
            return NULL;
        }
    }
    /* whatever the header (a short file, an OS/2 one), stb decodes rows of at least 1 bit a pixel,
     * padded to 4 bytes, that must be in the file: a 29-byte file declaring 2048 x 15230 pixels
     * made it decode 31 million pixels of nothing */
    int comp;
    if (!stbi_info_from_memory(bytes, (int)size, w, h, &comp)) {
        snprintf(err, errn, "%s: not a readable BMP image (%s)", path, stbi_failure_reason());
    } else if (dims_ok(path, *w, *h, err, errn)) {
        double least = (double)((*w + 31) / 32 * 4) * (double)*h;
        if (least > (double)size)
            snprintf(err, errn, "%s: a truncated BMP (%d x %d pixels need at least %.0f bytes, the file has %ld)", path, *w, *h,
                     least, size);
        else if (!(px = stbi_load_from_memory(bytes, (int)size, w, h, &comp, want)))
            snprintf(err, errn, "%s: not a readable BMP image (%s)", path, stbi_failure_reason());
    }
    free(bytes);
    return px;   /* malloc'd by stb: stbi_image_free is free */
}

unsigned char *ebm_image_decode(const char *path, int channels, int *w, int *h, char *err, size_t errn) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errn, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char m[8] = {0};
    size_t got = fread(m, 1, sizeof m, f);
    rewind(f);
    unsigned char *px = NULL;
    if (got == 8 && !png_sig_cmp(m, 0, 8)) px = read_png(f, path, channels, w, h, err, errn);
    else if (got >= 3 && m[0] == 0xFF && m[1] == 0xD8 && m[2] == 0xFF) px = read_jpeg(f, path, channels, w, h, err, errn);
    else if (got >= 2 && m[0] == 'B' && m[1] == 'M') px = read_bmp(f, path, channels, w, h, err, errn);
    else snprintf(err, errn, "%s: not a PNG, JPEG or BMP image (by its first bytes)", path);
    fclose(f);
    return px;
}
