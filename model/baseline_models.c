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

/* v2, v3 and match-v1 are the predictor under three configurations: the
 * slot comes first, so the coder finds its configuration from the slot. */
typedef struct predictor_entry {
    idf_model slot;
    pred_config cfg;
} predictor_entry;

static int predictor_entry_code_tile(const idf_model *m, model_tile *t, symbol_io *io)
{
    return predictor_code_tile(&((const predictor_entry *)m)->cfg, t, io);
}

#define PREDICTOR_ENTRY(model_name, luma, ...)                                             \
    {{.name = model_name, .tile_width = BASELINE_TILE, .tile_height = BASELINE_TILE,       \
      .family = MODEL_BASELINE, .luma_palette = luma, .serves = baseline_serves,           \
      .code_tile = predictor_entry_code_tile},                                             \
     {__VA_ARGS__}}

/* v2: the blend of eight fixed predictors. */
static const predictor_entry BASELINE_V2 = PREDICTOR_ENTRY("baseline-v2", 1, .lms = 0);
/* v3: six fixed predictors and two NLMS predictors in the blend. */
static const predictor_entry BASELINE_V3 = PREDICTOR_ENTRY("baseline-v3", 1, .lms = 1);
/* match-v1: v3, each pixel first coded as a match of a neighbour or a
 * recent colour where it is one (match.h): screen content and sprites. */
static const predictor_entry MATCH_V1 = PREDICTOR_ENTRY("match-v1", 0, .lms = 1, .match = 1);
/* match-v2: match-v1 with copies of earlier runs of pixels (match.h), in
 * tiles as wide as most screenshots, so that a copy reaches across the
 * screen: a repeated word or widget is one copy. */
static const predictor_entry MATCH_V2 = {
    {.name = "match-v2", .tile_width = MATCH_V2_TILE_WIDTH, .tile_height = MATCH_V2_TILE_HEIGHT,
     .family = MODEL_BASELINE, .serves = baseline_serves, .code_tile = predictor_entry_code_tile},
    {.lms = 1, .match = 2}};

const idf_model *baseline_v2_model(void)
{
    return &BASELINE_V2.slot;
}

const idf_model *baseline_v3_model(void)
{
    return &BASELINE_V3.slot;
}

const idf_model *match_v1_model(void)
{
    return &MATCH_V1.slot;
}

const idf_model *match_v2_model(void)
{
    return &MATCH_V2.slot;
}
