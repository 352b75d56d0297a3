/* ar_prior.c — the learned AR prior (see ar_prior.h): its features, its
 * net's outputs as each sample's prior, and its model slot.
 *
 * The predictor (predictor.c) predicts each sample; a small net then maps
 * integer features of that prediction (how the blend's members disagree,
 * their recent errors, the local gradients, the misses nearby and in the
 * other channels at this pixel, the tile's fitted scale and bias of the
 * context) to a correction of the mean and the scale index.  FORMAT.md
 * lists the features in order; tools/train/ar.py learns the net on them.
 */
#include "ar_prior.h"

#include <stdlib.h>
#include <string.h>

#include "../common/int_math.h"
#include "kernels/slog16_avx2.h"
#include "predictor.h"

/* 16 log2(1 + v), linear between powers of two: 16 floor(log2 u) plus the
 * four bits below u's top bit, u = v + 1. */
static inline int32_t log16(uint32_t v)
{
    uint64_t u = (uint64_t)v + 1;
#if defined(__GNUC__)
    int32_t top = 63 - __builtin_clzll(u);
#else
    int32_t top = 0;
    for (int32_t step = 16; step > 0; step /= 2) /* binary search for the top bit */
        if (u >> (top + step))
            top += step;
#endif
    return 16 * top + (int32_t)((u << 4) >> top) - 16;
}

/* sign(v) log16(|v|), without a branch: the sign of a miss is a coin toss,
 * and mispredicting it on each of a sample's 15 signed features cost a
 * sixth of the decoder's time. */
static inline int32_t slog16(int32_t v)
{
    const int32_t negative = -(int32_t)(v < 0); /* 0 or -1 */
    const uint32_t magnitude = (uint32_t)(((int64_t)v ^ negative) - negative);
    return (log16(magnitude) ^ negative) - negative;
}

/* The features that do not depend on the tile's fits: all but the last two. */
#define AR_UNFITTED (AR_PRIOR_FEATURES - 2)

/* The eight compressed features after the blend's members and their
 * nearby errors: the local gradients, the nearby misses of this channel,
 * the misses of the channels coded before it at this pixel, and this
 * channel's west and north misses (0 where there is none; slog16(0) is 0).
 * The nearby misses are a uint64: here read as at most INT32_MAX (beyond
 * the AVX2 kernel either way), the reference taking its own. */
#define AR_REST_ARGS 8

static void rest_args(const pred_tile *bt, const pred_at *at, int32_t rest[AR_REST_ARGS])
{
    const model_tile *t = bt->t;
    const pred_sample *p = at->p;
    const uint32_t c = at->c, x = at->x, y = at->y;
    const pred_trace *traces = at->traces, *tr = &at->traces[c];
    const size_t i = (size_t)y * t->width + x;
    const int32_t ref = pred_reference_of(t->channels, c);
    rest[0] = p->nb[NB_W] - p->nb[NB_NW];
    rest[1] = p->nb[NB_N] - p->nb[NB_NW];
    rest[2] = p->nb[NB_NE] - p->nb[NB_N];
    rest[3] = p->near_miss < INT32_MAX ? (int32_t)p->near_miss : INT32_MAX;
    rest[4] = ref >= 0 ? traces[ref].miss[i] : 0;
    rest[5] = ref >= 0 && c == 2 ? traces[0].miss[i] : 0;
    rest[6] = x ? tr->miss[i - 1] : 0;
    rest[7] = y ? tr->miss[i - t->width] : 0;
}

/* The last three: which channel this is. */
static void channel_one_hot(uint32_t c, int32_t f[3])
{
    for (uint32_t k = 0; k < 3; k++)
        f[k] = c == k ? 64 : 0;
}

/* The features one at a time: the reference. */
static void ar_features_scalar(const pred_tile *bt, const pred_at *at, int32_t f[AR_UNFITTED])
{
    const pred_sample *p = at->p;
    int32_t rest[AR_REST_ARGS];
    rest_args(bt, at, rest);
    int n = 0;
    for (int j = 0; j < PRED_FIXED; j++)
        f[n++] = slog16((int32_t)floor_shift(p->fixed[j] + p->ref16 + 2, 2) - p->mean16);
    for (int j = 0; j < PRED_FIXED; j++)
        f[n++] = log16(p->near[j]);
    for (int k = 0; k < AR_REST_ARGS; k++)
        f[n++] = k == 3 ? log16((uint32_t)p->near_miss) : slog16(rest[k]);
    channel_one_hot(at->c, f + n);
}

/* The same with the 24 compressed ones eight at a time
 * (slog16_avx2_features): the blend's members and their nearby errors
 * straight from the prediction, the other eight from rest_args.  The
 * reference takes over where a value is beyond the kernel's range (never
 * for 8-bit samples). */
#define AR_LOGGED_ARGS (2 * PRED_FIXED + AR_REST_ARGS)

static void ar_features_avx2(const pred_tile *bt, const pred_at *at, int32_t f[AR_UNFITTED])
{
    const pred_sample *p = at->p;
    int32_t rest[AR_REST_ARGS];
    rest_args(bt, at, rest);
    if (!slog16_avx2_features(p->fixed, p->ref16 + 2, p->mean16, p->near, rest, f)) {
        ar_features_scalar(bt, at, f);
        return;
    }
    channel_one_hot(at->c, f + AR_LOGGED_ARGS);
}

static void ar_features_unfitted(const pred_tile *bt, const pred_at *at, int32_t f[AR_UNFITTED])
{
    if (bt->kernel != NN_KERNEL_PORTABLE)
        ar_features_avx2(bt, at, f);
    else
        ar_features_scalar(bt, at, f);
}

/* The last two: the tile's fitted scale and bias of the sample's context. */
static void ar_features_fitted(const pred_fit *fit, uint32_t ctx, int32_t f[2])
{
    f[0] = 8 * fit->scale[ctx];
    f[1] = fit->bias16[ctx];
}

static void ar_features(const pred_tile *bt, const pred_at *at, int32_t f[AR_PRIOR_FEATURES])
{
    ar_features_unfitted(bt, at, f);
    ar_features_fitted(at->fit, at->p->ctx, f + AR_UNFITTED);
}

/* A net's mean correction and scale index (1/16) as a DL's parameters. */
static void dl_from_net(const pred_tile *bt, int32_t predicted16, int32_t mean_out,
                        int32_t scale_out, int32_t *mean16, int32_t *scale)
{
    int64_t m = (int64_t)predicted16 + mean_out, hi = 16 * (int64_t)bt->t->maxval;
    *mean16 = (int32_t)(m < 0 ? 0 : (m > hi ? hi : m));
    *scale = (int32_t)model_scale_index(scale_out);
}

/* The net's outputs as the sample's prior.  A mixture's first weight is
 * sigmoid(logit0 - logit1) (logits in 1/16) through the coder's integer
 * logistic, in 1/2^15, kept in 1 .. 2^15 - 1 so both components stay. */
static void prior_from_net(const nn_net *net, const pred_tile *bt, int32_t mean16,
                           const int32_t *out, pred_prior *pr)
{
    pr->k = 1;
    if (net->cout == AR_PRIOR_OUTPUTS) {
        dl_from_net(bt, mean16, out[0], out[1], &pr->mean16[0], &pr->scale[0]);
        return;
    }
    pr->k = 2;
    dl_from_net(bt, mean16, out[0], out[2], &pr->mean16[0], &pr->scale[0]);
    dl_from_net(bt, mean16, out[1], out[3], &pr->mean16[1], &pr->scale[1]);
    int64_t w = (int64_t)(dl_logistic_cdf_q32(2 * ((int64_t)out[4] - out[5]), 1u << 20) >> 17);
    w = w < 1 ? 1 : (w > 32767 ? 32767 : w);
    pr->weight[0] = (uint16_t)w;
    pr->weight[1] = (uint16_t)(32768 - w);
}

/* The net run on the sample's features f, its outputs as the prior. */
static void net_prior(const nn_net *net, const pred_tile *bt, int32_t mean16, const int32_t *f,
                      int32_t *scratch, nn_kernel kernel, pred_prior *pr)
{
    int32_t out[AR_PRIOR_MIX_OUTPUTS];
    nn_forward(net, f, 1, 1, out, scratch, kernel);
    prior_from_net(net, bt, mean16, out, pr);
}

/* The predictor's hook: the net's prior for the sample (the hook's ctx;
 * NULL keeps the context's DL), its features recorded when the encoder's
 * log asks for them. */
static void ar_sample_prior(const pred_hook *h, const pred_tile *bt, const pred_at *at,
                            symbol_io *io, int32_t *scratch, pred_prior *pr)
{
    const nn_net *net = h->ctx;
    latent_log *log = io->enc ? io->log : NULL;
    /* Features exist for blended samples only (the encoder always blends). */
    int record = log && log->features && log->count < log->capacity &&
                 at->fit->choice.predictor == PRED_FIXED;
    if (!net && !record)
        return;
    int32_t f[AR_PRIOR_LOGGED];
    ar_features(bt, at, f);
    f[AR_PRIOR_FEATURES] = at->p->mean16;
    f[AR_PRIOR_FEATURES + 1] = (int32_t)at->p->ctx;
    if (record)
        for (int k = 0; k < AR_PRIOR_LOGGED; k++)
            log->features[log->count * AR_PRIOR_LOGGED + k] = f[k];
    if (net)
        net_prior(net, bt, at->p->mean16, f, scratch, io->kernel, pr);
}

/* ---- the encoder's cached pass (pred_hook.observe, encode_cached) ------- *
 * Per sample: the unfitted features, then the prediction's mean16 and its
 * context.  Every one fits an int16: a feature is at most 16 x 32 at any
 * depth, a context below 72, and a mean16 at most 16 x 255 (the loader
 * gives AR priors 8-bit samples only). */
#define AR_CACHE_VALUES (AR_UNFITTED + 2)

static void ar_observe(const pred_tile *bt, const pred_at *at, int16_t *cache)
{
    int32_t f[AR_UNFITTED];
    ar_features_unfitted(bt, at, f);
    for (int k = 0; k < AR_UNFITTED; k++)
        cache[k] = (int16_t)f[k];
    cache[AR_UNFITTED] = (int16_t)at->p->mean16;
    cache[AR_UNFITTED + 1] = (int16_t)at->p->ctx;
}

/* The samples of a batch: their features, then what coding each needs. */
typedef struct ar_batch {
    int32_t f[NN_BATCH][AR_PRIOR_FEATURES + 3]; /* a stride of 32 */
    int32_t out[AR_PRIOR_MIX_OUTPUTS * NN_BATCH];
    int32_t mean16[NN_BATCH], value[NN_BATCH];
    uint32_t n;
} ar_batch;

/* Runs the batch's nets at once (nn_forward8; lanes past n hold the last
 * sample's features, harmlessly) and codes its samples in order. */
static void ar_code_batch(const nn_net *net, const pred_tile *bt, ar_batch *b, int32_t *scratch,
                          symbol_io *io)
{
    for (uint32_t s = b->n; s < NN_BATCH; s++)
        memcpy(b->f[s], b->f[b->n - 1], sizeof b->f[s]);
    nn_forward8(net, &b->f[0][0], sizeof b->f[0] / sizeof b->f[0][0], b->out, scratch, io->kernel);
    for (uint32_t s = 0; s < b->n; s++) {
        int32_t out[AR_PRIOR_MIX_OUTPUTS];
        for (uint32_t o = 0; o < net->cout; o++)
            out[o] = b->out[o * NN_BATCH + s];
        pred_prior pr;
        prior_from_net(net, bt, b->mean16[s], out, &pr);
        pred_code_value(io, b->value[s], &pr, (int32_t)bt->t->maxval);
    }
    b->n = 0;
}

/* Codes every sample of the tile, in the coding pass's order, from the
 * cache the fitting pass left: the same priors as ar_sample_prior's, with
 * no prediction, the nets of eight samples at a time (they depend on the
 * cache alone). */
static int ar_encode_cached(const pred_hook *h, const pred_tile *bt, const uint32_t *order,
                            const pred_fit *fits, int32_t *scratch, symbol_io *io)
{
    const nn_net *net = h->ctx;
    const model_tile *t = bt->t;
    ar_batch b;
    b.n = 0;
    for (uint32_t y = 0; y < t->height; y++) {
        for (uint32_t x = 0; x < t->width; x++) {
            const size_t at = (size_t)y * t->width + x;
            for (uint32_t j = 0; j < t->channels; j++) {
                const uint32_t c = order[j];
                const int16_t *cached = bt->cache + ((size_t)c * bt->plane + at) * AR_CACHE_VALUES;
                const uint32_t ctx = (uint32_t)cached[AR_UNFITTED + 1];
                if (!fits[c].used[ctx])
                    return IDFZIP_ERR_CORRUPT; /* as pred_code_samples */
                int32_t *f = b.f[b.n];
                for (int k = 0; k < AR_UNFITTED; k++)
                    f[k] = cached[k];
                ar_features_fitted(&fits[c], ctx, f + AR_UNFITTED);
                b.mean16[b.n] = cached[AR_UNFITTED];
                b.value[b.n] = t->samples[c * bt->plane + at];
                if (++b.n == NN_BATCH)
                    ar_code_batch(net, bt, &b, scratch, io);
            }
        }
        if (b.n)
            ar_code_batch(net, bt, &b, scratch, io);
        IDF_TRY(symbol_io_status(io)); /* as pred_code_samples, each row */
    }
    return IDFZIP_OK;
}

/* baseline-v3's predictor, with the encoder's quick choice of k. */
static int code_with_net(const nn_net *net, model_tile *t, symbol_io *io)
{
    const pred_hook hook = {net,
                            net ? nn_scratch_size(net, 1, 1) : 0,
                            net != NULL,
                            ar_sample_prior,
                            AR_CACHE_VALUES,
                            net ? ar_observe : NULL,
                            net ? ar_encode_cached : NULL};
    const pred_config cfg = {.lms = 1, .quick_weight = 1, .hook = &hook};
    return predictor_code_tile(&cfg, t, io);
}

int ar_prior_code_features(model_tile *t, symbol_io *io)
{
    return code_with_net(NULL, t, io);
}

const ar_prior_model *ar_prior_of(const idf_model *m)
{
    return m && m->family == MODEL_AR_PRIOR ? (const ar_prior_model *)m : NULL;
}

static int ar_code_tile(const idf_model *slot, model_tile *t, symbol_io *io)
{
    const ar_prior_model *m = ar_prior_of(slot);
    if (t->channels != m->channels || t->maxval > m->maxval)
        return io->enc ? IDFZIP_ERR_UNSUPPORTED : IDFZIP_ERR_CORRUPT;
    return code_with_net(&m->net, t, io);
}

static int ar_serves(const idf_model *slot, const model_image_kind *kind)
{
    const ar_prior_model *m = ar_prior_of(slot);
    return kind->channels == m->channels && kind->bit_depth == m->bit_depth &&
           kind->max_sample <= m->maxval;
}

static void ar_destroy(idf_model *slot)
{
    ar_prior_free((ar_prior_model *)slot);
}

void ar_prior_free(ar_prior_model *m)
{
    if (!m)
        return;
    free(m->kernel_storage);
    free(m->storage);
    free(m);
}

int ar_prior_finish(ar_prior_model *m, uint32_t block_width, uint32_t block_height)
{
    if (nn_kernel_best() != NN_KERNEL_PORTABLE) {
        size_t n = nn_pack_net(&m->net, 1, NULL);
        m->kernel_storage = malloc((n ? n : 1) * sizeof(int32_t));
        if (!m->kernel_storage)
            return IDFZIP_ERR_NOMEM;
        nn_pack_net(&m->net, 1, m->kernel_storage);
    }
    m->block_width = block_width;
    m->block_height = block_height;
    m->slot.tile_width = model_group_blocks(block_width);
    m->slot.tile_height = model_group_blocks(block_height);
    m->slot.family = MODEL_AR_PRIOR;
    m->slot.luma_palette = 1;
    m->slot.macs_per_pixel = nn_macs_per_position(&m->net) * m->channels;
    m->slot.serves = ar_serves;
    m->slot.code_tile = ar_code_tile;
    m->slot.destroy = ar_destroy;
    return IDFZIP_OK;
}
