/* fuzz_idf.c — libFuzzer target: the .idf decoder on arbitrary bytes.
 *
 * Each input is decoded twice with idfzip_decompress_png (so a file that
 * decodes also goes through the PNG writer): as given, and again after its
 * CRCs are recomputed (version 1: header, stored-PNG and tile CRCs;
 * versions 2 and 3: the file CRC), because a random
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
#include "../../codec/png_rules.h"
#include "../../model/registry.h"

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

/* ---- versions 2 and 3 (FORMAT.md) ---- */

static uint32_t varint(walker *w)
{
    uint32_t v = 0;
    for (unsigned shift = 0; shift < 35; shift += 7) {
        size_t at = skip(w, 1);
        if (w->bad)
            return 0;
        v |= (uint32_t)(w->p[at] & 0x7f) << shift;
        if (!(w->p[at] & 0x80))
            return v;
    }
    w->bad = 1;
    return 0;
}

/* Version 3's sample map: flags, a sent palette order, and when scaled,
 * depth and scales. */
static void skip_sample_map(walker *w, uint32_t channels, uint32_t entries)
{
    uint32_t flags = field(w, 1);
    if (flags & 4)
        skip(w, entries);
    if (!(flags & 2))
        return;
    skip(w, 1);
    for (uint32_t k = 0; k < channels && !w->bad; k++)
        varint(w);
}

/* The coded fields after width and height, up to the pixel CRC. */
static void skip_coded_v2(walker *w, uint32_t version, uint32_t channels, uint64_t width,
                          uint64_t height)
{
    uint64_t tw = 0, th = 0;
    uint32_t id = field(w, 1);
    const model_number *n = model_number_by_id(id);
    if (n) {
        tw = n->tile_width, th = n->tile_height;
    } else if (id == 0) {
        skip(w, field(w, 1) + 4);
        tw = varint(w), th = varint(w);
    }
    uint32_t entries = varint(w); /* the palette: raw, or (v3) packed */
    if (version >= 3 && entries > 0)
        skip(w, field(w, 1) == 0 ? 3 * (uint64_t)entries : varint(w));
    else
        skip(w, 3 * (uint64_t)entries);
    skip(w, varint(w));
    if (version >= 3)
        skip_sample_map(w, channels, entries);
    for (uint32_t k = varint(w); k > 0 && !w->bad; k--) {
        skip(w, 5);
        skip(w, varint(w));
    }
    if (tw == 0 || th == 0) {
        w->bad = 1;
        return;
    }
    uint64_t tiles = ((width + tw - 1) / tw) * ((height + th - 1) / th);
    if (tiles > w->size)
        w->bad = 1; /* at least a byte per tile */
    for (uint64_t i = 0; i < tiles && !w->bad; i++)
        varint(w);
}

static void fix_v2(uint8_t *d, size_t size)
{
    walker w = {d, size, 9, 0};
    uint32_t mode = field(&w, 1);
    uint32_t channels = png_channels_of_color_type(field(&w, 1));
    skip(&w, 1);
    uint64_t width = varint(&w), height = varint(&w);
    if (mode == 1)
        varint(&w);
    else
        skip_coded_v2(&w, d[8], channels, width, height);
    skip(&w, 4); /* pixel CRC */
    size_t crc_at = skip(&w, 4);
    if (w.bad)
        return;
    uLong crc = crc32(0L, d, (uInt)crc_at);
    crc = crc32(crc, d + crc_at + 4, (uInt)(size - crc_at - 4));
    put_le32(d + crc_at, (uint32_t)crc);
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
    /* The model a coded file names: version 1 after the fixed header,
     * NUL-padded; versions 2 and 3 (number 0) after width and height, its
     * length first.  Grey files (colour type 0) get the grey flow. */
    int v2 = size > 12 && (data[8] == 2 || data[8] == 3);
    int grey = v2 ? data[10] == 0 : size > 12 && data[12] == 1;
    const fuzz_model *m = grey ? &grey_model : &rgb_model;
    const uint8_t *name = NULL;
    size_t name_len = 0;
    if (!v2 && size >= IDF_FIXED_SIZE + 16) {
        name = data + IDF_FIXED_SIZE;
        name_len = 16;
    } else if (v2) {
        walker w = {data, size, 12, 0};
        varint(&w);
        varint(&w);
        if (field(&w, 1) == 0) {
            name_len = field(&w, 1);
            size_t at = skip(&w, name_len);
            name = w.bad ? NULL : data + at;
        }
    }
    static const char ar_name[] = "tiny-ar", ar_mix_name[] = "tiny-ar-mix";
    if (name && name_len >= sizeof ar_name - 1 && memcmp(name, ar_name, sizeof ar_name - 1) == 0 &&
        (name_len == sizeof ar_name - 1 || name[sizeof ar_name - 1] == 0))
        m = &ar_model;
    if (name && name_len >= sizeof ar_mix_name - 1 &&
        memcmp(name, ar_mix_name, sizeof ar_mix_name - 1) == 0 &&
        (name_len == sizeof ar_mix_name - 1 || name[sizeof ar_mix_name - 1] == 0))
        m = &ar_mix_model;
    o.model = m->bytes;
    o.model_size = m->size;
    idfzip_info info;
    idfzip_get_info(data, size, &info);
    decode_png(data, size, &o);
    if (!v2 && (size < IDF_FIXED_SIZE || data[9] > 1))
        return 0;
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (v2)
        fix_v2(copy, size);
    else if (copy[9] == 1)
        fix_stored(copy, size);
    else
        fix_coded(copy, size);
    o.threads = 2; /* the threaded tile path, on hostile tiles */
    decode_png(copy, size, &o);
    free(copy);
    return 0;
}
