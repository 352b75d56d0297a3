/* ar_features [-a] [-g | -A | -C] OUT.bin IMAGE.png... — the training data of the AR
 * prior (tools/train/ar.py): codes each 8-bit RGB image with the AR
 * prior's encoder and no net (baseline-v3's predictions; the net's
 * features do not depend on the net), tile by tile as the codec does, and appends to OUT.bin one record per
 * kept sample: its AR_PRIOR_FEATURES features, baseline-v3's mean16, its
 * context (0..71, which the tile's side information covers) and its value,
 * as int32 little-endian.  The features come from the codec's
 * own code, so the trainer sees exactly the integers the decoder will.
 *
 * Every 16th sample is kept (a fixed hash of its position), or all with -a.
 * 8-bit RGB and grey images are used as they are; with -g, RGB images are
 * first turned into grey by PIL's convert("L") integers,
 * (19595 R + 38470 G + 7471 B + 32768) >> 16 (the grey model's data);
 * with -A, the alpha plane of 8-bit RGBA and grey+alpha images is used as
 * a grey image (the alpha model's data) and other images are skipped;
 * with -C, their colour planes (RGB or grey), alpha dropped.
 * Other kinds of image are skipped with a note on stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/idfzip.h"
#include "../model/ar_prior.h"
#include "read_file.h"

#define RECORD (AR_PRIOR_LOGGED + 1)
#define TILE 256

static int keep(uint32_t x, uint32_t y, size_t i)
{
    uint32_t h = x * 2654435761u ^ y * 40503u ^ (uint32_t)i * 2246822519u;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return (h & 15u) == 0;
}

typedef struct dump_opts {
    int all, grey, alpha, colour;
} dump_opts;

/* The tile at (x0, y0) of img as planes, coded with the AR prior's encoder
 * with the features logged; the kept records go to out. */
static int tile_records(const idfzip_image *img, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h,
                        const dl_tables *dl, int all, FILE *out)
{
    const uint32_t ch = img->channels;
    size_t n = (size_t)w * h * ch;
    int32_t *planes = malloc(n * sizeof *planes), *feat = malloc(n * 4 * (RECORD - 1));
    latent_log log = {malloc(n * 4), malloc(n * 4), malloc(n * 4), 0, n, feat, NULL};
    rans_encoder enc;
    rans_encoder_init(&enc);
    int ok = planes && feat && log.value && log.mean16 && log.scale;
    for (uint32_t y = 0; ok && y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t c = 0; c < ch; c++)
                planes[(size_t)c * w * h + (size_t)y * w + x] =
                    img->samples[((size_t)(y0 + y) * img->width + x0 + x) * ch + c];
    symbol_io io = {dl, &enc, NULL, &log, nn_kernel_best(), NULL, 0};
    /* side information as in .idf version 1 (raw fits, each bias its
     * mean miss): what the AR priors were trained on, and what
     * tools/train/test_ar.py counts bit by bit */
    model_tile tile = {w, h, ch, 255, planes, 0};
    ok = ok && ar_prior_code_features(&tile, &io) == IDFZIP_OK && log.count == n;
    for (size_t i = 0; ok && i < n; i++) {
        if (!all && !keep(x0, y0, i))
            continue;
        ok = write_i32_le(out, feat + i * (RECORD - 1), RECORD - 1) == 0 &&
             write_i32_le(out, &log.value[i], 1) == 0;
    }
    rans_encoder_free(&enc);
    free(planes);
    free(feat);
    free(log.value);
    free(log.mean16);
    free(log.scale);
    return ok ? 0 : -1;
}

/* An RGB image to grey in place, as PIL's convert("L"). */
static void to_grey(idfzip_image *img)
{
    size_t n = (size_t)img->width * img->height;
    for (size_t i = 0; i < n; i++) {
        const uint16_t *p = img->samples + 3 * i;
        img->samples[i] = (uint16_t)((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 32768u) >> 16);
    }
    img->channels = 1;
    img->color_type = IDFZIP_COLOR_GRAY;
}

/* An image with alpha to its alpha plane, a grey image, in place. */
static void to_alpha(idfzip_image *img)
{
    size_t n = (size_t)img->width * img->height, c = img->channels;
    for (size_t i = 0; i < n; i++)
        img->samples[i] = img->samples[i * c + c - 1];
    img->channels = 1;
    img->color_type = IDFZIP_COLOR_GRAY;
}

/* An image with alpha to its colour planes, in place. */
static void drop_alpha(idfzip_image *img)
{
    size_t n = (size_t)img->width * img->height, c = img->channels;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k + 1 < c; k++)
            img->samples[i * (c - 1) + k] = img->samples[i * c + k];
    img->channels = (uint32_t)c - 1;
    img->color_type = c == 4 ? IDFZIP_COLOR_RGB : IDFZIP_COLOR_GRAY;
}

static int image_records(const char *path, const dl_tables *dl, dump_opts o, FILE *out)
{
    size_t size;
    uint8_t *png = read_file(path, &size);
    idfzip_image img;
    if (!png || idfzip_png_decode(png, size, 0, &img) != IDFZIP_OK) {
        free(png);
        fprintf(stderr, "ar_features: %s: cannot read\n", path);
        return -1;
    }
    free(png);
    const int has_alpha = img.color_type == IDFZIP_COLOR_RGBA ||
                          img.color_type == IDFZIP_COLOR_GRAY_ALPHA;
    if (o.grey && img.channels == 3 && img.bit_depth == 8)
        to_grey(&img);
    if (o.alpha && has_alpha)
        to_alpha(&img);
    if (o.colour && has_alpha)
        drop_alpha(&img);
    int st = 0;
    if ((o.alpha || o.colour) && !has_alpha) {
        fprintf(stderr, "ar_features: %s: no alpha, skipped\n", path);
    } else if ((img.channels != 3 && img.channels != 1) || img.bit_depth != 8) {
        fprintf(stderr, "ar_features: %s: not 8-bit RGB or grey, skipped\n", path);
    } else {
        for (uint32_t y = 0; st == 0 && y < img.height; y += TILE)
            for (uint32_t x = 0; st == 0 && x < img.width; x += TILE)
                st = tile_records(&img, x, y, img.width - x < TILE ? img.width - x : TILE,
                                  img.height - y < TILE ? img.height - y : TILE, dl, o.all, out);
        if (st != 0)
            fprintf(stderr, "ar_features: %s: coding or writing its records failed: %s\n", path,
                    errno ? strerror(errno) : "out of memory");
    }
    idfzip_image_free(&img);
    return st;
}

int main(int argc, char **argv)
{
    dump_opts o = {0, 0, 0, 0};
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] && strchr("agAC", argv[i][1]) &&
           !argv[i][2];
         i++)
        *(argv[i][1] == 'a' ? &o.all : argv[i][1] == 'g' ? &o.grey
                                     : argv[i][1] == 'A' ? &o.alpha : &o.colour) = 1;
    if (argc - i < 2 || o.grey + o.alpha + o.colour > 1) {
        fprintf(stderr, "usage: ar_features [-a] [-g | -A | -C] OUT.bin IMAGE.png...\n");
        return 2;
    }
    FILE *out = fopen(argv[i], "wb");
    if (!out) {
        fprintf(stderr, "ar_features: %s: %s\n", argv[i], strerror(errno));
        return 1;
    }
    dl_tables *dl = dl_tables_create();
    int st = dl ? 0 : -1;
    if (!dl)
        fprintf(stderr, "ar_features: %s\n", idfzip_error_string(IDFZIP_ERR_NOMEM));
    for (int k = i + 1; st == 0 && k < argc; k++)
        st = image_records(argv[k], dl, o, out);
    if (fclose(out) != 0 && st == 0) {
        fprintf(stderr, "ar_features: %s: %s\n", argv[i], strerror(errno));
        st = -1;
    }
    dl_tables_destroy(dl);
    return st == 0 ? 0 : 1;
}
