/* freq_table.h — static frequency tables for the rANS coder.
 *
 * Owns: the cumulative-frequency layout and symbol lookup.  A table over
 * nsym symbols holds cum[0..nsym] with cum[0] = 0, cum[nsym] = RANS_PROB_SCALE
 * and cum[s+1] > cum[s] (every symbol codable, frequency >= 1).  The decoder
 * finds a symbol without a linear scan of the table: a guide array maps the
 * top FREQ_GUIDE_BITS bits of a slot to the first symbol that can hold it,
 * and a short forward walk from there finishes the search.
 */
#ifndef IDFZIP_FREQ_TABLE_H
#define IDFZIP_FREQ_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "rans.h"

#define FREQ_GUIDE_BITS 8
#define FREQ_GUIDE_SIZE (1u << FREQ_GUIDE_BITS)
#define FREQ_GUIDE_SHIFT (RANS_PROB_BITS - FREQ_GUIDE_BITS)

typedef struct freq_table {
    uint32_t nsym;
    uint16_t *cum;   /* nsym + 1 entries (points into caller's storage) */
    uint16_t *guide; /* FREQ_GUIDE_SIZE entries */
} freq_table;

/* Fills guide[] from cum[]; cum must already satisfy the invariants. */
void freq_table_build_guide(freq_table *t);

/* Checks the invariants: IDFZIP_OK, or IDFZIP_ERR_CORRUPT when broken. */
int freq_table_validate(const freq_table *t);

/* Turns counts (any non-negative values, at least one symbol) into a valid
 * table: every symbol gets frequency >= 1 and the total is RANS_PROB_SCALE.
 * nsym must be in 1..RANS_PROB_SCALE.  Fills t->cum (caller storage,
 * nsym + 1 entries) and the guide: IDFZIP_OK, or IDFZIP_ERR_ARG. */
int freq_table_from_counts(freq_table *t, const uint32_t *counts, uint32_t nsym);

/* The symbol whose interval holds slot (0 <= slot < RANS_PROB_SCALE). */
static inline uint32_t freq_table_find(const freq_table *t, uint32_t slot)
{
    uint32_t s = t->guide[slot >> FREQ_GUIDE_SHIFT];
    while (t->cum[s + 1] <= slot)
        s++;
    return s;
}

static inline void freq_table_encode(const freq_table *t, rans_encoder *enc,
                                     uint32_t sym)
{
    rans_encoder_put(enc, t->cum[sym], t->cum[sym + 1] - t->cum[sym]);
}

static inline uint32_t freq_table_decode(const freq_table *t, rans_decoder *dec)
{
    uint32_t s = freq_table_find(t, rans_decoder_peek(dec));
    rans_decoder_advance(dec, t->cum[s], t->cum[s + 1] - t->cum[s]);
    return s;
}

#endif
