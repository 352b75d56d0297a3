/* bytes.h — reading and writing integers in byte buffers.
 *
 * Owns: the byte orders of the formats (little-endian .idf, .idfw and rANS
 * headers; big-endian PNG), a bounds-checked reader and a growing writer.
 * Both keep a sticky failure flag, so a parser or serialiser checks once at
 * the end instead of after every field.
 */
#ifndef IDFZIP_COMMON_BYTES_H
#define IDFZIP_COMMON_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

static inline uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Two's complement reinterpretation without implementation-defined casts. */
static inline int32_t get_le32_signed(const uint8_t *p)
{
    uint32_t v = get_le32(p);
    return v < 0x80000000u ? (int32_t)v : -(int32_t)(~v) - 1;
}

static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* ---- bounded reader: a read past the end returns NULL / 0 and sets failed ---- */

typedef struct byte_reader {
    const uint8_t *data;
    size_t pos, size;
    int failed;
} byte_reader;

static inline const uint8_t *byte_reader_take(byte_reader *r, size_t n)
{
    if (r->failed || n > r->size - r->pos) {
        r->failed = 1;
        return NULL;
    }
    const uint8_t *at = r->data + r->pos;
    r->pos += n;
    return at;
}

/* The next `bytes` (1..4) bytes as a little-endian number. */
static inline uint32_t byte_reader_le(byte_reader *r, unsigned bytes)
{
    const uint8_t *b = byte_reader_take(r, bytes);
    uint32_t v = 0;
    for (unsigned i = 0; b && i < bytes; i++)
        v |= (uint32_t)b[i] << (8 * i);
    return v;
}

/* ---- growing writer: capacity doubles; a failed allocation (or a size
 * that would overflow) sets failed, later writes do nothing, and the owner
 * frees buf either way ---- */

typedef struct byte_writer {
    uint8_t *buf;
    size_t size, cap;
    int failed;
} byte_writer;

/* Room for `extra` more bytes at buf + size: IDFZIP_OK or IDFZIP_ERR_NOMEM. */
static inline int byte_writer_reserve(byte_writer *w, size_t extra)
{
    if (w->failed)
        return IDFZIP_ERR_NOMEM;
    if (extra <= w->cap - w->size)
        return IDFZIP_OK;
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->size < extra && cap <= SIZE_MAX / 2)
        cap *= 2;
    uint8_t *grown = cap - w->size >= extra ? realloc(w->buf, cap) : NULL;
    if (!grown) {
        w->failed = 1;
        return IDFZIP_ERR_NOMEM;
    }
    w->buf = grown;
    w->cap = cap;
    return IDFZIP_OK;
}

static inline void byte_writer_put(byte_writer *w, const void *p, size_t n)
{
    if (n == 0 || byte_writer_reserve(w, n) != IDFZIP_OK)
        return;
    memcpy(w->buf + w->size, p, n);
    w->size += n;
}

/* The low `bytes` (1..4) bytes of v, least significant first. */
static inline void byte_writer_put_le(byte_writer *w, uint32_t v, unsigned bytes)
{
    uint8_t b[4];
    for (unsigned i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    byte_writer_put(w, b, bytes);
}

static inline void byte_writer_put_be32(byte_writer *w, uint32_t v)
{
    uint8_t b[4];
    put_be32(b, v);
    byte_writer_put(w, b, 4);
}

/* An unsigned LEB128 number of at most 5 bytes and 32 bits (.idf version
 * 2): 7 bits per byte, low first, the top bit set on every byte but the
 * last.  Reading a longer one, or one past 2^32 - 1, fails the reader. */
static inline uint32_t byte_reader_varint(byte_reader *r)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 5; i++) {
        const uint8_t *b = byte_reader_take(r, 1);
        if (!b)
            return 0;
        v |= (uint64_t)(*b & 0x7f) << (7 * i);
        if (!(*b & 0x80)) {
            if (v > UINT32_MAX || (i > 0 && *b == 0)) /* too big, or not the shortest form */
                break;
            return (uint32_t)v;
        }
    }
    r->failed = 1;
    return 0;
}

static inline void byte_writer_put_varint(byte_writer *w, uint32_t v)
{
    uint8_t b[5];
    unsigned n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    byte_writer_put(w, b, n);
}

#endif
