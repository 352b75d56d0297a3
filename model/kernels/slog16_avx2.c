/* slog16_avx2.c — slog16 of eight int32 values at once with AVX2 (see
 * slog16_avx2.h).
 *
 * For u = |v| + 1 (below 2^27 + 1, so u << 4 fits 31 bits), the top bit t
 * is found by nibble lookups (AVX2 has no lzcnt; top_bit_8), then
 * 16 t + (u << 4 >> t) - 16 as in the reference, and the sign put back as
 * (r ^ s) - s.  Integers only, exact for every lane.
 */
#include "slog16_avx2.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* The index of the top bit of each lane (u >= 1): per byte, the top bit's
 * place plus one from two nibble lookups (vpshufb), 0 for a zero byte;
 * plus the byte's offset in its lane where not zero; then the largest of
 * the lane's four bytes.  Fifteen instructions where a five-step binary
 * search with per-lane shifts took twenty-five. */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) __m256i top_bit_8(__m256i u)
{
    /* place + 1 of the top bit of a nibble; for the high nibble, plus 4 */
    const __m256i low_place = _mm256_setr_epi8(0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4,
                                               0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4);
    const __m256i high_place = _mm256_setr_epi8(0, 5, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 8,
                                                0, 5, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 8);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i offset = _mm256_set1_epi32(0x18100800); /* bytes 0, 8, 16, 24 */
    const __m256i lo = _mm256_shuffle_epi8(low_place, _mm256_and_si256(u, nibble));
    const __m256i hi = _mm256_shuffle_epi8(high_place, _mm256_and_si256(_mm256_srli_epi16(u, 4), nibble));
    __m256i place = _mm256_max_epu8(lo, hi); /* 0 .. 8 */
    const __m256i zero_byte = _mm256_cmpeq_epi8(place, _mm256_setzero_si256());
    place = _mm256_add_epi8(place, _mm256_andnot_si256(zero_byte, offset)); /* 0 .. 32 */
    place = _mm256_max_epu8(place, _mm256_srli_epi32(place, 16));
    place = _mm256_max_epu8(place, _mm256_srli_epi32(place, 8));
    return _mm256_sub_epi32(_mm256_and_si256(place, _mm256_set1_epi32(0xFF)), _mm256_set1_epi32(1));
}

__attribute__((target("avx2")))
static inline __attribute__((always_inline)) __m256i slog16_8(__m256i v)
{
    const __m256i zero = _mm256_setzero_si256();
    const __m256i negative = _mm256_cmpgt_epi32(zero, v); /* all ones or zero */
    const __m256i u = _mm256_add_epi32(_mm256_abs_epi32(v), _mm256_set1_epi32(1));
    const __m256i top = top_bit_8(u);
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
