/* baseline_models.c — the entries of the non-learned models (baseline.h):
 * their names, tile size and coders. */
#include "baseline.h"
#include "predictor.h"

#define BASELINE_TILE 256
#define BASELINE_MAX_CHANNELS 4

static int baseline_serves(const idf_model *m, const model_image_kind *kind)
{
    (void)m;
    return kind->channels >= 1 && kind->channels <= BASELINE_MAX_CHANNELS;
}

static const idf_model BASELINE_V1 = {
    .name = "baseline-v1",
    .tile_width = BASELINE_TILE,
    .tile_height = BASELINE_TILE,
    .family = MODEL_BASELINE,
    .serves = baseline_serves,
    .code_tile = baseline_v1_code_tile,
};

const idf_model *baseline_v1_model(void)
{
    return &BASELINE_V1;
}

/* v2: the predictor's blend of eight fixed predictors. */
static int v2_code_tile(const idf_model *m, model_tile *t, symbol_io *io)
{
    static const pred_config V2 = {.lms = 0};
    (void)m;
    return predictor_code_tile(&V2, t, io);
}

static const idf_model BASELINE_V2 = {
    .name = "baseline-v2",
    .tile_width = BASELINE_TILE,
    .tile_height = BASELINE_TILE,
    .family = MODEL_BASELINE,
    .serves = baseline_serves,
    .code_tile = v2_code_tile,
};

const idf_model *baseline_v2_model(void)
{
    return &BASELINE_V2;
}

/* v3: six fixed predictors and two NLMS predictors in the blend. */
static int v3_code_tile(const idf_model *m, model_tile *t, symbol_io *io)
{
    static const pred_config V3 = {.lms = 1};
    (void)m;
    return predictor_code_tile(&V3, t, io);
}

static const idf_model BASELINE_V3 = {
    .name = "baseline-v3",
    .tile_width = BASELINE_TILE,
    .tile_height = BASELINE_TILE,
    .family = MODEL_BASELINE,
    .serves = baseline_serves,
    .code_tile = v3_code_tile,
};

const idf_model *baseline_v3_model(void)
{
    return &BASELINE_V3;
}

/* match-v1: v3, each pixel first coded as a match of a neighbour where it
 * is one (match.h): for screen content, diagrams, text and sprites. */
static int match_code_tile(const idf_model *m, model_tile *t, symbol_io *io)
{
    static const pred_config MATCH = {.lms = 1, .match = 1};
    (void)m;
    return predictor_code_tile(&MATCH, t, io);
}

static const idf_model MATCH_V1 = {
    .name = "match-v1",
    .tile_width = BASELINE_TILE,
    .tile_height = BASELINE_TILE,
    .family = MODEL_BASELINE,
    .serves = baseline_serves,
    .code_tile = match_code_tile,
};

const idf_model *match_v1_model(void)
{
    return &MATCH_V1;
}
