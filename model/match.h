/* match.h — the pixel stage of "match-v1" and "match-v2" (FORMAT.md).
 *
 * Owns: coding, before a pixel's samples, whether the pixel equals one of
 * its causal neighbours W, N, NW, NE (all channels at once) or a recently
 * seen colour, with adaptive binary decisions; and in match-v2, copies: a
 * run of pixels that repeats, in raster order, the pixels a distance back
 * (LZ77 on the tile's pixels: repeated glyphs, widgets, rows).  Screen
 * content, text, diagrams and sprites repeat themselves exactly most of the
 * time; such a pixel then costs a fraction of a bit instead of a sample's
 * DL per channel.  A pixel that is none of these is coded by the predictor
 * as baseline-v3 codes it.
 */
#ifndef IDFZIP_MATCH_H
#define IDFZIP_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "adaptive_code.h"
#include "model.h"

#define MATCH_CANDIDATES 4  /* W, N, NW, NE, the distinct ones in this order */
#define MATCH_CONTEXTS (MATCH_CANDIDATES * MATCH_CANDIDATES * 4)
/* match-v2 also tells apart which neighbours equal which (16 patterns). */
#define MATCH_V2_CONTEXTS (MATCH_CONTEXTS * 16)
#define MATCH_CACHE_BITS 8  /* a colour cache of 256 recent colours */
#define MATCH_CACHE (1u << MATCH_CACHE_BITS)
#define MATCH_RECENT 4      /* match-v2: copy distances remembered */
#define MATCH_HASH_BITS 16  /* match-v2 encoder: heads of the hash chains */
/* match-v2, palette images: an index tree of 256 nodes per index of W */
#define MATCH_INDEX_PROBABILITIES (256u * 256u)
#define MATCH_INDEX_CONTEXT_PIXELS 16384u /* a smaller tile has one tree */

/* What the coder knows of the copy it is in (match-v2). */
typedef struct match_copy {
    uint32_t remaining;              /* pixels of the copy still to come */
    uint32_t distance;               /* in raster pixels of the tile */
    uint32_t recent[MATCH_RECENT];   /* latest distances, most recent first */
    uint16_t p_copy[4];              /* P(a copy starts | W, N matched) */
    uint16_t p_recent[MATCH_RECENT]; /* P(the distance is recent[r]) */
    uint16_t p_eg[3][ADAPTIVE_EG_BITS]; /* Exp-Golomb prefixes: rows, columns, length */
} match_copy;

/* The encoder's plan: where copies start (length 0: none), found before
 * the tile is coded (match_plan). */
typedef struct match_plan_store {
    uint32_t *length;   /* [pixels] */
    uint32_t *distance; /* [pixels] */
    int32_t *chain;     /* [pixels]: the previous position with the same hash */
    int32_t *head;      /* [1 << MATCH_HASH_BITS] */
} match_plan_store;

/* A tile's match state: the adaptive probabilities and which pixels so
 * far were matches (a context of later decisions). */
typedef struct match_state {
    uint16_t p1[MATCH_V2_CONTEXTS]; /* P(candidate k is the pixel), 1/2^15 */
    uint16_t p_cache[4];         /* P(in the colour cache | W, N matched) */
    uint16_t *p_index;           /* match-v2, palette: [W's index][the index
                                    tree's node], MATCH_INDEX_PROBABILITIES */
    uint8_t *matched;            /* [width * height] */
    uint8_t *skip;               /* encoder: [width * height], match_plan's */
    /* Colours seen so far, each at the slot its hash names (WebP's colour
     * cache): a pixel that is no neighbour but was seen recently costs a
     * decision and the slot instead of its samples. */
    int32_t cache[MATCH_CACHE][4];
    uint8_t cache_used[MATCH_CACHE];
    int copies;                  /* match-v2 */
    match_copy copy;
    match_plan_store plan;       /* encoder, match-v2 */
} match_state;

/* int32 words of work space a tile of `pixels` needs: the matched plane;
 * encoding, also the skip plane and with copies the plan. */
size_t match_space_words(size_t pixels, int copies, int encoding);

/* Starts a tile with `space` (match_space_words of it): every probability
 * at its start, no pixel matched, copies (match-v2) or not. */
void match_reset(match_state *m, int copies, const model_tile *t, int32_t *space, int encoding);

/* Codes whether pixel (x, y) of t equals one of its neighbours, continues
 * or starts a copy, or is a colour of the cache: returns 1 when it does
 * (decoding: its samples are then written), 0 when it does not (its
 * samples are for the predictor), or a negative status:
 * IDFZIP_ERR_CORRUPT for an impossible stream, the coder's
 * (IDFZIP_ERR_NOMEM) when encoding fails. */
int match_code_pixel(match_state *m, model_tile *t, uint32_t x, uint32_t y, symbol_io *io);

/* Encoder: plans the copies (match-v2) and sets m->skip[i] = 1 for each
 * pixel the match stage will code (a neighbour, a copy or a cached
 * colour), so that the predictor fits its contexts to the other pixels.
 * Leaves m to be reset. */
void match_plan(match_state *m, const model_tile *t);

/* After pixel (x, y) is known, whichever way it was coded: its colour
 * enters the cache. */
void match_record_pixel(match_state *m, const model_tile *t, uint32_t x, uint32_t y);

#endif
