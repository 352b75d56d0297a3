/* palette_pack.c — a palette as raw bytes or deflated (see palette_pack.h). */
#include "palette_pack.h"

#include <string.h>
#include <zlib.h>

#include "../include/idfzip.h"

static void to_deltas(const uint8_t *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(in[i] - (i >= 3 ? in[i - 3] : 0));
}

static void from_deltas(uint8_t *b, size_t n)
{
    for (size_t i = 3; i < n; i++)
        b[i] = (uint8_t)(b[i] + b[i - 3]);
}

/* Raw deflate of in into out (at most cap bytes): its size, 0 when it does
 * not fit, -1 when zlib cannot start. */
static long deflate_raw(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (deflateInit2(&s, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    s.next_in = (Bytef *)in;
    s.avail_in = (uInt)n;
    s.next_out = out;
    s.avail_out = (uInt)cap;
    int st = deflate(&s, Z_FINISH);
    long size = st == Z_STREAM_END ? (long)(cap - s.avail_out) : 0;
    deflateEnd(&s);
    return size;
}

int palette_pack(const uint8_t *palette, uint32_t entries, palette_packed *out)
{
    const size_t n = 3 * (size_t)entries;
    out->coding = PALETTE_RAW;
    out->size = (uint32_t)n;
    memcpy(out->data, palette, n);
    uint8_t deltas[3 * 256], packed[PALETTE_PACK_MAX];
    to_deltas(palette, n, deltas);
    const uint8_t *input[2] = {palette, deltas};
    const uint32_t coding[2] = {PALETTE_DEFLATE, PALETTE_DEFLATE_DELTA};
    for (int k = 0; k < 2 && n > 0; k++) {
        long size = deflate_raw(input[k], n, packed, sizeof packed);
        if (size < 0)
            return IDFZIP_ERR_NOMEM;
        /* + 2: the varint of its length */
        if (size > 0 && (size_t)size + 2 < out->size + (out->coding == PALETTE_RAW ? 0 : 2)) {
            out->coding = coding[k];
            out->size = (uint32_t)size;
            memcpy(out->data, packed, (size_t)size);
        }
    }
    return IDFZIP_OK;
}

int palette_unpack(uint32_t coding, const uint8_t *data, size_t size, uint32_t entries,
                   uint8_t *palette)
{
    const size_t n = 3 * (size_t)entries;
    if (coding == PALETTE_RAW) {
        if (size != n)
            return IDFZIP_ERR_CORRUPT;
        memcpy(palette, data, n);
        return IDFZIP_OK;
    }
    if (coding != PALETTE_DEFLATE && coding != PALETTE_DEFLATE_DELTA)
        return IDFZIP_ERR_CORRUPT;
    z_stream s;
    memset(&s, 0, sizeof s);
    int st = inflateInit2(&s, -15);
    if (st != Z_OK)
        return st == Z_MEM_ERROR ? IDFZIP_ERR_NOMEM : IDFZIP_ERR_CORRUPT;
    s.next_in = (Bytef *)data;
    s.avail_in = (uInt)size;
    s.next_out = palette;
    s.avail_out = (uInt)n;
    st = inflate(&s, Z_FINISH);
    /* exactly one stream, all of data, exactly n bytes */
    int ok = st == Z_STREAM_END && s.avail_in == 0 && s.avail_out == 0;
    inflateEnd(&s);
    if (st == Z_MEM_ERROR)
        return IDFZIP_ERR_NOMEM;
    if (!ok)
        return IDFZIP_ERR_CORRUPT;
    if (coding == PALETTE_DEFLATE_DELTA)
        from_deltas(palette, n);
    return IDFZIP_OK;
}
