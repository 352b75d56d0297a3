/* test_codec.c — the public API end to end: round trips of every PNG image
 * kind and odd sizes through the model-coded path, thread invariance,
 * stored mode, truncation and bit flips, hostile headers, PngSuite, and the
 * golden files.
 *
 * Usage: test_codec PNGSUITE_DIR GOLDEN_DIR
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../include/idfzip.h"
#include "../tools/read_file.h"
#include "test_util.h"

typedef struct kind {
    uint32_t color, depth, channels;
} kind;

static const kind KINDS[] = {
    {0, 1, 1}, {0, 2, 1}, {0, 4, 1}, {0, 8, 1}, {0, 16, 1}, {2, 8, 3}, {2, 16, 3},
    {3, 1, 1}, {3, 2, 1}, {3, 4, 1}, {3, 8, 1}, {4, 8, 2}, {4, 16, 2}, {6, 8, 4}, {6, 16, 4},
};

/* EXTREME: 0 and maxval in a pattern with edges everywhere, the worst
 * case for the adaptive predictors' integer bounds (run under UBSan). */
enum pattern { NOISE, GRADIENT, FLAT, EXTREME };

static int make_image(idfzip_image *img, kind k, uint32_t w, uint32_t h, enum pattern p,
                      uint64_t *rng)
{
    memset(img, 0, sizeof *img);
    img->width = w, img->height = h, img->channels = k.channels;
    img->bit_depth = k.depth, img->color_type = k.color;
    uint32_t maxval = (1u << k.depth) - 1;
    if (k.color == 3) {
        img->palette_size = maxval + 1;
        for (uint32_t i = 0; i < 3 * img->palette_size; i++)
            img->palette[i] = (uint8_t)test_rand(rng);
    }
    img->samples = malloc((size_t)w * h * k.channels * sizeof *img->samples);
    if (!img->samples)
        return -1;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t c = 0; c < k.channels; c++) {
                uint32_t v = p == NOISE ? (uint32_t)test_rand(rng)
                           : p == GRADIENT ? (x * 7 + y * 3 + c * 50) * (maxval / 255 + 1) + (uint32_t)(test_rand(rng) % 3)
                           : p == EXTREME ? ((x * y + c + x / 3) % 3 == 0 ? maxval : 0)
                           : maxval / 3;
                img->samples[((size_t)y * w + x) * k.channels + c] = (uint16_t)(v & maxval);
            }
    return 0;
}

static void round_trip(const idfzip_image *img, int threads, int force, const char *what)
{
    idfzip_options o;
    idfzip_options_init(&o);
    o.threads = threads;
    o.force_model = force;
    uint8_t *idf = NULL;
    size_t size = 0;
    int st = idfzip_compress_image(img, &o, &idf, &size);
    CHECK(st == IDFZIP_OK, "%s: compress: %s", what, idfzip_error_string(st));
    idfzip_image back;
    st = st ? st : idfzip_decompress_image(idf, size, &o, &back);
    CHECK(st == IDFZIP_OK, "%s: decompress: %s", what, idfzip_error_string(st));
    if (st == IDFZIP_OK) {
        CHECK(idfzip_image_equal(img, &back), "%s: image differs", what);
        idfzip_image_free(&back);
    }
    idfzip_free(idf);
}

static void test_all_kinds(void)
{
    static const uint32_t sizes[][2] = {{1, 1}, {1, 7}, {7, 1}, {300, 17}, {257, 258}};
    uint64_t rng = 1;
    char what[96];
    for (size_t k = 0; k < sizeof KINDS / sizeof *KINDS; k++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            for (int p = NOISE; p <= EXTREME; p++) {
                idfzip_image img;
                if (make_image(&img, KINDS[k], sizes[s][0], sizes[s][1], (enum pattern)p, &rng))
                    continue;
                snprintf(what, sizeof what, "type %u depth %u %ux%u pattern %d", KINDS[k].color,
                         KINDS[k].depth, sizes[s][0], sizes[s][1], p);
                round_trip(&img, 1 + (int)(s % 3), 1, what);
                idfzip_image_free(&img);
            }
}

static int compress_coded(const idfzip_image *img, int threads, uint8_t **out, size_t *size)
{
    idfzip_options o;
    idfzip_options_init(&o);
    o.threads = threads;
    o.force_model = 1;
    return idfzip_compress_image(img, &o, out, size);
}

/* Model-coded with the built-in model called name (NULL: the default). */
static int compress_named(const idfzip_image *img, const char *name, uint8_t **out, size_t *size)
{
    idfzip_options o;
    idfzip_options_init(&o);
    o.force_model = 1;
    o.model_name = name;
    return idfzip_compress_image(img, &o, out, size);
}

static void test_thread_invariance(void)
{
    uint64_t rng = 2;
    idfzip_image img;
    make_image(&img, (kind){2, 8, 3}, 700, 300, GRADIENT, &rng);
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK(compress_coded(&img, 1, &a, &na) == IDFZIP_OK && compress_coded(&img, 3, &b, &nb) == IDFZIP_OK,
          "compress");
    CHECK(na == nb && a && b && memcmp(a, b, na) == 0, "1 and 3 threads give different bytes");
    idfzip_free(a);
    idfzip_free(b);
    idfzip_image_free(&img);
}

static void test_stored_mode(void)
{
    uint64_t rng = 3;
    idfzip_image img;
    make_image(&img, (kind){2, 8, 3}, 64, 64, NOISE, &rng);
    uint8_t *png = NULL, *idf = NULL, *back = NULL;
    size_t png_size = 0, idf_size = 0, back_size = 0;
    CHECK(idfzip_png_encode(&img, &png, &png_size) == IDFZIP_OK, "png encode");
    CHECK(idfzip_compress_png(png, png_size, NULL, &idf, &idf_size) == IDFZIP_OK, "compress");
    CHECK(idf_size <= png_size + 64, "stored file %zu bytes for a %zu-byte PNG", idf_size, png_size);
    idfzip_info info;
    CHECK(idfzip_get_info(idf, idf_size, &info) == IDFZIP_OK && info.mode == 1, "not stored");
    CHECK(idfzip_decompress_png(idf, idf_size, NULL, &back, &back_size) == IDFZIP_OK, "decompress");
    CHECK(back_size == png_size && back && memcmp(back, png, png_size) == 0, "stored PNG differs");
    idfzip_free(png);
    idfzip_free(idf);
    idfzip_free(back);
    idfzip_image_free(&img);
}

/* Every truncation fails; every single bit flip fails or gives the image. */
static void test_damage(void)
{
    uint64_t rng = 4;
    idfzip_image img, back;
    make_image(&img, (kind){2, 8, 3}, 23, 9, GRADIENT, &rng);
    uint8_t *idf = NULL;
    size_t size = 0;
    CHECK(compress_coded(&img, 1, &idf, &size) == IDFZIP_OK, "compress");
    int accepted = 0, wrong = 0;
    for (size_t n = 0; n < size; n++) {
        if (idfzip_decompress_image(idf, n, NULL, &back) == IDFZIP_OK)
            accepted++, idfzip_image_free(&back);
    }
    CHECK(accepted == 0, "%d truncated files accepted", accepted);
    for (size_t bit = 0; bit < size * 8; bit++) {
        idf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (idfzip_decompress_image(idf, size, NULL, &back) == IDFZIP_OK) {
            wrong += !idfzip_image_equal(&img, &back);
            idfzip_image_free(&back);
        }
        idf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    CHECK(wrong == 0, "%d bit flips decoded to a wrong image", wrong);
    idfzip_free(idf);
    idfzip_image_free(&img);
}

/* ---- a version 2 or 3 file's layout (FORMAT.md), for tests that damage it ---- */

static uint32_t get_varint(const uint8_t *p, size_t *at)
{
    uint32_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
        uint8_t b = p[(*at)++];
        v |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
}

static size_t put_varint(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    do {
        p[n] = (uint8_t)((v & 0x7f) | (v >> 7 ? 0x80 : 0));
        n++;
        v >>= 7;
    } while (v);
    return n;
}

/* Offsets in a coded one-tile file: its sample map (version 3; 0 in 2),
 * its tile size field, the pixel CRC (after which comes the file CRC), and
 * the payload. */
typedef struct layout {
    size_t tile_size_at, pixel_crc_at, payload_at, map_at;
} layout;

static layout layout_of(const uint8_t *idf)
{
    size_t at = 12; /* magic, version, mode, colour type, bit depth */
    get_varint(idf, &at); /* width */
    get_varint(idf, &at); /* height */
    if (idf[at++] == 0) {  /* a model by name */
        at += 1 + idf[at] + 4;
        get_varint(idf, &at);
        get_varint(idf, &at);
    }
    const int v3 = idf[8] >= 3;
    uint32_t entries = get_varint(idf, &at); /* palette: raw, or (v3) packed */
    size_t n = 3 * (size_t)entries;
    if (v3 && entries > 0 && idf[at++] != 0)
        n = get_varint(idf, &at); /* (a varint read before `at +=` uses at) */
    at += n;
    n = get_varint(idf, &at); /* tRNS */
    at += n;
    size_t map_at = v3 ? at : 0;
    uint32_t flags = v3 ? idf[at++] : 0;
    if (flags & 4) /* a sent palette order */
        at += entries;
    if (flags & 2) { /* scaled: depth, a scale per channel */
        static const uint32_t channels[7] = {1, 0, 3, 1, 2, 0, 4};
        at++;
        for (uint32_t c = 0; c < channels[idf[10] % 7]; c++)
            get_varint(idf, &at);
    }
    for (uint32_t k = get_varint(idf, &at); k > 0; k--) {
        at += 5;
        n = get_varint(idf, &at);
        at += n;
    }
    layout l = {at, 0, 0, map_at};
    get_varint(idf, &at);
    l.pixel_crc_at = at;
    l.payload_at = at + 8;
    return l;
}

/* Makes the file CRC (the 4 bytes after the pixel CRC) right again. */
static void fix_file_crc(uint8_t *idf, size_t size, layout l)
{
    size_t crc_at = l.pixel_crc_at + 4;
    uLong crc = crc32(0L, idf, (uInt)crc_at);
    crc = crc32(crc, idf + crc_at + 4, (uInt)(size - crc_at - 4));
    for (int i = 0; i < 4; i++)
        idf[crc_at + (size_t)i] = (uint8_t)(crc >> (8 * i));
}

/* A copy of a one-tile file with width and height (varints) replaced and
 * its file CRC made right; *size in and out. */
static uint8_t *with_size(const uint8_t *idf, size_t *size, uint32_t width, uint32_t height)
{
    size_t at = 12;
    get_varint(idf, &at);
    get_varint(idf, &at);
    uint8_t *out = malloc(*size + 10);
    if (!out)
        return NULL;
    memcpy(out, idf, 12);
    size_t n = 12 + put_varint(out + 12, width);
    n += put_varint(out + n, height);
    memcpy(out + n, idf + at, *size - at);
    *size = n + (*size - at);
    fix_file_crc(out, *size, layout_of(out));
    return out;
}

static void test_hostile_headers(void)
{
    uint64_t rng = 5;
    idfzip_image img, back;
    make_image(&img, (kind){0, 8, 1}, 10, 10, GRADIENT, &rng);
    uint8_t *idf = NULL;
    size_t size = 0;
    CHECK(compress_coded(&img, 1, &idf, &size) == IDFZIP_OK, "compress");
    size_t huge_size = size;
    uint8_t *huge = with_size(idf, &huge_size, 100000, 100000);
    CHECK(huge && idfzip_decompress_image(huge, huge_size, NULL, &back) == IDFZIP_ERR_LIMIT,
          "huge header");
    free(huge);
    uint8_t *copy = malloc(size);
    memcpy(copy, idf, size);
    copy[8] = 99;
    CHECK(idfzip_decompress_image(copy, size, NULL, &back) == IDFZIP_ERR_VERSION, "version");
    memcpy(copy, idf, size);
    copy[1] = 'X';
    CHECK(idfzip_decompress_image(copy, size, NULL, &back) == IDFZIP_ERR_NOT_IDF, "magic");
    memcpy(copy, idf, size);
    copy[14] = 200; /* after 10x10: a model number no idfzip has given yet */
    CHECK(idfzip_decompress_image(copy, size, NULL, &back) == IDFZIP_ERR_MODEL, "model number");
    memcpy(copy, idf, size);
    copy[size - 1] ^= 1; /* the payload, under the file CRC */
    CHECK(idfzip_decompress_image(copy, size, NULL, &back) == IDFZIP_ERR_CRC, "file CRC");
    free(copy);
    idfzip_free(idf);
    idfzip_image_free(&img);
}

static int load(const char *path, uint8_t **data, size_t *size)
{
    *data = read_file(path, size);
    return *data ? 0 : -1;
}

/* PNG file -> .idf (model-coded) -> PNG file: same image. */
static void png_round_trip(const char *path)
{
    uint8_t *png = NULL, *idf = NULL, *back = NULL;
    size_t png_size = 0, idf_size = 0, back_size = 0;
    idfzip_image a, b;
    idfzip_options o;
    idfzip_options_init(&o);
    o.force_model = 1;
    CHECK(load(path, &png, &png_size) == 0, "%s: cannot read", path);
    int st = idfzip_png_decode(png, png_size, 0, &a);
    CHECK(st == IDFZIP_OK, "%s: decode: %s", path, idfzip_error_string(st));
    if (st == IDFZIP_OK) {
        st = idfzip_compress_png(png, png_size, &o, &idf, &idf_size);
        st = st ? st : idfzip_decompress_png(idf, idf_size, NULL, &back, &back_size);
        st = st ? st : idfzip_png_decode(back, back_size, 0, &b);
        CHECK(st == IDFZIP_OK, "%s: round trip: %s", path, idfzip_error_string(st));
        if (st == IDFZIP_OK) {
            CHECK(idfzip_image_equal(&a, &b), "%s: image differs after round trip", path);
            idfzip_image_free(&b);
        }
        idfzip_image_free(&a);
    }
    free(png);
    idfzip_free(idf);
    idfzip_free(back);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void test_pngsuite(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    int count = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!ends_with(e->d_name, ".png"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        png_round_trip(path);
        count++;
    }
    if (d)
        closedir(d);
    CHECK(count >= 30, "only %d PngSuite files", count);
}

/* golden/NAME.idf must decode to exactly the pixels of golden/NAME.png. */
static void test_golden(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    int count = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!ends_with(e->d_name, ".idf"))
            continue;
        char path[1024];
        uint8_t *idf = NULL, *png = NULL;
        size_t idf_size = 0, png_size = 0;
        idfzip_image want, got;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        CHECK(load(path, &idf, &idf_size) == 0, "%s", path);
        memcpy(path + strlen(path) - 4, ".png", 4);
        CHECK(load(path, &png, &png_size) == 0, "%s", path);
        int st = idfzip_png_decode(png, png_size, 0, &want);
        int st2 = idfzip_decompress_image(idf, idf_size, NULL, &got);
        CHECK(st == IDFZIP_OK && st2 == IDFZIP_OK, "%s: %s", e->d_name, idfzip_error_string(st2));
        if (st == IDFZIP_OK && st2 == IDFZIP_OK)
            CHECK(idfzip_image_equal(&want, &got), "%s: golden pixels changed", e->d_name);
        if (st == IDFZIP_OK)
            idfzip_image_free(&want);
        if (st2 == IDFZIP_OK)
            idfzip_image_free(&got);
        free(idf);
        free(png);
        count++;
    }
    if (d)
        closedir(d);
    CHECK(count >= 3, "only %d golden files", count);
}

/* A built-in model chosen by name codes every kind at small sizes (where
 * the automatic choice may pick the other baseline) and names itself in
 * the file; an unknown name is an error. */
static void test_named_models(void)
{
    static const char *const names[] = {"baseline-v1", "baseline-v2", "baseline-v3", "match-v1",
                                        "match-v2"};
    static const uint32_t sizes[][2] = {{1, 1}, {23, 9}, {300, 17}};
    uint64_t rng = 7;
    for (size_t n = 0; n < sizeof names / sizeof *names; n++)
        for (size_t k = 0; k < sizeof KINDS / sizeof *KINDS; k++)
            for (size_t s = 0; s < 3; s++) {
                idfzip_image img, back;
                if (make_image(&img, KINDS[k], sizes[s][0], sizes[s][1], GRADIENT, &rng))
                    continue;
                idfzip_options o;
                idfzip_options_init(&o);
                o.force_model = 1;
                o.model_name = names[n];
                uint8_t *idf = NULL;
                size_t size = 0;
                idfzip_info info;
                int st = idfzip_compress_image(&img, &o, &idf, &size);
                st = st ? st : idfzip_get_info(idf, size, &info);
                CHECK(st == IDFZIP_OK && !strcmp(info.model_name, names[n]),
                      "%s, kind %zu, %ux%u: %s", names[n], k, sizes[s][0], sizes[s][1],
                      idfzip_error_string(st));
                st = st ? st : idfzip_decompress_image(idf, size, NULL, &back);
                if (st == IDFZIP_OK) {
                    CHECK(idfzip_image_equal(&img, &back), "%s: pixels", names[n]);
                    idfzip_image_free(&back);
                }
                idfzip_free(idf);
                idfzip_image_free(&img);
            }
    idfzip_image img;
    make_image(&img, KINDS[5], 8, 8, GRADIENT, &rng);
    idfzip_options o;
    idfzip_options_init(&o);
    o.model_name = "baseline-v4";
    uint8_t *idf = NULL;
    size_t size = 0;
    CHECK(idfzip_compress_image(&img, &o, &idf, &size) == IDFZIP_ERR_MODEL, "unknown model name");
    idfzip_image_free(&img);
    CHECK(idfzip_builtin_model("baseline-v1") && idfzip_builtin_model("baseline-v2") &&
              idfzip_builtin_model("baseline-v3") && idfzip_builtin_model("match-v1") &&
              idfzip_builtin_model("match-v2") &&
              !idfzip_builtin_model("baseline") && !idfzip_builtin_model("") &&
              !idfzip_builtin_model(NULL) && !idfzip_builtin_model("baseline-v2-and-more"),
          "idfzip_builtin_model");
}

/* A random number 0 .. n - 1 from (x, y, c, seed), the same every run. */
static uint32_t hashed(uint32_t x, uint32_t y, uint32_t c, uint32_t seed, uint32_t n)
{
    uint32_t h = (x * 0x9E3779B1u) ^ (y * 0x85EBCA77u) ^ (c * 0xC2B2AE3Du) ^ seed;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 13;
    return h % n;
}

/* The sample of (x, y), channel c, for a match model's edge case. */
static uint32_t match_case_sample(int which, uint32_t x, uint32_t y, uint32_t c, uint32_t maxval)
{
    switch (which) {
    case 0: return maxval / 3;                                   /* one colour */
    case 1: return ((x / 3 + y) & 1) ? maxval : 0;               /* two colours */
    case 2: return (((x / 2) * 7 + (y / 2) * 13 + c) % 257) * (maxval / 256 + 1) % (maxval + 1);
    case 3: /* "text" (a repeated glyph) on a gradient */
        return ((x % 9 < 2 || y % 11 == 4) && (x / 9 + y / 11) % 3 != 1)
                   ? 0 : (x + 2 * y + 40 * c) % (maxval + 1);
    case 4: /* repeats that reach the right and bottom edges */
        return ((x + 1) % 4 == 0 || y % 5 == 4) ? maxval : (x / 4 + c) % (maxval + 1);
    case 5: /* noise glyphs (one of 5 random 7x6 blocks per cell) on noise:
               copies at many distances, overlapping the right edge */
        return y % 13 < 6 && x % 11 < 7
                   ? hashed(x % 11, y % 13, c, 17 + hashed(x / 11, y / 13, 0, 5, 5), maxval + 1)
                   : hashed(x, y, c, 99, maxval + 1);
    default: /* a noise image whose second half repeats its first (shifted
                by 3): one long copy, and copies that run into the edge */
        return hashed(x < 3 ? x : (x - 3) % 37, y % 29, c, 7, maxval + 1);
    }
}

/* img: a w x h image of kind k filled with match case `which`; 0, or -1
 * when the kind and size make no image. */
static int make_match_image(idfzip_image *img, kind k, uint32_t w, uint32_t h, int which)
{
    uint64_t rng = 3;
    if (make_image(img, k, w, h, FLAT, &rng))
        return -1;
    uint32_t maxval = img->color_type == 3 ? img->palette_size - 1 : (1u << img->bit_depth) - 1;
    for (uint32_t y = 0; y < img->height; y++)
        for (uint32_t x = 0; x < img->width; x++)
            for (uint32_t c = 0; c < img->channels; c++)
                img->samples[((size_t)y * img->width + x) * img->channels + c] =
                    (uint16_t)match_case_sample(which, x, y, c, maxval);
    return 0;
}

/* A match model on what it is for: one colour, two colours, 257 colours,
 * text on a gradient, repeats at the edges and at random distances,
 * 1-pixel-wide images, every kind of PNG; exact round trips, and the same
 * bytes with 1 and 3 threads. */
static void test_match_model(const char *name)
{
    static const uint32_t sizes[][2] = {{1, 1}, {1, 40}, {40, 1}, {61, 37}, {300, 260}, {2100, 3}};
    for (size_t k = 0; k < sizeof KINDS / sizeof *KINDS; k++)
        for (int which = 0; which < 7; which++)
            for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
                idfzip_image img, back;
                /* 300x260 crosses match-v1's 256x256 tiles; match-v2's
                 * 2048-wide tiles are crossed by 2100x3 */
                int halve = sizes[s][0] == 300 && strcmp(name, "match-v1") != 0;
                if (make_match_image(&img, KINDS[k], sizes[s][0] >> halve, sizes[s][1] >> halve,
                                     which))
                    continue;
                idfzip_options o;
                idfzip_options_init(&o);
                o.force_model = 1;
                o.model_name = name;
                uint8_t *a = NULL, *b = NULL;
                size_t na = 0, nb = 0;
                int st = idfzip_compress_image(&img, &o, &a, &na);
                o.threads = 3;
                int st3 = idfzip_compress_image(&img, &o, &b, &nb);
                CHECK(st == IDFZIP_OK && st3 == IDFZIP_OK && na == nb && !memcmp(a, b, na),
                      "%s kind %zu case %d %ux%u: threads or %s", name, k, which, sizes[s][0],
                      sizes[s][1], idfzip_error_string(st));
                st = st ? st : idfzip_decompress_image(a, na, NULL, &back);
                CHECK(st == IDFZIP_OK, "%s kind %zu case %d: %s", name, k, which,
                      idfzip_error_string(st));
                if (st == IDFZIP_OK) {
                    CHECK(idfzip_image_equal(&img, &back), "%s kind %zu case %d %ux%u: pixels",
                          name, k, which, sizes[s][0], sizes[s][1]);
                    idfzip_image_free(&back);
                }
                idfzip_free(a);
                idfzip_free(b);
                idfzip_image_free(&img);
            }
}

/* A match model's decoder on damaged streams: every 5th bit of the
 * payload flipped (of a large payload about 4,000 bits), and the payload
 * cut at every 3rd length (or as sparsely), with the file
 * CRC (and the tile size) made right again so that the damage reaches the
 * model.
 * Each must fail with an error or give the image exactly (the pixel CRC
 * stands guard), never crash (ASan/UBSan runs). */
static void test_coded_damage(const char *name, const idfzip_image *image)
{
    idfzip_image img = *image, back;
    uint8_t *idf = NULL;
    size_t size = 0;
    int st = compress_named(&img, name, &idf, &size);
    CHECK(st == IDFZIP_OK, "%s damage: compress", name);
    layout l = st == IDFZIP_OK ? layout_of(idf) : (layout){0, 0, 0, 0};
    int wrong = 0, failed = 0, tries = 0;
    /* every 5th bit, or about 4,000 of them in a larger payload */
    size_t stride = (size - l.payload_at) * 8 / 4000 > 5 ? (size - l.payload_at) * 8 / 4000 : 5;
    for (size_t bit = 8 * l.payload_at; st == IDFZIP_OK && bit < size * 8; bit += stride, tries++) {
        idf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        fix_file_crc(idf, size, l);
        if (idfzip_decompress_image(idf, size, NULL, &back) == IDFZIP_OK) {
            wrong += !idfzip_image_equal(&img, &back);
            idfzip_image_free(&back);
        } else {
            failed++;
        }
        idf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (size_t n = 1; st == IDFZIP_OK && n < size - l.payload_at; n += 1 + stride / 2) {
        /* the payload cut to n bytes, the tile size and CRC made to agree */
        uint8_t *cut = malloc(l.payload_at + 8 + n);
        CHECK(cut != NULL, "malloc");
        if (!cut)
            break;
        memcpy(cut, idf, l.tile_size_at);
        size_t at = l.tile_size_at + put_varint(cut + l.tile_size_at, (uint32_t)n);
        memcpy(cut + at, idf + l.pixel_crc_at, 8);
        memcpy(cut + at + 8, idf + l.payload_at, n);
        fix_file_crc(cut, at + 8 + n, layout_of(cut));
        int cst = idfzip_decompress_image(cut, at + 8 + n, NULL, &back);
        CHECK(cst != IDFZIP_OK, "%s damage: payload cut to %zu bytes accepted", name, n);
        if (cst == IDFZIP_OK)
            idfzip_image_free(&back);
        free(cut);
    }
    CHECK(wrong == 0, "%s damage: %d of %d bit flips decoded to a wrong image", name, wrong, tries);
    CHECK(failed > tries / 2, "%s damage: only %d of %d bit flips failed", name, failed, tries);
    /* version 3: every bit of the sample map, with the file CRC made right */
    for (size_t bit = 8 * l.map_at; l.map_at && bit < 8 * l.tile_size_at; bit++) {
        idf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        fix_file_crc(idf, size, l); /* where the CRC is, however the map now reads */
        if (idfzip_decompress_image(idf, size, NULL, &back) == IDFZIP_OK) {
            CHECK(idfzip_image_equal(&img, &back), "%s damage: map bit %zu gave a wrong image",
                  name, bit - 8 * l.map_at);
            idfzip_image_free(&back);
        }
        idf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        fix_file_crc(idf, size, l);
    }
    idfzip_free(idf);
}

static void test_match_damage(const char *name, kind k, int which, uint32_t w, uint32_t h)
{
    idfzip_image img;
    if (make_match_image(&img, k, w, h, which))
        return;
    test_coded_damage(name, &img);
    idfzip_image_free(&img);
}

/* ---- version 3's sample map (codec/sample_map.h) ---- */

/* A copy of img at 16 bits, each channel's samples times scale[c]. */
static int scaled_copy(const idfzip_image *img, const uint32_t scale[4], idfzip_image *out)
{
    *out = *img;
    out->bit_depth = 16;
    size_t n = (size_t)img->width * img->height * img->channels;
    out->samples = malloc(n * sizeof *out->samples);
    if (!out->samples)
        return -1;
    for (size_t i = 0; i < n; i++)
        out->samples[i] = (uint16_t)(img->samples[i] * scale[i % img->channels]);
    return 0;
}

/* Compresses with the default choice (or model name), checks the version
 * byte (unless -1) and the model (unless NULL), decodes with 1 and 3
 * threads; the file's size, its model's name in used (if not NULL). */
static size_t coded_size(const idfzip_image *img, const char *name, int version,
                         const char *model, const char *what, char *used)
{
    idfzip_options o;
    idfzip_options_init(&o);
    uint8_t *idf = NULL;
    size_t size = 0;
    idfzip_info info;
    int st = compress_named(img, name, &idf, &size);
    st = st ? st : idfzip_get_info(idf, size, &info);
    CHECK(st == IDFZIP_OK, "%s: %s", what, idfzip_error_string(st));
    if (st != IDFZIP_OK)
        return 0;
    CHECK(version < 0 || idf[8] == version, "%s: version %u, not %d", what, idf[8], version);
    if (used)
        memcpy(used, info.model_name, sizeof info.model_name);
    CHECK(!model || !strcmp(info.model_name, model), "%s: model %s, not %s", what,
          info.model_name, model);
    for (int threads = 1; threads <= 3; threads += 2) {
        idfzip_image back;
        o.threads = threads;
        st = idfzip_decompress_image(idf, size, &o, &back);
        CHECK(st == IDFZIP_OK, "%s: decompress: %s", what, idfzip_error_string(st));
        if (st == IDFZIP_OK) {
            CHECK(idfzip_image_equal(img, &back), "%s: image differs", what);
            idfzip_image_free(&back);
        }
    }
    idfzip_free(idf);
    return size;
}

static void test_sample_maps(void)
{
    uint64_t rng = 11;
    idfzip_image rgb8, rgb16, rgba, ga, pal;
    if (make_image(&rgb8, (kind){2, 8, 3}, 64, 48, GRADIENT, &rng) ||
        make_image(&rgba, (kind){6, 8, 4}, 40, 30, EXTREME, &rng) ||
        make_image(&ga, (kind){4, 8, 2}, 20, 20, FLAT, &rng) ||
        make_image(&pal, (kind){3, 8, 1}, 70, 50, GRADIENT, &rng))
        return;
    /* 8-bit data in a 16-bit PNG (x 257): the 8-bit model, 8 bytes of map */
    const uint32_t by257[4] = {257, 257, 257, 257}, mixed[4] = {64, 64, 64, 257};
    if (scaled_copy(&rgb8, by257, &rgb16) == 0) {
        char m8[IDFZIP_MODEL_NAME_MAX + 1], m16[IDFZIP_MODEL_NAME_MAX + 1];
        size_t n8 = coded_size(&rgb8, NULL, 2, NULL, "RGB 8-bit", m8);
        size_t n16 = coded_size(&rgb16, NULL, 3, NULL, "RGB 16-bit, x 257", m16);
        CHECK(n16 <= n8 + 8 && !strcmp(m8, m16), "x 257: %zu bytes (%s), the 8-bit image %zu (%s)",
              n16, m16, n8, m8);
        coded_size(&rgb16, "ar-rgb-mix", 3, "ar-rgb-mix", "RGB 16-bit, x 257, AR prior", NULL);
        idfzip_image_free(&rgb16);
    }
    /* 10-bit colour (x 64) under a 0/65535 alpha, coded at 16 bits */
    for (size_t i = 0; i < (size_t)rgba.width * rgba.height * 4; i++)
        rgba.samples[i] = (uint16_t)(i % 4 == 3 ? (rgba.samples[i] ? 255 : 0)
                                                : (i * 37 + i / 160 * 5) % 1024);
    rgba.bit_depth = 16;
    idfzip_image rgba16;
    if (scaled_copy(&rgba, mixed, &rgba16) == 0) {
        coded_size(&rgba16, NULL, 3, NULL, "RGBA 16-bit, x 64, alpha x 257", NULL);
        coded_size(&rgba16, "baseline-v3", 3, "baseline-v3", "RGBA 16-bit with baseline-v3", NULL);
        test_coded_damage("baseline-v3", &rgba16);
        idfzip_image_free(&rgba16);
    }
    /* a channel all 0 (scale 1) beside a constant one (coded as 1s) */
    for (size_t i = 0; i < (size_t)ga.width * ga.height * 2; i++)
        ga.samples[i] = (uint16_t)(i % 2 ? 255 : 0);
    idfzip_image ga16;
    if (scaled_copy(&ga, by257, &ga16) == 0) {
        coded_size(&ga16, NULL, 3, NULL, "grey+alpha 16-bit, zeros and a constant", NULL);
        idfzip_image_free(&ga16);
    }
    /* palette in luma order for the models that predict values; the match
     * models keep the file's order (version 2) */
    pal.trns_size = 100;
    for (uint32_t i = 0; i < pal.trns_size; i++)
        pal.trns[i] = (uint8_t)(i * 7);
    coded_size(&pal, NULL, -1, NULL, "palette", NULL);
    coded_size(&pal, "ar-grey-mix", 3, "ar-grey-mix", "palette with ar-grey-mix", NULL);
    coded_size(&pal, "baseline-v3", 3, "baseline-v3", "palette with baseline-v3", NULL);
    coded_size(&pal, "match-v2", 2, "match-v2", "palette with match-v2", NULL);
    pal.width = 30, pal.height = 20; /* the damage on its first rows: small, a net per sample */
    test_coded_damage("ar-grey-mix", &pal);
    pal.width = 70, pal.height = 50;
    /* a green ramp through a 16-entry palette in shuffled order with random
     * red: luma order scrambles it, so the encoder sends an order */
    idfzip_image ramp;
    if (make_image(&ramp, (kind){3, 8, 1}, 64, 48, FLAT, &rng) == 0) {
        ramp.palette_size = 16;
        uint8_t index_of_level[16];
        for (uint32_t i = 0; i < 16; i++) {
            uint32_t level = (i * 7) % 16; /* a permutation of 0..15 */
            index_of_level[level] = (uint8_t)i;
            ramp.palette[3 * i] = (uint8_t)hashed(i, 0, 0, 9, 256);
            ramp.palette[3 * i + 1] = (uint8_t)(16 * level);
            ramp.palette[3 * i + 2] = 0;
        }
        for (uint32_t y = 0; y < 48; y++)
            for (uint32_t x = 0; x < 64; x++)
                ramp.samples[y * 64 + x] = index_of_level[((x + y) * 16 / 112 + hashed(x, y, 0, 3, 2)) % 16];
        uint8_t *idf = NULL;
        size_t size = 0;
        if (compress_named(&ramp, "ar-grey-mix", &idf, &size) == IDFZIP_OK) {
            layout l = layout_of(idf);
            CHECK(idf[8] == 3 && l.map_at && idf[l.map_at] == 4, "ramp: no sent palette order");
            idfzip_free(idf);
        }
        coded_size(&ramp, "ar-grey-mix", 3, "ar-grey-mix", "ramp with a sent order", NULL);
        test_coded_damage("ar-grey-mix", &ramp);
        idfzip_image_free(&ramp);
    }
    idfzip_image_free(&rgb8);
    idfzip_image_free(&rgba);
    idfzip_image_free(&ga);
    idfzip_image_free(&pal);
}

/* ---- the composite models (model/composite.h) ---- */

/* An icon: a disc of a gradient with an anti-aliased edge, 0 under alpha 0. */
static int make_icon(idfzip_image *img, kind k, uint32_t w, uint32_t h)
{
    uint64_t rng = 12;
    if (make_image(img, k, w, h, FLAT, &rng))
        return -1;
    const int32_t cx = (int32_t)w / 2, cy = (int32_t)h / 2, r = (int32_t)(w < h ? w : h) / 2 - 1;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            int32_t d2 = ((int32_t)x - cx) * ((int32_t)x - cx) + ((int32_t)y - cy) * ((int32_t)y - cy);
            int32_t edge = r * r - d2; /* > 0 inside */
            uint32_t a = edge >= 2 * r ? 255 : edge <= -2 * r ? 0 : (uint32_t)(128 + 127 * edge / (2 * r + 1));
            uint16_t *p = img->samples + ((size_t)y * w + x) * k.channels;
            for (uint32_t c = 0; c + 1 < k.channels; c++)
                p[c] = (uint16_t)(a ? (x * 3 + y * 2 + c * 40) % 256 : 0);
            p[k.channels - 1] = (uint16_t)a;
        }
    return 0;
}

static void test_composites(void)
{
    static const struct {
        const char *name;
        kind k;
    } pairs[] = {{"ar-rgba-mix", {6, 8, 4}}, {"ar-ga-mix", {4, 8, 2}}};
    static const uint32_t sizes[][2] = {{1, 1}, {1, 7}, {48, 40}, {300, 17}, {257, 258}};
    char what[96];
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            idfzip_image img;
            if (make_icon(&img, pairs[i].k, sizes[s][0], sizes[s][1]))
                continue;
            snprintf(what, sizeof what, "%s, icon %ux%u", pairs[i].name, sizes[s][0], sizes[s][1]);
            coded_size(&img, pairs[i].name, sizes[s][0] > 1 ? 2 : -1, pairs[i].name, what, NULL);
            idfzip_image_free(&img);
            uint64_t rng = 13;
            /* the patterns at the small sizes (the icon covers four tiles) */
            for (int p = NOISE; p <= EXTREME && sizes[s][0] * sizes[s][1] < 10000; p++) {
                if (make_image(&img, pairs[i].k, sizes[s][0], sizes[s][1], (enum pattern)p, &rng))
                    continue;
                snprintf(what, sizeof what, "%s, %ux%u, pattern %d", pairs[i].name, sizes[s][0],
                         sizes[s][1], p);
                /* EXTREME and FLAT samples share a divisor: version 3 */
                coded_size(&img, pairs[i].name, -1, pairs[i].name, what, NULL);
                idfzip_image_free(&img);
            }
        }
        idfzip_image img;
        if (make_icon(&img, pairs[i].k, 24, 18) == 0) { /* small: two nets per pixel */
            test_coded_damage(pairs[i].name, &img);
            idfzip_image_free(&img);
        }
    }
    /* only what a pair serves: not RGB, not 16 bits, not the other pair's kind */
    uint64_t rng = 14;
    static const kind others[] = {{2, 8, 3}, {6, 16, 4}, {4, 8, 2}};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        idfzip_image img;
        if (make_image(&img, others[i], 8, 8, NOISE, &rng))
            continue;
        idfzip_options o;
        idfzip_options_init(&o);
        o.model_name = "ar-rgba-mix";
        uint8_t *idf = NULL;
        size_t size = 0;
        int st = idfzip_compress_image(&img, &o, &idf, &size);
        CHECK(st == IDFZIP_ERR_MODEL_KIND, "ar-rgba-mix on kind %zu: %s", i, idfzip_error_string(st));
        if (st == IDFZIP_OK)
            idfzip_free(idf);
        idfzip_image_free(&img);
    }
}

int main(int argc, char **argv)
{
    test_sample_maps();
    test_composites();
    test_match_model("match-v1");
    test_match_model("match-v2");
    test_match_damage("match-v2", (kind){6, 8, 4}, 5, 32, 20);  /* copies, cache */
    test_match_damage("match-v2", (kind){3, 8, 1}, 5, 32, 20);  /* palette indices, one tree */
    test_match_damage("match-v2", (kind){3, 8, 1}, 3, 130, 130); /* a tree per index of W */
    test_match_damage("match-v2", (kind){2, 16, 3}, 3, 32, 20); /* 16-bit text */
    test_match_damage("match-v1", (kind){6, 8, 4}, 3, 32, 20);
    test_all_kinds();
    test_named_models();
    test_thread_invariance();
    test_stored_mode();
    test_damage();
    test_hostile_headers();
    if (argc > 1)
        test_pngsuite(argv[1]);
    if (argc > 2)
        test_golden(argv[2]);
    return test_report("codec");
}
