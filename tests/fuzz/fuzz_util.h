/* fuzz_util.h — small helpers shared by the libFuzzer targets in tests/fuzz/
 * (test code only, never linked into the library).
 *
 * Owns: little-endian field reads on fuzzer buffers (writes: common/bytes.h), the fixed random flow
 * models the targets decode or code with, and fuzz_fail(), which reports a
 * broken invariant and aborts so that libFuzzer records the input.
 */
#ifndef IDFZIP_FUZZ_UTIL_H
#define IDFZIP_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../common/bytes.h"
#include "../../include/idfzip.h"
#include "../support/idfw_random.h"

/* Pixel limit of every target: large enough for the seeds, small enough
 * that a hostile header cannot make a single input slow. */
#define FUZZ_MAX_PIXELS ((uint64_t)1 << 20)

static inline uint32_t fuzz_get_le(const uint8_t *p, unsigned bytes)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

/* A broken invariant: say which, then abort so libFuzzer keeps the input. */
static inline void fuzz_fail(const char *what, int status)
{
    fprintf(stderr, "fuzz invariant broken: %s (status %d: %s)\n", what, status,
            idfzip_error_string(status));
    abort();
}

/* .idfw bytes of a random model from a tests/support/idfw_random.c preset.  The
 * seed is fixed, so every run (and every crash reproduction) sees the same
 * model; the preset name is also the model name stored in .idf files. */
typedef struct fuzz_model {
    uint8_t *bytes;
    size_t size;
} fuzz_model;

static inline fuzz_model fuzz_build_model(const char *preset)
{
    fuzz_model m = {NULL, 0};
    idfw_arch a;
    if (idfw_arch_preset(preset, &a) != 0 || idfw_build_random(&a, 1, &m.bytes, &m.size) != 0) {
        fprintf(stderr, "fuzz: cannot build the %s model\n", preset);
        abort();
    }
    return m;
}

#endif
