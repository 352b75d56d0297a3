/* flow.h — a learned multi-scale integer discrete flow (Tomczak ch. 3,
 * Hoogeboom et al. 2019) and its prior, the optional models of weights/
 * (the defaults are AR priors, ar_prior.h): the model type,
 * the forward and inverse maps, and the model-slot implementation.
 *
 * Owns: the flow's structure (squeeze, couplings, permutations, levels,
 * factor-out, priors) and its exact integer semantics:
 *
 *   squeeze      (C, H, W) -> (4C, H/2, W/2), out[4c + 2dy + dx][i][j] =
 *                in[c][2i+dy][2j+dx]   (PyTorch's pixel_unshuffle order)
 *   translation  t = floor((net_out + 8) / 16): nets end in 1/16 units
 *   bipartite    C even; a = channels [0, C/2), b = [C/2, C);
 *                y_a = x_a, y_b = x_b + t(x_a)
 *   quadripartite C divisible by 4; parts k = channels [kC/4, (k+1)C/4);
 *                y_0 = x_0 + t_0(x_1, x_2, x_3), y_1 = x_1 + t_1(y_0, x_2, x_3),
 *                y_2 = x_2 + t_2(y_0, y_1, x_3), y_3 = x_3 + t_3(y_0, y_1, y_2)
 *                (a net's input is the other three parts, in part order)
 *   permutation  after each coupling, out[i] = in[perm[i]]
 *   factor-out   at the end of a level with factor_out set, channels
 *                [0, C/2) leave as latents z; the prior net maps the rest
 *                h (C/2 channels) to 2*(C/2) channels: first the means of
 *                z in 1/16 (clamped to +-2^20), then the scale indices in
 *                1/16 (index = clamp(floor((out + 8) / 16), 0, 95))
 *   checkerboard factor-out (factor_out = 2 in the .idfw): z's positions
 *                with (row + column) even, the anchors, take their params
 *                from the prior net of h as above; the others from a second
 *                net, prior2, whose input is C channels: h, then z with
 *                every non-anchor position set to 0 (so each non-anchor
 *                sees its decoded neighbours)
 *   top prior    what is left after the last level: per channel a constant
 *                mean (1/16) and scale index, or a mixture of K such DLs
 *                with integer weights (coded through a per-channel table;
 *                see dl_mixture_table in rans/dl_table.h)
 *
 * Coding order (so the decoder can invert level by level): the top latents,
 * then z of the last factor-out level, ..., then z of level 0; inside a
 * latent tensor channel by channel, each in raster order (a checkerboard
 * level: first every channel's anchors, then every channel's others).
 *
 * The flow works on blocks (the .idfw's tile size); a container tile groups
 * blocks (about 256x256 pixels) into one rANS stream, so small blocks such
 * as the 8x8 digits do not each pay for coder state and a tile entry.
 * A block whose size is not a multiple of the flow's alignment (2 to the
 * number of squeezes; only at the image's right and bottom edges) has its
 * flow region rounded down; the strips left over are coded by
 * baseline-v1.
 */
#ifndef IDFZIP_FLOW_H
#define IDFZIP_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "nn.h"

#define FLOW_MAX_LEVELS 8
#define FLOW_MAX_COUPLINGS 64
#define FLOW_MAX_COMPONENTS 8
#define FLOW_WEIGHT_ONE (1u << 15) /* mixture weights sum to this */
#define FLOW_BIPARTITE 2
#define FLOW_QUADRIPARTITE 4

typedef struct flow_coupling {
    uint8_t kind;           /* FLOW_BIPARTITE or FLOW_QUADRIPARTITE */
    const uint16_t *perm;   /* channels entries, a permutation */
    nn_net net[4];          /* bipartite uses net[0] */
} flow_coupling;

typedef struct flow_level {
    uint8_t squeeze;        /* squeeze at the start of the level */
    uint8_t factor_out;     /* factor out half of the channels at its end */
    uint32_t channels;      /* channels inside the level (after squeeze) */
    uint32_t ncouplings;
    flow_coupling coupling[FLOW_MAX_COUPLINGS];
    nn_net prior;           /* factor_out only */
    uint8_t checkerboard;   /* factor_out: two passes, prior2 for the rest */
    nn_net prior2;          /* checkerboard only: (h, anchors) -> params */
} flow_level;

typedef struct flow_model {
    idf_model slot;         /* name, crc, tile size, code_tile: the model slot */
    uint32_t block_width;   /* the flow's unit (the .idfw "tile"): nets see */
    uint32_t block_height;  /* one block, zero-padded at its borders */
    uint32_t image_channels;
    uint32_t bit_depth;     /* of the images it serves (8 for RGB/grey) */
    uint32_t maxval;        /* samples it serves lie in 0..maxval */
    uint32_t initial_squeezes;
    uint32_t nlevels;
    flow_level level[FLOW_MAX_LEVELS];
    uint32_t top_channels;
    uint32_t top_components;   /* K: 1 a DL per channel, > 1 a mixture */
    const int32_t *top_mean16; /* [channel][K] */
    const int32_t *top_scale;  /* [channel][K] */
    const uint16_t *top_weight;/* [channel][K], summing to FLOW_WEIGHT_ONE */
    void *storage;          /* owns every array above */
    /* K > 1: one frequency table per channel over values lo..lo+nsym-2,
     * the last symbol an escape (built by flow_build_top_tables). */
    freq_table *top_table;
    int32_t *top_lo;
    void *top_storage;
    void *kernel_storage;   /* conv weights pre-packed for the SIMD kernel */
} flow_model;

/* Builds the mixture tables of the top prior (nothing to do for K = 1):
 * IDFZIP_OK or IDFZIP_ERR_NOMEM. */
int flow_build_top_tables(flow_model *m);
void flow_free_top_tables(flow_model *m);

/* Packs every conv's weights for the best SIMD kernel this CPU runs (none
 * when it runs only the portable loops): IDFZIP_OK or IDFZIP_ERR_NOMEM.  Free
 * with flow_free_kernels only when freeing the model. */
int flow_pack_kernels(flow_model *m);
void flow_free_kernels(flow_model *m);

/* Spatial alignment of the flow region: 2^(initial + level squeezes). */
uint32_t flow_alignment(const flow_model *m);

/* Multiply-accumulates per image pixel of the whole model. */
uint64_t flow_macs_per_pixel(const flow_model *m);

/* Fills in m->slot so the model plugs into the codec: the block size is
 * taken from slot.tile_width/height as loaded, the container tile groups
 * blocks (model_group_blocks). */
void flow_model_bind(flow_model *m);

/* The flow of a model, or NULL when it is none. */
const flow_model *flow_model_of(const idf_model *m);

/* Frees m and what it owns (m may be half-built). */
void flow_model_free(flow_model *m);

/* Forward then inverse of the flow alone on planes x (image_channels x h x
 * w, h and w multiples of the alignment), for tests: IDFZIP_OK when the
 * inverse gives back x exactly (IDFZIP_ERR_CORRUPT when not, NOMEM); latents_out (optional) receives the top
 * latents.  Nets run with `kernel`. */
int flow_check_inverse(const flow_model *m, const int32_t *x, uint32_t h, uint32_t w,
                       int32_t *latents_out, nn_kernel kernel);

#endif
