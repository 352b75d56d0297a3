/* model.h — the model slot: what every idfzip model implements (the
 * baselines, baseline.h; the learned flows, flow.h; the AR prior, ar_prior.h).
 *
 * Owns: the tile type a model works on, the symbol_io bridge to the entropy
 * coder, and the model interface.  A model maps a tile's integer planes to
 * integer latents (its flow) and gives each latent a discretized-logistic
 * (mean, scale index) in an order the decoder can follow (its prior).
 *
 * One code path serves both directions: a model calls
 * symbol_io_latent(io, value, mean16, scale) for every latent in coding
 * order.  Encoding, value is the true latent and is recorded; decoding, the
 * argument is ignored and the decoded latent is returned.  So encoder and
 * decoder cannot disagree on order or parameters unless the model's own
 * arithmetic differs, and that arithmetic is integer only.
 */
#ifndef IDFZIP_MODEL_H
#define IDFZIP_MODEL_H

#include <stdint.h>

#include "../common/int_math.h"
#include "../common/status.h"
#include "../rans/dl_table.h"
#include "../rans/rans.h"
#include "cpu.h"

/* A rectangle of the image as planes of integers (plane c starts at
 * samples + c * width * height).  Samples lie in 0 .. maxval. */
typedef struct model_tile {
    uint32_t width, height, channels;
    uint32_t maxval;
    int32_t *samples;
    int indexed; /* the samples are palette indices: equal or not is all
                    their values say (one channel, maxval <= 255) */
} model_tile;

/* Optional record of every latent an encoder codes, with its parameters:
 * lets tests/support/flow_dump compare the C model with the trainer's emulation. */
typedef struct latent_log {
    int32_t *value, *mean16, *scale;
    size_t count, capacity; /* stops recording when full */
    /* Optional, the AR prior only: per latent AR_PRIOR_LOGGED integers,
     * its AR_PRIOR_FEATURES features, the predictor's mean16 and its
     * context (0..71), what tools/ar_features gives the trainer. */
    int32_t *features;
    /* Optional: per latent 3 integers, a mixture's second mean16, second
     * scale and first weight (0, 0, 0 for one DL), beside the first
     * component's mean16 and scale above. */
    int32_t *mixture;
} latent_log;

/* Work space a model keeps between tiles of one thread (so the hot loop
 * allocates nothing): the model fills it on first use and says how to free
 * it; the thread's owner calls model_cache_release() at the end. */
typedef struct model_cache {
    void *work;
    void (*release)(void *work);
} model_cache;

static inline void model_cache_release(model_cache *c)
{
    if (c->work && c->release)
        c->release(c->work);
    c->work = NULL;
    c->release = NULL;
}

typedef struct symbol_io {
    const dl_tables *dl;
    rans_encoder *enc;  /* set when encoding */
    rans_decoder *dec;  /* set when decoding */
    latent_log *log;    /* optional, encoding only */
    nn_kernel kernel;   /* how the model's nets run; never changes the result */
    model_cache *cache; /* optional: work space kept across tiles */
    int compact_side;   /* .idf version 2: side information in adaptive codes
                           (the predictor's fits, FORMAT.md) */
} symbol_io;

static inline int32_t symbol_io_latent(symbol_io *io, int32_t value,
                                       int32_t mean16, uint32_t scale)
{
    if (io->enc) {
        dl_encode(io->dl, io->enc, value, mean16, scale);
        if (io->log && io->log->count < io->log->capacity) {
            if (io->log->mixture)
                for (int i = 0; i < 3; i++)
                    io->log->mixture[3 * io->log->count + (size_t)i] = 0;
            io->log->value[io->log->count] = value;
            io->log->mean16[io->log->count] = mean16;
            io->log->scale[io->log->count++] = (int32_t)scale;
        }
        return value;
    }
    return dl_decode(io->dl, io->dec, mean16, scale);
}

/* A net's scale output (1/16) as a DL scale index: rounded, then kept in
 * 0 .. DL_NUM_SCALES - 1 (flows' priors and the AR prior alike). */
static inline uint32_t model_scale_index(int32_t out16)
{
    int64_t s = floor_shift((int64_t)out16 + 8, 4);
    return s < 0 ? 0 : (s >= DL_NUM_SCALES ? DL_NUM_SCALES - 1 : (uint32_t)s);
}

/* A value in 0..maxval from a mixture of k DLs (dl_mixture_encode); the
 * log records the first component's mean and scale, and with a mixture
 * array the second's and the first weight (the log knows k = 2 only). */
static inline int32_t symbol_io_mixture(symbol_io *io, int32_t value, const int32_t *mean16,
                                        const int32_t *scale, const uint16_t *weight,
                                        uint32_t k, int32_t maxval)
{
    if (io->enc) {
        dl_mixture_encode(io->enc, value, mean16, scale, weight, k, maxval);
        if (io->log && io->log->count < io->log->capacity) {
            if (io->log->mixture) {
                int32_t *mix = io->log->mixture + 3 * io->log->count;
                mix[0] = mean16[1], mix[1] = scale[1], mix[2] = weight[0];
            }
            io->log->value[io->log->count] = value;
            io->log->mean16[io->log->count] = mean16[0];
            io->log->scale[io->log->count++] = scale[0];
        }
        return value;
    }
    return dl_mixture_decode(io->dec, mean16, scale, weight, k, maxval);
}

/* One binary decision: bit is 1 with probability p1 / 2^15 (1 <= p1 <
 * 2^15), coded as the symbol [0, p1) for 1 and [p1, 2^15) for 0. */
static inline uint32_t symbol_io_decision(symbol_io *io, uint32_t bit, uint32_t p1)
{
    if (io->enc) {
        rans_encoder_put(io->enc, bit ? 0 : p1, bit ? p1 : RANS_PROB_SCALE - p1);
        return bit;
    }
    bit = rans_decoder_peek(io->dec) < p1;
    rans_decoder_advance(io->dec, bit ? 0 : p1, bit ? p1 : RANS_PROB_SCALE - p1);
    return bit;
}

static inline uint32_t symbol_io_bits(symbol_io *io, uint32_t value,
                                      unsigned nbits)
{
    if (io->enc) {
        rans_encoder_put_bits(io->enc, value, nbits);
        return value;
    }
    return rans_decoder_get_bits(io->dec, nbits);
}

/* IDFZIP_OK, or what went wrong so far: decoding, IDFZIP_ERR_CORRUPT (the
 * stream ran out or held an impossible symbol); encoding, the coder's
 * status (IDFZIP_ERR_NOMEM when its symbol array could not grow). */
static inline int symbol_io_status(const symbol_io *io)
{
    if (io->dec)
        return io->dec->overrun ? IDFZIP_ERR_CORRUPT : IDFZIP_OK;
    return io->enc->status;
}


/* The container tile of an .idfw model groups its blocks (the .idfw's
 * "tile", the unit its nets see) to about this many pixels a side, so small
 * blocks such as the 8x8 digits do not each pay for coder state and a tile
 * entry: the block times max(1, MODEL_TILE_TARGET / block). */
#define MODEL_TILE_TARGET 256

static inline uint32_t model_group_blocks(uint32_t block)
{
    if (block == 0 || block >= MODEL_TILE_TARGET)
        return block;
    return MODEL_TILE_TARGET / block * block;
}

/* What the image looks like, so a model can say whether it serves it. */
typedef struct model_image_kind {
    uint32_t channels, bit_depth, color_type;
    uint32_t max_sample; /* the largest sample value in the image */
    uint64_t pixels;     /* width x height */
    uint64_t repeats;    /* pixels equal to their west or north neighbour */
} model_image_kind;

/* What a model is; the codec does not care, tools and tests do. */
typedef enum model_family {
    MODEL_BASELINE = 0, /* non-learned: baseline-v1, v2, v3 (baseline.h) */
    MODEL_FLOW = 1,     /* a learned multi-scale coupling flow (flow.h) */
    MODEL_AR_PRIOR = 2, /* a learned AR prior on the predictor (ar_prior.h) */
    MODEL_COMPOSITE = 3 /* colour by one model, alpha by another (composite.h) */
} model_family;

typedef struct idf_model idf_model;
struct idf_model {
    char name[IDFZIP_MODEL_NAME_MAX]; /* NUL-padded, stored in the .idf */
    uint32_t crc;               /* CRC32 of the weights (0: built in) */
    uint32_t tile_width, tile_height;
    model_family family;
    /* 1: the model predicts palette indices as values, so the codec hands
     * it palette images in luma order (codec/sample_map.h); 0: it only
     * asks whether indices are equal (the match models), or never sees one */
    int luma_palette;
    uint64_t macs_per_pixel;    /* of its nets, for reports (0: none) */
    int (*serves)(const idf_model *m, const model_image_kind *kind);
    /* Codes one tile through io: IDFZIP_OK; decoding, IDFZIP_ERR_CORRUPT
     * when a decoded latent is impossible; IDFZIP_ERR_NOMEM when memory runs
     * out; encoding, IDFZIP_ERR_UNSUPPORTED for a tile it cannot code. */
    int (*code_tile)(const idf_model *m, model_tile *tile, symbol_io *io);
    /* Frees a model loaded from an .idfw (NULL for the built-in baselines). */
    void (*destroy)(idf_model *m);
};

#endif
