/* test_util.h — a minimal test harness shared by the unit tests.
 *
 * Each test program calls CHECK(cond, fmt, ...) as often as it likes and ends
 * main with `return test_report("name");`, which prints one closing line
 * "name: N passed, N failed" and returns non-zero if anything failed.
 * A deterministic PRNG (splitmix64) makes random tests reproducible.
 */
#ifndef IDFZIP_TEST_UTIL_H
#define IDFZIP_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>

typedef struct test_counts {
    long passed, failed;
} test_counts;

static test_counts test_counts_global; /* per test program; tests only */

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            test_counts_global.passed++;                                   \
        } else {                                                           \
            test_counts_global.failed++;                                   \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,         \
                    __LINE__, #cond);                                      \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

static inline int test_report(const char *name)
{
    printf("%s: %ld passed, %ld failed\n", name, test_counts_global.passed,
           test_counts_global.failed);
    return test_counts_global.failed ? 1 : 0;
}

static inline uint64_t test_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) for n >= 1 (tiny modulo bias is fine for tests). */
static inline uint32_t test_rand_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(test_rand(s) % n);
}

#endif
