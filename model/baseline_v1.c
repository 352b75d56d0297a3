/* baseline_v1.c — the coder of "baseline-v1", the first non-learned model
 * (baseline.h), frozen for the files that name it and for the edge strips
 * of a flow's blocks.
 *
 * Flow: identity.  Prior: autoregressive within the tile, a fixed integer
 * predictor used as the mean (LOCO-I's median edge detector, optionally on
 * the difference to a reference channel, i.e. "subtract green" in predictive
 * form) and a scale picked by a local-activity context.  The encoder fits,
 * per tile and channel, a scale index and a mean bias for each context and
 * sends them (a few hundred bits per tile); the decoder reads them back, so
 * both sides use identical integers and nothing is adapted on the fly.
 */
#include <stdlib.h>
#include <string.h>

#include "../common/int_math.h"
#include "baseline.h"

#define BASE_CONTEXTS 40
#define BASE_SCALE_BITS 7
#define BASE_BIAS_BITS 8
#define BASE_BIAS_LIMIT 127
#define BASE_MAX_CHANNELS 4

typedef struct channel_fit {
    int cross;                   /* predict on the difference to ref */
    uint8_t used[BASE_CONTEXTS];
    uint8_t scale[BASE_CONTEXTS];
    int32_t bias16[BASE_CONTEXTS];
} channel_fit;

typedef struct context_stats {
    int64_t sum_abs[BASE_CONTEXTS], sum[BASE_CONTEXTS], count[BASE_CONTEXTS];
} context_stats;

/* Coding order and reference channel: colour channels lean on green. */
static const uint32_t ORDER_RGB[4] = {1, 0, 2, 3};
static const uint32_t ORDER_PLAIN[4] = {0, 1, 2, 3};

static int32_t reference_channel(uint32_t channels, uint32_t c)
{
    return (channels >= 3 && (c == 0 || c == 2)) ? 1 : -1;
}

/* West, north, north-west, north-east neighbours, replicated at borders. */
static void fetch_neighbours(const int32_t *plane, uint32_t w, uint32_t x,
                             uint32_t y, int32_t mid, int32_t nb[4])
{
    const int32_t *row = plane + (size_t)y * w;
    if (y == 0) {
        nb[0] = nb[1] = nb[2] = nb[3] = x ? row[x - 1] : mid;
        return;
    }
    const int32_t *up = row - w;
    nb[1] = up[x];
    nb[0] = x ? row[x - 1] : nb[1];
    nb[2] = x ? up[x - 1] : nb[1];
    nb[3] = x + 1 < w ? up[x + 1] : nb[1];
}

/* Context from the local gradient sum, on a half-octave log scale. */
static uint32_t activity_context(const int32_t nb[4])
{
    uint32_t act = (uint32_t)(abs32(nb[0] - nb[2]) + abs32(nb[1] - nb[2]) +
                              abs32(nb[3] - nb[1]));
    return base_log_bucket(act, BASE_CONTEXTS);
}

/* Integer prediction and context of sample (x, y) of channel c. */
static int32_t predict(const model_tile *t, uint32_t c, int cross, uint32_t x,
                       uint32_t y, uint32_t *ctx)
{
    size_t n = (size_t)t->width * t->height;
    int32_t mid = (int32_t)((t->maxval + 1) / 2), nb[4];
    fetch_neighbours(t->samples + c * n, t->width, x, y, mid, nb);
    *ctx = activity_context(nb);
    if (!cross)
        return median3(nb[0], nb[1], nb[0] + nb[1] - nb[2]);
    int32_t rb[4];
    const int32_t *ref = t->samples + (size_t)reference_channel(t->channels, c) * n;
    fetch_neighbours(ref, t->width, x, y, mid, rb);
    int32_t p = ref[(size_t)y * t->width + x] +
                median3(nb[0] - rb[0], nb[1] - rb[1], nb[0] - rb[0] + nb[1] - rb[1] - nb[2] + rb[2]);
    return p < 0 ? 0 : (p > (int32_t)t->maxval ? (int32_t)t->maxval : p);
}

static void gather_stats(const model_tile *t, uint32_t c, int cross,
                         context_stats *st, int64_t *total_abs)
{
    *total_abs = 0;
    for (uint32_t y = 0; y < t->height; y++) {
        for (uint32_t x = 0; x < t->width; x++) {
            uint32_t ctx;
            int32_t p = predict(t, c, cross, x, y, &ctx);
            int32_t r = t->samples[(size_t)c * t->width * t->height + (size_t)y * t->width + x] - p;
            st->sum_abs[ctx] += abs32(r);
            st->sum[ctx] += r;
            st->count[ctx]++;
            *total_abs += abs32(r);
        }
    }
}

static void fit_channel(const model_tile *t, uint32_t c, channel_fit *fit)
{
    context_stats plain = {0}, crossed = {0};
    int64_t plain_abs, cross_abs = INT64_MAX;
    gather_stats(t, c, 0, &plain, &plain_abs);
    if (reference_channel(t->channels, c) >= 0)
        gather_stats(t, c, 1, &crossed, &cross_abs);
    fit->cross = cross_abs < plain_abs;
    const context_stats *st = fit->cross ? &crossed : &plain;
    for (uint32_t k = 0; k < BASE_CONTEXTS; k++) {
        fit->used[k] = st->count[k] > 0;
        if (!fit->used[k])
            continue;
        fit->bias16[k] = (int32_t)clamp_abs(div_round(16 * st->sum[k], st->count[k]), BASE_BIAS_LIMIT);
        fit->scale[k] = (uint8_t)dl_scale_for_mad((uint64_t)div_round(16 * st->sum_abs[k], st->count[k]));
    }
}

/* Sends (encoding) or receives (decoding) one channel's fitted parameters. */
static int code_fit(symbol_io *io, const model_tile *t, uint32_t c, channel_fit *fit)
{
    if (reference_channel(t->channels, c) >= 0)
        fit->cross = (int)symbol_io_bits(io, (uint32_t)fit->cross, 1);
    else
        fit->cross = 0;
    for (uint32_t k = 0; k < BASE_CONTEXTS; k++) {
        fit->used[k] = (uint8_t)symbol_io_bits(io, fit->used[k], 1);
        if (!fit->used[k])
            continue;
        fit->scale[k] = (uint8_t)symbol_io_bits(io, fit->scale[k], BASE_SCALE_BITS);
        uint32_t b = symbol_io_bits(io, (uint32_t)(fit->bias16[k] + BASE_BIAS_LIMIT), BASE_BIAS_BITS);
        fit->bias16[k] = (int32_t)b - BASE_BIAS_LIMIT;
        if (fit->scale[k] >= DL_NUM_SCALES || b > 2 * BASE_BIAS_LIMIT)
            return IDFZIP_ERR_CORRUPT; /* decoding: no encoder sends these */
    }
    return IDFZIP_OK;
}

static int code_samples(model_tile *t, const uint32_t *order,
                        const channel_fit *fits, symbol_io *io)
{
    size_t n = (size_t)t->width * t->height;
    for (uint32_t y = 0; y < t->height; y++) {
        for (uint32_t x = 0; x < t->width; x++) {
            for (uint32_t i = 0; i < t->channels; i++) {
                uint32_t c = order[i], ctx;
                int32_t p = predict(t, c, fits[c].cross, x, y, &ctx);
                if (!fits[c].used[ctx])
                    return IDFZIP_ERR_CORRUPT; /* the encoder never saw this context */
                int32_t *s = t->samples + c * n + (size_t)y * t->width + x;
                *s = symbol_io_latent(io, *s, 16 * p + fits[c].bias16[ctx], fits[c].scale[ctx]);
                if (*s < 0 || *s > (int32_t)t->maxval)
                    return IDFZIP_ERR_CORRUPT;
            }
        }
        IDF_TRY(symbol_io_status(io));
    }
    return IDFZIP_OK;
}

int baseline_v1_code_tile(const idf_model *m, model_tile *t, symbol_io *io)
{
    (void)m;
    /* Zeroed: the decoder passes each field to symbol_io_bits before it
     * reads it, and an indeterminate bias could overflow there. */
    channel_fit fits[BASE_MAX_CHANNELS];
    memset(fits, 0, sizeof fits);
    const uint32_t *order = t->channels >= 3 ? ORDER_RGB : ORDER_PLAIN;
    if (t->channels < 1 || t->channels > BASE_MAX_CHANNELS)
        return IDFZIP_ERR_UNSUPPORTED;
    for (uint32_t i = 0; i < t->channels; i++) {
        uint32_t c = order[i];
        if (io->enc)
            fit_channel(t, c, &fits[c]);
        IDF_TRY(code_fit(io, t, c, &fits[c]));
    }
    return code_samples(t, order, fits, io);
}
