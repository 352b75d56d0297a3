/* tile_coder.h — cuts an image into tiles and codes them in parallel.
 *
 * Owns: tile geometry, moving samples between the image and a model's
 * planes, one rANS stream per tile, the per-tile CRC, and the worker
 * threads.  Tiles are independent, so any thread count gives the same bytes.
 * Memory besides the image and the output is one tile buffer and one symbol
 * list per thread.
 */
#ifndef IDFZIP_TILE_CODER_H
#define IDFZIP_TILE_CODER_H

#include <stddef.h>
#include <stdint.h>

#include "../model/model.h"
#include "container.h"
#include "../include/idfzip.h"

typedef struct tile_plan {
    const idf_model *model;
    const dl_tables *dl;
    uint32_t tile_width, tile_height, tile_count;
    int threads;
    nn_kernel kernel;   /* conv kernel for the model's nets */
    uint32_t version;   /* of the .idf: 1 has a CRC per tile; 2 one per
                           file (checked by the container) and compact side
                           information (symbol_io) */
} tile_plan;

/* Codes every tile of img.  On success payload[i] (malloc'ed, caller frees
 * each and the array) and entries[i] describe tile i. */
int tiles_encode(const tile_plan *plan, const idfzip_image *img,
                 uint8_t ***payload, idf_tile_entry **entries);

/* Decodes the tiles stored back to back at data into img->samples, which
 * must be allocated; entries give each tile's size and CRC. */
int tiles_decode(const tile_plan *plan, const uint8_t *data,
                 const idf_tile_entry *entries, idfzip_image *img);

#endif
