/* nn_kernels.h — SIMD kernels for model/nn.c's convolution, one per
 * instruction set; which one runs is chosen by model/cpu.h.
 *
 * Owns: the kernel interface.  A kernel computes exactly
 * what nn.h defines for NN_CONV; the portable loops in nn.c are the
 * reference, and tests/test_nn.c checks every kernel against them on
 * random layers.  Results are bit-identical by construction: every partial
 * sum of an accumulator is an exact int32 (the .idfw loader bounds them
 * below 2^31), so the order in which the products are added cannot change
 * the sum, and the requantisation is the shared nn_requantise().
 */
#ifndef IDFZIP_NN_KERNELS_H
#define IDFZIP_NN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../nn_layer.h"

/* The AVX2 kernel works on int16 inputs: it serves a conv whose input
 * magnitudes are at most this. */
#define NN_KERNEL_INT16_BOUND 32767

/* int32 elements conv_avx2_pack writes for this layer. */
size_t conv_avx2_packed_size(const nn_layer *l);

/* The layer's weights in the order conv_avx2 reads them, so a loaded
 * model can pack once (nn_layer.packed) instead of on every call. */
void conv_avx2_pack(const nn_layer *l, int32_t *packed);

/* int32 elements of scratch conv_avx2 needs for this layer on h x w. */
size_t conv_avx2_scratch(const nn_layer *l, uint32_t h, uint32_t w);

/* NN_CONV of l on in (cin planes of h x w, |values| <= 32767) into out
 * (cout planes), identical to the reference.  Only where
 * nn_kernel_supported(NN_KERNEL_AVX2). */
void conv_avx2(const nn_layer *l, const int32_t *in, uint32_t h,
               uint32_t w, int32_t *out, int32_t *scratch);

/* A conv at a 1x1 map (nn_forward on one position): int32 elements of its packed
 * weights (nn_layer.dense), the packing, and the layer on in (cin values,
 * |values| <= 32767) into out, identical to the reference.  Only where
 * nn_kernel_supported(NN_KERNEL_AVX2), and only with l->dense packed. */
size_t dense_avx2_packed_size(const nn_layer *l);
void dense_avx2_pack(const nn_layer *l, int32_t *packed);
void dense_avx2(const nn_layer *l, const int32_t *in, int32_t *out);

/* A whole net at one position in one call (the AR prior's, run once per
 * sample): its input clamped to in_clamp, then its n layers, with no
 * tensors in memory between them.  Serves nets of NN_CONV layers packed
 * for dense_avx2 and NN_RELU layers, each at most DENSE_NET_MAX_WIDTH
 * wide, whose every conv input is bounded by NN_KERNEL_INT16_BOUND;
 * dense_avx2_net_serves says whether it does.  Identical to the reference:
 * the same sums and requantisation as dense_avx2.  Only where
 * nn_kernel_supported(NN_KERNEL_AVX2). */
#define DENSE_NET_MAX_WIDTH 64
enum { DENSE_NET_NONE = 0, DENSE_NET_GENERAL = 1, DENSE_NET_AR_SHAPE = 2 };
/* DENSE_NET_NONE where the kernel does not serve the net, DENSE_NET_AR_SHAPE
 * for the AR priors' shape (29 or 30 -> 16 -> ReLU -> 16 -> ReLU -> at most
 * 8: unrolled) where every conv's mult <= 2^(shift-1) (its results fit
 * int32 before the clamp), else DENSE_NET_GENERAL.  Pass the answer to
 * dense_avx2_net. */
int dense_avx2_net_serves(const nn_layer *layers, uint32_t n, uint32_t cin, int32_t in_clamp);
void dense_avx2_net(const nn_layer *layers, uint32_t n, uint32_t cin, int32_t in_clamp,
                    int kind, const int32_t *in, int32_t *out);
/* Eight runs of a DENSE_NET_AR_SHAPE net at once: sample s's inputs at
 * in + s * stride, its output o at out[o * 8 + s].  The same integers as
 * eight calls of dense_avx2_net. */
void dense_avx2_net8(const nn_layer *layers, uint32_t cin, int32_t in_clamp, const int32_t *in,
                     size_t stride, int32_t *out);

#endif
