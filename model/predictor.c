/* predictor.c — the shared predictor of baseline-v2, baseline-v3 and the
 * AR prior: predicting, recording and coding samples (see predictor.h).
 * The encoder's choices are in predictor_search.c, and a tile's coding from
 * start to end in predictor_tile.c. */
#include "predictor.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/int_math.h"
#include "baseline.h"
#include "match.h"
#include "nn.h"



#if defined(__GNUC__)
/* Four lanes of GCC's and clang's generic vectors: plain C arithmetic,
 * lowered to SSE2 on x86-64 and to whatever the target has elsewhere. */
typedef uint32_t u32x4 __attribute__((vector_size(16)));
typedef int32_t i32x4 __attribute__((vector_size(16)));
#endif


/* The neighbours on plane D from the channel's D plane (tr->d), which
 * holds every sample recorded so far: computing 4 s - k ref seven times per
 * sample took a tenth of the predictor's instructions. */
static void neighbours(const pred_tile *bt, const pred_trace *tr, uint32_t x, uint32_t y,
                       int32_t nb[NB_COUNT])
{
    const uint32_t w = bt->t->width;
    const int32_t *row = tr->d + (size_t)y * w;
    if (y == 0) {
        int32_t v = x ? row[x - 1] : 4 * bt->mid;
        int32_t vv = x > 1 ? row[x - 2] : v;
        for (int i = 0; i < NB_COUNT; i++)
            nb[i] = v;
        nb[NB_WW] = vv;
        return;
    }
    const int32_t *up = row - w; /* formed only where the row above exists */
    nb[NB_N] = up[x];
    nb[NB_W] = x ? row[x - 1] : nb[NB_N];
    nb[NB_NW] = x ? up[x - 1] : nb[NB_N];
    nb[NB_NE] = x + 1 < w ? up[x + 1] : nb[NB_N];
    nb[NB_NEE] = x + 2 < w ? up[x + 2] : nb[NB_NE];
    nb[NB_WW] = x > 1 ? row[x - 2] : nb[NB_W];
    nb[NB_NN] = y > 1 ? (up - w)[x] : nb[NB_N];
}

/* Prediction of D, in 1/16 of D's units. */
static int32_t predict_d16(uint32_t predictor, const int32_t nb[NB_COUNT])
{
    const int32_t w = nb[NB_W], n = nb[NB_N], nw = nb[NB_NW], ne = nb[NB_NE];
    switch (predictor) {
    case 0: return 16 * median3(w, n, w + n - nw);
    case 1: return 8 * (w + n);
    case 2: /* (6N - 2NN + 7W + WW + NEE + 3NE) / 16 */
        return 6 * n - 2 * nb[NB_NN] + 7 * w + nb[NB_WW] + nb[NB_NEE] + 3 * ne;
    case 3: return 8 * (w + ne);
    case 4: return 16 * (w + n - nw);
    case 5: return 16 * n + 8 * (w - nw);
    case 6: return 16 * w + 8 * (n - nw);
    default: return 8 * (n + ne);
    }
}

/* Activity bucket from D's local gradients (D is 4x the sample scale) and
 * from how far this channel's west and north samples missed their means
 * (err16, x16). */
static uint32_t activity_bucket(const int32_t nb[NB_COUNT], uint32_t err16)
{
    uint32_t act = (uint32_t)(abs32(nb[NB_W] - nb[NB_NW]) + abs32(nb[NB_N] - nb[NB_NW]) +
                              abs32(nb[NB_NE] - nb[NB_N])) / 4 + err16 / PRED_ERR_DIV;
    return base_log_bucket(act, PRED_ACTIVITY);
}

/* Bucket of a reference's |miss| (x16): 0, 1 or 2. */
static uint32_t surprise_bucket(uint32_t m)
{
    return m <= 24 ? 0 : (m <= 96 ? 1 : 2);
}

/* ---- v3: two NLMS predictors ------------------------------------------ *
 * Adaptive linear predictions of D from differences to W: N, NW, NE, WW,
 * NN, NEE minus W, then the reference's (green's) gradients at this pixel,
 * then, for blue, red's.  Two weight sets share these inputs: a fast one
 * (step 1/16) that follows local structure and a slow one (step 1/256)
 * that keeps the tile's average; the blend weighs them by their recent
 * errors like every other member.  Weights start at "half of N - W" in
 * every tile and learn by normalised LMS as the samples become known: the
 * same integers in encoder and decoder. */
#define LMS_SHIFT 14                  /* weights in 1/2^14 */
_Static_assert(LMS_TAPS <= LMS_KERNEL_TAPS && LMS_KERNEL_TAPS % 4 == 0,
               "lms_avx2 reads whole groups of four taps, zeros past LMS_TAPS");
#define LMS_WEIGHT_LIMIT (1 << 17)
#define LMS_PRED_LIMIT (1 << 24)      /* |prediction x16| */

/* Step sizes in 1/2^12 of NLMS's unit step: fast, slow. */
static const int64_t LMS_MU[LMS_SETS] = {256, 16};


void pred_lms_reset(pred_lms *l)
{
    for (int k = 0; k < LMS_SETS; k++) {
        for (int i = 0; i < LMS_KERNEL_TAPS; i++)
            l->w[k][i] = 0;
        l->w[k][0] = 1 << (LMS_SHIFT - 1);
    }
    for (int i = 0; i < LMS_KERNEL_TAPS; i++)
        l->in[i] = 0;
}

/* 4 x the gradients of plane p towards W and N at sample i, 0 where the
 * neighbour is outside the tile. */
static void gradients(const int32_t *p, size_t i, uint32_t w, uint32_t x, uint32_t y, int32_t out[2])
{
    out[0] = x ? 4 * (p[i] - p[i - 1]) : 0;
    out[1] = y ? 4 * (p[i] - p[i - w]) : 0;
}

/* Both predictions x16 of D at (x, y) of channel c into l->pred16; keeps
 * the inputs in l. */
static void lms_predict(const model_tile *t, size_t plane, uint32_t c, int32_t ref,
                        uint32_t x, uint32_t y, const int32_t nb[NB_COUNT], pred_lms *l,
                        nn_kernel kernel)
{
    static const int spatial[6] = {NB_N, NB_NW, NB_NE, NB_WW, NB_NN, NB_NEE};
    for (int i = 0; i < 6; i++)
        l->in[i] = nb[spatial[i]] - nb[NB_W];
    for (int i = 6; i < LMS_TAPS; i++)
        l->in[i] = 0;
    size_t at = (size_t)y * t->width + x;
    if (ref >= 0)
        gradients(t->samples + (size_t)ref * plane, at, t->width, x, y, l->in + 6);
    if (ref >= 0 && c == 2)
        gradients(t->samples, at, t->width, x, y, l->in + 8); /* red, coded before blue */
    int64_t dot[LMS_SETS];
    if (kernel != NN_KERNEL_PORTABLE)
        lms_dot2_avx2(l->w, l->in, dot);
    else
        for (int k = 0; k < LMS_SETS; k++) {
            dot[k] = 0;
            for (int i = 0; i < LMS_TAPS; i++)
                dot[k] += (int64_t)l->w[k][i] * l->in[i];
        }
    for (int k = 0; k < LMS_SETS; k++) {
        int64_t p = 16 * (int64_t)nb[NB_W] + trunc_shift(dot[k], LMS_SHIFT - 4);
        l->pred16[k] = (int32_t)clamp_abs(p, LMS_PRED_LIMIT);
    }
}

/* One NLMS step of each set towards d16, the true D x16:
 * w += mu * err * in / |in|^2.  Bounds: |err16| < 2^25, so q < 2^39 and
 * q * in < 2^59. */
static void lms_update(pred_lms *l, int32_t d16, nn_kernel kernel)
{
    const int simd = kernel != NN_KERNEL_PORTABLE;
    int64_t norm = 64;
    if (simd)
        norm += lms_norm_avx2(l->in);
    else
        for (int i = 0; i < LMS_TAPS; i++)
            norm += (int64_t)l->in[i] * l->in[i];
    int64_t q[LMS_SETS];
    for (int k = 0; k < LMS_SETS; k++)
        q[k] = ((int64_t)d16 - l->pred16[k]) * LMS_MU[k] * 4096 / norm;
    if (simd) {
        lms_step2_avx2(l->w, l->in, q, LMS_WEIGHT_LIMIT);
        return;
    }
    for (int k = 0; k < LMS_SETS; k++)
        for (int i = 0; i < LMS_TAPS; i++)
            l->w[k][i] = (int32_t)clamp_abs(l->w[k][i] + trunc_shift(q[k] * l->in[i], 12),
                                             LMS_WEIGHT_LIMIT);
}


/* The error trace only ever looks one row back, so it is a ring of two
 * rows with the PRED_FIXED errors of a pixel side by side: the blend reads
 * 4 neighbours x 8 predictors from a few cache lines instead of 32 places
 * in 8 planes (30% faster), and a thread's work space shrinks from 9 to
 * about 1 plane per channel.  A miss plane is read by later channels too,
 * so it stays whole. */
static int32_t *err_row(const pred_trace *tr, uint32_t w, uint32_t y)
{
    return tr->err + (size_t)(y & 1u) * w * PRED_FIXED;
}

/* Sum of |p| at the west, north, north-west and north-east neighbours that
 * exist, on a whole plane (a miss plane). */
static uint64_t near_sum_abs(const int32_t *p, uint32_t w, uint32_t x, uint32_t y)
{
    size_t i = (size_t)y * w + x;
    uint64_t e = 0;
    if (x)
        e += (uint64_t)abs32(p[i - 1]);
    if (y) {
        e += (uint64_t)abs32(p[i - w]);
        if (x)
            e += (uint64_t)abs32(p[i - w - 1]);
        if (x + 1 < w)
            e += (uint64_t)abs32(p[i - w + 1]);
    }
    return e;
}

/* near[i]: predictor i's errors summed over W, N, NW, NE (those that
 * exist); an error is below 2^25, so four fit in 32 bits. */
static void near_errors(const pred_trace *tr, uint32_t w, uint32_t x, uint32_t y,
                        uint32_t near[PRED_FIXED])
{
    /* A neighbour outside the tile reads a row of zeros, so the sum is the
     * same four rows added everywhere: two vectors of four with GCC and
     * clang (SSE2 on x86-64, whatever the target has elsewhere). */
    static const int32_t none[PRED_FIXED];
    const int32_t *cur = err_row(tr, w, y), *up = err_row(tr, w, y + 1);
    const int32_t *west = x ? cur + (size_t)(x - 1) * PRED_FIXED : none;
    const int32_t *north = y ? up + (size_t)x * PRED_FIXED : none;
    const int32_t *north_west = x && y ? up + (size_t)(x - 1) * PRED_FIXED : none;
    const int32_t *north_east = y && x + 1 < w ? up + (size_t)(x + 1) * PRED_FIXED : none;
#if defined(__GNUC__)
    for (int h = 0; h < PRED_FIXED; h += 4) {
        u32x4 a, b, c, d;
        memcpy(&a, west + h, sizeof a), memcpy(&b, north + h, sizeof b);
        memcpy(&c, north_west + h, sizeof c), memcpy(&d, north_east + h, sizeof d);
        a += b + c + d;
        memcpy(near + h, &a, sizeof a);
    }
#else
    for (int i = 0; i < PRED_FIXED; i++)
        near[i] = (uint32_t)west[i] + (uint32_t)north[i] + (uint32_t)north_west[i] +
                  (uint32_t)north_east[i];
#endif
}

/* The weight of a member whose nearby errors sum to near: 2^32 / (1 +
 * near)^2, 0 from 2^16 on. */
static inline uint64_t blend_weight(const uint32_t *table, uint32_t near)
{
    /* No branch: entries 0 and 1 of the table are 0, so near = 0 reads
     * entry 1 and adds 2^32, and near >= 2^16 - 1 reads entry 0. */
    const uint32_t at = near < PRED_BLEND_WEIGHTS - 1 ? near + 1 : 0;
    return (uint64_t)table[at] + ((uint64_t)(near == 0) << 32);
}

/* The blend's members weighted by 2^32 / (1 + their nearby errors)^2
 * (the idea of JPEG XL's weighted predictor): a predictor that has been
 * missing lately fades out.  Exact integers: weights <= 2^32, |d16| < 2^23,
 * so the sums stay below 2^57. */
static int32_t blend_d16(const uint32_t *table, const int32_t d16[PRED_FIXED],
                         const uint32_t near[PRED_FIXED])
{
    int64_t num = 0, den = 0;
    for (int i = 0; i < PRED_FIXED; i++) {
        uint64_t wt = blend_weight(table, near[i]);
        num += (int64_t)wt * d16[i];
        den += (int64_t)wt;
    }
    return den ? (int32_t)div_round(num, den) : d16[0];
}

/* The blend's members: v2, the 8 fixed predictions; v3, six of them (not
 * 4 and 5, which the NLMS predictors make redundant), then the slow and the
 * fast NLMS prediction. */
static void blend_members(const pred_tile *bt, uint32_t c, int32_t ref, uint32_t x, uint32_t y,
                          const int32_t nb[NB_COUNT], const pred_trace *tr, int32_t fixed[PRED_FIXED])
{
    if (!bt->lms) {
        for (int i = 0; i < PRED_FIXED; i++)
            fixed[i] = predict_d16((uint32_t)i, nb);
        return;
    }
    /* predict_d16's 0, 1, 2, 3, 6 and 7, written out: no switch per member. */
    const int32_t w = nb[NB_W], n = nb[NB_N], nw = nb[NB_NW], ne = nb[NB_NE];
    fixed[0] = 16 * median3(w, n, w + n - nw);
    fixed[1] = 8 * (w + n);
    fixed[2] = 6 * n - 2 * nb[NB_NN] + 7 * w + nb[NB_WW] + nb[NB_NEE] + 3 * ne;
    fixed[3] = 8 * (w + ne);
    fixed[4] = 16 * w + 8 * (n - nw);
    fixed[5] = 8 * (n + ne);
    lms_predict(bt->t, bt->plane, c, ref, x, y, nb, tr->lms, bt->kernel);
    fixed[PRED_FIXED - 2] = tr->lms->pred16[1];
    fixed[PRED_FIXED - 1] = tr->lms->pred16[0];
}

/* Mean and context of sample (x, y) of channel c into p.  surprise:
 * pred_surprise() of the sample; tr: the channel's trace so far. */
void pred_predict(const pred_tile *bt, uint32_t c, pred_choice ch, uint32_t surprise,
                       const pred_trace *tr, uint32_t x, uint32_t y, pred_sample *p)
{
    const model_tile *t = bt->t;
    int32_t ref = pred_reference_of(t->channels, c);
    uint32_t k = ref >= 0 ? ch.weight : 0;
    neighbours(bt, tr, x, y, p->nb);
    int32_t d16;
    if (ch.predictor == PRED_FIXED) {
        blend_members(bt, c, ref, x, y, p->nb, tr, p->fixed);
        near_errors(tr, t->width, x, y, p->near);
        d16 = blend_d16(bt->blend_weights, p->fixed, p->near);
    } else {
        d16 = predict_d16(ch.predictor, p->nb);
    }
    p->ref16 = ref >= 0 ? 16 * (int32_t)k * t->samples[(size_t)ref * bt->plane +
                                                       (size_t)y * t->width + x] : 0;
    int32_t mean16 = (int32_t)floor_shift(d16 + p->ref16 + 2, 2);
    int32_t hi = 16 * (int32_t)t->maxval;
    p->mean16 = mean16 < 0 ? 0 : (mean16 > hi ? hi : mean16);
    p->near_miss = near_sum_abs(tr->miss, t->width, x, y);
    p->ctx = activity_bucket(p->nb, (uint32_t)(p->near_miss * 2 / 3)) * PRED_SURPRISE + surprise;
}

/* Records sample (x, y) of channel c, now known, in its trace. */
void pred_record(const pred_tile *bt, uint32_t c, pred_choice ch, const pred_trace *tr,
                      uint32_t x, uint32_t y, const pred_sample *p)
{
    const model_tile *t = bt->t;
    size_t i = (size_t)y * t->width + x;
    int32_t ref = pred_reference_of(t->channels, c);
    tr->d[i] = pred_d_at(bt, c, ref, ref >= 0 ? ch.weight : 0, x, y);
    tr->miss[i] = 16 * t->samples[c * bt->plane + i] - p->mean16;
    if (ch.predictor != PRED_FIXED)
        return;
    int32_t d16 = 16 * tr->d[i];
    int32_t *e = err_row(tr, t->width, y) + (size_t)x * PRED_FIXED;
#if defined(__GNUC__)
    for (int h = 0; h < PRED_FIXED; h += 4) { /* |d16 - member| four at a time */
        i32x4 m;
        memcpy(&m, p->fixed + h, sizeof m);
        m = d16 - m;
        const i32x4 sign = m >> 31; /* GCC and clang: arithmetic on signed lanes */
        m = (m ^ sign) - sign;
        memcpy(e + h, &m, sizeof m);
    }
#else
    for (int k = 0; k < PRED_FIXED; k++)
        e[k] = abs32(d16 - p->fixed[k]);
#endif
    if (bt->lms)
        lms_update(tr->lms, d16, bt->kernel);
}

void pred_record_matched(const pred_tile *bt, uint32_t c, pred_choice ch, const pred_trace *tr,
                         uint32_t x, uint32_t y)
{
    const uint32_t w = bt->t->width;
    const int32_t ref = pred_reference_of(bt->t->channels, c);
    tr->d[(size_t)y * w + x] = pred_d_at(bt, c, ref, ref >= 0 ? ch.weight : 0, x, y);
    tr->miss[(size_t)y * w + x] = 0;
    if (ch.predictor == PRED_FIXED)
        memset(err_row(tr, w, y) + (size_t)x * PRED_FIXED, 0, PRED_FIXED * sizeof(int32_t));
}

/* The surprise part of sample i's context: how far the reference missed
 * its mean at this pixel (x16); blue also counts half of red's miss (red is
 * coded before blue).  0 without a reference. */
uint32_t pred_surprise(const pred_trace *traces, uint32_t channels, uint32_t c,
                                   size_t i)
{
    int32_t ref = pred_reference_of(channels, c);
    if (ref < 0)
        return 0;
    uint32_t m = (uint32_t)abs32(traces[ref].miss[i]);
    if (c == 2)
        m += (uint32_t)abs32(traces[0].miss[i]) / 2;
    return surprise_bucket(m);
}

/* ---- both directions --------------------------------------------------- */

/* .idf version 2: each context's "used" as an adaptive decision in the
 * context of the previous one's; a used context's scale as the change from
 * the last used scale and its bias, each a signed adaptive Exp-Golomb code.
 * Fits of neighbouring contexts are alike, and most biases are small: on
 * 32x32 images this halves the side information, a seventh of the file. */
static int code_fit_compact(symbol_io *io, pred_fit *fit, pred_fit_coder *fc)
{
    uint32_t previous_used = 1;
    int64_t previous_scale = 0;
    for (uint32_t k = 0; k < PRED_CONTEXTS; k++) {
        fit->used[k] = (uint8_t)adaptive_decide(&fc->used[previous_used], fit->used[k], io);
        previous_used = fit->used[k];
        if (!fit->used[k])
            continue;
        uint32_t ds = io->enc ? adaptive_zigzag((int32_t)(fit->scale[k] - previous_scale)) : 0;
        uint32_t zb = io->enc ? adaptive_zigzag(fit->bias16[k]) : 0;
        int64_t scale = previous_scale + adaptive_unzigzag(adaptive_exp_golomb(fc->scale, ds, io));
        int64_t bias = adaptive_unzigzag(adaptive_exp_golomb(fc->bias, zb, io));
        if (scale < 0 || scale >= DL_NUM_SCALES || bias < -PRED_BIAS_LIMIT || bias > PRED_BIAS_LIMIT)
            return IDFZIP_ERR_CORRUPT; /* decoding: no encoder sends these */
        fit->scale[k] = (uint8_t)scale;
        fit->bias16[k] = (int32_t)bias;
        previous_scale = scale;
    }
    return IDFZIP_OK;
}

/* Sends (encoding) or receives (decoding) one channel's choice and fit. */
int pred_code_fit(symbol_io *io, const model_tile *t, uint32_t c, pred_fit *fit,
                  pred_fit_coder *coder)
{
    fit->choice.predictor = (uint8_t)symbol_io_bits(io, fit->choice.predictor, PRED_PREDICTOR_BITS);
    if (pred_reference_of(t->channels, c) >= 0)
        fit->choice.weight = (uint8_t)symbol_io_bits(io, fit->choice.weight, 3);
    else
        fit->choice.weight = 0;
    if (fit->choice.weight >= PRED_WEIGHTS || fit->choice.predictor >= PRED_PREDICTORS)
        return IDFZIP_ERR_CORRUPT; /* decoding: no encoder sends these */
    if (io->compact_side)
        return code_fit_compact(io, fit, coder);
    for (uint32_t k = 0; k < PRED_CONTEXTS; k++) {
        fit->used[k] = (uint8_t)symbol_io_bits(io, fit->used[k], 1);
        if (!fit->used[k])
            continue;
        fit->scale[k] = (uint8_t)symbol_io_bits(io, fit->scale[k], PRED_SCALE_BITS);
        uint32_t b = symbol_io_bits(io, (uint32_t)(fit->bias16[k] + PRED_BIAS_LIMIT), PRED_BIAS_BITS);
        fit->bias16[k] = (int32_t)b - PRED_BIAS_LIMIT;
        if (fit->scale[k] >= DL_NUM_SCALES || b > 2 * PRED_BIAS_LIMIT)
            return IDFZIP_ERR_CORRUPT;
    }
    return IDFZIP_OK;
}


/* The sample's prior: its context's DL, or the hook's. */
static void sample_prior(const pred_config *cfg, const pred_tile *bt, const pred_at *at,
                         symbol_io *io, int32_t *scratch, pred_prior *pr)
{
    pr->k = 1;
    pr->mean16[0] = at->p->mean16 + at->fit->bias16[at->p->ctx];
    pr->scale[0] = (int32_t)at->fit->scale[at->p->ctx];
    if (cfg->hook)
        cfg->hook->sample_prior(cfg->hook, bt, at, io, scratch, pr);
}

int pred_code_samples(const pred_config *cfg, const pred_tile *bt, model_tile *t,
                      const uint32_t *order, const pred_fit *fits, const pred_trace *traces,
                      int32_t *scratch, match_state *match, symbol_io *io)
{
    for (uint32_t c = 0; c < t->channels; c++)
        pred_lms_reset(traces[c].lms);
    for (uint32_t y = 0; y < t->height; y++) {
        for (uint32_t x = 0; x < t->width; x++) {
            const size_t at = (size_t)y * t->width + x;
            int matched = match ? match_code_pixel(match, t, x, y, io) : 0;
            if (matched < 0)
                return matched;
            if (matched && bt->lean) { /* match-v2: not predicted */
                for (uint32_t c = 0; c < t->channels; c++)
                    pred_record_matched(bt, c, fits[c].choice, &traces[c], x, y);
                match_record_pixel(match, t, x, y);
                continue;
            }
            for (uint32_t i = 0; i < t->channels; i++) {
                uint32_t c = order[i];
                pred_prior pr;
                pred_sample p;
                uint32_t surprise = pred_surprise(traces, t->channels, c, at);
                pred_predict(bt, c, fits[c].choice, surprise, &traces[c], x, y, &p);
                int32_t *s = t->samples + c * bt->plane + at;
                if (!matched) {
                    if (!fits[c].used[p.ctx])
                        return IDFZIP_ERR_CORRUPT; /* the encoder never saw this context */
                    const pred_at where = {c, x, y, &fits[c], traces, &p};
                    sample_prior(cfg, bt, &where, io, scratch, &pr);
                    *s = pred_code_value(io, *s, &pr, (int32_t)t->maxval);
                    if (*s < 0 || *s > (int32_t)t->maxval)
                        return IDFZIP_ERR_CORRUPT;
                }
                pred_record(bt, c, fits[c].choice, &traces[c], x, y, &p);
            }
            if (match)
                match_record_pixel(match, t, x, y);
        }
        IDF_TRY(symbol_io_status(io));
    }
    return IDFZIP_OK;
}
