/* sample_map.c — palette luma order and scaled samples (see sample_map.h). */
#include "sample_map.h"

#include <stdlib.h>
#include <string.h>

static uint32_t gcd(uint32_t a, uint32_t b)
{
    while (b) {
        uint32_t t = a % b;
        a = b, b = t;
    }
    return a;
}

void sample_map_scale_of(const idfzip_image *img, sample_map *map)
{
    memset(map, 0, sizeof *map);
    if (img->color_type == IDFZIP_COLOR_PALETTE || img->bit_depth < 8)
        return;
    const size_t c = img->channels, n = (size_t)img->width * img->height;
    uint32_t divisor[4] = {0, 0, 0, 0}, top[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < c; k++) {
            uint32_t s = img->samples[i * c + k];
            divisor[k] = gcd(divisor[k], s);
            top[k] = s > top[k] ? s : top[k];
        }
    uint32_t scaled = 0, coded_top = 0;
    for (size_t k = 0; k < c; k++) {
        map->scale[k] = divisor[k] ? divisor[k] : 1; /* an all-zero channel */
        scaled |= map->scale[k] > 1;
        coded_top = top[k] / map->scale[k] > coded_top ? top[k] / map->scale[k] : coded_top;
    }
    if (!scaled) {
        memset(map, 0, sizeof *map);
        return;
    }
    map->flags = SAMPLE_MAP_SCALED;
    map->coded_depth = coded_top <= 255 ? 8 : img->bit_depth;
}

int sample_map_valid(const sample_map *map, uint32_t color_type, uint32_t bit_depth,
                     uint32_t channels)
{
    if (map->flags & ~SAMPLE_MAP_FLAGS)
        return 0;
    const int palette = color_type == IDFZIP_COLOR_PALETTE;
    if ((map->flags & SAMPLE_MAP_PALETTE_LUMA) && !palette)
        return 0;
    if (!(map->flags & SAMPLE_MAP_SCALED))
        return 1;
    if (palette || bit_depth < 8 || (map->coded_depth != 8 && map->coded_depth != 16) ||
        map->coded_depth > bit_depth)
        return 0;
    const uint32_t maxval = (1u << bit_depth) - 1;
    for (uint32_t k = 0; k < channels; k++)
        if (map->scale[k] < 1 || map->scale[k] > maxval)
            return 0;
    return 1;
}

/* order[rank] = the palette index of that rank: indices sorted by luma
 * 299 R + 587 G + 114 B, ties by index (an insertion sort, stable). */
static void luma_order(const idfzip_image *img, uint8_t order[256])
{
    uint32_t luma[256];
    const uint32_t n = img->palette_size;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p = img->palette + 3 * i;
        luma[i] = 299u * p[0] + 587u * p[1] + 114u * p[2];
        uint32_t j = i;
        for (; j > 0 && luma[order[j - 1]] > luma[i]; j--)
            order[j] = order[j - 1];
        order[j] = (uint8_t)i;
    }
    for (uint32_t i = n; i < 256; i++) /* indices past the palette stay */
        order[i] = (uint8_t)i;
}

static void reorder_palette(const idfzip_image *img, const uint8_t order[256], idfzip_image *coded)
{
    uint8_t rank[256];
    for (uint32_t r = 0; r < 256; r++)
        rank[order[r]] = (uint8_t)r;
    /* entries past the tRNS are opaque; in the new order they may not
     * be last, so the coded tRNS (which no model reads) covers them all */
    for (uint32_t r = 0; r < img->palette_size; r++) {
        memcpy(coded->palette + 3 * r, img->palette + 3 * order[r], 3);
        coded->trns[r] = order[r] < img->trns_size ? img->trns[order[r]] : 255;
    }
    coded->trns_size = img->trns_size ? img->palette_size : 0;
    const size_t n = (size_t)img->width * img->height;
    for (size_t i = 0; i < n; i++)
        coded->samples[i] = rank[img->samples[i] & 255];
}

int sample_map_forward(const idfzip_image *img, const sample_map *map, idfzip_image *coded)
{
    *coded = *img;
    coded->chunks = NULL;
    coded->chunk_count = 0;
    const size_t c = img->channels, n = (size_t)img->width * img->height * c;
    coded->samples = malloc((n ? n : 1) * sizeof *coded->samples);
    if (!coded->samples)
        return IDFZIP_ERR_NOMEM;
    if (map->flags & SAMPLE_MAP_PALETTE_LUMA) {
        uint8_t order[256];
        luma_order(img, order);
        reorder_palette(img, order, coded);
        return IDFZIP_OK;
    }
    memcpy(coded->samples, img->samples, n * sizeof *coded->samples);
    if (map->flags & SAMPLE_MAP_SCALED) {
        coded->bit_depth = map->coded_depth;
        for (size_t i = 0; i < n; i++)
            coded->samples[i] = (uint16_t)(img->samples[i] / map->scale[i % c]);
    }
    return IDFZIP_OK;
}

int sample_map_inverse(const sample_map *map, idfzip_image *img)
{
    const size_t c = img->channels, n = (size_t)img->width * img->height * c;
    if (map->flags & SAMPLE_MAP_PALETTE_LUMA) {
        uint8_t order[256];
        luma_order(img, order);
        for (size_t i = 0; i < n; i++) /* an index past the palette fails png_io_validate */
            img->samples[i] = img->samples[i] < 256 ? order[img->samples[i]] : img->samples[i];
    }
    if (map->flags & SAMPLE_MAP_SCALED) {
        const uint32_t maxval = (1u << img->bit_depth) - 1;
        for (size_t i = 0; i < n; i++) {
            uint32_t s = (uint32_t)img->samples[i] * map->scale[i % c];
            if (s > maxval)
                return IDFZIP_ERR_CORRUPT;
            img->samples[i] = (uint16_t)s;
        }
    }
    return IDFZIP_OK;
}
