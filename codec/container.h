/* container.h — the .idf file layout (specified in FORMAT.md).
 *
 * Owns: serialising and parsing the header, and every check of its fields
 * against the file size and the pixel limit.  It does not code pixels.
 */
#ifndef IDFZIP_CONTAINER_H
#define IDFZIP_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#include "../include/idfzip.h"
#include "sample_map.h"

#define IDF_MAGIC_SIZE 8
#define IDF_VERSION 3      /* the newest; the encoder writes 2 when the file
                              needs no sample map, and 1 is still read */
#define IDF_MODE_CODED 0
#define IDF_MODE_STORED 1
#define IDF_MAX_CHUNKS 4096

typedef struct idf_tile_entry {
    uint32_t size, crc;
} idf_tile_entry;

/* The parsed header.  Chunk data and tile entries are owned by the header
 * (release with idf_header_free). */
typedef struct idf_header {
    uint32_t version;       /* 1, 2 or 3 (FORMAT.md) */
    uint32_t mode;
    uint32_t width, height, channels, bit_depth, color_type;
    uint32_t model_id;      /* version 2, 3: a built-in model's number, or 0 */
    char model_name[IDFZIP_MODEL_NAME_MAX + 1];
    uint32_t model_crc;
    uint32_t tile_width, tile_height;
    uint32_t palette_size;
    uint8_t palette[256 * 3];
    uint32_t trns_size;
    uint8_t trns[256];
    sample_map map;         /* version 3 (flags 0 in the others) */
    uint32_t chunk_count;
    idfzip_chunk *chunks;
    uint32_t tile_count;
    idf_tile_entry *tiles;  /* coded mode */
    uint32_t stored_size;   /* stored mode: bytes of the embedded PNG */
    uint32_t stored_crc;
    uint32_t pixel_crc;     /* over the decoded samples, see idf_pixel_crc */
    size_t header_size;     /* where the payload starts */
} idf_header;

/* Tiles across and down for the image and tile size (0 if either is 0). */
uint32_t idf_tiles_across(uint32_t width, uint32_t tile_width);
uint32_t idf_tile_count(uint32_t width, uint32_t height, uint32_t tw, uint32_t th);

/* CRC32 of the samples: 16-bit images as 2 bytes big-endian per sample,
 * others 1 byte per sample, in row-major interleaved order. */
uint32_t idf_pixel_crc(const idfzip_image *img);

/* The whole file: h (of its version, 1, 2 or 3; tile sizes or stored fields
 * filled in; in version 1 also the tile CRCs) and the payload, the `count`
 * pieces back to back.  *out is malloc'ed. */
int idf_file_write(const idf_header *h, uint8_t *const *pieces, const uint32_t *sizes,
                   uint32_t count, uint8_t **out, size_t *out_size);

/* Parses and checks the header of a whole file: magic, version, fields,
 * the header CRC (version 1) or the file CRC (versions 2, 3), pixel limit (0:
 * default), and that the payload sizes add up to exactly the rest of the
 * file.  A version 2 or 3 file naming a built-in model by number gets its name
 * and tile size from the registry's table.  On error h owns nothing. */
int idf_header_read(const uint8_t *data, size_t size, uint64_t max_pixels,
                    idf_header *h);

/* The same without a pixel limit and, after version 1, without the file CRC
 * (which covers the payload): what `idfzip info` shows of a file whose
 * payload may be damaged.  Decoding checks the CRC. */
int idf_header_peek(const uint8_t *data, size_t size, idf_header *h);

void idf_header_free(idf_header *h);

#endif
