/* png_io.h — PNG files <-> idfzip_image.
 *
 * Owns: reading every PNG (bit depths 1..16; grey, grey+alpha, RGB, RGBA,
 * palette; interlaced or not; tRNS) with libpng, keeping samples exactly as
 * stored (no expansion, no gamma, palette indices kept), plus a byte-for-byte
 * copy of the ancillary chunks and where they stood; and writing a
 * non-interlaced PNG back with those chunks in their places.  The writer is
 * our own (libdeflate, zlib's crc32), so chunk order is under our control.
 * png_read.c reads, png_write.c writes, png_rules.c says what is valid; the
 * public wrappers idfzip_png_decode()/idfzip_png_encode() (image.c) call
 * these.
 */
#ifndef IDFZIP_PNG_IO_H
#define IDFZIP_PNG_IO_H

#include <stddef.h>
#include <stdint.h>

#include "../include/idfzip.h"

/* Decodes a PNG file in memory.  Checks width*height against max_pixels
 * (0: IDFZIP_DEFAULT_MAX_PIXELS) before allocating pixels.  Returns IDFZIP_OK,
 * IDFZIP_ERR_PNG, IDFZIP_ERR_LIMIT or IDFZIP_ERR_NOMEM; on error img is left
 * empty (all zero) and owns nothing. */
int png_io_read(const uint8_t *data, size_t size, uint64_t max_pixels,
                idfzip_image *img);

/* Encodes img as a PNG (IHDR, chunks placed by their `where`, PLTE, tRNS,
 * IDAT, IEND), deflating on up to `threads` threads (the bytes are the
 * same for any number).  Validates img first (IDFZIP_ERR_ARG for
 * impossible fields, e.g. samples out of range for bit_depth).  *out is
 * malloc'ed. */
int png_io_write(const idfzip_image *img, int threads, uint8_t **out, size_t *out_size);

/* Checks that img is a valid PNG image (the checks png_io_write makes):
 * IDFZIP_OK or IDFZIP_ERR_ARG. */
int png_io_validate(const idfzip_image *img);

/* The PNG chunk types copied verbatim (everything ancillary except tRNS,
 * which lives in idfzip_image.trns). */
int png_io_chunk_is_copied(const char type[4]);

#endif
