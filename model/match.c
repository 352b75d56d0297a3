/* match.c — neighbour matches (see match.h).  Exact integers only: the
 * probabilities adapt by a shift, the same in encoder and decoder. */
#include "match.h"

#include <string.h>

#define MATCH_P_START (1u << 14) /* 1/2 */
#define MATCH_P_MIN 32u          /* keeps both symbols codable */
#define MATCH_P_MAX (RANS_PROB_SCALE - 32u)
#define MATCH_RATE 4             /* each decision moves p 1/16 of the way */

void match_reset(match_state *m, uint8_t *matched, size_t pixels)
{
    for (int i = 0; i < MATCH_CONTEXTS; i++)
        m->p1[i] = MATCH_P_START;
    for (int i = 0; i < 4; i++)
        m->p_cache[i] = MATCH_P_START;
    m->matched = matched;
    memset(matched, 0, pixels);
    memset(m->cache_used, 0, sizeof m->cache_used);
}

/* 1 when the pixels at plane offsets a and b have equal samples. */
static int same_pixel(const model_tile *t, size_t plane, size_t a, size_t b)
{
    for (uint32_t c = 0; c < t->channels; c++)
        if (t->samples[c * plane + a] != t->samples[c * plane + b])
            return 0;
    return 1;
}

/* The distinct causal neighbours of (x, y), as plane offsets, in the order
 * W, N, NW, NE (a neighbour equal to an earlier one is left out). */
static uint32_t candidates(const model_tile *t, size_t plane, uint32_t x, uint32_t y,
                           size_t out[MATCH_CANDIDATES])
{
    const size_t i = (size_t)y * t->width + x;
    size_t all[MATCH_CANDIDATES];
    uint32_t n = 0, k = 0;
    if (x)
        all[n++] = i - 1;
    if (y)
        all[n++] = i - t->width;
    if (x && y)
        all[n++] = i - t->width - 1;
    if (y && x + 1 < t->width)
        all[n++] = i - t->width + 1;
    for (uint32_t j = 0; j < n; j++) {
        int dup = 0;
        for (uint32_t q = 0; q < k && !dup; q++)
            dup = same_pixel(t, plane, all[j], out[q]);
        if (!dup)
            out[k++] = all[j];
    }
    return k;
}

/* One adaptive decision with probability *p1, which then moves towards
 * what was coded. */
static uint32_t decide(uint16_t *p1, uint32_t bit, symbol_io *io)
{
    uint32_t p = *p1;
    bit = symbol_io_decision(io, bit, p);
    p = bit ? p + ((RANS_PROB_SCALE - p) >> MATCH_RATE) : p - (p >> MATCH_RATE);
    *p1 = (uint16_t)(p < MATCH_P_MIN ? MATCH_P_MIN : (p > MATCH_P_MAX ? MATCH_P_MAX : p));
    return bit;
}

/* The cache slot of the pixel at plane offset i: a multiplicative hash of
 * its samples (unsigned arithmetic, so it wraps the same everywhere). */
static uint32_t cache_slot(const model_tile *t, size_t plane, size_t i)
{
    uint32_t h = 0;
    for (uint32_t c = 0; c < t->channels; c++)
        h = (h + (uint32_t)t->samples[c * plane + i]) * 0x9E3779B1u;
    return h >> (32 - MATCH_CACHE_BITS);
}

static int cache_holds(const match_state *m, const model_tile *t, size_t plane, size_t i,
                       uint32_t slot)
{
    if (!m->cache_used[slot])
        return 0;
    for (uint32_t c = 0; c < t->channels; c++)
        if (m->cache[slot][c] != t->samples[c * plane + i])
            return 0;
    return 1;
}

void match_record_pixel(match_state *m, const model_tile *t, uint32_t x, uint32_t y)
{
    const size_t plane = (size_t)t->width * t->height, i = (size_t)y * t->width + x;
    uint32_t slot = cache_slot(t, plane, i);
    for (uint32_t c = 0; c < t->channels; c++)
        m->cache[slot][c] = t->samples[c * plane + i];
    m->cache_used[slot] = 1;
}

/* A pixel that is no neighbour: whether it is in the cache, then its slot
 * (raw bits).  1 when it is (decoding: its samples written). */
static int code_cached(match_state *m, model_tile *t, size_t plane, size_t i, uint32_t near,
                       symbol_io *io)
{
    uint32_t slot = io->enc ? cache_slot(t, plane, i) : 0;
    uint32_t hit = io->enc ? (uint32_t)cache_holds(m, t, plane, i, slot) : 0;
    if (!decide(&m->p_cache[near], hit, io))
        return 0;
    slot = symbol_io_bits(io, slot, MATCH_CACHE_BITS);
    if (!m->cache_used[slot])
        return IDFZIP_ERR_CORRUPT; /* decoding: no encoder names an empty slot */
    for (uint32_t c = 0; !io->enc && c < t->channels; c++)
        t->samples[c * plane + i] = m->cache[slot][c];
    return 1;
}

int match_code_pixel(match_state *m, model_tile *t, uint32_t x, uint32_t y, symbol_io *io)
{
    const size_t plane = (size_t)t->width * t->height, i = (size_t)y * t->width + x;
    size_t cand[MATCH_CANDIDATES];
    uint32_t n = candidates(t, plane, x, y, cand);
    /* Context: the candidate's rank, how many distinct neighbours there
     * are (one: a flat area), and whether W and N were matches. */
    uint32_t near = 2u * (x && m->matched[i - 1]) + (y && m->matched[i - t->width]);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t is = io->enc ? (uint32_t)same_pixel(t, plane, i, cand[k]) : 0;
        if (!decide(&m->p1[(k * MATCH_CANDIDATES + n - 1) * 4 + near], is, io))
            continue;
        if (!io->enc)
            for (uint32_t c = 0; c < t->channels; c++)
                t->samples[c * plane + i] = t->samples[c * plane + cand[k]];
        m->matched[i] = 1;
        return 1;
    }
    int cached = code_cached(m, t, plane, i, near, io);
    if (cached != 0)
        return cached;
    /* Decoding, a stream that ran out is corrupt; encoding, the coder's
     * own status (out of memory) is the answer. */
    return symbol_io_status(io);
}

void match_plan(match_state *m, const model_tile *t, uint8_t *skip)
{
    const size_t plane = (size_t)t->width * t->height;
    for (uint32_t y = 0; y < t->height; y++)
        for (uint32_t x = 0; x < t->width; x++) {
            const size_t i = (size_t)y * t->width + x;
            size_t cand[MATCH_CANDIDATES];
            uint32_t n = candidates(t, plane, x, y, cand), hit = 0;
            for (uint32_t k = 0; k < n && !hit; k++)
                hit = (uint32_t)same_pixel(t, plane, i, cand[k]);
            skip[i] = (uint8_t)(hit || cache_holds(m, t, plane, i, cache_slot(t, plane, i)));
            match_record_pixel(m, t, x, y);
        }
}
