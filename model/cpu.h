/* cpu.h — which SIMD kernels this CPU runs (libwebp's src/dsp/cpu.c).
 *
 * Owns: the kernel enumeration and run-time CPU detection.  Nothing here
 * changes a result: every kernel computes exactly what the portable loops
 * do (tests/test_nn.c), so the choice only changes the speed.
 */
#ifndef IDFZIP_CPU_H
#define IDFZIP_CPU_H

typedef enum nn_kernel {
    NN_KERNEL_PORTABLE = 0, /* nn.c's reference loops */
    NN_KERNEL_AVX2 = 1,     /* int16 pairs through vpmaddwd (kernels/) */
    NN_KERNEL_COUNT
} nn_kernel;

/* Whether this CPU runs kernel k (the portable one always). */
int nn_kernel_supported(nn_kernel k);

/* The fastest kernel this CPU runs (NN_KERNEL_PORTABLE off x86). */
nn_kernel nn_kernel_best(void);

/* Name for reports ("portable", "avx2"). */
const char *nn_kernel_name(nn_kernel k);

#endif
