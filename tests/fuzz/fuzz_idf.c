/* fuzz_idf.c — libFuzzer target: the .idf decoder on arbitrary bytes.
 *
 * Each input is decoded twice with idfzip_decompress_png (so a file that
 * decodes also goes through the PNG writer): as given, and again after its
 * header, stored-PNG and tile CRCs are recomputed, because a random
 * mutation almost never passes a CRC32 and would otherwise stop at the
 * checksums instead of reaching the PNG reader, the models and the rANS
 * decoder.  Files coded with a flow model decode with the random tiny-grey
 * (one channel) or tiny-rgb model the seeds were made with, files naming
 * tiny-ar or tiny-ar-mix with the random AR prior of that name.  The pixel
 * limit is small so that a hostile header cannot make one input slow.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_util.h"

#define IDF_FIXED_SIZE 22 /* magic, version .. reserved, width, height */

static fuzz_model grey_model, rgb_model, ar_model, ar_mix_model;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    grey_model = fuzz_build_model("tiny-grey");
    rgb_model = fuzz_build_model("tiny-rgb");
    ar_model = fuzz_build_model("tiny-ar");
    ar_mix_model = fuzz_build_model("tiny-ar-mix");
    return 0;
}

/* Bounds-checked walk over the header fields (FORMAT.md). */
typedef struct walker {
    const uint8_t *p;
    size_t size, pos;
    int bad;
} walker;

static size_t skip(walker *w, uint64_t n)
{
    size_t at = w->pos;
    if (w->bad || n > w->size - w->pos)
        w->bad = 1;
    else
        w->pos += (size_t)n;
    return at;
}

static uint32_t field(walker *w, unsigned bytes)
{
    size_t at = skip(w, bytes);
    return w->bad ? 0 : fuzz_get_le(w->p + at, bytes);
}

static uint32_t crc_of(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32(0L, p, (uInt)n);
}

static void fix_stored(uint8_t *d, size_t size)
{
    walker w = {d, size, IDF_FIXED_SIZE, 0};
    uint32_t png_size = field(&w, 4);
    size_t png_crc_at = skip(&w, 4);
    skip(&w, 4); /* pixel CRC: only a full decode can know it */
    size_t header_crc_at = skip(&w, 4);
    if (w.bad)
        return;
    if (png_size <= size - w.pos)
        put_le32(d + png_crc_at, crc_of(d + w.pos, png_size));
    put_le32(d + header_crc_at, crc_of(d, header_crc_at));
}

/* Skips the coded header up to the tile table; returns the tile count. */
static uint64_t skip_to_tiles(walker *w)
{
    uint64_t width = fuzz_get_le(w->p + 14, 4), height = fuzz_get_le(w->p + 18, 4);
    skip(w, 16 + 4); /* model name and CRC */
    uint32_t tw = field(w, 2), th = field(w, 2);
    skip(w, 3 * (uint64_t)field(w, 2));
    skip(w, field(w, 2));
    for (uint32_t k = field(w, 2); k > 0 && !w->bad; k--) {
        skip(w, 5);
        skip(w, field(w, 4));
    }
    if (w->bad || tw == 0 || th == 0)
        return 0;
    return ((width + tw - 1) / tw) * ((height + th - 1) / th);
}

static void fix_coded(uint8_t *d, size_t size)
{
    walker w = {d, size, IDF_FIXED_SIZE, 0};
    uint64_t tiles = skip_to_tiles(&w);
    if (tiles == 0 || tiles > size / 8)
        return; /* no room for the tile table (and 8 * tiles cannot wrap) */
    size_t table = skip(&w, 8 * tiles);
    skip(&w, 4); /* pixel CRC */
    size_t header_crc_at = skip(&w, 4);
    if (w.bad)
        return;
    size_t at = w.pos;
    for (uint64_t i = 0; i < tiles; i++) {
        uint32_t n = fuzz_get_le(d + table + 8 * i, 4);
        if (n > size - at)
            break;
        put_le32(d + table + 8 * i + 4, crc_of(d + at, n));
        at += n;
    }
    put_le32(d + header_crc_at, crc_of(d, header_crc_at));
}

/* Any file either fails as a file (never "invalid argument") or decodes
 * to an image the PNG writer accepts. */
static void decode_png(const uint8_t *d, size_t size, const idfzip_options *o)
{
    uint8_t *png = NULL;
    size_t png_size = 0;
    int st = idfzip_decompress_png(d, size, o, &png, &png_size);
    if (st == IDFZIP_ERR_ARG)
        fuzz_fail("a file decodes to an image the PNG writer refuses", st);
    if (st == IDFZIP_OK)
        idfzip_free(png);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    idfzip_options o;
    idfzip_options_init(&o);
    o.max_pixels = FUZZ_MAX_PIXELS;
    const fuzz_model *m = size > 12 && data[12] == 1 ? &grey_model : &rgb_model;
    /* A coded file's model name follows the fixed header, NUL-padded. */
    static const char ar_name[] = "tiny-ar", ar_mix_name[] = "tiny-ar-mix";
    if (size >= IDF_FIXED_SIZE + sizeof ar_name &&
        memcmp(data + IDF_FIXED_SIZE, ar_name, sizeof ar_name) == 0)
        m = &ar_model;
    if (size >= IDF_FIXED_SIZE + sizeof ar_mix_name &&
        memcmp(data + IDF_FIXED_SIZE, ar_mix_name, sizeof ar_mix_name) == 0)
        m = &ar_mix_model;
    o.model = m->bytes;
    o.model_size = m->size;
    idfzip_info info;
    idfzip_get_info(data, size, &info);
    decode_png(data, size, &o);
    if (size < IDF_FIXED_SIZE || data[9] > 1)
        return 0;
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (copy[9] == 1)
        fix_stored(copy, size);
    else
        fix_coded(copy, size);
    o.threads = 2; /* the threaded tile path, on hostile tiles */
    decode_png(copy, size, &o);
    free(copy);
    return 0;
}
