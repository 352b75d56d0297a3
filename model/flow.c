/* flow.c — the integer discrete flow: squeeze, couplings, permutations,
 * factor-out, priors, and the model-slot glue (see flow.h for the exact
 * semantics).  Forward runs only in the encoder; the decoder decodes the
 * latents level by level and inverts.  Both compute every prior parameter
 * with the same integer nets on the same integers, so they agree exactly. */
#include "flow.h"

#include "baseline.h"

#include <stdlib.h>
#include <string.h>

#define TRANSLATION_FRAC_BITS 4

/* Shapes at each level's start (before its squeeze). */
typedef struct flow_dims {
    uint32_t c[FLOW_MAX_LEVELS + 1], h[FLOW_MAX_LEVELS + 1], w[FLOW_MAX_LEVELS + 1];
} flow_dims;

/* Everything coding one block needs, sized for the model's largest block
 * and kept across blocks and tiles (model_cache), so the hot loop does not
 * allocate. */
typedef struct flow_work {
    const flow_model *model;   /* the model it was sized for */
    nn_kernel kernel;          /* how nets run (the caller's choice) */
    int32_t *x, *tmp;          /* the tensor being transformed, and a spare */
    int32_t *net_in, *net_out; /* coupling/prior net I/O */
    int32_t *scratch;          /* nn_forward scratch */
    int32_t *saved;            /* encoder: latents z and conditioners h per level */
    int32_t *block, *strip;    /* one block's samples; an edge strip's */
    size_t z_at[FLOW_MAX_LEVELS], h_at[FLOW_MAX_LEVELS];
} flow_work;

uint32_t flow_alignment(const flow_model *m)
{
    uint32_t s = m->initial_squeezes;
    for (uint32_t l = 0; l < m->nlevels; l++)
        s += m->level[l].squeeze;
    return 1u << s;
}

/* ---- shapes ---- */

static void compute_dims(const flow_model *m, uint32_t h, uint32_t w, flow_dims *d)
{
    d->c[0] = m->image_channels << (2 * m->initial_squeezes);
    d->h[0] = h >> m->initial_squeezes;
    d->w[0] = w >> m->initial_squeezes;
    for (uint32_t l = 0; l < m->nlevels; l++) {
        const flow_level *lv = &m->level[l];
        uint32_t c = lv->squeeze ? 4 * d->c[l] : d->c[l];
        d->h[l + 1] = lv->squeeze ? d->h[l] / 2 : d->h[l];
        d->w[l + 1] = lv->squeeze ? d->w[l] / 2 : d->w[l];
        d->c[l + 1] = lv->factor_out ? c / 2 : c;
    }
}

static size_t level_positions(const flow_dims *d, uint32_t l)
{
    return (size_t)d->h[l + 1] * d->w[l + 1];
}

/* ---- squeeze ---- */

static void squeeze(const int32_t *in, uint32_t c, uint32_t h, uint32_t w, int32_t *out)
{
    uint32_t oh = h / 2, ow = w / 2;
    for (uint32_t ch = 0; ch < c; ch++)
        for (uint32_t d = 0; d < 4; d++) {
            int32_t *o = out + (size_t)(4 * ch + d) * oh * ow;
            const int32_t *p = in + (size_t)ch * h * w + (size_t)(d >> 1) * w + (d & 1);
            for (uint32_t i = 0; i < oh; i++)
                for (uint32_t j = 0; j < ow; j++)
                    o[(size_t)i * ow + j] = p[(size_t)2 * i * w + 2 * j];
        }
}

/* Inverse of squeeze: c is the channel count before squeezing. */
static void unsqueeze(const int32_t *in, uint32_t c, uint32_t h, uint32_t w, int32_t *out)
{
    uint32_t ih = h / 2, iw = w / 2;
    for (uint32_t ch = 0; ch < c; ch++)
        for (uint32_t d = 0; d < 4; d++) {
            const int32_t *p = in + (size_t)(4 * ch + d) * ih * iw;
            int32_t *o = out + (size_t)ch * h * w + (size_t)(d >> 1) * w + (d & 1);
            for (uint32_t i = 0; i < ih; i++)
                for (uint32_t j = 0; j < iw; j++)
                    o[(size_t)2 * i * w + 2 * j] = p[(size_t)i * iw + j];
        }
}

static void swap(int32_t **a, int32_t **b)
{
    int32_t *t = *a;
    *a = *b;
    *b = t;
}

/* ---- couplings ---- */

/* Gathers the quadripartite net input: every part but `skip`, in order. */
static void gather_parts(const int32_t *x, uint32_t c, size_t n, uint32_t skip, int32_t *dst)
{
    size_t part = (size_t)(c / 4) * n;
    for (uint32_t k = 0; k < 4; k++)
        if (k != skip) {
            memcpy(dst, x + k * part, part * sizeof *x);
            dst += part;
        }
}

/* dst += sign * round(net_out / 16) over n values. */
static void add_translation(int32_t *dst, const int32_t *net_out, size_t n, int sign)
{
    const int64_t half = 1 << (TRANSLATION_FRAC_BITS - 1);
    for (size_t i = 0; i < n; i++) {
        int32_t t = (int32_t)floor_shift(net_out[i] + half, TRANSLATION_FRAC_BITS);
        dst[i] += sign * t;
    }
}

/* One part of a coupling: x[target] += sign * t(other parts). */
static void couple_part(const flow_coupling *cp, uint32_t k, int32_t *x, uint32_t c,
                        uint32_t h, uint32_t w, flow_work *wk, int sign)
{
    size_t n = (size_t)h * w;
    if (cp->kind == FLOW_BIPARTITE) {
        nn_forward(&cp->net[0], x, h, w, wk->net_out, wk->scratch, wk->kernel);
        add_translation(x + (size_t)(c / 2) * n, wk->net_out, (size_t)(c / 2) * n, sign);
        return;
    }
    gather_parts(x, c, n, k, wk->net_in);
    nn_forward(&cp->net[k], wk->net_in, h, w, wk->net_out, wk->scratch, wk->kernel);
    add_translation(x + (size_t)k * (c / 4) * n, wk->net_out, (size_t)(c / 4) * n, sign);
}

static void coupling_forward(const flow_coupling *cp, int32_t *x, uint32_t c, uint32_t h,
                             uint32_t w, flow_work *wk)
{
    uint32_t parts = cp->kind == FLOW_BIPARTITE ? 1 : 4;
    for (uint32_t k = 0; k < parts; k++)
        couple_part(cp, k, x, c, h, w, wk, +1);
}

static void coupling_inverse(const flow_coupling *cp, int32_t *x, uint32_t c, uint32_t h,
                             uint32_t w, flow_work *wk)
{
    uint32_t parts = cp->kind == FLOW_BIPARTITE ? 1 : 4;
    for (uint32_t k = parts; k-- > 0;)
        couple_part(cp, k, x, c, h, w, wk, -1);
}

/* out[i] = in[perm[i]] (forward) or out[perm[i]] = in[i] (inverse). */
static void permute(const int32_t *in, const uint16_t *perm, uint32_t c, size_t n,
                    int inverse, int32_t *out)
{
    for (uint32_t i = 0; i < c; i++) {
        const int32_t *src = in + (size_t)(inverse ? i : perm[i]) * n;
        int32_t *dst = out + (size_t)(inverse ? perm[i] : i) * n;
        memcpy(dst, src, n * sizeof *in);
    }
}

/* ---- whole flow ---- */

static void level_forward(const flow_level *lv, flow_work *wk, uint32_t *c, uint32_t *h,
                          uint32_t *w)
{
    if (lv->squeeze) {
        squeeze(wk->x, *c, *h, *w, wk->tmp);
        swap(&wk->x, &wk->tmp);
        *c *= 4, *h /= 2, *w /= 2;
    }
    size_t n = (size_t)*h * *w;
    for (uint32_t k = 0; k < lv->ncouplings; k++) {
        coupling_forward(&lv->coupling[k], wk->x, *c, *h, *w, wk);
        permute(wk->x, lv->coupling[k].perm, *c, n, 0, wk->tmp);
        swap(&wk->x, &wk->tmp);
    }
}

static void level_inverse(const flow_level *lv, flow_work *wk, uint32_t c, uint32_t h,
                          uint32_t w)
{
    size_t n = (size_t)h * w;
    for (uint32_t k = lv->ncouplings; k-- > 0;) {
        permute(wk->x, lv->coupling[k].perm, c, n, 1, wk->tmp);
        swap(&wk->x, &wk->tmp);
        coupling_inverse(&lv->coupling[k], wk->x, c, h, w, wk);
    }
    if (lv->squeeze) {
        unsqueeze(wk->x, c / 4, 2 * h, 2 * w, wk->tmp);
        swap(&wk->x, &wk->tmp);
    }
}

static void initial_squeezes(const flow_model *m, flow_work *wk, uint32_t h, uint32_t w,
                             int inverse)
{
    uint32_t c = m->image_channels;
    for (uint32_t s = 0; s < m->initial_squeezes; s++) {
        uint32_t k = inverse ? m->initial_squeezes - 1 - s : s;
        uint32_t cc = c << (2 * k), hh = h >> k, ww = w >> k;
        if (inverse)
            unsqueeze(wk->x, cc, hh, ww, wk->tmp);
        else
            squeeze(wk->x, cc, hh, ww, wk->tmp);
        swap(&wk->x, &wk->tmp);
    }
}

/* Encoder: x (in wk->x) -> top latents in wk->x, z and h of each
 * factor-out level saved in wk->saved. */
static void flow_forward(const flow_model *m, const flow_dims *d, flow_work *wk, uint32_t h,
                         uint32_t w)
{
    initial_squeezes(m, wk, h, w, 0);
    uint32_t c = d->c[0], hh = d->h[0], ww = d->w[0];
    for (uint32_t l = 0; l < m->nlevels; l++) {
        level_forward(&m->level[l], wk, &c, &hh, &ww);
        if (!m->level[l].factor_out)
            continue;
        size_t half = (size_t)(c / 2) * hh * ww;
        memcpy(wk->saved + wk->z_at[l], wk->x, half * sizeof *wk->x);
        memcpy(wk->saved + wk->h_at[l], wk->x + half, half * sizeof *wk->x);
        memmove(wk->x, wk->x + half, half * sizeof *wk->x);
        c /= 2;
    }
}

/* ---- priors and coding ---- */

/* One top latent of channel ch under its mixture table (values outside
 * the table's window go through the escape symbol). */
static int32_t code_mixture_latent(const flow_model *m, uint32_t ch, int32_t v, symbol_io *io)
{
    const freq_table *t = &m->top_table[ch];
    int32_t lo = m->top_lo[ch];
    uint32_t escape = t->nsym - 1;
    if (io->enc) {
        int64_t s = (int64_t)v - lo;
        uint32_t sym = (s >= 0 && s < escape) ? (uint32_t)s : escape;
        freq_table_encode(t, io->enc, sym);
        if (sym == escape)
            dl_encode_escape(io->enc, v);
        if (io->log && io->log->count < io->log->capacity) {
            io->log->value[io->log->count] = v;
            io->log->mean16[io->log->count] = 0;
            io->log->scale[io->log->count++] = -1;
        }
        return v;
    }
    uint32_t sym = freq_table_decode(t, io->dec);
    return sym == escape ? dl_decode_escape(io->dec) : lo + (int32_t)sym;
}

/* Codes c planes of n latents at z with the top prior (a status). */
static int code_top_latents(const flow_model *m, int32_t *z, uint32_t c, size_t n, symbol_io *io)
{
    for (uint32_t ch = 0; ch < c; ch++) {
        int32_t *zc = z + (size_t)ch * n;
        for (size_t i = 0; i < n; i++)
            zc[i] = m->top_components > 1
                        ? code_mixture_latent(m, ch, zc[i], io)
                        : symbol_io_latent(io, zc[i], m->top_mean16[ch], (uint32_t)m->top_scale[ch]);
        IDF_TRY(symbol_io_status(io));
    }
    return IDFZIP_OK;
}

/* Which positions of a factored-out plane a pass codes. */
enum { POSITIONS_ALL, POSITIONS_ANCHORS, POSITIONS_OTHERS }; /* anchors: row + column even */

/* Codes the chosen positions of c planes of h x w latents at z, channel by
 * channel in raster order, with the params of a prior net output out (c
 * mean planes, then c scale planes, over all positions); a status. */
static int code_prior_latents(int32_t *z, uint32_t c, uint32_t h, uint32_t w, const int32_t *out,
                              int positions, symbol_io *io)
{
    size_t n = (size_t)h * w;
    uint32_t step = positions == POSITIONS_ALL ? 1 : 2;
    for (uint32_t ch = 0; ch < c; ch++) {
        for (uint32_t y = 0; y < h; y++) {
            uint32_t x0 = positions == POSITIONS_ALL ? 0 : (y + (positions == POSITIONS_OTHERS)) & 1;
            for (uint32_t x = x0; x < w; x += step) {
                size_t i = (size_t)ch * n + (size_t)y * w + x;
                z[i] = symbol_io_latent(io, z[i], out[i], model_scale_index(out[(size_t)c * n + i]));
            }
        }
        IDF_TRY(symbol_io_status(io));
    }
    return IDFZIP_OK;
}

/* Codes the factored-out z (half planes of h x w) of level lv given its
 * conditioner hc: one pass with prior, or the checkerboard's two (anchors
 * from prior, the rest from prior2 on hc and the anchors).  The decoder
 * reads z's anchors before prior2 runs; its other positions are masked. */
static int code_factor_out(const flow_level *lv, flow_work *wk, int32_t *z, const int32_t *hc,
                           uint32_t half, uint32_t h, uint32_t w, symbol_io *io)
{
    size_t n = (size_t)h * w;
    nn_forward(&lv->prior, hc, h, w, wk->net_out, wk->scratch, wk->kernel);
    if (!lv->checkerboard)
        return code_prior_latents(z, half, h, w, wk->net_out, POSITIONS_ALL, io);
    IDF_TRY(code_prior_latents(z, half, h, w, wk->net_out, POSITIONS_ANCHORS, io));
    memcpy(wk->net_in, hc, (size_t)half * n * sizeof *hc);
    int32_t *masked = wk->net_in + (size_t)half * n;
    for (uint32_t ch = 0; ch < half; ch++)
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t x = 0; x < w; x++) {
                size_t i = (size_t)ch * n + (size_t)y * w + x;
                masked[i] = ((x + y) & 1) ? 0 : z[i];
            }
    nn_forward(&lv->prior2, wk->net_in, h, w, wk->net_out, wk->scratch, wk->kernel);
    return code_prior_latents(z, half, h, w, wk->net_out, POSITIONS_OTHERS, io);
}

/* Encoder: the latents in coding order: top, then z of each factor-out
 * level from the last to the first. */
static int emit_latents(const flow_model *m, const flow_dims *d, flow_work *wk, symbol_io *io)
{
    uint32_t L = m->nlevels;
    IDF_TRY(code_top_latents(m, wk->x, d->c[L], (size_t)d->h[L] * d->w[L], io));
    for (uint32_t l = L; l-- > 0;) {
        if (!m->level[l].factor_out)
            continue;
        IDF_TRY(code_factor_out(&m->level[l], wk, wk->saved + wk->z_at[l],
                                wk->saved + wk->h_at[l], d->c[l + 1], d->h[l + 1], d->w[l + 1],
                                io));
    }
    return IDFZIP_OK;
}

/* Inverts the flow from the top latents in wk->x down to the pixels, which
 * end in wk->x.  Each factored-out z_l is decoded through io, or, with io
 * NULL (flow_check_inverse), taken from the forward pass's wk->saved. */
static int invert_from_top(const flow_model *m, const flow_dims *d, flow_work *wk,
                           uint32_t h, uint32_t w, symbol_io *io)
{
    for (uint32_t l = m->nlevels; l-- > 0;) {
        const flow_level *lv = &m->level[l];
        uint32_t c = lv->squeeze ? 4 * d->c[l] : d->c[l];
        size_t n = level_positions(d, l);
        if (lv->factor_out) { /* h_l comes from inverting the levels above */
            size_t half = (size_t)(c / 2) * n;
            memmove(wk->x + half, wk->x, half * sizeof *wk->x);
            if (!io) {
                memcpy(wk->x, wk->saved + wk->z_at[l], half * sizeof *wk->x);
            } else {
                IDF_TRY(code_factor_out(lv, wk, wk->x, wk->x + half, c / 2, d->h[l + 1],
                                        d->w[l + 1], io));
            }
        }
        level_inverse(lv, wk, c, d->h[l + 1], d->w[l + 1]);
    }
    initial_squeezes(m, wk, h, w, 1);
    return IDFZIP_OK;
}

/* Decoder: latents in coding order, inverting level by level. */
static int decode_and_invert(const flow_model *m, const flow_dims *d, flow_work *wk,
                             uint32_t h, uint32_t w, symbol_io *io)
{
    uint32_t L = m->nlevels;
    IDF_TRY(code_top_latents(m, wk->x, d->c[L], (size_t)d->h[L] * d->w[L], io));
    return invert_from_top(m, d, wk, h, w, io);
}

/* ---- work space ---- */

static size_t max_net_scratch(const flow_model *m, const flow_dims *d, size_t *max_io)
{
    size_t best = 0;
    *max_io = 0;
    for (uint32_t l = 0; l < m->nlevels; l++) {
        const flow_level *lv = &m->level[l];
        uint32_t c = lv->squeeze ? 4 * d->c[l] : d->c[l];
        size_t n = level_positions(d, l);
        *max_io = (size_t)c * n > *max_io ? (size_t)c * n : *max_io;
        for (uint32_t k = 0; k < lv->ncouplings; k++)
            for (uint32_t p = 0; p < (lv->coupling[k].kind == FLOW_BIPARTITE ? 1u : 4u); p++) {
                size_t s = nn_scratch_size(&lv->coupling[k].net[p], d->h[l + 1], d->w[l + 1]);
                best = s > best ? s : best;
            }
        if (lv->factor_out) {
            size_t s = nn_scratch_size(&lv->prior, d->h[l + 1], d->w[l + 1]);
            best = s > best ? s : best;
        }
        if (lv->checkerboard) { /* its input, C planes, fits net_in (max_io) */
            size_t s = nn_scratch_size(&lv->prior2, d->h[l + 1], d->w[l + 1]);
            best = s > best ? s : best;
        }
    }
    return best;
}

/* Offsets of each level's saved z and h for a region of shape d. */
static void work_layout(const flow_model *m, const flow_dims *d, flow_work *wk)
{
    size_t saved = 0;
    for (uint32_t l = 0; l < m->nlevels; l++) {
        size_t half = (size_t)d->c[l + 1] * level_positions(d, l);
        wk->z_at[l] = saved;
        wk->h_at[l] = saved + half;
        saved += m->level[l].factor_out ? 2 * half : 0;
    }
}

static void work_free(void *p)
{
    flow_work *wk = p;
    if (!wk)
        return;
    free(wk->x);
    free(wk->tmp);
    free(wk->net_in);
    free(wk->net_out);
    free(wk->scratch);
    free(wk->saved);
    free(wk->block);
    free(wk->strip);
    free(wk);
}

/* Work space for any region of at most h x w (a multiple of the alignment)
 * and any block of at most bw x bh samples.  Every size below grows with h
 * and w, so the largest region bounds them all. */
static flow_work *work_alloc(const flow_model *m, uint32_t h, uint32_t w, uint32_t bw,
                             uint32_t bh)
{
    flow_dims d;
    compute_dims(m, h, w, &d);
    flow_work *wk = calloc(1, sizeof *wk);
    if (!wk)
        return NULL;
    size_t total = (size_t)m->image_channels * h * w, io, saved = 0;
    size_t scratch = max_net_scratch(m, &d, &io);
    for (uint32_t l = 0; l < m->nlevels; l++)
        saved += m->level[l].factor_out ? 2 * (size_t)d.c[l + 1] * level_positions(&d, l) : 0;
    size_t block = (size_t)bw * bh * m->image_channels;
    wk->model = m;
    wk->x = malloc((total ? total : 1) * sizeof *wk->x);
    wk->tmp = malloc((total ? total : 1) * sizeof *wk->tmp);
    wk->net_in = malloc((io ? io : 1) * sizeof *wk->net_in);
    wk->net_out = malloc((io ? io : 1) * sizeof *wk->net_out);
    wk->scratch = malloc((scratch ? scratch : 1) * sizeof *wk->scratch);
    wk->saved = malloc((saved ? saved : 1) * sizeof *wk->saved);
    wk->block = malloc((block ? block : 1) * sizeof *wk->block);
    wk->strip = malloc((block ? block : 1) * sizeof *wk->strip);
    if (!wk->x || !wk->tmp || !wk->net_in || !wk->net_out || !wk->scratch || !wk->saved ||
        !wk->block || !wk->strip) {
        work_free(wk);
        return NULL;
    }
    return wk;
}

/* The thread's work space for m from io's cache, made on first use; NULL
 * when memory runs out.  Without a cache the caller frees it. */
static flow_work *work_for(const flow_model *m, symbol_io *io)
{
    model_cache *c = io->cache;
    flow_work *wk = c ? c->work : NULL;
    if (wk && (c->release != work_free || wk->model != m)) {
        model_cache_release(c);
        wk = NULL;
    }
    if (!wk) {
        uint32_t a = flow_alignment(m);
        wk = work_alloc(m, m->block_height / a * a, m->block_width / a * a, m->block_width,
                        m->block_height);
        if (wk && c) {
            c->work = wk;
            c->release = work_free;
        }
    }
    if (wk)
        wk->kernel = io->kernel;
    return wk;
}

/* ---- the model slot ---- */

/* Copies the w x h rectangle at (x0, y0) of the planar tile buffer big
 * (big_w x big_h per plane) to the packed buffer small, or back when
 * into_big is set. */
static void copy_rect(int32_t *big, uint32_t big_w, uint32_t big_h, int32_t *small,
                      uint32_t c, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h, int into_big)
{
    for (uint32_t ch = 0; ch < c; ch++)
        for (uint32_t y = 0; y < h; y++) {
            int32_t *b = big + ((size_t)ch * big_h + y0 + y) * big_w + x0;
            int32_t *p = small + ((size_t)ch * h + y) * w;
            if (into_big)
                memcpy(b, p, w * sizeof *b);
            else
                memcpy(p, b, w * sizeof *b);
        }
}

static int code_flow_region(const flow_model *m, flow_work *wk, model_tile *t, uint32_t w,
                            uint32_t h, symbol_io *io)
{
    flow_dims d;
    compute_dims(m, h, w, &d);
    work_layout(m, &d, wk);
    if (io->enc) {
        copy_rect(t->samples, t->width, t->height, wk->x, t->channels, 0, 0, w, h, 0);
        flow_forward(m, &d, wk, h, w);
        return emit_latents(m, &d, wk, io);
    }
    IDF_TRY(decode_and_invert(m, &d, wk, h, w, io));
    size_t n = (size_t)t->channels * w * h;
    for (size_t i = 0; i < n; i++)
        if (wk->x[i] < 0 || wk->x[i] > (int32_t)t->maxval)
            return IDFZIP_ERR_CORRUPT;
    copy_rect(t->samples, t->width, t->height, wk->x, t->channels, 0, 0, w, h, 1);
    return IDFZIP_OK;
}

/* Codes a rectangle of the tile with baseline-v1. */
static int code_strip(flow_work *wk, model_tile *t, uint32_t x0, uint32_t y0, uint32_t w,
                      uint32_t h, symbol_io *io)
{
    if (w == 0 || h == 0)
        return IDFZIP_OK;
    const idf_model *base = baseline_v1_model();
    model_tile strip = {w, h, t->channels, t->maxval, wk->strip, t->indexed};
    copy_rect(t->samples, t->width, t->height, strip.samples, t->channels, x0, y0, w, h, 0);
    int st = base->code_tile(base, &strip, io);
    if (st == IDFZIP_OK && io->dec)
        copy_rect(t->samples, t->width, t->height, strip.samples, t->channels, x0, y0, w, h, 1);
    return st;
}

/* Codes one block (or the part of one inside the image) at (x0, y0). */
static int code_block(const flow_model *m, flow_work *wk, model_tile *t, uint32_t x0,
                      uint32_t y0, uint32_t bw, uint32_t bh, symbol_io *io)
{
    uint32_t a = flow_alignment(m);
    uint32_t w = bw / a * a, h = bh / a * a;
    model_tile b = {bw, bh, t->channels, t->maxval, wk->block, t->indexed};
    copy_rect(t->samples, t->width, t->height, b.samples, t->channels, x0, y0, bw, bh, 0);
    int st = (w && h) ? code_flow_region(m, wk, &b, w, h, io) : IDFZIP_OK;
    if (st == IDFZIP_OK)
        st = code_strip(wk, &b, w, 0, bw - w, h, io);
    if (st == IDFZIP_OK)
        st = code_strip(wk, &b, 0, h, bw, bh - h, io);
    if (st == IDFZIP_OK && io->dec)
        copy_rect(t->samples, t->width, t->height, b.samples, t->channels, x0, y0, bw, bh, 1);
    return st;
}

const flow_model *flow_model_of(const idf_model *m)
{
    return m && m->family == MODEL_FLOW ? (const flow_model *)m : NULL;
}

static int flow_code_tile(const idf_model *slot, model_tile *t, symbol_io *io)
{
    const flow_model *m = flow_model_of(slot);
    if (t->channels != m->image_channels || t->maxval > (1u << m->bit_depth) - 1)
        return io->enc ? IDFZIP_ERR_UNSUPPORTED : IDFZIP_ERR_CORRUPT;
    flow_work *wk = work_for(m, io);
    if (!wk)
        return IDFZIP_ERR_NOMEM;
    int st = IDFZIP_OK;
    for (uint32_t y = 0; st == IDFZIP_OK && y < t->height; y += m->block_height)
        for (uint32_t x = 0; st == IDFZIP_OK && x < t->width; x += m->block_width) {
            uint32_t bw = t->width - x < m->block_width ? t->width - x : m->block_width;
            uint32_t bh = t->height - y < m->block_height ? t->height - y : m->block_height;
            st = code_block(m, wk, t, x, y, bw, bh, io);
        }
    if (!io->cache)
        work_free(wk);
    return st;
}

static int flow_serves(const idf_model *slot, const model_image_kind *kind)
{
    const flow_model *m = flow_model_of(slot);
    return kind->channels == m->image_channels && kind->bit_depth == m->bit_depth &&
           kind->color_type != IDFZIP_COLOR_PALETTE && kind->max_sample <= m->maxval;
}

static void flow_destroy(idf_model *slot)
{
    flow_model_free((flow_model *)slot);
}

void flow_model_bind(flow_model *m)
{
    if (m->block_width == 0) {
        m->block_width = m->slot.tile_width;
        m->block_height = m->slot.tile_height;
        m->slot.tile_width = model_group_blocks(m->block_width);
        m->slot.tile_height = model_group_blocks(m->block_height);
    }
    m->slot.family = MODEL_FLOW;
    m->slot.macs_per_pixel = flow_macs_per_pixel(m);
    m->slot.serves = flow_serves;
    m->slot.code_tile = flow_code_tile;
    m->slot.destroy = flow_destroy;
}

int flow_check_inverse(const flow_model *m, const int32_t *x, uint32_t h, uint32_t w,
                       int32_t *latents_out, nn_kernel kernel)
{
    flow_dims d;
    compute_dims(m, h, w, &d);
    flow_work *wk = work_alloc(m, h, w, 0, 0);
    if (!wk)
        return IDFZIP_ERR_NOMEM;
    wk->kernel = kernel;
    work_layout(m, &d, wk);
    size_t total = (size_t)m->image_channels * h * w;
    memcpy(wk->x, x, total * sizeof *x);
    flow_forward(m, &d, wk, h, w);
    size_t top = (size_t)d.c[m->nlevels] * d.h[m->nlevels] * d.w[m->nlevels];
    if (latents_out)
        memcpy(latents_out, wk->x, top * sizeof *x);
    invert_from_top(m, &d, wk, h, w, NULL); /* the decoder's path, z from the forward pass */
    int same = memcmp(wk->x, x, total * sizeof *x) == 0;
    work_free(wk);
    return same ? IDFZIP_OK : IDFZIP_ERR_CORRUPT;
}
