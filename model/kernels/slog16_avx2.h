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

/* The AR prior's 24 compressed features in one call, their arguments
 * formed in vectors (only where nn_kernel_supported says AVX2):
 * out[j] = slog16(floor((fixed[j] + offset) / 4) - mean16),
 * out[8 + j] = slog16(near[j]) and out[16 + j] = slog16(rest[j]), j < 8.  |fixed[j] + offset| < 2^31.  Returns 0, out untouched,
 * where some |value| is SLOG16_AVX2_LIMIT or more (then the reference
 * serves). */
int slog16_avx2_features(const int32_t fixed[8], int32_t offset, int32_t mean16,
                         const uint32_t near[8], const int32_t rest[8], int32_t out[24]);

#endif
