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

#endif
