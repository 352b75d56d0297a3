/* composite.c — colour by one model, alpha by another (see composite.h). */
#include "composite.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct composite_model {
    idf_model slot; /* first: the slot is the model */
    uint32_t colour_channels;
    const idf_model *colour, *alpha;
    idf_model *owned[2];
} composite_model;

uint32_t composite_crc(uint32_t colour_crc, uint32_t alpha_crc)
{
    uint8_t b[8];
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(colour_crc >> (8 * i));
        b[4 + i] = (uint8_t)(alpha_crc >> (8 * i));
    }
    return (uint32_t)crc32(0L, b, sizeof b);
}

static const composite_model *composite_of(const idf_model *m)
{
    return (const composite_model *)m;
}

static int composite_serves(const idf_model *slot, const model_image_kind *kind)
{
    const composite_model *m = composite_of(slot);
    if (kind->channels != m->colour_channels + 1 || kind->color_type == IDFZIP_COLOR_PALETTE)
        return 0;
    model_image_kind colour = *kind, alpha = *kind;
    colour.channels = m->colour_channels;
    colour.color_type = m->colour_channels == 3 ? IDFZIP_COLOR_RGB : IDFZIP_COLOR_GRAY;
    alpha.channels = 1;
    alpha.color_type = IDFZIP_COLOR_GRAY;
    return m->colour->serves(m->colour, &colour) && m->alpha->serves(m->alpha, &alpha);
}

/* The colour planes come first in a tile (plane c at samples + c*w*h),
 * so each part is a tile of its own over the same samples. */
static int composite_code_tile(const idf_model *slot, model_tile *t, symbol_io *io)
{
    const composite_model *m = composite_of(slot);
    if (t->channels != m->colour_channels + 1)
        return io->enc ? IDFZIP_ERR_UNSUPPORTED : IDFZIP_ERR_CORRUPT;
    model_tile colour = *t, alpha = *t;
    colour.channels = m->colour_channels;
    alpha.channels = 1;
    alpha.samples = t->samples + (size_t)m->colour_channels * t->width * t->height;
    int st = m->colour->code_tile(m->colour, &colour, io);
    return st == IDFZIP_OK ? m->alpha->code_tile(m->alpha, &alpha, io) : st;
}

/* Frees the loaded models a pair owns (either may be NULL). */
static void release_owned(idf_model *const owned[2])
{
    for (int i = 0; i < 2; i++)
        if (owned[i] && owned[i]->destroy)
            owned[i]->destroy(owned[i]);
}

static void composite_destroy(idf_model *slot)
{
    composite_model *m = (composite_model *)slot;
    release_owned(m->owned);
    free(m);
}

int composite_create(const char *name, uint32_t colour_channels, const idf_model *colour,
                     idf_model *colour_owned, const idf_model *alpha, idf_model *alpha_owned,
                     idf_model **out)
{
    *out = NULL;
    composite_model *m = calloc(1, sizeof *m);
    if (!m) {
        idf_model *const owned[2] = {colour_owned, alpha_owned};
        release_owned(owned);
        return IDFZIP_ERR_NOMEM;
    }
    m->owned[0] = colour_owned, m->owned[1] = alpha_owned;
    if ((colour_channels != 1 && colour_channels != 3) ||
        colour->tile_width != alpha->tile_width || colour->tile_height != alpha->tile_height ||
        strlen(name) > IDFZIP_MODEL_NAME_MAX) {
        composite_destroy(&m->slot);
        return IDFZIP_ERR_MODEL;
    }
    strncpy(m->slot.name, name, IDFZIP_MODEL_NAME_MAX);
    m->slot.crc = composite_crc(colour->crc, alpha->crc);
    m->slot.tile_width = colour->tile_width;
    m->slot.tile_height = colour->tile_height;
    m->slot.family = MODEL_COMPOSITE;
    m->slot.macs_per_pixel = colour->macs_per_pixel + alpha->macs_per_pixel;
    m->slot.serves = composite_serves;
    m->slot.code_tile = composite_code_tile;
    m->slot.destroy = composite_destroy;
    m->colour_channels = colour_channels;
    m->colour = colour, m->alpha = alpha;
    *out = &m->slot;
    return IDFZIP_OK;
}
