/* predictor.h — the shared predictor of baseline-v2, baseline-v3 and the
 * learned AR prior (FORMAT.md is the exact definition).
 *
 * Owns: predicting each sample of a tile from its causal neighbourhood and
 * coding it, in both directions:
 *   - the mean is a blend of eight predictions weighted 2^32/e^2 by their
 *     errors at W, N, NW, NE (v2: eight fixed predictors; v3 and the AR
 *     prior: six of them and two NLMS predictors, a fast and a slow weight
 *     set that learn across the tile);
 *   - a fractional cross-channel weight, chosen per tile: channel c is
 *     predicted on the plane D = 4c - k*ref (k = 0..4, ref = green), i.e.
 *     "subtract k/4 of green";
 *   - 72 contexts: the local activity plus nearby misses, and how far the
 *     reference channel's sample at the same pixel missed its own
 *     prediction, each with a scale and a bias the encoder fits per tile
 *     and sends (predictor_search.c chooses and fits; only the encoder
 *     runs it).
 * Each sample's prior is its context's DL, unless a model plugs in a
 * pred_hook (the AR prior, ar_prior.c) that gives each sample its own.
 * Means are in 1/16; everything is integer arithmetic, identical in encoder
 * and decoder.
 */
#ifndef IDFZIP_PREDICTOR_H
#define IDFZIP_PREDICTOR_H

#include <stddef.h>
#include <stdint.h>

#include "adaptive_code.h"
#include "blend_weights.h"
#include "kernels/lms_avx2.h"
#include "model.h"

#define PRED_TILE 256
#define PRED_MAX_CHANNELS 4
#define PRED_FIXED 8               /* fixed predictors; number PRED_FIXED is their blend */
#define PRED_PREDICTORS (PRED_FIXED + 1)
#define PRED_PREDICTOR_BITS 4
#define PRED_WEIGHTS 5             /* k = 0 .. 4 quarters of the reference */
#define PRED_ACTIVITY 24
#define PRED_SURPRISE 3
#define PRED_CONTEXTS (PRED_ACTIVITY * PRED_SURPRISE)
#define PRED_SCALE_BITS 7
#define PRED_BIAS_BITS 9
#define PRED_BIAS_LIMIT 255
#define PRED_ERR_DIV 8
#define PRED_TRIAL_ROWS 64         /* the encoder picks k on this many rows */
/* The encoder's memo of what a residual costs at each scale: residuals
 * (x16) within +-PRED_COST_REACH, 96 KiB (a reach of 1024 was no faster
 * on photos and four times the memory every small image allocates). */
#define PRED_COST_REACH 256
#define PRED_COST_SPAN (2 * PRED_COST_REACH + 1)
#define PRED_COST_SCALES DL_NUM_SCALES
#define PRED_COST_UNKNOWN 0xFFFFu /* every byte 0xFF: rows are set up by memset */

typedef struct pred_choice {
    uint8_t predictor;           /* 0 .. PRED_PREDICTORS-1 */
    uint8_t weight;              /* k: quarters of the reference subtracted */
} pred_choice;

/* One channel's side information for a tile: its choice, and per context
 * whether it occurs, its scale index and its mean bias (1/16). */
typedef struct pred_fit {
    pred_choice choice;
    uint8_t used[PRED_CONTEXTS];
    uint8_t scale[PRED_CONTEXTS];
    int32_t bias16[PRED_CONTEXTS];
} pred_fit;

/* The adaptive state of the compact side information (.idf version 2),
 * shared by a tile's channels. */
typedef struct pred_fit_coder {
    uint16_t used[2];                 /* P(used | the previous context used) */
    uint16_t scale[ADAPTIVE_EG_BITS]; /* the scale's change from the last used context */
    uint16_t bias[ADAPTIVE_EG_BITS];  /* the bias, zigzag */
} pred_fit_coder;

/* Causal neighbours on plane D, replicated where they fall outside:
 * W, N, NW, NE, WW, NN, NEE. */
enum { NB_W, NB_N, NB_NW, NB_NE, NB_WW, NB_NN, NB_NEE, NB_COUNT };

/* The NLMS predictors' state (v3 and the AR prior): two weight sets over
 * the same inputs (predictor.c). */
#define LMS_TAPS 10
#define LMS_SETS 2
typedef struct pred_lms {
    /* LMS_KERNEL_TAPS (kernels/lms_avx2.h): the taps, then zeros */
    int32_t w[LMS_SETS][LMS_KERNEL_TAPS];
    int32_t in[LMS_KERNEL_TAPS]; /* the inputs of the last prediction, for its update */
    int32_t pred16[LMS_SETS]; /* and its predictions */
} pred_lms;


/* What coding a channel leaves behind for the contexts and the blend of
 * later samples, in raster order. */
typedef struct pred_trace {
    pred_lms *lms;     /* v3 and the AR prior */
    int32_t *ctx;      /* [plane]: each sample's context (encoder) */
    int32_t *miss;     /* [plane]: sample x16 minus its mean */
    int32_t *d;        /* [plane]: each recorded sample on plane D (the
                          neighbours of later ones, read once each) */
    int32_t *err;      /* [2][width][PRED_FIXED]: |D x16 - fixed prediction i| */
} pred_trace;

/* What predicting one sample gives its coding, its record and the AR
 * prior's features. */
typedef struct pred_sample {
    int32_t mean16;             /* 1/16 sample units */
    uint32_t ctx;
    int32_t fixed[PRED_FIXED];  /* the blend's members, D x16 (blend only) */
    uint32_t near[PRED_FIXED];  /* their errors nearby (blend only) */
    int32_t nb[NB_COUNT];       /* the causal neighbours on plane D */
    uint64_t near_miss;         /* sum of |miss| at W, N, NW, NE of this channel */
    int32_t ref16;              /* 16 k ref: D x16 + ref16 is 4 x sample x16 */
} pred_sample;

/* What codes one sample: one DL (k = 1) or a mixture of two. */
typedef struct pred_prior {
    uint32_t k;
    int32_t mean16[2], scale[2];
    uint16_t weight[2];
} pred_prior;

/* Codes value (encoding; decoding: returns the decoded one) under prior pr,
 * whose values lie in 0 .. maxval. */
static inline int32_t pred_code_value(symbol_io *io, int32_t value, const pred_prior *pr,
                                      int32_t maxval)
{
    return pr->k == 1 ? symbol_io_latent(io, value, pr->mean16[0], (uint32_t)pr->scale[0])
                      : symbol_io_mixture(io, value, pr->mean16, pr->scale, pr->weight, pr->k,
                                          maxval);
}

/* Where one sample stands when its prior is asked for. */
typedef struct pred_at {
    uint32_t c, x, y;
    const pred_fit *fit;        /* its channel's */
    const pred_trace *traces;   /* every channel's */
    const pred_sample *p;       /* its prediction */
} pred_at;

typedef struct pred_tile pred_tile;
struct match_state;

/* A model that gives each sample its own prior (the AR prior). */
typedef struct pred_hook {
    const void *ctx;              /* the model's own (the AR prior's net) */
    size_t scratch;               /* int32 elements of scratch it needs */
    int every_channel_blends;     /* a tile whose channels do not all blend,
                                     or that is not grey or RGB, is corrupt */
    /* Replaces pr, which holds the context's DL on entry. */
    void (*sample_prior)(const struct pred_hook *h, const pred_tile *bt, const pred_at *at,
                         symbol_io *io, int32_t *scratch, pred_prior *pr);
    /* Encoder, optional (0 / NULL: none).  The encoder's fitting pass
     * predicts every sample exactly as the coding pass will (a prediction
     * does not depend on the fits), so a hook may keep what it needs of
     * each prediction there (observe: cache_values int16 per sample, at->fit
     * NULL) and code the tile from that cache (encode_cached) instead of
     * predicting every sample a second time.  Same bytes either way. */
    uint32_t cache_values;
    void (*observe)(const pred_tile *bt, const pred_at *at, int16_t *cache);
    int (*encode_cached)(const struct pred_hook *h, const pred_tile *bt, const uint32_t *order,
                         const pred_fit *fits, int32_t *scratch, symbol_io *io);
} pred_hook;

/* What tells the users of the predictor apart. */
typedef struct pred_config {
    uint8_t lms;          /* the blend's last two members are the NLMS predictors */
    uint8_t quick_weight; /* encoder: k by the quick MED residual (the AR prior) */
    uint8_t match;        /* each pixel first says whether it equals a neighbour
                             (match.h): 1 as match-v1, 2 as match-v2 (copies) */
    const pred_hook *hook;/* NULL: each sample's prior is its context's DL */
} pred_config;

/* The tile plus what every prediction needs. */
struct pred_tile {
    const model_tile *t;
    size_t plane;
    int32_t mid;
    int lms;
    int quick_weight;    /* encoder: choose k by the quick MED residual */
    const dl_tables *dl; /* encoder: what coding costs */
    int32_t *members;    /* encoder: [plane], samples grouped by context */
    const uint32_t *blend_weights; /* pred_blend_weight_table */
    const uint8_t *skip; /* encoder, match-v1: [plane], pixels the match stage
                            codes, left out of the context fits; else NULL */
    int compact_side;    /* encoder: the fits are coded compactly (symbol_io) */
    int lean;            /* match-v2: a matched pixel is not predicted, and
                            recorded as a perfect prediction (pred_record_matched) */
    nn_kernel kernel;    /* the SIMD kernels a hook may use (symbol_io.kernel) */
    uint16_t *costs;     /* encoder: PRED_COST_SCALES x PRED_COST_SPAN costs
                            (predictor_search.c), PRED_COST_UNKNOWN until asked */
    uint8_t *cost_rows;  /* encoder: [PRED_COST_SCALES], 1 where that scale's
                            row of costs is set up (0 at the start of a tile) */
    int32_t *kept;       /* encoder, trials of k on a tile of at most
                            PRED_TRIAL_ROWS rows: [2][plane], the best trial's
                            misses and contexts (predictor_search.c); else NULL */
    const pred_hook *observer; /* encoder: the hook whose cache the fitting pass fills */
    int16_t *cache;      /* encoder: [channel][plane][observer->cache_values], or NULL */
};

/* Codes tile t with the predictor configured by cfg: IDFZIP_OK or a status
 * (model.h, code_tile). */
int predictor_code_tile(const pred_config *cfg, model_tile *t, symbol_io *io);

/* ---- for predictor_search.c (the encoder's choices) and the hooks ---- */

/* The reference channel of c (green for red and blue), or -1. */
static inline int32_t pred_reference_of(uint32_t channels, uint32_t c)
{
    return (channels >= 3 && (c == 0 || c == 2)) ? 1 : -1;
}

/* Sample of plane D = 4*c - k*ref at (x, y), for in-tile coordinates. */
static inline int32_t pred_d_at(const pred_tile *bt, uint32_t c, int32_t ref, uint32_t k, int64_t x, int64_t y)
{
    const model_tile *t = bt->t;
    size_t i = (size_t)y * t->width + (size_t)x;
    int32_t v = 4 * t->samples[c * bt->plane + i];
    return ref >= 0 ? v - (int32_t)k * t->samples[(size_t)ref * bt->plane + i] : v;
}

/* Restarts the NLMS weights, as at the start of every tile. */
void pred_lms_reset(pred_lms *l);

/* The surprise part of sample i's context (0..2). */
uint32_t pred_surprise(const pred_trace *traces, uint32_t channels, uint32_t c, size_t i);

/* Mean and context of sample (x, y) of channel c into p.  surprise:
 * pred_surprise() of the sample; tr: the channel's trace so far. */
void pred_predict(const pred_tile *bt, uint32_t c, pred_choice ch, uint32_t surprise,
                  const pred_trace *tr, uint32_t x, uint32_t y, pred_sample *p);

/* Records sample (x, y) of channel c, now known, in its trace. */
void pred_record(const pred_tile *bt, uint32_t c, pred_choice ch, const pred_trace *tr,
                 uint32_t x, uint32_t y, const pred_sample *p);

/* match-v2: records pixel (x, y)'s sample in the channel's trace tr, coded by the match
 * stage and not predicted, as a prediction that missed by nothing: no
 * miss, no member's error, no NLMS update.  Nine tenths of a screenshot's
 * pixels are matched; predicting them took three quarters of the time. */
void pred_record_matched(const pred_tile *bt, uint32_t c, pred_choice ch, const pred_trace *tr,
                         uint32_t x, uint32_t y);

/* Sends (encoding) or receives (decoding) channel c's choice and fit:
 * IDFZIP_OK, or IDFZIP_ERR_CORRUPT for values no encoder sends. */
int pred_code_fit(symbol_io *io, const model_tile *t, uint32_t c, pred_fit *fit,
                  pred_fit_coder *coder);

/* Codes every sample of the tile in raster order, channels in order[]
 * within a pixel, each with its prior (the context's DL or cfg's hook,
 * given scratch); with match (cfg->match), a pixel that equals a
 * neighbour is coded as that match instead.  A status (model.h,
 * code_tile). */
int pred_code_samples(const pred_config *cfg, const pred_tile *bt, model_tile *t,
                      const uint32_t *order, const pred_fit *fits, const pred_trace *traces,
                      int32_t *scratch, struct match_state *match, symbol_io *io);

/* Encoder: chooses and fits every channel, in coding order (order[]). */
void pred_search_fit_all(const pred_tile *bt, const uint32_t *order, pred_fit *fits,
                         const pred_trace *traces);

#endif
