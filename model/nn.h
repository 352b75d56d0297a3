/* nn.h — integer neural-network inference for the flow's coupling and
 * prior networks.
 *
 * Owns: the layer types and their exact integer semantics.  Everything here
 * is integer arithmetic with one rounding rule, so every compiler, flag set
 * and thread count computes the same outputs; the trainer
 * (tools/train) emulates exactly this.
 *
 * Tensors are planar int32: channel c of an h x w map starts at c*h*w.
 * A net is a sequence of layers; tensor 0 is the net input (clamped to
 * +-in_clamp), tensor i+1 the output of layer i, the last one the output.
 *
 *   NN_CONV  kernel 1 or 3, stride 1, zero padding ("same"): for output
 *            channel o, acc = bias[o] + sum w[o][i][ky][kx] * in[i][y+ky-r][x+kx-r]
 *            (int8 weights, int32 accumulation, r = kernel/2), then
 *            out = clamp(floor((acc * mult[o] + round) / 2^shift[o]), +-clamp)
 *            with round = 2^(shift-1) (0 when shift = 0) and 64-bit product.
 *            A dense layer is a 1x1 conv on a 1x1 map.
 *   NN_RELU  out = max(in, 0)
 *   NN_LEAKY out = in >= 0 ? in : floor(in / 2^shift)
 *   NN_ADD   out = clamp(in + tensor[src], +-clamp)   (residual connection)
 *
 * The loader (idfw.c) guarantees that no accumulator can overflow:
 * k*k*cin * (input bound) * 128 + |bias| < 2^31, mult < 2^24, shift <= 40.
 */
#ifndef IDFZIP_NN_H
#define IDFZIP_NN_H

#include <stddef.h>
#include <stdint.h>

#include "../common/int_math.h"
#include "kernels/nn_kernels.h"

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

typedef struct nn_net {
    uint32_t nlayers;
    uint32_t cin, cout;    /* of the whole net */
    int32_t in_clamp;      /* the input is clamped to [-in_clamp, in_clamp] */
    nn_layer layer[NN_MAX_LAYERS];
} nn_net;

/* int32 elements of scratch nn_forward needs for an h x w map (with any
 * kernel). */
size_t nn_scratch_size(const nn_net *net, uint32_t h, uint32_t w);

/* Runs the net on in (cin planes of h*w) into out (cout planes), its convs
 * with `kernel` where it serves them and the reference loops elsewhere;
 * every kernel gives the same integers.  On a 1x1 map (a net run once per
 * sample) the convs are dense layers: dense_avx2 where layer.dense is
 * packed, else a dense loop.  scratch holds nn_scratch_size()
 * elements; in and out may not overlap it. */
void nn_forward(const nn_net *net, const int32_t *in, uint32_t h, uint32_t w,
                int32_t *out, int32_t *scratch, nn_kernel kernel);

/* Multiply-accumulates per output position, for MAC/pixel reports. */
uint64_t nn_macs_per_position(const nn_net *net);

/* The conv requantisation of nn.h, shared by every kernel:
 * clamp(floor((acc * mult + round) / 2^shift), +-clamp). */
static inline int32_t nn_requantise(int32_t acc, int32_t mult, unsigned shift,
                                    int32_t clamp)
{
    const int64_t round = shift ? (int64_t)1 << (shift - 1) : 0;
    const int64_t v = floor_shift((int64_t)acc * mult + round, shift);
    return v > clamp ? clamp : v < -(int64_t)clamp ? -clamp : (int32_t)v;
}

#endif
