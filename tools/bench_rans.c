/* bench_rans.c — throughput of the rANS coder through its public API.
 *
 * Codes N symbols drawn from a fixed 256-symbol table with a geometric
 * distribution (ratio 0.9, about 4.7 bits of entropy), checks the round
 * trip, and prints encode and decode speed in M symbols/s together with the
 * coded bits per symbol against the table's entropy.  Not a test.
 *
 * Usage: bench_rans [million symbols, default 64]
 */
#define _POSIX_C_SOURCE 199309L
#include "../rans/freq_table.h"
#include "../rans/rans.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSYM 256

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Counts proportional to 0.9^s, in integers so the table is the same on
 * every machine; the tail rounds to 0 and gets the minimum frequency. */
static void geometric_counts(uint32_t *counts)
{
    uint64_t c = 1u << 30;
    for (int s = 0; s < NSYM; s++) {
        counts[s] = (uint32_t)c;
        c = c * 9 / 10;
    }
}

static double table_entropy(const freq_table *t)
{
    double h = 0;
    for (uint32_t s = 0; s < t->nsym; s++) {
        double p = (double)(t->cum[s + 1] - t->cum[s]) / RANS_PROB_SCALE;
        h -= p * log2(p);
    }
    return h;
}

/* Bits per symbol an ideal coder spends on this very sample with this
 * table: the mean of -log2(freq / M). */
static double sample_ideal(const freq_table *t, const uint8_t *syms, size_t n)
{
    uint64_t hist[NSYM] = { 0 };
    for (size_t i = 0; i < n; i++)
        hist[syms[i]]++;
    double bits = 0;
    for (uint32_t s = 0; s < NSYM; s++) {
        double freq = (double)(t->cum[s + 1] - t->cum[s]);
        bits += (double)hist[s] * log2(RANS_PROB_SCALE / freq);
    }
    return bits / (double)n;
}

/* Symbols from the table's distribution: a uniform slot, looked up. */
static void draw_symbols(const freq_table *t, uint8_t *syms, size_t n)
{
    uint64_t x = 0x2545F4914F6CDD1Dull; /* xorshift64 */
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        syms[i] = (uint8_t)freq_table_find(t, (uint32_t)(x >> 49));
    }
}

typedef struct timing {
    double record, finish, decode; /* seconds, best of the repetitions */
} timing;

static double best(double a, double b)
{
    return a < b ? a : b;
}

/* One encode and decode of syms[0..n); keeps the coded stream in *coded.
 * Returns 0 when the round trip is exact. */
static int code_once(const freq_table *t, rans_encoder *enc, const uint8_t *syms,
                     uint8_t *decoded, size_t n, uint8_t **coded, size_t *size,
                     timing *best_time)
{
    rans_encoder_reset(enc);
    double t0 = now_seconds();
    for (size_t i = 0; i < n; i++)
        freq_table_encode(t, enc, syms[i]);
    double t1 = now_seconds();
    size_t capacity = rans_encoder_bound(enc);
    free(*coded);
    *coded = malloc(capacity);
    if (!*coded)
        return -1;
    memset(*coded, 0, capacity); /* fault the pages in outside the timing */
    double t2 = now_seconds();
    *size = rans_encoder_finish(enc, *coded, capacity);
    double t3 = now_seconds();
    if (*size == 0)
        return -1;

    rans_decoder dec;
    double t4 = now_seconds();
    if (rans_decoder_init(&dec, *coded, *size) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        decoded[i] = (uint8_t)freq_table_decode(t, &dec);
    int finish = rans_decoder_finish(&dec);
    double t5 = now_seconds();

    best_time->record = best(best_time->record, t1 - t0);
    best_time->finish = best(best_time->finish, t3 - t2);
    best_time->decode = best(best_time->decode, t5 - t4);
    return finish == 0 && memcmp(syms, decoded, n) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    enum { REPEATS = 3 };
    size_t n = (size_t)(argc > 1 ? atol(argv[1]) : 64) * 1000000;
    uint32_t counts[NSYM];
    uint16_t cum[NSYM + 1], guide[FREQ_GUIDE_SIZE];
    freq_table t = { 0, cum, guide };
    geometric_counts(counts);
    if (n == 0 || freq_table_from_counts(&t, counts, NSYM) != 0)
        return 1;

    uint8_t *syms = malloc(n), *decoded = malloc(n), *coded = NULL;
    if (!syms || !decoded)
        return 1;
    draw_symbols(&t, syms, n);
    memset(decoded, 0, n);
    rans_encoder enc;
    rans_encoder_init(&enc);

    timing time = { 1e30, 1e30, 1e30 };
    size_t size = 0;
    int ok = 1;
    for (int r = 0; r < REPEATS && ok; r++)
        ok = code_once(&t, &enc, syms, decoded, n, &coded, &size, &time) == 0;

    double msym = (double)n / 1e6;
    double bits = 8.0 * (double)size / (double)n, entropy = table_entropy(&t);
    printf("symbols       %zu, 256-symbol geometric table, best of %d\n", n, REPEATS);
    printf("encode        %.1f M symbols/s (record %.1f, finish %.1f)\n",
           msym / (time.record + time.finish), msym / time.record, msym / time.finish);
    printf("decode        %.1f M symbols/s\n", msym / time.decode);
    double ideal = sample_ideal(&t, syms, n);
    printf("bits/symbol   %.5f (table entropy %.5f; ideal for this sample %.5f, "
           "%+.5f%%)\n", bits, entropy, ideal, 100.0 * (bits / ideal - 1));
    printf("round trip    %s\n", ok ? "ok" : "FAILED");
    rans_encoder_free(&enc);
    free(coded);
    free(decoded);
    free(syms);
    return ok ? 0 : 1;
}
