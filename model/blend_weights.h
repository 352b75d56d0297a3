/* blend_weights.h — the weights of baseline-v3's and the AR prior's blend
 * of predictors (predictor.c): a member whose nearby errors sum to n
 * weighs floor(2^32 / (n + 1)^2), read from this table. */
#ifndef IDFZIP_BLEND_WEIGHTS_H
#define IDFZIP_BLEND_WEIGHTS_H

#include <stdint.h>

#define PRED_BLEND_WEIGHTS (1u << 16)

/* Entry e (2 <= e < 2^16) is floor(2^32 / e^2); entries 0 and 1 are 0. */
extern const uint32_t pred_blend_weight_table[PRED_BLEND_WEIGHTS];

#endif
