/* match.h — neighbour matches: the pixel hook of "match-v1" (FORMAT.md).
 *
 * Owns: coding, before a pixel's samples, whether the pixel equals one of
 * its causal neighbours W, N, NW, NE (all channels at once), with adaptive
 * binary decisions.  Screen content, text, diagrams and sprites repeat
 * their neighbours exactly most of the time; such a pixel then costs a
 * fraction of a bit instead of a sample's DL per channel.  A pixel that
 * matches none is coded by the predictor as baseline-v3 codes it.
 */
#ifndef IDFZIP_MATCH_H
#define IDFZIP_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define MATCH_CANDIDATES 4  /* W, N, NW, NE, the distinct ones in this order */
#define MATCH_CONTEXTS (MATCH_CANDIDATES * MATCH_CANDIDATES * 4)
#define MATCH_CACHE_BITS 8  /* a colour cache of 256 recent colours */
#define MATCH_CACHE (1u << MATCH_CACHE_BITS)

/* A tile's match state: the adaptive probabilities and which pixels so
 * far were matches (a context of later decisions). */
typedef struct match_state {
    uint16_t p1[MATCH_CONTEXTS]; /* P(candidate k is the pixel), 1/2^15 */
    uint16_t p_cache[4];         /* P(in the colour cache | W, N matched) */
    uint8_t *matched;            /* [width * height] */
    /* Colours seen so far, each at the slot its hash names (WebP's colour
     * cache): a pixel that is no neighbour but was seen recently costs a
     * decision and the slot instead of its samples. */
    int32_t cache[MATCH_CACHE][4];
    uint8_t cache_used[MATCH_CACHE];
} match_state;

/* Bytes of the matched plane for a tile of `pixels`. */
static inline size_t match_state_bytes(size_t pixels) { return pixels; }

/* Starts a tile: every probability at its start, no pixel matched. */
void match_reset(match_state *m, uint8_t *matched, size_t pixels);

/* Codes whether pixel (x, y) of t equals one of its neighbours or a colour
 * of the cache: returns 1 when it does (decoding: its samples are then
 * written), 0 when it does not (its samples are for the predictor), or a
 * negative status: IDFZIP_ERR_CORRUPT for an impossible stream, the
 * coder's (IDFZIP_ERR_NOMEM) when encoding fails. */
int match_code_pixel(match_state *m, model_tile *t, uint32_t x, uint32_t y, symbol_io *io);

/* Encoder: skip[i] = 1 for each pixel the match stage will code (a
 * neighbour or a cached colour), the decisions match_code_pixel makes, so
 * that the predictor fits its contexts to the other pixels.  Leaves m to
 * be reset. */
void match_plan(match_state *m, const model_tile *t, uint8_t *skip);

/* After pixel (x, y) is known, whichever way it was coded: its colour
 * enters the cache. */
void match_record_pixel(match_state *m, const model_tile *t, uint32_t x, uint32_t y);

#endif
