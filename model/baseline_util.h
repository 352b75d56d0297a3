/* baseline_util.h — small integer helpers shared by the non-learned models
 * (baseline.c, baseline2.c).  Both file formats depend on these exact
 * definitions: change one and old files stop decoding. */
#ifndef IDFZIP_BASELINE_UTIL_H
#define IDFZIP_BASELINE_UTIL_H

#include <stdint.h>

#include "../common/int_math.h"
#include "model.h"

/* Half-octave log bucket of act: 0 for 0, else 1 + 2*floor(log2 act) + the
 * bit below the top one, capped at count - 1. */
static inline uint32_t base_log_bucket(uint32_t act, uint32_t count)
{
    if (act == 0)
        return 0;
    uint32_t top = 31;
    while (!(act >> top))
        top--;
    uint32_t half = top ? (act >> (top - 1)) & 1 : 0;
    uint32_t b = 1 + 2 * top + half;
    return b < count ? b : count - 1;
}

/* Both baselines serve every image of 1 to 4 channels. */
int baseline_serves(const idf_model *m, const model_image_kind *kind);

#endif
