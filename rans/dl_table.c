/* dl_table.c — discretized-logistic frequency tables (see dl_table.h). */
#include "dl_table.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../common/int_math.h"

#define DL_ESCAPE_LEN_BITS 5
#define DL_ESCAPE_MAX_LEN 27 /* zigzag codes of |d| <= 2^26 */

struct dl_tables {
    freq_table table[DL_NUM_SCALES][DL_MEAN_FRACS];
    uint16_t *cum_pool;
    uint16_t *guide_pool;
    /* The shared set lays out and builds each table on first use: per
     * table a TABLE_* state for its cum[] (and its place in table[]) and
     * one for its guide, which only a decoder reads; both NULL when every
     * table is built (dl_tables_create). */
    atomic_uchar *state, *guide_state;
    uint32_t cum_start[DL_NUM_SCALES]; /* where scale s's tables start in cum_pool */
};

enum { TABLE_UNBUILT = 0, TABLE_BUILDING = 1, TABLE_READY = 2 };

static uint32_t table_symbols(uint32_t scale)
{
    return 2u * DL_HALF_WIDTH[scale] + 2u; /* buckets -R..R, then escape */
}

/* Lower edge of bucket q, relative to mu, in 1/32 of a unit. */
static int64_t bucket_edge_x32(int32_t q, uint32_t scale, uint32_t frac)
{
    int64_t first_value = (int64_t)q * ((int64_t)1 << DL_SCALE_SHIFT[scale]);
    return 32 * first_value - 16 - 2 * (int64_t)frac;
}

/* cum[k] = floor(C_k * (M - n)) + k, where C_k is the probability of the
 * buckets before k: monotone C gives every symbol frequency >= 1 and the
 * escape (last symbol) the mass of both tails plus its own 1.  Table
 * (scale, frac) of t is placed in t's pools and its cum[] filled; its
 * guide is left to freq_table_build_guide. */
static void build_cum(dl_tables *t, uint32_t scale, uint32_t frac)
{
    freq_table *ft = &t->table[scale][frac];
    uint32_t n = table_symbols(scale), half = DL_HALF_WIDTH[scale];
    ft->nsym = n;
    ft->cum = t->cum_pool + t->cum_start[scale] + (size_t)frac * (n + 1);
    ft->guide = t->guide_pool + ((size_t)scale * DL_MEAN_FRACS + frac) * FREQ_GUIDE_SIZE;
    uint32_t inv = DL_SCALE_INV_Q20[scale];
    uint64_t base = dl_logistic_cdf_q32(bucket_edge_x32(-(int32_t)half, scale, frac), inv);
    uint64_t room = RANS_PROB_SCALE - n;
    for (uint32_t k = 0; k < n; k++) {
        int32_t q = (int32_t)k - (int32_t)half;
        uint64_t c = dl_logistic_cdf_q32(bucket_edge_x32(q, scale, frac), inv) - base;
        ft->cum[k] = (uint16_t)(((c * room) >> 32) + k);
    }
    ft->cum[n] = RANS_PROB_SCALE;
}

/* Points t at its pools (cum: at least DL_CUM_POOL_SIZE entries, guide: one
 * guide per table) and lays out where each scale's tables go in cum. */
static void lay_out(dl_tables *t, uint16_t *cum, uint16_t *guide)
{
    t->cum_pool = cum;
    t->guide_pool = guide;
    uint32_t at = 0;
    for (uint32_t s = 0; s < DL_NUM_SCALES; s++) {
        t->cum_start[s] = at;
        at += DL_MEAN_FRACS * (table_symbols(s) + 1);
    }
}

#define DL_GUIDE_POOL_SIZE ((size_t)DL_NUM_SCALES * DL_MEAN_FRACS * FREQ_GUIDE_SIZE)

dl_tables *dl_tables_create(void)
{
    dl_tables *t = calloc(1, sizeof *t);
    uint16_t *cum = malloc(DL_CUM_POOL_SIZE * sizeof *cum);
    uint16_t *guide = malloc(DL_GUIDE_POOL_SIZE * sizeof *guide);
    if (!t || !cum || !guide) {
        free(t), free(cum), free(guide);
        return NULL;
    }
    lay_out(t, cum, guide);
    for (uint32_t s = 0; s < DL_NUM_SCALES; s++)
        for (uint32_t f = 0; f < DL_MEAN_FRACS; f++) {
            build_cum(t, s, f);
            freq_table_build_guide(&t->table[s][f]);
        }
    return t;
}

/* The tables are the same for every call and every thread, so a process
 * keeps one set, in static storage (nothing to allocate, so nothing can
 * fail), and builds each table the first time a coder needs it: a small
 * image uses a few of the 1,536, and building all took about a third of
 * decoding a 32x32 PNG.  An encoder never reads a guide, so only a decoder
 * builds one; and a table's place is set when it is built, so the memory
 * of tables never used is never touched (each first touch of a page is a
 * page fault, 3 us on this VM).  Once built, a table is only read:
 * immutable data initialised once, not state. */
static dl_tables shared_tables;
static uint16_t shared_cum[DL_CUM_POOL_SIZE];
static uint16_t shared_guide[DL_GUIDE_POOL_SIZE];
static atomic_uchar shared_state[DL_NUM_SCALES * DL_MEAN_FRACS];
static atomic_uchar shared_guide_state[DL_NUM_SCALES * DL_MEAN_FRACS];
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;

static void build_shared(void)
{
    lay_out(&shared_tables, shared_cum, shared_guide);
    shared_tables.state = shared_state;
    shared_tables.guide_state = shared_guide_state;
}

/* 1 when the caller is to build what *state guards (it was unbuilt; now it
 * is marked as being built); otherwise 0 once another thread has built it. */
static int claim(atomic_uchar *state)
{
    unsigned char expected = TABLE_UNBUILT;
    if (atomic_compare_exchange_strong(state, &expected, TABLE_BUILDING))
        return 1;
    while (atomic_load_explicit(state, memory_order_acquire) != TABLE_READY)
        sched_yield();
    return 0;
}

static void publish(atomic_uchar *state)
{
    atomic_store_explicit(state, TABLE_READY, memory_order_release);
}

static int ready(const atomic_uchar *state)
{
    return atomic_load_explicit(state, memory_order_acquire) == TABLE_READY;
}

/* Table (scale, frac) of the shared set with its cum[], and with its guide
 * where guide is 1, built by this call unless another thread already did
 * or is doing it (then waits for it). */
static void build_shared_table(size_t i, uint32_t scale, uint32_t frac, int guide)
{
    if (!ready(&shared_state[i]) && claim(&shared_state[i])) {
        build_cum(&shared_tables, scale, frac);
        publish(&shared_state[i]);
    }
    if (guide && !ready(&shared_guide_state[i]) && claim(&shared_guide_state[i])) {
        freq_table_build_guide(&shared_tables.table[scale][frac]);
        publish(&shared_guide_state[i]);
    }
}

/* Table (scale, frac) with its cum[] built, and its guide where guide is 1
 * (only the shared set has states: a set of one's own is built whole). */
static inline const freq_table *table_of(const dl_tables *t, uint32_t scale, uint32_t frac, int guide)
{
    if (t->state) {
        const size_t i = (size_t)scale * DL_MEAN_FRACS + frac;
        if (!ready(&t->state[i]) || (guide && !ready(&t->guide_state[i])))
            build_shared_table(i, scale, frac, guide);
    }
    return &t->table[scale][frac];
}

const dl_tables *dl_tables_shared(void)
{
    pthread_once(&shared_once, build_shared);
    return &shared_tables;
}

void dl_tables_destroy(dl_tables *t)
{
    if (!t)
        return;
    free(t->cum_pool);
    free(t->guide_pool);
    free(t);
}

const freq_table *dl_table_get(const dl_tables *t, uint32_t scale, uint32_t frac)
{
    return table_of(t, scale, frac, 1);
}

/* The escape's zigzag code of d and its length in bits (0 for d = 0). */
static unsigned escape_zigzag(int32_t d, uint32_t *zz_out)
{
    uint32_t zz = d >= 0 ? 2u * (uint32_t)d : 2u * (uint32_t)(-(int64_t)d) - 1u;
    unsigned len = 0;
    while ((zz >> len) != 0)
        len++;
    *zz_out = zz;
    return len;
}

void dl_encode_escape(rans_encoder *enc, int32_t d)
{
    uint32_t zz;
    unsigned len = escape_zigzag(d, &zz);
    rans_encoder_put_bits(enc, len, DL_ESCAPE_LEN_BITS);
    if (len > 1)
        rans_encoder_put_bits(enc, zz, len - 1); /* the leading 1 is implied */
}

int32_t dl_decode_escape(rans_decoder *dec)
{
    unsigned len = rans_decoder_get_bits(dec, DL_ESCAPE_LEN_BITS);
    if (len > DL_ESCAPE_MAX_LEN) {
        dec->overrun = 1;
        return 0;
    }
    if (len == 0)
        return 0;
    uint32_t zz = (1u << (len - 1)) | rans_decoder_get_bits(dec, len - 1);
    return (zz & 1) ? -(int32_t)(zz >> 1) - 1 : (int32_t)(zz >> 1);
}

/* Where value falls in its table: the table, the symbol (the escape,
 * nsym - 1, when outside the window), d = value - floor(mean) and the
 * number b of raw low bits. */
typedef struct dl_place {
    const freq_table *ft;
    uint32_t sym;
    int32_t d;
    unsigned b;
} dl_place;

static dl_place dl_locate(const dl_tables *t, int32_t value, int32_t mean16, uint32_t scale)
{
    int32_t mean_int = (int32_t)floor_shift(mean16, DL_MEAN_FRAC_BITS);
    uint32_t frac = (uint32_t)(mean16 - mean_int * DL_MEAN_FRACS);
    dl_place p = {table_of(t, scale, frac, 0), 0, value - mean_int, DL_SCALE_SHIFT[scale]};
    int32_t half = (int32_t)DL_HALF_WIDTH[scale];
    int32_t q = (int32_t)floor_shift(p.d, p.b);
    p.sym = (q < -half || q > half) ? p.ft->nsym - 1 : (uint32_t)(q + half);
    return p;
}

void dl_encode(const dl_tables *t, rans_encoder *enc, int32_t value,
               int32_t mean16, uint32_t scale)
{
    dl_place p = dl_locate(t, value, mean16, scale);
    freq_table_encode(p.ft, enc, p.sym);
    if (p.sym == p.ft->nsym - 1)
        dl_encode_escape(enc, p.d);
    else
        rans_encoder_put_bits(enc, (uint32_t)p.d & ((1u << p.b) - 1u), p.b);
}

/* 16 * log2(f) for 1 <= f <= 2^16: the top bit, then the next four bits
 * through round(16 * log2(1 + i/16)). */
static uint32_t log2_16(uint32_t f)
{
    static const uint8_t frac16[16] = {0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 15};
#if defined(__GNUC__)
    unsigned top = 31u - (unsigned)__builtin_clz(f);
#else
    unsigned top = 0;
    while (f >> (top + 1))
        top++;
#endif
    uint32_t m = top >= 4 ? (f >> (top - 4)) & 15u : (f << (4 - top)) & 15u;
    return 16u * top + frac16[m];
}

uint32_t dl_cost16(const dl_tables *t, int32_t value, int32_t mean16, uint32_t scale)
{
    dl_place p = dl_locate(t, value, mean16, scale);
    uint32_t f = (uint32_t)p.ft->cum[p.sym + 1] - p.ft->cum[p.sym];
    uint32_t bits = 16u * RANS_PROB_BITS - log2_16(f);
    if (p.sym != p.ft->nsym - 1)
        return bits + 16u * p.b;
    uint32_t zz;
    unsigned len = escape_zigzag(p.d, &zz);
    return bits + 16u * (DL_ESCAPE_LEN_BITS + (len > 1 ? len - 1 : 0));
}

int32_t dl_decode(const dl_tables *t, rans_decoder *dec, int32_t mean16,
                  uint32_t scale)
{
    int32_t mean_int = (int32_t)floor_shift(mean16, DL_MEAN_FRAC_BITS);
    uint32_t frac = (uint32_t)(mean16 - mean_int * DL_MEAN_FRACS);
    const freq_table *ft = table_of(t, scale, frac, 1);
    unsigned b = DL_SCALE_SHIFT[scale];
    uint32_t sym = freq_table_decode(ft, dec);
    int32_t d;
    if (sym == ft->nsym - 1)
        d = dl_decode_escape(dec);
    else
        d = ((int32_t)sym - (int32_t)DL_HALF_WIDTH[scale]) * (1 << b) +
            (int32_t)rans_decoder_get_bits(dec, b);
    int64_t v = (int64_t)mean_int + d;
    if (v < -DL_VALUE_LIMIT || v > DL_VALUE_LIMIT) {
        dec->overrun = 1;
        return 0;
    }
    return (int32_t)v;
}

uint32_t dl_scale_for_mad(uint64_t mad_q4)
{
    uint32_t s = 0;
    while (s + 1 < DL_NUM_SCALES && mad_q4 > DL_MAD_Q4_UPPER[s])
        s++;
    return s;
}

/* Value v's lower edge, v - 1/2, in dl_logistic_cdf_q32's units of 1/32
 * (a component's mean16, in 1/16, is subtracted as 2 mean16). */
static int64_t lower_edge_x32(int64_t v)
{
    return 32 * v - 16;
}

/* sum_k w_k * CDF_k(v - 1/2) in Q32 (weights sum to 2^15). */
static uint64_t mixture_cdf(const int32_t *mean16, const int32_t *scale, const uint16_t *weight,
                            uint32_t k, int32_t v)
{
    uint64_t sum = 0;
    for (uint32_t j = 0; j < k; j++) {
        int64_t x32 = lower_edge_x32(v) - 2 * (int64_t)mean16[j];
        sum += weight[j] * dl_logistic_cdf_q32(x32, DL_SCALE_INV_Q20[scale[j]]);
    }
    return sum >> 15;
}

/* The values every component gives mass to: mean +- 11 scales each. */
static void mixture_window(const int32_t *mean16, const int32_t *scale, uint32_t k,
                           int32_t *lo, int32_t *hi)
{
    *lo = INT32_MAX, *hi = INT32_MIN;
    for (uint32_t j = 0; j < k; j++) {
        int32_t m = (int32_t)floor_shift(mean16[j], DL_MEAN_FRAC_BITS);
        int32_t half = (int32_t)DL_HALF_WIDTH[scale[j]] << DL_SCALE_SHIFT[scale[j]];
        *lo = m - half < *lo ? m - half : *lo;
        *hi = m + half + 1 > *hi ? m + half + 1 : *hi;
    }
    if ((int64_t)*hi - *lo + 2 > DL_MIXTURE_MAX_SYMBOLS)
        *hi = *lo + DL_MIXTURE_MAX_SYMBOLS - 2;
}

/* A mixture's table over the values lo..hi, then the escape: cum[j] =
 * floor(C_j (M - n) / 2^32) + j, C_j the mixture's CDF at lo + j minus its
 * value at lo (base), computed where asked (mixture_cum). */
typedef struct mixture_coder {
    const int32_t *mean16, *scale;
    const uint16_t *weight;
    uint32_t k, n; /* n: values lo..hi, then the escape */
    int32_t lo;
    uint64_t base, room;
} mixture_coder;

/* The coder of window lo..hi; its base is set by mixture_start (or by the
 * caller). */
static mixture_coder mixture_coder_make(const int32_t *mean16, const int32_t *scale,
                                        const uint16_t *weight, uint32_t k, int32_t lo, int32_t hi)
{
    mixture_coder c = {mean16, scale, weight, k, (uint32_t)(hi - lo + 2), lo, 0, 0};
    c.room = RANS_PROB_SCALE - c.n;
    return c;
}

/* cum[j] from the mixture's CDF at lo + j (j < n). */
static uint32_t cum_from_cdf(const mixture_coder *c, uint32_t j, uint64_t cdf)
{
    return (uint32_t)((((cdf - c->base) * c->room) >> 32) + j);
}

/* cum[j] of the table; cum[n] = RANS_PROB_SCALE. */
static uint32_t mixture_cum(const mixture_coder *c, uint32_t j)
{
    if (j >= c->n)
        return RANS_PROB_SCALE;
    return cum_from_cdf(c, j, mixture_cdf(c->mean16, c->scale, c->weight, c->k, c->lo + (int32_t)j));
}

/* Sets c's base and gives cum[j] and cum[j + 1] (j < n): the three CDFs
 * (at lo, lo + j, lo + j + 1) in one pass over the components.  The
 * encoder needs exactly these, and so does the decoder where its first
 * guess is right (most values): one loop instead of three made decoding
 * 2.4% faster and encoding 1.4% (a photo, -T 1). */
static void mixture_start(mixture_coder *c, uint32_t j, uint32_t *cum_j, uint32_t *cum_next)
{
    const int64_t at = lower_edge_x32((int64_t)c->lo + j), first = lower_edge_x32(c->lo);
    uint64_t base = 0, here = 0, next = 0;
    for (uint32_t i = 0; i < c->k; i++) {
        const uint32_t inv = DL_SCALE_INV_Q20[c->scale[i]];
        const int64_t mean2 = 2 * (int64_t)c->mean16[i];
        base += c->weight[i] * dl_logistic_cdf_q32(first - mean2, inv);
        here += c->weight[i] * dl_logistic_cdf_q32(at - mean2, inv);
        next += c->weight[i] * dl_logistic_cdf_q32(at + 32 - mean2, inv);
    }
    c->base = base >> 15;
    *cum_j = cum_from_cdf(c, j, here >> 15);
    *cum_next = j + 1 < c->n ? cum_from_cdf(c, j + 1, next >> 15) : RANS_PROB_SCALE;
}

void dl_mixture_table(const int32_t *mean16, const int32_t *scale, const uint16_t *weight,
                      uint32_t k, freq_table *t, int32_t *lo, uint16_t *cum, uint16_t *guide)
{
    int32_t hi;
    mixture_window(mean16, scale, k, lo, &hi);
    mixture_coder c = mixture_coder_make(mean16, scale, weight, k, *lo, hi);
    c.base = mixture_cdf(mean16, scale, weight, k, *lo);
    for (uint32_t j = 0; j <= c.n; j++)
        cum[j] = (uint16_t)mixture_cum(&c, j);
    t->nsym = c.n;
    t->cum = cum;
    t->guide = guide;
    freq_table_build_guide(t);
}

/* The per-value mixture's coder: dl_mixture_table's window clipped to
 * 0..maxval. */
static mixture_coder mixture_coder_init(const int32_t *mean16, const int32_t *scale,
                                        const uint16_t *weight, uint32_t k, int32_t maxval)
{
    int32_t lo, hi;
    mixture_window(mean16, scale, k, &lo, &hi);
    lo = lo < 0 ? 0 : (lo > maxval ? maxval : lo);
    hi = hi < lo ? lo : (hi > maxval ? maxval : hi);
    return mixture_coder_make(mean16, scale, weight, k, lo, hi);
}

void dl_mixture_encode(rans_encoder *enc, int32_t value, const int32_t *mean16,
                       const int32_t *scale, const uint16_t *weight, uint32_t k, int32_t maxval)
{
    mixture_coder c = mixture_coder_init(mean16, scale, weight, k, maxval);
    int64_t j = (int64_t)value - c.lo;
    uint32_t sym = j >= 0 && j < (int64_t)c.n - 1 ? (uint32_t)j : c.n - 1;
    uint32_t start, end;
    mixture_start(&c, sym, &start, &end);
    rans_encoder_put(enc, start, end - start);
    if (sym == c.n - 1)
        dl_encode_escape(enc, (int32_t)j);
}

/* Where the value of rANS slot `slot` most likely is: the heavier
 * component's quantile at the slot's share of the mass, inside 0 .. n - 2.
 * Only where the search starts, so it may be rough, and it is quick: the
 * share ignores the mass below the window (waiting for that evaluation
 * cost more than it saved) and the table's +j terms (n is small against
 * M), the other components are ignored, and the quantile comes from
 * DL_QUANTILE_IDX (t = idx/256 scales from the mean) times DL_SCALE_Q8,
 * with no division.  The search now evaluates the mixture 2.22 times per
 * value on the held-out photos (2.09 on Garden, where the heavier
 * component's mean as the start took 3.06): decode -T 1 3.6% faster. */
static uint32_t likely_index(const mixture_coder *c, uint32_t slot)
{
    uint32_t heavy = 0;
    for (uint32_t j = 1; j < c->k; j++)
        heavy = c->weight[j] > c->weight[heavy] ? j : heavy;
    const uint32_t cdf = slot << (32 - RANS_PROB_BITS); /* Q32 */
    const int upper = cdf >> 31; /* the upper half mirrors the lower */
    const uint32_t lower = upper ? UINT32_MAX - cdf : cdf;
    /* t = idx / 256 scales, 32 t s in dl_logistic_cdf_q32's x32 units */
    const int64_t reach = (int64_t)(((uint64_t)DL_QUANTILE_IDX[lower >> 20] *
                                     DL_SCALE_Q8[c->scale[heavy]]) >> 11);
    const int64_t x32 = upper ? reach : -reach;
    /* the last value whose lower edge, 32 v - 16 - 2 mean16, is at or below x32 */
    const int64_t at = floor_shift(x32 + 16 + 2 * (int64_t)c->mean16[heavy], 5) - c->lo;
    return at < 0 ? 0 : (at > (int64_t)c->n - 2 ? c->n - 2 : (uint32_t)at);
}

/* The symbol a with cum[a] <= slot < cum[a + 1] and its two cum values.
 * Decoded values cluster at the likely index, so the search gallops out
 * from there (1, 2, 4, ... symbols) and bisects the bracket it finds:
 * mostly the 2 evaluations of the mixture that cum[a] and cum[a + 1] take
 * anyway, where a plain bisection of 256 values takes 9.  Any start finds
 * the same a: cum is increasing. */
static uint32_t mixture_find(mixture_coder *c, uint32_t slot, uint32_t *start, uint32_t *end)
{
    uint32_t a = likely_index(c, slot), b = a + 1, ca, cb, step = 1;
    mixture_start(c, a, &ca, &cb);
    if (ca <= slot) { /* gallop up: cum[a] <= slot, looking for cum[b] > slot */
        while (cb <= slot) {
            a = b, ca = cb, step *= 2, step = a + step > c->n ? c->n - a : step;
            b = a + step;
            cb = mixture_cum(c, b);
        }
    } else { /* gallop down: slot < cum[a], looking for cum[new a] <= slot */
        b = a, cb = ca;
        do {
            a = b > step ? b - step : 0;
            ca = a ? mixture_cum(c, a) : 0;
            if (ca > slot)
                b = a, cb = ca, step *= 2;
        } while (ca > slot);
    }
    while (b - a > 1) { /* cum[a] <= slot < cum[b] */
        uint32_t mid = a + (b - a) / 2, cm = mixture_cum(c, mid);
        if (cm <= slot)
            a = mid, ca = cm;
        else
            b = mid, cb = cm;
    }
    *start = ca;
    *end = cb;
    return a;
}

int32_t dl_mixture_decode(rans_decoder *dec, const int32_t *mean16, const int32_t *scale,
                          const uint16_t *weight, uint32_t k, int32_t maxval)
{
    mixture_coder c = mixture_coder_init(mean16, scale, weight, k, maxval);
    uint32_t start, end, a = mixture_find(&c, rans_decoder_peek(dec), &start, &end);
    rans_decoder_advance(dec, start, end - start);
    int64_t v = (int64_t)c.lo + (a == c.n - 1 ? dl_decode_escape(dec) : (int32_t)a);
    if (v < -DL_VALUE_LIMIT || v > DL_VALUE_LIMIT) {
        dec->overrun = 1;
        return 0;
    }
    return (int32_t)v;
}
