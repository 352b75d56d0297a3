/* test_predictor.c — the predictor's exact tables and kernels
 * (model/predictor.h): every entry of the blend's weight table against the
 * division it stands for, as baseline-v2 and v3 files were written with
 * that division; and the AR prior's AVX2 feature compression
 * (slog16_avx2_features) against the definition in FORMAT.md, on every value it
 * serves near zero and around each power of two, and where it must
 * decline; and the NLMS kernels (lms_avx2) against predictor.c's loops on
 * random states up to the bounds the predictor states. */
#include <stdint.h>

#include "../common/int_math.h"

#include "../model/cpu.h"
#include "../model/kernels/lms_avx2.h"
#include "../model/kernels/slog16_avx2.h"
#include "../model/predictor.h"
#include "test_util.h"

/* FORMAT.md: log16(v) = 16 floor(log2(v + 1)) + the four bits below the
 * top bit of v + 1, as a fraction; slog16 keeps the sign. */
static int32_t ref_log16(uint64_t v)
{
    uint64_t u = v + 1;
    int32_t top = 0;
    while (u >> (top + 1))
        top++;
    return 16 * top + (int32_t)((u << 4) >> top) - 16;
}

static int32_t ref_slog16(int32_t v)
{
    return v < 0 ? -ref_log16((uint64_t)(-(int64_t)v)) : ref_log16((uint64_t)v);
}

/* Checks the eight values at v (in the kernel's range) against the
 * reference; counts mismatches. */
/* slog16_avx2_features with v as its last eight arguments (the first
 * sixteen 0), out the kernel's answer; 0 where it declines. */
static int features_of(const int32_t v[8], int32_t out[24])
{
    const int32_t fixed[8] = {0};
    const uint32_t near[8] = {0};
    return slog16_avx2_features(fixed, 0, 0, near, v, out);
}

static long check_slog16_block(const int32_t v[8])
{
    int32_t out[24];
    if (!features_of(v, out))
        return 8;
    long bad = 0;
    for (int k = 0; k < 8; k++)
        bad += out[16 + k] != ref_slog16(v[k]) || out[k] != 0 || out[8 + k] != 0;
    return bad;
}

static void test_slog16_avx2(void)
{
    if (!nn_kernel_supported(NN_KERNEL_AVX2)) {
        printf("predictor: no AVX2 here, slog16_avx2_features not checked\n");
        return;
    }
    long bad = 0;
    int32_t v[8];
    for (int32_t base = -70000; base < 70000; base += 8) { /* every value near zero */
        for (int k = 0; k < 8; k++)
            v[k] = base + k;
        bad += check_slog16_block(v);
    }
    for (int b = 1; b < 27; b++) /* around every power of two, both signs */
        for (int d = -9; d <= 9; d++) {
            for (int k = 0; k < 8; k++)
                v[k] = ((k & 1) ? -1 : 1) * ((1 << b) + d + (k / 2));
            if (v[0] < SLOG16_AVX2_LIMIT && -v[1] < SLOG16_AVX2_LIMIT && v[6] < SLOG16_AVX2_LIMIT)
                bad += check_slog16_block(v);
        }
    for (int k = 0; k < 8; k++) /* the edge of the range */
        v[k] = (k & 1 ? -1 : 1) * (SLOG16_AVX2_LIMIT - 1 - k);
    bad += check_slog16_block(v);
    uint64_t any = 16;
    for (int n = 0; n < 100000; n++) { /* anywhere in range, every byte of a lane in play */
        for (int k = 0; k < 8; k++) {
            const int32_t m = (int32_t)test_rand_below(&any, SLOG16_AVX2_LIMIT) >>
                              test_rand_below(&any, 27);
            v[k] = test_rand_below(&any, 2) ? -m : m;
        }
        bad += check_slog16_block(v);
    }
    CHECK(bad == 0, "slog16_avx2_features: %ld values differ from the reference", bad);

    int32_t out[24] = {0};
    const int32_t beyond[][8] = {{0, 0, 0, SLOG16_AVX2_LIMIT, 0, 0, 0, 0},
                                 {0, -SLOG16_AVX2_LIMIT, 0, 0, 0, 0, 0, 0},
                                 {INT32_MIN, 0, 0, 0, 0, 0, 0, 0},
                                 {0, 0, 0, 0, 0, 0, 0, INT32_MAX}};
    for (size_t j = 0; j < sizeof beyond / sizeof beyond[0]; j++)
        CHECK(!features_of(beyond[j], out) && out[16] == 0,
              "slog16_avx2_features serves out-of-range case %zu", j);

    /* The features' form: members (D x16) with an offset, floored by 4,
     * minus the mean; nearby errors unsigned; the rest as they are. */
    uint64_t rng = 31;
    long wrong = 0, declined = 0;
    for (int trial = 0; trial < 20000; trial++) {
        int32_t fixed[8], rest[8], got[24];
        uint32_t near[8];
        const int32_t offset = (int32_t)(test_rand(&rng) % 4096) * 64 + 2;
        const int32_t mean16 = (int32_t)(test_rand(&rng) % 4081);
        const int big = trial % 50 == 0;
        for (int k = 0; k < 8; k++) {
            fixed[k] = (int32_t)(test_rand(&rng) % 200000) - 100000;
            near[k] = big && k == 3 ? 0x80000000u + (uint32_t)k : (uint32_t)(test_rand(&rng) % (1u << 26));
            rest[k] = (int32_t)(test_rand(&rng) % 20000) - 10000;
        }
        if (!slog16_avx2_features(fixed, offset, mean16, near, rest, got)) {
            declined++;
            continue;
        }
        for (int k = 0; k < 8; k++) {
            const int64_t a = fixed[k] + (int64_t)offset;
            const int32_t arg = (int32_t)((a - ((a % 4 + 4) % 4)) / 4) - mean16;
            wrong += got[k] != ref_slog16(arg);
            wrong += got[8 + k] != ref_slog16((int32_t)near[k]);
            wrong += got[16 + k] != ref_slog16(rest[k]);
        }
    }
    CHECK(wrong == 0, "slog16_avx2_features: %ld values differ from the reference", wrong);
    CHECK(declined == 400, "slog16_avx2_features declined %ld of the 400 with a large error", declined);
}

/* ---- the NLMS kernels ---------------------------------------------------- */

static int64_t rand_between(uint64_t *rng, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(test_rand(rng) % (uint64_t)(hi - lo + 1));
}

/* A random value of magnitude up to 2^bits, often at the extremes. */
static int64_t rand_bounded(uint64_t *rng, int bits)
{
    const int64_t max = ((int64_t)1 << bits) - 1;
    switch (test_rand(rng) % 4) {
    case 0: return test_rand(rng) % 2 ? max : -max;
    case 1: return rand_between(rng, -64, 64);
    default: return rand_between(rng, -max, max);
    }
}

static void test_lms_avx2(void)
{
    if (!nn_kernel_supported(NN_KERNEL_AVX2)) {
        printf("predictor: no AVX2 here, lms_avx2 not checked\n");
        return;
    }
    enum { TAPS = 10, LIMIT = 1 << 17 };
    uint64_t rng = 2026120701;
    long bad = 0;
    for (int trial = 0; trial < 100000; trial++) {
        int32_t w[2][LMS_KERNEL_TAPS] = {{0}}, want[2][LMS_KERNEL_TAPS] = {{0}};
        int32_t in[LMS_KERNEL_TAPS] = {0};
        const int in_bits = trial % 2 ? 13 : 19; /* 8-bit and 16-bit samples */
        for (int i = 0; i < TAPS; i++) {
            in[i] = (int32_t)rand_bounded(&rng, in_bits);
            for (int k = 0; k < 2; k++)
                w[k][i] = want[k][i] = (int32_t)rand_bounded(&rng, 17);
        }
        int64_t dot[2], ref_dot[2] = {0, 0}, ref_norm = 0;
        lms_dot2_avx2(w, in, dot);
        for (int i = 0; i < TAPS; i++) {
            ref_dot[0] += (int64_t)w[0][i] * in[i];
            ref_dot[1] += (int64_t)w[1][i] * in[i];
            ref_norm += (int64_t)in[i] * in[i];
        }
        bad += dot[0] != ref_dot[0] || dot[1] != ref_dot[1];
        bad += lms_norm_avx2(in) != ref_norm;
        const int64_t q[2] = {rand_bounded(&rng, 40), rand_bounded(&rng, trial % 3 ? 20 : 40)};
        lms_step2_avx2(w, in, q, LIMIT);
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < LMS_KERNEL_TAPS; i++) {
                int64_t v = i < TAPS ? want[k][i] + trunc_shift(q[k] * in[i], 12) : 0;
                v = v > LIMIT ? LIMIT : (v < -LIMIT ? -LIMIT : v);
                bad += w[k][i] != v;
            }
    }
    CHECK(bad == 0, "lms_avx2: %ld results differ from the reference", bad);
}

int main(void)
{
    const uint32_t *w = pred_blend_weight_table;
    long wrong = 0;
    for (uint64_t e = 2; e < (1u << 16); e++)
        wrong += w[e] != ((uint64_t)1 << 32) / (e * e);
    CHECK(wrong == 0, "%ld blend weights differ from 2^32 / e^2", wrong);
    CHECK(w[0] == 0 && w[1] == 0, "entries 0 and 1 are 0 (the branch-free lookup reads them)");
    test_slog16_avx2();
    test_lms_avx2();
    return test_report("predictor");
}
