/* lms_avx2.h — the NLMS predictors' arithmetic (model/predictor.c, the
 * reference) with AVX2: the two weight sets' dot products with the inputs,
 * the inputs' squared norm, and the update of both sets.
 *
 * Owns: the kernels' interface.  Arrays are LMS_KERNEL_TAPS long with zeros
 * past the real taps (a weight set and the inputs alike), so every load is
 * whole vectors.  The results are exactly the reference's integers: every
 * product and sum is formed in 64-bit lanes within the bounds the reference
 * states; test_predictor checks them against it on random states.
 */
#ifndef IDFZIP_LMS_AVX2_H
#define IDFZIP_LMS_AVX2_H

#include <stdint.h>

#define LMS_KERNEL_TAPS 12

/* dot[k] = sum_i w[k][i] in[i] for the two sets. */
void lms_dot2_avx2(const int32_t w[2][LMS_KERNEL_TAPS], const int32_t in[LMS_KERNEL_TAPS],
                   int64_t dot[2]);

/* sum_i in[i]^2. */
int64_t lms_norm_avx2(const int32_t in[LMS_KERNEL_TAPS]);

/* w[k][i] = clamp(w[k][i] + trunc(q[k] in[i] / 2^12), +-limit) for both
 * sets; |q[k]| < 2^40 and |in[i]| < 2^20 (the reference's bounds). */
void lms_step2_avx2(int32_t w[2][LMS_KERNEL_TAPS], const int32_t in[LMS_KERNEL_TAPS],
                    const int64_t q[2], int32_t limit);

#endif
