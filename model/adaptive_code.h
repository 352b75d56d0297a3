/* adaptive_code.h — adaptive binary decisions and the codes built on them
 * (an Exp-Golomb code with an adaptive prefix, signed values by zigzag),
 * shared by the match stage (match.c) and the compact side information of
 * the predictor (predictor.c).  FORMAT.md defines them once, under
 * match-v2: a probability p of a 1 in 1/2^15 starts at 2^14, moves 1/16
 * of the way to each coded bit and stays in 32 .. 2^15 - 32.
 */
#ifndef IDFZIP_ADAPTIVE_CODE_H
#define IDFZIP_ADAPTIVE_CODE_H

#include <stdint.h>

#include "model.h"

#define ADAPTIVE_P_START (1u << 14) /* 1/2 */
#define ADAPTIVE_P_MIN 32u          /* keeps both symbols codable */
#define ADAPTIVE_P_MAX (RANS_PROB_SCALE - 32u)
#define ADAPTIVE_RATE 4             /* each decision moves p 1/16 of the way */
#define ADAPTIVE_EG_BITS 24         /* an Exp-Golomb prefix's decisions */

static inline void adaptive_start(uint16_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = ADAPTIVE_P_START;
}

/* One adaptive decision with probability *p1 of a 1, which then moves
 * towards what was coded.  Returns the bit (decoding: the one read). */
static inline uint32_t adaptive_decide(uint16_t *p1, uint32_t bit, symbol_io *io)
{
    uint32_t p = *p1;
    bit = symbol_io_decision(io, bit, p);
    p = bit ? p + ((RANS_PROB_SCALE - p) >> ADAPTIVE_RATE) : p - (p >> ADAPTIVE_RATE);
    *p1 = (uint16_t)(p < ADAPTIVE_P_MIN ? ADAPTIVE_P_MIN : (p > ADAPTIVE_P_MAX ? ADAPTIVE_P_MAX : p));
    return bit;
}

static inline uint32_t adaptive_bit_length(uint32_t v)
{
    uint32_t n = 0;
    while (v >> n)
        n++;
    return n;
}

/* value (< 2^ADAPTIVE_EG_BITS - 1) as an Exp-Golomb code whose prefix is
 * adaptive: value + 1 has n + 1 bits; n decisions "one more bit" at
 * p[0..n-1], a decision "no more" at p[n] (none after the last), then the
 * n low bits raw.  p has ADAPTIVE_EG_BITS probabilities. */
static inline uint32_t adaptive_exp_golomb(uint16_t *p, uint32_t value, symbol_io *io)
{
    const uint32_t bits = io->enc ? adaptive_bit_length(value + 1) - 1 : 0;
    uint32_t n = 0;
    while (n < ADAPTIVE_EG_BITS - 1 && adaptive_decide(&p[n], n < bits, io))
        n++;
    uint32_t low = symbol_io_bits(io, (value + 1) & ((1u << n) - 1), n);
    return (1u << n) + low - 1;
}

static inline uint32_t adaptive_zigzag(int32_t v)
{
    return v >= 0 ? 2u * (uint32_t)v : 2u * (uint32_t)(-(v + 1)) + 1u;
}

static inline int64_t adaptive_unzigzag(uint32_t z)
{
    return z & 1 ? -(int64_t)(z >> 1) - 1 : (int64_t)(z >> 1);
}

#endif
