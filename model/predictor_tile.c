/* predictor_tile.c — a tile coded with the predictor from start to end
 * (predictor_code_tile, predictor.h): its work space, the encoder's
 * choices (predictor_search.c), then the fits and the samples both ways
 * (predictor.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "predictor.h"

/* Coding order: green first, then red and blue leaning on it; alpha alone. */
static const uint32_t ORDER_RGB[4] = {1, 0, 2, 3};
static const uint32_t ORDER_PLAIN[4] = {0, 1, 2, 3};

/* Work space kept in the thread's model cache across tiles. */
typedef struct pred_work {
    size_t capacity; /* int32 elements of data */
    int32_t data[];
} pred_work;

static void pred_work_free(void *p)
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
    pred_work *wk = c->release == pred_work_free ? c->work : NULL;
    if (!wk || wk->capacity < n) {
        model_cache_release(c);
        if (n > (SIZE_MAX - sizeof *wk) / sizeof(int32_t) ||
            !(wk = malloc(sizeof *wk + n * sizeof(int32_t))))
            return NULL;
        wk->capacity = n;
        c->work = wk;
        c->release = pred_work_free;
    }
    return wk->data;
}

/* A hook that reads the blend's members (the AR prior's net) works on RGB
 * and grey tiles whose every channel uses the blend. */
static int hook_serves_fits(const pred_hook *hook, const model_tile *t, const pred_fit *fits)
{
    if (!hook || !hook->every_channel_blends)
        return 1;
    for (uint32_t c = 0; c < t->channels; c++)
        if (fits[c].choice.predictor != PRED_FIXED)
            return 0;
    return t->channels == 1 || t->channels == 3;
}

/* Both directions: the encoder chooses and fits, then both code the fits
 * and the samples. */
static int code_tile_in(const pred_config *cfg, pred_tile *bt, model_tile *t, pred_trace *traces,
                        int32_t *scratch, match_state *match, symbol_io *io)
{
    /* Zeroed: the decoder passes each field to symbol_io_bits before it
     * reads it, and an indeterminate bias could overflow there. */
    pred_fit fits[PRED_MAX_CHANNELS];
    memset(fits, 0, sizeof fits);
    const uint32_t *order = t->channels >= 3 ? ORDER_RGB : ORDER_PLAIN;
    if (io->enc)
        pred_search_fit_all(bt, order, fits, traces);
    pred_fit_coder coder;
    adaptive_start(coder.used, 2);
    adaptive_start(coder.scale, ADAPTIVE_EG_BITS);
    adaptive_start(coder.bias, ADAPTIVE_EG_BITS);
    for (uint32_t i = 0; i < t->channels; i++)
        IDF_TRY(pred_code_fit(io, t, order[i], &fits[order[i]], &coder));
    if (!hook_serves_fits(cfg->hook, t, fits))
        return io->enc ? IDFZIP_ERR_UNSUPPORTED : IDFZIP_ERR_CORRUPT;
    if (bt->cache)
        return cfg->hook->encode_cached(cfg->hook, bt, order, fits, scratch, io);
    return pred_code_samples(cfg, bt, t, order, fits, traces, scratch, match, io);
}

int predictor_code_tile(const pred_config *cfg, model_tile *t, symbol_io *io)
{
    if (t->channels < 1 || t->channels > PRED_MAX_CHANNELS)
        return io->enc ? IDFZIP_ERR_UNSUPPORTED : IDFZIP_ERR_CORRUPT;
    pred_tile bt = {t, (size_t)t->width * t->height, (int32_t)((t->maxval + 1) / 2),
                    cfg->lms, cfg->quick_weight, io->dl, NULL, pred_blend_weight_table, NULL,
                    io->compact_side, cfg->match >= 2, io->kernel, NULL, NULL, NULL, NULL, NULL};
    /* Every channel's trace: contexts and blend weights of later samples. */
    pred_trace traces[PRED_MAX_CHANNELS];
    pred_lms lms[PRED_MAX_CHANNELS];
    /* Per channel a miss plane, a D plane and the error ring; the hook's
     * scratch; the encoder also needs every channel's context plane, one
     * plane of context members, on a short tile two planes for the best
     * trial, its memo of costs, and a hook's cache. */
    size_t per_channel = 2 * bt.plane + 2 * (size_t)t->width * PRED_FIXED;
    size_t hook_space = cfg->hook ? cfg->hook->scratch : 0;
    /* match-v1 and v2: the matched plane, for the encoder the skip plane
     * and the copies' plan. */
    const int copies = cfg->match >= 2, encoding = io->enc != NULL;
    size_t match_space = cfg->match ? match_space_words(bt.plane, copies, encoding) : 0;
    /* The hook's cache (int16, in int32 units): not where a log wants the
     * coding pass's own records (the trainer's features), nor with a match
     * stage, whose matched pixels are not predicted. */
    const pred_hook *observer = io->enc && !io->log && !cfg->match && cfg->hook &&
                                cfg->hook->observe && cfg->hook->encode_cached ? cfg->hook : NULL;
    /* The encoder's contexts and members planes, the best trial's planes
     * where the trials cover the tile (never with a cache: it holds the
     * last pass), then its memo of costs. */
    const size_t cost_words = (PRED_COST_SCALES * PRED_COST_SPAN + 1) / 2;
    const int keeps = io->enc && !cfg->quick_weight && !observer && t->height <= PRED_TRIAL_ROWS;
    size_t encoder_only = io->enc ? (t->channels + 1 + 2 * (size_t)keeps) * bt.plane + cost_words : 0;
    uint8_t cost_rows[PRED_COST_SCALES] = {0};
    size_t cache_space = observer ? (t->channels * bt.plane * observer->cache_values + 1) / 2 : 0;
    int32_t *store = trace_store(io, per_channel * t->channels + hook_space + match_space +
                                         encoder_only + cache_space);
    if (!store)
        return IDFZIP_ERR_NOMEM;
    int32_t *scratch = store + per_channel * t->channels;
    int32_t *encoder_space = scratch + hook_space + match_space;
    match_state match;
    if (cfg->match && encoding) {
        match_reset(&match, copies, t, scratch + hook_space, encoding);
        match_plan(&match, t);
        bt.skip = match.skip;
    }
    if (cfg->match)
        match_reset(&match, copies, t, scratch + hook_space, encoding);
    bt.members = io->enc ? encoder_space + (size_t)t->channels * bt.plane : NULL;
    if (io->enc) {
        bt.kept = keeps ? bt.members + bt.plane : NULL;
        bt.costs = (uint16_t *)(bt.members + bt.plane + (keeps ? 2 * bt.plane : 0));
        bt.cost_rows = cost_rows;
    }
    if (observer) {
        bt.observer = observer;
        bt.cache = (int16_t *)(encoder_space + encoder_only);
    }
    for (uint32_t c = 0; c < t->channels; c++) {
        traces[c].miss = store + (size_t)c * per_channel;
        traces[c].d = traces[c].miss + bt.plane;
        traces[c].err = traces[c].d + bt.plane;
        traces[c].ctx = io->enc ? encoder_space + (size_t)c * bt.plane : NULL;
        traces[c].lms = &lms[c];
    }
    int st = code_tile_in(cfg, &bt, t, traces, scratch, cfg->match ? &match : NULL, io);
    if (!io->cache)
        free(store);
    return st;
}
