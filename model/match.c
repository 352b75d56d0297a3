/* match.c — neighbour matches, the colour cache and copies (see match.h).
 * Exact integers only: the probabilities adapt by a shift, the same in
 * encoder and decoder. */
#include "match.h"

#include <string.h>

#include "adaptive_code.h"

enum { EG_ROWS, EG_COLUMNS, EG_LENGTH };

/* The work space: match-v2's index probabilities (uint16), the matched
 * plane and the encoder's skip plane (bytes), the encoder's plan. */
static size_t index_words(int copies)
{
    return copies ? MATCH_INDEX_PROBABILITIES / 2 : 0;
}

size_t match_space_words(size_t pixels, int copies, int encoding)
{
    size_t words = index_words(copies) + (pixels * (encoding ? 2 : 1) + 3) / 4;
    if (copies && encoding)
        words += 3 * pixels + ((size_t)1 << MATCH_HASH_BITS);
    return words;
}

void match_reset(match_state *m, int copies, const model_tile *t, int32_t *space, int encoding)
{
    const size_t pixels = (size_t)t->width * t->height;
    adaptive_start(m->p1, MATCH_V2_CONTEXTS);
    adaptive_start(m->p_cache, 4);
    m->p_index = copies ? (uint16_t *)space : NULL;
    space += index_words(copies);
    m->matched = (uint8_t *)space;
    memset(m->matched, 0, pixels);
    m->skip = encoding ? m->matched + pixels : NULL;
    memset(m->cache_used, 0, sizeof m->cache_used);
    m->copies = copies;
    memset(&m->copy, 0, sizeof m->copy);
    memset(&m->plan, 0, sizeof m->plan);
    if (!copies)
        return;
    if (t->indexed) /* 128 KB: only where they are used */
        adaptive_start(m->p_index, pixels >= MATCH_INDEX_CONTEXT_PIXELS ? MATCH_INDEX_PROBABILITIES
                                                                        : 256);
    adaptive_start(m->copy.p_copy, 4);
    adaptive_start(m->copy.p_recent, MATCH_RECENT);
    adaptive_start(&m->copy.p_eg[0][0], 3 * ADAPTIVE_EG_BITS);
    /* Neighbours are no copies' distances (a neighbour is a match), so the
     * list starts with the next nearest pixels. */
    const uint32_t start[MATCH_RECENT] = {2, 3, 2 * t->width, 4};
    memcpy(m->copy.recent, start, sizeof start);
    if (encoding) {
        m->plan.length = (uint32_t *)(space + (2 * pixels + 3) / 4);
        m->plan.distance = m->plan.length + pixels;
        m->plan.chain = (int32_t *)(m->plan.distance + pixels);
        m->plan.head = m->plan.chain + pixels;
    }
}

/* 1 when the pixels at plane offsets a and b have equal samples. */
static int same_pixel(const model_tile *t, size_t plane, size_t a, size_t b)
{
    for (uint32_t c = 0; c < t->channels; c++)
        if (t->samples[c * plane + a] != t->samples[c * plane + b])
            return 0;
    return 1;
}

static void copy_pixel(model_tile *t, size_t plane, size_t to, size_t from)
{
    for (uint32_t c = 0; c < t->channels; c++)
        t->samples[c * plane + to] = t->samples[c * plane + from];
}

/* The causal neighbours of (x, y) that are in the tile, as plane offsets,
 * in the order W, N, NW, NE; how many. */
static uint32_t neighbours(const model_tile *t, uint32_t x, uint32_t y,
                           size_t out[MATCH_CANDIDATES])
{
    const size_t i = (size_t)y * t->width + x;
    uint32_t n = 0;
    if (x)
        out[n++] = i - 1;
    if (y)
        out[n++] = i - t->width;
    if (x && y)
        out[n++] = i - t->width - 1;
    if (y && x + 1 < t->width)
        out[n++] = i - t->width + 1;
    return n;
}

/* The distinct causal neighbours of (x, y), as plane offsets, in the order
 * W, N, NW, NE (a neighbour equal to an earlier one is left out). */
static uint32_t candidates(const model_tile *t, size_t plane, uint32_t x, uint32_t y,
                           size_t out[MATCH_CANDIDATES])
{
    size_t all[MATCH_CANDIDATES];
    uint32_t n = neighbours(t, x, y, all), k = 0;
    for (uint32_t j = 0; j < n; j++) {
        int dup = 0;
        for (uint32_t q = 0; q < k && !dup; q++)
            dup = same_pixel(t, plane, all[j], out[q]);
        if (!dup)
            out[k++] = all[j];
    }
    return k;
}

/* 1 when pixel (x, y) equals one of its causal neighbours. */
static int is_neighbour(const model_tile *t, size_t plane, uint32_t x, uint32_t y)
{
    size_t nb[MATCH_CANDIDATES];
    uint32_t n = neighbours(t, x, y, nb);
    for (uint32_t k = 0; k < n; k++)
        if (same_pixel(t, plane, (size_t)y * t->width + x, nb[k]))
            return 1;
    return 0;
}

/* Which causal neighbours are equal, as 4 bits: W = NW, N = NW, N = NE,
 * W = N (0 for a pair that is not both in the tile). */
static uint32_t neighbour_pattern(const model_tile *t, size_t plane, uint32_t x, uint32_t y)
{
    if (!y)
        return 0;
    const size_t i = (size_t)y * t->width + x, n = i - t->width;
    uint32_t p = 0;
    if (x) {
        p |= (uint32_t)same_pixel(t, plane, i - 1, n - 1);
        p |= (uint32_t)same_pixel(t, plane, n, n - 1) << 1;
        p |= (uint32_t)same_pixel(t, plane, i - 1, n) << 3;
    }
    if (x + 1 < t->width)
        p |= (uint32_t)same_pixel(t, plane, n, n + 1) << 2;
    return p;
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
    if (!adaptive_decide(&m->p_cache[near], hit, io))
        return 0;
    slot = symbol_io_bits(io, slot, MATCH_CACHE_BITS);
    if (!m->cache_used[slot])
        return IDFZIP_ERR_CORRUPT; /* decoding: no encoder names an empty slot */
    for (uint32_t c = 0; !io->enc && c < t->channels; c++)
        t->samples[c * plane + i] = m->cache[slot][c];
    return 1;
}

/* match-v2, palette images: an index that is no neighbour and no copy,
 * as its bits from the top, each an adaptive decision at the node of the
 * binary tree its higher bits name.  In a tile of at least
 * MATCH_INDEX_CONTEXT_PIXELS the tree is that of W's index (N's in the
 * first column, 0 for the first pixel): adaptive frequencies of the
 * indices that follow each index.  Indices say nothing by their values,
 * but which one follows which repeats (the edge of a glyph, a dithered
 * texture): on the held-out palette screenshots this took a fifth off the
 * indices' bits.  A smaller tile has too few pixels to learn 256 trees
 * and keeps one.  The cache would only repeat the indices. */
static int code_index(match_state *m, model_tile *t, uint32_t x, uint32_t y, symbol_io *io)
{
    const size_t i = (size_t)y * t->width + x;
    const uint32_t bits = adaptive_bit_length(t->maxval), value = io->enc ? (uint32_t)t->samples[i] : 0;
    if (t->channels != 1 || bits > 8)
        return io->enc ? IDFZIP_ERR_UNSUPPORTED : IDFZIP_ERR_CORRUPT;
    int32_t before = x ? t->samples[i - 1] : (y ? t->samples[i - t->width] : 0);
    int per_index = (size_t)t->width * t->height >= MATCH_INDEX_CONTEXT_PIXELS;
    uint16_t *tree = m->p_index + (per_index ? 256 * (size_t)(before & 255) : 0);
    uint32_t node = 1;
    for (uint32_t b = bits; b-- > 0;)
        node = 2 * node + adaptive_decide(&tree[node], (value >> b) & 1, io);
    if (!io->enc)
        t->samples[i] = (int32_t)(node - (1u << bits));
    return 1;
}

/* Moves distance to the front of the recent list, at r (MATCH_RECENT: it
 * was not in the list, and the oldest leaves). */
static void remember_distance(match_copy *c, uint32_t r, uint32_t distance)
{
    for (uint32_t k = r < MATCH_RECENT ? r : MATCH_RECENT - 1; k > 0; k--)
        c->recent[k] = c->recent[k - 1];
    c->recent[0] = distance;
}

/* A distance not in the recent list: rows up, then the column offset
 * (signed, zigzag).  The distance, or 0 when the stream names none. */
static uint32_t code_new_distance(match_copy *c, uint32_t width, size_t i, uint32_t distance,
                                  symbol_io *io)
{
    const size_t from = i - distance;
    uint32_t rows = io->enc ? (uint32_t)(i / width - from / width) : 0;
    int32_t columns = io->enc ? (int32_t)(i % width) - (int32_t)(from % width) : 0;
    rows = adaptive_exp_golomb(c->p_eg[EG_ROWS], rows, io);
    int64_t d = (int64_t)rows * width +
                adaptive_unzigzag(adaptive_exp_golomb(c->p_eg[EG_COLUMNS], adaptive_zigzag(columns), io));
    return d >= 1 && d <= (int64_t)i ? (uint32_t)d : 0;
}

/* A pixel that is no neighbour: whether a copy starts here, its distance
 * and length.  1 when it does (decoding: the first pixel copied). */
static int code_copy(match_state *m, model_tile *t, size_t plane, size_t i, uint32_t near,
                     symbol_io *io)
{
    match_copy *c = &m->copy;
    uint32_t length = io->enc ? m->plan.length[i] : 0;
    if (!adaptive_decide(&c->p_copy[near], length != 0, io))
        return 0;
    uint32_t distance = io->enc ? m->plan.distance[i] : 0, r = 0;
    while (r < MATCH_RECENT && !adaptive_decide(&c->p_recent[r], io->enc && c->recent[r] == distance, io))
        r++;
    distance = r < MATCH_RECENT ? c->recent[r] : code_new_distance(c, t->width, i, distance, io);
    length = adaptive_exp_golomb(c->p_eg[EG_LENGTH], length - 1, io) + 1;
    if (distance == 0 || distance > i || length > plane - i)
        return io->enc ? IDFZIP_ERR_UNSUPPORTED : IDFZIP_ERR_CORRUPT;
    remember_distance(c, r, distance);
    c->distance = distance;
    c->remaining = length - 1;
    if (!io->enc)
        copy_pixel(t, plane, i, i - distance);
    return 1;
}

int match_code_pixel(match_state *m, model_tile *t, uint32_t x, uint32_t y, symbol_io *io)
{
    const size_t plane = (size_t)t->width * t->height, i = (size_t)y * t->width + x;
    if (m->copy.remaining) { /* inside a copy: nothing is coded */
        m->copy.remaining--;
        if (!io->enc)
            copy_pixel(t, plane, i, i - m->copy.distance);
        m->matched[i] = 1;
        return 1;
    }
    size_t cand[MATCH_CANDIDATES];
    uint32_t n = candidates(t, plane, x, y, cand);
    /* Context: the candidate's rank, how many distinct neighbours there
     * are (one: a flat area), whether W and N were matches, and in
     * match-v2 which neighbours equal which (the direction of an edge). */
    uint32_t near = 2u * (x && m->matched[i - 1]) + (y && m->matched[i - t->width]);
    uint32_t pattern = m->copies ? neighbour_pattern(t, plane, x, y) : 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t is = io->enc ? (uint32_t)same_pixel(t, plane, i, cand[k]) : 0;
        uint32_t ctx = ((pattern * MATCH_CANDIDATES + k) * MATCH_CANDIDATES + n - 1) * 4 + near;
        if (!adaptive_decide(&m->p1[ctx], is, io))
            continue;
        if (!io->enc)
            copy_pixel(t, plane, i, cand[k]);
        m->matched[i] = 1;
        return 1;
    }
    int coded = m->copies ? code_copy(m, t, plane, i, near, io) : 0;
    if (coded > 0)
        m->matched[i] = 1;
    if (coded == 0)
        coded = m->copies && t->indexed ? code_index(m, t, x, y, io)
                                         : code_cached(m, t, plane, i, near, io);
    if (coded != 0)
        return coded;
    /* Decoding, a stream that ran out is corrupt; encoding, the coder's
     * own status (out of memory) is the answer. */
    return symbol_io_status(io);
}

/* ---- the encoder's plan ---- */

#define PLAN_CHAIN_DEPTH 128  /* candidates tried per position */
#define PLAN_MAX_LENGTH 65536 /* a longer repeat takes several copies */
/* What a pixel would cost without a copy, in 1/16 bit: about a tenth of a
 * bit for a neighbour, ten bits for another (a cached colour costs nine,
 * a predicted one about twenty). */
#define PLAN_NEIGHBOUR_COST 2
#define PLAN_OTHER_COST 200

static uint32_t hash3(const model_tile *t, size_t plane, size_t i)
{
    uint32_t h = 0;
    for (size_t k = i; k < i + 3; k++)
        for (uint32_t c = 0; c < t->channels; c++)
            h = (h + (uint32_t)t->samples[c * plane + k]) * 0x9E3779B1u;
    return h >> (32 - MATCH_HASH_BITS);
}

/* An Exp-Golomb code's length, in 1/16 bit, as if each decision cost a bit. */
static int64_t exp_golomb_cost(uint32_t value)
{
    return 16 * (2 * (int64_t)adaptive_bit_length(value + 1) - 1);
}

/* How far pixel i repeats the pixels `distance` back, and what those
 * pixels would cost uncopied (neighbours are flagged in skip). */
static uint32_t repeat_length(const model_tile *t, size_t plane, const uint8_t *skip, size_t i,
                              uint32_t distance, int64_t *gain)
{
    uint32_t n = 0;
    *gain = 0;
    while (n < PLAN_MAX_LENGTH && i + n < plane && same_pixel(t, plane, i + n, i + n - distance)) {
        *gain += skip[i + n] ? PLAN_NEIGHBOUR_COST : PLAN_OTHER_COST;
        n++;
    }
    return n;
}

typedef struct plan_choice {
    int64_t saving; /* 1/16 bit */
    uint32_t length, distance;
} plan_choice;

static void consider(plan_choice *best, int64_t gain, int64_t cost, uint32_t length,
                     uint32_t distance)
{
    if (length && gain - cost > best->saving) {
        best->saving = gain - cost;
        best->length = length;
        best->distance = distance;
    }
}

/* The best copy at pixel i by the costs above: the recent distances, then
 * the positions with the same hash of three pixels. */
static plan_choice best_copy(const match_state *m, const model_tile *t, size_t plane, size_t i)
{
    plan_choice best = {0, 0, 0};
    int64_t gain;
    for (uint32_t r = 0; r < MATCH_RECENT; r++) {
        uint32_t d = m->copy.recent[r];
        if (d <= i) {
            uint32_t n = repeat_length(t, plane, m->skip, i, d, &gain);
            consider(&best, gain, 16 * (2 + (int64_t)r) + exp_golomb_cost(n - 1), n, d);
        }
    }
    if (i + 3 > plane)
        return best;
    int32_t j = m->plan.head[hash3(t, plane, i)];
    for (int depth = 0; j >= 0 && depth < PLAN_CHAIN_DEPTH; depth++, j = m->plan.chain[j]) {
        uint32_t d = (uint32_t)(i - (size_t)j);
        uint32_t n = repeat_length(t, plane, m->skip, i, d, &gain);
        size_t from = (size_t)j;
        uint32_t rows = (uint32_t)(i / t->width - from / t->width);
        int32_t columns = (int32_t)(i % t->width) - (int32_t)(from % t->width);
        int64_t cost = 16 * 5 + exp_golomb_cost(rows) + exp_golomb_cost(adaptive_zigzag(columns)) +
                       exp_golomb_cost(n - 1);
        consider(&best, gain, cost, n, d);
    }
    return best;
}

static void chain_insert(match_state *m, const model_tile *t, size_t plane, size_t i)
{
    if (i + 3 > plane)
        return;
    uint32_t h = hash3(t, plane, i);
    m->plan.chain[i] = m->plan.head[h];
    m->plan.head[h] = (int32_t)i;
}

/* Copies, greedily: at each pixel that no copy covers and no neighbour
 * matches, the copy that saves most, if any saves.  m->skip holds on entry
 * which pixels are neighbours; the coder's recent distances are followed. */
static void plan_copies(match_state *m, const model_tile *t, size_t plane, uint32_t x, uint32_t y,
                        uint32_t *covered)
{
    const size_t i = (size_t)y * t->width + x;
    m->plan.length[i] = 0;
    if (*covered) {
        (*covered)--;
        m->skip[i] = 1;
    } else if (!m->skip[i]) {
        plan_choice c = best_copy(m, t, plane, i);
        if (c.length) {
            uint32_t r = 0;
            while (r < MATCH_RECENT && m->copy.recent[r] != c.distance)
                r++;
            remember_distance(&m->copy, r, c.distance);
            m->plan.length[i] = c.length;
            m->plan.distance[i] = c.distance;
            *covered = c.length - 1;
            m->skip[i] = 1;
        } else {
            m->skip[i] = (uint8_t)(t->indexed ||
                                   cache_holds(m, t, plane, i, cache_slot(t, plane, i)));
        }
    }
    chain_insert(m, t, plane, i);
}

void match_plan(match_state *m, const model_tile *t)
{
    const size_t plane = (size_t)t->width * t->height;
    for (uint32_t y = 0; y < t->height; y++)
        for (uint32_t x = 0; x < t->width; x++)
            m->skip[(size_t)y * t->width + x] = (uint8_t)is_neighbour(t, plane, x, y);
    if (m->copies)
        for (size_t h = 0; h < ((size_t)1 << MATCH_HASH_BITS); h++)
            m->plan.head[h] = -1;
    uint32_t covered = 0;
    for (uint32_t y = 0; y < t->height; y++)
        for (uint32_t x = 0; x < t->width; x++) {
            const size_t i = (size_t)y * t->width + x;
            if (m->copies)
                plan_copies(m, t, plane, x, y, &covered);
            else if (!m->skip[i])
                m->skip[i] = (uint8_t)cache_holds(m, t, plane, i, cache_slot(t, plane, i));
            match_record_pixel(m, t, x, y);
        }
}
