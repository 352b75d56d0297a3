/* dense_avx2.c — a conv at a 1x1 map (nn_forward on one position) with AVX2 (see
 * nn_kernels.h for the contract).
 *
 * The weights of the centre tap are packed as int16 pairs of input
 * channels (2p, 2p+1) for each output, outputs padded to a multiple of 8:
 * one vpmaddwd of a broadcast input pair with 8 outputs' weight pairs is 16
 * MACs.  Exactness as in conv_avx2.c: inputs <= 32767 (the caller checks),
 * int8 weights widen exactly, every partial sum is an exact int32.
 */
#include "nn_kernels.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X86 1
#include <immintrin.h>
#else
#define HAVE_X86 0
#endif

#define LANES 8

static uint32_t pairs_of(const nn_layer *l) { return (l->cin + 1) / 2; }
static uint32_t padded_out(const nn_layer *l) { return (l->cout + LANES - 1) / LANES * LANES; }

/* After the weights, per block of 8 outputs, the requantisation's
 * constants in the lanes the kernel uses (64 int32): bias and mult (8
 * int32 each), then as int64 for the even outputs (0, 2, 4, 6) and for
 * the odd ones: the shift, the rounding term plus 2^62, and 2^62 >> shift
 * (floor_shift's bias trick, so a logical shift floors).  Padding
 * outputs get zeros and are never stored. */
#define BLOCK_CONSTANTS 64
#define FLOOR_BIAS ((int64_t)1 << 62)

size_t dense_avx2_packed_size(const nn_layer *l)
{
    return (size_t)pairs_of(l) * padded_out(l) + (size_t)padded_out(l) / LANES * BLOCK_CONSTANTS;
}

static void put_i64(int32_t *at, int64_t v)
{
    at[0] = (int32_t)(uint32_t)((uint64_t)v & 0xFFFFFFFFu);
    at[1] = (int32_t)(uint32_t)((uint64_t)v >> 32);
}

static void pack_constants(const nn_layer *l, uint32_t o0, int32_t *k)
{
    for (uint32_t j = 0; j < LANES; j++) {
        const uint32_t o = o0 + j;
        const int real = o < l->cout;
        const unsigned sh = real ? l->shift[o] : 0;
        int32_t *lane = k + 16 + 2 * (j / 2) + (j % 2 ? 8 : 0); /* int64 lane j/2 of even or odd */
        k[j] = real ? l->bias[o] : 0;
        k[LANES + j] = real ? l->mult[o] : 0;
        put_i64(lane, sh);
        put_i64(lane + 16, (sh ? (int64_t)1 << (sh - 1) : 0) + FLOOR_BIAS);
        put_i64(lane + 32, FLOOR_BIAS >> sh);
    }
}

/* packed[p * padded_out + o] = (w[o][2p], w[o][2p+1]) as two int16, then
 * the blocks' constants. */
void dense_avx2_pack(const nn_layer *l, int32_t *packed)
{
    const uint32_t taps = (uint32_t)l->kernel * l->kernel, co = padded_out(l);
    for (uint32_t p = 0; p < pairs_of(l); p++)
        for (uint32_t o = 0; o < co; o++) {
            int32_t w[2] = {0, 0};
            for (uint32_t j = 0; j < 2 && o < l->cout; j++)
                if (2 * p + j < l->cin)
                    w[j] = l->weight[((size_t)o * l->cin + 2 * p + j) * taps + taps / 2];
            packed[(size_t)p * co + o] = (int32_t)((uint32_t)(uint16_t)w[0] | (uint32_t)(uint16_t)w[1] << 16);
        }
    int32_t *k = packed + (size_t)pairs_of(l) * co;
    for (uint32_t o0 = 0; o0 < co; o0 += LANES, k += BLOCK_CONSTANTS)
        pack_constants(l, o0, k);
}

#if HAVE_X86
/* The input as broadcastable int16 pairs: pairs[p] = (in[2p], in[2p+1]). */
static void input_pairs(const nn_layer *l, const int32_t *in, int32_t *pairs)
{
    for (uint32_t p = 0; p < pairs_of(l); p++) {
        uint32_t lo = (uint16_t)in[2 * p];
        uint32_t hi = 2 * p + 1 < l->cin ? (uint16_t)in[2 * p + 1] : 0;
        pairs[p] = (int32_t)(lo | hi << 16);
    }
}

/* madd of the broadcast pair x with the 8 weight pairs at w. */
#define MADD(x, w) _mm256_madd_epi16((x), _mm256_loadu_si256((const __m256i *)(w)))

/* Sums of the 16 outputs from o0: two blocks of 8, each split into even
 * and odd pairs, so four independent chains (named, so they stay in
 * registers) hide vpmaddwd's latency. */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) void sums16(const int32_t *dense, uint32_t co, const int32_t *pairs, uint32_t np,
                   uint32_t o0, int32_t sum[16])
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, b0 = a0, b1 = a0;
    uint32_t p = 0;
    for (; p + 2 <= np; p += 2) {
        const int32_t *w0 = dense + (size_t)p * co + o0, *w1 = w0 + co;
        const __m256i x0 = _mm256_set1_epi32(pairs[p]), x1 = _mm256_set1_epi32(pairs[p + 1]);
        a0 = _mm256_add_epi32(a0, MADD(x0, w0));
        b0 = _mm256_add_epi32(b0, MADD(x0, w0 + 8));
        a1 = _mm256_add_epi32(a1, MADD(x1, w1));
        b1 = _mm256_add_epi32(b1, MADD(x1, w1 + 8));
    }
    if (p < np) {
        const int32_t *w0 = dense + (size_t)p * co + o0;
        const __m256i x0 = _mm256_set1_epi32(pairs[p]);
        a0 = _mm256_add_epi32(a0, MADD(x0, w0));
        b0 = _mm256_add_epi32(b0, MADD(x0, w0 + 8));
    }
    _mm256_storeu_si256((__m256i *)sum, _mm256_add_epi32(a0, a1));
    _mm256_storeu_si256((__m256i *)(sum + 8), _mm256_add_epi32(b0, b1));
}

/* Sums of the 8 outputs from o0, with two chains. */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) void sums8(const int32_t *dense, uint32_t co, const int32_t *pairs, uint32_t np,
                  uint32_t o0, int32_t sum[8])
{
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
    uint32_t p = 0;
    for (; p + 2 <= np; p += 2) {
        const int32_t *w0 = dense + (size_t)p * co + o0;
        a0 = _mm256_add_epi32(a0, MADD(_mm256_set1_epi32(pairs[p]), w0));
        a1 = _mm256_add_epi32(a1, MADD(_mm256_set1_epi32(pairs[p + 1]), w0 + co));
    }
    if (p < np)
        a0 = _mm256_add_epi32(a0, MADD(_mm256_set1_epi32(pairs[p]), dense + (size_t)p * co + o0));
    _mm256_storeu_si256((__m256i *)sum, _mm256_add_epi32(a0, a1));
}

/* floor((p + round) / 2^shift) for the 4 int64 lanes of product p,
 * unclamped: the rounding term carries 2^62 and sub is 2^62 >> shift, so
 * a logical shift floors (see pack_constants). */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) __m256i shift_round(__m256i p, __m256i shift,
                                                                 __m256i rnd, __m256i sub)
{
    return _mm256_sub_epi64(_mm256_srlv_epi64(_mm256_add_epi64(p, rnd), shift), sub);
}

/* shift_round with a block's per-lane constants at k. */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) __m256i floor_shift64(__m256i p, const int32_t *k)
{
    return shift_round(p, _mm256_loadu_si256((const __m256i *)k),
                       _mm256_loadu_si256((const __m256i *)(k + 16)),
                       _mm256_loadu_si256((const __m256i *)(k + 32)));
}

/* The results of the even and odd lanes, each known to fit int32, as 8
 * int32 clamped to [lo, hi]: the narrow requantisation's last step. */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) __m256i narrow_clamp(__m256i even, __m256i odd, __m256i lo,
                                                                  __m256i hi)
{
    const __m256i r = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    return _mm256_min_epi32(_mm256_max_epi32(r, lo), hi);
}

/* floor_shift64 clamped to [lo, hi]. */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) __m256i floor_shift_clamp(__m256i p, const int32_t *k, __m256i lo, __m256i hi)
{
    __m256i v = floor_shift64(p, k);
    v = _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
    return _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
}

/* The requantisation of nn.h for 8 outputs at once: exact, as
 * nn_requantise (|sum + bias| < 2^31 and mult < 2^24 keep every int64
 * term below 2^62). */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) void requantise8(const int32_t sum[LANES], const int32_t *k, int32_t clamp, int32_t out[LANES])
{
    const __m256i v = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)sum),
                                       _mm256_loadu_si256((const __m256i *)k));
    const __m256i m = _mm256_loadu_si256((const __m256i *)(k + LANES));
    const __m256i hi = _mm256_set1_epi64x(clamp), lo = _mm256_set1_epi64x(-(int64_t)clamp);
    const __m256i even = floor_shift_clamp(_mm256_mul_epi32(v, m), k + 16, lo, hi);
    const __m256i odd = floor_shift_clamp(
        _mm256_mul_epi32(_mm256_srli_epi64(v, 32), _mm256_srli_epi64(m, 32)), k + 24, lo, hi);
    _mm256_storeu_si256((__m256i *)out, _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA));
}

/* The sums and requantisation of conv l on the input pairs into y
 * (padded_out(l) values; the padding outputs come out 0). */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) void dense_layer(const nn_layer *l, const int32_t *pairs, int32_t *y)
{
    const uint32_t np = pairs_of(l), co = padded_out(l);
    const int32_t *consts = l->dense + (size_t)np * co;
    int32_t sum[16];
    for (uint32_t o0 = 0; o0 < co;) {
        uint32_t n = co - o0 >= 16 ? 16 : LANES;
        if (n == 16)
            sums16(l->dense, co, pairs, np, o0, sum);
        else
            sums8(l->dense, co, pairs, np, o0, sum);
        for (uint32_t b = 0; b < n; b += LANES)
            requantise8(sum + b, consts + (size_t)(o0 + b) / LANES * BLOCK_CONSTANTS, l->clamp,
                        y + o0 + b);
        o0 += n;
    }
}

/* Values v[0 .. 8m) (|v| <= 32767, zero past the real ones) as int16
 * pairs: pairs[p] = (v[2p], v[2p+1]).  vpackssdw interleaves the two
 * 128-bit halves; the permute puts the values back in order. */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) void pack_pairs(const int32_t *v, uint32_t m, int32_t *pairs)
{
    const __m256i zero = _mm256_setzero_si256();
    for (uint32_t j = 0; j < m; j += 2) {
        const __m256i a = _mm256_loadu_si256((const __m256i *)(v + 8 * j));
        const __m256i b = j + 1 < m ? _mm256_loadu_si256((const __m256i *)(v + 8 * j + 8)) : zero;
        _mm256_storeu_si256((__m256i *)(pairs + 4 * j),
                            _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8));
    }
}

__attribute__((target("avx2")))
static inline __attribute__((always_inline)) void relu8(int32_t *v, uint32_t m)
{
    for (uint32_t j = 0; j < m; j++) {
        __m256i *at = (__m256i *)(v + 8 * j);
        _mm256_storeu_si256(at, _mm256_max_epi32(_mm256_loadu_si256(at), _mm256_setzero_si256()));
    }
}

static int ar_shape(const nn_layer *l, uint32_t n, uint32_t cin);

int dense_avx2_net_serves(const nn_layer *layers, uint32_t n, uint32_t cin, int32_t in_clamp)
{
    int32_t bound = in_clamp;
    if (cin > DENSE_NET_MAX_WIDTH || in_clamp < 0)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        const nn_layer *l = &layers[i];
        if (l->cout > DENSE_NET_MAX_WIDTH)
            return 0;
        if (l->op == NN_CONV) {
            if (!l->dense || bound > NN_KERNEL_INT16_BOUND)
                return 0;
            bound = l->clamp;
        } else if (l->op != NN_RELU) {
            return 0;
        }
    }
    return ar_shape(layers, n, cin) ? DENSE_NET_AR_SHAPE : DENSE_NET_GENERAL;
}

/* ---- the AR priors' shape, unrolled ------------------------------------ *
 * Every shipped AR prior is 29 -> 16 -> ReLU -> 16 -> ReLU -> 2 or 6; the
 * decoder runs its net once per sample and waits for it.  With the shape
 * fixed at compile time every loop unrolls, the sums stay in registers,
 * and only each layer's int16 pairs pass through memory (for the
 * broadcasts).  The same sums as the general kernel; the requantisation
 * is the narrow one, so a net whose layers are not narrow is served by
 * the general kernel. */
#define AR_PAIRS_IN 15 /* 29 or 30 inputs */
#define AR_WIDTH 16

/* Whether every requantised value of conv l fits an int32 before its
 * clamp: with mult <= 2^(shift-1), |acc| < 2^31 gives |result| <= 2^30.
 * Then the clamp (and a ReLU after it) is a min and a max on 8 int32
 * lanes instead of compares and blends on 4 int64 ones.  Every shipped AR
 * prior's layers multiply by 0.26 at most (shifts 25 to 33). */
static int narrow_requantisation(const nn_layer *l)
{
    for (uint32_t o = 0; o < l->cout; o++)
        if (l->shift[o] == 0 || (uint64_t)l->mult[o] > (uint64_t)1 << (l->shift[o] - 1))
            return 0;
    return 1;
}

static int ar_shape(const nn_layer *l, uint32_t n, uint32_t cin)
{
    return n == 5 && (cin + 1) / 2 == AR_PAIRS_IN && l[0].op == NN_CONV && l[0].cout == AR_WIDTH &&
           l[1].op == NN_RELU && l[2].op == NN_CONV && l[2].cin == AR_WIDTH &&
           l[2].cout == AR_WIDTH && l[3].op == NN_RELU && l[4].op == NN_CONV &&
           l[4].cin == AR_WIDTH && l[4].cout <= LANES && narrow_requantisation(&l[0]) &&
           narrow_requantisation(&l[2]) && narrow_requantisation(&l[4]);
}

/* The requantisation of 8 sums v (bias included) of a layer with narrow
 * requantisation, clamped to [lo, hi] (lo = 0 where a ReLU follows), the
 * block's constants at k: each int64 result fits int32, so its low half
 * is it. */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) __m256i requantise8_narrow(__m256i v, const int32_t *k,
                                                                        __m256i lo, __m256i hi)
{
    const __m256i m = _mm256_loadu_si256((const __m256i *)(k + LANES));
    const __m256i even = floor_shift64(_mm256_mul_epi32(v, m), k + 16);
    const __m256i odd =
        floor_shift64(_mm256_mul_epi32(_mm256_srli_epi64(v, 32), _mm256_srli_epi64(m, 32)), k + 24);
    return narrow_clamp(even, odd, lo, hi);
}

/* 16 int32 (|v| <= 32767) as 8 int16 pairs in order, stored at pairs. */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) void store_pairs(__m256i a, __m256i b, int32_t *pairs)
{
    _mm256_storeu_si256((__m256i *)pairs, _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8));
}

/* A conv of np pairs (a constant where inlined) to 16 outputs, ReLU'd.
 * The first chain of each block starts from the bias. */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) void ar_conv16(const nn_layer *l, const int32_t *pairs,
                                                            uint32_t np, __m256i out[2])
{
    const int32_t *k = l->dense + (size_t)np * AR_WIDTH;
    __m256i a0 = _mm256_loadu_si256((const __m256i *)k), a1 = _mm256_setzero_si256(), b1 = a1;
    __m256i b0 = _mm256_loadu_si256((const __m256i *)(k + BLOCK_CONSTANTS));
#pragma GCC unroll 16
    for (uint32_t p = 0; p + 1 < np; p += 2) {
        const int32_t *w = l->dense + (size_t)p * AR_WIDTH;
        const __m256i x0 = _mm256_set1_epi32(pairs[p]), x1 = _mm256_set1_epi32(pairs[p + 1]);
        a0 = _mm256_add_epi32(a0, MADD(x0, w));
        b0 = _mm256_add_epi32(b0, MADD(x0, w + LANES));
        a1 = _mm256_add_epi32(a1, MADD(x1, w + AR_WIDTH));
        b1 = _mm256_add_epi32(b1, MADD(x1, w + AR_WIDTH + LANES));
    }
    if (np % 2) {
        const int32_t *w = l->dense + (size_t)(np - 1) * AR_WIDTH;
        const __m256i x0 = _mm256_set1_epi32(pairs[np - 1]);
        a0 = _mm256_add_epi32(a0, MADD(x0, w));
        b0 = _mm256_add_epi32(b0, MADD(x0, w + LANES));
    }
    const __m256i zero = _mm256_setzero_si256(), hi = _mm256_set1_epi32(l->clamp);
    out[0] = requantise8_narrow(_mm256_add_epi32(a0, a1), k, zero, hi);
    out[1] = requantise8_narrow(_mm256_add_epi32(b0, b1), k + BLOCK_CONSTANTS, zero, hi);
}

__attribute__((target("avx2")))
static void ar_shape_net(const nn_layer *l, uint32_t cin, int32_t in_clamp, const int32_t *in,
                         int32_t *out)
{
    const __m256i hi = _mm256_set1_epi32(in_clamp), lo = _mm256_set1_epi32(-in_clamp);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i x[4];
    for (int j = 0; j < 4; j++) { /* masked: zeros past the input */
        const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)cin - LANES * j), lane);
        x[j] = _mm256_max_epi32(_mm256_min_epi32(_mm256_maskload_epi32(in + LANES * j, live), hi), lo);
    }
    int32_t pairs[2 * LANES];
    store_pairs(x[0], x[1], pairs);
    store_pairs(x[2], x[3], pairs + LANES);
    __m256i h[2];
    ar_conv16(&l[0], pairs, AR_PAIRS_IN, h);
    store_pairs(h[0], h[1], pairs);
    ar_conv16(&l[2], pairs, AR_WIDTH / 2, h);
    store_pairs(h[0], h[1], pairs);
    const nn_layer *last = &l[4]; /* 8 pairs to at most 8 outputs */
    const int32_t *k = last->dense + (AR_WIDTH / 2) * LANES;
    __m256i a0 = _mm256_loadu_si256((const __m256i *)k), a1 = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (uint32_t p = 0; p < AR_WIDTH / 2; p += 2) {
        const int32_t *w = last->dense + (size_t)p * LANES;
        a0 = _mm256_add_epi32(a0, MADD(_mm256_set1_epi32(pairs[p]), w));
        a1 = _mm256_add_epi32(a1, MADD(_mm256_set1_epi32(pairs[p + 1]), w + LANES));
    }
    int32_t y[LANES];
    _mm256_storeu_si256((__m256i *)y, requantise8_narrow(_mm256_add_epi32(a0, a1), k,
                                                         _mm256_set1_epi32(-last->clamp),
                                                         _mm256_set1_epi32(last->clamp)));
    for (uint32_t j = 0; j < last->cout; j++)
        out[j] = y[j];
}

/* ---- the AR shape, eight samples at once ------------------------------- *
 * The encoder knows every sample's features before it codes any, so its
 * nets are independent: eight of them run side by side, a sample per
 * 32-bit lane.  A layer's input is a vector per int16 pair of inputs (the
 * pair of each sample in its lane), an output a vector of its eight
 * sums: one vpmaddwd of a pair vector with the output's broadcast weight
 * pair is 16 MACs, as in the one-sample kernel, but no sum waits for a
 * broadcast of the last layer's outputs, and each output's constants are
 * scalars.  The same sums and the same narrow requantisation. */

/* Output o's requantisation constants (see pack_constants) as broadcasts. */
typedef struct lane_constants {
    __m256i bias, mult, shift, rnd, sub;
} lane_constants;

__attribute__((target("avx2")))
static inline __attribute__((always_inline)) lane_constants constants_of(const nn_layer *l, uint32_t np,
                                                                      uint32_t o)
{
    const int32_t *k = l->dense + (size_t)np * padded_out(l) + (size_t)(o / LANES) * BLOCK_CONSTANTS;
    const uint32_t j = o % LANES;
    const int32_t *lane = k + 16 + 2 * (j / 2) + (j % 2 ? 8 : 0);
    int64_t sh, rnd, sub;
    memcpy(&sh, lane, sizeof sh), memcpy(&rnd, lane + 16, sizeof rnd), memcpy(&sub, lane + 32, sizeof sub);
    return (lane_constants){_mm256_set1_epi32(k[j]), _mm256_set1_epi64x((int64_t)(uint32_t)k[LANES + j]),
                            _mm256_set1_epi64x(sh), _mm256_set1_epi64x(rnd), _mm256_set1_epi64x(sub)};
}

/* Output o of a conv of np pair vectors x, for eight samples, clamped to
 * [lo, hi]: the narrow requantisation of its sums. */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) __m256i output8(const nn_layer *l, const __m256i *x,
                                                             uint32_t np, uint32_t o, __m256i lo,
                                                             __m256i hi)
{
    const uint32_t co = padded_out(l);
    const lane_constants k = constants_of(l, np, o);
    __m256i a0 = k.bias, a1 = _mm256_setzero_si256();
    uint32_t p = 0;
    for (; p + 1 < np; p += 2) {
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(x[p], _mm256_set1_epi32(l->dense[(size_t)p * co + o])));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(x[p + 1], _mm256_set1_epi32(l->dense[(size_t)(p + 1) * co + o])));
    }
    if (p < np)
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(x[p], _mm256_set1_epi32(l->dense[(size_t)p * co + o])));
    const __m256i v = _mm256_add_epi32(a0, a1);
    const __m256i even = shift_round(_mm256_mul_epi32(v, k.mult), k.shift, k.rnd, k.sub);
    const __m256i odd =
        shift_round(_mm256_mul_epi32(_mm256_srli_epi64(v, 32), k.mult), k.shift, k.rnd, k.sub);
    return narrow_clamp(even, odd, lo, hi);
}

/* A ReLU'd layer of 16 outputs h as 8 pair vectors (values 0 .. 32767). */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) void pairs8(const __m256i h[AR_WIDTH], __m256i x[AR_WIDTH / 2])
{
    for (uint32_t p = 0; p < AR_WIDTH / 2; p++)
        x[p] = _mm256_blend_epi16(h[2 * p], _mm256_slli_epi32(h[2 * p + 1], 16), 0xAA);
}

__attribute__((target("avx2")))
void dense_avx2_net8(const nn_layer *l, uint32_t cin, int32_t in_clamp, const int32_t *in,
                     size_t stride, int32_t *out)
{
    /* Each sample's inputs clamped and packed as pairs (as ar_shape_net),
     * then transposed: pair p of the eight samples in one vector. */
    int32_t pairs[LANES][2 * LANES];
    const __m256i hi = _mm256_set1_epi32(in_clamp), lo = _mm256_set1_epi32(-in_clamp);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (uint32_t s = 0; s < LANES; s++) {
        __m256i v[4];
        for (int j = 0; j < 4; j++) {
            const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)cin - LANES * j), lane);
            v[j] = _mm256_max_epi32(_mm256_min_epi32(_mm256_maskload_epi32(in + s * stride + LANES * j, live), hi), lo);
        }
        store_pairs(v[0], v[1], pairs[s]);
        store_pairs(v[2], v[3], pairs[s] + LANES);
    }
    __m256i x[2 * LANES];
    for (uint32_t p = 0; p < AR_PAIRS_IN; p++)
        x[p] = _mm256_setr_epi32(pairs[0][p], pairs[1][p], pairs[2][p], pairs[3][p], pairs[4][p],
                                 pairs[5][p], pairs[6][p], pairs[7][p]);
    const __m256i zero = _mm256_setzero_si256();
    __m256i h[AR_WIDTH];
    for (uint32_t o = 0; o < AR_WIDTH; o++)
        h[o] = output8(&l[0], x, AR_PAIRS_IN, o, zero, _mm256_set1_epi32(l[0].clamp));
    pairs8(h, x);
    for (uint32_t o = 0; o < AR_WIDTH; o++)
        h[o] = output8(&l[2], x, AR_WIDTH / 2, o, zero, _mm256_set1_epi32(l[2].clamp));
    pairs8(h, x);
    const nn_layer *last = &l[4];
    for (uint32_t o = 0; o < last->cout; o++)
        _mm256_storeu_si256((__m256i *)(out + (size_t)o * LANES),
                            output8(last, x, AR_WIDTH / 2, o, _mm256_set1_epi32(-last->clamp),
                                    _mm256_set1_epi32(last->clamp)));
}

/* Values are int32 in y between layers, zero past the real ones up to a
 * multiple of 8 (a conv's padding outputs come out 0); a conv reads them
 * as int16 pairs (the bounds checked above make the narrowing exact). */
__attribute__((target("avx2")))
void dense_avx2_net(const nn_layer *layers, uint32_t n, uint32_t cin, int32_t in_clamp,
                    int kind, const int32_t *in, int32_t *out)
{
    if (kind == DENSE_NET_AR_SHAPE) {
        ar_shape_net(layers, cin, in_clamp, in, out);
        return;
    }
    int32_t y[DENSE_NET_MAX_WIDTH + LANES], pairs[DENSE_NET_MAX_WIDTH / 2 + LANES];
    uint32_t blocks = (cin + LANES - 1) / LANES, width = cin;
    const __m256i hi = _mm256_set1_epi32(in_clamp), lo = _mm256_set1_epi32(-in_clamp);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (uint32_t j = 0; j < blocks; j++) { /* masked: zeros past the input */
        const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)(cin - LANES * j)), lane);
        const __m256i v = _mm256_maskload_epi32(in + LANES * j, live);
        _mm256_storeu_si256((__m256i *)(y + LANES * j), _mm256_max_epi32(_mm256_min_epi32(v, hi), lo));
    }
    for (uint32_t i = 0; i < n; i++) {
        const nn_layer *l = &layers[i];
        if (l->op == NN_RELU) {
            relu8(y, blocks);
            continue;
        }
        pack_pairs(y, blocks, pairs);
        dense_layer(l, pairs, y);
        width = l->cout;
        blocks = padded_out(l) / LANES;
    }
    for (uint32_t j = 0; j < width; j++) /* the real outputs, not the padding */
        out[j] = y[j];
}

__attribute__((target("avx2")))
void dense_avx2(const nn_layer *l, const int32_t *in, int32_t *out)
{
    int32_t pairs[NN_MAX_CHANNELS / 2], y[NN_MAX_CHANNELS + LANES];
    input_pairs(l, in, pairs);
    dense_layer(l, pairs, y);
    for (uint32_t o = 0; o < l->cout; o++) /* the real outputs, not the padding */
        out[o] = y[o];
}
#else
void dense_avx2(const nn_layer *l, const int32_t *in, int32_t *out)
{
    (void)l, (void)in, (void)out; /* never called: nn_kernel_supported says no */
}

int dense_avx2_net_serves(const nn_layer *layers, uint32_t n, uint32_t cin, int32_t in_clamp)
{
    (void)layers, (void)n, (void)cin, (void)in_clamp;
    return 0;
}

void dense_avx2_net(const nn_layer *layers, uint32_t n, uint32_t cin, int32_t in_clamp,
                    int kind, const int32_t *in, int32_t *out)
{
    (void)layers, (void)n, (void)cin, (void)in_clamp, (void)kind, (void)in, (void)out;
}

void dense_avx2_net8(const nn_layer *l, uint32_t cin, int32_t in_clamp, const int32_t *in,
                     size_t stride, int32_t *out)
{
    (void)l, (void)cin, (void)in_clamp, (void)in, (void)stride, (void)out;
}
#endif
