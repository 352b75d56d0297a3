/* baseline_util.h — small integer helpers shared by the non-learned models
 * (baseline.c, baseline2.c).  Both file formats depend on these exact
 * definitions: change one and old files stop decoding. */
#ifndef IDFZIP_BASELINE_UTIL_H
#define IDFZIP_BASELINE_UTIL_H

#include <stdint.h>

#include "model.h"

static inline int32_t base_abs32(int32_t v) { return v < 0 ? -v : v; }

static inline int32_t base_median3(int32_t a, int32_t b, int32_t c)
{
    int32_t lo = a < b ? a : b, hi = a < b ? b : a;
    return c < lo ? lo : (c > hi ? hi : c);
}

/* Rounded a / b for b > 0, halves away from zero, symmetric for negative a. */
static inline int64_t base_div_round(int64_t a, int64_t b)
{
    return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b);
}

/* v clamped to -limit .. limit. */
static inline int64_t base_clamp(int64_t v, int64_t limit)
{
    return v > limit ? limit : (v < -limit ? -limit : v);
}

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
