/* ar_prior.h — the learned AR prior: the default model for 8-bit RGB and
 * grey since idfzip 0.5 (ar-rgb, ar-grey), with a mixture of two DLs per
 * sample since 0.6 (ar-rgb-mix, ar-grey-mix).  FORMAT.md, "AR prior
 * models", is the exact definition.
 *
 * Owns: the model type, its features and how its net's outputs become a
 * sample's prior.  The flow is the autoregressive integer coupling
 * z = x - mean(x_<i): each sample is predicted by the shared predictor
 * (predictor.h, configured as baseline-v3), and a small integer net
 * (nn.h) maps AR_PRIOR_FEATURES integer features of that prediction to a
 * mean correction and a scale index, both in 1/16 (AR_PRIOR_OUTPUTS), or
 * to two of each and two logits: a mixture of two DLs (AR_PRIOR_MIX_OUTPUTS).
 * The model is stored as an .idfw file with no flow levels and top K = 0;
 * idfw.c loads it, the registry embeds the shipped ones.
 */
#ifndef IDFZIP_AR_PRIOR_H
#define IDFZIP_AR_PRIOR_H

#include <stdint.h>

#include "model.h"
#include "nn.h"

#define AR_PRIOR_OUTPUTS 2
#define AR_PRIOR_MIX_OUTPUTS 6
#define AR_PRIOR_FEATURES 29
/* What latent_log.features records per sample: the features, then the
 * predictor's mean16 and the sample's context. */
#define AR_PRIOR_LOGGED (AR_PRIOR_FEATURES + 2)

typedef struct ar_prior_model {
    idf_model slot;        /* name, crc, tile size, code_tile: the model slot */
    uint32_t channels;     /* 1 (grey) or 3 (RGB) */
    uint32_t bit_depth;    /* 8 */
    uint32_t maxval;       /* 255 */
    uint32_t block_width;  /* the .idfw's tile size; its container tile */
    uint32_t block_height; /* groups blocks to 256 (model_group_blocks) */
    nn_net net;            /* AR_PRIOR_FEATURES -> 2 or 6, dense layers */
    void *storage;         /* owns the net's arrays (the loader's block) */
    void *kernel_storage;  /* the net's weights packed for dense_avx2 */
} ar_prior_model;

/* Finishes a loaded model: packs the net for the best SIMD kernel and fills
 * in the slot (tile size grouped to 256 as for every .idfw model).
 * IDFZIP_OK or IDFZIP_ERR_NOMEM. */
int ar_prior_finish(ar_prior_model *m, uint32_t block_width, uint32_t block_height);

/* Frees m and what it owns (m may be half-built). */
void ar_prior_free(ar_prior_model *m);

/* The AR prior's model, or NULL when m is none. */
const ar_prior_model *ar_prior_of(const idf_model *m);

/* Codes a tile with the AR prior's predictor and encoder choices but no
 * net: each sample coded with its context's DL (as baseline-v3 would) and,
 * with io->log->features, its features recorded.  For tools/ar_features,
 * which gives the trainer the features of every sample. */
int ar_prior_code_features(model_tile *t, symbol_io *io);

#endif
