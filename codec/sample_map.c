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
            if (divisor[k] != 1) /* once 1, always 1: no division per sample */
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

/* Whether order[0 .. n-1] holds each of 0 .. n-1 once. */
static int is_permutation(const uint8_t *order, uint32_t n)
{
    uint8_t seen[256] = {0};
    for (uint32_t r = 0; r < n; r++) {
        if (order[r] >= n || seen[order[r]])
            return 0;
        seen[order[r]] = 1;
    }
    return 1;
}

int sample_map_valid(const sample_map *map, uint32_t color_type, uint32_t bit_depth,
                     uint32_t channels, uint32_t palette_size)
{
    if (map->flags & ~SAMPLE_MAP_FLAGS)
        return 0;
    const int palette = color_type == IDFZIP_COLOR_PALETTE;
    if ((map->flags & SAMPLE_MAP_PALETTE) && !palette)
        return 0;
    if ((map->flags & SAMPLE_MAP_PALETTE) == SAMPLE_MAP_PALETTE)
        return 0; /* one order or the other */
    if ((map->flags & SAMPLE_MAP_PALETTE_ORDER) && !is_permutation(map->order, palette_size))
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

/* A sort key of a palette entry: w.r R + w.g G + w.b B. */
typedef struct palette_key {
    uint32_t r, g, b;
} palette_key;

/* The decoder's order: luma, 299 R + 587 G + 114 B. */
static const palette_key LUMA = {299, 587, 114};

/* order[rank] = the palette index of that rank: indices sorted by key,
 * ties by index (an insertion sort, stable). */
static void keyed_order(const idfzip_image *img, palette_key k, uint8_t order[256])
{
    uint32_t key[256];
    const uint32_t n = img->palette_size;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p = img->palette + 3 * i;
        key[i] = k.r * p[0] + k.g * p[1] + k.b * p[2];
        uint32_t j = i;
        for (; j > 0 && key[order[j - 1]] > key[i]; j--)
            order[j] = order[j - 1];
        order[j] = (uint8_t)i;
    }
    for (uint32_t i = n; i < 256; i++) /* indices past the palette stay */
        order[i] = (uint8_t)i;
}

static void luma_order(const idfzip_image *img, uint8_t order[256])
{
    keyed_order(img, LUMA, order);
}

/* 16 log2(1 + v), linear between powers of two (the AR features' L). */
static uint32_t log2_16(uint32_t v)
{
    uint32_t u = v + 1, e = 0;
    while ((u >> e) > 1)
        e++;
    return 16 * e + ((16 * u) >> e) - 16;
}

/* The estimate that chooses an order: the sum of log2_16 of the median
 * predictor's misses on the ranks, in 1/16 bit. */
static uint64_t order_cost(const idfzip_image *img, const uint8_t order[256])
{
    uint8_t rank[256];
    for (uint32_t r = 0; r < 256; r++)
        rank[order[r]] = (uint8_t)r;
    const uint32_t w = img->width;
    const uint16_t *s = img->samples;
    uint64_t cost = 0;
    for (uint32_t y = 1; y < img->height; y++)
        for (uint32_t x = 1; x < w; x++) {
            int32_t W = rank[s[(size_t)y * w + x - 1] & 255], N = rank[s[(size_t)(y - 1) * w + x] & 255];
            int32_t NW = rank[s[(size_t)(y - 1) * w + x - 1] & 255];
            int32_t lo = W < N ? W : N, hi = W < N ? N : W;
            int32_t pred = NW >= hi ? lo : NW <= lo ? hi : W + N - NW;
            int32_t miss = rank[s[(size_t)y * w + x] & 255] - pred;
            cost += log2_16((uint32_t)(miss < 0 ? -miss : miss));
        }
    return cost;
}

void sample_map_palette_of(const idfzip_image *img, sample_map *map)
{
    memset(map, 0, sizeof *map);
    if (img->color_type != IDFZIP_COLOR_PALETTE)
        return;
    map->flags = SAMPLE_MAP_PALETTE_LUMA;
    /* channel-major sorts and a green-weighted sum: what won on the
     * held-out sprites' dithered backgrounds besides luma */
    static const palette_key SENT[] = {
        {1u << 8, 1u << 16, 1}, {1u << 16, 1u << 8, 1}, {1, 1u << 8, 1u << 16}, {1, 4, 1}};
    uint8_t order[256];
    luma_order(img, order);
    uint64_t best = order_cost(img, order);
    /* a sent order must save its bytes (in 1/16 bit) and a margin */
    const uint64_t price = 16 * 8 * ((uint64_t)img->palette_size + 16);
    for (size_t k = 0; k < sizeof SENT / sizeof *SENT; k++) {
        keyed_order(img, SENT[k], order);
        uint64_t cost = order_cost(img, order);
        if (cost + price < best) {
            best = cost + price;
            map->flags = SAMPLE_MAP_PALETTE_ORDER;
            memcpy(map->order, order, sizeof order);
        }
    }
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

/* The map's palette order: luma order, computed, or the sent one. */
static void palette_order_of(const sample_map *map, const idfzip_image *img, uint8_t order[256])
{
    if (map->flags & SAMPLE_MAP_PALETTE_LUMA)
        luma_order(img, order);
    else
        memcpy(order, map->order, 256);
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
    if (map->flags & SAMPLE_MAP_PALETTE) {
        uint8_t order[256];
        palette_order_of(map, img, order);
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
    if (map->flags & SAMPLE_MAP_PALETTE) {
        uint8_t order[256];
        palette_order_of(map, img, order);
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
