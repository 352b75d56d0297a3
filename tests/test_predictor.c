/* test_predictor.c — the predictor's exact tables (model/predictor.h):
 * every entry of the blend's weight table against the division it stands
 * for, as baseline-v2 and v3 files were written with that division. */
#include <stdint.h>

#include "../model/predictor.h"
#include "test_util.h"

int main(void)
{
    const uint32_t *w = pred_blend_weights();
    long wrong = 0;
    for (uint64_t e = 2; e < (1u << 16); e++)
        wrong += w[e] != ((uint64_t)1 << 32) / (e * e);
    CHECK(wrong == 0, "%ld blend weights differ from 2^32 / e^2", wrong);
    CHECK(pred_blend_weights() == w, "one table per process");
    return test_report("predictor");
}
