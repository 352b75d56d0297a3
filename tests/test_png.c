/* test_png.c — PNG reading and writing (codec/png_read.c, png_write.c, png_rules.c).
 *
 * Usage: test_png DIR, where DIR holds the PngSuite files (tests/data/pngsuite).
 *
 * 1. Every PngSuite file: decode -> encode -> decode gives an equal image, the
 *    copied chunks are the file's bytes, and libpng's simplified API renders
 *    the original and the re-encoded file to the same RGBA bytes.
 * 2. Random images of every legal colour type x bit depth, with and without
 *    tRNS and ancillary chunks: encode -> decode -> equal; the same images
 *    written by libpng (interlaced and not) decode to the same samples; the
 *    filter choice follows the rules (0 for palette and sub-byte images).
 * 3. Broken, hostile and out-of-spec PNGs, built here at run time, fail with
 *    the right status and never crash; invalid images are refused by the
 *    writer.
 */
#define _POSIX_C_SOURCE 200809L /* opendir/readdir */

#include <dirent.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <zlib.h>

#include "../include/idfzip.h"
#include "../codec/png_deflate.h"
#include "../codec/png_io.h"
#include "test_util.h"

/* ------------------------------------------------------------------------ */
/* Small utilities                                                          */
/* ------------------------------------------------------------------------ */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "test_png: out of memory\n");
        exit(2);
    }
    return p;
}

/* A growable byte buffer for building PNGs in the test. */
typedef struct tbuf {
    uint8_t *p;
    size_t n, cap;
} tbuf;

static void tb_put(tbuf *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        uint8_t *q = (uint8_t *)realloc(b->p, b->cap);
        if (q == NULL) {
            fprintf(stderr, "test_png: out of memory\n");
            exit(2);
        }
        b->p = q;
    }
    if (n > 0)
        memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

static void tb_chunk(tbuf *b, const char *type, const void *data, uint32_t len)
{
    uint8_t word[4];
    be32(word, len);
    tb_put(b, word, 4);
    tb_put(b, type, 4);
    tb_put(b, data, len);
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    if (len > 0)
        crc = crc32(crc, (const Bytef *)data, len);
    be32(word, (uint32_t)crc);
    tb_put(b, word, 4);
}

static const uint8_t signature[8] = {137, 80, 78, 71, 13, 10, 26, 10};

/* Signature + IHDR of a hand-made PNG. */
static void tb_begin(tbuf *b, uint32_t w, uint32_t h, int depth, int ct,
                     int interlace)
{
    uint8_t ihdr[13];
    be32(ihdr, w);
    be32(ihdr + 4, h);
    ihdr[8] = (uint8_t)depth;
    ihdr[9] = (uint8_t)ct;
    ihdr[10] = 0;
    ihdr[11] = 0;
    ihdr[12] = (uint8_t)interlace;
    b->n = 0;
    tb_put(b, signature, 8);
    tb_chunk(b, "IHDR", ihdr, 13);
}

/* Compresses raw scanlines (filter bytes included) into IDATs of at most
 * `piece` bytes each. */
static void tb_idat(tbuf *b, const uint8_t *raw, size_t n, size_t piece)
{
    uLongf zlen = compressBound(n);
    uint8_t *z = (uint8_t *)xmalloc(zlen);
    if (compress(z, &zlen, raw, n) != Z_OK) {
        fprintf(stderr, "test_png: compress failed\n");
        exit(2);
    }
    for (size_t at = 0; at < zlen; at += piece) {
        size_t len = zlen - at < piece ? zlen - at : piece;
        tb_chunk(b, "IDAT", z + at, (uint32_t)len);
    }
    free(z);
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    tbuf b = {NULL, 0, 0};
    uint8_t block[4096];
    size_t got;
    while ((got = fread(block, 1, sizeof block, f)) > 0)
        tb_put(&b, block, got);
    fclose(f);
    *size = b.n;
    return b.p != NULL ? b.p : (uint8_t *)xmalloc(1);
}

static int image_is_zero(const idfzip_image *img)
{
    static const idfzip_image zero;
    return memcmp(img, &zero, sizeof zero) == 0;
}

/* Offset of the n-th (0-based) chunk of `type` in a PNG, or 0. */
static size_t find_chunk(const uint8_t *png, size_t size, const char *type,
                         int nth)
{
    size_t pos = 8;
    while (pos + 12 <= size) {
        uint32_t len = rd32(png + pos);
        if (memcmp(png + pos + 4, type, 4) == 0 && nth-- == 0)
            return pos;
        if (len > size - pos - 12)
            return 0;
        pos += 12 + (size_t)len;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* A second, independent reading path: libpng's simplified API              */
/* ------------------------------------------------------------------------ */

/* Renders a PNG as 8-bit RGBA (or 16-bit linear RGBA); NULL on failure. */
static uint8_t *render_rgba(const uint8_t *png, size_t size, int linear,
                            size_t *out_size)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, png, size))
        return NULL;
    im.format = linear ? PNG_FORMAT_LINEAR_RGB_ALPHA : PNG_FORMAT_RGBA;
    size_t n = PNG_IMAGE_SIZE(im);
    uint8_t *pixels = (uint8_t *)xmalloc(n);
    if (!png_image_finish_read(&im, NULL, pixels, 0, NULL)) {
        png_image_free(&im);
        free(pixels);
        return NULL;
    }
    *out_size = n;
    return pixels;
}

static int renders_equal(const uint8_t *a, size_t a_size, const uint8_t *b,
                         size_t b_size, int linear)
{
    size_t na = 0, nb = 0;
    uint8_t *ra = render_rgba(a, a_size, linear, &na);
    uint8_t *rb = render_rgba(b, b_size, linear, &nb);
    int same = ra != NULL && rb != NULL && na == nb && memcmp(ra, rb, na) == 0;
    free(ra);
    free(rb);
    return same;
}

/* libpng's full reader as a strict judge of the files we write: the number
 * of warnings (benign errors included) it raises, or -1 if it fails. */
typedef struct warn_count {
    int warnings;
} warn_count;

static void count_warning(png_structp png, png_const_charp msg)
{
    warn_count *w = (warn_count *)png_get_error_ptr(png);
    w->warnings++;
    fprintf(stderr, "libpng warning: %s\n", msg);
}

static void quiet_error(png_structp png, png_const_charp msg)
{
    fprintf(stderr, "libpng error: %s\n", msg);
    png_longjmp(png, 1);
}

typedef struct test_cursor {
    const uint8_t *data;
    size_t size, pos;
} test_cursor;

static void read_from_test_cursor(png_structp png, png_bytep out, size_t len)
{
    test_cursor *c = (test_cursor *)png_get_io_ptr(png);
    if (len > c->size - c->pos)
        png_error(png, "read past end");
    memcpy(out, c->data + c->pos, len);
    c->pos += len;
}

static int libpng_warnings(const uint8_t *data, size_t size)
{
    warn_count w = {0};
    test_cursor cursor = {data, size, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &w,
                                             quiet_error, count_warning);
    png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
    int result = -1;
    if (info != NULL && setjmp(png_jmpbuf(png)) == 0) {
        png_set_read_fn(png, &cursor, read_from_test_cursor);
        png_read_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
        result = w.warnings;
    }
    png_destroy_read_struct(&png, &info, NULL);
    return result;
}

/* ------------------------------------------------------------------------ */
/* 1. PngSuite                                                              */
/* ------------------------------------------------------------------------ */

/* Ancillary chunks other than tRNS, counted straight from the file. */
static uint32_t count_copied_chunks(const uint8_t *png, size_t size)
{
    uint32_t count = 0;
    size_t pos = 8;
    while (pos + 12 <= size && memcmp(png + pos + 4, "IEND", 4) != 0) {
        if (png_io_chunk_is_copied((const char *)png + pos + 4))
            count++;
        pos += 12 + (size_t)rd32(png + pos);
    }
    return count;
}

/* Each copied chunk must be the very bytes found in the file: the i-th
 * chunk of a given type is that type's i-th occurrence. */
static int chunks_match_file(const idfzip_image *img, const uint8_t *png,
                             size_t size)
{
    for (uint32_t i = 0; i < img->chunk_count; i++) {
        const idfzip_chunk *c = &img->chunks[i];
        char type[5] = {0};
        int nth = 0;
        memcpy(type, c->type, 4);
        for (uint32_t j = 0; j < i; j++)
            nth += memcmp(img->chunks[j].type, c->type, 4) == 0;
        size_t at = find_chunk(png, size, type, nth);
        if (at == 0 || rd32(png + at) != c->size ||
            (c->size > 0 && memcmp(png + at + 8, c->data, c->size) != 0))
            return 0;
    }
    return 1;
}

static void check_suite_file(const char *name, const uint8_t *png, size_t size)
{
    idfzip_image a, b;
    uint8_t *enc = NULL, *enc2 = NULL;
    size_t enc_size = 0, enc2_size = 0;
    int st = idfzip_png_decode(png, size, 0, &a);
    CHECK(st == IDFZIP_OK, "%s: decode %d", name, st);
    if (st != IDFZIP_OK)
        return;
    CHECK(a.chunk_count == count_copied_chunks(png, size), "%s: chunks", name);
    CHECK(chunks_match_file(&a, png, size), "%s: chunk bytes", name);
    st = idfzip_png_encode(&a, &enc, &enc_size);
    CHECK(st == IDFZIP_OK, "%s: encode %d", name, st);
    st = idfzip_png_decode(enc, enc_size, 0, &b);
    CHECK(st == IDFZIP_OK, "%s: re-decode %d", name, st);
    CHECK(idfzip_image_equal(&a, &b), "%s: round trip differs", name);
    CHECK(renders_equal(png, size, enc, enc_size, a.bit_depth == 16),
          "%s: libpng renders differ", name);
    CHECK(libpng_warnings(enc, enc_size) == 0, "%s: libpng objects", name);
    /* The encoder is deterministic, so a second pass is byte-identical. */
    st = idfzip_png_encode(&b, &enc2, &enc2_size);
    CHECK(st == IDFZIP_OK && enc2_size == enc_size &&
              memcmp(enc, enc2, enc_size) == 0,
          "%s: re-encode not identical", name);
    idfzip_free(enc);
    idfzip_free(enc2);
    idfzip_image_free(&a);
    idfzip_image_free(&b);
}

/* Facts about particular files, known from their PngSuite names and chunks. */
static void check_suite_facts(const char *dir)
{
    static const struct {
        const char *file;
        uint32_t w, h, depth, ct, palette, trns, chunks;
        const char *first_chunk;
        int first_where;
    } facts[] = {
        {"basn0g01.png", 32, 32, 1, 0, 0, 0, 1, "gAMA", IDFZIP_CHUNK_BEFORE_PLTE},
        {"basn0g16.png", 32, 32, 16, 0, 0, 0, 1, "gAMA", IDFZIP_CHUNK_BEFORE_PLTE},
        {"basn3p04.png", 32, 32, 4, 3, 15, 0, 2, "gAMA", IDFZIP_CHUNK_BEFORE_PLTE},
        {"basn3p04-31i.png", 31, 31, 4, 3, 15, 0, 2, "pHYs", IDFZIP_CHUNK_BEFORE_IDAT},
        {"basn3p08-trns.png", 32, 32, 8, 3, 256, 173, 1, "gAMA", IDFZIP_CHUNK_BEFORE_PLTE},
        {"ftbbn0g01.png", 32, 32, 1, 0, 0, 2, 1, "bKGD", IDFZIP_CHUNK_BEFORE_PLTE},
        {"ftbbn2c16.png", 32, 32, 16, 2, 0, 6, 2, "gAMA", IDFZIP_CHUNK_BEFORE_PLTE},
        {"ftbbn3p08.png", 32, 32, 8, 3, 246, 1, 2, "gAMA", IDFZIP_CHUNK_BEFORE_PLTE},
        {"basn6a16.png", 32, 32, 16, 6, 0, 0, 1, "gAMA", IDFZIP_CHUNK_BEFORE_PLTE},
    };
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++) {
        char path[4096];
        size_t size = 0;
        snprintf(path, sizeof path, "%s/%s", dir, facts[i].file);
        uint8_t *png = read_file(path, &size);
        idfzip_image img;
        memset(&img, 0, sizeof img);
        int st = png ? idfzip_png_decode(png, size, 0, &img) : -100;
        CHECK(st == IDFZIP_OK, "%s: decode %d", facts[i].file, st);
        if (st == IDFZIP_OK) {
            CHECK(img.width == facts[i].w && img.height == facts[i].h &&
                      img.bit_depth == facts[i].depth &&
                      img.color_type == facts[i].ct &&
                      img.palette_size == facts[i].palette &&
                      img.trns_size == facts[i].trns &&
                      img.chunk_count == facts[i].chunks,
                  "%s: header facts", facts[i].file);
            CHECK(img.chunk_count > 0 &&
                      memcmp(img.chunks[0].type, facts[i].first_chunk, 4) == 0 &&
                      img.chunks[0].where == facts[i].first_where,
                  "%s: first chunk", facts[i].file);
        }
        idfzip_image_free(&img);
        free(png);
    }
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_png_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".png") == 0;
}

/* The *.png files of dir, sorted; returns how many. */
static size_t list_pngs(const char *dir, char ***names_out)
{
    DIR *d = opendir(dir);
    size_t count = 0;
    char **names = NULL;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (!has_png_suffix(e->d_name))
            continue;
        char **grown = (char **)realloc(names, (count + 1) * sizeof *names);
        if (grown == NULL)
            exit(2);
        names = grown;
        names[count] = (char *)xmalloc(strlen(e->d_name) + 1);
        strcpy(names[count++], e->d_name);
    }
    if (d != NULL)
        closedir(d);
    if (count > 1)
        qsort(names, count, sizeof *names, compare_names);
    *names_out = names;
    return count;
}

static void check_suite(const char *dir)
{
    char **names = NULL;
    size_t count = list_pngs(dir, &names);
    CHECK(count >= 35, "only %zu PNG files in %s", count, dir);
    for (size_t i = 0; i < count; i++) {
        char path[4096];
        size_t size = 0;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        uint8_t *png = read_file(path, &size);
        CHECK(png != NULL, "cannot read %s", path);
        if (png != NULL)
            check_suite_file(names[i], png, size);
        free(png);
        free(names[i]);
    }
    free(names);
    check_suite_facts(dir);
}

/* ------------------------------------------------------------------------ */
/* 2. Random images                                                         */
/* ------------------------------------------------------------------------ */

typedef struct combo {
    uint32_t ct, depth;
} combo;

static const combo legal_combos[] = {
    {0, 1}, {0, 2}, {0, 4}, {0, 8}, {0, 16}, {2, 8}, {2, 16},
    {3, 1}, {3, 2}, {3, 4}, {3, 8}, {4, 8}, {4, 16}, {6, 8}, {6, 16},
};

static uint32_t channels_of(uint32_t ct)
{
    return ct == 2 ? 3 : ct == 4 ? 2 : ct == 6 ? 4 : 1;
}

/* Samples of four kinds so that every filter gets its chance: noise,
 * smooth ramps, flat areas with sparse specks, and faint noise (whose
 * frequent a + b == 2c neighbourhoods reach Paeth's tie-breaks). */
static void fill_samples(idfzip_image *img, uint32_t limit, int kind,
                         uint64_t *rng)
{
    size_t n = (size_t)img->width * img->height * img->channels;
    for (size_t i = 0; i < n; i++) {
        size_t pixel = i / img->channels;
        uint32_t x = (uint32_t)(pixel % img->width);
        uint32_t y = (uint32_t)(pixel / img->width);
        uint32_t v;
        if (kind == 0)
            v = test_rand_below(rng, limit);
        else if (kind == 1)
            v = (x * 37u + y * 11u + (uint32_t)(i % img->channels) * 50u +
                 test_rand_below(rng, 3)) % limit;
        else if (kind == 2)
            v = test_rand_below(rng, 16) == 0 ? test_rand_below(rng, limit)
                                              : limit / 2;
        else
            v = (limit / 2 + test_rand_below(rng, 3)) % limit;
        img->samples[i] = (uint16_t)v;
    }
}

static void random_palette(idfzip_image *img, uint32_t max_entries,
                           uint64_t *rng)
{
    img->palette_size = 1 + test_rand_below(rng, max_entries);
    for (uint32_t i = 0; i < 3 * img->palette_size; i++)
        img->palette[i] = (uint8_t)test_rand(rng);
}

/* A tRNS payload of the right shape, values within the bit depth. */
static void random_trns(idfzip_image *img, uint64_t *rng)
{
    uint32_t limit = 1u << (img->bit_depth == 16 ? 16 : img->bit_depth);
    if (img->color_type == IDFZIP_COLOR_PALETTE) {
        img->trns_size = 1 + test_rand_below(rng, img->palette_size);
        for (uint32_t i = 0; i < img->trns_size; i++)
            img->trns[i] = (uint8_t)test_rand(rng);
        return;
    }
    img->trns_size = img->color_type == IDFZIP_COLOR_GRAY ? 2 : 6;
    for (uint32_t i = 0; i < img->trns_size; i += 2) {
        uint32_t v = test_rand_below(rng, limit);
        img->trns[i] = (uint8_t)(v >> 8);
        img->trns[i + 1] = (uint8_t)v;
    }
}

static void set_chunk(idfzip_chunk *c, const char *type, int where,
                      const void *data, uint32_t size)
{
    memcpy(c->type, type, 4);
    c->where = (uint8_t)where;
    c->size = size;
    c->data = (uint8_t *)xmalloc(size);
    if (size > 0)
        memcpy(c->data, data, size);
}

/* A zTXt payload: keyword, NUL, method 0, zlib stream of the text. */
static uint32_t make_ztxt(uint8_t *out, size_t cap)
{
    static const char text[] = "compressed comment, compressed comment.";
    memcpy(out, "Comment\0\0", 9);
    uLongf zlen = (uLongf)(cap - 9);
    if (compress(out + 9, &zlen, (const Bytef *)text, sizeof text - 1) != Z_OK)
        exit(2);
    return (uint32_t)(9 + zlen);
}

/* gAMA before PLTE, tEXt after PLTE (or before IDAT when there is no
 * PLTE: then "before PLTE" is where a reader finds it), a private chunk,
 * an empty one, and zTXt after IDAT. */
static void add_chunks(idfzip_image *img, uint64_t *rng)
{
    static const uint8_t gama[4] = {0, 0, 0xB1, 0x8F};
    static const char text[] = "Title\0random test image";
    uint8_t ztxt[128], priv[40];
    uint32_t priv_size = test_rand_below(rng, sizeof priv + 1);
    for (uint32_t i = 0; i < priv_size; i++)
        priv[i] = (uint8_t)test_rand(rng);
    int before_idat = img->palette_size > 0 ? IDFZIP_CHUNK_BEFORE_IDAT
                                            : IDFZIP_CHUNK_BEFORE_PLTE;
    img->chunk_count = 5;
    img->chunks = (idfzip_chunk *)xmalloc(5 * sizeof(idfzip_chunk));
    set_chunk(&img->chunks[0], "gAMA", IDFZIP_CHUNK_BEFORE_PLTE, gama, 4);
    set_chunk(&img->chunks[1], "tEXt", before_idat, text, sizeof text - 1);
    set_chunk(&img->chunks[2], "prVt", before_idat, priv, priv_size);
    set_chunk(&img->chunks[3], "zTXt", IDFZIP_CHUNK_AFTER_IDAT, ztxt,
              make_ztxt(ztxt, sizeof ztxt));
    set_chunk(&img->chunks[4], "emPt", IDFZIP_CHUNK_AFTER_IDAT, NULL, 0);
}

static void make_random_image(idfzip_image *img, combo c, uint32_t w,
                              uint32_t h, int with_trns, int with_chunks,
                              uint64_t *rng)
{
    memset(img, 0, sizeof *img);
    img->width = w;
    img->height = h;
    img->color_type = c.ct;
    img->bit_depth = c.depth;
    img->channels = channels_of(c.ct);
    img->samples = (uint16_t *)xmalloc((size_t)w * h * img->channels * 2);
    uint32_t limit = 1u << c.depth;
    if (c.ct == IDFZIP_COLOR_PALETTE) {
        random_palette(img, limit < 256 ? limit : 256, rng);
        limit = img->palette_size;
    } else if ((c.ct == 2 || c.ct == 6) && with_chunks) {
        random_palette(img, 256, rng); /* a suggested palette */
    }
    fill_samples(img, limit, (int)test_rand_below(rng, 4), rng);
    if (with_trns)
        random_trns(img, rng);
    if (with_chunks)
        add_chunks(img, rng);
}

/* Filter bytes of the rows of a non-interlaced PNG; counts[5] summed. */
static int count_filters(const uint8_t *png, size_t size,
                         const idfzip_image *img, long counts[5])
{
    tbuf z = {NULL, 0, 0};
    for (int nth = 0;; nth++) {
        size_t at = find_chunk(png, size, "IDAT", nth);
        if (at == 0)
            break;
        tb_put(&z, png + at + 8, rd32(png + at));
    }
    size_t row = ((size_t)img->width * img->channels * img->bit_depth + 7) / 8;
    uLongf raw_size = (uLongf)((row + 1) * img->height);
    uint8_t *raw = (uint8_t *)xmalloc(raw_size);
    int ok = z.p != NULL && uncompress(raw, &raw_size, z.p, z.n) == Z_OK &&
             raw_size == (row + 1) * img->height;
    for (uint32_t y = 0; ok && y < img->height; y++) {
        uint8_t f = raw[y * (row + 1)];
        ok = f <= 4;
        if (ok)
            counts[f]++;
    }
    free(raw);
    free(z.p);
    return ok;
}

static void tb_write_cb(png_structp png, png_bytep data, size_t len)
{
    tb_put((tbuf *)png_get_io_ptr(png), data, len);
}

static void tb_flush_cb(png_structp png)
{
    (void)png;
}

/* Rows as libpng's writer takes them after png_set_packing. */
static uint8_t *unpacked_rows(const idfzip_image *img, png_bytep **rows_out)
{
    size_t n = (size_t)img->width * img->channels;
    size_t bps = img->bit_depth == 16 ? 2 : 1;
    uint8_t *bytes = (uint8_t *)xmalloc(n * bps * img->height);
    png_bytep *rows = (png_bytep *)xmalloc(img->height * sizeof *rows);
    for (size_t i = 0; i < n * img->height; i++) {
        if (bps == 2) {
            bytes[2 * i] = (uint8_t)(img->samples[i] >> 8);
            bytes[2 * i + 1] = (uint8_t)img->samples[i];
        } else {
            bytes[i] = (uint8_t)img->samples[i];
        }
    }
    for (uint32_t y = 0; y < img->height; y++)
        rows[y] = bytes + (size_t)y * n * bps;
    *rows_out = rows;
    return bytes;
}

static void libpng_set_plte_trns(png_structp png, png_infop info,
                                 const idfzip_image *img)
{
    if (img->palette_size > 0) {
        png_color colors[256];
        for (uint32_t i = 0; i < img->palette_size; i++) {
            colors[i].red = img->palette[3 * i];
            colors[i].green = img->palette[3 * i + 1];
            colors[i].blue = img->palette[3 * i + 2];
        }
        png_set_PLTE(png, info, colors, (int)img->palette_size);
    }
    if (img->trns_size == 0)
        return;
    if (img->color_type == IDFZIP_COLOR_PALETTE) {
        png_set_tRNS(png, info, img->trns, (int)img->trns_size, NULL);
        return;
    }
    png_color_16 key;
    memset(&key, 0, sizeof key);
    const uint8_t *t = img->trns;
    key.gray = (png_uint_16)((t[0] << 8) | t[1]);
    if (img->trns_size == 6) {
        key.red = key.gray;
        key.green = (png_uint_16)((t[2] << 8) | t[3]);
        key.blue = (png_uint_16)((t[4] << 8) | t[5]);
    }
    png_set_tRNS(png, info, NULL, 1, &key);
}

/* The same image written by libpng itself (no ancillary chunks). */
static int libpng_encode(const idfzip_image *img, int interlace, tbuf *out)
{
    png_bytep *rows = NULL;
    uint8_t *bytes = unpacked_rows(img, &rows);
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
    int ok = 0;
    if (info != NULL && setjmp(png_jmpbuf(png)) == 0) {
        png_set_write_fn(png, out, tb_write_cb, tb_flush_cb);
        png_set_IHDR(png, info, img->width, img->height, (int)img->bit_depth,
                     (int)img->color_type,
                     interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        libpng_set_plte_trns(png, info, img);
        png_write_info(png, info);
        if (img->bit_depth < 8)
            png_set_packing(png);
        png_write_image(png, rows);
        png_write_end(png, NULL);
        ok = 1;
    }
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(bytes);
    return ok;
}

/* Our reader on libpng's output, interlaced and not, must give back img
 * (whose chunks libpng did not write). */
static void check_against_libpng(const idfzip_image *img, const char *what,
                                 const uint8_t *ours, size_t ours_size)
{
    idfzip_image bare = *img;
    bare.chunk_count = 0;
    bare.chunks = NULL;
    for (int interlace = 0; interlace <= 1; interlace++) {
        tbuf b = {NULL, 0, 0};
        idfzip_image back;
        CHECK(libpng_encode(img, interlace, &b), "%s: libpng write", what);
        int st = idfzip_png_decode(b.p, b.n, 0, &back);
        CHECK(st == IDFZIP_OK && idfzip_image_equal(&bare, &back),
              "%s: libpng-written (interlace %d) decodes differently (%d)",
              what, interlace, st);
        if (!interlace && img->chunk_count == 0)
            CHECK(renders_equal(ours, ours_size, b.p, b.n, img->bit_depth == 16),
                  "%s: our file and libpng's render differently", what);
        idfzip_image_free(&back);
        free(b.p);
    }
}

static void check_random_case(const idfzip_image *img, const char *what,
                              long filters[2][5])
{
    uint8_t *png = NULL;
    size_t size = 0;
    idfzip_image back;
    int st = idfzip_png_encode(img, &png, &size);
    CHECK(st == IDFZIP_OK, "%s: encode %d", what, st);
    if (st != IDFZIP_OK)
        return;
    st = idfzip_png_decode(png, size, 0, &back);
    CHECK(st == IDFZIP_OK, "%s: decode %d", what, st);
    CHECK(idfzip_image_equal(img, &back), "%s: round trip differs", what);
    CHECK(libpng_warnings(png, size) == 0, "%s: libpng objects", what);
    int adaptive = img->color_type != IDFZIP_COLOR_PALETTE && img->bit_depth >= 8;
    CHECK(count_filters(png, size, img, filters[adaptive]), "%s: filters", what);
    check_against_libpng(img, what, png, size);
    idfzip_image_free(&back);
    idfzip_free(png);
}

static void check_random_images(void)
{
    static const uint32_t sizes[4][2] = {{1, 1}, {1, 7}, {7, 1}, {33, 17}};
    uint64_t rng = 12345;
    long filters[2][5] = {{0}}; /* [adaptive][filter type] */
    for (size_t c = 0; c < sizeof legal_combos / sizeof legal_combos[0]; c++) {
        combo k = legal_combos[c];
        int trns_allowed = k.ct == 0 || k.ct == 2 || k.ct == 3;
        for (int s = 0; s < 4; s++)
            for (int trns = 0; trns <= trns_allowed; trns++)
                for (int chunks = 0; chunks <= 1; chunks++) {
                    idfzip_image img;
                    char what[96];
                    snprintf(what, sizeof what, "ct%u d%u %ux%u trns%d chunks%d",
                             k.ct, k.depth, sizes[s][0], sizes[s][1], trns, chunks);
                    make_random_image(&img, k, sizes[s][0], sizes[s][1], trns,
                                      chunks, &rng);
                    check_random_case(&img, what, filters);
                    idfzip_image_free(&img);
                }
    }
    for (int f = 1; f <= 4; f++)
        CHECK(filters[0][f] == 0, "filter %d used on a palette/sub-byte image", f);
    for (int f = 0; f <= 4; f++)
        CHECK(filters[1][f] > 0, "filter %d never chosen", f);
}

/* ------------------------------------------------------------------------ */
/* 3. Bad, hostile and out-of-spec inputs                                   */
/* ------------------------------------------------------------------------ */

static void expect_decode(const uint8_t *png, size_t size, uint64_t max_pixels,
                          int want, const char *what)
{
    idfzip_image img;
    memset(&img, 0x5A, sizeof img); /* garbage in: must come back clean */
    int st = idfzip_png_decode(png, size, max_pixels, &img);
    CHECK(st == want, "%s: got %d, want %d", what, st, want);
    if (st != IDFZIP_OK)
        CHECK(image_is_zero(&img), "%s: image not left empty", what);
    idfzip_image_free(&img);
}

/* A valid 33x17 RGB image with a chunk before and after IDAT. */
static uint8_t *sample_png(size_t *size)
{
    uint64_t rng = 99;
    idfzip_image img;
    combo rgb = {2, 8};
    make_random_image(&img, rgb, 33, 17, 1, 1, &rng);
    uint8_t *png = NULL;
    if (idfzip_png_encode(&img, &png, size) != IDFZIP_OK)
        exit(2);
    idfzip_image_free(&img);
    return png;
}

static void check_truncations(const uint8_t *png, size_t size)
{
    expect_decode(NULL, 0, 0, IDFZIP_ERR_PNG, "NULL buffer");
    expect_decode(png, 0, 0, IDFZIP_ERR_PNG, "empty buffer");
    expect_decode(png, 8, 0, IDFZIP_ERR_PNG, "signature only");
    expect_decode(png, size, 0, IDFZIP_OK, "intact file");
    for (int i = 0; i < 20; i++) {
        char what[64];
        size_t len = 8 + (size - 9) * (size_t)i / 19; /* 8 .. size-1 */
        snprintf(what, sizeof what, "truncated at %zu of %zu", len, size);
        expect_decode(png, len, 0, IDFZIP_ERR_PNG, what);
    }
}

/* Flipped bits under the original CRC, in IDAT and in an ancillary chunk
 * (libpng would only warn about the latter, but the copy would then carry
 * unchecked bytes). */
static void check_bit_flips(const uint8_t *png, size_t size, uint8_t *copy)
{
    size_t idat = find_chunk(png, size, "IDAT", 0);
    uint32_t idat_len = rd32(png + idat);
    size_t spots[5] = {idat + 8, idat + 9, idat + 8 + idat_len / 2,
                       idat + 8 + idat_len - 1, idat + 8 + idat_len + 2};
    for (int i = 0; i < 5; i++) {
        char what[64];
        memcpy(copy, png, size);
        copy[spots[i]] ^= (uint8_t)(1u << (i % 8));
        snprintf(what, sizeof what, "IDAT bit flip %d", i);
        expect_decode(copy, size, 0, IDFZIP_ERR_PNG, what);
    }
    memcpy(copy, png, size);
    copy[find_chunk(png, size, "gAMA", 0) + 9] ^= 1;
    expect_decode(copy, size, 0, IDFZIP_ERR_PNG, "gAMA bit flip");
}

/* Corrupt deflate data under a matching CRC: must fail or decode, not
 * crash (a late flip may only hit the Adler-32 that libpng forgives). */
static void check_zlib_damage(const uint8_t *png, size_t size, uint8_t *copy)
{
    size_t idat = find_chunk(png, size, "IDAT", 0);
    uint32_t idat_len = rd32(png + idat);
    for (uint32_t off = 0; off < idat_len; off += 7) {
        idfzip_image img;
        memcpy(copy, png, size);
        copy[idat + 8 + off] ^= 0x10;
        uLong crc = crc32(crc32(0L, copy + idat + 4, 4), copy + idat + 8, idat_len);
        be32(copy + idat + 8 + idat_len, (uint32_t)crc);
        int st = idfzip_png_decode(copy, size, 0, &img);
        CHECK(st == IDFZIP_OK || st == IDFZIP_ERR_PNG, "zlib flip at %u: %d",
              off, st);
        idfzip_image_free(&img);
    }
}

static void check_damaged_files(void)
{
    size_t size = 0;
    uint8_t *png = sample_png(&size);
    uint8_t *copy = (uint8_t *)xmalloc(size);
    check_truncations(png, size);
    check_bit_flips(png, size, copy);
    check_zlib_damage(png, size, copy);
    free(copy);
    idfzip_free(png);
}

/* IDAT of all-zero scanlines for a w x h image of bits_per_px. */
static void tb_zero_idat(tbuf *b, uint32_t w, uint32_t h, uint32_t bits_per_px)
{
    size_t row = ((size_t)w * bits_per_px + 7) / 8 + 1;
    uint8_t *raw = (uint8_t *)calloc(row * h, 1);
    if (raw == NULL)
        exit(2);
    tb_idat(b, raw, row * h, 1 << 20);
    free(raw);
}

static void check_limits(void)
{
    tbuf b = {NULL, 0, 0};
    /* A header claiming 1e10 pixels, followed by a token IDAT. */
    static const uint8_t token[2] = {0x78, 0x9c};
    tb_begin(&b, 100000, 100000, 8, 0, 0);
    tb_chunk(&b, "IDAT", token, 2);
    tb_chunk(&b, "IEND", NULL, 0);
    expect_decode(b.p, b.n, 0, IDFZIP_ERR_LIMIT, "100000x100000");
    expect_decode(b.p, b.n, 1u << 20, IDFZIP_ERR_LIMIT, "100000x100000, 1 MP");
    /* The limit is inclusive: 33x17 = 561 pixels. */
    tb_begin(&b, 33, 17, 8, 0, 0);
    tb_zero_idat(&b, 33, 17, 8);
    tb_chunk(&b, "IEND", NULL, 0);
    expect_decode(b.p, b.n, 561, IDFZIP_OK, "561 pixels, limit 561");
    expect_decode(b.p, b.n, 560, IDFZIP_ERR_LIMIT, "561 pixels, limit 560");
    /* Ancillary data beyond the 64 MiB copy limit. */
    size_t huge = ((size_t)64 << 20) + 1;
    uint8_t *blob = (uint8_t *)calloc(huge, 1);
    if (blob == NULL)
        exit(2);
    tb_begin(&b, 33, 17, 8, 0, 0);
    tb_chunk(&b, "huGe", blob, (uint32_t)huge);
    free(blob);
    tb_zero_idat(&b, 33, 17, 8);
    tb_chunk(&b, "IEND", NULL, 0);
    expect_decode(b.p, b.n, 0, IDFZIP_ERR_LIMIT, "65 MiB of ancillary chunks");
    /* Wider than libpng's default 1e6 limit but within ours. */
    tb_begin(&b, 1500000, 1, 1, 0, 0);
    tb_zero_idat(&b, 1500000, 1, 1);
    tb_chunk(&b, "IEND", NULL, 0);
    expect_decode(b.p, b.n, 0, IDFZIP_OK, "1500000x1");
    free(b.p);
}

/* 4x1 palette image, depth 8, indices `pix`, PLTE of `entries` entries. */
static void tb_palette_image(tbuf *b, const uint8_t pix[4], uint32_t entries,
                             int depth)
{
    uint8_t plte[3 * 256] = {0};
    uint8_t raw[5] = {0, 0, 0, 0, 0};
    tb_begin(b, 4, 1, depth, 3, 0);
    tb_chunk(b, "PLTE", plte, 3 * entries);
    if (depth == 8)
        memcpy(raw + 1, pix, 4);
    else /* depth 2: all four in one byte */
        raw[1] = (uint8_t)(pix[0] << 6 | pix[1] << 4 | pix[2] << 2 | pix[3]);
    tb_idat(b, raw, depth == 8 ? 5 : 2, 1 << 20);
}

/* PLTE problems: an index past the palette, a palette too long for the
 * depth (libpng would trim it). */
static void check_bad_palettes(tbuf *b)
{
    static const uint8_t in_range[4] = {0, 1, 1, 0}, past_end[4] = {0, 1, 2, 0};
    tb_palette_image(b, in_range, 2, 8);
    tb_chunk(b, "IEND", NULL, 0);
    expect_decode(b->p, b->n, 0, IDFZIP_OK, "palette indices in range");
    tb_palette_image(b, past_end, 2, 8);
    tb_chunk(b, "IEND", NULL, 0);
    expect_decode(b->p, b->n, 0, IDFZIP_ERR_PNG, "palette index past PLTE");
    tb_palette_image(b, in_range, 5, 2); /* 5 entries at depth 2 */
    tb_chunk(b, "IEND", NULL, 0);
    expect_decode(b->p, b->n, 0, IDFZIP_ERR_PNG, "PLTE longer than 2^depth");
}

/* A 4x1 image of colour type ct with the given tRNS chunks (and a
 * one-entry PLTE for palette images). */
static void tb_trns_image(tbuf *b, int ct, const uint8_t *trns, uint32_t len,
                          int copies)
{
    static const uint8_t one_entry[3] = {0, 0, 0};
    tb_begin(b, 4, 1, 8, ct, 0);
    if (ct == 3)
        tb_chunk(b, "PLTE", one_entry, 3);
    for (int i = 0; i < copies; i++)
        tb_chunk(b, "tRNS", trns, len);
    tb_zero_idat(b, 4, 1, ct == 6 ? 32 : 8);
    tb_chunk(b, "IEND", NULL, 0);
}

/* tRNS: duplicated; too long for the palette; wrong length for grey;
 * present in an alpha image.  libpng drops each with a warning. */
static void check_bad_trns(tbuf *b)
{
    static const uint8_t bytes[3] = {255, 0, 0};
    tb_trns_image(b, 3, bytes, 1, 2);
    expect_decode(b->p, b->n, 0, IDFZIP_ERR_PNG, "duplicate tRNS");
    tb_trns_image(b, 3, bytes, 2, 1);
    expect_decode(b->p, b->n, 0, IDFZIP_ERR_PNG, "tRNS longer than PLTE");
    tb_trns_image(b, 0, bytes, 3, 1);
    expect_decode(b->p, b->n, 0, IDFZIP_ERR_PNG, "grey tRNS of 3 bytes");
    tb_trns_image(b, 6, bytes, 2, 1);
    expect_decode(b->p, b->n, 0, IDFZIP_ERR_PNG, "tRNS in an RGBA image");
    /* An out-of-range grey tRNS value is only a libpng warning: kept raw. */
    tb_begin(b, 4, 1, 2, 0, 0);
    tb_chunk(b, "tRNS", "\x12\x34", 2);
    tb_zero_idat(b, 4, 1, 2);
    tb_chunk(b, "IEND", NULL, 0);
    idfzip_image img;
    int st = idfzip_png_decode(b->p, b->n, 0, &img);
    CHECK(st == IDFZIP_OK && img.trns_size == 2 && img.trns[0] == 0x12 &&
              img.trns[1] == 0x34,
          "raw grey tRNS kept (%d)", st);
    idfzip_image_free(&img);
}

static void check_out_of_spec(void)
{
    tbuf b = {NULL, 0, 0};
    check_bad_palettes(&b);
    check_bad_trns(&b);
    free(b.p);
}

/* Four 8-pixel grey rows, filter 0, sample (x, y) = byte y*9 + 1 + x. */
static void odd_structure_rows(uint8_t raw[36])
{
    for (size_t i = 0; i < 36; i++)
        raw[i] = i % 9 == 0 ? 0 : (uint8_t)(i * 7);
}

/* IDAT split into one-byte chunks, an empty IDAT, a private chunk after
 * IDAT, and junk after IEND: all fine. */
static void check_odd_but_valid(tbuf *b)
{
    static const uint8_t note[3] = {'a', 'b', 'c'};
    uint8_t raw[36];
    odd_structure_rows(raw);
    tb_begin(b, 8, 4, 8, 0, 0);
    tb_chunk(b, "IDAT", NULL, 0);
    tb_idat(b, raw, sizeof raw, 1);
    tb_chunk(b, "prVt", note, 3);
    tb_chunk(b, "IEND", NULL, 0);
    tb_put(b, "trailing junk", 13);
    idfzip_image img;
    int st = idfzip_png_decode(b->p, b->n, 0, &img);
    CHECK(st == IDFZIP_OK, "split IDAT: %d", st);
    if (st == IDFZIP_OK) {
        CHECK(img.samples[1] == (uint8_t)(2 * 7) &&
                  img.samples[8] == (uint8_t)(10 * 7) &&
                  img.samples[31] == (uint8_t)(35 * 7),
              "split IDAT pixels");
        CHECK(img.chunk_count == 1 && img.chunks[0].where == IDFZIP_CHUNK_AFTER_IDAT &&
                  img.chunks[0].size == 3 && memcmp(img.chunks[0].data, "abc", 3) == 0,
              "private chunk after IDAT");
    }
    idfzip_image_free(&img);
}

/* Unknown critical chunk, impossible chunk lengths, no IEND. */
static void check_broken_structure(tbuf *b)
{
    static const uint8_t note[3] = {'a', 'b', 'c'};
    uint8_t raw[36];
    odd_structure_rows(raw);
    tb_begin(b, 8, 4, 8, 0, 0);
    tb_chunk(b, "CRIT", note, 3);
    tb_idat(b, raw, sizeof raw, 1 << 20);
    tb_chunk(b, "IEND", NULL, 0);
    expect_decode(b->p, b->n, 0, IDFZIP_ERR_PNG, "unknown critical chunk");
    tb_begin(b, 8, 4, 8, 0, 0);
    tb_chunk(b, "teXt", note, 3);
    tb_idat(b, raw, sizeof raw, 1 << 20);
    tb_chunk(b, "IEND", NULL, 0);
    size_t at = find_chunk(b->p, b->n, "teXt", 0);
    be32(b->p + at, 0x80000003u);
    expect_decode(b->p, b->n, 0, IDFZIP_ERR_PNG, "chunk length 2^31+3");
    be32(b->p + at, 1000);
    expect_decode(b->p, b->n, 0, IDFZIP_ERR_PNG, "chunk length past the end");
    tb_begin(b, 8, 4, 8, 0, 0);
    tb_idat(b, raw, sizeof raw, 1 << 20);
    expect_decode(b->p, b->n, 0, IDFZIP_ERR_PNG, "missing IEND");
}

static void check_odd_structure(void)
{
    tbuf b = {NULL, 0, 0};
    check_odd_but_valid(&b);
    check_broken_structure(&b);
    free(b.p);
}

/* ------------------------------------------------------------------------ */
/* 4. The writer refuses impossible images                                  */
/* ------------------------------------------------------------------------ */

static void expect_write_refused(const idfzip_image *img, const char *what)
{
    uint8_t *out = (uint8_t *)&out; /* must be reset to NULL */
    size_t size = 1;
    int st = idfzip_png_encode(img, &out, &size);
    CHECK(st == IDFZIP_ERR_ARG && out == NULL && size == 0, "%s: got %d", what, st);
    if (st == IDFZIP_OK)
        idfzip_free(out);
}

/* Each REFUSE changes one thing in a valid image, expects the writer to
 * refuse it, then restores the struct and the two samples it may touch. */
static void check_writer_refusals_header(idfzip_image *img)
{
    const idfzip_image saved = *img;
    const uint16_t s3 = img->samples[3], s5 = img->samples[5];
#define REFUSE(stmt, what)                 \
    do {                                   \
        stmt;                              \
        expect_write_refused(img, what);   \
        *img = saved;                      \
        img->samples[3] = s3;              \
        img->samples[5] = s5;              \
    } while (0)
    REFUSE(img->width = 0, "width 0");
    REFUSE(img->height = 0, "height 0");
    REFUSE(img->width = 0x80000000u, "width 2^31");
    REFUSE(img->bit_depth = 3, "depth 3");
    REFUSE(img->bit_depth = 16, "palette depth 16");
    REFUSE(img->color_type = 1, "colour type 1");
    REFUSE(img->color_type = 5, "colour type 5");
    REFUSE(img->color_type = 7, "colour type 7");
    REFUSE((img->color_type = 2, img->channels = 3, img->bit_depth = 4),
           "RGB depth 4");
    REFUSE(img->channels = 2, "palette with 2 channels");
    REFUSE(img->samples = NULL, "NULL samples");
    REFUSE(img->palette_size = 0, "palette image without PLTE");
    REFUSE(img->palette_size = 17, "PLTE longer than 2^4");
    REFUSE(img->palette_size = 257, "PLTE of 257");
    REFUSE(img->samples[5] = (uint16_t)img->palette_size, "index past PLTE");
    REFUSE(img->samples[5] = 16, "index past 2^depth");
    REFUSE(img->trns_size = img->palette_size + 1, "tRNS longer than PLTE");
    REFUSE((img->color_type = 0, img->palette_size = 0, img->trns_size = 0,
            img->samples[3] = 16), "grey sample 16 at depth 4");
    REFUSE((img->color_type = 0, img->trns_size = 0), "grey with PLTE");
    REFUSE((img->color_type = 0, img->palette_size = 0, img->trns_size = 3),
           "grey tRNS of 3");
    REFUSE((img->color_type = 4, img->channels = 2, img->bit_depth = 8,
            img->palette_size = 0, img->trns_size = 0, img->width /= 2,
            img->trns_size = 2), "grey+alpha with tRNS");
#undef REFUSE
}

static void check_writer_refusals_chunks(idfzip_image *img)
{
    const idfzip_image saved = *img;
    idfzip_chunk *c = &img->chunks[0];
    const idfzip_chunk saved_chunk = *c;
#define REFUSE_CHUNK(stmt, what)           \
    do {                                   \
        stmt;                              \
        expect_write_refused(img, what);   \
        *c = saved_chunk;                  \
        *img = saved;                      \
    } while (0)
    REFUSE_CHUNK(memcpy(c->type, "IDAT", 4), "critical chunk type");
    REFUSE_CHUNK(memcpy(c->type, "tRNS", 4), "tRNS as a chunk");
    REFUSE_CHUNK(memcpy(c->type, "a1cd", 4), "non-letter chunk type");
    REFUSE_CHUNK(c->where = 3, "where 3");
    REFUSE_CHUNK(c->data = NULL, "chunk data NULL");
    REFUSE_CHUNK(c->size = 0x80000000u, "chunk of 2^31 bytes");
    REFUSE_CHUNK(img->chunks = NULL, "chunk_count without chunks");
#undef REFUSE_CHUNK
}

static void check_writer_refusals(void)
{
    uint64_t rng = 7;
    idfzip_image img;
    combo pal4 = {3, 4};
    make_random_image(&img, pal4, 6, 5, 1, 1, &rng);
    /* 12 of 16 possible entries, so "past PLTE" and "past 2^depth" differ */
    img.palette_size = 12;
    img.trns_size = 5;
    for (size_t i = 0; i < 30; i++)
        img.samples[i] %= 12;
    uint8_t *out = NULL;
    size_t size = 0;
    CHECK(idfzip_png_encode(&img, &out, &size) == IDFZIP_OK, "base image");
    idfzip_free(out);
    CHECK(idfzip_png_encode(NULL, &out, &size) == IDFZIP_ERR_ARG, "NULL img");
    CHECK(idfzip_png_encode(&img, NULL, &size) == IDFZIP_ERR_ARG, "NULL out");
    CHECK(idfzip_png_encode(&img, &out, NULL) == IDFZIP_ERR_ARG, "NULL size");
    check_writer_refusals_header(&img);
    check_writer_refusals_chunks(&img);
    idfzip_image_free(&img);
    CHECK(image_is_zero(&img), "idfzip_image_free zeroes the struct");
    idfzip_image_free(&img); /* twice is harmless */
    idfzip_image_free(NULL);
    idfzip_free(NULL);
}

static void check_chunk_rules(void)
{
    CHECK(png_io_chunk_is_copied("gAMA"), "gAMA copied");
    CHECK(png_io_chunk_is_copied("prVt"), "private chunk copied");
    CHECK(!png_io_chunk_is_copied("tRNS"), "tRNS not copied");
    CHECK(!png_io_chunk_is_copied("PLTE"), "PLTE not copied");
    CHECK(!png_io_chunk_is_copied("IDAT"), "IDAT not copied");
    CHECK(!png_io_chunk_is_copied("a1cd"), "non-letters not copied");
    CHECK(!png_io_chunk_is_copied(NULL), "NULL not copied");
}

/* png_deflate: data deflated in pieces on 1, 2 and 5 threads gives one
 * valid zlib stream, the same bytes for every thread count, for data
 * libdeflate stores (random), codes to almost nothing (zeros) and codes
 * as usual (a noisy ramp). */
static void check_deflate_pieces(void)
{
    CHECK(png_deflate_pieces(PNG_DEFLATE_PIECE_MIN - 1) == 1 && png_deflate_pieces(0) == 1 &&
              png_deflate_pieces(2 * PNG_DEFLATE_PIECE_MIN + 5) == 2 &&
              png_deflate_pieces((size_t)1 << 40) == PNG_DEFLATE_MAX_PIECES,
          "piece counts");
    const size_t n = 5 * PNG_DEFLATE_PIECE_MIN + 7;
    uint8_t *data = xmalloc(n), *back = xmalloc(n);
    uint64_t rng = 99;
    for (int kind = 0; kind < 3; kind++) {
        for (size_t i = 0; i < n; i++)
            data[i] = kind == 0 ? (uint8_t)test_rand(&rng)
                                : kind == 1 ? 0 : (uint8_t)(i / 4096 + test_rand_below(&rng, 3));
        uint8_t *first = NULL;
        size_t first_size = 0;
        for (int threads = 1; threads <= 5; threads += threads == 1 ? 1 : 3) {
            uint8_t *z = NULL;
            size_t size = 0;
            int st = png_deflate(data, n, threads, &z, &size);
            CHECK(st == IDFZIP_OK, "deflate kind %d, %d threads: %d", kind, threads, st);
            if (st != IDFZIP_OK)
                continue;
            uLongf got = (uLongf)n;
            int zst = uncompress(back, &got, z, (uLong)size);
            CHECK(zst == Z_OK && got == n && memcmp(back, data, n) == 0,
                  "deflate kind %d, %d threads: zlib reads %d, %lu bytes", kind, threads, zst,
                  (unsigned long)got);
            if (!first)
                first = z, first_size = size;
            else
                CHECK(size == first_size && memcmp(z, first, size) == 0,
                      "deflate kind %d: %d threads wrote other bytes", kind, threads);
            if (z != first)
                free(z);
        }
        free(first);
    }
    free(data);
    free(back);
}

/* A PNG large enough to be deflated in pieces: the same file from 1 and 3
 * threads, read back exactly, and libpng reads it without a word. */
static void check_png_in_pieces(void)
{
    idfzip_image img;
    uint64_t rng = 7;
    make_random_image(&img, (combo){IDFZIP_COLOR_RGB, 8}, 1000, 400, 0, 0, &rng);
    uint8_t *one = NULL, *three = NULL;
    size_t one_size = 0, three_size = 0;
    int st = png_io_write(&img, 1, &one, &one_size);
    CHECK(st == IDFZIP_OK && png_io_write(&img, 3, &three, &three_size) == IDFZIP_OK,
          "write in pieces: %d", st);
    CHECK(png_deflate_pieces((size_t)400 * (1 + 3 * 1000)) == 2, "the image makes 2 pieces");
    if (one && three) {
        CHECK(one_size == three_size && memcmp(one, three, one_size) == 0,
              "1 and 3 threads write other bytes");
        idfzip_image back;
        st = idfzip_png_decode(three, three_size, 0, &back);
        CHECK(st == IDFZIP_OK && idfzip_image_equal(&img, &back), "pieces read back: %d", st);
        CHECK(libpng_warnings(three, three_size) == 0, "libpng objects to the pieces");
        if (st == IDFZIP_OK)
            idfzip_image_free(&back);
    }
    free(one);
    free(three);
    idfzip_image_free(&img);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PNGSUITE_DIR\n", argv[0]);
        return 2;
    }
    check_chunk_rules();
    check_suite(argv[1]);
    check_random_images();
    check_damaged_files();
    check_limits();
    check_out_of_spec();
    check_odd_structure();
    check_writer_refusals();
    check_deflate_pieces();
    check_png_in_pieces();
    return test_report("png");
}
