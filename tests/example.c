/* example.c: compress an RGB image held in memory with idfzip, decompress
 * it and check that every pixel came back.
 * Build: cc example.c $(pkg-config --cflags --libs idfzip) */
#include <idfzip.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    enum { W = 96, H = 64 };
    idfzip_image img = {0}, back;
    img.width = W;
    img.height = H;
    img.channels = 3;
    img.bit_depth = 8;
    img.color_type = IDFZIP_COLOR_RGB;
    img.samples = malloc(sizeof *img.samples * W * H * 3);
    if (!img.samples)
        return 1;
    for (int y = 0; y < H; y++) /* a smooth gradient with a little texture */
        for (int x = 0; x < W; x++) {
            uint16_t *p = img.samples + 3 * (y * W + x);
            p[0] = (uint16_t)(2 * x + (x * y) % 7);
            p[1] = (uint16_t)(3 * y + (x ^ y) % 5);
            p[2] = (uint16_t)((x + y) % 256);
        }

    idfzip_options opt;
    idfzip_options_init(&opt); /* built-in model, one thread */
    uint8_t *idf = NULL;
    size_t idf_size = 0;
    int st = idfzip_compress_image(&img, &opt, &idf, &idf_size);
    if (st == IDFZIP_OK)
        st = idfzip_decompress_image(idf, idf_size, &opt, &back);
    if (st != IDFZIP_OK) {
        fprintf(stderr, "idfzip: %s\n", idfzip_error_string(st));
        idfzip_free(idf);
        free(img.samples);
        return 1;
    }
    int same = idfzip_image_equal(&img, &back);
    printf("idfzip %s: %ux%u RGB, %zu bytes raw -> %zu bytes .idf, %s\n",
           idfzip_version_string(), (unsigned)img.width, (unsigned)img.height,
           (size_t)W * H * 3, idf_size, same ? "decoded exactly" : "MISMATCH");
    idfzip_image_free(&back);
    idfzip_free(idf);
    free(img.samples);
    return same ? 0 : 1;
}
