/* fuzz_image.h — the compress/decompress round trip shared by fuzz_roundtrip
 * and fuzz_flow: a small image derived from the fuzzer's bytes, coded with
 * the model forced and with the default choice (which may store a PNG),
 * must decode to exactly the same image.
 *
 * Input layout, byte by byte (bytes past the end come from a fixed
 * generator, so short inputs still make whole images):
 *   kind (index into the caller's kinds), width - 1, height - 1 (mod 48),
 *   flags: bit 0 tRNS, bit 1 suggested palette (RGB/RGBA), bit 2 smooth
 *   samples, bit 3 ancillary chunks, bits 4-5 how many (0-3);
 *   then palette size and entries, tRNS, chunks, and the samples: as given
 *   (noise) or, smooth, as signed steps from the previous sample, so that
 *   model coding beats storing the PNG and both paths get exercised.
 */
#ifndef IDFZIP_FUZZ_IMAGE_H
#define IDFZIP_FUZZ_IMAGE_H

#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

#define FUZZ_MAX_SIDE 48

typedef struct fuzz_kind {
    uint32_t color, depth, channels;
} fuzz_kind;

typedef struct byte_source {
    const uint8_t *p;
    size_t size, pos;
    uint64_t state;
} byte_source;

static inline uint32_t next_byte(byte_source *s)
{
    if (s->pos < s->size)
        return s->p[s->pos++];
    s->state = s->state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(s->state >> 56);
}

static inline uint32_t next_u16(byte_source *s)
{
    uint32_t hi = next_byte(s);
    return hi << 8 | next_byte(s);
}

enum { FUZZ_TRNS = 1, FUZZ_PALETTE = 2, FUZZ_SMOOTH = 4, FUZZ_CHUNK = 8 };

static inline void fuzz_palette(byte_source *s, uint32_t flags, idfzip_image *img)
{
    uint32_t max_entries = img->color_type == IDFZIP_COLOR_PALETTE ? 1u << img->bit_depth : 256;
    int wanted = img->color_type == IDFZIP_COLOR_PALETTE ||
                 ((flags & FUZZ_PALETTE) && img->channels >= 3);
    img->palette_size = wanted ? 1 + next_byte(s) % max_entries : 0;
    for (uint32_t i = 0; i < 3 * img->palette_size; i++)
        img->palette[i] = (uint8_t)next_byte(s);
}

/* tRNS where the colour type allows it: palette alphas, or one grey or RGB
 * colour as 16-bit values (any value: the writer must cope). */
static inline void fuzz_trns(byte_source *s, uint32_t flags, idfzip_image *img)
{
    uint32_t ct = img->color_type;
    if (!(flags & FUZZ_TRNS))
        return;
    if (ct == IDFZIP_COLOR_PALETTE)
        img->trns_size = next_byte(s) % (img->palette_size + 1);
    else if (ct == IDFZIP_COLOR_GRAY)
        img->trns_size = 2;
    else if (ct == IDFZIP_COLOR_RGB)
        img->trns_size = 6;
    for (uint32_t i = 0; i < img->trns_size; i++)
        img->trns[i] = (uint8_t)next_byte(s);
}

/* Up to three ancillary chunks (flags bits 4-5) with fuzzer-chosen types
 * (first letter lower case, so ancillary), up to 15 bytes of data each, at
 * places a PNG can hold: in file order, and between PLTE and IDAT only when
 * there is a PLTE. */
static inline int fuzz_chunk(byte_source *s, uint8_t *place, idfzip_chunk *c,
                             const idfzip_image *img)
{
    for (int i = 0; i < 4; i++) {
        uint32_t b = next_byte(s);
        c->type[i] = (char)((i == 0 || (b & 32) ? 'a' : 'A') + (b & 31) % 26);
    }
    if (memcmp(c->type, "tRNS", 4) == 0)
        c->type[0] = 'x'; /* tRNS lives in img->trns */
    uint8_t where = (uint8_t)(next_byte(s) % 3);
    if (where == IDFZIP_CHUNK_BEFORE_IDAT && img->palette_size == 0)
        where = IDFZIP_CHUNK_BEFORE_PLTE;
    *place = c->where = where > *place ? where : *place;
    c->size = next_byte(s) % 16;
    c->data = malloc(c->size ? c->size : 1);
    if (!c->data)
        return -1;
    for (uint32_t i = 0; i < c->size; i++)
        c->data[i] = (uint8_t)next_byte(s);
    return 0;
}

static inline int fuzz_chunks(byte_source *s, uint32_t flags, idfzip_image *img)
{
    uint32_t count = (flags >> 4) & 3;
    if (!(flags & FUZZ_CHUNK) || count == 0)
        return 0;
    img->chunks = calloc(count, sizeof *img->chunks);
    if (!img->chunks)
        return -1;
    uint8_t place = IDFZIP_CHUNK_BEFORE_PLTE;
    for (uint32_t i = 0; i < count; i++) {
        img->chunk_count = i + 1; /* so idfzip_image_free releases it */
        if (fuzz_chunk(s, &place, &img->chunks[i], img) != 0)
            return -1;
    }
    return 0;
}

static inline uint32_t next_sample(byte_source *s, int smooth, uint32_t prev, uint32_t limit,
                                   uint32_t depth)
{
    uint32_t v = depth == 16 ? next_u16(s) : next_byte(s);
    if (smooth) /* a small signed step; wraps at the range ends */
        v = prev + limit + (v & 7) - 3;
    return v % limit;
}

static inline int fuzz_samples(byte_source *s, uint32_t flags, idfzip_image *img)
{
    size_t n = (size_t)img->width * img->height * img->channels;
    img->samples = malloc(n * sizeof *img->samples);
    if (!img->samples)
        return -1;
    uint32_t limit = img->color_type == IDFZIP_COLOR_PALETTE ? img->palette_size
                                                             : 1u << img->bit_depth;
    for (size_t i = 0; i < n; i++) {
        uint32_t prev = i >= img->channels ? img->samples[i - img->channels] : limit / 2;
        img->samples[i] = (uint16_t)next_sample(s, (flags & FUZZ_SMOOTH) != 0, prev, limit,
                                                img->bit_depth);
    }
    return 0;
}

/* Fills img (valid for the PNG writer by construction); -1 out of memory. */
static inline int fuzz_image_from_bytes(const uint8_t *data, size_t size, const fuzz_kind *kinds,
                                        size_t nkinds, idfzip_image *img)
{
    byte_source s = {data, size, 0, size};
    memset(img, 0, sizeof *img);
    fuzz_kind k = kinds[next_byte(&s) % nkinds];
    img->width = 1 + next_byte(&s) % FUZZ_MAX_SIDE;
    img->height = 1 + next_byte(&s) % FUZZ_MAX_SIDE;
    img->color_type = k.color;
    img->bit_depth = k.depth;
    img->channels = k.channels;
    uint32_t flags = next_byte(&s);
    fuzz_palette(&s, flags, img);
    fuzz_trns(&s, flags, img);
    if (fuzz_chunks(&s, flags, img) != 0 || fuzz_samples(&s, flags, img) != 0) {
        idfzip_image_free(img);
        return -1;
    }
    return 0;
}

/* Compresses img (model forced, then the default choice) and checks that
 * each file decodes to img; aborts on any difference. */
static inline void fuzz_check_round_trip(const idfzip_image *img, const idfzip_options *base)
{
    for (int force = 1; force >= 0; force--) {
        idfzip_options o = *base;
        o.force_model = force;
        uint8_t *idf = NULL;
        size_t idf_size = 0;
        idfzip_image back;
        int st = idfzip_compress_image(img, &o, &idf, &idf_size);
        if (st == IDFZIP_ERR_NOMEM)
            continue;
        if (st != IDFZIP_OK)
            fuzz_fail(force ? "compress (model forced) failed" : "compress failed", st);
        st = idfzip_decompress_image(idf, idf_size, &o, &back);
        if (st != IDFZIP_OK && st != IDFZIP_ERR_NOMEM)
            fuzz_fail(force ? "decompress (model forced) failed" : "decompress failed", st);
        if (st == IDFZIP_OK && !idfzip_image_equal(img, &back))
            fuzz_fail(force ? "round trip (model forced) changed the image"
                            : "round trip changed the image", st);
        if (st == IDFZIP_OK)
            idfzip_image_free(&back);
        idfzip_free(idf);
    }
}

#endif
