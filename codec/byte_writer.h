/* byte_writer.h — a growing little-endian byte buffer.
 *
 * Owns: appending bytes and little-endian integers to a heap buffer that
 * doubles as needed.  Used by the .idf container writer and by the test
 * tools that build .idfw files.  A failed allocation (or a size that would
 * overflow) sets `failed`; later puts do nothing, and the caller checks
 * `failed` once at the end and frees `buf` either way.
 */
#ifndef IDFZIP_BYTE_WRITER_H
#define IDFZIP_BYTE_WRITER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct byte_writer {
    uint8_t *buf;
    size_t size, cap;
    int failed;
} byte_writer;

static inline void byte_writer_put(byte_writer *w, const void *p, size_t n)
{
    if (w->failed)
        return;
    if (n > w->cap - w->size) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->size < n && cap <= SIZE_MAX / 2)
            cap *= 2;
        uint8_t *grown = cap - w->size >= n ? realloc(w->buf, cap) : NULL;
        if (!grown) {
            w->failed = 1;
            return;
        }
        w->buf = grown;
        w->cap = cap;
    }
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

#endif
