/* png_rules.c — what the PNG specification allows (see png_rules.h). */
#include "png_rules.h"

#include <string.h>

#include "png_io.h"

const uint8_t png_signature[8] = {137, 80, 78, 71, 13, 10, 26, 10};

static int is_ascii_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The PNG spec restricts chunk type bytes to ASCII letters. */
int png_chunk_type_is_valid(const char type[4])
{
    for (int i = 0; i < 4; i++)
        if (!is_ascii_letter(type[i]))
            return 0;
    return 1;
}

int png_io_chunk_is_copied(const char type[4])
{
    if (type == NULL || !png_chunk_type_is_valid(type))
        return 0;
    /* Bit 5 of the first byte (lower case) marks an ancillary chunk. */
    if (!(type[0] >= 'a' && type[0] <= 'z'))
        return 0;
    return memcmp(type, "tRNS", 4) != 0;
}

/* Channels implied by a PNG colour type, 0 for an unknown type. */
uint32_t png_channels_of_color_type(uint32_t color_type)
{
    switch (color_type) {
    case IDFZIP_COLOR_GRAY: return 1;
    case IDFZIP_COLOR_RGB: return 3;
    case IDFZIP_COLOR_PALETTE: return 1;
    case IDFZIP_COLOR_GRAY_ALPHA: return 2;
    case IDFZIP_COLOR_RGBA: return 4;
    default: return 0;
    }
}

/* The bit depth / colour type pairs allowed by the PNG spec (table 11.1). */
int png_depth_is_legal(uint32_t color_type, uint32_t bit_depth)
{
    int sub_byte = bit_depth == 1 || bit_depth == 2 || bit_depth == 4;
    switch (color_type) {
    case IDFZIP_COLOR_GRAY: return sub_byte || bit_depth == 8 || bit_depth == 16;
    case IDFZIP_COLOR_PALETTE: return sub_byte || bit_depth == 8;
    case IDFZIP_COLOR_RGB:
    case IDFZIP_COLOR_GRAY_ALPHA:
    case IDFZIP_COLOR_RGBA: return bit_depth == 8 || bit_depth == 16;
    default: return 0;
    }
}

/* Samples in the image, or 0 when width*height*channels (as uint16_t) would
 * not fit in memory at all; callers have already ensured every factor > 0. */
size_t png_sample_count_or_zero(uint32_t width, uint32_t height,
                                   uint32_t channels)
{
    uint64_t pixels = (uint64_t)width * height;
    if (pixels > SIZE_MAX / channels / sizeof(uint16_t))
        return 0;
    return (size_t)pixels * channels;
}

static int header_valid(const idfzip_image *img)
{
    if (img->width == 0 || img->height == 0 || img->width > PNG_UINT31_MAX ||
        img->height > PNG_UINT31_MAX)
        return 0;
    if (!png_depth_is_legal(img->color_type, img->bit_depth) ||
        img->channels != png_channels_of_color_type(img->color_type))
        return 0;
    /* rows must fit in memory; the filter byte needs one more */
    return img->samples != NULL &&
           png_sample_count_or_zero(img->width, img->height, img->channels) != 0;
}

/* PLTE: required for palette images (at most 2^depth entries), optional
 * suggested palette for RGB/RGBA, forbidden for grey.  tRNS lengths as the
 * spec fixes them; never with an alpha channel. */
static int palette_and_trns_valid(const idfzip_image *img)
{
    uint32_t ct = img->color_type;
    if (img->palette_size > 256 || img->trns_size > 256)
        return 0;
    if (ct == IDFZIP_COLOR_PALETTE) {
        if (img->palette_size == 0 ||
            img->palette_size > (1u << img->bit_depth))
            return 0;
        return img->trns_size <= img->palette_size;
    }
    if ((ct == IDFZIP_COLOR_GRAY || ct == IDFZIP_COLOR_GRAY_ALPHA) &&
        img->palette_size != 0)
        return 0;
    if (ct == IDFZIP_COLOR_GRAY)
        return img->trns_size == 0 || img->trns_size == 2;
    if (ct == IDFZIP_COLOR_RGB)
        return img->trns_size == 0 || img->trns_size == 6;
    return img->trns_size == 0;
}

/* Chunks must stand where a PNG can put them, in file order: places never
 * go back, and with no PLTE there is no "between PLTE and IDAT" (such a
 * chunk would be read back as standing before PLTE).  Otherwise an image
 * kept as a PNG (stored mode) would not come back equal. */
static int chunks_valid(const idfzip_image *img)
{
    if (img->chunk_count > 0 && img->chunks == NULL)
        return 0;
    uint8_t place = IDFZIP_CHUNK_BEFORE_PLTE;
    for (uint32_t i = 0; i < img->chunk_count; i++) {
        const idfzip_chunk *c = &img->chunks[i];
        if (!png_io_chunk_is_copied(c->type) ||
            c->where > IDFZIP_CHUNK_AFTER_IDAT || c->where < place ||
            (c->where == IDFZIP_CHUNK_BEFORE_IDAT && img->palette_size == 0) ||
            c->size > PNG_UINT31_MAX || (c->size > 0 && c->data == NULL))
            return 0;
        place = c->where;
    }
    return 1;
}

/* Every sample below 2^depth; palette indices inside the palette. */
static int samples_valid(const idfzip_image *img)
{
    size_t n = png_sample_count_or_zero(img->width, img->height, img->channels);
    uint32_t limit = img->color_type == IDFZIP_COLOR_PALETTE
                         ? img->palette_size
                         : (1u << img->bit_depth);
    if (img->bit_depth == 16)
        return 1; /* every uint16_t value is a 16-bit sample */
    for (size_t i = 0; i < n; i++)
        if (img->samples[i] >= limit)
            return 0;
    return 1;
}

int png_image_writable(const idfzip_image *img)
{
    return img != NULL && header_valid(img) && palette_and_trns_valid(img) &&
           chunks_valid(img) && samples_valid(img);
}

int png_io_validate(const idfzip_image *img)
{
    return png_image_writable(img) ? IDFZIP_OK : IDFZIP_ERR_ARG;
}

size_t png_samples_to_bytes(const uint16_t *samples, size_t n, uint32_t bit_depth, uint8_t *out)
{
    if (bit_depth == 16) {
        for (size_t i = 0; i < n; i++) {
            out[2 * i] = (uint8_t)(samples[i] >> 8);
            out[2 * i + 1] = (uint8_t)samples[i];
        }
        return 2 * n;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)samples[i];
    return n;
}
