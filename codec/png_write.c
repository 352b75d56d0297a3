/* png_write.c — idfzip_image -> PNG bytes (contract in png_io.h).
 *
 * Our own encoder (zlib deflate + crc32), so that the ancillary chunks go
 * back exactly where they stood: IHDR, chunks before PLTE, PLTE and tRNS,
 * chunks before IDAT, IDAT (every row filtered, then deflated by
 * png_deflate and cut into chunks), chunks after IDAT, IEND.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h> /* crc32 */

#include "../common/bytes.h"
#include "png_deflate.h"
#include "png_io.h"
#include "png_rules.h"

/* Largest IDAT we write; big enough that chunk framing costs nothing. */
#define PNGIO_IDAT_MAX ((size_t)1 << 20)

/* ------------------------------------------------------------------------ */
/* Writing, part 2: output buffer and chunk framing                         */
/* ------------------------------------------------------------------------ */

/* Callers reserve first (byte_writer_reserve); these only copy. */
static void buf_put(byte_writer *b, const void *p, size_t n)
{
    if (n > 0)
        memcpy(b->buf + b->size, p, n);
    b->size += n;
}

static void buf_put_u32(byte_writer *b, uint32_t v)
{
    put_be32(b->buf + b->size, v);
    b->size += 4;
}

/* The CRC covers type and data, which sit back to back from `type_at`. */
static uint32_t crc_of_stored_chunk(const byte_writer *b, size_t type_at)
{
    uLong crc = crc32(0L, b->buf + type_at, 4);
    return (uint32_t)crc32(crc, b->buf + type_at + 4,
                           (uInt)(b->size - type_at - 4));
}

static int write_chunk(byte_writer *b, const char type[4], const uint8_t *data,
                       uint32_t length)
{
    int status = byte_writer_reserve(b, 12 + (size_t)length);
    if (status != IDFZIP_OK)
        return status;
    buf_put_u32(b, length);
    size_t type_at = b->size;
    buf_put(b, type, 4);
    buf_put(b, data, length);
    buf_put_u32(b, crc_of_stored_chunk(b, type_at));
    return IDFZIP_OK;
}

static int write_ihdr(byte_writer *b, const idfzip_image *img)
{
    uint8_t ihdr[13];
    put_be32(ihdr, img->width);
    put_be32(ihdr + 4, img->height);
    ihdr[8] = (uint8_t)img->bit_depth;
    ihdr[9] = (uint8_t)img->color_type;
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering */
    ihdr[12] = 0; /* not interlaced */
    return write_chunk(b, "IHDR", ihdr, sizeof ihdr);
}

static int write_chunks_at(byte_writer *b, const idfzip_image *img, uint8_t where)
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

static int write_plte_and_trns_parts(byte_writer *b, const idfzip_image *img)
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
    if (depth >= 8) {
        png_samples_to_bytes(src, n, depth, dst);
    } else {
        memset(dst, 0, row_bytes); /* unused low bits of the last byte stay 0 */
        size_t per_byte = 8 / depth;
        for (size_t i = 0; i < n; i++) {
            unsigned shift = (unsigned)(8 - depth * (1 + i % per_byte));
            dst[i / per_byte] |= (uint8_t)(src[i] << shift);
        }
    }
}

/* ---- the five filters ------------------------------------------------- *
 * Filtering only reads the unfiltered rows, so every byte is independent:
 * each filter is its own loop (no switch per byte), and with SSE2 (every
 * x86-64) sixteen bytes at a time.  The bytes are the same either way; the
 * plain loops are the reference and serve the first bpp bytes and the
 * tail.  Choosing filters was half the time of writing a PNG. */

static uint8_t paeth_predictor(uint8_t a, uint8_t b, uint8_t c)
{
    int p = (int)a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc)
        return a;
    return pb <= pc ? b : c;
}

/* out[i] = x[i] - the prediction of filter type, for i in from .. n-1;
 * left and up-left read 0 before the first pixel. */
static void filter_bytes(int type, const uint8_t *x, const uint8_t *up, size_t bpp, size_t from,
                         size_t n, uint8_t *out)
{
    for (size_t i = from; i < n; i++) {
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

#if defined(__SSE2__)
#include <emmintrin.h>

static __m128i load16(const uint8_t *p) { return _mm_loadu_si128((const __m128i *)p); }

/* Paeth on 8 pixels' bytes widened to int16: a (left), b (up), c (up-left). */
static __m128i paeth16(__m128i a, __m128i b, __m128i c)
{
    const __m128i pa = _mm_sub_epi16(b, c), pb = _mm_sub_epi16(a, c); /* |p - a|, |p - b| */
    const __m128i pc = _mm_add_epi16(pa, pb);                          /* |p - c| */
    const __m128i aa = _mm_max_epi16(pa, _mm_sub_epi16(_mm_setzero_si128(), pa));
    const __m128i ab = _mm_max_epi16(pb, _mm_sub_epi16(_mm_setzero_si128(), pb));
    const __m128i ac = _mm_max_epi16(pc, _mm_sub_epi16(_mm_setzero_si128(), pc));
    /* a where aa <= ab and aa <= ac; else b where ab <= ac; else c */
    const __m128i not_a = _mm_or_si128(_mm_cmpgt_epi16(aa, ab), _mm_cmpgt_epi16(aa, ac));
    const __m128i pick_c = _mm_cmpgt_epi16(ab, ac);
    const __m128i bc = _mm_or_si128(_mm_and_si128(pick_c, c), _mm_andnot_si128(pick_c, b));
    return _mm_or_si128(_mm_and_si128(not_a, bc), _mm_andnot_si128(not_a, a));
}

/* Filter type for bytes from .. n-1 (from >= bpp), sixteen at a time;
 * returns where the vectors stopped. */
static size_t filter_sse2(int type, const uint8_t *x, const uint8_t *up, size_t bpp, size_t from,
                          size_t n, uint8_t *out)
{
    const __m128i zero = _mm_setzero_si128();
    size_t i = from;
    for (; i + 16 <= n; i += 16) {
        const __m128i cur = load16(x + i), left = load16(x + i - bpp), above = load16(up + i);
        __m128i pred;
        switch (type) {
        case 1: pred = left; break;
        case 2: pred = above; break;
        case 3: /* floor((l + u) / 2) = avg rounded up, minus the odd bit of l ^ u */
            pred = _mm_sub_epi8(_mm_avg_epu8(left, above),
                                _mm_and_si128(_mm_xor_si128(left, above), _mm_set1_epi8(1)));
            break;
        default: {
            const __m128i corner = load16(up + i - bpp);
            const __m128i lo = paeth16(_mm_unpacklo_epi8(left, zero), _mm_unpacklo_epi8(above, zero),
                                       _mm_unpacklo_epi8(corner, zero));
            const __m128i hi = paeth16(_mm_unpackhi_epi8(left, zero), _mm_unpackhi_epi8(above, zero),
                                       _mm_unpackhi_epi8(corner, zero));
            pred = _mm_packus_epi16(lo, hi);
        }
        }
        _mm_storeu_si128((__m128i *)(out + i), _mm_sub_epi8(cur, pred));
    }
    return i;
}

/* Sum over bytes read as signed of their magnitudes: |b| as a byte is
 * min(b, -b) unsigned; psadbw adds them up. */
static uint64_t cost_sse2(const uint8_t *f, size_t n, size_t *done)
{
    __m128i sum = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m128i v = load16(f + i);
        const __m128i mag = _mm_min_epu8(v, _mm_sub_epi8(_mm_setzero_si128(), v));
        sum = _mm_add_epi64(sum, _mm_sad_epu8(mag, _mm_setzero_si128()));
    }
    *done = i;
    return (uint64_t)_mm_cvtsi128_si64(sum) + (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sum, sum));
}
#endif

/* dst[0] gets the filter type, dst[1..n] the filtered bytes. */
static void apply_filter(int type, const row_state *rs, uint8_t *dst)
{
    const uint8_t *x = rs->cur, *up = rs->prev;
    size_t n = rs->row_bytes, bpp = rs->bpp, from = bpp < n ? bpp : n;
    uint8_t *out = dst + 1;
    dst[0] = (uint8_t)type;
    if (type == 0) {
        memcpy(out, x, n);
        return;
    }
    filter_bytes(type, x, up, bpp, 0, from, out);
#if defined(__SSE2__)
    from = filter_sse2(type, x, up, bpp, from, n, out);
#endif
    filter_bytes(type, x, up, bpp, from, n, out);
}

/* The usual heuristic: bytes read as signed, smaller magnitudes compress
 * better, so pick the filter with the least sum of absolute values. */
static uint64_t filtered_cost(const uint8_t *filtered, size_t n)
{
    uint64_t sum = 0;
    size_t i = 0;
#if defined(__SSE2__)
    sum = cost_sse2(filtered, n, &i);
#endif
    for (; i < n; i++)
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

/* Every row, filtered, into filtered (height x (1 + row_bytes) bytes):
 * the zlib stream's input. */
static void filter_rows(const idfzip_image *img, row_state *rs, uint8_t *filtered)
{
    for (uint32_t y = 0; y < img->height; y++) {
        pack_row(img, y, rs->cur, rs->row_bytes);
        choose_filter(rs);
        memcpy(filtered + (size_t)y * (rs->row_bytes + 1), rs->best, rs->row_bytes + 1);
        uint8_t *t = rs->prev;
        rs->prev = rs->cur;
        rs->cur = t;
    }
}

/* The zlib stream cut into IDAT chunks of at most PNGIO_IDAT_MAX bytes. */
static int write_idat_chunks(byte_writer *b, const uint8_t *z, size_t size)
{
    int status = IDFZIP_OK;
    for (size_t at = 0; status == IDFZIP_OK && at < size; at += PNGIO_IDAT_MAX) {
        size_t n = size - at < PNGIO_IDAT_MAX ? size - at : PNGIO_IDAT_MAX;
        status = write_chunk(b, "IDAT", z + at, (uint32_t)n);
    }
    return status;
}

/* Deflates filtered (n bytes) as one zlib stream into IDAT chunks. */
static int deflate_to_idat(byte_writer *b, const uint8_t *filtered, size_t n, int threads)
{
    uint8_t *z = NULL;
    size_t size = 0;
    int status = png_deflate(filtered, n, threads, &z, &size);
    if (status == IDFZIP_OK)
        status = write_idat_chunks(b, z, size);
    free(z);
    return status;
}

static int write_idat(byte_writer *b, const idfzip_image *img, int threads)
{
    row_state rs;
    memset(&rs, 0, sizeof rs);
    int status = row_state_init(&rs, img);
    if (status != IDFZIP_OK)
        return status;
    size_t n = (size_t)img->height * (rs.row_bytes + 1); /* fits: validated */
    uint8_t *filtered = malloc(n);
    if (filtered) {
        filter_rows(img, &rs, filtered);
        status = deflate_to_idat(b, filtered, n, threads);
    }
    free(filtered);
    free(rs.block);
    return filtered ? status : IDFZIP_ERR_NOMEM;
}

/* ------------------------------------------------------------------------ */
/* Writing, part 5: the file                                                */
/* ------------------------------------------------------------------------ */

static int write_png(byte_writer *b, const idfzip_image *img, int threads)
{
    int status = byte_writer_reserve(b, sizeof png_signature);
    if (status != IDFZIP_OK)
        return status;
    buf_put(b, png_signature, sizeof png_signature);
    status = write_ihdr(b, img);
    if (status == IDFZIP_OK)
        status = write_chunks_at(b, img, IDFZIP_CHUNK_BEFORE_PLTE);
    if (status == IDFZIP_OK)
        status = write_plte_and_trns_parts(b, img);
    if (status == IDFZIP_OK)
        status = write_idat(b, img, threads);
    if (status == IDFZIP_OK)
        status = write_chunks_at(b, img, IDFZIP_CHUNK_AFTER_IDAT);
    if (status == IDFZIP_OK)
        status = write_chunk(b, "IEND", NULL, 0);
    return status;
}
int png_io_write(const idfzip_image *img, int threads, uint8_t **out, size_t *out_size)
{
    if (out == NULL || out_size == NULL)
        return IDFZIP_ERR_ARG;
    *out = NULL;
    *out_size = 0;
    if (!png_image_writable(img))
        return IDFZIP_ERR_ARG;
    byte_writer b = {NULL, 0, 0, 0};
    int status = write_png(&b, img, threads);
    if (status != IDFZIP_OK) {
        free(b.buf);
        return status;
    }
    *out = b.buf;
    *out_size = b.size;
    return IDFZIP_OK;
}
