/* freq_table.c — building and checking the static tables of freq_table.h.
 *
 * Integer arithmetic only, so that encoder and decoder build bit-identical
 * tables from the same counts on any platform.
 */
#include "freq_table.h"

_Static_assert(FREQ_GUIDE_BITS <= RANS_PROB_BITS, "guide finer than the slots");
_Static_assert(RANS_PROB_SCALE - 1 <= UINT16_MAX,
               "a symbol index must fit a guide entry");

void freq_table_build_guide(freq_table *t)
{
    /* Slots of successive guide entries increase, so one forward walk over
     * the symbols serves every entry: O(nsym + FREQ_GUIDE_SIZE). */
    uint32_t s = 0;
    for (uint32_t g = 0; g < FREQ_GUIDE_SIZE; g++) {
        uint32_t slot = g << FREQ_GUIDE_SHIFT;
        while (t->cum[s + 1] <= slot)
            s++;
        t->guide[g] = (uint16_t)s;
    }
}

/* Only cum[] is checked: the guide is derived from it by
 * freq_table_build_guide(), which is what a reader calls after validating. */
int freq_table_validate(const freq_table *t)
{
    if (!t || !t->cum || t->nsym < 1 || t->nsym > RANS_PROB_SCALE)
        return IDFZIP_ERR_CORRUPT;
    if (t->cum[0] != 0 || t->cum[t->nsym] != RANS_PROB_SCALE)
        return IDFZIP_ERR_CORRUPT;
    for (uint32_t s = 0; s < t->nsym; s++) {
        if (t->cum[s + 1] <= t->cum[s])
            return IDFZIP_ERR_CORRUPT;
    }
    return IDFZIP_OK;
}

/* Sum of counts; all-zero counts count as all ones (a flat table). */
static uint64_t counts_total(const uint32_t *counts, uint32_t nsym)
{
    uint64_t total = 0;
    for (uint32_t s = 0; s < nsym; s++)
        total += counts[s];
    return total;
}

int freq_table_from_counts(freq_table *t, const uint32_t *counts, uint32_t nsym)
{
    if (!t || !t->cum || !t->guide || !counts || nsym < 1 || nsym > RANS_PROB_SCALE)
        return IDFZIP_ERR_ARG;
    uint64_t total = counts_total(counts, nsym);
    int flat = total == 0;
    if (flat)
        total = nsym;

    /* Every symbol gets 1; the spare M - nsym is shared in proportion to the
     * counts by rounding the cumulative shares, so the rounding errors never
     * add up and the last entry lands exactly on M.  prefix <= 2^47 and
     * spare < 2^15, so the product fits 64 bits. */
    uint64_t spare = RANS_PROB_SCALE - nsym;
    uint64_t prefix = 0;
    t->nsym = nsym;
    t->cum[0] = 0;
    for (uint32_t s = 0; s < nsym; s++) {
        prefix += flat ? 1 : counts[s];
        t->cum[s + 1] = (uint16_t)(s + 1 + prefix * spare / total);
    }
    freq_table_build_guide(t);
    return IDFZIP_OK;
}
