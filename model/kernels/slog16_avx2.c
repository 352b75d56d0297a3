/* slog16_avx2.c — slog16 of eight int32 values at once with AVX2 (see
 * slog16_avx2.h).
 *
 * For u = |v| + 1 (below 2^27 + 1, so u << 4 fits 31 bits), the top bit t
 * is found by a five-step binary search with per-lane shifts (AVX2 has no
 * lzcnt), then 16 t + (u << 4 >> t) - 16 as in the reference, and the sign
 * put back as (r ^ s) - s.  Integers only, exact for every lane.
 */
#include "slog16_avx2.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

__attribute__((target("avx2")))
static inline __attribute__((always_inline)) __m256i slog16_8(__m256i v)
{
    const __m256i zero = _mm256_setzero_si256();
    const __m256i negative = _mm256_cmpgt_epi32(zero, v); /* all ones or zero */
    const __m256i u = _mm256_add_epi32(_mm256_abs_epi32(v), _mm256_set1_epi32(1));
    __m256i top = zero;
    for (int step = 16; step > 0; step /= 2) {
        const __m256i at = _mm256_add_epi32(top, _mm256_set1_epi32(step));
        const __m256i none = _mm256_cmpeq_epi32(_mm256_srlv_epi32(u, at), zero);
        top = _mm256_add_epi32(top, _mm256_andnot_si256(none, _mm256_set1_epi32(step)));
    }
    const __m256i r = _mm256_sub_epi32(
        _mm256_add_epi32(_mm256_slli_epi32(top, 4), _mm256_srlv_epi32(_mm256_slli_epi32(u, 4), top)),
        _mm256_set1_epi32(16));
    return _mm256_sub_epi32(_mm256_xor_si256(r, negative), negative);
}

__attribute__((target("avx2")))
static __m256i beyond_limit(__m256i v)
{
    const __m256i a = _mm256_abs_epi32(v); /* |INT32_MIN| stays negative */
    return _mm256_or_si256(_mm256_cmpgt_epi32(a, _mm256_set1_epi32(SLOG16_AVX2_LIMIT - 1)),
                           _mm256_cmpgt_epi32(_mm256_setzero_si256(), a));
}

__attribute__((target("avx2")))
int slog16_avx2_features(const int32_t fixed[8], int32_t offset, int32_t mean16,
                         const uint32_t near[8], const int32_t rest[8], int32_t out[24])
{
    /* vpsrad is a floor division by 4 of each int32 */
    const __m256i a = _mm256_sub_epi32(
        _mm256_srai_epi32(_mm256_add_epi32(_mm256_loadu_si256((const __m256i *)fixed),
                                           _mm256_set1_epi32(offset)), 2),
        _mm256_set1_epi32(mean16));
    /* nearby errors of 2^31 and more read as INT32_MAX: beyond, like the rest */
    const __m256i b = _mm256_min_epu32(_mm256_loadu_si256((const __m256i *)near),
                                       _mm256_set1_epi32(INT32_MAX));
    const __m256i c = _mm256_loadu_si256((const __m256i *)rest);
    const __m256i beyond = _mm256_or_si256(beyond_limit(a), _mm256_or_si256(beyond_limit(b), beyond_limit(c)));
    if (!_mm256_testz_si256(beyond, beyond))
        return 0;
    _mm256_storeu_si256((__m256i *)out, slog16_8(a));
    _mm256_storeu_si256((__m256i *)(out + 8), slog16_8(b));
    _mm256_storeu_si256((__m256i *)(out + 16), slog16_8(c));
    return 1;
}
#else
int slog16_avx2_features(const int32_t fixed[8], int32_t offset, int32_t mean16,
                         const uint32_t near[8], const int32_t rest[8], int32_t out[24])
{
    (void)fixed, (void)offset, (void)mean16, (void)near, (void)rest, (void)out;
    return 0;
}

#endif
