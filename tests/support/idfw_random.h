/* idfw_random.h — builds .idfw model files from an architecture description
 * and seeded random weights, for tests and benchmarks (not the library).
 *
 * Owns: the presets of the test/benchmark architectures and the weight
 * generators.  The same (arch, seed) always gives the same bytes.
 */
#ifndef IDFZIP_IDFW_RANDOM_H
#define IDFZIP_IDFW_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#include "../../model/ar_prior.h"
#include "../../model/flow.h"

typedef struct idfw_arch {
    const char *name;
    uint32_t channels, bit_depth, maxval, tile_w, tile_h, initial_squeezes, nlevels;
    struct {
        uint8_t squeeze, factor_out, kind; /* factor_out 2: checkerboard */
        uint32_t ncouplings;
    } level[FLOW_MAX_LEVELS];
    uint32_t width;      /* hidden channels */
    uint32_t hidden;     /* hidden conv layers, each followed by an activation */
    uint8_t kernel;      /* 1 or 3 */
    uint8_t leaky_shift; /* 0: ReLU, else leaky */
    int residual;        /* add residual connections between equal-width hidden layers */
    int weight_mode;     /* 0 all zero (identity flow), 1 small random,
                            2 extreme (int8 +-127/-128, large mults: heavy clamping) */
    int perm_mode;       /* 0 flip (reverse), 1 seeded shuffle */
    uint32_t top_components; /* mixture components of the top prior (0 or 1: one DL) */
    int ar;              /* the AR prior instead of the top prior: top K = 0 and one net
                            AR_PRIOR_FEATURES -> ar_outputs (width, hidden, kernel, activation
                            and residual as above); valid with nlevels 0, kernel 1, 8-bit RGB */
    uint32_t ar_outputs; /* 2 (one DL) or 6 (a mixture of two); 0 means 2 */
} idfw_arch;

/* The AR net's output count of a (2 unless ar_outputs says otherwise). */
static inline uint32_t idfw_ar_outputs(const idfw_arch *a) { return a->ar_outputs ? a->ar_outputs : 2; }

enum { IDFW_WEIGHTS_ZERO = 0, IDFW_WEIGHTS_SMALL = 1, IDFW_WEIGHTS_EXTREME = 2 };
enum { IDFW_PERM_FLIP = 0, IDFW_PERM_SHUFFLE = 1 };

/* Writes the model file for a into *out (malloc'ed, *size bytes).
 * Returns 0, or -1 when out of memory or when a cannot be written at all
 * (a count too large for its field, more than FLOW_MAX_LEVELS levels, a net
 * no clamp can keep within the accumulator bound).  An arch that is
 * writable but invalid (zero couplings, factor-out on the last level, odd
 * channel splits ...) is written as described, so tests can check that the
 * loader refuses it. */
int idfw_build_random(const idfw_arch *a, uint64_t seed, uint8_t **out, size_t *size);

/* Fills *a with the named preset ("tiny-rgb", "tiny-grey", "digits-bi",
 * "digits-quad", "tiny-rgb-mix", "tiny-rgb-checker", "rgb-64x8", "tiny-ar",
 * "tiny-ar-grey").
 * Returns 0, or -1 for an unknown name. */
int idfw_arch_preset(const char *name, idfw_arch *a);

/* The i-th preset's name, or NULL past the last, so callers can iterate. */
const char *idfw_preset_name(size_t i);

#endif
