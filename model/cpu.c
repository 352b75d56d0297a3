/* cpu.c — run-time CPU detection for the SIMD kernels (see cpu.h). */
#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

int nn_kernel_supported(nn_kernel k)
{
    if (k == NN_KERNEL_PORTABLE)
        return 1;
#if HAVE_X86 && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (k == NN_KERNEL_AVX2)
        return __builtin_cpu_supports("avx2");
#endif
    return 0;
}

nn_kernel nn_kernel_best(void)
{
    for (int k = NN_KERNEL_COUNT; k-- > 1;)
        if (nn_kernel_supported((nn_kernel)k))
            return (nn_kernel)k;
    return NN_KERNEL_PORTABLE;
}

const char *nn_kernel_name(nn_kernel k)
{
    static const char *const names[NN_KERNEL_COUNT] = {"portable", "avx2"};
    return (unsigned)k < NN_KERNEL_COUNT ? names[k] : "unknown";
}

