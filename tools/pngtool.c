/* pngtool — PNG helpers for the codec comparison (tools/bench_codecs.py).
 *
 *   pngtool pam IN.png OUT.pam     decode any PNG with idfzip's PNG reader and
 *                                  write its pixels as a PAM (P7): palette
 *                                  entries expanded to RGB, tRNS turned into
 *                                  an alpha channel, every bit depth kept
 *                                  (MAXVAL 2^depth - 1; 16-bit big-endian)
 *   pngtool libpng IN.png OUT.png  write the same image again with libpng at
 *                                  its default settings (zlib level 6, libpng's
 *                                  filter choice), same colour type, bit depth,
 *                                  palette and tRNS; ancillary chunks dropped
 *
 * The first is how the benchmark reads every decoded PNG exactly (Python's
 * PIL truncates 16-bit colour) and how it times PNG decoding; the second is
 * the "PNG, libpng defaults" peer.  Exit status 0 on success, 1 otherwise. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/idfzip.h"
#include "read_file.h"

static int load_png(const char *path, idfzip_image *img)
{
    size_t size;
    uint8_t *buf = read_file(path, &size);
    int st = buf ? idfzip_png_decode(buf, size, 0, img) : -1;
    free(buf);
    return st == IDFZIP_OK ? 0 : -1;
}

/* ---- pam ---- */

static unsigned pam_depth(const idfzip_image *img)
{
    if (img->color_type == IDFZIP_COLOR_PALETTE)
        return img->trns_size > 0 ? 4 : 3;
    return img->channels + (img->trns_size > 0 ? 1 : 0);
}

/* Channel values of pixel i in the PAM's layout, into out[]. */
static void pam_pixel(const idfzip_image *img, size_t i, unsigned maxval, unsigned *out)
{
    const uint16_t *s = img->samples + i * img->channels;
    if (img->color_type == IDFZIP_COLOR_PALETTE) {
        unsigned k = s[0];
        for (int c = 0; c < 3; c++)
            out[c] = img->palette[3 * k + c];
        if (img->trns_size > 0)
            out[3] = k < img->trns_size ? img->trns[k] : 255;
        return;
    }
    int transparent = img->trns_size > 0;
    for (unsigned c = 0; c < img->channels; c++) {
        out[c] = s[c];
        /* tRNS of grey/RGB: one 16-bit big-endian value per channel */
        unsigned key = img->trns_size > 2 * c
                           ? (unsigned)(img->trns[2 * c] << 8 | img->trns[2 * c + 1]) : 0;
        transparent = transparent && s[c] == key;
    }
    if (img->trns_size > 0)
        out[img->channels] = transparent ? 0 : maxval;
}

static int write_pam(const char *path, const idfzip_image *img)
{
    unsigned depth = pam_depth(img);
    unsigned maxval = img->color_type == IDFZIP_COLOR_PALETTE ? 255 : (1u << img->bit_depth) - 1;
    static const char *const tupltype[] = {"", "GRAYSCALE", "GRAYSCALE_ALPHA", "RGB", "RGB_ALPHA"};
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fprintf(f, "P7\nWIDTH %u\nHEIGHT %u\nDEPTH %u\nMAXVAL %u\nTUPLTYPE %s\nENDHDR\n",
            (unsigned)img->width, (unsigned)img->height, depth, maxval, tupltype[depth]);
    size_t n = (size_t)img->width * img->height;
    for (size_t i = 0; i < n; i++) {
        unsigned v[4];
        pam_pixel(img, i, maxval, v);
        for (unsigned c = 0; c < depth; c++) {
            if (maxval > 255)
                putc((int)(v[c] >> 8), f);
            putc((int)(v[c] & 255), f);
        }
    }
    int failed = ferror(f);
    return fclose(f) == 0 && !failed ? 0 : -1;
}

/* ---- libpng ---- */

/* Row y of img packed as PNG stores it: sub-byte samples MSB first, 16-bit
 * samples big-endian. */
static void pack_row(const idfzip_image *img, uint32_t y, uint8_t *row)
{
    size_t n = (size_t)img->width * img->channels;
    const uint16_t *s = img->samples + (size_t)y * n;
    unsigned d = img->bit_depth;
    if (d == 16) {
        for (size_t i = 0; i < n; i++) {
            row[2 * i] = (uint8_t)(s[i] >> 8);
            row[2 * i + 1] = (uint8_t)s[i];
        }
    } else if (d == 8) {
        for (size_t i = 0; i < n; i++)
            row[i] = (uint8_t)s[i];
    } else {
        memset(row, 0, (n * d + 7) / 8);
        for (size_t i = 0; i < n; i++)
            row[i * d / 8] |= (uint8_t)(s[i] << (8 - d - i * d % 8));
    }
}

static void set_trns(png_structp p, png_infop info, const idfzip_image *img)
{
    if (img->color_type == IDFZIP_COLOR_PALETTE) {
        png_set_tRNS(p, info, img->trns, (int)img->trns_size, NULL);
        return;
    }
    png_color_16 key = {0};
    const uint8_t *t = img->trns;
    if (img->channels == 1) {
        key.gray = (png_uint_16)(t[0] << 8 | t[1]);
    } else {
        key.red = (png_uint_16)(t[0] << 8 | t[1]);
        key.green = (png_uint_16)(t[2] << 8 | t[3]);
        key.blue = (png_uint_16)(t[4] << 8 | t[5]);
    }
    png_set_tRNS(p, info, NULL, 0, &key);
}

/* row: a buffer of one packed row, allocated by the caller so that nothing
 * here changes between setjmp and a longjmp from libpng. */
static int write_libpng(FILE *f, const idfzip_image *img, uint8_t *row)
{
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    if (!info) {
        png_destroy_write_struct(&p, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(p))) {
        png_destroy_write_struct(&p, &info);
        return -1;
    }
    png_init_io(p, f);
    png_set_IHDR(p, info, img->width, img->height, (int)img->bit_depth, (int)img->color_type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (img->palette_size > 0)
        png_set_PLTE(p, info, (png_const_colorp)img->palette, (int)img->palette_size);
    if (img->trns_size > 0)
        set_trns(p, info, img);
    png_write_info(p, info);
    for (uint32_t y = 0; y < img->height; y++) {
        pack_row(img, y, row);
        png_write_row(p, row);
    }
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    return 0;
}

static int write_png(const char *path, const idfzip_image *img)
{
    uint8_t *row = malloc(((size_t)img->width * img->channels * img->bit_depth + 7) / 8);
    FILE *f = row ? fopen(path, "wb") : NULL;
    int st = f ? write_libpng(f, img, row) : -1;
    if (f && fclose(f) != 0)
        st = -1;
    free(row);
    return st;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "pam") != 0 && strcmp(argv[1], "libpng") != 0)) {
        fprintf(stderr, "usage: pngtool pam IN.png OUT.pam | pngtool libpng IN.png OUT.png\n");
        return 2;
    }
    idfzip_image img;
    if (load_png(argv[2], &img) != 0) {
        fprintf(stderr, "pngtool: cannot read %s\n", argv[2]);
        return 1;
    }
    int st = strcmp(argv[1], "pam") == 0 ? write_pam(argv[3], &img) : write_png(argv[3], &img);
    if (st != 0)
        fprintf(stderr, "pngtool: cannot write %s\n", argv[3]);
    idfzip_image_free(&img);
    return st == 0 ? 0 : 1;
}
