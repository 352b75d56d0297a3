/* predictor_search.c — the encoder's side of the predictor (predictor.h):
 * for each channel of a tile, the reference weight k (by a quick MED
 * residual, then for baseline-v3 by trial codings of the first rows at
 * that k and its two neighbours), then each
 * context's bias and scale, the scale refined by the actual coding cost.
 * The decoder reads what this chooses, so none of it is in the format:
 * a better search changes file sizes, never the decoder. */
#include <stdint.h>
#include <string.h>

#include "../common/int_math.h"
#include "predictor.h"

typedef struct search_stats {
    int64_t sum_abs[PRED_CONTEXTS], sum[PRED_CONTEXTS], count[PRED_CONTEXTS];
    int64_t total_abs;
} search_stats;

/* Residuals of channel c's first `rows` rows under choice ch (x16) into its
 * trace, given the misses (x16) of the reference channel, or NULL. */
static void search_gather(const pred_tile *bt, uint32_t c, pred_choice ch, const pred_trace *traces,
                      const pred_trace *tr, uint32_t rows, search_stats *st)
{
    const model_tile *t = bt->t;
    for (size_t k = 0; k < PRED_CONTEXTS; k++)
        st->sum_abs[k] = st->sum[k] = st->count[k] = 0;
    st->total_abs = 0;
    pred_lms_reset(tr->lms); /* each pass replays the tile as the decoder will */
    for (uint32_t y = 0; y < rows; y++)
        for (uint32_t x = 0; x < t->width; x++) {
            size_t i = (size_t)y * t->width + x;
            if (bt->lean && bt->skip[i]) { /* as the coder will see it */
                pred_record_matched(bt, c, ch, tr, x, y);
                tr->ctx[i] = 0;
                continue;
            }
            pred_sample p;
            pred_predict(bt, c, ch, pred_surprise(traces, t->channels, c, i), tr, x, y, &p);
            pred_record(bt, c, ch, tr, x, y, &p);
            tr->ctx[i] = (int32_t)p.ctx;
            if (bt->cache) { /* the last pass over the whole tile is what stays
                                (no kept trials where there is a cache) */
                const pred_at at = {c, x, y, NULL, traces, &p};
                const uint32_t n = bt->observer->cache_values;
                bt->observer->observe(bt, &at, bt->cache + ((size_t)c * bt->plane + i) * n);
            }
            if (bt->skip && bt->skip[i])
                continue; /* coded as a match, not with its context */
            int32_t r16 = tr->miss[i];
            st->sum_abs[p.ctx] += abs32(r16);
            st->sum[p.ctx] += r16;
            st->count[p.ctx]++;
            st->total_abs += abs32(r16);
        }
}

/* Per-context bias and scale from the statistics of the chosen variant. */
static void search_fit_contexts(const search_stats *st, pred_fit *fit)
{
    for (uint32_t k = 0; k < PRED_CONTEXTS; k++) {
        fit->used[k] = st->count[k] > 0;
        if (!fit->used[k])
            continue;
        fit->bias16[k] = (int32_t)clamp_abs(div_round(st->sum[k], st->count[k]), PRED_BIAS_LIMIT);
        /* mean absolute deviation around the biased mean, x16 */
        int64_t mad16 = div_round(st->sum_abs[k], st->count[k]);
        fit->scale[k] = (uint8_t)dl_scale_for_mad((uint64_t)mad16);
    }
}

/* What a sample costs (1/16 bit) at scale s when it missed its biased
 * mean by u (x16): dl_cost16 of value v at mean 16 v - u depends on u
 * alone (the integer and fractional parts of the miss), so it is asked of
 * value 0 at mean -u, once per (s, u) in a tile: the scale search asks
 * for the same few hundred residuals of every context at three to six
 * scales, and dl_cost16 was a sixth of the encoder's time. */
static uint32_t residual_cost(const pred_tile *bt, int32_t u, uint32_t s)
{
    if (u < -PRED_COST_REACH || u > PRED_COST_REACH)
        return dl_cost16(bt->dl, 0, -u, s);
    uint16_t *row = bt->costs + (size_t)s * PRED_COST_SPAN;
    if (!bt->cost_rows[s]) { /* a tile asks for a few scales: rows set up on demand */
        memset(row, 0xFF, PRED_COST_SPAN * sizeof *row); /* PRED_COST_UNKNOWN */
        bt->cost_rows[s] = 1;
    }
    uint16_t *memo = row + (u + PRED_COST_REACH);
    if (*memo == PRED_COST_UNKNOWN)
        *memo = (uint16_t)dl_cost16(bt->dl, 0, -u, s);
    return *memo;
}

/* Bits (1/16) of context k's samples, listed in members, at scale s. */
static uint64_t search_context_cost(const pred_tile *bt, const pred_trace *tr,
                                    const int32_t *members, uint32_t n, int32_t bias16, uint32_t s)
{
    uint64_t bits = 0;
    for (uint32_t j = 0; j < n; j++)
        bits += residual_cost(bt, tr->miss[members[j]] - bias16, s);
    return bits;
}

/* What the compact side information (.idf version 2) spends on a value
 * coded as a signed adaptive Exp-Golomb code, in 1/16 bit, as if each
 * decision cost a bit (the adaptive prefix costs less). */
static uint64_t side_cost16(int64_t v)
{
    uint32_t z = adaptive_zigzag((int32_t)v);
    return 16 * (2 * (uint64_t)adaptive_bit_length(z + 1) - 1);
}

/* Encoder: the scale index of each context that codes the tile's samples
 * of that context in the fewest bits, found by stepping one index at a
 * time from the MAD estimate (which misjudges heavy-tailed residuals).
 * With compact side information the scale's and bias's own bits count
 * too, and a bias of 0 is taken where it saves more than it costs: on a
 * small tile most contexts hold a few samples.  The decoder just reads
 * the fits, so this is the encoder's business. */
/* One context's samples (members m, n of them) coded at bias b: what
 * scale index s costs, with compact side information its side bits too
 * (previous: the last used context's scale). */
typedef struct scale_trial {
    const pred_tile *bt;
    const pred_trace *tr;
    const int32_t *m;
    uint32_t n;
    int64_t previous;
} scale_trial;

static uint64_t trial_cost(const scale_trial *t, int32_t b, uint32_t s)
{
    uint64_t bits = search_context_cost(t->bt, t->tr, t->m, t->n, b, s);
    if (t->bt->compact_side)
        bits += side_cost16((int64_t)s - t->previous) + side_cost16(b);
    return bits;
}

/* From scale s, steps one index at a time while the cost falls; the scale
 * found, its cost in *cost. */
static uint32_t best_scale(const scale_trial *t, int32_t b, uint32_t s, uint64_t *cost)
{
    uint64_t best = trial_cost(t, b, s), c;
    int went_up = 0;
    while (s + 1 < DL_NUM_SCALES && (c = trial_cost(t, b, s + 1)) < best)
        s++, best = c, went_up = 1;
    while (!went_up && s > 0 && (c = trial_cost(t, b, s - 1)) < best)
        s--, best = c;
    *cost = best;
    return s;
}

static void search_refine_scales(const pred_tile *bt, const pred_trace *tr, pred_fit *fit)
{
    uint32_t start[PRED_CONTEXTS + 1] = {0}, at[PRED_CONTEXTS];
    for (size_t i = 0; i < bt->plane; i++)
        if (!bt->skip || !bt->skip[i])
            start[tr->ctx[i] + 1]++;
    for (uint32_t k = 0; k < PRED_CONTEXTS; k++)
        start[k + 1] += start[k], at[k] = start[k];
    for (size_t i = 0; i < bt->plane; i++)
        if (!bt->skip || !bt->skip[i])
            bt->members[at[tr->ctx[i]]++] = (int32_t)i;
    scale_trial t = {bt, tr, NULL, 0, 0};
    for (uint32_t k = 0; k < PRED_CONTEXTS; k++) {
        if (!fit->used[k])
            continue;
        t.m = bt->members + start[k];
        t.n = start[k + 1] - start[k];
        uint64_t cost, zero_cost;
        uint32_t s = best_scale(&t, fit->bias16[k], fit->scale[k], &cost);
        if (bt->compact_side && fit->bias16[k] != 0) { /* and without the bias */
            uint32_t s0 = best_scale(&t, 0, fit->scale[k], &zero_cost);
            if (zero_cost < cost)
                s = s0, fit->bias16[k] = 0;
        }
        fit->scale[k] = (uint8_t)s;
        t.previous = s;
    }
}

/* Trial of choice ch for channel c on the tile's first PRED_TRIAL_ROWS
 * rows: its total absolute residual, if below best_abs, becomes the new
 * best (*best = ch, and with keep, its statistics and its trace's misses
 * and contexts are kept there).  Returns the best total so far. */
static int64_t search_try(const pred_tile *bt, uint32_t c, pred_choice ch, const pred_trace *traces,
                          const pred_trace *tr, search_stats *st, pred_choice *best,
                          int64_t best_abs, search_stats *keep)
{
    uint32_t rows = bt->t->height < PRED_TRIAL_ROWS ? bt->t->height : PRED_TRIAL_ROWS;
    search_gather(bt, c, ch, traces, tr, rows, st);
    if (st->total_abs >= best_abs)
        return best_abs;
    *best = ch;
    if (keep) {
        *keep = *st;
        memcpy(bt->kept, tr->miss, bt->plane * sizeof *tr->miss);
        memcpy(bt->kept + bt->plane, tr->ctx, bt->plane * sizeof *tr->ctx);
    }
    return st->total_abs;
}

/* The reference weight k whose plane D has the smallest total |D - MED|
 * (the median predictor of W, N, W + N - NW) over every other row: a
 * quarter of the time of search_try's blend trials, which dominated the AR
 * prior's encoder. */
static uint8_t quick_weight(const pred_tile *bt, uint32_t c)
{
    const int32_t ref = pred_reference_of(bt->t->channels, c);
    uint8_t best = 0;
    uint64_t best_sum = UINT64_MAX;
    for (uint32_t k = 0; ref >= 0 && k < PRED_WEIGHTS; k++) {
        uint64_t sum = 0;
        for (uint32_t y = 1; y < bt->t->height; y += 2)
            for (uint32_t x = 1; x < bt->t->width; x++) {
                int32_t w = pred_d_at(bt, c, ref, k, x - 1, y), n = pred_d_at(bt, c, ref, k, x, y - 1);
                int32_t nw = pred_d_at(bt, c, ref, k, x - 1, y - 1);
                sum += (uint64_t)abs32(pred_d_at(bt, c, ref, k, x, y) - median3(w, n, w + n - nw));
            }
        if (sum < best_sum)
            best_sum = sum, best = (uint8_t)k;
    }
    return best;
}

/* Chooses channel c's reference weight k: quick_weight's, and unless the
 * configuration takes that (the AR prior), the one of it and its two
 * neighbours with the smallest total absolute residual of the blend over
 * the tile's first PRED_TRIAL_ROWS rows.  Trials of all five weights took
 * two thirds of a small image's baseline-v3 encoding and coded no smaller:
 * on 392 files of every kind the three trials were 495 bytes smaller
 * in all and larger on none of the kinds (#22, docs/ablation.md).  Then fits
 * its contexts on the whole tile and leaves its trace in tr.  Where the
 * trial rows are the whole tile, the best trial is that pass: its
 * statistics, misses and contexts are kept as it runs and put back,
 * instead of another pass over a small image (the same numbers). */
static void search_choose(const pred_tile *bt, uint32_t c, const pred_trace *traces, const pred_trace *tr,
                      pred_fit *fit)
{
    search_stats st, kept;
    uint32_t weights = pred_reference_of(bt->t->channels, c) >= 0 ? PRED_WEIGHTS : 1;
    pred_choice best = {PRED_FIXED, 0};
    int64_t best_abs = INT64_MAX;
    const int trials = !bt->quick_weight && weights > 1;
    const int whole = trials && bt->kept && bt->t->height <= PRED_TRIAL_ROWS;
    const uint32_t quick = weights > 1 ? quick_weight(bt, c) : 0;
    best.weight = (uint8_t)quick;
    const uint32_t first = quick > 0 ? quick - 1 : 0, end = quick + 2 < weights ? quick + 2 : weights;
    for (uint32_t k = first; trials && k < end; k++)
        best_abs = search_try(bt, c, (pred_choice){PRED_FIXED, (uint8_t)k}, traces, tr, &st, &best,
                              best_abs, whole ? &kept : NULL);
    fit->choice = best;
    if (whole) {
        st = kept;
        memcpy(tr->miss, bt->kept, bt->plane * sizeof *tr->miss);
        memcpy(tr->ctx, bt->kept + bt->plane, bt->plane * sizeof *tr->ctx);
    } else {
        search_gather(bt, c, best, traces, tr, bt->t->height, &st);
    }
    search_fit_contexts(&st, fit);
    search_refine_scales(bt, tr, fit);
}

void pred_search_fit_all(const pred_tile *bt, const uint32_t *order, pred_fit *fits,
                       const pred_trace *traces)
{
    const model_tile *t = bt->t;
    for (uint32_t i = 0; i < t->channels; i++) {
        uint32_t c = order[i];
        search_choose(bt, c, traces, &traces[c], &fits[c]);
    }
}
