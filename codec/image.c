/* image.c — the image helpers of the public API: freeing, comparing, and
 * the PNG wrappers idfzip_png_decode()/idfzip_png_encode(). */
#include <stdlib.h>
#include <string.h>

#include "png_io.h"
#include "png_rules.h"

void idfzip_free(void *p)
{
    free(p);
}

void idfzip_image_free(idfzip_image *img)
{
    if (img == NULL)
        return;
    if (img->chunks != NULL)
        for (uint32_t i = 0; i < img->chunk_count; i++)
            free(img->chunks[i].data);
    free(img->chunks);
    free(img->samples);
    memset(img, 0, sizeof *img);
}

/* memcmp that accepts NULL pointers when there is nothing to compare. */
static int bytes_equal(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return 1;
    if (a == NULL || b == NULL)
        return a == b;
    return memcmp(a, b, n) == 0;
}

static int samples_equal(const idfzip_image *a, const idfzip_image *b)
{
    if (a->channels == 0 || a->width == 0 || a->height == 0)
        return 1; /* no samples to compare */
    size_t n = png_sample_count_or_zero(a->width, a->height, a->channels);
    if (n == 0)
        return a->samples == b->samples; /* too big to exist: identity only */
    return bytes_equal(a->samples, b->samples, n * sizeof(uint16_t));
}

static int chunks_equal(const idfzip_image *a, const idfzip_image *b)
{
    if (a->chunk_count != b->chunk_count)
        return 0;
    if (a->chunk_count == 0)
        return 1;
    if (a->chunks == NULL || b->chunks == NULL)
        return a->chunks == b->chunks;
    for (uint32_t i = 0; i < a->chunk_count; i++) {
        const idfzip_chunk *x = &a->chunks[i], *y = &b->chunks[i];
        if (memcmp(x->type, y->type, 4) != 0 || x->where != y->where ||
            x->size != y->size || !bytes_equal(x->data, y->data, x->size))
            return 0;
    }
    return 1;
}

int idfzip_image_equal(const idfzip_image *a, const idfzip_image *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    if (a->width != b->width || a->height != b->height ||
        a->channels != b->channels || a->bit_depth != b->bit_depth ||
        a->color_type != b->color_type)
        return 0;
    if (a->palette_size != b->palette_size || a->palette_size > 256 ||
        memcmp(a->palette, b->palette, 3 * (size_t)a->palette_size) != 0)
        return 0;
    if (a->trns_size != b->trns_size || a->trns_size > 256 ||
        memcmp(a->trns, b->trns, a->trns_size) != 0)
        return 0;
    return samples_equal(a, b) && chunks_equal(a, b);
}

int idfzip_png_decode(const uint8_t *png, size_t png_size,
                      uint64_t max_pixels, idfzip_image *img)
{
    return png_io_read(png, png_size, max_pixels, img);
}

int idfzip_png_encode(const idfzip_image *img, uint8_t **out, size_t *out_size)
{
    return png_io_write(img, 1, out, out_size);
}
