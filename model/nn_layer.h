/* nn_layer.h — one layer of an integer net and the requantisation every
 * implementation of it shares (nn.c's reference loops and the SIMD kernels
 * in kernels/); nn.h gives the exact semantics of each op.
 *
 * Owns: the layer type and nn_requantise.  Below both nn.c and the
 * kernels, so neither includes the other.
 */
#ifndef IDFZIP_NN_LAYER_H
#define IDFZIP_NN_LAYER_H

#include <stdint.h>

#include "../common/int_math.h"

#define NN_MAX_LAYERS 64
#define NN_MAX_CHANNELS 1024
#define NN_MAX_CLAMP (1 << 20)
#define NN_MAX_MULT (1 << 24)
#define NN_MAX_SHIFT 40

enum nn_op { NN_CONV = 1, NN_RELU = 2, NN_LEAKY = 3, NN_ADD = 4 };

typedef struct nn_layer {
    uint8_t op;
    uint8_t kernel;        /* conv: 1 or 3 */
    uint8_t leaky_shift;   /* leaky: negative slope 2^-leaky_shift */
    uint16_t src;          /* add: tensor index to add (< this layer's index + 1) */
    uint32_t cin, cout;    /* channels in and out (act/add: equal) */
    int32_t clamp;         /* conv/add: outputs lie in [-clamp, clamp] */
    const int8_t *weight;  /* conv: [cout][cin][kernel][kernel] */
    const int32_t *bias;   /* conv: [cout], in accumulator units */
    const int32_t *mult;   /* conv: [cout], 0 .. NN_MAX_MULT-1 */
    const uint8_t *shift;  /* conv: [cout], 0 .. NN_MAX_SHIFT */
    const int32_t *packed; /* conv, optional: weights in the SIMD kernel's order
                              (conv_avx2_pack); NULL: packed on each call */
    const int32_t *dense;  /* conv, optional: weights for dense_avx2 (nets run on
                              1x1 maps); NULL: not packed for it */
} nn_layer;

/* The conv requantisation of nn.h (NN_CONV), shared by every kernel:
 * clamp(floor((acc * mult + round) / 2^shift), +-clamp). */
static inline int32_t nn_requantise(int32_t acc, int32_t mult, unsigned shift,
                                    int32_t clamp)
{
    const int64_t round = shift ? (int64_t)1 << (shift - 1) : 0;
    const int64_t v = floor_shift((int64_t)acc * mult + round, shift);
    return v > clamp ? clamp : v < -(int64_t)clamp ? -clamp : (int32_t)v;
}

#endif
