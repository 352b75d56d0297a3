/* palette_pack.h — the PLTE as .idf version 3 stores it (FORMAT.md,
 * "Version 3"): its 3P bytes as they are, or a raw deflate stream of them
 * or of their differences, whichever is smallest.
 *
 * Owns: choosing the coding, packing and unpacking.  A palette written by
 * a tool in an order of its own (shades next to each other, a run of
 * unused black entries) packs to a fraction; a random one stays raw.  On
 * the held-out palette sprites the palettes went from 4,707 to about
 * 3,300 bytes, a tenth of those small files.
 */
#ifndef IDFZIP_PALETTE_PACK_H
#define IDFZIP_PALETTE_PACK_H

#include <stddef.h>
#include <stdint.h>

#define PALETTE_RAW 0u           /* 3P bytes */
#define PALETTE_DEFLATE 1u       /* raw deflate (RFC 1951) of the 3P bytes */
#define PALETTE_DEFLATE_DELTA 2u /* raw deflate of b[i] - b[i-3] mod 256 (b[-3..-1] = 0) */
#define PALETTE_PACK_MAX 1024u   /* larger than any packing that is kept */

typedef struct palette_packed {
    uint32_t coding;
    uint32_t size; /* bytes of data */
    uint8_t data[PALETTE_PACK_MAX];
} palette_packed;

/* The smallest coding of the palette's entries (RAW when no deflate is
 * smaller by more than the length field it needs).  IDFZIP_OK, or
 * IDFZIP_ERR_NOMEM when zlib cannot start. */
int palette_pack(const uint8_t *palette, uint32_t entries, palette_packed *out);

/* The entries back into palette (3 * entries bytes): IDFZIP_OK,
 * IDFZIP_ERR_CORRUPT unless data is one complete stream of exactly that
 * many bytes (or an unknown coding), IDFZIP_ERR_NOMEM. */
int palette_unpack(uint32_t coding, const uint8_t *data, size_t size, uint32_t entries,
                   uint8_t *palette);

#endif
