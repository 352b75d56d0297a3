/* conv_avx2.c — NN_CONV with AVX2 (see nn_kernels.h for the contract).
 *
 * The layer becomes a small matrix product.  Inputs are zero-padded by the
 * kernel radius r into planes of stride S = w + 2r and stored as int16
 * pairs of channels (2j, 2j+1) side by side, so one vpmaddwd multiplies 8
 * positions by two weights and adds the pair: 16 MACs.  Output position
 * (y, x) is computed at padded index p = y*S + x, and tap (ky, kx) reads
 * padded index p + ky*S + kx, so a run of 16 consecutive p needs no border
 * tests; indices with x >= w are computed and dropped.  Four output
 * channels share every input load (8 accumulators of 8 lanes).
 *
 * Exactness: the input magnitudes are <= 32767 (the caller checks), int8
 * weights widen to int16 exactly, vpmaddwd cannot overflow for those, and
 * every partial sum is an exact int32 (loader bound), so the sums equal the
 * reference's whatever the order.
 */
#include "nn_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X86 1
#include <immintrin.h>
#else
#define HAVE_X86 0
#endif

#include <string.h>

#define RUN 16  /* positions per accumulator pair */
#define OBLOCK 4

/* Shapes of the padded problem. */
typedef struct conv_geom {
    uint32_t k, r, stride, pairs, oblocks;
    size_t runs;        /* RUN-position runs covering h * stride */
    size_t plane_len;   /* int16 pairs per padded plane, with read slack */
} conv_geom;

static conv_geom conv_geometry(const nn_layer *l, uint32_t h, uint32_t w)
{
    conv_geom g;
    g.k = l->kernel;
    g.r = g.k / 2;
    g.stride = w + 2 * g.r;
    g.pairs = (l->cin + 1) / 2;
    g.oblocks = (l->cout + OBLOCK - 1) / OBLOCK;
    g.runs = ((size_t)h * g.stride + RUN - 1) / RUN;
    /* The last run reads up to runs*RUN - 1 + (k-1)*(stride+1). */
    g.plane_len = g.runs * RUN + (size_t)(g.k - 1) * (g.stride + 1);
    return g;
}

size_t conv_avx2_packed_size(const nn_layer *l)
{
    conv_geom g = conv_geometry(l, 1, 1);
    return (size_t)g.oblocks * g.pairs * g.k * g.k * OBLOCK;
}

size_t conv_avx2_scratch(const nn_layer *l, uint32_t h, uint32_t w)
{
    conv_geom g = conv_geometry(l, h, w);
    size_t planes = (size_t)g.pairs * g.plane_len;          /* int16 pairs = int32 */
    size_t weights = (size_t)g.oblocks * g.pairs * g.k * g.k * OBLOCK;
    size_t acc = (size_t)OBLOCK * g.runs * RUN;
    return planes + weights + acc + 16; /* + 16: slack, nothing aligned needed */
}

#if HAVE_X86
/* One padded row of a channel pair: word x = (lo[x] & 0xffff) | hi[x] << 16,
 * the int16 pair in memory order (little endian); hi NULL: a zero channel. */
__attribute__((target("avx2")))
static void pack_row(const int32_t *lo, const int32_t *hi, uint32_t w, int32_t *dst)
{
    const __m256i mask = _mm256_set1_epi32(0xffff);
    uint32_t x = 0;
    for (; x + 8 <= w; x += 8) {
        __m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(lo + x)), mask);
        if (hi)
            v = _mm256_or_si256(v, _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(hi + x)), 16));
        _mm256_storeu_si256((__m256i *)(dst + x), v);
    }
    for (; x < w; x++)
        dst[x] = (int32_t)(((uint32_t)lo[x] & 0xffffu) | (hi ? (uint32_t)hi[x] << 16 : 0u));
}
#endif

/* in (planar int32) -> padded int16 channel pairs, one int32 word per
 * position holding the pair. */
static void pack_input(const nn_layer *l, const conv_geom *g, const int32_t *in,
                       uint32_t h, uint32_t w, int16_t *pairs)
{
#if HAVE_X86
    const size_t plane = (size_t)h * w;
    int32_t *words = (int32_t *)pairs;
    memset(words, 0, (size_t)g->pairs * g->plane_len * sizeof *words);
    for (uint32_t j = 0; j < g->pairs; j++) {
        const int32_t *lo = in + (size_t)(2 * j) * plane;
        const int32_t *hi = 2 * j + 1 < l->cin ? lo + plane : NULL;
        int32_t *dst = words + (size_t)j * g->plane_len + (size_t)g->r * g->stride + g->r;
        for (uint32_t y = 0; y < h; y++)
            pack_row(lo + (size_t)y * w, hi ? hi + (size_t)y * w : NULL, w,
                     dst + (size_t)y * g->stride);
    }
#else
    (void)l, (void)g, (void)in, (void)h, (void)w, (void)pairs;
#endif
}

/* Weights as int32 words holding the int16 pair (w[o][2j][t], w[o][2j+1][t]),
 * ordered [oblock][pair][tap][o % 4]; missing channels are zero. */
static void pack_weights(const nn_layer *l, const conv_geom *g, int32_t *packed)
{
    const uint32_t taps = g->k * g->k;
    for (uint32_t ob = 0; ob < g->oblocks; ob++)
        for (uint32_t j = 0; j < g->pairs; j++)
            for (uint32_t t = 0; t < taps; t++)
                for (uint32_t q = 0; q < OBLOCK; q++) {
                    uint32_t o = ob * OBLOCK + q, i = 2 * j;
                    uint16_t lo = 0, hi = 0;
                    if (o < l->cout) {
                        const int8_t *wo = l->weight + (size_t)o * l->cin * taps;
                        lo = (uint16_t)(int16_t)wo[(size_t)i * taps + t];
                        if (i + 1 < l->cin)
                            hi = (uint16_t)(int16_t)wo[(size_t)(i + 1) * taps + t];
                    }
                    packed[((size_t)(ob * g->pairs + j) * taps + t) * OBLOCK + q] =
                        (int32_t)((uint32_t)lo | (uint32_t)hi << 16);
                }
}

void conv_avx2_pack(const nn_layer *l, int32_t *packed)
{
    conv_geom g = conv_geometry(l, 1, 1);
    pack_weights(l, &g, packed);
}

#if HAVE_X86
/* Adds the pairwise products of b0, b1 (8 positions each) with the weight
 * pair w to the accumulators a0, a1. */
#define MADD2(a0, a1, b0, b1, w)                                     \
    do {                                                             \
        const __m256i w_ = (w);                                      \
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(b0, w_));        \
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(b1, w_));        \
    } while (0)

/* acc[q][p] = bias + sum over pairs and taps, for one block of four output
 * channels and every run of positions.  The eight accumulators are named
 * variables so they stay in registers. */
__attribute__((target("avx2")))
static void block_products(const conv_geom *g, const int16_t *pairs, const int32_t *wblock,
                           const int32_t bias[OBLOCK], int32_t *acc)
{
    const uint32_t taps = g->k * g->k;
    const size_t run_len = g->runs * RUN;
    size_t off[9]; /* int16 offset of each tap (k <= 3) */
    for (uint32_t t = 0; t < taps; t++)
        off[t] = 2 * ((size_t)(t / g->k) * g->stride + t % g->k);
    for (size_t run = 0; run < g->runs; run++) {
        __m256i a00 = _mm256_set1_epi32(bias[0]), a01 = a00;
        __m256i a10 = _mm256_set1_epi32(bias[1]), a11 = a10;
        __m256i a20 = _mm256_set1_epi32(bias[2]), a21 = a20;
        __m256i a30 = _mm256_set1_epi32(bias[3]), a31 = a30;
        for (uint32_t j = 0; j < g->pairs; j++) {
            const int16_t *base = pairs + ((size_t)j * g->plane_len + run * RUN) * 2;
            const int32_t *wt = wblock + (size_t)j * taps * OBLOCK;
            for (uint32_t t = 0; t < taps; t++, wt += OBLOCK) {
                const __m256i b0 = _mm256_loadu_si256((const __m256i *)(base + off[t]));
                const __m256i b1 = _mm256_loadu_si256((const __m256i *)(base + off[t] + 16));
                MADD2(a00, a01, b0, b1, _mm256_set1_epi32(wt[0]));
                MADD2(a10, a11, b0, b1, _mm256_set1_epi32(wt[1]));
                MADD2(a20, a21, b0, b1, _mm256_set1_epi32(wt[2]));
                MADD2(a30, a31, b0, b1, _mm256_set1_epi32(wt[3]));
            }
        }
        int32_t *dst = acc + run * RUN;
        _mm256_storeu_si256((__m256i *)dst, a00);
        _mm256_storeu_si256((__m256i *)(dst + 8), a01);
        _mm256_storeu_si256((__m256i *)(dst + run_len), a10);
        _mm256_storeu_si256((__m256i *)(dst + run_len + 8), a11);
        _mm256_storeu_si256((__m256i *)(dst + 2 * run_len), a20);
        _mm256_storeu_si256((__m256i *)(dst + 2 * run_len + 8), a21);
        _mm256_storeu_si256((__m256i *)(dst + 3 * run_len), a30);
        _mm256_storeu_si256((__m256i *)(dst + 3 * run_len + 8), a31);
    }
}
#endif

#if HAVE_X86
/* nn_requantise on 8 lanes: the 64-bit products of the even and odd lanes
 * are floored through the same +2^62 bias as floor_shift (all values
 * stay below 2^63: |acc * mult| < 2^55), clamped, and put back together. */
__attribute__((target("avx2")))
static __m256i requantise8(__m256i acc, int32_t mult, unsigned shift, int32_t clamp)
{
    const __m256i m = _mm256_set1_epi64x(mult);
    const int64_t bias = (int64_t)1 << 62;
    const __m256i add = _mm256_set1_epi64x(bias + (shift ? (int64_t)1 << (shift - 1) : 0));
    const __m256i sub = _mm256_set1_epi64x(bias >> shift);
    const __m128i count = _mm_cvtsi32_si128((int)shift);
    const __m256i hi = _mm256_set1_epi64x(clamp), lo = _mm256_set1_epi64x(-(int64_t)clamp);
    __m256i half[2];
    for (int odd = 0; odd < 2; odd++) {
        __m256i a = odd ? _mm256_srli_epi64(acc, 32) : acc;
        __m256i v = _mm256_add_epi64(_mm256_mul_epi32(a, m), add);
        v = _mm256_sub_epi64(_mm256_srl_epi64(v, count), sub);
        v = _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
        half[odd] = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
    }
    return _mm256_blend_epi32(half[0], _mm256_slli_epi64(half[1], 32), 0xAA);
}

/* The valid positions of acc, requantised, into the output planes. */
__attribute__((target("avx2")))
static void store_block(const nn_layer *l, const conv_geom *g, uint32_t ob, const int32_t *acc,
                        uint32_t h, uint32_t w, int32_t *out)
{
    const size_t run_len = g->runs * RUN;
    for (uint32_t q = 0; q < OBLOCK; q++) {
        uint32_t o = ob * OBLOCK + q;
        if (o >= l->cout)
            break;
        const int32_t mult = l->mult[o], clamp = l->clamp;
        const unsigned shift = l->shift[o];
        int32_t *dst = out + (size_t)o * h * w;
        const int32_t *src = acc + q * run_len;
        for (uint32_t y = 0; y < h; y++) {
            const int32_t *s = src + (size_t)y * g->stride;
            int32_t *d = dst + (size_t)y * w;
            uint32_t x = 0;
            for (; x + 8 <= w; x += 8) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(s + x));
                _mm256_storeu_si256((__m256i *)(d + x), requantise8(v, mult, shift, clamp));
            }
            for (; x < w; x++)
                d[x] = nn_requantise(s[x], mult, shift, clamp);
        }
    }
}
#endif

void conv_avx2(const nn_layer *l, const int32_t *in, uint32_t h, uint32_t w, int32_t *out,
               int32_t *scratch)
{
#if HAVE_X86
    conv_geom g = conv_geometry(l, h, w);
    const size_t wblock = (size_t)g.pairs * g.k * g.k * OBLOCK;
    int16_t *pairs = (int16_t *)scratch;
    int32_t *own = scratch + (size_t)g.pairs * g.plane_len; /* weights packed here */
    int32_t *acc = own + g.oblocks * wblock;
    const int32_t *weights = l->packed;
    if (!weights) {
        pack_weights(l, &g, own);
        weights = own;
    }
    pack_input(l, &g, in, h, w, pairs);
    for (uint32_t ob = 0; ob < g.oblocks; ob++) {
        int32_t bias[OBLOCK];
        for (uint32_t q = 0; q < OBLOCK; q++)
            bias[q] = ob * OBLOCK + q < l->cout ? l->bias[ob * OBLOCK + q] : 0;
        block_products(&g, pairs, weights + ob * wblock, bias, acc);
        store_block(l, &g, ob, acc, h, w, out);
    }
#else
    (void)l, (void)in, (void)h, (void)w, (void)out, (void)scratch;
#endif
}
