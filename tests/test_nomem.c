/* test_nomem.c — running out of memory anywhere is IDFZIP_ERR_NOMEM.
 *
 * Linked with tests/support/fail_alloc.c (the linker's --wrap), so every
 * allocation of the library, libpng's and zlib's included, can be made to
 * fail.  For each API call below: one run counts its allocations; then for
 * every N up to that count, a run whose Nth allocation fails must return
 * IDFZIP_ERR_NOMEM, leave its output pointer NULL, and (under ASan, `make
 * asan-test`) leak nothing.  Whether a failure is caught where it happens
 * (the decoder used to call out-of-memory "file is corrupt") is exactly
 * what this checks.  One thread, so the order of allocations is fixed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../include/idfzip.h"
#include "../tools/read_file.h"
#include "support/fail_alloc.h"
#include "support/idfw_random.h"
#include "test_util.h"

/* What a call returns as its output when it has nothing to free. */
static char token;

typedef struct nomem_case {
    const char *name;
    const uint8_t *in;      /* PNG, .idf or .idfw bytes */
    size_t in_size;
    const idfzip_image *img;
    const uint8_t *model;   /* optional .idfw for the options */
    size_t model_size;
    int (*call)(const struct nomem_case *c, void **out);
} nomem_case;

static idfzip_options options_for(const nomem_case *c)
{
    idfzip_options o;
    idfzip_options_init(&o);
    o.model = c->model;
    o.model_size = c->model_size;
    return o;
}

static int call_compress_png(const nomem_case *c, void **out)
{
    idfzip_options o = options_for(c);
    size_t n;
    return idfzip_compress_png(c->in, c->in_size, &o, (uint8_t **)out, &n);
}

static int call_decompress_png(const nomem_case *c, void **out)
{
    idfzip_options o = options_for(c);
    size_t n;
    return idfzip_decompress_png(c->in, c->in_size, &o, (uint8_t **)out, &n);
}

static int call_compress_image(const nomem_case *c, void **out)
{
    idfzip_options o = options_for(c);
    size_t n;
    return idfzip_compress_image(c->img, &o, (uint8_t **)out, &n);
}

/* The image's samples stand for it: NULL unless it was decoded. */
static int call_decompress_image(const nomem_case *c, void **out)
{
    idfzip_options o = options_for(c);
    static idfzip_image img;
    int st = idfzip_decompress_image(c->in, c->in_size, &o, &img);
    *out = img.samples;
    if (st == IDFZIP_OK) {
        *out = &token; /* the image itself is freed here */
        idfzip_image_free(&img);
    }
    return st;
}

static int call_png_decode(const nomem_case *c, void **out)
{
    static idfzip_image img;
    int st = idfzip_png_decode(c->in, c->in_size, 0, &img);
    *out = img.samples;
    if (st == IDFZIP_OK) {
        *out = &token;
        idfzip_image_free(&img);
    }
    return st;
}

static int call_png_encode(const nomem_case *c, void **out)
{
    size_t n;
    return idfzip_png_encode(c->img, (uint8_t **)out, &n);
}

static int call_get_info(const nomem_case *c, void **out)
{
    idfzip_info info;
    int st = idfzip_get_info(c->in, c->in_size, &info);
    *out = st == IDFZIP_OK ? &token : NULL;
    return st;
}

static int call_model_info(const nomem_case *c, void **out)
{
    char name[IDFZIP_MODEL_NAME_MAX + 1];
    uint32_t crc;
    int st = idfzip_model_info(c->in, c->in_size, name, &crc);
    *out = st == IDFZIP_OK ? &token : NULL;
    return st;
}

/* Every allocation of c, failed in turn. */
static void check_case(const nomem_case *c)
{
    void *out = NULL;
    fail_alloc_at(0);
    int st = c->call(c, &out);
    long count = fail_alloc_calls();
    CHECK(st == IDFZIP_OK && count > 0, "%s: runs (%d) and allocates (%ld)", c->name, st, count);
    if (out != &token)
        free(out);
    long wrong = 0;
    for (long n = 1; st == IDFZIP_OK && n <= count; n++) {
        out = NULL;
        fail_alloc_at(n);
        int got = c->call(c, &out);
        fail_alloc_at(0);
        if (got != IDFZIP_ERR_NOMEM || out != NULL) {
            if (wrong++ < 5)
                fprintf(stderr, "%s: allocation %ld of %ld failed: %s (%d), output %p\n", c->name,
                        n, count, idfzip_error_string(got), got, out);
            if (got == IDFZIP_OK && out != &token)
                free(out);
        }
    }
    CHECK(wrong == 0, "%s: %ld of %ld failed allocations not reported as out of memory",
          c->name, wrong, count);
    printf("  %-28s %4ld allocations, each failed once\n", c->name, count);
}

/* A w x h image of the given kind with smooth content and a little noise. */
static void make_image(idfzip_image *img, uint32_t color, uint32_t channels, uint32_t depth,
                       uint32_t w, uint32_t h)
{
    memset(img, 0, sizeof *img);
    img->width = w, img->height = h, img->channels = channels;
    img->bit_depth = depth, img->color_type = color;
    img->samples = malloc((size_t)w * h * channels * sizeof *img->samples);
    uint32_t max = (1u << depth) - 1;
    uint64_t rng = 5;
    for (size_t i = 0; img->samples && i < (size_t)w * h * channels; i++) {
        uint32_t x = (uint32_t)(i / channels % w), y = (uint32_t)(i / channels / w);
        img->samples[i] = (uint16_t)(((x * 7 + y * 3) * (max / 255 + 1) + test_rand_below(&rng, 9)) % (max + 1));
    }
    if (color == IDFZIP_COLOR_PALETTE) {
        img->palette_size = 1u << depth;
        for (uint32_t i = 0; i < 3 * img->palette_size; i++)
            img->palette[i] = (uint8_t)(i * 37);
    }
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/data";
    char path[4096];
    snprintf(path, sizeof path, "%s/pngsuite/basn2c08.png", dir);
    size_t rgb_png_size = 0, grey16_png_size = 0;
    uint8_t *rgb_png = read_file(path, &rgb_png_size);
    snprintf(path, sizeof path, "%s/pngsuite/basn0g16.png", dir);
    uint8_t *grey16_png = read_file(path, &grey16_png_size);
    idfzip_image rgba, palette, stripes, large;
    make_image(&rgba, IDFZIP_COLOR_RGBA, 4, 8, 40, 30);
    /* Deflated in two pieces (codec/png_deflate.h). */
    make_image(&large, IDFZIP_COLOR_RGBA, 4, 8, 700, 400);
    /* Repeats its neighbours, so the default choice also tries match-v1. */
    make_image(&stripes, IDFZIP_COLOR_RGB, 3, 8, 48, 20);
    for (size_t i = 0; stripes.samples && i < (size_t)48 * 20 * 3; i++)
        stripes.samples[i] = (uint16_t)((i / 3 / 48 / 4) % 2 ? 200 : 30);
    make_image(&palette, IDFZIP_COLOR_PALETTE, 1, 4, 33, 17);
    /* A tEXt chunk, so that the header has something to allocate. */
    rgba.chunks = calloc(1, sizeof *rgba.chunks);
    if (rgba.chunks && (rgba.chunks[0].data = malloc(9)) != NULL) {
        memcpy(rgba.chunks[0].type, "tEXt", 4);
        memcpy(rgba.chunks[0].data, "Title\0abc", 9);
        rgba.chunks[0].size = 9;
        rgba.chunks[0].where = IDFZIP_CHUNK_AFTER_IDAT;
        rgba.chunk_count = 1;
    }
    uint8_t *flow = NULL, *ar = NULL, *rgb_idf = NULL, *rgba_idf = NULL, *stored_idf = NULL;
    size_t flow_size = 0, ar_size = 0, rgb_idf_size = 0, rgba_idf_size = 0, stored_size = 0;
    idfw_arch arch;
    int ok = rgb_png && grey16_png && rgba.samples && palette.samples && stripes.samples && large.samples &&
             idfw_arch_preset("tiny-rgb", &arch) == 0 &&
             idfw_build_random(&arch, 7, &flow, &flow_size) == 0 &&
             idfw_arch_preset("tiny-ar-mix", &arch) == 0 &&
             idfw_build_random(&arch, 7, &ar, &ar_size) == 0 &&
             idfzip_compress_png(rgb_png, rgb_png_size, NULL, &rgb_idf, &rgb_idf_size) == 0 &&
             idfzip_compress_image(&rgba, NULL, &rgba_idf, &rgba_idf_size) == 0 &&
             idfzip_compress_png(grey16_png, grey16_png_size, NULL, &stored_idf, &stored_size) == 0;
    CHECK(ok, "fixtures in %s", dir);
    if (!ok)
        return test_report("nomem");
    const nomem_case cases[] = {
        {"compress_png RGB (default)", rgb_png, rgb_png_size, NULL, NULL, 0, call_compress_png},
        {"compress_png grey 16-bit", grey16_png, grey16_png_size, NULL, NULL, 0, call_compress_png},
        {"compress_png with a flow", rgb_png, rgb_png_size, NULL, flow, flow_size, call_compress_png},
        {"compress_png with an AR prior", rgb_png, rgb_png_size, NULL, ar, ar_size, call_compress_png},
        {"compress_image RGBA", NULL, 0, &rgba, NULL, 0, call_compress_image},
        {"compress_image palette", NULL, 0, &palette, NULL, 0, call_compress_image},
        {"compress_image stripes (match)", NULL, 0, &stripes, NULL, 0, call_compress_image},
        {"decompress_png coded", rgb_idf, rgb_idf_size, NULL, NULL, 0, call_decompress_png},
        {"decompress_png stored", stored_idf, stored_size, NULL, NULL, 0, call_decompress_png},
        {"decompress_image RGBA", rgba_idf, rgba_idf_size, NULL, NULL, 0, call_decompress_image},
        {"get_info", rgba_idf, rgba_idf_size, NULL, NULL, 0, call_get_info},
        {"model_info flow", flow, flow_size, NULL, NULL, 0, call_model_info},
        {"model_info AR prior", ar, ar_size, NULL, NULL, 0, call_model_info},
        {"png_decode", rgb_png, rgb_png_size, NULL, NULL, 0, call_png_decode},
        {"png_encode", NULL, 0, &rgba, NULL, 0, call_png_encode},
        {"png_encode in pieces", NULL, 0, &large, NULL, 0, call_png_encode},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
    idfzip_info info;
    CHECK(idfzip_get_info(stored_idf, stored_size, &info) == IDFZIP_OK && info.mode == 1,
          "the grey 16-bit fixture is stored (mode %u), so the stored path is covered", info.mode);
    free(rgb_png), free(grey16_png), free(flow), free(ar);
    idfzip_free(rgb_idf), idfzip_free(rgba_idf), idfzip_free(stored_idf);
    idfzip_image_free(&rgba), idfzip_image_free(&palette), idfzip_image_free(&stripes);
    idfzip_image_free(&large);
    return test_report("nomem");
}
