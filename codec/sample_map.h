/* sample_map.h — the reversible maps between a PNG's samples and the
 * samples a model codes (.idf version 3, FORMAT.md "Sample map").
 *
 * Owns: choosing a map for an image, applying it before coding and undoing
 * it after decoding, and the checks a decoder makes on a map it read.  Two
 * maps, either or both:
 *
 * - palette order: a palette image's indices are coded as their ranks in
 *   an order of the palette, so that a model that predicts values (the AR
 *   priors, baseline-v3) sees neighbouring colours as neighbouring
 *   numbers; the PLTE itself is kept as it is.  Luma order follows from
 *   the palette and costs no bytes; an order the encoder found better
 *   (sorted by green first, say, in a green image) is sent, a byte per
 *   entry.
 * - scaled samples: each channel's samples are a multiple of its scale
 *   (their greatest common divisor): 8-bit data in a 16-bit PNG (x 257),
 *   10- or 12-bit data shifted to 16 bits (x 64, x 16).  The model codes
 *   sample / scale, at 8 bits where every quotient fits.
 *
 * Integer arithmetic only; the decoder recomputes the luma order exactly. */
#ifndef IDFZIP_SAMPLE_MAP_H
#define IDFZIP_SAMPLE_MAP_H

#include <stdint.h>

#include "../include/idfzip.h"

#define SAMPLE_MAP_PALETTE_LUMA 1u  /* flags, bit 0 */
#define SAMPLE_MAP_SCALED 2u        /* flags, bit 1 */
#define SAMPLE_MAP_PALETTE_ORDER 4u /* flags, bit 2: the order is sent */
#define SAMPLE_MAP_PALETTE (SAMPLE_MAP_PALETTE_LUMA | SAMPLE_MAP_PALETTE_ORDER)
#define SAMPLE_MAP_FLAGS (SAMPLE_MAP_PALETTE | SAMPLE_MAP_SCALED)

typedef struct sample_map {
    uint32_t flags;
    uint32_t coded_depth; /* SCALED: 8 or 16, at most the image's depth */
    uint32_t scale[4];    /* SCALED: per channel, sample = coded * scale */
    uint8_t order[256];   /* PALETTE_ORDER: the palette index of each rank */
} sample_map;

/* The scale map of img (flags 0 when no channel has a common divisor
 * above 1, or the image is a palette image or under 8 bits deep). */
void sample_map_scale_of(const idfzip_image *img, sample_map *map);

/* The palette order for a model that predicts indices as values: luma
 * order, or a sent order when an integer estimate of the bits it saves
 * (the median predictor's residuals, on the ranks) exceeds its bytes.
 * flags 0 for an image that is not a palette image. */
void sample_map_palette_of(const idfzip_image *img, sample_map *map);

/* Whether a map read from a file fits an image of that colour type, bit
 * depth, channel count and palette size. */
int sample_map_valid(const sample_map *map, uint32_t color_type, uint32_t bit_depth,
                     uint32_t channels, uint32_t palette_size);

/* The image the model codes: img's fields with map's bit depth and, for a
 * palette in luma order, the palette and tRNS in that order; samples are a
 * new array (free with free(coded->samples)), chunks are not copied. */
int sample_map_forward(const idfzip_image *img, const sample_map *map, idfzip_image *coded);

/* Undoes the map in place on decoded samples (of the image described by
 * img, whose samples the model decoded at map's depth): IDFZIP_ERR_CORRUPT
 * when a sample cannot come from a PNG of img's kind. */
int sample_map_inverse(const sample_map *map, idfzip_image *img);

#endif
