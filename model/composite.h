/* composite.h — a model made of two: in every tile, the colour planes
 * (grey or RGB) coded by one model, then the alpha plane by another.
 *
 * Owns: splitting a tile's planes between the two models, and the slot of
 * the pair (its name, CRC, tile size, which images it serves).  Which
 * pairs are built in is the registry's table (registry.c, COMPOSITES):
 * ar-rgba-mix is ar-icon-rgb-mix on RGB then ar-alpha-mix on alpha.  Alpha is
 * coded after the colour, as a grey plane of its own: an icon's alpha
 * (mostly 0 or 255, anti-aliased edges) is nothing like a photograph, so
 * it gets a net trained on alpha planes.
 */
#ifndef IDFZIP_COMPOSITE_H
#define IDFZIP_COMPOSITE_H

#include "model.h"

/* The pair's CRC: CRC32 of the two models' CRCs, 4 bytes each,
 * little-endian, colour first (what names the pair in a file). */
uint32_t composite_crc(uint32_t colour_crc, uint32_t alpha_crc);

/* A model called name of colour (for colour_channels, 1 or 3) and alpha
 * (1 channel), which must have the same tile size.  It owns colour_owned and
 * alpha_owned (either may be NULL: a built-in model that is not freed) from
 * the call on, also when it fails.  IDFZIP_OK, IDFZIP_ERR_NOMEM, or
 * IDFZIP_ERR_MODEL when the two do not fit together. */
int composite_create(const char *name, uint32_t colour_channels, const idf_model *colour,
                     idf_model *colour_owned, const idf_model *alpha, idf_model *alpha_owned,
                     idf_model **out);

#endif
