/* test_dl.c — discretized-logistic tables: validity, accuracy against the
 * exact float distribution (floats on the test side only), round trips
 * including escapes, and the integer CDF against libm. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../rans/dl_table.h"
#include "test_util.h"

static double scale_value(uint32_t i) { return 0.1 * pow(5120.0, i / 63.0); }

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static double dl_prob(int32_t v, double mu, double s)
{
    double hi = sigmoid((v + 0.5 - mu) / s), lo = sigmoid((v - 0.5 - mu) / s);
    /* In the far tails use the complementary form to keep precision. */
    if (v > mu)
        hi = 1.0 - sigmoid(-(v + 0.5 - mu) / s), lo = 1.0 - sigmoid(-(v - 0.5 - mu) / s);
    return hi - lo;
}

static int32_t sample_dl(uint64_t *rng, double mu, double s)
{
    double u = (test_rand(rng) >> 11) * (1.0 / 9007199254740992.0);
    if (u <= 0.0)
        u = 1e-17;
    return (int32_t)floor(mu + s * log(u / (1.0 - u)) + 0.5);
}

static void test_tables_valid(const dl_tables *t)
{
    int bad = 0;
    uint32_t max_nsym = 0;
    for (uint32_t s = 0; s < DL_NUM_SCALES; s++)
        for (uint32_t f = 0; f < DL_MEAN_FRACS; f++) {
            const freq_table *ft = dl_table_get(t, s, f);
            bad += freq_table_validate(ft) != 0;
            max_nsym = ft->nsym > max_nsym ? ft->nsym : max_nsym;
        }
    CHECK(bad == 0, "%d invalid tables", bad);
    CHECK(max_nsym <= 600, "largest table has %u symbols", max_nsym);
}

static void test_cdf_accuracy(void)
{
    double worst = 0;
    for (int64_t x32 = -32 * 40; x32 <= 32 * 40; x32 += 3) {
        for (uint32_t s = 0; s < DL_NUM_SCALES; s += 7) {
            double exact = sigmoid(x32 / 32.0 / scale_value(s));
            double got = (double)dl_logistic_cdf_q32(x32, DL_SCALE_INV_Q20[s]) / 4294967296.0;
            double err = fabs(got - exact);
            worst = err > worst ? err : worst;
        }
    }
    CHECK(worst < 2e-5, "integer CDF off by %g", worst);
}

/* Bits the coder spends on v: -log2 of its frequency plus raw bits. */
static double coded_bits(const dl_tables *t, int32_t v, int32_t mean16, uint32_t s)
{
    rans_encoder enc;
    rans_encoder_init(&enc);
    dl_encode(t, &enc, v, mean16, s);
    double bits = 0;
    for (size_t i = 0; i < enc.count; i++)
        bits -= log2(enc.symbols[i].freq / (double)RANS_PROB_SCALE);
    rans_encoder_free(&enc);
    return bits;
}

/* Coded cost of samples of DL(mu, s) within 1% of their exact -log2 P. */
static void test_cost_overhead(const dl_tables *t)
{
    uint64_t rng = 7;
    double worst = 0;
    uint32_t worst_scale = 0;
    for (uint32_t s = 0; s < DL_NUM_SCALES; s++) {
        for (int32_t frac = 0; frac < 16; frac += 5) {
            int32_t mean16 = 16 * 100 + frac;
            double mu = mean16 / 16.0, exact = 0, coded = 0;
            for (int k = 0; k < 4000; k++) {
                int32_t v = sample_dl(&rng, mu, scale_value(s));
                exact -= log2(dl_prob(v, mu, scale_value(s)));
                coded += coded_bits(t, v, mean16, s);
            }
            double excess = (coded - exact) / exact;
            if (excess > worst)
                worst = excess, worst_scale = s;
        }
    }
    printf("dl: worst coded/exact excess %.3f%% (scale index %u)\n", 100 * worst, worst_scale);
    CHECK(worst < 0.01, "coded cost %.3f%% above exact at scale %u", 100 * worst, worst_scale);
}

/* Real rANS bytes match the table cost, escapes and extremes round-trip. */
static void test_round_trip(const dl_tables *t)
{
    enum { N = 200000 };
    int32_t *val = malloc(N * sizeof *val), *mean = malloc(N * sizeof *mean);
    uint32_t *scale = malloc(N * sizeof *scale);
    uint64_t rng = 11;
    double ideal = 0;
    rans_encoder enc;
    rans_encoder_init(&enc);
    for (int i = 0; i < N; i++) {
        scale[i] = test_rand_below(&rng, DL_NUM_SCALES);
        mean[i] = (int32_t)test_rand_below(&rng, 1u << 21) - (1 << 20);
        val[i] = sample_dl(&rng, mean[i] / 16.0, scale_value(scale[i]));
        if (i % 97 == 0) /* far outside any window: the escape path */
            val[i] = (int32_t)test_rand_below(&rng, 2u * DL_VALUE_LIMIT + 1) - DL_VALUE_LIMIT;
        if (val[i] > DL_VALUE_LIMIT || val[i] < -DL_VALUE_LIMIT)
            val[i] = 0;
        ideal += coded_bits(t, val[i], mean[i], scale[i]);
        dl_encode(t, &enc, val[i], mean[i], scale[i]);
    }
    size_t cap = rans_encoder_bound(&enc);
    uint8_t *buf = malloc(cap);
    size_t n = rans_encoder_finish(&enc, buf, cap);
    CHECK(n > 0 && n * 8.0 < ideal * 1.001 + 256, "coded %zu bytes, ideal %.0f bits", n, ideal);
    rans_decoder dec;
    CHECK(rans_decoder_init(&dec, buf, n) == 0, "decoder init");
    int wrong = 0;
    for (int i = 0; i < N; i++)
        wrong += dl_decode(t, &dec, mean[i], scale[i]) != val[i];
    CHECK(wrong == 0, "%d values decoded wrong", wrong);
    CHECK(rans_decoder_finish(&dec) == 0, "stream did not end cleanly");
    rans_encoder_free(&enc);
    free(buf);
    free(val);
    free(mean);
    free(scale);
}

/* One random mixture of 1..3 DLs for values in 0..maxval (means may lie
 * outside), and a value drawn from it or, now and then, anywhere. */
static int32_t random_mixture(uint64_t *rng, int32_t maxval, int32_t *mean, int32_t *scale,
                              uint16_t *weight, uint32_t *k, double *ideal_bits)
{
    *k = 1 + test_rand_below(rng, 3);
    uint32_t left = 1u << 15;
    double p = 0;
    for (uint32_t j = 0; j < *k; j++) {
        mean[j] = (int32_t)test_rand_below(rng, 16u * (uint32_t)maxval + 64) - 32;
        scale[j] = (int32_t)test_rand_below(rng, maxval > 255 ? 40 : 64); /* windows <= ~600 */
        weight[j] = (uint16_t)(j + 1 == *k ? left : 1 + test_rand_below(rng, left - (*k - j - 1) - 1));
        left -= weight[j];
    }
    uint32_t pick = test_rand_below(rng, *k);
    int32_t v = sample_dl(rng, mean[pick] / 16.0, scale_value((uint32_t)scale[pick]));
    if (test_rand_below(rng, 50) == 0)
        v = (int32_t)test_rand_below(rng, (uint32_t)maxval + 1);
    v = v < 0 ? 0 : (v > maxval ? maxval : v);
    for (uint32_t j = 0; j < *k; j++)
        p += weight[j] / 32768.0 * dl_prob(v, mean[j] / 16.0, scale_value((uint32_t)scale[j]));
    *ideal_bits += -log2(p > 1e-30 ? p : 1e-30);
    return v;
}

/* dl_mixture_encode/decode: exact round trips of values whose mixture
 * changes every time, for 1-bit to 12-bit ranges, at about the ideal size
 * (while windows stay small: every value in one keeps 1/2^15 of the mass,
 * so a window of all 4096 12-bit values would cost 0.19 bit a value). */
static void test_mixture_round_trip(int32_t maxval)
{
    enum { N = 60000 };
    int32_t *val = malloc(N * sizeof *val), *mean = malloc(3 * N * sizeof *mean);
    int32_t *scale = malloc(3 * N * sizeof *scale);
    uint16_t *weight = malloc(3 * N * sizeof *weight);
    uint32_t *k = malloc(N * sizeof *k);
    uint64_t rng = 23 + (uint64_t)maxval;
    double ideal = 0;
    rans_encoder enc;
    rans_encoder_init(&enc);
    for (int i = 0; i < N; i++) {
        val[i] = random_mixture(&rng, maxval, mean + 3 * i, scale + 3 * i, weight + 3 * i, &k[i], &ideal);
        dl_mixture_encode(&enc, val[i], mean + 3 * i, scale + 3 * i, weight + 3 * i, k[i], maxval);
    }
    size_t cap = rans_encoder_bound(&enc);
    uint8_t *buf = malloc(cap);
    size_t n = rans_encoder_finish(&enc, buf, cap);
    CHECK(n > 0 && n * 8.0 < ideal * 1.01 + 512, "maxval %d: coded %zu bytes, ideal %.0f bits", maxval, n, ideal);
    rans_decoder dec;
    CHECK(rans_decoder_init(&dec, buf, n) == 0, "decoder init");
    int wrong = 0;
    for (int i = 0; i < N; i++)
        wrong += dl_mixture_decode(&dec, mean + 3 * i, scale + 3 * i, weight + 3 * i, k[i], maxval) != val[i];
    CHECK(wrong == 0, "maxval %d: %d values decoded wrong", maxval, wrong);
    CHECK(rans_decoder_finish(&dec) == 0, "maxval %d: stream did not end cleanly", maxval);
    rans_encoder_free(&enc);
    free(buf);
    free(val);
    free(mean);
    free(scale);
    free(weight);
    free(k);
}

/* dl_cost16, the encoder's integer cost, is within 1/8 bit of what
 * dl_encode spends, escapes and raw low bits included. */
static void test_cost16(const dl_tables *t)
{
    uint64_t rng = 19;
    double worst = 0, sum = 0;
    for (int i = 0; i < 20000; i++) {
        uint32_t s = test_rand_below(&rng, DL_NUM_SCALES);
        int32_t mean16 = (int32_t)test_rand_below(&rng, 1u << 16) - (1 << 15);
        int32_t v = sample_dl(&rng, mean16 / 16.0, scale_value(s));
        if (i % 50 == 0)
            v = (int32_t)test_rand_below(&rng, 1u << 20) - (1 << 19);
        double err = dl_cost16(t, v, mean16, s) / 16.0 - coded_bits(t, v, mean16, s);
        sum += err;
        worst = fabs(err) > worst ? fabs(err) : worst;
    }
    printf("dl: cost16 worst error %.3f bits, mean %.4f\n", worst, sum / 20000);
    CHECK(worst <= 0.125, "dl_cost16 off by %.3f bits", worst);
    CHECK(fabs(sum / 20000) < 0.05, "dl_cost16 biased by %.4f bits", sum / 20000);
}

static void test_negative_means(const dl_tables *t)
{
    static const int32_t means[] = {-17, -16, -15, -1, 0, 1, 15, 16, 17};
    int wrong = 0;
    for (size_t m = 0; m < sizeof means / sizeof *means; m++)
        for (int32_t v = -40; v <= 40; v++)
            for (uint32_t s = 0; s < DL_NUM_SCALES; s += 5) {
                rans_encoder enc;
                rans_encoder_init(&enc);
                dl_encode(t, &enc, v, means[m], s);
                uint8_t buf[64];
                size_t n = rans_encoder_finish(&enc, buf, sizeof buf);
                rans_decoder dec;
                wrong += n == 0 || rans_decoder_init(&dec, buf, n) != 0 ||
                         dl_decode(t, &dec, means[m], s) != v || rans_decoder_finish(&dec) != 0;
                rans_encoder_free(&enc);
            }
    CHECK(wrong == 0, "%d single-symbol round trips failed", wrong);
}

static void test_scale_for_mad(void)
{
    CHECK(dl_scale_for_mad(0) == 0, "mad 0");
    CHECK(dl_scale_for_mad(UINT64_MAX) == DL_NUM_SCALES - 1, "huge mad");
    /* E|X| = 2 ln2 s: a logistic of scale 10 has MAD 13.86. */
    uint32_t s = dl_scale_for_mad((uint64_t)(16 * 13.86));
    CHECK(fabs(scale_value(s) / 10.0 - 1.0) < 0.08, "scale for MAD 13.86 is %g", scale_value(s));
}

/* dl_cost16 of value v at mean m depends on 16 v - m alone: the encoder's
 * scale search remembers costs by that residual (predictor_search.c). */
static void test_cost16_shift(const dl_tables *t)
{
    uint64_t rng = 99;
    long differ = 0;
    for (int n = 0; n < 200000; n++) {
        const int32_t v = (int32_t)test_rand_below(&rng, 70000) - 5000;
        const int32_t m = (int32_t)test_rand_below(&rng, 16 * 70000) - 16 * 5000;
        const uint32_t s = test_rand_below(&rng, DL_NUM_SCALES);
        differ += dl_cost16(t, v, m, s) != dl_cost16(t, 0, m - 16 * v, s);
    }
    CHECK(differ == 0, "dl_cost16 depends on more than 16 v - mean: %ld cases", differ);
}

/* The process's shared set builds each table on first use, and a guide
 * only when a decoder asks: values coded by the shared set (cum[] only)
 * decode (the guides built then), and every table, guide included, equals
 * the one of a set built whole. */
static void test_shared_tables(const dl_tables *whole)
{
    const dl_tables *shared = dl_tables_shared();
    enum { N = 20000 };
    static int32_t val[N], mean[N];
    static uint32_t scale[N];
    uint64_t rng = 5;
    rans_encoder enc;
    rans_encoder_init(&enc);
    for (int i = 0; i < N; i++) {
        scale[i] = test_rand_below(&rng, DL_NUM_SCALES);
        mean[i] = (int32_t)test_rand_below(&rng, 1u << 16) - (1 << 15);
        val[i] = sample_dl(&rng, mean[i] / 16.0, scale_value(scale[i]));
        dl_encode(shared, &enc, val[i], mean[i], scale[i]);
    }
    size_t cap = rans_encoder_bound(&enc);
    uint8_t *buf = malloc(cap);
    size_t n = buf ? rans_encoder_finish(&enc, buf, cap) : 0;
    rans_decoder dec;
    CHECK(n > 0 && rans_decoder_init(&dec, buf, n) == 0, "shared: coded");
    int wrong = 0;
    for (int i = 0; n > 0 && i < N; i++)
        wrong += dl_decode(shared, &dec, mean[i], scale[i]) != val[i];
    CHECK(wrong == 0, "shared: %d values decoded wrong", wrong);
    long differ = 0;
    for (uint32_t s = 0; s < DL_NUM_SCALES; s++)
        for (uint32_t f = 0; f < DL_MEAN_FRACS; f++) {
            const freq_table *a = dl_table_get(shared, s, f), *b = dl_table_get(whole, s, f);
            differ += a->nsym != b->nsym ||
                      memcmp(a->cum, b->cum, (b->nsym + 1) * sizeof *b->cum) != 0 ||
                      memcmp(a->guide, b->guide, FREQ_GUIDE_SIZE * sizeof *b->guide) != 0;
        }
    CHECK(differ == 0, "shared: %ld tables differ from a set built whole", differ);
    rans_encoder_free(&enc);
    free(buf);
}

int main(void)
{
    dl_tables *t = dl_tables_create();
    CHECK(t != NULL, "tables");
    if (!t)
        return test_report("dl");
    test_shared_tables(t);
    test_tables_valid(t);
    test_cdf_accuracy();
    test_cost_overhead(t);
    test_round_trip(t);
    test_cost16(t);
    test_cost16_shift(t);
    test_negative_means(t);
    test_scale_for_mad();
    test_mixture_round_trip(1);
    test_mixture_round_trip(255);
    test_mixture_round_trip(4095);
    dl_tables_destroy(t);
    return test_report("dl");
}
