/* png_read.c — PNG bytes -> idfzip_image (contract in png_io.h).
 *
 * libpng's full API decodes the pixels (no expansion, no gamma) from a
 * memory cursor; a small walker of our own then copies the ancillary chunks
 * byte for byte and notes where each stood, because libpng does not keep
 * chunk order.
 */
#include <setjmp.h> /* png.h of libpng 1.6 no longer includes it */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <zlib.h>

#include "../common/bytes.h"
#include "png_io.h"
#include "png_rules.h"

/* ------------------------------------------------------------------------ */
/* Reading, part 1: pixels, palette and tRNS through libpng                 */
/* ------------------------------------------------------------------------ */

typedef struct read_cursor {
    const uint8_t *data;
    size_t size, pos;
} read_cursor;

/* Everything the libpng callbacks and the longjmp path share for one call;
 * it lives in the caller's frame so nothing is global. */
typedef struct png_decoder {
    png_structp png;
    png_infop info;
    read_cursor cursor;
    uint8_t *row;       /* one row as libpng hands it out (1 or 2 bytes/sample) */
    size_t row_bytes;
    int error_status;   /* what on_libpng_error maps its message to */
    uint64_t max_pixels;
} png_decoder;

static void read_from_cursor(png_structp png, png_bytep out, size_t len)
{
    read_cursor *c = (read_cursor *)png_get_io_ptr(png);
    if (len > c->size - c->pos)
        png_error(png, "unexpected end of PNG data");
    memcpy(out, c->data + c->pos, len);
    c->pos += len;
}

/* libpng reports its own allocation failures as "Out of memory" (or
 * "Insufficient memory ..."); everything else is a bad file. */
static int message_means_oom(const char *msg)
{
    return msg != NULL && strstr(msg, "memory") != NULL;
}

static void on_libpng_error(png_structp png, png_const_charp msg)
{
    png_decoder *d = (png_decoder *)png_get_error_ptr(png);
    d->error_status = message_means_oom(msg) ? IDFZIP_ERR_NOMEM : IDFZIP_ERR_PNG;
    png_longjmp(png, 1);
}

/* The library never prints: warnings (including benign errors) are dropped. */
static void on_libpng_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void configure_reader(png_decoder *d)
{
#ifdef PNG_SET_USER_LIMITS_SUPPORTED
    /* Our max_pixels is the size limit; libpng's default 1e6 x 1e6 would
     * otherwise reject long thin images that are within it. */
    png_set_user_limits(d->png, PNG_UINT31_MAX, PNG_UINT31_MAX);
#endif
#ifdef PNG_HANDLE_AS_UNKNOWN_SUPPORTED
    /* Ancillary chunks are copied by our own walker, so libpng need not
     * parse (or decompress) them; it still checks their CRCs.  A negative
     * count covers every known chunk except IHDR, PLTE, tRNS, IDAT, IEND. */
    png_set_keep_unknown_chunks(d->png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
#endif
    png_set_read_fn(d->png, &d->cursor, read_from_cursor);
}

/* Copies IHDR fields into img and enforces the pixel limits before anything
 * of pixel size is allocated. */
static int take_header(png_decoder *d, idfzip_image *img)
{
    png_uint_32 width, height;
    int bit_depth, color_type, interlace, compression, filter;
    png_get_IHDR(d->png, d->info, &width, &height, &bit_depth, &color_type,
                 &interlace, &compression, &filter);
    img->width = width;
    img->height = height;
    img->bit_depth = (uint32_t)bit_depth;
    img->color_type = (uint32_t)color_type;
    img->channels = png_get_channels(d->png, d->info);
    if (img->channels != png_channels_of_color_type(img->color_type) ||
        !png_depth_is_legal(img->color_type, img->bit_depth) || width == 0 ||
        height == 0)
        return IDFZIP_ERR_PNG; /* libpng checked this; stay defensive */
    if ((uint64_t)width * height > d->max_pixels)
        return IDFZIP_ERR_LIMIT;
    if (png_sample_count_or_zero(width, height, img->channels) == 0)
        return IDFZIP_ERR_LIMIT;
    return IDFZIP_OK;
}

/* The tRNS payload exactly as the file had it: libpng keeps the raw 16-bit
 * values for grey and RGB, so writing them big-endian restores the bytes. */
static void take_trns(png_decoder *d, idfzip_image *img)
{
    png_bytep alpha = NULL;
    int count = 0;
    png_color_16p color = NULL;
    if (!png_get_tRNS(d->png, d->info, &alpha, &count, &color))
        return;
    if (img->color_type == IDFZIP_COLOR_PALETTE) {
        if (alpha != NULL && count > 0 && count <= 256) {
            memcpy(img->trns, alpha, (size_t)count);
            img->trns_size = (uint32_t)count;
        }
    } else if (img->color_type == IDFZIP_COLOR_GRAY && color != NULL) {
        img->trns[0] = (uint8_t)(color->gray >> 8);
        img->trns[1] = (uint8_t)color->gray;
        img->trns_size = 2;
    } else if (img->color_type == IDFZIP_COLOR_RGB && color != NULL) {
        const png_uint_16 rgb[3] = {color->red, color->green, color->blue};
        for (int i = 0; i < 3; i++) {
            img->trns[2 * i] = (uint8_t)(rgb[i] >> 8);
            img->trns[2 * i + 1] = (uint8_t)rgb[i];
        }
        img->trns_size = 6;
    }
}

static void take_palette(png_decoder *d, idfzip_image *img)
{
    png_colorp palette = NULL;
    int count = 0;
    if (!png_get_PLTE(d->png, d->info, &palette, &count) || palette == NULL ||
        count <= 0 || count > 256)
        return;
    for (int i = 0; i < count; i++) {
        img->palette[3 * i] = palette[i].red;
        img->palette[3 * i + 1] = palette[i].green;
        img->palette[3 * i + 2] = palette[i].blue;
    }
    img->palette_size = (uint32_t)count;
}

/* Asks libpng for rows with one sample per byte (or two big-endian bytes at
 * depth 16) and de-interlaced; returns the number of passes to read. */
static int prepare_row_format(png_decoder *d, const idfzip_image *img)
{
    if (img->bit_depth < 8)
        png_set_packing(d->png); /* unpack only: values stay 0..2^d-1 */
    int passes = png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->info);
    return passes;
}

static int allocate_pixels(png_decoder *d, idfzip_image *img)
{
    size_t row_samples = (size_t)img->width * img->channels;
    size_t bytes_per_sample = img->bit_depth == 16 ? 2 : 1;
    d->row_bytes = row_samples * bytes_per_sample;
    if (png_get_rowbytes(d->png, d->info) != d->row_bytes)
        return IDFZIP_ERR_PNG; /* a transform did not do what we asked */
    size_t count = png_sample_count_or_zero(img->width, img->height, img->channels);
    img->samples = (uint16_t *)malloc(count * sizeof(uint16_t));
    d->row = (uint8_t *)malloc(d->row_bytes);
    if (img->samples == NULL || d->row == NULL)
        return IDFZIP_ERR_NOMEM;
    return IDFZIP_OK;
}

static void store_row(idfzip_image *img, uint32_t y, const uint8_t *row)
{
    size_t n = (size_t)img->width * img->channels;
    uint16_t *dst = img->samples + (size_t)y * n;
    if (img->bit_depth == 16)
        for (size_t i = 0; i < n; i++)
            dst[i] = (uint16_t)((row[2 * i] << 8) | row[2 * i + 1]);
    else
        for (size_t i = 0; i < n; i++)
            dst[i] = row[i];
}

/* Inverse of store_row: libpng merges an interlace pass into the row it is
 * given, so the row must already hold the pixels of the earlier passes. */
static void load_row(const idfzip_image *img, uint32_t y, uint8_t *row)
{
    size_t n = (size_t)img->width * img->channels;
    png_samples_to_bytes(img->samples + (size_t)y * n, n, img->bit_depth, row);
}

/* One row buffer instead of a whole second image: for interlaced files each
 * pass visits every row, and load_row/store_row carry the merge. */
static void read_rows(png_decoder *d, idfzip_image *img, int passes)
{
    if (passes > 1)
        memset(img->samples, 0,
               png_sample_count_or_zero(img->width, img->height, img->channels) *
                   sizeof(uint16_t));
    for (int pass = 0; pass < passes; pass++)
        for (uint32_t y = 0; y < img->height; y++) {
            if (passes > 1)
                load_row(img, y, d->row);
            png_read_row(d->png, d->row, NULL);
            store_row(img, y, d->row);
        }
}

/* The libpng calls in order; any of them may longjmp back to run_libpng. */
static int decode_steps(png_decoder *d, idfzip_image *img)
{
    configure_reader(d);
    png_read_info(d->png, d->info);
    int status = take_header(d, img);
    if (status != IDFZIP_OK)
        return status;
    take_palette(d, img);
    take_trns(d, img);
    int passes = prepare_row_format(d, img);
    status = allocate_pixels(d, img);
    if (status != IDFZIP_OK)
        return status;
    read_rows(d, img, passes);
    png_read_end(d->png, NULL); /* checks the rest of IDAT and reaches IEND */
    return IDFZIP_OK;
}

/* Kept tiny so that no local variable lives across setjmp: everything that
 * must survive a longjmp is reached through d or img. */
static int run_libpng(png_decoder *d, idfzip_image *img)
{
    if (setjmp(png_jmpbuf(d->png)))
        return d->error_status;
    return decode_steps(d, img);
}

/* libpng allocates through these, so that every allocation of a decode is
 * the library's own (tests/test_nomem.c fails each one in turn); a failure
 * becomes png_error("Out of memory"), which on_libpng_error reports as
 * IDFZIP_ERR_NOMEM. */
static png_voidp png_alloc(png_structp png, png_alloc_size_t n)
{
    (void)png;
    return malloc(n ? n : 1);
}

static void png_release(png_structp png, png_voidp p)
{
    (void)png;
    free(p);
}

static int decode_pixels(const uint8_t *data, size_t size, uint64_t max_pixels,
                         idfzip_image *img)
{
    png_decoder d;
    memset(&d, 0, sizeof d);
    d.cursor.data = data;
    d.cursor.size = size;
    d.max_pixels = max_pixels;
    d.error_status = IDFZIP_ERR_PNG;
    d.png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &d, on_libpng_error,
                                     on_libpng_warning, NULL, png_alloc, png_release);
    if (d.png == NULL)
        return IDFZIP_ERR_NOMEM;
    d.info = png_create_info_struct(d.png);
    int status = d.info != NULL ? run_libpng(&d, img) : IDFZIP_ERR_NOMEM;
    png_destroy_read_struct(&d.png, d.info != NULL ? &d.info : NULL, NULL);
    free(d.row);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Reading, part 2: our own walk over the chunk stream                      */
/* ------------------------------------------------------------------------ */

typedef struct chunk_record {
    uint32_t length;
    const char *type;     /* 4 bytes inside the file */
    const uint8_t *data;  /* length bytes inside the file */
} chunk_record;

/* What the walk saw besides the copied chunks, to cross-check libpng. */
typedef struct chunk_census {
    uint32_t copied_count;
    size_t copied_bytes;
    uint32_t plte_count, plte_length;
    uint32_t trns_count, trns_length;
} chunk_census;

/* Parses the chunk at *pos, bounds-checked against the buffer, and moves
 * *pos past it. */
static int next_chunk(const uint8_t *data, size_t size, size_t *pos,
                      chunk_record *rec)
{
    if (size - *pos < 12)
        return IDFZIP_ERR_PNG;
    rec->length = get_be32(data + *pos);
    rec->type = (const char *)data + *pos + 4;
    rec->data = data + *pos + 8;
    if (rec->length > PNG_UINT31_MAX || rec->length > size - *pos - 12 ||
        !png_chunk_type_is_valid(rec->type))
        return IDFZIP_ERR_PNG;
    *pos += 12 + (size_t)rec->length;
    return IDFZIP_OK;
}

static int chunk_crc_matches(const chunk_record *rec)
{
    uLong crc = crc32(0L, (const Bytef *)rec->type, 4);
    crc = crc32(crc, rec->data, (uInt)rec->length);
    return (uint32_t)crc == get_be32(rec->data + rec->length);
}

/* Where the next ancillary chunk stands, given what came before it. */
static uint8_t chunk_place(int seen_plte, int seen_idat)
{
    if (seen_idat)
        return IDFZIP_CHUNK_AFTER_IDAT;
    return seen_plte ? IDFZIP_CHUNK_BEFORE_IDAT : IDFZIP_CHUNK_BEFORE_PLTE;
}

static int copy_chunk(const chunk_record *rec, uint8_t where, idfzip_chunk *dst)
{
    memcpy(dst->type, rec->type, 4);
    dst->where = where;
    dst->size = rec->length;
    dst->data = NULL;
    if (rec->length == 0)
        return IDFZIP_OK;
    dst->data = (uint8_t *)malloc(rec->length);
    if (dst->data == NULL)
        return IDFZIP_ERR_NOMEM;
    memcpy(dst->data, rec->data, rec->length);
    return IDFZIP_OK;
}

static int count_chunk(const chunk_record *rec, chunk_census *census)
{
    if (memcmp(rec->type, "PLTE", 4) == 0) {
        census->plte_count++;
        census->plte_length = rec->length;
    } else if (memcmp(rec->type, "tRNS", 4) == 0) {
        census->trns_count++;
        census->trns_length = rec->length;
    } else if (png_io_chunk_is_copied(rec->type)) {
        census->copied_count++;
        census->copied_bytes += rec->length;
        if (census->copied_bytes > PNG_MAX_CHUNK_BYTES)
            return IDFZIP_ERR_LIMIT;
    }
    return IDFZIP_OK;
}

/* Walks from the signature to IEND.  With dst == NULL it only checks and
 * counts (census); with dst it copies the ancillary chunks in file order. */
static int walk_chunks(const uint8_t *data, size_t size, chunk_census *census,
                       idfzip_chunk *dst)
{
    size_t pos = sizeof png_signature;
    int seen_plte = 0, seen_idat = 0;
    uint32_t copied = 0;
    for (;;) {
        chunk_record rec = {0, NULL, NULL};
        int status = next_chunk(data, size, &pos, &rec);
        if (status != IDFZIP_OK)
            return status;
        if (dst == NULL)
            status = chunk_crc_matches(&rec) ? count_chunk(&rec, census)
                                             : IDFZIP_ERR_PNG;
        else if (png_io_chunk_is_copied(rec.type))
            status = copy_chunk(&rec, chunk_place(seen_plte, seen_idat),
                                &dst[copied++]);
        if (status != IDFZIP_OK)
            return status;
        if (memcmp(rec.type, "IEND", 4) == 0)
            return IDFZIP_OK;
        seen_plte |= memcmp(rec.type, "PLTE", 4) == 0;
        seen_idat |= memcmp(rec.type, "IDAT", 4) == 0;
    }
}

/* libpng quietly drops or trims a PLTE or tRNS it finds invalid (duplicate,
 * wrong length, palette longer than the bit depth allows, tRNS in an alpha
 * image, an empty PLTE in a grey image).  A lossless round trip cannot drop
 * them quietly, so such files are refused as invalid PNGs; this also keeps
 * "between PLTE and IDAT" for images that have a palette. */
static int critical_data_agrees(const chunk_census *c, const idfzip_image *img)
{
    if (c->plte_count > 1 || c->trns_count > 1)
        return 0;
    if (c->plte_count == 1 ? c->plte_length != 3 * img->palette_size || img->palette_size == 0
                           : img->palette_size != 0)
        return 0;
    if (c->trns_count == 1 ? c->trns_length != img->trns_size
                           : img->trns_size != 0)
        return 0;
    return 1;
}

static int copy_ancillary_chunks(const uint8_t *data, size_t size,
                                 idfzip_image *img)
{
    chunk_census census;
    memset(&census, 0, sizeof census);
    int status = walk_chunks(data, size, &census, NULL);
    if (status != IDFZIP_OK)
        return status;
    if (!critical_data_agrees(&census, img))
        return IDFZIP_ERR_PNG;
    if (census.copied_count == 0)
        return IDFZIP_OK;
    img->chunks = (idfzip_chunk *)calloc(census.copied_count, sizeof(idfzip_chunk));
    if (img->chunks == NULL)
        return IDFZIP_ERR_NOMEM;
    img->chunk_count = census.copied_count; /* freeable even if half copied */
    return walk_chunks(data, size, &census, img->chunks);
}

/* The spec makes an index past the end of PLTE an error; libpng only warns,
 * and our writer could not reproduce such a file, so it is refused here. */
static int palette_indices_valid(const idfzip_image *img)
{
    if (img->color_type != IDFZIP_COLOR_PALETTE)
        return 1;
    size_t n = (size_t)img->width * img->height;
    for (size_t i = 0; i < n; i++)
        if (img->samples[i] >= img->palette_size)
            return 0;
    return 1;
}

int png_io_read(const uint8_t *data, size_t size, uint64_t max_pixels,
                idfzip_image *img)
{
    if (img == NULL)
        return IDFZIP_ERR_ARG;
    memset(img, 0, sizeof *img);
    if (data == NULL)
        return size == 0 ? IDFZIP_ERR_PNG : IDFZIP_ERR_ARG;
    if (size < sizeof png_signature ||
        memcmp(data, png_signature, sizeof png_signature) != 0)
        return IDFZIP_ERR_PNG;
    if (max_pixels == 0)
        max_pixels = IDFZIP_DEFAULT_MAX_PIXELS;
    int status = decode_pixels(data, size, max_pixels, img);
    if (status == IDFZIP_OK)
        status = copy_ancillary_chunks(data, size, img);
    if (status == IDFZIP_OK && !palette_indices_valid(img))
        status = IDFZIP_ERR_PNG;
    if (status != IDFZIP_OK)
        idfzip_image_free(img);
    return status;
}
