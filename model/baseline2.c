/* baseline2.c — "baseline-v2" and "baseline-v3", the non-learned models
 * new files use when no learned model serves the image (baseline.c's v1
 * stays, frozen, for the files that name it; v2 stays for the files that
 * name it).  FORMAT.md is the exact definition.
 *
 * Flow: identity.  Prior: autoregressive within the tile, like v1, with
 * what v1 lacks:
 *   - the mean is a blend of eight predictions weighted 2^32/e^2 by their
 *     errors at W, N, NW, NE (v2: eight fixed predictors; v3: six of them
 *     and two NLMS predictors, a fast and a slow weight set that learn
 *     across the tile);
 *   - a fractional cross-channel weight, chosen per tile: channel c is
 *     predicted on the plane D = 4c - k*ref (k = 0..4, ref = green), i.e.
 *     "subtract k/4 of green", where v1 had only k = 0 or 4;
 *   - 72 contexts: the local activity plus nearby misses, and how far the
 *     reference channel's sample at the same pixel missed its own
 *     prediction (a surprise in green foretells one in red and blue), each
 *     with a scale and a bias the encoder fits per tile and sends.
 * Means are in 1/16 (so half and quarter predictions cost nothing);
 * everything is integer arithmetic, identical in encoder and decoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "baseline_util.h"
#include "model.h"
#include "nn.h"

#define B2_TILE 256
#define B2_MAX_CHANNELS 4
#define B2_FIXED 8               /* fixed predictors; number B2_FIXED is their blend */
#define B2_PREDICTORS (B2_FIXED + 1)
#define B2_PREDICTOR_BITS 4
#define B2_WEIGHTS 5             /* k = 0 .. 4 quarters of the reference */
#define B2_ACTIVITY 24
#define B2_SURPRISE 3
#define B2_CONTEXTS (B2_ACTIVITY * B2_SURPRISE)
#define B2_SCALE_BITS 7
#define B2_BIAS_BITS 9
#define B2_BIAS_LIMIT 255
#define B2_ERR_DIV 8
#define B2_TRIAL_ROWS 64         /* the encoder picks k on this many rows */

typedef struct b2_choice {
    uint8_t predictor;           /* 0 .. B2_PREDICTORS-1 */
    uint8_t weight;              /* k: quarters of the reference subtracted */
} b2_choice;

typedef struct b2_fit {
    b2_choice choice;
    uint8_t used[B2_CONTEXTS];
    uint8_t scale[B2_CONTEXTS];
    int32_t bias16[B2_CONTEXTS];
} b2_fit;

/* Coding order: green first, then red and blue leaning on it; alpha alone. */
static const uint32_t ORDER_RGB[4] = {1, 0, 2, 3};
static const uint32_t ORDER_PLAIN[4] = {0, 1, 2, 3};

static int32_t reference_of(uint32_t channels, uint32_t c)
{
    return (channels >= 3 && (c == 0 || c == 2)) ? 1 : -1;
}

/* What tells the versions apart (idf_model.params; NULL is v2). */
typedef struct b2_version {
    uint8_t lms; /* the blend's last two members are the NLMS predictors (v3) */
    uint8_t quick_weight; /* encoder: k by quick_weight() (the AR prior) */
} b2_version;

/* The tile plus what every prediction needs. */
typedef struct b2_tile {
    const model_tile *t;
    size_t plane;
    int32_t mid;
    int lms;
    int quick_weight;    /* encoder: choose k by quick_weight() */
    const dl_tables *dl; /* encoder: what coding costs */
    int32_t *members;    /* encoder: [plane], samples grouped by context */
    const nn_net *net;   /* the AR prior's net, or NULL */
    int32_t *net_scratch;
} b2_tile;

/* Sample of plane D = 4*c - k*ref at (x, y), for in-tile coordinates. */
static int32_t d_at(const b2_tile *bt, uint32_t c, int32_t ref, uint32_t k, int64_t x, int64_t y)
{
    const model_tile *t = bt->t;
    size_t i = (size_t)y * t->width + (size_t)x;
    int32_t v = 4 * t->samples[c * bt->plane + i];
    return ref >= 0 ? v - (int32_t)k * t->samples[(size_t)ref * bt->plane + i] : v;
}

/* Causal neighbours on plane D, replicated where they fall outside:
 * W, N, NW, NE, WW, NN, NEE. */
enum { NB_W, NB_N, NB_NW, NB_NE, NB_WW, NB_NN, NB_NEE, NB_COUNT };

static void neighbours(const b2_tile *bt, uint32_t c, int32_t ref, uint32_t k, uint32_t x,
                       uint32_t y, int32_t nb[NB_COUNT])
{
    const int64_t w = bt->t->width;
    if (y == 0) {
        int32_t v = x ? d_at(bt, c, ref, k, x - 1, 0) : 4 * bt->mid;
        int32_t vv = x > 1 ? d_at(bt, c, ref, k, x - 2, 0) : v;
        for (int i = 0; i < NB_COUNT; i++)
            nb[i] = v;
        nb[NB_WW] = vv;
        return;
    }
    nb[NB_N] = d_at(bt, c, ref, k, x, y - 1);
    nb[NB_W] = x ? d_at(bt, c, ref, k, x - 1, y) : nb[NB_N];
    nb[NB_NW] = x ? d_at(bt, c, ref, k, x - 1, y - 1) : nb[NB_N];
    nb[NB_NE] = x + 1 < w ? d_at(bt, c, ref, k, x + 1, y - 1) : nb[NB_N];
    nb[NB_NEE] = x + 2 < w ? d_at(bt, c, ref, k, x + 2, y - 1) : nb[NB_NE];
    nb[NB_WW] = x > 1 ? d_at(bt, c, ref, k, x - 2, y) : nb[NB_W];
    nb[NB_NN] = y > 1 ? d_at(bt, c, ref, k, x, y - 2) : nb[NB_N];
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
                              abs32(nb[NB_NE] - nb[NB_N])) / 4 + err16 / B2_ERR_DIV;
    return base_log_bucket(act, B2_ACTIVITY);
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
#define LMS_TAPS 10
#define LMS_SETS 2
#define LMS_SHIFT 14                  /* weights in 1/2^14 */
#define LMS_WEIGHT_LIMIT (1 << 17)
#define LMS_PRED_LIMIT (1 << 24)      /* |prediction x16| */

/* Step sizes in 1/2^12 of NLMS's unit step: fast, slow. */
static const int64_t LMS_MU[LMS_SETS] = {256, 16};

typedef struct b2_lms {
    int32_t w[LMS_SETS][LMS_TAPS];
    int32_t in[LMS_TAPS];     /* the inputs of the last prediction, for its update */
    int32_t pred16[LMS_SETS]; /* and its predictions */
} b2_lms;

static void lms_reset(b2_lms *l)
{
    for (int k = 0; k < LMS_SETS; k++) {
        for (int i = 0; i < LMS_TAPS; i++)
            l->w[k][i] = 0;
        l->w[k][0] = 1 << (LMS_SHIFT - 1);
    }
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
                        uint32_t x, uint32_t y, const int32_t nb[NB_COUNT], b2_lms *l)
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
    for (int k = 0; k < LMS_SETS; k++) {
        int64_t acc = 0;
        for (int i = 0; i < LMS_TAPS; i++)
            acc += (int64_t)l->w[k][i] * l->in[i];
        int64_t p = 16 * (int64_t)nb[NB_W] + trunc_shift(acc, LMS_SHIFT - 4);
        l->pred16[k] = (int32_t)clamp_abs(p, LMS_PRED_LIMIT);
    }
}

/* One NLMS step of each set towards d16, the true D x16:
 * w += mu * err * in / |in|^2.  Bounds: |err16| < 2^25, so q < 2^39 and
 * q * in < 2^59. */
static void lms_update(b2_lms *l, int32_t d16)
{
    int64_t norm = 64;
    for (int i = 0; i < LMS_TAPS; i++)
        norm += (int64_t)l->in[i] * l->in[i];
    for (int k = 0; k < LMS_SETS; k++) {
        int64_t q = ((int64_t)d16 - l->pred16[k]) * LMS_MU[k] * 4096 / norm;
        for (int i = 0; i < LMS_TAPS; i++)
            l->w[k][i] = (int32_t)clamp_abs(l->w[k][i] + trunc_shift(q * l->in[i], 12),
                                             LMS_WEIGHT_LIMIT);
    }
}

/* What coding a channel leaves behind for the contexts and the blend of
 * later samples, in raster order. */
typedef struct b2_trace {
    b2_lms *lms; /* v3 */
    int32_t *ctx;      /* [plane]: each sample's context (encoder) */
    int32_t *miss;     /* [plane]: sample x16 minus its mean */
    int32_t *err;      /* [2][width][B2_FIXED]: |D x16 - fixed prediction i| */
} b2_trace;

/* The error trace only ever looks one row back, so it is a ring of two
 * rows with the B2_FIXED errors of a pixel side by side: the blend reads
 * 4 neighbours x 8 predictors from a few cache lines instead of 32 places
 * in 8 planes (30% faster), and a thread's work space shrinks from 9 to
 * about 1 plane per channel.  A miss plane is read by later channels too,
 * so it stays whole. */
static int32_t *err_row(const b2_trace *tr, uint32_t w, uint32_t y)
{
    return tr->err + (size_t)(y & 1u) * w * B2_FIXED;
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

/* The fixed predictions weighted by 2^32 / (1 + their nearby errors)^2
 * (the idea of JPEG XL's weighted predictor): a predictor that has been
 * missing lately fades out.  Exact integers: weights <= 2^32, |d16| < 2^23,
 * so the sums stay below 2^57. */
/* near[i]: predictor i's errors summed over W, N, NW, NE (those that
 * exist); an error is below 2^25, so four fit in 32 bits. */
static void near_errors(const b2_trace *tr, uint32_t w, uint32_t x, uint32_t y,
                        uint32_t near[B2_FIXED])
{
    for (int i = 0; i < B2_FIXED; i++)
        near[i] = 0;
    const int32_t *cur = err_row(tr, w, y), *up = err_row(tr, w, y + 1);
    const int32_t *at[4];
    int n = 0;
    if (x)
        at[n++] = cur + (size_t)(x - 1) * B2_FIXED;
    if (y) {
        at[n++] = up + (size_t)x * B2_FIXED;
        if (x)
            at[n++] = up + (size_t)(x - 1) * B2_FIXED;
        if (x + 1 < w)
            at[n++] = up + (size_t)(x + 1) * B2_FIXED;
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < B2_FIXED; i++)
            near[i] += (uint32_t)at[j][i];
}

static int32_t blend_d16(const int32_t d16[B2_FIXED], const uint32_t near[B2_FIXED])
{
    int64_t num = 0, den = 0;
    for (int i = 0; i < B2_FIXED; i++) {
        uint64_t e = 1 + (uint64_t)near[i];
        uint64_t wt = e < ((uint64_t)1 << 16) ? ((uint64_t)1 << 32) / (e * e) : 0;
        num += (int64_t)wt * d16[i];
        den += (int64_t)wt;
    }
    return den ? (int32_t)div_round(num, den) : d16[0];
}

/* The blend's members: v2, the 8 fixed predictions; v3, six of them (not
 * 4 and 5, which the NLMS predictors make redundant), then the slow and the
 * fast NLMS prediction. */
static void blend_members(const b2_tile *bt, uint32_t c, int32_t ref, uint32_t x, uint32_t y,
                          const int32_t nb[NB_COUNT], const b2_trace *tr, int32_t fixed[B2_FIXED])
{
    if (!bt->lms) {
        for (int i = 0; i < B2_FIXED; i++)
            fixed[i] = predict_d16((uint32_t)i, nb);
        return;
    }
    static const uint8_t v3_fixed[B2_FIXED - LMS_SETS] = {0, 1, 2, 3, 6, 7};
    for (int i = 0; i < B2_FIXED - LMS_SETS; i++)
        fixed[i] = predict_d16(v3_fixed[i], nb);
    lms_predict(bt->t, bt->plane, c, ref, x, y, nb, tr->lms);
    fixed[B2_FIXED - 2] = tr->lms->pred16[1];
    fixed[B2_FIXED - 1] = tr->lms->pred16[0];
}

/* What predicting one sample gives its coding, its record and the AR
 * prior's features. */
typedef struct b2_pred {
    int32_t mean16;           /* 1/16 sample units */
    uint32_t ctx;
    int32_t fixed[B2_FIXED];  /* the blend's members, D x16 (blend only) */
    uint32_t near[B2_FIXED];  /* their errors nearby (blend only) */
    int32_t nb[NB_COUNT];     /* the causal neighbours on plane D */
    uint64_t near_miss;       /* sum of |miss| at W, N, NW, NE of this channel */
    int32_t ref16;            /* 16 k ref: D x16 + ref16 is 4 x sample x16 */
} b2_pred;

/* Mean and context of sample (x, y) of channel c into p.  surprise:
 * reference_surprise() of the sample; tr: the channel's trace so far. */
static void b2_predict(const b2_tile *bt, uint32_t c, b2_choice ch, uint32_t surprise,
                       const b2_trace *tr, uint32_t x, uint32_t y, b2_pred *p)
{
    const model_tile *t = bt->t;
    int32_t ref = reference_of(t->channels, c);
    uint32_t k = ref >= 0 ? ch.weight : 0;
    neighbours(bt, c, ref, k, x, y, p->nb);
    int32_t d16;
    if (ch.predictor == B2_FIXED) {
        blend_members(bt, c, ref, x, y, p->nb, tr, p->fixed);
        near_errors(tr, t->width, x, y, p->near);
        d16 = blend_d16(p->fixed, p->near);
    } else {
        d16 = predict_d16(ch.predictor, p->nb);
    }
    p->ref16 = ref >= 0 ? 16 * (int32_t)k * t->samples[(size_t)ref * bt->plane +
                                                       (size_t)y * t->width + x] : 0;
    int32_t mean16 = (int32_t)floor_shift(d16 + p->ref16 + 2, 2);
    int32_t hi = 16 * (int32_t)t->maxval;
    p->mean16 = mean16 < 0 ? 0 : (mean16 > hi ? hi : mean16);
    p->near_miss = near_sum_abs(tr->miss, t->width, x, y);
    p->ctx = activity_bucket(p->nb, (uint32_t)(p->near_miss * 2 / 3)) * B2_SURPRISE + surprise;
}

/* Records sample (x, y) of channel c, now known, in its trace. */
static void b2_record(const b2_tile *bt, uint32_t c, b2_choice ch, const b2_trace *tr,
                      uint32_t x, uint32_t y, const b2_pred *p)
{
    const model_tile *t = bt->t;
    size_t i = (size_t)y * t->width + x;
    tr->miss[i] = 16 * t->samples[c * bt->plane + i] - p->mean16;
    if (ch.predictor != B2_FIXED)
        return;
    int32_t ref = reference_of(t->channels, c);
    int32_t d16 = 16 * d_at(bt, c, ref, ref >= 0 ? ch.weight : 0, x, y);
    int32_t *e = err_row(tr, t->width, y) + (size_t)x * B2_FIXED;
    for (int k = 0; k < B2_FIXED; k++)
        e[k] = abs32(d16 - p->fixed[k]);
    if (bt->lms)
        lms_update(tr->lms, d16);
}

/* The surprise part of sample i's context: how far the reference missed
 * its mean at this pixel (x16); blue also counts half of red's miss (red is
 * coded before blue).  0 without a reference. */
static uint32_t reference_surprise(const b2_trace *traces, uint32_t channels, uint32_t c,
                                   size_t i)
{
    int32_t ref = reference_of(channels, c);
    if (ref < 0)
        return 0;
    uint32_t m = (uint32_t)abs32(traces[ref].miss[i]);
    if (c == 2)
        m += (uint32_t)abs32(traces[0].miss[i]) / 2;
    return surprise_bucket(m);
}

/* ---- encoder: choosing and fitting ------------------------------------ */

typedef struct b2_stats {
    int64_t sum_abs[B2_CONTEXTS], sum[B2_CONTEXTS], count[B2_CONTEXTS];
    int64_t total_abs;
} b2_stats;

/* Residuals of channel c's first `rows` rows under choice ch (x16) into its
 * trace, given the misses (x16) of the reference channel, or NULL. */
static void b2_gather(const b2_tile *bt, uint32_t c, b2_choice ch, const b2_trace *traces,
                      const b2_trace *tr, uint32_t rows, b2_stats *st)
{
    const model_tile *t = bt->t;
    for (size_t k = 0; k < B2_CONTEXTS; k++)
        st->sum_abs[k] = st->sum[k] = st->count[k] = 0;
    st->total_abs = 0;
    lms_reset(tr->lms); /* each pass replays the tile as the decoder will */
    for (uint32_t y = 0; y < rows; y++)
        for (uint32_t x = 0; x < t->width; x++) {
            size_t i = (size_t)y * t->width + x;
            b2_pred p;
            b2_predict(bt, c, ch, reference_surprise(traces, t->channels, c, i), tr, x, y, &p);
            b2_record(bt, c, ch, tr, x, y, &p);
            tr->ctx[i] = (int32_t)p.ctx;
            int32_t r16 = tr->miss[i];
            st->sum_abs[p.ctx] += abs32(r16);
            st->sum[p.ctx] += r16;
            st->count[p.ctx]++;
            st->total_abs += abs32(r16);
        }
}

/* Per-context bias and scale from the statistics of the chosen variant. */
static void b2_fit_contexts(const b2_stats *st, b2_fit *fit)
{
    for (uint32_t k = 0; k < B2_CONTEXTS; k++) {
        fit->used[k] = st->count[k] > 0;
        if (!fit->used[k])
            continue;
        fit->bias16[k] = (int32_t)clamp_abs(div_round(st->sum[k], st->count[k]), B2_BIAS_LIMIT);
        /* mean absolute deviation around the biased mean, x16 */
        int64_t mad16 = div_round(st->sum_abs[k], st->count[k]);
        fit->scale[k] = (uint8_t)dl_scale_for_mad((uint64_t)mad16);
    }
}

/* Bits (1/16) of context k's samples, listed in members, at scale s. */
static uint64_t b2_context_cost(const b2_tile *bt, uint32_t c, const b2_trace *tr,
                                const int32_t *members, uint32_t n, int32_t bias16, uint32_t s)
{
    const int32_t *v = bt->t->samples + (size_t)c * bt->plane;
    uint64_t bits = 0;
    for (uint32_t j = 0; j < n; j++) {
        int32_t i = members[j];
        bits += dl_cost16(bt->dl, v[i], 16 * v[i] - tr->miss[i] + bias16, s);
    }
    return bits;
}

/* Encoder: the scale index of each context that codes the tile's samples
 * of that context in the fewest bits, found by stepping one index at a
 * time from the MAD estimate (which misjudges heavy-tailed residuals).
 * The decoder just reads the scales, so this is the encoder's business. */
static void b2_refine_scales(const b2_tile *bt, uint32_t c, const b2_trace *tr, b2_fit *fit)
{
    uint32_t start[B2_CONTEXTS + 1] = {0}, at[B2_CONTEXTS];
    for (size_t i = 0; i < bt->plane; i++)
        start[tr->ctx[i] + 1]++;
    for (uint32_t k = 0; k < B2_CONTEXTS; k++)
        start[k + 1] += start[k], at[k] = start[k];
    for (size_t i = 0; i < bt->plane; i++)
        bt->members[at[tr->ctx[i]]++] = (int32_t)i;
    for (uint32_t k = 0; k < B2_CONTEXTS; k++) {
        if (!fit->used[k])
            continue;
        const int32_t *m = bt->members + start[k];
        uint32_t n = start[k + 1] - start[k], s = fit->scale[k];
        int32_t bias = fit->bias16[k];
        uint64_t best = b2_context_cost(bt, c, tr, m, n, bias, s), cost;
        int went_up = 0;
        while (s + 1 < DL_NUM_SCALES && (cost = b2_context_cost(bt, c, tr, m, n, bias, s + 1)) < best)
            s++, best = cost, went_up = 1;
        while (!went_up && s > 0 && (cost = b2_context_cost(bt, c, tr, m, n, bias, s - 1)) < best)
            s--, best = cost;
        fit->scale[k] = (uint8_t)s;
    }
}

/* Tries every variant of channel c, keeps the one with the smallest total
 * absolute residual, fits its contexts and leaves its misses in miss_out. */
static int64_t b2_try(const b2_tile *bt, uint32_t c, b2_choice ch, const b2_trace *traces,
                      const b2_trace *tr, b2_stats *st, b2_choice *best, int64_t best_abs)
{
    uint32_t rows = bt->t->height < B2_TRIAL_ROWS ? bt->t->height : B2_TRIAL_ROWS;
    b2_gather(bt, c, ch, traces, tr, rows, st);
    if (st->total_abs >= best_abs)
        return best_abs;
    *best = ch;
    return st->total_abs;
}

/* The reference weight k whose plane D has the smallest total |D - MED|
 * (the median predictor of W, N, W + N - NW) over every other row: a
 * quarter of the time of b2_try's blend trials, which dominated the AR
 * prior's encoder. */
static uint8_t quick_weight(const b2_tile *bt, uint32_t c)
{
    const int32_t ref = reference_of(bt->t->channels, c);
    uint8_t best = 0;
    uint64_t best_sum = UINT64_MAX;
    for (uint32_t k = 0; ref >= 0 && k < B2_WEIGHTS; k++) {
        uint64_t sum = 0;
        for (uint32_t y = 1; y < bt->t->height; y += 2)
            for (uint32_t x = 1; x < bt->t->width; x++) {
                int32_t w = d_at(bt, c, ref, k, x - 1, y), n = d_at(bt, c, ref, k, x, y - 1);
                int32_t nw = d_at(bt, c, ref, k, x - 1, y - 1);
                sum += (uint64_t)abs32(d_at(bt, c, ref, k, x, y) - median3(w, n, w + n - nw));
            }
        if (sum < best_sum)
            best_sum = sum, best = (uint8_t)k;
    }
    return best;
}

/* Chooses channel c's reference weight k by the smallest total absolute
 * residual of the blend over the tile's first B2_TRIAL_ROWS rows (or by
 * quick_weight), fits its contexts on the whole tile and leaves its trace
 * in tr. */
static void b2_choose(const b2_tile *bt, uint32_t c, const b2_trace *traces, const b2_trace *tr,
                      b2_fit *fit)
{
    b2_stats st;
    uint32_t weights = reference_of(bt->t->channels, c) >= 0 ? B2_WEIGHTS : 1;
    b2_choice best = {B2_FIXED, 0};
    int64_t best_abs = INT64_MAX;
    if (bt->quick_weight)
        best.weight = quick_weight(bt, c);
    for (uint32_t k = 0; !bt->quick_weight && weights > 1 && k < weights; k++)
        best_abs = b2_try(bt, c, (b2_choice){B2_FIXED, (uint8_t)k}, traces, tr, &st, &best,
                          best_abs);
    fit->choice = best;
    b2_gather(bt, c, best, traces, tr, bt->t->height, &st);
    b2_fit_contexts(&st, fit);
    b2_refine_scales(bt, c, tr, fit);
}

/* ---- both directions --------------------------------------------------- */

/* Sends (encoding) or receives (decoding) one channel's choice and fit. */
static int b2_code_fit(symbol_io *io, const model_tile *t, uint32_t c, b2_fit *fit)
{
    fit->choice.predictor = (uint8_t)symbol_io_bits(io, fit->choice.predictor, B2_PREDICTOR_BITS);
    if (reference_of(t->channels, c) >= 0)
        fit->choice.weight = (uint8_t)symbol_io_bits(io, fit->choice.weight, 3);
    else
        fit->choice.weight = 0;
    if (fit->choice.weight >= B2_WEIGHTS || fit->choice.predictor >= B2_PREDICTORS)
        return -1;
    for (uint32_t k = 0; k < B2_CONTEXTS; k++) {
        fit->used[k] = (uint8_t)symbol_io_bits(io, fit->used[k], 1);
        if (!fit->used[k])
            continue;
        fit->scale[k] = (uint8_t)symbol_io_bits(io, fit->scale[k], B2_SCALE_BITS);
        uint32_t b = symbol_io_bits(io, (uint32_t)(fit->bias16[k] + B2_BIAS_LIMIT), B2_BIAS_BITS);
        fit->bias16[k] = (int32_t)b - B2_BIAS_LIMIT;
        if (fit->scale[k] >= DL_NUM_SCALES || b > 2 * B2_BIAS_LIMIT)
            return -1;
    }
    return 0;
}

/* ---- the learned AR prior (an .idfw without flow levels) --------------- *
 * Everything above predicts each sample; a small net then maps integer
 * features of that prediction (how the blend's members disagree, their
 * recent errors, the local gradients, the misses nearby and in the other
 * channels at this pixel, the tile's fitted scale and bias of the context)
 * to a correction of the mean and the scale index.  FORMAT.md lists the
 * features in order; tools/train/ar.py learns the net on them. */

/* 16 log2(1 + v), linear between powers of two: 16 floor(log2 u) plus the
 * four bits below u's top bit, u = v + 1. */
static int32_t log16(uint32_t v)
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

static int32_t slog16(int32_t v)
{
    return v < 0 ? -log16((uint32_t)(-(int64_t)v)) : log16((uint32_t)v);
}

static void ar_features(const b2_tile *bt, uint32_t c, const b2_fit *fit, const b2_trace *traces,
                        uint32_t x, uint32_t y, const b2_pred *p, int32_t f[BASELINE_AR_FEATURES])
{
    const model_tile *t = bt->t;
    const b2_trace *tr = &traces[c];
    const size_t i = (size_t)y * t->width + x;
    const int32_t ref = reference_of(t->channels, c);
    int n = 0;
    for (int j = 0; j < B2_FIXED; j++)
        f[n++] = slog16((int32_t)floor_shift(p->fixed[j] + p->ref16 + 2, 2) - p->mean16);
    for (int j = 0; j < B2_FIXED; j++)
        f[n++] = log16(p->near[j]);
    f[n++] = slog16(p->nb[NB_W] - p->nb[NB_NW]);
    f[n++] = slog16(p->nb[NB_N] - p->nb[NB_NW]);
    f[n++] = slog16(p->nb[NB_NE] - p->nb[NB_N]);
    f[n++] = log16((uint32_t)p->near_miss);
    f[n++] = ref >= 0 ? slog16(traces[ref].miss[i]) : 0;
    f[n++] = ref >= 0 && c == 2 ? slog16(traces[0].miss[i]) : 0;
    f[n++] = x ? slog16(tr->miss[i - 1]) : 0;
    f[n++] = y ? slog16(tr->miss[i - t->width]) : 0;
    for (uint32_t k = 0; k < 3; k++)
        f[n++] = c == k ? 64 : 0;
    f[n++] = 8 * fit->scale[p->ctx];
    f[n++] = fit->bias16[p->ctx];
}

/* What codes one sample: one DL (k = 1) or the AR prior's mixture of two. */
typedef struct b2_prior {
    uint32_t k;
    int32_t mean16[2], scale[2];
    uint16_t weight[2];
} b2_prior;

/* A net's mean correction and scale index (1/16) as a DL's parameters. */
static void dl_from_net(const b2_tile *bt, const b2_pred *p, int32_t mean_out, int32_t scale_out,
                        int32_t *mean16, int32_t *scale)
{
    int64_t m = (int64_t)p->mean16 + mean_out, hi = 16 * (int64_t)bt->t->maxval;
    *mean16 = (int32_t)(m < 0 ? 0 : (m > hi ? hi : m));
    *scale = (int32_t)model_scale_index(scale_out);
}

/* The net's outputs as the sample's prior.  A mixture's first weight is
 * sigmoid(logit0 - logit1) (logits in 1/16) through the coder's integer
 * logistic, in 1/2^15, kept in 1 .. 2^15 - 1 so both components stay. */
static void prior_from_net(const b2_tile *bt, const b2_pred *p, const int32_t *out, b2_prior *pr)
{
    if (bt->net->cout == BASELINE_AR_OUTPUTS) {
        dl_from_net(bt, p, out[0], out[1], &pr->mean16[0], &pr->scale[0]);
        return;
    }
    pr->k = 2;
    dl_from_net(bt, p, out[0], out[2], &pr->mean16[0], &pr->scale[0]);
    dl_from_net(bt, p, out[1], out[3], &pr->mean16[1], &pr->scale[1]);
    int64_t w = (int64_t)(dl_logistic_cdf_q32(2 * ((int64_t)out[4] - out[5]), 1u << 20) >> 17);
    w = w < 1 ? 1 : (w > 32767 ? 32767 : w);
    pr->weight[0] = (uint16_t)w;
    pr->weight[1] = (uint16_t)(32768 - w);
}

/* The prior of a sample: the tile's fit of its context, or with a net,
 * the net's. */
static void sample_params(const b2_tile *bt, uint32_t c, const b2_fit *fit, const b2_trace *traces,
                          uint32_t x, uint32_t y, const b2_pred *p, symbol_io *io, b2_prior *pr)
{
    pr->k = 1;
    pr->mean16[0] = p->mean16 + fit->bias16[p->ctx];
    pr->scale[0] = (int32_t)fit->scale[p->ctx];
    latent_log *log = io->enc ? io->log : NULL;
    /* Features exist for blended samples only (the encoder always blends). */
    int record = log && log->features && log->count < log->capacity &&
                 fit->choice.predictor == B2_FIXED;
    if (!bt->net && !record)
        return;
    int32_t f[BASELINE_AR_LOGGED], out[BASELINE_AR_MIX_OUTPUTS];
    ar_features(bt, c, fit, traces, x, y, p, f);
    f[BASELINE_AR_FEATURES] = p->mean16;
    f[BASELINE_AR_FEATURES + 1] = (int32_t)p->ctx;
    if (record)
        for (int k = 0; k < BASELINE_AR_LOGGED; k++)
            log->features[log->count * BASELINE_AR_LOGGED + k] = f[k];
    if (!bt->net)
        return;
    nn_forward(bt->net, f, 1, 1, out, bt->net_scratch, io->kernel);
    prior_from_net(bt, p, out, pr);
}

static int b2_code_samples(const b2_tile *bt, model_tile *t, const uint32_t *order,
                           const b2_fit *fits, const b2_trace *traces, symbol_io *io)
{
    for (uint32_t c = 0; c < t->channels; c++)
        lms_reset(traces[c].lms);
    for (uint32_t y = 0; y < t->height; y++) {
        for (uint32_t x = 0; x < t->width; x++) {
            const size_t at = (size_t)y * t->width + x;
            for (uint32_t i = 0; i < t->channels; i++) {
                uint32_t c = order[i];
                b2_prior pr;
                b2_pred p;
                uint32_t surprise = reference_surprise(traces, t->channels, c, at);
                b2_predict(bt, c, fits[c].choice, surprise, &traces[c], x, y, &p);
                if (!fits[c].used[p.ctx])
                    return -1; /* decoding: the encoder never saw this context */
                sample_params(bt, c, &fits[c], traces, x, y, &p, io, &pr);
                int32_t *s = t->samples + c * bt->plane + at;
                *s = pr.k == 1 ? symbol_io_latent(io, *s, pr.mean16[0], (uint32_t)pr.scale[0])
                               : symbol_io_mixture(io, *s, pr.mean16, pr.scale, pr.weight, pr.k,
                                                   (int32_t)t->maxval);
                if (*s < 0 || *s > (int32_t)t->maxval)
                    return -1;
                b2_record(bt, c, fits[c].choice, &traces[c], x, y, &p);
            }
        }
        if (symbol_io_failed(io))
            return -1;
    }
    return 0;
}

/* Encoder: chooses and fits every channel in coding order. */
static void b2_fit_all(const b2_tile *bt, const uint32_t *order, b2_fit *fits,
                       const b2_trace *traces)
{
    const model_tile *t = bt->t;
    for (uint32_t i = 0; i < t->channels; i++) {
        uint32_t c = order[i];
        b2_choose(bt, c, traces, &traces[c], &fits[c]);
    }
}

/* Work space kept in the thread's model cache across tiles. */
typedef struct b2_work {
    size_t capacity; /* int32 elements of data */
    int32_t data[];
} b2_work;

static void b2_work_free(void *p)
{
    free(p);
}

/* n int32 elements for the traces: from io's cache (grown when a tile needs
 * more), or malloc'ed for this tile only when there is no cache. */
static int32_t *trace_store(symbol_io *io, size_t n)
{
    model_cache *c = io->cache;
    if (!c)
        return malloc(n * sizeof(int32_t));
    b2_work *wk = c->release == b2_work_free ? c->work : NULL;
    if (!wk || wk->capacity < n) {
        model_cache_release(c);
        if (n > (SIZE_MAX - sizeof *wk) / sizeof(int32_t) ||
            !(wk = malloc(sizeof *wk + n * sizeof(int32_t))))
            return NULL;
        wk->capacity = n;
        c->work = wk;
        c->release = b2_work_free;
    }
    return wk->data;
}

/* The AR prior's net (NULL: none) sees only the blend's members, so it
 * works on RGB and grey tiles whose every channel uses the blend. */
static int ar_serves_fits(const nn_net *net, const model_tile *t, const b2_fit *fits)
{
    if (!net)
        return 1;
    for (uint32_t c = 0; c < t->channels; c++)
        if (fits[c].choice.predictor != B2_FIXED)
            return 0;
    return t->channels == 1 || t->channels == 3;
}

static int b2_code_tile_with(const b2_version *ver, const nn_net *net, model_tile *t,
                             symbol_io *io)
{
    /* Zeroed: the decoder passes each field to symbol_io_bits before it
     * reads it, and an indeterminate bias could overflow there. */
    b2_fit fits[B2_MAX_CHANNELS];
    memset(fits, 0, sizeof fits);
    const uint32_t *order = t->channels >= 3 ? ORDER_RGB : ORDER_PLAIN;
    if (t->channels < 1 || t->channels > B2_MAX_CHANNELS)
        return -1;
    b2_tile bt = {t, (size_t)t->width * t->height, (int32_t)((t->maxval + 1) / 2),
                  ver && ver->lms, ver && ver->quick_weight, io->dl, NULL, net, NULL};
    /* Every channel's trace: contexts and blend weights of later samples. */
    b2_trace traces[B2_MAX_CHANNELS];
    b2_lms lms[B2_MAX_CHANNELS];
    /* Per channel a miss plane and the error ring; the net's scratch; the
     * encoder also needs every channel's context plane and one plane of
     * context members. */
    size_t per_channel = bt.plane + 2 * (size_t)t->width * B2_FIXED;
    size_t net_space = net ? nn_scratch_size(net, 1, 1) : 0;
    size_t encoder_only = io->enc ? (t->channels + 1) * bt.plane : 0;
    int32_t *store = trace_store(io, per_channel * t->channels + net_space + encoder_only);
    if (!store)
        return -1;
    bt.net_scratch = store + per_channel * t->channels;
    int32_t *encoder_space = bt.net_scratch + net_space;
    bt.members = io->enc ? encoder_space + (size_t)t->channels * bt.plane : NULL;
    for (uint32_t c = 0; c < t->channels; c++) {
        traces[c].miss = store + (size_t)c * per_channel;
        traces[c].err = traces[c].miss + bt.plane;
        traces[c].ctx = io->enc ? encoder_space + (size_t)c * bt.plane : NULL;
        traces[c].lms = &lms[c];
    }
    int st = 0;
    if (io->enc)
        b2_fit_all(&bt, order, fits, traces);
    for (uint32_t i = 0; st == 0 && i < t->channels; i++)
        st = b2_code_fit(io, t, order[i], &fits[order[i]]);
    if (st == 0)
        st = ar_serves_fits(net, t, fits) ? b2_code_samples(&bt, t, order, fits, traces, io) : -1;
    if (!io->cache)
        free(store);
    return st;
}

static int b2_code_tile(const idf_model *m, model_tile *t, symbol_io *io)
{
    return b2_code_tile_with(m->params, NULL, t, io);
}

static const b2_version AR = {.lms = 1, .quick_weight = 1};

int baseline_ar_code_tile(const nn_net *net, model_tile *t, symbol_io *io)
{
    return b2_code_tile_with(&AR, net, t, io);
}

static const idf_model BASELINE_V2 = {
    .name = "baseline-v2",
    .crc = 0,
    .tile_width = B2_TILE,
    .tile_height = B2_TILE,
    .serves = baseline_serves,
    .code_tile = b2_code_tile,
    .params = NULL,
};

const idf_model *baseline_v2_model(void)
{
    return &BASELINE_V2;
}

static const b2_version V3 = {.lms = 1};

static const idf_model BASELINE_V3 = {
    .name = "baseline-v3",
    .crc = 0,
    .tile_width = B2_TILE,
    .tile_height = B2_TILE,
    .serves = baseline_serves,
    .code_tile = b2_code_tile,
    .params = &V3,
};

const idf_model *baseline_v3_model(void)
{
    return &BASELINE_V3;
}
