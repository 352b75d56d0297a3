/* container.c — .idf header serialisation and validation (see FORMAT.md). */
#include "container.h"

#include "../common/bytes.h"
#include "../model/registry.h"
#include "palette_pack.h"
#include "png_rules.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const uint8_t IDF_MAGIC[IDF_MAGIC_SIZE] = {0x89, 'I', 'D', 'F', 0x0D, 0x0A, 0x1A, 0x0A};

/* ---- shared helpers ---- */

uint32_t idf_tiles_across(uint32_t width, uint32_t tile_width)
{
    return tile_width ? (uint32_t)(((uint64_t)width + tile_width - 1) / tile_width) : 0;
}

uint32_t idf_tile_count(uint32_t width, uint32_t height, uint32_t tw, uint32_t th)
{
    uint64_t n = (uint64_t)idf_tiles_across(width, tw) * idf_tiles_across(height, th);
    return n > UINT32_MAX ? 0 : (uint32_t)n;
}

uint32_t idf_pixel_crc(const idfzip_image *img)
{
    const size_t n = (size_t)img->width * img->height * img->channels;
    uLong crc = crc32(0L, Z_NULL, 0);
    uint8_t buf[4096];
    /* A block of samples at a time (the decoder waits for this pass after
     * its threads are done). */
    for (size_t i = 0; i < n;) {
        const size_t m = n - i < sizeof buf / 2 ? n - i : sizeof buf / 2;
        size_t bytes = png_samples_to_bytes(img->samples + i, m, img->bit_depth, buf);
        crc = crc32(crc, buf, (uInt)bytes);
        i += m;
    }
    return (uint32_t)crc;
}

/* The PNG colour type / bit depth / channel combinations that exist. */
static int image_kind_valid(uint32_t color, uint32_t depth, uint32_t channels)
{
    return png_depth_is_legal(color, depth) && channels == png_channels_of_color_type(color);
}

static int trns_size_valid(const idf_header *h)
{
    if (h->trns_size == 0)
        return 1;
    switch (h->color_type) {
    case IDFZIP_COLOR_GRAY: return h->trns_size == 2;
    case IDFZIP_COLOR_RGB: return h->trns_size == 6;
    case IDFZIP_COLOR_PALETTE: return h->trns_size <= h->palette_size;
    default: return 0;
    }
}

/* ---- writer ---- */

static void write_coded_fields(byte_writer *w, const idf_header *h)
{
    uint8_t name[IDFZIP_MODEL_NAME_MAX] = {0};
    for (size_t i = 0; i < IDFZIP_MODEL_NAME_MAX && h->model_name[i]; i++)
        name[i] = (uint8_t)h->model_name[i];
    byte_writer_put(w, name, sizeof name);
    byte_writer_put_le(w, h->model_crc, 4);
    byte_writer_put_le(w, h->tile_width, 2);
    byte_writer_put_le(w, h->tile_height, 2);
    byte_writer_put_le(w, h->palette_size, 2);
    byte_writer_put(w, h->palette, 3 * (size_t)h->palette_size);
    byte_writer_put_le(w, h->trns_size, 2);
    byte_writer_put(w, h->trns, h->trns_size);
    byte_writer_put_le(w, h->chunk_count, 2);
    for (uint32_t i = 0; i < h->chunk_count; i++) {
        const idfzip_chunk *c = &h->chunks[i];
        byte_writer_put(w, c->type, 4);
        byte_writer_put_le(w, c->where, 1);
        byte_writer_put_le(w, c->size, 4);
        byte_writer_put(w, c->data, c->size);
    }
    for (uint32_t i = 0; i < h->tile_count; i++) {
        byte_writer_put_le(w, h->tiles[i].size, 4);
        byte_writer_put_le(w, h->tiles[i].crc, 4);
    }
}

/* Version 1: the header, its CRC last (FORMAT.md, "version 1"). */
static void write_v1(byte_writer *w, const idf_header *h)
{
    byte_writer_put(w, IDF_MAGIC, IDF_MAGIC_SIZE);
    uint8_t fixed[6] = {1, (uint8_t)h->mode, (uint8_t)h->color_type, (uint8_t)h->bit_depth,
                        (uint8_t)h->channels, 0};
    byte_writer_put(w, fixed, sizeof fixed);
    byte_writer_put_le(w, h->width, 4);
    byte_writer_put_le(w, h->height, 4);
    if (h->mode == IDF_MODE_CODED) {
        write_coded_fields(w, h);
    } else {
        byte_writer_put_le(w, h->stored_size, 4);
        byte_writer_put_le(w, h->stored_crc, 4);
    }
    byte_writer_put_le(w, h->pixel_crc, 4);
    if (!w->failed)
        byte_writer_put_le(w, (uint32_t)crc32(0L, w->buf, (uInt)w->size), 4);
}

/* Version 2's model: its number, or 0 and its name, CRC and tile size. */
static void write_model_v2(byte_writer *w, const idf_header *h)
{
    byte_writer_put_le(w, h->model_id, 1);
    if (h->model_id)
        return;
    size_t n = 0;
    while (n < IDFZIP_MODEL_NAME_MAX && h->model_name[n])
        n++;
    byte_writer_put_le(w, (uint32_t)n, 1);
    byte_writer_put(w, h->model_name, n);
    byte_writer_put_le(w, h->model_crc, 4);
    byte_writer_put_varint(w, h->tile_width);
    byte_writer_put_varint(w, h->tile_height);
}

/* Version 3's sample map (FORMAT.md, "Sample map"). */
static void write_sample_map(byte_writer *w, const idf_header *h)
{
    byte_writer_put_le(w, h->map.flags, 1);
    if (h->map.flags & SAMPLE_MAP_PALETTE_ORDER)
        byte_writer_put(w, h->map.order, h->palette_size);
    if (!(h->map.flags & SAMPLE_MAP_SCALED))
        return;
    byte_writer_put_le(w, h->map.coded_depth, 1);
    for (uint32_t k = 0; k < h->channels; k++)
        byte_writer_put_varint(w, h->map.scale[k]);
}

/* Version 3's palette: its size, then (if any) its coding and the
 * entries as that coding has them (palette_pack.h). */
static void write_palette_v3(byte_writer *w, const idf_header *h)
{
    byte_writer_put_varint(w, h->palette_size);
    if (h->palette_size == 0)
        return;
    palette_packed packed;
    if (palette_pack(h->palette, h->palette_size, &packed) != IDFZIP_OK) {
        w->failed = 1; /* out of memory, as a failed write is */
        return;
    }
    byte_writer_put_le(w, packed.coding, 1);
    if (packed.coding != PALETTE_RAW)
        byte_writer_put_varint(w, packed.size);
    byte_writer_put(w, packed.data, packed.size);
}

/* Versions 2 and 3: variable-length fields, no per-tile CRCs; the file CRC
 * is written by idf_file_write.  Version 3 adds the sample map. */
static void write_v2(byte_writer *w, const idf_header *h)
{
    byte_writer_put(w, IDF_MAGIC, IDF_MAGIC_SIZE);
    uint8_t fixed[4] = {(uint8_t)h->version, (uint8_t)h->mode, (uint8_t)h->color_type, (uint8_t)h->bit_depth};
    byte_writer_put(w, fixed, sizeof fixed);
    byte_writer_put_varint(w, h->width);
    byte_writer_put_varint(w, h->height);
    if (h->mode == IDF_MODE_STORED) {
        byte_writer_put_varint(w, h->stored_size);
    } else {
        write_model_v2(w, h);
        if (h->version >= 3) {
            write_palette_v3(w, h);
        } else {
            byte_writer_put_varint(w, h->palette_size);
            byte_writer_put(w, h->palette, 3 * (size_t)h->palette_size);
        }
        byte_writer_put_varint(w, h->trns_size);
        byte_writer_put(w, h->trns, h->trns_size);
        if (h->version >= 3)
            write_sample_map(w, h);
        byte_writer_put_varint(w, h->chunk_count);
        for (uint32_t i = 0; i < h->chunk_count; i++) {
            const idfzip_chunk *c = &h->chunks[i];
            byte_writer_put(w, c->type, 4);
            byte_writer_put_le(w, c->where, 1);
            byte_writer_put_varint(w, c->size);
            byte_writer_put(w, c->data, c->size);
        }
        for (uint32_t i = 0; i < h->tile_count; i++)
            byte_writer_put_varint(w, h->tiles[i].size);
    }
    byte_writer_put_le(w, h->pixel_crc, 4);
}

int idf_file_write(const idf_header *h, uint8_t *const *pieces, const uint32_t *sizes,
                   uint32_t count, uint8_t **out, size_t *out_size)
{
    byte_writer w = {0};
    if (h->version == 1)
        write_v1(&w, h);
    else
        write_v2(&w, h);
    /* after version 1: the file CRC covers the header before it and the payload */
    uLong crc = crc32(0L, w.buf, (uInt)w.size);
    for (uint32_t i = 0; i < count; i++)
        crc = crc32(crc, pieces[i], (uInt)sizes[i]);
    if (h->version != 1)
        byte_writer_put_le(&w, (uint32_t)crc, 4);
    for (uint32_t i = 0; i < count; i++)
        byte_writer_put(&w, pieces[i], sizes[i]);
    if (w.failed) {
        free(w.buf);
        return IDFZIP_ERR_NOMEM;
    }
    *out = w.buf;
    *out_size = w.size;
    return IDFZIP_OK;
}

/* ---- reader ---- */

void idf_header_free(idf_header *h)
{
    if (!h)
        return;
    for (uint32_t i = 0; h->chunks && i < h->chunk_count; i++)
        free(h->chunks[i].data);
    free(h->chunks);
    free(h->tiles);
    memset(h, 0, sizeof *h);
}

/* The fields both versions check alike: mode, kind, size, pixel limit. */
static int check_fixed(const idf_header *h, uint64_t max_pixels)
{
    if (h->mode > IDF_MODE_STORED || !image_kind_valid(h->color_type, h->bit_depth, h->channels) ||
        h->width == 0 || h->height == 0)
        return IDFZIP_ERR_CORRUPT;
    if ((uint64_t)h->width * h->height > (max_pixels ? max_pixels : IDFZIP_DEFAULT_MAX_PIXELS))
        return IDFZIP_ERR_LIMIT;
    return IDFZIP_OK;
}

/* The magic, the version, then version 1's fixed fields or those of
 * versions 2 and 3. */
static int read_fixed(byte_reader *r, uint64_t max_pixels, idf_header *h)
{
    const uint8_t *magic = byte_reader_take(r, IDF_MAGIC_SIZE + 1);
    if (!magic)
        return r->size >= 4 && memcmp(r->data, IDF_MAGIC, 4) != 0 ? IDFZIP_ERR_NOT_IDF
                                                                     : IDFZIP_ERR_TRUNCATED;
    if (memcmp(magic, IDF_MAGIC, IDF_MAGIC_SIZE) != 0)
        return IDFZIP_ERR_NOT_IDF;
    h->version = magic[IDF_MAGIC_SIZE];
    if (h->version < 1 || h->version > IDF_VERSION)
        return IDFZIP_ERR_VERSION;
    if (h->version >= 2) {
        const uint8_t *f = byte_reader_take(r, 3);
        h->width = byte_reader_varint(r);
        h->height = byte_reader_varint(r);
        if (r->failed)
            return IDFZIP_ERR_TRUNCATED;
        h->mode = f[0];
        h->color_type = f[1];
        h->bit_depth = f[2];
        h->channels = png_channels_of_color_type(h->color_type);
        return check_fixed(h, max_pixels);
    }
    const uint8_t *f = byte_reader_take(r, 5);
    h->width = byte_reader_le(r, 4);
    h->height = byte_reader_le(r, 4);
    if (r->failed)
        return IDFZIP_ERR_TRUNCATED;
    h->mode = f[0];
    h->color_type = f[1];
    h->bit_depth = f[2];
    h->channels = f[3];
    if (f[4] != 0)
        return IDFZIP_ERR_CORRUPT;
    return check_fixed(h, max_pixels);
}

/* A count or size: version 1's fixed little-endian field of `bytes`,
 * a varint after it. */
static uint32_t read_number(byte_reader *r, const idf_header *h, unsigned bytes)
{
    return h->version == 1 ? byte_reader_le(r, bytes) : byte_reader_varint(r);
}

static int read_chunks(byte_reader *r, idf_header *h)
{
    uint32_t count = read_number(r, h, 2);
    size_t least = h->version == 1 ? 9 : 6; /* bytes of an empty chunk */
    if (r->failed)
        return IDFZIP_ERR_TRUNCATED;
    if (count > IDF_MAX_CHUNKS || (size_t)count * least > r->size - r->pos)
        return count > IDF_MAX_CHUNKS ? IDFZIP_ERR_CORRUPT : IDFZIP_ERR_TRUNCATED;
    h->chunks = count ? calloc(count, sizeof *h->chunks) : NULL;
    if (count && !h->chunks)
        return IDFZIP_ERR_NOMEM;
    for (uint32_t i = 0; i < count; i++) {
        idfzip_chunk *c = &h->chunks[i];
        const uint8_t *type = byte_reader_take(r, 4);
        c->where = (uint8_t)byte_reader_le(r, 1);
        c->size = read_number(r, h, 4);
        const uint8_t *data = byte_reader_take(r, c->size);
        if (r->failed)
            return IDFZIP_ERR_TRUNCATED;
        h->chunk_count = i + 1; /* so idf_header_free releases what we made */
        memcpy(c->type, type, 4);
        if (c->where > IDFZIP_CHUNK_AFTER_IDAT)
            return IDFZIP_ERR_CORRUPT;
        c->data = malloc(c->size ? c->size : 1);
        if (!c->data)
            return IDFZIP_ERR_NOMEM;
        memcpy(c->data, data, c->size);
    }
    return IDFZIP_OK;
}

static int read_tiles(byte_reader *r, idf_header *h)
{
    h->tile_count = idf_tile_count(h->width, h->height, h->tile_width, h->tile_height);
    if (h->tile_count == 0)
        return IDFZIP_ERR_CORRUPT;
    uint64_t least = h->version == 1 ? 8 : 1; /* bytes per tile entry */
    if ((uint64_t)h->tile_count * least > r->size - r->pos)
        return IDFZIP_ERR_TRUNCATED;
    h->tiles = malloc((size_t)h->tile_count * sizeof *h->tiles);
    if (!h->tiles)
        return IDFZIP_ERR_NOMEM;
    for (uint32_t i = 0; i < h->tile_count; i++) {
        h->tiles[i].size = read_number(r, h, 4);
        h->tiles[i].crc = h->version == 1 ? byte_reader_le(r, 4) : 0;
    }
    return r->failed ? IDFZIP_ERR_TRUNCATED : IDFZIP_OK;
}

/* Version 1: the model's name, CRC and the tile size, fixed fields. */
static int read_model_v1(byte_reader *r, idf_header *h)
{
    const uint8_t *name = byte_reader_take(r, IDFZIP_MODEL_NAME_MAX);
    h->model_crc = byte_reader_le(r, 4);
    h->tile_width = byte_reader_le(r, 2);
    h->tile_height = byte_reader_le(r, 2);
    if (r->failed)
        return IDFZIP_ERR_TRUNCATED;
    memcpy(h->model_name, name, IDFZIP_MODEL_NAME_MAX);
    h->model_name[IDFZIP_MODEL_NAME_MAX] = 0;
    return IDFZIP_OK;
}

/* Version 2: a built-in model's number (its name and tile size from the
 * registry), or 0, then the name's length, the name, CRC, tile size. */
static int read_model_v2(byte_reader *r, idf_header *h)
{
    h->model_id = byte_reader_le(r, 1);
    if (r->failed)
        return IDFZIP_ERR_TRUNCATED;
    if (h->model_id) {
        const model_number *n = model_number_by_id(h->model_id);
        if (!n)
            return IDFZIP_ERR_MODEL; /* a later idfzip's model */
        strncpy(h->model_name, n->name, IDFZIP_MODEL_NAME_MAX);
        h->tile_width = n->tile_width;
        h->tile_height = n->tile_height;
        return IDFZIP_OK;
    }
    uint32_t length = byte_reader_le(r, 1);
    const uint8_t *name = byte_reader_take(r, length);
    h->model_crc = byte_reader_le(r, 4);
    h->tile_width = byte_reader_varint(r);
    h->tile_height = byte_reader_varint(r);
    if (r->failed)
        return IDFZIP_ERR_TRUNCATED;
    if (length == 0 || length > IDFZIP_MODEL_NAME_MAX || memchr(name, 0, length) ||
        h->tile_width > 65535 || h->tile_height > 65535)
        return IDFZIP_ERR_CORRUPT;
    memcpy(h->model_name, name, length);
    h->model_name[length] = 0;
    return IDFZIP_OK;
}

/* Version 3's palette after its size: coding, length, entries. */
static int read_palette_v3(byte_reader *r, idf_header *h)
{
    if (h->palette_size == 0)
        return IDFZIP_OK;
    uint32_t coding = byte_reader_le(r, 1);
    uint32_t size = coding == PALETTE_RAW ? 3 * h->palette_size : byte_reader_varint(r);
    const uint8_t *data = byte_reader_take(r, size);
    if (r->failed)
        return IDFZIP_ERR_TRUNCATED;
    return palette_unpack(coding, data, size, h->palette_size, h->palette);
}

static int read_sample_map(byte_reader *r, idf_header *h)
{
    h->map.flags = byte_reader_le(r, 1);
    if (h->map.flags & SAMPLE_MAP_PALETTE_ORDER) {
        const uint8_t *order = byte_reader_take(r, h->palette_size);
        if (order)
            memcpy(h->map.order, order, h->palette_size);
        for (uint32_t v = h->palette_size; v < 256; v++) /* no index: stays */
            h->map.order[v] = (uint8_t)v;
    }
    if (h->map.flags & SAMPLE_MAP_SCALED) {
        h->map.coded_depth = byte_reader_le(r, 1);
        for (uint32_t k = 0; k < h->channels; k++)
            h->map.scale[k] = byte_reader_varint(r);
    }
    if (r->failed)
        return IDFZIP_ERR_TRUNCATED;
    return sample_map_valid(&h->map, h->color_type, h->bit_depth, h->channels, h->palette_size)
               ? IDFZIP_OK
               : IDFZIP_ERR_CORRUPT;
}

static int read_coded_fields(byte_reader *r, idf_header *h)
{
    int st = h->version == 1 ? read_model_v1(r, h) : read_model_v2(r, h);
    if (st != IDFZIP_OK)
        return st;
    h->palette_size = read_number(r, h, 2);
    if (r->failed)
        return IDFZIP_ERR_TRUNCATED;
    if (h->palette_size > 256 || h->tile_width == 0 || h->tile_height == 0 ||
        (h->color_type == IDFZIP_COLOR_PALETTE && h->palette_size == 0))
        return IDFZIP_ERR_CORRUPT;
    if (h->version >= 3) {
        st = read_palette_v3(r, h);
        if (st != IDFZIP_OK)
            return st;
    } else {
        const uint8_t *pal = byte_reader_take(r, 3 * (size_t)h->palette_size);
        if (pal)
            memcpy(h->palette, pal, 3 * (size_t)h->palette_size);
    }
    h->trns_size = read_number(r, h, 2);
    if (r->failed)
        return IDFZIP_ERR_TRUNCATED;
    if (h->trns_size > 256 || !trns_size_valid(h))
        return IDFZIP_ERR_CORRUPT;
    const uint8_t *trns = byte_reader_take(r, h->trns_size);
    if (r->failed)
        return IDFZIP_ERR_TRUNCATED;
    memcpy(h->trns, trns, h->trns_size);
    if (h->version >= 3 && (st = read_sample_map(r, h)) != IDFZIP_OK)
        return st;
    st = read_chunks(r, h);
    return st != IDFZIP_OK ? st : read_tiles(r, h);
}

/* The payload announced by the header must be exactly the rest of the file. */
static int check_payload_size(const idf_header *h, size_t file_size)
{
    uint64_t total = h->header_size;
    if (h->mode == IDF_MODE_STORED)
        total += h->stored_size;
    for (uint32_t i = 0; h->mode == IDF_MODE_CODED && i < h->tile_count; i++)
        total += h->tiles[i].size;
    if (total > file_size)
        return IDFZIP_ERR_TRUNCATED;
    return total == file_size ? IDFZIP_OK : IDFZIP_ERR_CORRUPT;
}

/* The file CRC after version 1: every byte of the file but its own four. */
static uint32_t file_crc(const byte_reader *r, size_t crc_at)
{
    uLong crc = crc32(0L, r->data, (uInt)crc_at);
    const uint8_t *rest = r->data + crc_at + 4;
    for (size_t n = r->size - crc_at - 4; n > 0;) { /* uInt may be 32 bits */
        uInt piece = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, rest, piece);
        rest += piece, n -= piece;
    }
    return (uint32_t)crc;
}

static int read_all(byte_reader *r, uint64_t max_pixels, int file_crc_too, idf_header *h)
{
    int st = read_fixed(r, max_pixels, h);
    if (st != IDFZIP_OK)
        return st;
    if (h->mode == IDF_MODE_CODED) {
        st = read_coded_fields(r, h);
    } else {
        h->stored_size = read_number(r, h, 4);
        h->stored_crc = h->version == 1 ? byte_reader_le(r, 4) : 0;
    }
    if (st != IDFZIP_OK)
        return st;
    h->pixel_crc = byte_reader_le(r, 4);
    size_t crc_at = r->pos;
    uint32_t stored_crc = byte_reader_le(r, 4);
    if (r->failed)
        return IDFZIP_ERR_TRUNCATED;
    h->header_size = r->pos;
    if (h->version == 1) {
        if (stored_crc != (uint32_t)crc32(0L, r->data, (uInt)crc_at))
            return IDFZIP_ERR_CRC;
        return check_payload_size(h, r->size);
    }
    /* Sizes first: a truncated file says so rather than "CRC mismatch". */
    st = check_payload_size(h, r->size);
    if (st == IDFZIP_OK && file_crc_too && stored_crc != file_crc(r, crc_at))
        st = IDFZIP_ERR_CRC;
    return st;
}

static int header_read(const uint8_t *data, size_t size, uint64_t max_pixels, int file_crc_too,
                       idf_header *h)
{
    memset(h, 0, sizeof *h);
    if (!data)
        return IDFZIP_ERR_ARG;
    byte_reader r = {data, 0, size, 0};
    int st = read_all(&r, max_pixels, file_crc_too, h);
    if (st != IDFZIP_OK)
        idf_header_free(h);
    return st;
}

int idf_header_read(const uint8_t *data, size_t size, uint64_t max_pixels, idf_header *h)
{
    return header_read(data, size, max_pixels, 1, h);
}

int idf_header_peek(const uint8_t *data, size_t size, idf_header *h)
{
    return header_read(data, size, UINT64_MAX, 0, h);
}
