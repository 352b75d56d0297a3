/* baseline.h — the non-learned models, which serve every image of 1 to 4
 * channels and any bit depth (FORMAT.md is their exact definition):
 *
 *   baseline-v1  baseline_v1.c: the median edge detector with activity
 *                contexts; kept for the files that name it and for the edge
 *                strips of a flow's blocks
 *   baseline-v2  the predictor (predictor.c) with eight fixed predictors
 *                blended; kept for the files that name it
 *   baseline-v3  the predictor with two NLMS members in the blend: what new
 *                files use when no learned model serves the image
 *
 * Owns: their entries (baseline_models.c) and the small helpers both coders
 * share.  The formats depend on these exact definitions: change one and old
 * files stop decoding.
 */
#ifndef IDFZIP_BASELINE_H
#define IDFZIP_BASELINE_H

#include <stdint.h>

#include "model.h"

const idf_model *baseline_v1_model(void);
const idf_model *baseline_v2_model(void);
const idf_model *baseline_v3_model(void);
/* match-v1: baseline-v3 where a pixel that equals one of its neighbours W,
 * N, NW, NE is coded as that match (match.h): screen content and sprites. */
const idf_model *match_v1_model(void);
/* match-v2: match-v1 plus copies of earlier runs of pixels (match.h), in
 * tiles of 2048x512. */
#define MATCH_V2_TILE_WIDTH 2048
#define MATCH_V2_TILE_HEIGHT 1024
const idf_model *match_v2_model(void);

/* baseline-v1's coder (baseline_v1.c). */
int baseline_v1_code_tile(const idf_model *m, model_tile *t, symbol_io *io);

/* Half-octave log bucket of act: 0 for 0, else 1 + 2*floor(log2 act) + the
 * bit below the top one, capped at count - 1. */
static inline uint32_t base_log_bucket(uint32_t act, uint32_t count)
{
    if (act == 0)
        return 0;
#if defined(__GNUC__)
    uint32_t top = 31 - (uint32_t)__builtin_clz(act); /* no loop to mispredict */
#else
    uint32_t top = 31;
    while (!(act >> top))
        top--;
#endif
    uint32_t half = top ? (act >> (top - 1)) & 1 : 0;
    uint32_t b = 1 + 2 * top + half;
    return b < count ? b : count - 1;
}

#endif
