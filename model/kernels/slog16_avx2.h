/* slog16_avx2.h — the AR prior's feature compression, sign(v) 16 log2(1 +
 * |v|) linear between powers of two (ar_prior.c's slog16, the reference),
 * for eight values per instruction.
 *
 * Owns: the AVX2 kernel's interface.  It gives exactly the reference's
 * integers where it serves (every |v| below SLOG16_AVX2_LIMIT) and
 * declines otherwise; test_predictor checks it against the reference.
 */
#ifndef IDFZIP_SLOG16_AVX2_H
#define IDFZIP_SLOG16_AVX2_H

#include <stdint.h>

#define SLOG16_AVX2_LIMIT (1 << 27)

/* out[k] = slog16(v[k]) for k < 8 * blocks, and 1; or 0, with out
 * untouched, when some |v[k]| >= SLOG16_AVX2_LIMIT.  Only where
 * nn_kernel_supported(NN_KERNEL_AVX2). */
int slog16_avx2(const int32_t *v, uint32_t blocks, int32_t *out);

/* The AR prior's 24 compressed features in one call, their arguments
 * formed in vectors: out[j] = slog16(floor((fixed[j] + offset) / 4) -
 * mean16), out[8 + j] = slog16(near[j]) for j < 8, out[16 + j] =
 * slog16(rest[j]).  |fixed[j] + offset| < 2^31.  Returns 0, out untouched,
 * where a value is beyond the kernel (as slog16_avx2). */
int slog16_avx2_features(const int32_t fixed[8], int32_t offset, int32_t mean16,
                         const uint32_t near[8], const int32_t rest[8], int32_t out[24]);

#endif
