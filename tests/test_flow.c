/* test_flow.c — the integer discrete flow: exact inverse for bipartite and
 * quadripartite models with small, extreme and zero weights; zero nets are
 * the identity (up to squeeze and permutation); a hand-computed 2x2
 * coupling; codec round trips with a model file, partial tiles, threads,
 * portable and SIMD kernels, the digits models and their value range, and
 * model mismatch; the AR prior (tiny-ar: no levels, K = 0) on odd sizes,
 * several tiles and extreme images. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../include/idfzip.h"
#include "../model/ar_prior.h"
#include "../model/flow.h"
#include "../model/idfw.h"
#include "support/idfw_random.h"
#include "test_util.h"

static idf_model *build(const char *preset, int weight_mode, uint64_t seed, uint8_t **file,
                        size_t *size)
{
    idfw_arch a;
    idf_model *m = NULL;
    if (idfw_arch_preset(preset, &a) != 0)
        return NULL;
    a.weight_mode = weight_mode;
    if (idfw_build_random(&a, seed, file, size) != 0)
        return NULL;
    if (idfw_load(*file, *size, &m) != IDFZIP_OK)
        return NULL;
    return m;
}

/* The largest sample a loaded model codes. */
static uint32_t maxval_of(const idf_model *m)
{
    return flow_model_of(m) ? flow_model_of(m)->maxval : ar_prior_of(m)->maxval;
}

static void fill_random(int32_t *x, size_t n, uint32_t maxval, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (int32_t)test_rand_below(rng, maxval + 1);
}

static void test_inverse(const char *preset, int weight_mode)
{
    uint8_t *file = NULL;
    size_t size = 0;
    idf_model *model = build(preset, weight_mode, 42, &file, &size);
    const flow_model *m = flow_model_of(model);
    CHECK(m != NULL, "%s: build/load", preset);
    if (!m)
        return;
    uint32_t a = flow_alignment(m);
    uint64_t rng = 9;
    int bad = 0;
    for (uint32_t k = 1; k <= 3; k++) {
        uint32_t h = a * k, w = a * (4 - k);
        size_t n = (size_t)m->image_channels * h * w;
        int32_t *x = malloc(n * sizeof *x);
        fill_random(x, n, m->maxval, &rng);
        bad += flow_check_inverse(m, x, h, w, NULL, nn_kernel_best()) != 0;
        free(x);
    }
    CHECK(bad == 0, "%s weights %d: inverse failed %d times", preset, weight_mode, bad);
    idfw_free(model);
    free(file);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* With zero nets every translation is 0: a model without factor-out then
 * only rearranges the pixels. */
static void test_zero_is_identity(void)
{
    uint8_t *file = NULL;
    size_t size = 0;
    idf_model *model = build("digits-quad", 0, 1, &file, &size);
    const flow_model *m = flow_model_of(model);
    CHECK(m != NULL, "build");
    if (!m)
        return;
    int32_t x[64], z[64];
    uint64_t rng = 3;
    fill_random(x, 64, 16, &rng);
    CHECK(flow_check_inverse(m, x, 8, 8, z, NN_KERNEL_PORTABLE) == IDFZIP_OK, "inverse");
    qsort(x, 64, sizeof *x, cmp_i32);
    qsort(z, 64, sizeof *z, cmp_i32);
    CHECK(memcmp(x, z, sizeof x) == 0, "zero nets changed the values");
    idfw_free(model);
    free(file);
}

/* One bipartite coupling on a squeezed 2x2 grey image, by hand:
 * x = [[1, 2], [3, 4]] squeezes to channels (1, 2, 3, 4); the net is a 1x1
 * conv 2 -> 2 with identity weights, so out = mult * x_a and
 * t = floor((out + 8) / 16). */
static void test_hand_coupling(void)
{
    static const int8_t weight[4] = {1, 0, 0, 1};
    static const int32_t bias[2] = {0, 0};
    static const uint8_t shift[2] = {0, 0};
    static const uint16_t perm[4] = {0, 1, 2, 3};
    static const int32_t top_mean[4] = {0, 0, 0, 0}, top_scale[4] = {40, 40, 40, 40};
    static const int32_t mults[2][2] = {{16, 16}, {8, 8}};
    static const int32_t want[2][4] = {{1, 2, 4, 6}, {1, 2, 4, 5}};
    for (int k = 0; k < 2; k++) {
        flow_model *m = calloc(1, sizeof *m); /* 7 MB: not on the stack */
        if (!m)
            return;
        m->image_channels = 1, m->bit_depth = 8, m->maxval = 255;
        m->nlevels = 1, m->top_channels = 4;
        m->top_mean16 = top_mean, m->top_scale = top_scale;
        flow_level *lv = &m->level[0];
        lv->squeeze = 1, lv->channels = 4, lv->ncouplings = 1;
        lv->coupling[0].kind = FLOW_BIPARTITE;
        lv->coupling[0].perm = perm;
        nn_net *net = &lv->coupling[0].net[0];
        net->nlayers = 1, net->cin = 2, net->cout = 2, net->in_clamp = 4095;
        net->layer[0] = (nn_layer){.op = NN_CONV, .kernel = 1, .cin = 2, .cout = 2,
                                   .clamp = 1 << 20, .weight = weight, .bias = bias,
                                   .mult = mults[k], .shift = shift};
        flow_model_bind(m);
        int32_t x[4] = {1, 2, 3, 4}, z[4];
        CHECK(flow_check_inverse(m, x, 2, 2, z, nn_kernel_best()) == 0, "hand inverse");
        CHECK(memcmp(z, want[k], sizeof z) == 0, "mult %d: got %d %d %d %d", mults[k][0], z[0],
              z[1], z[2], z[3]);
        free(m);
    }
}

static int make_image(idfzip_image *img, uint32_t channels, uint32_t w, uint32_t h,
                      uint32_t maxval, uint64_t *rng)
{
    memset(img, 0, sizeof *img);
    img->width = w, img->height = h, img->channels = channels, img->bit_depth = 8;
    img->color_type = channels == 3 ? IDFZIP_COLOR_RGB : IDFZIP_COLOR_GRAY;
    img->samples = malloc((size_t)w * h * channels * sizeof *img->samples);
    if (!img->samples)
        return -1;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t c = 0; c < channels; c++) {
                uint32_t v = (x * 3 + y * 2 + c * 40) % (maxval + 1);
                v += test_rand_below(rng, 5);
                img->samples[((size_t)y * w + x) * channels + c] = (uint16_t)(v > maxval ? maxval : v);
            }
    return 0;
}

/* Codes img with the model (forced), nets on the portable kernel or the
 * best this CPU runs, and decodes it the same way: IDFZIP_OK when the image
 * comes back exactly. */
static int coded_round_trip_with(const idfzip_image *img, const uint8_t *model, size_t model_size,
                                 int threads, int portable, uint8_t **idf, size_t *idf_size)
{
    idfzip_options o;
    idfzip_options_init(&o);
    o.model = model, o.model_size = model_size, o.threads = threads, o.force_model = 1;
    o.portable_kernels = portable;
    int st = idfzip_compress_image(img, &o, idf, idf_size);
    if (st != IDFZIP_OK)
        return st;
    idfzip_image back;
    st = idfzip_decompress_image(*idf, *idf_size, &o, &back);
    if (st == IDFZIP_OK) {
        st = idfzip_image_equal(img, &back) ? IDFZIP_OK : IDFZIP_ERR_CORRUPT;
        idfzip_image_free(&back);
    }
    return st;
}

static int coded_round_trip(const idfzip_image *img, const uint8_t *model, size_t model_size,
                            int threads, uint8_t **idf, size_t *idf_size)
{
    return coded_round_trip_with(img, model, model_size, threads, 0, idf, idf_size);
}

static void test_codec_with_model(const char *preset, uint32_t channels)
{
    static const uint32_t sizes[][2] = {{1, 1}, {5, 3}, {32, 32}, {33, 17}, {96, 40}, {77, 65}};
    uint8_t *file = NULL;
    size_t size = 0;
    idf_model *m = build(preset, 1, 5, &file, &size);
    CHECK(m != NULL, "%s: build", preset);
    if (!m)
        return;
    uint64_t rng = 17;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        idfzip_image img;
        uint8_t *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        make_image(&img, channels, sizes[s][0], sizes[s][1], maxval_of(m), &rng);
        int st = coded_round_trip(&img, file, size, 1, &a, &na);
        CHECK(st == IDFZIP_OK, "%s %ux%u: %s", preset, sizes[s][0], sizes[s][1], idfzip_error_string(st));
        st = coded_round_trip(&img, file, size, 3, &b, &nb);
        CHECK(st == IDFZIP_OK && na == nb && memcmp(a, b, na) == 0, "%s: threads change bytes", preset);
        idfzip_free(b);
        b = NULL;
        st = coded_round_trip_with(&img, file, size, 1, 1, &b, &nb);
        CHECK(st == IDFZIP_OK && na == nb && memcmp(a, b, na) == 0,
              "%s %ux%u: portable kernels change bytes", preset, sizes[s][0], sizes[s][1]);
        idfzip_info info;
        /* name is NUL-padded, not terminated when 16 characters long */
        CHECK(idfzip_get_info(a, na, &info) == IDFZIP_OK &&
                  strncmp(info.model_name, m->name, IDFZIP_MODEL_NAME_MAX) == 0,
              "%s: model name not recorded", preset);
        idfzip_image back;
        CHECK(idfzip_decompress_image(a, na, NULL, &back) == IDFZIP_ERR_MODEL,
              "%s: decoded without its model", preset);
        idfzip_free(a);
        idfzip_free(b);
        idfzip_image_free(&img);
    }
    idfw_free(m);
    free(file);
}

/* The AR prior codes every sample with its net (nn_forward on one position):
 * images of odd sizes below and above the 256-pixel tile, smooth and
 * noisy, and (up to 64x64) flat at 0 or maxval and striped between them
 * (so the corrected means reach both ends), each round trip exact with the
 * portable and the AVX2 dense kernel (and, with several tiles, with one and
 * three threads), all giving the same bytes.  (Each call builds the coder's
 * tables, so the calls are kept few.) */
static void test_ar_codec(const char *preset, uint32_t channels)
{
    static const uint32_t sizes[][2] = {{1, 1}, {2, 1}, {1, 3}, {3, 2}, {7, 5}, {31, 33},
                                        {64, 64}, {97, 3}, {255, 17}, {300, 9}, {9, 300}};
    uint8_t *file = NULL;
    size_t size = 0;
    idf_model *m = build(preset, IDFW_WEIGHTS_SMALL, 5, &file, &size);
    CHECK(ar_prior_of(m) != NULL, "%s: build an AR prior", preset);
    if (!m)
        return;
    uint64_t rng = 31;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        const uint32_t w = sizes[s][0], h = sizes[s][1];
        for (int kind = 0; kind < (w * h <= 64 * 64 ? 4 : 2); kind++) {
            idfzip_image img;
            if (make_image(&img, channels, w, h, 255, &rng) != 0)
                continue;
            for (size_t i = 0; kind > 0 && i < (size_t)w * h * channels; i++) {
                if (kind == 1) /* noise */
                    img.samples[i] = (uint16_t)test_rand_below(&rng, 256);
                else if (kind == 2) /* flat: 0 or 255 by the parity of w + h */
                    img.samples[i] = (w + h) % 2 ? 255 : 0;
                else /* 0/255 stripes, every few pixels */
                    img.samples[i] = (i / channels / (1 + s)) % 2 ? 255 : 0;
            }
            uint8_t *a = NULL, *b = NULL, *c = NULL;
            size_t na = 0, nb = 0, nc = 0;
            int st = coded_round_trip(&img, file, size, 1, &a, &na);
            CHECK(st == IDFZIP_OK, "%s %ux%u kind %d: %s", preset, w, h, kind, idfzip_error_string(st));
            if (w > 256 || h > 256) {
                st = coded_round_trip(&img, file, size, 3, &b, &nb);
                CHECK(st == IDFZIP_OK && na == nb && memcmp(a, b, na) == 0,
                      "%s %ux%u kind %d: threads change bytes", preset, w, h, kind);
            }
            st = coded_round_trip_with(&img, file, size, 1, 1, &c, &nc);
            CHECK(st == IDFZIP_OK && na == nc && memcmp(a, c, na) == 0,
                  "%s %ux%u kind %d: portable kernels change bytes", preset, w, h, kind);
            idfzip_free(a);
            idfzip_free(b);
            idfzip_free(c);
            idfzip_image_free(&img);
        }
    }
    idfw_free(m);
    free(file);
}

/* Digits: 8 wide, 8N tall, values 0..16; 17 is refused, not miscoded. */
static void test_digits_range(void)
{
    uint8_t *file = NULL, *idf = NULL;
    size_t size = 0, idf_size = 0;
    idf_model *m = build("digits-quad", 1, 8, &file, &size);
    CHECK(m != NULL, "digits build");
    if (!m)
        return;
    uint64_t rng = 23;
    idfzip_image img;
    make_image(&img, 1, 8, 8 * 5, 16, &rng);
    CHECK(coded_round_trip(&img, file, size, 2, &idf, &idf_size) == IDFZIP_OK, "digits round trip");
    idfzip_free(idf);
    img.samples[17] = 17;
    idfzip_options o;
    idfzip_options_init(&o);
    o.model = file, o.model_size = size;
    CHECK(idfzip_compress_image(&img, &o, &idf, &idf_size) == IDFZIP_ERR_MODEL_KIND,
          "value 17 accepted by the digits model");
    idfzip_image_free(&img);
    idfw_free(m);
    free(file);
}

/* The loader refuses mixtures with K outside 1..8 or weights that do not
 * sum to 2^15 (CRC recomputed so only the field is wrong). */
static void test_mixture_fields(void)
{
    uint8_t *file = NULL;
    size_t size = 0;
    idf_model *model = build("tiny-rgb-mix", 1, 3, &file, &size), *bad = NULL;
    const flow_model *m = flow_model_of(model);
    CHECK(m != NULL && m->top_components == 3, "mixture model");
    if (!m)
        return;
    size_t weights = size - 4 - 2 * (size_t)m->top_channels * 3;
    size_t k_at = weights - 8 * (size_t)m->top_channels * 3 - 1;
    static const struct { int k_patch; uint8_t value; } cases[] = {{1, 0}, {1, 9}, {0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t *copy = malloc(size);
        memcpy(copy, file, size);
        if (cases[i].k_patch)
            copy[k_at] = cases[i].value;
        else
            copy[weights] ^= 1; /* first weight off by one: sum != 2^15 */
        uint32_t crc = (uint32_t)crc32(0L, copy, (uInt)(size - 4));
        for (int b = 0; b < 4; b++)
            copy[size - 4 + (size_t)b] = (uint8_t)(crc >> (8 * b));
        CHECK(idfw_load(copy, size, &bad) == IDFZIP_ERR_MODEL, "mixture case %zu accepted", i);
        free(copy);
    }
    idfw_free(model);
    free(file);
}

int main(void)
{
    static const char *presets[] = {"tiny-rgb", "tiny-grey", "digits-bi", "digits-quad", "rgb-64x8",
                                    "tiny-rgb-mix", "tiny-rgb-checker"};
    for (size_t p = 0; p < sizeof presets / sizeof *presets; p++)
        for (int mode = 0; mode <= 2; mode++)
            test_inverse(presets[p], mode);
    test_zero_is_identity();
    test_hand_coupling();
    test_codec_with_model("tiny-rgb", 3);
    test_codec_with_model("tiny-grey", 1);
    test_codec_with_model("tiny-rgb-mix", 3); /* mixture top prior */
    test_codec_with_model("tiny-rgb-checker", 3); /* two-pass factor-out */
    test_codec_with_model("tiny-ar", 3); /* the AR prior: no levels, K = 0 */
    test_ar_codec("tiny-ar", 3);
    test_ar_codec("tiny-ar-grey", 1);
    test_codec_with_model("tiny-ar-mix", 3); /* a mixture of two DLs per sample */
    test_ar_codec("tiny-ar-mix", 3);
    test_digits_range();
    test_mixture_fields();
    return test_report("flow");
}
