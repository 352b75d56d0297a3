/* lms_avx2.c — the NLMS predictors' dot products, norm and update with
 * AVX2 (see lms_avx2.h).
 *
 * Every int32 is sign-extended into a 64-bit lane and multiplied there
 * (vpmuldq), so products and sums are the reference's int64 values.  The
 * update's q (up to 2^40) does not fit vpmuldq's 32-bit operand, so it is
 * split as q = qh 2^20 + ql with 0 <= ql < 2^20: q in = (qh in) 2^20 + ql in,
 * each product exact, the sum below 2^61.  Truncation toward zero and the
 * clamp are the reference's, lane by lane.
 */
#include "lms_avx2.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define GROUPS (LMS_KERNEL_TAPS / 4)

/* Taps 4g .. 4g+3 of a, sign-extended to int64. */
__attribute__((target("avx2")))
static inline __m256i load4(const int32_t *a, int g)
{
    return _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)(a + 4 * g)));
}

__attribute__((target("avx2")))
static inline int64_t sum4(__m256i v)
{
    const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return _mm_cvtsi128_si64(_mm_add_epi64(s, _mm_unpackhi_epi64(s, s)));
}

__attribute__((target("avx2")))
void lms_dot2_avx2(const int32_t w[2][LMS_KERNEL_TAPS], const int32_t in[LMS_KERNEL_TAPS],
                   int64_t dot[2])
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    for (int g = 0; g < GROUPS; g++) {
        const __m256i x = load4(in, g);
        a0 = _mm256_add_epi64(a0, _mm256_mul_epi32(load4(w[0], g), x));
        a1 = _mm256_add_epi64(a1, _mm256_mul_epi32(load4(w[1], g), x));
    }
    dot[0] = sum4(a0);
    dot[1] = sum4(a1);
}

__attribute__((target("avx2")))
int64_t lms_norm_avx2(const int32_t in[LMS_KERNEL_TAPS])
{
    __m256i a = _mm256_setzero_si256();
    for (int g = 0; g < GROUPS; g++) {
        const __m256i x = load4(in, g);
        a = _mm256_add_epi64(a, _mm256_mul_epi32(x, x));
    }
    return sum4(a);
}

/* trunc(v / 2^12) in each int64 lane: the magnitude shifted, the sign put back. */
__attribute__((target("avx2")))
static inline __m256i trunc_shift12(__m256i v)
{
    const __m256i negative = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
    const __m256i magnitude = _mm256_sub_epi64(_mm256_xor_si256(v, negative), negative);
    const __m256i r = _mm256_srli_epi64(magnitude, 12);
    return _mm256_sub_epi64(_mm256_xor_si256(r, negative), negative);
}

/* qh = floor(q / 2^20) and ql = q - qh 2^20 in 0 .. 2^20 - 1, with the
 * bias trick of floor_shift (q > -2^62), each broadcast. */
__attribute__((target("avx2")))
static inline void split_q(int64_t q, __m256i *vqh, __m256i *vql)
{
    const uint64_t bias = (uint64_t)1 << 62;
    const int64_t qh = (int64_t)(((uint64_t)q + bias) >> 20) - (int64_t)(bias >> 20);
    *vqh = _mm256_set1_epi64x(qh);
    *vql = _mm256_set1_epi64x(q - qh * ((int64_t)1 << 20));
}

/* One set's four weights at w: clamp(w + trunc(q in / 2^12)), stored back. */
__attribute__((target("avx2")))
static inline void step4(int32_t *w, __m256i x, __m256i vqh, __m256i vql, __m256i lo, __m256i hi)
{
    const __m256i odd_to_low = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    const __m256i prod = _mm256_add_epi64(_mm256_slli_epi64(_mm256_mul_epi32(vqh, x), 20),
                                          _mm256_mul_epi32(vql, x));
    __m256i v = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)w)),
                                 trunc_shift12(prod));
    v = _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
    v = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
    /* the low halves of the four lanes are the clamped int32 weights */
    _mm_storeu_si128((__m128i *)w, _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, odd_to_low)));
}

/* Both sets in one pass over the inputs, each group of four read once. */
__attribute__((target("avx2")))
void lms_step2_avx2(int32_t w[2][LMS_KERNEL_TAPS], const int32_t in[LMS_KERNEL_TAPS],
                    const int64_t q[2], int32_t limit)
{
    __m256i qh0, ql0, qh1, ql1;
    split_q(q[0], &qh0, &ql0);
    split_q(q[1], &qh1, &ql1);
    const __m256i hi = _mm256_set1_epi64x(limit), lo = _mm256_set1_epi64x(-(int64_t)limit);
    for (int g = 0; g < GROUPS; g++) {
        const __m256i x = load4(in, g);
        step4(w[0] + 4 * g, x, qh0, ql0, lo, hi);
        step4(w[1] + 4 * g, x, qh1, ql1, lo, hi);
    }
}
#else
void lms_dot2_avx2(const int32_t w[2][LMS_KERNEL_TAPS], const int32_t in[LMS_KERNEL_TAPS],
                   int64_t dot[2])
{
    (void)w, (void)in, (void)dot; /* never called: nn_kernel_supported says no */
}

int64_t lms_norm_avx2(const int32_t in[LMS_KERNEL_TAPS])
{
    (void)in;
    return 0;
}

void lms_step2_avx2(int32_t w[2][LMS_KERNEL_TAPS], const int32_t in[LMS_KERNEL_TAPS],
                    const int64_t q[2], int32_t limit)
{
    (void)w, (void)in, (void)q, (void)limit;
}
#endif
