/* int_math.h — exact integer helpers shared by every layer.
 *
 * Owns: the rounding rules the file formats depend on.  C leaves the right
 * shift of a negative number implementation-defined, so every floor or
 * truncating shift goes through these; change one and old files stop
 * decoding.
 */
#ifndef IDFZIP_COMMON_INT_MATH_H
#define IDFZIP_COMMON_INT_MATH_H

#include <stdint.h>

/* floor(v / 2^s) for 0 <= s <= 62 and v > -2^62: adding 2^62 (a multiple of
 * 2^s) makes v non-negative, so a logical shift floors. */
static inline int64_t floor_shift(int64_t v, unsigned s)
{
    const uint64_t bias = (uint64_t)1 << 62;
    return (int64_t)(((uint64_t)v + bias) >> s) - (int64_t)(bias >> s);
}

/* v / 2^s rounded toward zero, for v > -2^63.  Without a branch: the
 * predictors' updates take the sign of a miss, which no branch predictor
 * guesses (a fifth of the decoder's time went on mispredicting it). */
static inline int64_t trunc_shift(int64_t v, unsigned s)
{
    const uint64_t negative = -(uint64_t)(v < 0); /* all ones or zero */
    const uint64_t magnitude = ((uint64_t)v ^ negative) - negative;
    return (int64_t)(((magnitude >> s) ^ negative) - negative);
}

static inline int32_t abs32(int32_t v) { return v < 0 ? -v : v; }

static inline int32_t median3(int32_t a, int32_t b, int32_t c)
{
    int32_t lo = a < b ? a : b, hi = a < b ? b : a;
    return c < lo ? lo : (c > hi ? hi : c);
}

/* Rounded a / b for b > 0 and |a| + b/2 < 2^63, halves away from zero,
 * symmetric for negative a; one division and no branch on a's sign. */
static inline int64_t div_round(int64_t a, int64_t b)
{
    const uint64_t negative = -(uint64_t)(a < 0);
    const uint64_t magnitude = ((uint64_t)a ^ negative) - negative;
    const uint64_t q = (magnitude + (uint64_t)b / 2) / (uint64_t)b;
    return (int64_t)((q ^ negative) - negative);
}

/* v clamped to -limit .. limit. */
static inline int64_t clamp_abs(int64_t v, int64_t limit)
{
    return v > limit ? limit : (v < -limit ? -limit : v);
}

/* v clamped to lo .. hi. */
static inline int64_t clamp_range(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

#endif
