/* png_io.c — PNG files <-> idfzip_image (contract in png_io.h).
 *
 * Reading: libpng's full API decodes the pixels (no expansion, no gamma) from
 * a memory cursor; a small walker of our own then copies the ancillary chunks
 * byte for byte and notes where each stood, because libpng does not keep
 * chunk order.  Writing: our own encoder (zlib deflate + crc32) so that the
 * chunks go back exactly where they were.
 *
 * Also home of the image helpers of the public API (idfzip_png_decode,
 * idfzip_png_encode, idfzip_image_equal, idfzip_image_free, idfzip_free).
 */
#define ZLIB_CONST /* next_in is const, so input rows need no cast */

#include "png_io.h"

#include <setjmp.h> /* png.h of libpng 1.6 no longer includes it */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <zlib.h>

/* ------------------------------------------------------------------------ */
/* Limits and small shared helpers                                          */
/* ------------------------------------------------------------------------ */

static const uint8_t pngio_signature[8] = {137, 80, 78, 71, 13, 10, 26, 10};

/* PNG lengths and dimensions are 31-bit quantities. */
#define PNGIO_UINT31_MAX 0x7fffffffu
/* Total ancillary bytes we agree to copy out of one PNG; beyond this a file
 * is more metadata than image and we refuse it rather than hoard memory. */
#define PNGIO_MAX_CHUNK_BYTES ((size_t)64 << 20)
/* Largest IDAT we write; big enough that chunk framing costs nothing. */
#define PNGIO_IDAT_MAX ((size_t)1 << 20)
/* Output space requested from the buffer before each deflate call. */
#define PNGIO_IDAT_MIN_ROOM ((size_t)16 << 10)
/* Input handed to deflate per call; zlib counts in uInt. */
#define PNGIO_DEFLATE_IN_MAX ((size_t)1 << 30)
/* zlib level 6 (its default): level 9 costs 3x the time for ~1% smaller
 * files, and decompress speed is dominated by this deflate. */
#define PNGIO_DEFLATE_LEVEL 6

static uint32_t get_u32be(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int is_ascii_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The PNG spec restricts chunk type bytes to ASCII letters. */
static int chunk_type_is_valid(const char type[4])
{
    for (int i = 0; i < 4; i++)
        if (!is_ascii_letter(type[i]))
            return 0;
    return 1;
}

int png_io_chunk_is_copied(const char type[4])
{
    if (type == NULL || !chunk_type_is_valid(type))
        return 0;
    /* Bit 5 of the first byte (lower case) marks an ancillary chunk. */
    if (!(type[0] >= 'a' && type[0] <= 'z'))
        return 0;
    return memcmp(type, "tRNS", 4) != 0;
}

/* Channels implied by a PNG colour type, 0 for an unknown type. */
static uint32_t channels_of_color_type(uint32_t color_type)
{
    switch (color_type) {
    case IDFZIP_COLOR_GRAY: return 1;
    case IDFZIP_COLOR_RGB: return 3;
    case IDFZIP_COLOR_PALETTE: return 1;
    case IDFZIP_COLOR_GRAY_ALPHA: return 2;
    case IDFZIP_COLOR_RGBA: return 4;
    default: return 0;
    }
}

/* The bit depth / colour type pairs allowed by the PNG spec (table 11.1). */
static int depth_is_legal(uint32_t color_type, uint32_t bit_depth)
{
    int sub_byte = bit_depth == 1 || bit_depth == 2 || bit_depth == 4;
    switch (color_type) {
    case IDFZIP_COLOR_GRAY: return sub_byte || bit_depth == 8 || bit_depth == 16;
    case IDFZIP_COLOR_PALETTE: return sub_byte || bit_depth == 8;
    case IDFZIP_COLOR_RGB:
    case IDFZIP_COLOR_GRAY_ALPHA:
    case IDFZIP_COLOR_RGBA: return bit_depth == 8 || bit_depth == 16;
    default: return 0;
    }
}

/* Samples in the image, or 0 when width*height*channels (as uint16_t) would
 * not fit in memory at all; callers have already ensured every factor > 0. */
static size_t sample_count_or_zero(uint32_t width, uint32_t height,
                                   uint32_t channels)
{
    uint64_t pixels = (uint64_t)width * height;
    if (pixels > SIZE_MAX / channels / sizeof(uint16_t))
        return 0;
    return (size_t)pixels * channels;
}

/* ------------------------------------------------------------------------ */
/* Image helpers of the public API                                          */
/* ------------------------------------------------------------------------ */

void idfzip_free(void *p)
{
    free(p);
}

void idfzip_image_free(idfzip_image *img)
{
    if (img == NULL)
        return;
    if (img->chunks != NULL)
        for (uint32_t i = 0; i < img->chunk_count; i++)
            free(img->chunks[i].data);
    free(img->chunks);
    free(img->samples);
    memset(img, 0, sizeof *img);
}

/* memcmp that accepts NULL pointers when there is nothing to compare. */
static int bytes_equal(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return 1;
    if (a == NULL || b == NULL)
        return a == b;
    return memcmp(a, b, n) == 0;
}

static int samples_equal(const idfzip_image *a, const idfzip_image *b)
{
    if (a->channels == 0 || a->width == 0 || a->height == 0)
        return 1; /* no samples to compare */
    size_t n = sample_count_or_zero(a->width, a->height, a->channels);
    if (n == 0)
        return a->samples == b->samples; /* too big to exist: identity only */
    return bytes_equal(a->samples, b->samples, n * sizeof(uint16_t));
}

static int chunks_equal(const idfzip_image *a, const idfzip_image *b)
{
    if (a->chunk_count != b->chunk_count)
        return 0;
    if (a->chunk_count == 0)
        return 1;
    if (a->chunks == NULL || b->chunks == NULL)
        return a->chunks == b->chunks;
    for (uint32_t i = 0; i < a->chunk_count; i++) {
        const idfzip_chunk *x = &a->chunks[i], *y = &b->chunks[i];
        if (memcmp(x->type, y->type, 4) != 0 || x->where != y->where ||
            x->size != y->size || !bytes_equal(x->data, y->data, x->size))
            return 0;
    }
    return 1;
}

int idfzip_image_equal(const idfzip_image *a, const idfzip_image *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    if (a->width != b->width || a->height != b->height ||
        a->channels != b->channels || a->bit_depth != b->bit_depth ||
        a->color_type != b->color_type)
        return 0;
    if (a->palette_size != b->palette_size || a->palette_size > 256 ||
        memcmp(a->palette, b->palette, 3 * (size_t)a->palette_size) != 0)
        return 0;
    if (a->trns_size != b->trns_size || a->trns_size > 256 ||
        memcmp(a->trns, b->trns, a->trns_size) != 0)
        return 0;
    return samples_equal(a, b) && chunks_equal(a, b);
}

int idfzip_png_decode(const uint8_t *png, size_t png_size,
                      uint64_t max_pixels, idfzip_image *img)
{
    return png_io_read(png, png_size, max_pixels, img);
}

int idfzip_png_encode(const idfzip_image *img, uint8_t **out, size_t *out_size)
{
    return png_io_write(img, out, out_size);
}

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
    png_set_user_limits(d->png, PNGIO_UINT31_MAX, PNGIO_UINT31_MAX);
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
    if (img->channels != channels_of_color_type(img->color_type) ||
        !depth_is_legal(img->color_type, img->bit_depth) || width == 0 ||
        height == 0)
        return IDFZIP_ERR_PNG; /* libpng checked this; stay defensive */
    if ((uint64_t)width * height > d->max_pixels)
        return IDFZIP_ERR_LIMIT;
    if (sample_count_or_zero(width, height, img->channels) == 0)
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
    size_t count = sample_count_or_zero(img->width, img->height, img->channels);
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
    const uint16_t *src = img->samples + (size_t)y * n;
    if (img->bit_depth == 16)
        for (size_t i = 0; i < n; i++) {
            row[2 * i] = (uint8_t)(src[i] >> 8);
            row[2 * i + 1] = (uint8_t)src[i];
        }
    else
        for (size_t i = 0; i < n; i++)
            row[i] = (uint8_t)src[i];
}

/* One row buffer instead of a whole second image: for interlaced files each
 * pass visits every row, and load_row/store_row carry the merge. */
static void read_rows(png_decoder *d, idfzip_image *img, int passes)
{
    if (passes > 1)
        memset(img->samples, 0,
               sample_count_or_zero(img->width, img->height, img->channels) *
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

static int decode_pixels(const uint8_t *data, size_t size, uint64_t max_pixels,
                         idfzip_image *img)
{
    png_decoder d;
    memset(&d, 0, sizeof d);
    d.cursor.data = data;
    d.cursor.size = size;
    d.max_pixels = max_pixels;
    d.error_status = IDFZIP_ERR_PNG;
    d.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d, on_libpng_error,
                                   on_libpng_warning);
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
    rec->length = get_u32be(data + *pos);
    rec->type = (const char *)data + *pos + 4;
    rec->data = data + *pos + 8;
    if (rec->length > PNGIO_UINT31_MAX || rec->length > size - *pos - 12 ||
        !chunk_type_is_valid(rec->type))
        return IDFZIP_ERR_PNG;
    *pos += 12 + (size_t)rec->length;
    return IDFZIP_OK;
}

static int chunk_crc_matches(const chunk_record *rec)
{
    uLong crc = crc32(0L, (const Bytef *)rec->type, 4);
    crc = crc32(crc, rec->data, (uInt)rec->length);
    return (uint32_t)crc == get_u32be(rec->data + rec->length);
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
        if (census->copied_bytes > PNGIO_MAX_CHUNK_BYTES)
            return IDFZIP_ERR_LIMIT;
    }
    return IDFZIP_OK;
}

/* Walks from the signature to IEND.  With dst == NULL it only checks and
 * counts (census); with dst it copies the ancillary chunks in file order. */
static int walk_chunks(const uint8_t *data, size_t size, chunk_census *census,
                       idfzip_chunk *dst)
{
    size_t pos = sizeof pngio_signature;
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
    if (size < sizeof pngio_signature ||
        memcmp(data, pngio_signature, sizeof pngio_signature) != 0)
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

/* ------------------------------------------------------------------------ */
/* Writing, part 1: validation                                              */
/* ------------------------------------------------------------------------ */

static int header_valid(const idfzip_image *img)
{
    if (img->width == 0 || img->height == 0 || img->width > PNGIO_UINT31_MAX ||
        img->height > PNGIO_UINT31_MAX)
        return 0;
    if (!depth_is_legal(img->color_type, img->bit_depth) ||
        img->channels != channels_of_color_type(img->color_type))
        return 0;
    /* rows must fit in memory; the filter byte needs one more */
    return img->samples != NULL &&
           sample_count_or_zero(img->width, img->height, img->channels) != 0;
}

/* PLTE: required for palette images (at most 2^depth entries), optional
 * suggested palette for RGB/RGBA, forbidden for grey.  tRNS lengths as the
 * spec fixes them; never with an alpha channel. */
static int palette_and_trns_valid(const idfzip_image *img)
{
    uint32_t ct = img->color_type;
    if (img->palette_size > 256 || img->trns_size > 256)
        return 0;
    if (ct == IDFZIP_COLOR_PALETTE) {
        if (img->palette_size == 0 ||
            img->palette_size > (1u << img->bit_depth))
            return 0;
        return img->trns_size <= img->palette_size;
    }
    if ((ct == IDFZIP_COLOR_GRAY || ct == IDFZIP_COLOR_GRAY_ALPHA) &&
        img->palette_size != 0)
        return 0;
    if (ct == IDFZIP_COLOR_GRAY)
        return img->trns_size == 0 || img->trns_size == 2;
    if (ct == IDFZIP_COLOR_RGB)
        return img->trns_size == 0 || img->trns_size == 6;
    return img->trns_size == 0;
}

/* Chunks must stand where a PNG can put them, in file order: places never
 * go back, and with no PLTE there is no "between PLTE and IDAT" (such a
 * chunk would be read back as standing before PLTE).  Otherwise an image
 * kept as a PNG (stored mode) would not come back equal. */
static int chunks_valid(const idfzip_image *img)
{
    if (img->chunk_count > 0 && img->chunks == NULL)
        return 0;
    uint8_t place = IDFZIP_CHUNK_BEFORE_PLTE;
    for (uint32_t i = 0; i < img->chunk_count; i++) {
        const idfzip_chunk *c = &img->chunks[i];
        if (!png_io_chunk_is_copied(c->type) ||
            c->where > IDFZIP_CHUNK_AFTER_IDAT || c->where < place ||
            (c->where == IDFZIP_CHUNK_BEFORE_IDAT && img->palette_size == 0) ||
            c->size > PNGIO_UINT31_MAX || (c->size > 0 && c->data == NULL))
            return 0;
        place = c->where;
    }
    return 1;
}

/* Every sample below 2^depth; palette indices inside the palette. */
static int samples_valid(const idfzip_image *img)
{
    size_t n = sample_count_or_zero(img->width, img->height, img->channels);
    uint32_t limit = img->color_type == IDFZIP_COLOR_PALETTE
                         ? img->palette_size
                         : (1u << img->bit_depth);
    if (img->bit_depth == 16)
        return 1; /* every uint16_t value is a 16-bit sample */
    for (size_t i = 0; i < n; i++)
        if (img->samples[i] >= limit)
            return 0;
    return 1;
}

static int image_writable(const idfzip_image *img)
{
    return img != NULL && header_valid(img) && palette_and_trns_valid(img) &&
           chunks_valid(img) && samples_valid(img);
}

/* ------------------------------------------------------------------------ */
/* Writing, part 2: output buffer and chunk framing                         */
/* ------------------------------------------------------------------------ */

typedef struct byte_buf {
    uint8_t *data;
    size_t size, cap;
} byte_buf;

/* Makes room for `extra` more bytes, doubling so appends stay amortised. */
static int buf_reserve(byte_buf *b, size_t extra)
{
    if (extra <= b->cap - b->size)
        return IDFZIP_OK;
    if (extra > SIZE_MAX - b->size)
        return IDFZIP_ERR_NOMEM;
    size_t need = b->size + extra;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = (uint8_t *)realloc(b->data, cap);
    if (p == NULL)
        return IDFZIP_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return IDFZIP_OK;
}

/* Callers reserve first; this only copies. */
static void buf_put(byte_buf *b, const void *p, size_t n)
{
    if (n > 0)
        memcpy(b->data + b->size, p, n);
    b->size += n;
}

static void buf_put_u32(byte_buf *b, uint32_t v)
{
    put_u32be(b->data + b->size, v);
    b->size += 4;
}

/* The CRC covers type and data, which sit back to back from `type_at`. */
static uint32_t crc_of_stored_chunk(const byte_buf *b, size_t type_at)
{
    uLong crc = crc32(0L, b->data + type_at, 4);
    return (uint32_t)crc32(crc, b->data + type_at + 4,
                           (uInt)(b->size - type_at - 4));
}

static int write_chunk(byte_buf *b, const char type[4], const uint8_t *data,
                       uint32_t length)
{
    int status = buf_reserve(b, 12 + (size_t)length);
    if (status != IDFZIP_OK)
        return status;
    buf_put_u32(b, length);
    size_t type_at = b->size;
    buf_put(b, type, 4);
    buf_put(b, data, length);
    buf_put_u32(b, crc_of_stored_chunk(b, type_at));
    return IDFZIP_OK;
}

static int write_ihdr(byte_buf *b, const idfzip_image *img)
{
    uint8_t ihdr[13];
    put_u32be(ihdr, img->width);
    put_u32be(ihdr + 4, img->height);
    ihdr[8] = (uint8_t)img->bit_depth;
    ihdr[9] = (uint8_t)img->color_type;
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering */
    ihdr[12] = 0; /* not interlaced */
    return write_chunk(b, "IHDR", ihdr, sizeof ihdr);
}

static int write_chunks_at(byte_buf *b, const idfzip_image *img, uint8_t where)
{
    for (uint32_t i = 0; i < img->chunk_count; i++) {
        const idfzip_chunk *c = &img->chunks[i];
        if (c->where != where)
            continue;
        int status = write_chunk(b, c->type, c->data, c->size);
        if (status != IDFZIP_OK)
            return status;
    }
    return IDFZIP_OK;
}

static int write_plte_and_trns_parts(byte_buf *b, const idfzip_image *img)
{
    int status = IDFZIP_OK;
    if (img->palette_size > 0)
        status = write_chunk(b, "PLTE", img->palette, 3 * img->palette_size);
    if (status == IDFZIP_OK)
        status = write_chunks_at(b, img, IDFZIP_CHUNK_BEFORE_IDAT);
    if (status == IDFZIP_OK && img->trns_size > 0)
        status = write_chunk(b, "tRNS", img->trns, img->trns_size);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Writing, part 3: IDAT as a deflate stream cut into chunks                */
/* ------------------------------------------------------------------------ */

/* deflate writes straight into the output buffer, inside an open IDAT whose
 * length and CRC are filled in when it is closed. */
typedef struct idat_writer {
    z_stream zs;
    byte_buf *out;
    size_t chunk_start; /* offset of the open IDAT's length field */
    int chunk_open;
} idat_writer;

static size_t idat_data_length(const idat_writer *w)
{
    return w->out->size - w->chunk_start - 8;
}

static int idat_close_chunk(idat_writer *w)
{
    int status = buf_reserve(w->out, 4);
    if (status != IDFZIP_OK)
        return status;
    put_u32be(w->out->data + w->chunk_start, (uint32_t)idat_data_length(w));
    buf_put_u32(w->out, crc_of_stored_chunk(w->out, w->chunk_start + 4));
    w->chunk_open = 0;
    return IDFZIP_OK;
}

static int idat_open_chunk(idat_writer *w)
{
    int status = buf_reserve(w->out, 8);
    if (status != IDFZIP_OK)
        return status;
    w->chunk_start = w->out->size;
    buf_put_u32(w->out, 0); /* length, patched on close */
    buf_put(w->out, "IDAT", 4);
    w->chunk_open = 1;
    return IDFZIP_OK;
}

/* Ensures the open IDAT can take at least one more byte; *room is how many. */
static int idat_make_room(idat_writer *w, size_t *room)
{
    int status = IDFZIP_OK;
    if (w->chunk_open && idat_data_length(w) == PNGIO_IDAT_MAX)
        status = idat_close_chunk(w);
    if (status == IDFZIP_OK && !w->chunk_open)
        status = idat_open_chunk(w);
    if (status == IDFZIP_OK)
        status = buf_reserve(w->out, PNGIO_IDAT_MIN_ROOM);
    if (status != IDFZIP_OK)
        return status;
    size_t space = w->out->cap - w->out->size;
    size_t left_in_chunk = PNGIO_IDAT_MAX - idat_data_length(w);
    *room = space < left_in_chunk ? space : left_in_chunk;
    return IDFZIP_OK;
}

/* Runs deflate on the pending input until it is consumed (or, for
 * Z_FINISH, until the stream is complete). */
static int idat_run(idat_writer *w, int flush)
{
    while (flush == Z_FINISH || w->zs.avail_in > 0) {
        size_t room;
        int status = idat_make_room(w, &room);
        if (status != IDFZIP_OK)
            return status;
        w->zs.next_out = w->out->data + w->out->size;
        w->zs.avail_out = (uInt)room;
        int zret = deflate(&w->zs, flush);
        w->out->size += room - w->zs.avail_out;
        if (zret == Z_STREAM_ERROR)
            return IDFZIP_ERR_NOMEM; /* only a broken z_stream gets here */
        if (zret == Z_STREAM_END)
            return IDFZIP_OK;
    }
    return IDFZIP_OK;
}

static int idat_write(idat_writer *w, const uint8_t *data, size_t len)
{
    while (len > 0) {
        size_t piece = len < PNGIO_DEFLATE_IN_MAX ? len : PNGIO_DEFLATE_IN_MAX;
        w->zs.next_in = data;
        w->zs.avail_in = (uInt)piece;
        int status = idat_run(w, Z_NO_FLUSH);
        if (status != IDFZIP_OK)
            return status;
        data += piece;
        len -= piece;
    }
    return IDFZIP_OK;
}

static int idat_finish(idat_writer *w)
{
    w->zs.next_in = NULL;
    w->zs.avail_in = 0;
    int status = idat_run(w, Z_FINISH);
    if (status == IDFZIP_OK && w->chunk_open)
        status = idat_close_chunk(w);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Writing, part 4: scanlines and filters                                   */
/* ------------------------------------------------------------------------ */

/* Buffers for one row: the packed previous/current rows, and the filter
 * byte + filtered bytes of the best candidate so far and of the one tried. */
typedef struct row_state {
    size_t row_bytes;
    size_t bpp;          /* bytes per complete pixel, at least 1 (filters) */
    int adaptive;        /* try all five filters, else always filter 0 */
    uint8_t *prev, *cur;
    uint8_t *best, *trial;
    uint8_t *block;      /* the single allocation holding all four */
} row_state;

static size_t packed_row_bytes(const idfzip_image *img)
{
    uint64_t bits = (uint64_t)img->width * img->channels * img->bit_depth;
    return (size_t)((bits + 7) / 8);
}

static int row_state_init(row_state *rs, const idfzip_image *img)
{
    rs->row_bytes = packed_row_bytes(img);
    size_t pixel_bits = (size_t)img->channels * img->bit_depth;
    rs->bpp = pixel_bits < 8 ? 1 : pixel_bits / 8;
    /* libpng's advice: palette and sub-byte images compress best unfiltered */
    rs->adaptive = img->color_type != IDFZIP_COLOR_PALETTE && img->bit_depth >= 8;
    if (rs->row_bytes > (SIZE_MAX - 2) / 4)
        return IDFZIP_ERR_NOMEM;
    rs->block = (uint8_t *)calloc(4 * rs->row_bytes + 2, 1);
    if (rs->block == NULL)
        return IDFZIP_ERR_NOMEM;
    rs->prev = rs->block; /* all zero: the row above the first row */
    rs->cur = rs->prev + rs->row_bytes;
    rs->best = rs->cur + rs->row_bytes;
    rs->trial = rs->best + rs->row_bytes + 1;
    return IDFZIP_OK;
}

/* Packs one image row as PNG stores it: sub-byte samples MSB first, 16-bit
 * samples big-endian. */
static void pack_row(const idfzip_image *img, uint32_t y, uint8_t *dst,
                     size_t row_bytes)
{
    size_t n = (size_t)img->width * img->channels;
    const uint16_t *src = img->samples + (size_t)y * n;
    uint32_t depth = img->bit_depth;
    if (depth == 16) {
        for (size_t i = 0; i < n; i++) {
            dst[2 * i] = (uint8_t)(src[i] >> 8);
            dst[2 * i + 1] = (uint8_t)src[i];
        }
    } else if (depth == 8) {
        for (size_t i = 0; i < n; i++)
            dst[i] = (uint8_t)src[i];
    } else {
        memset(dst, 0, row_bytes); /* unused low bits of the last byte stay 0 */
        size_t per_byte = 8 / depth;
        for (size_t i = 0; i < n; i++) {
            unsigned shift = (unsigned)(8 - depth * (1 + i % per_byte));
            dst[i / per_byte] |= (uint8_t)(src[i] << shift);
        }
    }
}

static uint8_t paeth_predictor(uint8_t a, uint8_t b, uint8_t c)
{
    int p = (int)a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc)
        return a;
    return pb <= pc ? b : c;
}

/* dst[0] gets the filter type, dst[1..n] the filtered bytes. */
static void apply_filter(int type, const row_state *rs, uint8_t *dst)
{
    const uint8_t *x = rs->cur, *up = rs->prev;
    size_t n = rs->row_bytes, bpp = rs->bpp;
    uint8_t *out = dst + 1;
    dst[0] = (uint8_t)type;
    for (size_t i = 0; i < n; i++) {
        uint8_t left = i >= bpp ? x[i - bpp] : 0;
        uint8_t up_left = i >= bpp ? up[i - bpp] : 0;
        uint8_t pred;
        switch (type) {
        case 1: pred = left; break;
        case 2: pred = up[i]; break;
        case 3: pred = (uint8_t)(((unsigned)left + up[i]) / 2); break;
        case 4: pred = paeth_predictor(left, up[i], up_left); break;
        default: pred = 0; break;
        }
        out[i] = (uint8_t)(x[i] - pred);
    }
}

/* The usual heuristic: bytes read as signed, smaller magnitudes compress
 * better, so pick the filter with the least sum of absolute values. */
static uint64_t filtered_cost(const uint8_t *filtered, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += filtered[i] < 128 ? filtered[i] : 256u - filtered[i];
    return sum;
}

static void choose_filter(row_state *rs)
{
    apply_filter(0, rs, rs->best);
    if (!rs->adaptive)
        return;
    uint64_t best_cost = filtered_cost(rs->best + 1, rs->row_bytes);
    for (int type = 1; type <= 4; type++) {
        apply_filter(type, rs, rs->trial);
        uint64_t cost = filtered_cost(rs->trial + 1, rs->row_bytes);
        if (cost < best_cost) {
            uint8_t *t = rs->best;
            rs->best = rs->trial;
            rs->trial = t;
            best_cost = cost;
        }
    }
}

static int write_scanlines(idat_writer *w, const idfzip_image *img,
                           row_state *rs)
{
    for (uint32_t y = 0; y < img->height; y++) {
        pack_row(img, y, rs->cur, rs->row_bytes);
        choose_filter(rs);
        int status = idat_write(w, rs->best, rs->row_bytes + 1);
        if (status != IDFZIP_OK)
            return status;
        uint8_t *t = rs->prev;
        rs->prev = rs->cur;
        rs->cur = t;
    }
    return IDFZIP_OK;
}

static int write_idat(byte_buf *b, const idfzip_image *img)
{
    idat_writer w;
    memset(&w, 0, sizeof w);
    w.out = b;
    row_state rs;
    memset(&rs, 0, sizeof rs);
    int status = row_state_init(&rs, img);
    if (status != IDFZIP_OK)
        return status;
    int zret = deflateInit2(&w.zs, PNGIO_DEFLATE_LEVEL, Z_DEFLATED, 15, 9, Z_DEFAULT_STRATEGY);
    if (zret != Z_OK) {
        free(rs.block);
        return IDFZIP_ERR_NOMEM;
    }
    status = write_scanlines(&w, img, &rs);
    if (status == IDFZIP_OK)
        status = idat_finish(&w);
    deflateEnd(&w.zs);
    free(rs.block);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Writing, part 5: the file                                                */
/* ------------------------------------------------------------------------ */

static int write_png(byte_buf *b, const idfzip_image *img)
{
    int status = buf_reserve(b, sizeof pngio_signature);
    if (status != IDFZIP_OK)
        return status;
    buf_put(b, pngio_signature, sizeof pngio_signature);
    status = write_ihdr(b, img);
    if (status == IDFZIP_OK)
        status = write_chunks_at(b, img, IDFZIP_CHUNK_BEFORE_PLTE);
    if (status == IDFZIP_OK)
        status = write_plte_and_trns_parts(b, img);
    if (status == IDFZIP_OK)
        status = write_idat(b, img);
    if (status == IDFZIP_OK)
        status = write_chunks_at(b, img, IDFZIP_CHUNK_AFTER_IDAT);
    if (status == IDFZIP_OK)
        status = write_chunk(b, "IEND", NULL, 0);
    return status;
}

int png_io_validate(const idfzip_image *img)
{
    return image_writable(img) ? IDFZIP_OK : IDFZIP_ERR_ARG;
}

int png_io_write(const idfzip_image *img, uint8_t **out, size_t *out_size)
{
    if (out == NULL || out_size == NULL)
        return IDFZIP_ERR_ARG;
    *out = NULL;
    *out_size = 0;
    if (!image_writable(img))
        return IDFZIP_ERR_ARG;
    byte_buf b = {NULL, 0, 0};
    int status = write_png(&b, img);
    if (status != IDFZIP_OK) {
        free(b.data);
        return status;
    }
    *out = b.data;
    *out_size = b.size;
    return IDFZIP_OK;
}
