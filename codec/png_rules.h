/* png_rules.h — what the PNG specification allows, shared by the reader
 * (png_read.c), the writer (png_write.c) and the API's checks.
 *
 * Owns: the signature, the 31-bit limits, chunk type rules, the colour type
 * and bit depth table, the byte order of 8- and 16-bit samples, and the
 * validation of an idfzip_image as something a PNG can hold.
 */
#ifndef IDFZIP_PNG_RULES_H
#define IDFZIP_PNG_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "../include/idfzip.h"

extern const uint8_t png_signature[8];

/* PNG lengths and dimensions are 31-bit quantities. */
#define PNG_UINT31_MAX 0x7fffffffu
/* Total ancillary bytes we agree to copy out of one PNG; beyond this a file
 * is more metadata than image and we refuse it rather than hoard memory. */
#define PNG_MAX_CHUNK_BYTES ((size_t)64 << 20)

/* The PNG spec restricts chunk type bytes to ASCII letters. */
int png_chunk_type_is_valid(const char type[4]);

/* Channels implied by a PNG colour type, 0 for an unknown type. */
uint32_t png_channels_of_color_type(uint32_t color_type);

/* The bit depth / colour type pairs allowed by the PNG spec (table 11.1). */
int png_depth_is_legal(uint32_t color_type, uint32_t bit_depth);

/* Samples in the image, or 0 when width*height*channels (as uint16_t) would
 * not fit in memory at all; callers have already ensured every factor > 0. */
size_t png_sample_count_or_zero(uint32_t width, uint32_t height, uint32_t channels);

/* n samples as PNG stores them at 8 or 16 bits: one byte each, or two,
 * big-endian (below 8 bits, one byte each, unpacked); returns the bytes
 * written.  The reader's interlace rows, the writer's rows and the pixel
 * CRC of .idf files all use this order. */
size_t png_samples_to_bytes(const uint16_t *samples, size_t n, uint32_t bit_depth, uint8_t *out);

/* 1 when img is a valid PNG image (header, palette and tRNS, chunk places,
 * sample ranges), else 0. */
int png_image_writable(const idfzip_image *img);

#endif
