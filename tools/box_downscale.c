/* box_downscale FACTOR IN.png OUT.png — averages FACTOR x FACTOR blocks of
 * an 8-bit grey/RGB(A) PNG (rounding to nearest), dropping the partial
 * blocks at the right and bottom.  Downscaling camera photos this way
 * removes sensor noise and JPEG artefacts; used to build test fixtures and
 * the training corpus. */
#include <stdio.h>
#include <stdlib.h>

#include "../include/idfzip.h"
#include "read_file.h"

static int downscale(const idfzip_image *in, uint32_t k, idfzip_image *out)
{
    *out = (idfzip_image){0};
    out->width = in->width / k, out->height = in->height / k;
    out->channels = in->channels, out->bit_depth = 8, out->color_type = in->color_type;
    if (!out->width || !out->height)
        return -1;
    out->samples = malloc((size_t)out->width * out->height * out->channels * sizeof *out->samples);
    if (!out->samples)
        return -1;
    for (uint32_t y = 0; y < out->height; y++)
        for (uint32_t x = 0; x < out->width; x++)
            for (uint32_t c = 0; c < out->channels; c++) {
                uint32_t sum = 0;
                for (uint32_t dy = 0; dy < k; dy++)
                    for (uint32_t dx = 0; dx < k; dx++)
                        sum += in->samples[((size_t)(y * k + dy) * in->width + x * k + dx) * in->channels + c];
                out->samples[((size_t)y * out->width + x) * out->channels + c] =
                    (uint16_t)((sum + k * k / 2) / (k * k));
            }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4 || atoi(argv[1]) < 1) {
        fprintf(stderr, "usage: box_downscale FACTOR IN.png OUT.png\n");
        return 2;
    }
    size_t size, out_size;
    uint8_t *png = read_file(argv[2], &size), *out = NULL;
    idfzip_image in, small = {0};
    if (!png || idfzip_png_decode(png, size, 0, &in) != IDFZIP_OK) {
        fprintf(stderr, "box_downscale: cannot read %s\n", argv[2]);
        return 1;
    }
    if (in.bit_depth != 8 || in.color_type == IDFZIP_COLOR_PALETTE ||
        downscale(&in, (uint32_t)atoi(argv[1]), &small) != 0 ||
        idfzip_png_encode(&small, &out, &out_size) != IDFZIP_OK) {
        fprintf(stderr, "box_downscale: %s: needs an 8-bit grey or RGB(A) image\n", argv[2]);
        return 1;
    }
    FILE *f = fopen(argv[3], "wb");
    int ok = f && fwrite(out, 1, out_size, f) == out_size;
    if (f && fclose(f) != 0)
        ok = 0;
    idfzip_free(out);
    idfzip_image_free(&in);
    idfzip_image_free(&small);
    free(png);
    return ok ? 0 : 1;
}
