/* test_rans.c — unit tests for the rANS coder (rans.h) and its frequency
 * tables (freq_table.h): round trips, coded size against the ideal, error
 * detection on truncated streams, and the table lookups. */
#include "../rans/freq_table.h"
#include "../rans/rans.h"
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define M RANS_PROB_SCALE
#define HEADER_BYTES (4 * RANS_STATES)

/* ---- tables ------------------------------------------------------------- */

/* A table together with its storage (the table only points into it). */
typedef struct table_box {
    freq_table t;
    uint16_t cum[M + 1];
    uint16_t guide[FREQ_GUIDE_SIZE];
} table_box;

/* malloc that gives up on the whole test program when memory runs out. */
static void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static table_box *box_new(void)
{
    table_box *b = xmalloc(sizeof *b);
    memset(b, 0, sizeof *b);
    b->t.cum = b->cum;
    b->t.guide = b->guide;
    return b;
}

static uint32_t table_freq(const freq_table *t, uint32_t s)
{
    return (uint32_t)(t->cum[s + 1] - t->cum[s]);
}

/* Random counts of one of several shapes: flat noise, steep decay, sparse
 * spikes, and values near UINT32_MAX that need the 64-bit arithmetic. */
static void random_counts(uint64_t *rng, uint32_t *counts, uint32_t nsym)
{
    uint32_t shape = test_rand_below(rng, 4);
    for (uint32_t s = 0; s < nsym; s++) {
        uint32_t r = (uint32_t)test_rand(rng);
        switch (shape) {
        case 0: counts[s] = r % 1000; break;
        case 1: counts[s] = r >> test_rand_below(rng, 32); break;
        case 2: counts[s] = test_rand_below(rng, 16) == 0 ? r % 100000 : 0; break;
        default: counts[s] = UINT32_MAX - r % 16; break;
        }
    }
}

/* nsym in 1..max_nsym, roughly log-uniform so small alphabets show up. */
static uint32_t random_nsym(uint64_t *rng, uint32_t max_nsym)
{
    uint32_t bits = 1 + test_rand_below(rng, 12);
    uint32_t n = 1 + test_rand_below(rng, 1u << bits);
    return n < max_nsym ? n : max_nsym;
}

static table_box *random_table(uint64_t *rng, uint32_t nsym)
{
    table_box *b = box_new();
    uint32_t *counts = xmalloc(nsym * sizeof *counts);
    random_counts(rng, counts, nsym);
    CHECK(freq_table_from_counts(&b->t, counts, nsym) == 0, "nsym %u", nsym);
    CHECK(freq_table_validate(&b->t) == 0, "random table nsym %u", nsym);
    free(counts);
    return b;
}

/* One symbol holds M - (nsym - 1), every other symbol 1. */
static table_box *skewed_table(uint32_t nsym, uint32_t big)
{
    table_box *b = box_new();
    b->t.nsym = nsym;
    b->cum[0] = 0;
    for (uint32_t s = 0; s < nsym; s++)
        b->cum[s + 1] = (uint16_t)(b->cum[s] + (s == big ? M - (nsym - 1) : 1));
    freq_table_build_guide(&b->t);
    CHECK(freq_table_validate(&b->t) == 0, "skewed nsym %u big %u", nsym, big);
    return b;
}

/* A symbol drawn from the table's own distribution; the search is a plain
 * binary search, independent of the guide under test. */
static uint32_t sample_symbol(uint64_t *rng, const freq_table *t)
{
    uint32_t slot = test_rand_below(rng, M);
    uint32_t lo = 0, hi = t->nsym; /* cum[lo] <= slot < cum[hi] */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t->cum[mid] <= slot)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* ---- streams of operations ------------------------------------------- */

#define OP_RAW 0xFFFFu

/* One coded item: a symbol of tables[table], or nbits raw bits. */
typedef struct op {
    uint32_t value;
    uint16_t table; /* OP_RAW for raw bits */
    uint8_t nbits;
} op;

typedef struct stream {
    op *ops;
    size_t n, cap;
} stream;

static void stream_push(stream *st, uint16_t table, uint32_t value, unsigned nbits)
{
    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 1024;
        st->ops = realloc(st->ops, st->cap * sizeof *st->ops);
        if (!st->ops)
            exit(2);
    }
    st->ops[st->n++] = (op){ value, table, (uint8_t)nbits };
}

static uint32_t raw_mask(unsigned nbits)
{
    return nbits >= 32 ? 0xFFFFFFFFu : (1u << nbits) - 1;
}

/* Encodes the stream; *size gets the coded size.  NULL if finish failed. */
static uint8_t *encode_stream(const stream *st, table_box *const *tables, size_t *size)
{
    rans_encoder enc;
    rans_encoder_init(&enc);
    for (size_t i = 0; i < st->n; i++) {
        const op *o = &st->ops[i];
        if (o->table == OP_RAW)
            rans_encoder_put_bits(&enc, o->value, o->nbits);
        else
            freq_table_encode(&tables[o->table]->t, &enc, o->value);
    }
    size_t bound = rans_encoder_bound(&enc);
    uint8_t *buf = xmalloc(bound);
    *size = rans_encoder_finish(&enc, buf, bound);
    CHECK(*size >= HEADER_BYTES && *size <= bound, "size %zu bound %zu", *size, bound);
    rans_encoder_free(&enc);
    if (*size == 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Decodes size bytes as the stream.  Returns 0 when init and finish both
 * succeed; *mismatches counts decoded values that differ. */
static int decode_stream(const uint8_t *data, size_t size, const stream *st,
                         table_box *const *tables, size_t *mismatches)
{
    rans_decoder dec;
    *mismatches = 0;
    if (rans_decoder_init(&dec, data, size) != 0)
        return -1;
    for (size_t i = 0; i < st->n; i++) {
        const op *o = &st->ops[i];
        uint32_t got, want;
        if (o->table == OP_RAW) {
            got = rans_decoder_get_bits(&dec, o->nbits);
            want = o->value & raw_mask(o->nbits);
        } else {
            got = freq_table_decode(&tables[o->table]->t, &dec);
            want = o->value;
        }
        *mismatches += got != want;
    }
    return rans_decoder_finish(&dec);
}

/* Sum of -log2(freq/M) over the stream: what an ideal coder would spend. */
static double ideal_bits(const stream *st, table_box *const *tables)
{
    double bits = 0;
    for (size_t i = 0; i < st->n; i++) {
        const op *o = &st->ops[i];
        if (o->table == OP_RAW)
            bits += o->nbits;
        else
            bits += log2((double)M / table_freq(&tables[o->table]->t, o->value));
    }
    return bits;
}

/* A copy of data[0..size) in a buffer of exactly that size, so that the
 * sanitizer sees any read past a truncated end. */
static uint8_t *exact_copy(const uint8_t *data, size_t size)
{
    uint8_t *copy = xmalloc(size);
    memcpy(copy, data, size);
    return copy;
}

static void check_truncated(const char *name, const uint8_t *data, size_t size,
                            size_t cut, const stream *st, table_box *const *tables)
{
    uint8_t *copy = exact_copy(data, cut);
    size_t mismatches;
    CHECK(decode_stream(copy, cut, st, tables, &mismatches) != 0,
          "%s: truncation to %zu of %zu bytes went unnoticed", name, cut, size);
    free(copy);
}

/* Encodes and decodes st, then checks size and the detection of damage.
 * The states' header is a fixed cost outside the ideal: each of the
 * RANS_STATES final states carries between 0 and 8 bits of payload, so the
 * body alone must come within 1% + 64 bits of the ideal. */
static void check_round_trip(const char *name, const stream *st, table_box *const *tables)
{
    size_t size, mismatches;
    uint8_t *data = encode_stream(st, tables, &size);
    CHECK(data != NULL, "%s: encoding failed", name);
    if (!data)
        return;
    uint8_t *copy = exact_copy(data, size);
    CHECK(decode_stream(copy, size, st, tables, &mismatches) == 0,
          "%s: decoder_finish failed", name);
    CHECK(mismatches == 0, "%s: %zu of %zu values differ", name, mismatches, st->n);
    free(copy);

    double ideal = ideal_bits(st, tables);
    double body = 8.0 * (double)(size - HEADER_BYTES);
    CHECK(fabs(body - ideal) <= 0.01 * ideal + 64, "%s: body %.0f bits, ideal %.1f",
          name, body, ideal);

    check_truncated(name, data, size, size - 1, st, tables);
    check_truncated(name, data, size, size / 2, st, tables);

    /* A stray byte after the end must not pass either. */
    uint8_t *longer = xmalloc(size + 1);
    memcpy(longer, data, size);
    longer[size] = 0x5A;
    CHECK(decode_stream(longer, size + 1, st, tables, &mismatches) != 0,
          "%s: trailing byte went unnoticed", name);
    free(longer);
    free(data);
}

static void free_tables(table_box **tables, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tables[i]);
}

/* ---- round-trip cases ------------------------------------------------- */

static void test_random_tables(uint64_t *rng)
{
    for (int c = 0; c < 10; c++) {
        uint32_t nsym = c == 0 ? 4096 : c == 1 ? 256 : random_nsym(rng, 4096);
        table_box *tables[1] = { random_table(rng, nsym) };
        stream st = { 0 };
        for (int i = 0; i < 250000; i++)
            stream_push(&st, 0, sample_symbol(rng, &tables[0]->t), 0);
        char name[64];
        snprintf(name, sizeof name, "random table %d (nsym %u)", c, nsym);
        check_round_trip(name, &st, tables);
        free(st.ops);
        free_tables(tables, 1);
    }
}

static void test_single_symbol(void)
{
    uint32_t count = 7;
    table_box *tables[1] = { box_new() };
    CHECK(freq_table_from_counts(&tables[0]->t, &count, 1) == 0, "nsym 1");
    CHECK(table_freq(&tables[0]->t, 0) == M, "nsym 1 has freq M");
    stream st = { 0 };
    for (int i = 0; i < 100000; i++)
        stream_push(&st, 0, 0, 0);
    check_round_trip("single symbol", &st, tables);
    size_t size;
    uint8_t *data = encode_stream(&st, tables, &size);
    CHECK(size == HEADER_BYTES, "a certain symbol costs nothing: %zu bytes", size);
    free(data);
    free(st.ops);
    free_tables(tables, 1);
}

static void test_skewed_tables(uint64_t *rng)
{
    static const uint32_t sizes[] = { 2, 3, 17, 256, 4096, M };
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        uint32_t nsym = sizes[c];
        uint32_t big = c % 3 == 0 ? 0 : c % 3 == 1 ? nsym - 1 : nsym / 2;
        table_box *tables[1] = { skewed_table(nsym, big) };
        char name[64];

        stream st = { 0 };
        for (int i = 0; i < 100000; i++)
            stream_push(&st, 0, sample_symbol(rng, &tables[0]->t), 0);
        snprintf(name, sizeof name, "skewed nsym %u", nsym);
        check_round_trip(name, &st, tables);

        /* Mostly the rare symbols: long runs of freq-1 renormalisations. */
        st.n = 0;
        for (int i = 0; i < 40000; i++)
            stream_push(&st, 0, test_rand_below(rng, nsym), 0);
        snprintf(name, sizeof name, "skewed nsym %u, rare symbols", nsym);
        check_round_trip(name, &st, tables);
        free(st.ops);
        free_tables(tables, 1);
    }
}

static void test_raw_bits(uint64_t *rng)
{
    for (unsigned nbits = 0; nbits <= 32; nbits++) {
        stream st = { 0 };
        for (int i = 0; i < 20000; i++) /* high bits set too: must be masked */
            stream_push(&st, OP_RAW, (uint32_t)test_rand(rng), nbits);
        char name[64];
        snprintf(name, sizeof name, "raw bits width %u", nbits);
        check_round_trip(name, &st, NULL);
        free(st.ops);
    }
    stream st = { 0 };
    for (int i = 0; i < 100000; i++)
        stream_push(&st, OP_RAW, (uint32_t)test_rand(rng), test_rand_below(rng, 33));
    check_round_trip("raw bits, mixed widths", &st, NULL);
    /* Extreme values at every width. */
    st.n = 0;
    for (unsigned nbits = 0; nbits <= 32; nbits++) {
        stream_push(&st, OP_RAW, 0, nbits);
        stream_push(&st, OP_RAW, 0xFFFFFFFFu, nbits);
    }
    check_round_trip("raw bits, extremes", &st, NULL);
    free(st.ops);
}

/* Every symbol coded with its own table, raw bits in between, as a codec
 * with context modelling does. */
static void test_mixed_tables(uint64_t *rng)
{
    enum { NTABLES = 24 };
    table_box *tables[NTABLES];
    for (int i = 0; i < NTABLES; i++)
        tables[i] = random_table(rng, random_nsym(rng, 4096));
    stream st = { 0 };
    for (int i = 0; i < 1000000; i++) {
        if (test_rand_below(rng, 20) == 0) {
            stream_push(&st, OP_RAW, (uint32_t)test_rand(rng), test_rand_below(rng, 33));
        } else {
            uint16_t k = (uint16_t)test_rand_below(rng, NTABLES);
            stream_push(&st, k, sample_symbol(rng, &tables[k]->t), 0);
        }
    }
    check_round_trip("mixed tables", &st, tables);
    free(st.ops);
    free_tables(tables, NTABLES);
}

static void test_empty(void)
{
    rans_encoder enc;
    rans_encoder_init(&enc);
    uint8_t buf[HEADER_BYTES];
    CHECK(rans_encoder_bound(&enc) == HEADER_BYTES, "empty bound");
    size_t size = rans_encoder_finish(&enc, buf, sizeof buf);
    CHECK(size == HEADER_BYTES, "empty stream is %zu bytes", size);
    for (size_t i = 0; i < HEADER_BYTES; i++) /* RANS_L = 0x00800000, LE */
        CHECK(buf[i] == (i % 4 == 2 ? 0x80 : 0), "empty byte %zu = %u", i, buf[i]);
    rans_decoder dec;
    CHECK(rans_decoder_init(&dec, buf, size) == 0, "empty init");
    CHECK(rans_decoder_finish(&dec) == 0, "empty finish");
    CHECK(rans_decoder_init(&dec, buf, size - 1) != 0, "15-byte init");
    CHECK(rans_decoder_finish(&dec) != 0, "finish after a failed init");
    CHECK(rans_decoder_init(&dec, NULL, 0) != 0, "NULL init");
    rans_encoder_free(&enc);
}

/* ---- encoder and decoder edges ------------------------------------------- */

static void record_sample(rans_encoder *enc, uint64_t *rng, const freq_table *t, int n)
{
    for (int i = 0; i < n; i++)
        freq_table_encode(t, enc, sample_symbol(rng, t));
}

static void test_capacity_and_reset(uint64_t *rng)
{
    table_box *b = random_table(rng, 200);
    uint64_t seed = *rng;
    rans_encoder enc;
    rans_encoder_init(&enc);
    record_sample(&enc, rng, &b->t, 5000);
    size_t bound = rans_encoder_bound(&enc);
    uint8_t *full = xmalloc(bound);
    size_t size = rans_encoder_finish(&enc, full, bound);
    CHECK(size > HEADER_BYTES, "capacity test size %zu", size);

    uint8_t *exact = xmalloc(size);
    CHECK(rans_encoder_finish(&enc, exact, size) == size, "exact capacity");
    CHECK(memcmp(exact, full, size) == 0, "exact capacity gives the same bytes");
    free(exact);
    uint8_t *small = xmalloc(size - 1);
    CHECK(rans_encoder_finish(&enc, small, size - 1) == 0, "capacity one short");
    free(small);
    CHECK(rans_encoder_finish(&enc, full, HEADER_BYTES - 1) == 0, "below the header");

    /* Same symbols after a reset give the same bytes. */
    rans_encoder_reset(&enc);
    CHECK(enc.count == 0 && rans_encoder_bound(&enc) == HEADER_BYTES, "reset");
    uint64_t replay = seed;
    record_sample(&enc, &replay, &b->t, 5000);
    uint8_t *again = xmalloc(bound);
    CHECK(rans_encoder_finish(&enc, again, bound) == size, "after reset");
    CHECK(memcmp(again, full, size) == 0, "after reset, same bytes");
    free(again);
    free(full);
    rans_encoder_free(&enc);
    free(b);
}

static void test_bad_symbols(void)
{
    uint8_t buf[64];
    rans_encoder enc;
    rans_encoder_init(&enc);
    rans_encoder_put(&enc, 0, 0);
    CHECK(rans_encoder_finish(&enc, buf, sizeof buf) == 0, "freq 0 refused");
    rans_encoder_reset(&enc);
    rans_encoder_put(&enc, 1, M);
    CHECK(rans_encoder_finish(&enc, buf, sizeof buf) == 0, "start + freq > M refused");
    rans_encoder_reset(&enc);
    rans_encoder_put(&enc, 0, M + 1);
    CHECK(rans_encoder_finish(&enc, buf, sizeof buf) == 0, "freq > M refused");
    rans_encoder_reset(&enc);
    rans_encoder_put_bits(&enc, 0, 33);
    CHECK(rans_encoder_finish(&enc, buf, sizeof buf) == 0, "33 raw bits refused");
    rans_encoder_reset(&enc);
    rans_encoder_put(&enc, M - 1, 1);
    rans_encoder_put(&enc, 0, M);
    CHECK(rans_encoder_finish(&enc, buf, sizeof buf) > 0, "usable after reset");
    rans_encoder_free(&enc);
}

static void put_le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void test_decoder_init_states(void)
{
    uint8_t buf[HEADER_BYTES];
    rans_decoder dec;
    static const uint32_t bad[] = { 0, RANS_L - 1, 256u * RANS_L, 0xFFFFFFFFu };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int s = 0; s < RANS_STATES; s++) {
            for (int k = 0; k < RANS_STATES; k++)
                put_le(buf + 4 * k, k == s ? bad[i] : RANS_L);
            CHECK(rans_decoder_init(&dec, buf, sizeof buf) != 0,
                  "state %d = %#x accepted", s, bad[i]);
        }
    }
    for (int k = 0; k < RANS_STATES; k++)
        put_le(buf + 4 * k, k % 2 ? 256u * RANS_L - 1 : RANS_L);
    CHECK(rans_decoder_init(&dec, buf, sizeof buf) == 0, "edge states refused");
    CHECK(rans_decoder_finish(&dec) != 0, "states not at L yet finish passed");
}

/* Random bytes must decode without reading outside the buffer; the
 * sanitizer run is what checks this. */
static void test_garbage(uint64_t *rng)
{
    table_box *b = random_table(rng, 300);
    long accepted = 0;
    for (int c = 0; c < 300; c++) {
        size_t size = test_rand_below(rng, 200);
        uint8_t *data = xmalloc(size);
        for (size_t i = 0; i < size; i++)
            data[i] = (uint8_t)test_rand(rng);
        if (size >= HEADER_BYTES && c % 2) /* valid states, random body */
            for (int k = 0; k < RANS_STATES; k++)
                put_le(data + 4 * k, RANS_L + test_rand_below(rng, 255u * RANS_L));
        rans_decoder dec;
        if (rans_decoder_init(&dec, data, size) == 0) {
            for (int i = 0; i < 500; i++) {
                if (i % 3)
                    (void)freq_table_decode(&b->t, &dec);
                else
                    (void)rans_decoder_get_bits(&dec, (unsigned)i % 33);
            }
            accepted += rans_decoder_finish(&dec) == 0;
        }
        free(data);
    }
    CHECK(accepted == 0, "%ld random buffers decoded cleanly", accepted);
    free(b);
}

/* ---- frequency tables -------------------------------------------------- */

static void test_validate(uint64_t *rng)
{
    table_box *b = random_table(rng, 100);
    freq_table *t = &b->t;
    CHECK(freq_table_validate(t) == 0, "good table");
    uint16_t saved;

    saved = t->cum[0];
    t->cum[0] = 1;
    CHECK(freq_table_validate(t) != 0, "cum[0] != 0");
    t->cum[0] = saved;

    saved = t->cum[100];
    t->cum[100] = M - 1;
    CHECK(freq_table_validate(t) != 0, "cum[nsym] != M");
    t->cum[100] = saved;

    saved = t->cum[50];
    t->cum[50] = t->cum[49];
    CHECK(freq_table_validate(t) != 0, "zero frequency");
    t->cum[50] = (uint16_t)(t->cum[49] - 1);
    CHECK(freq_table_validate(t) != 0, "decreasing cum");
    t->cum[50] = saved;
    CHECK(freq_table_validate(t) == 0, "restored table");

    t->nsym = 0;
    CHECK(freq_table_validate(t) != 0, "nsym 0");
    t->nsym = M + 1;
    CHECK(freq_table_validate(t) != 0, "nsym > M");
    t->nsym = 100;
    CHECK(freq_table_validate(NULL) != 0, "NULL table");

    table_box *flat = box_new();
    flat->t.nsym = M; /* every symbol freq 1 */
    for (uint32_t s = 0; s <= M; s++)
        flat->cum[s] = (uint16_t)s;
    CHECK(freq_table_validate(&flat->t) == 0, "nsym M");
    free(flat);
    free(b);
}

/* Every freq is 1 + the share of M - nsym, within one of its exact value. */
static void check_proportional(const freq_table *t, const uint32_t *counts, uint32_t nsym)
{
    uint64_t total = 0;
    for (uint32_t s = 0; s < nsym; s++)
        total += counts[s];
    int ok = 1;
    for (uint32_t s = 0; s < nsym && total; s++) {
        double share = (double)counts[s] * (M - nsym) / (double)total;
        double extra = (double)table_freq(t, s) - 1;
        ok &= fabs(extra - share) < 1.0 + 1e-9;
    }
    CHECK(ok, "frequencies proportional to counts, nsym %u", nsym);
}

static void test_from_counts(uint64_t *rng)
{
    table_box *b = box_new();
    static uint32_t counts[M];
    CHECK(freq_table_from_counts(&b->t, counts, 0) != 0, "nsym 0");
    CHECK(freq_table_from_counts(&b->t, counts, M + 1) != 0, "nsym M + 1");
    CHECK(freq_table_from_counts(&b->t, NULL, 4) != 0, "NULL counts");

    memset(counts, 0, sizeof counts);
    CHECK(freq_table_from_counts(&b->t, counts, 300) == 0, "all zero");
    CHECK(freq_table_validate(&b->t) == 0, "all zero is valid");
    uint32_t lo = M, hi = 0;
    for (uint32_t s = 0; s < 300; s++) {
        uint32_t f = table_freq(&b->t, s);
        lo = f < lo ? f : lo;
        hi = f > hi ? f : hi;
    }
    CHECK(hi - lo <= 1, "all zero counts give a flat table (%u..%u)", lo, hi);

    counts[123] = UINT32_MAX;
    CHECK(freq_table_from_counts(&b->t, counts, 300) == 0, "one huge count");
    CHECK(table_freq(&b->t, 123) == M - 299, "one count takes all the spare");

    for (uint32_t s = 0; s < M; s++)
        counts[s] = UINT32_MAX;
    CHECK(freq_table_from_counts(&b->t, counts, M) == 0, "nsym M, huge counts");
    CHECK(freq_table_validate(&b->t) == 0, "nsym M valid");

    for (int c = 0; c < 40; c++) {
        uint32_t nsym = c < 4 ? M - (uint32_t)c : random_nsym(rng, M);
        random_counts(rng, counts, nsym);
        CHECK(freq_table_from_counts(&b->t, counts, nsym) == 0, "nsym %u", nsym);
        CHECK(freq_table_validate(&b->t) == 0, "from_counts valid, nsym %u", nsym);
        check_proportional(&b->t, counts, nsym);
    }
    free(b);
}

/* freq_table_find against a forward scan of cum[] (slots ascend, so the
 * scan never restarts), and guide[] against its definition, for every slot. */
static void check_lookup(const freq_table *t)
{
    long wrong_find = 0, wrong_guide = 0;
    uint32_t s = 0;
    for (uint32_t slot = 0; slot < M; slot++) {
        while (t->cum[s + 1] <= slot)
            s++;
        wrong_find += freq_table_find(t, slot) != s;
        if ((slot & ((1u << FREQ_GUIDE_SHIFT) - 1)) == 0)
            wrong_guide += t->guide[slot >> FREQ_GUIDE_SHIFT] != s;
    }
    CHECK(wrong_find == 0, "find wrong for %ld slots (nsym %u)", wrong_find, t->nsym);
    CHECK(wrong_guide == 0, "guide wrong for %ld entries (nsym %u)", wrong_guide, t->nsym);
}

static void test_lookup(uint64_t *rng)
{
    /* Alphabets below, at and above FREQ_GUIDE_SIZE. */
    static const uint32_t sizes[] = { 1, 2, 5, 255, FREQ_GUIDE_SIZE, FREQ_GUIDE_SIZE + 1,
                                      1000, 4096, M / 2 + 7 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        table_box *b = random_table(rng, sizes[i]);
        check_lookup(&b->t);
        free(b);
    }
    table_box *b = skewed_table(M, M / 3);
    check_lookup(&b->t);
    free(b);
    b = skewed_table(3000, 2999);
    check_lookup(&b->t);
    free(b);
}

int main(void)
{
    uint64_t rng = 0x1DF21Bu;
    test_empty();
    test_single_symbol();
    test_random_tables(&rng);
    test_skewed_tables(&rng);
    test_raw_bits(&rng);
    test_mixed_tables(&rng);
    test_capacity_and_reset(&rng);
    test_bad_symbols();
    test_decoder_init_states();
    test_garbage(&rng);
    test_validate(&rng);
    test_from_counts(&rng);
    test_lookup(&rng);
    return test_report("rans");
}
