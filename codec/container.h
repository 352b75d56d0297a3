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

#define IDF_MAGIC_SIZE 8
#define IDF_VERSION 1
#define IDF_MODE_CODED 0
#define IDF_MODE_STORED 1
#define IDF_MAX_CHUNKS 4096

typedef struct idf_tile_entry {
    uint32_t size, crc;
} idf_tile_entry;

/* The parsed header.  Chunk data and tile entries are owned by the header
 * (release with idf_header_free). */
typedef struct idf_header {
    uint32_t mode;
    uint32_t width, height, channels, bit_depth, color_type;
    char model_name[IDFZIP_MODEL_NAME_MAX + 1];
    uint32_t model_crc;
    uint32_t tile_width, tile_height;
    uint32_t palette_size;
    uint8_t palette[256 * 3];
    uint32_t trns_size;
    uint8_t trns[256];
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

/* Serialises h (tiles or stored fields filled in) followed by nothing: the
 * caller appends the payload.  *out is malloc'ed. */
int idf_header_write(const idf_header *h, uint8_t **out, size_t *out_size);

/* Parses and checks the header of a whole file: magic, version, fields,
 * header CRC, pixel limit (0: default), and that the payload sizes add up to
 * exactly the rest of the file.  On error h owns nothing. */
int idf_header_read(const uint8_t *data, size_t size, uint64_t max_pixels,
                    idf_header *h);

void idf_header_free(idf_header *h);

#endif
