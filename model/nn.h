/* nn.h — integer neural-network inference for every learned net: the
 * flows' couplings and priors, and the AR prior's per-sample net.
 *
 * Owns: nets (sequences of nn_layer, nn_layer.h) and running them, with
 * their exact integer semantics.  Everything here
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

#include "cpu.h"
#include "kernels/nn_kernels.h"
#include "nn_layer.h"

typedef struct nn_net {
    uint32_t nlayers;
    uint32_t cin, cout;    /* of the whole net */
    int32_t in_clamp;      /* the input is clamped to [-in_clamp, in_clamp] */
    uint8_t dense_net;     /* nn_pack_net(dense): whether and how dense_avx2_net
                              serves the net (DENSE_NET_*, kernels/nn_kernels.h) */
    nn_layer layer[NN_MAX_LAYERS];
} nn_net;

/* int32 elements of scratch nn_forward needs for an h x w map (with any
 * kernel). */
size_t nn_scratch_size(const nn_net *net, uint32_t h, uint32_t w);

/* Runs the net on in (cin planes of h*w) into out (cout planes), its convs
 * with `kernel` where it serves them and the reference loops elsewhere;
 * every kernel gives the same integers.  On a 1x1 map (a net run once per
 * sample) the convs are dense layers: dense_avx2 where layer.dense is
 * packed (dense_avx2_net for the whole net where net.dense_net says so),
 * else a dense loop.  scratch holds nn_scratch_size()
 * elements; in and out may not overlap it. */
void nn_forward(const nn_net *net, const int32_t *in, uint32_t h, uint32_t w,
                int32_t *out, int32_t *scratch, nn_kernel kernel);

/* Eight runs of a net on a 1x1 map, as a batch (nets whose inputs are all
 * known at once: the AR prior's encoder): run s reads in + s * stride
 * (cin values) and writes its output o to out[o * NN_BATCH + s].  The
 * same integers as eight nn_forward calls; where dense_avx2_net serves
 * the AR priors' shape, one call of dense_avx2_net8 (a sample per lane). */
#define NN_BATCH 8
void nn_forward8(const nn_net *net, const int32_t *in, size_t stride, int32_t *out,
                 int32_t *scratch, nn_kernel kernel);

/* Packs the weights of every conv of net in the SIMD kernel's layout into
 * dst (dense: dense_avx2's, for nets run on 1x1 maps; else conv_avx2's)
 * and points the layers at them, so a loaded model packs once instead of
 * on every call.  Returns the int32 elements it takes; dst NULL: only
 * counts. */
size_t nn_pack_net(nn_net *net, int dense, int32_t *dst);

/* Multiply-accumulates per output position, for MAC/pixel reports. */
uint64_t nn_macs_per_position(const nn_net *net);

#endif
