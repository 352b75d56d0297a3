/* fuzz_flow.c — libFuzzer target: the round trip of fuzz_roundtrip, through
 * a learned flow model: 8-bit grey and RGB images (see fuzz_image.h) coded
 * with the random tiny-grey, tiny-rgb or tiny-rgb-checker (two-pass
 * factor-out; RGB images of odd width) model made once at start-up, with
 * odd sizes so the flow's block edges, rounding and baseline strips are
 * all reached.  RGB images whose flags byte has bit 6 set (a bit
 * fuzz_image.h leaves unused) go through the random tiny-ar model instead
 * (the AR prior: no levels, a net per sample), at any size, or tiny-ar-mix
 * (a mixture of two DLs per sample) where the width is odd. */
#include "fuzz_image.h"

static const fuzz_kind KINDS[] = {
    {IDFZIP_COLOR_GRAY, 8, 1},
    {IDFZIP_COLOR_RGB, 8, 3},
};

/* The flags byte of fuzz_image.h's input layout, and its bit picking tiny-ar. */
#define FLAGS_AT 3
#define AR_FLAG 64

static fuzz_model grey_model, rgb_model, checker_model, ar_model, ar_mix_model;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    grey_model = fuzz_build_model("tiny-grey");
    rgb_model = fuzz_build_model("tiny-rgb");
    checker_model = fuzz_build_model("tiny-rgb-checker");
    ar_model = fuzz_build_model("tiny-ar");
    ar_mix_model = fuzz_build_model("tiny-ar-mix");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    idfzip_image img;
    if (fuzz_image_from_bytes(data, size, KINDS, sizeof KINDS / sizeof *KINDS, &img) != 0)
        return 0;
    const int ar = size > FLAGS_AT && (data[FLAGS_AT] & AR_FLAG);
    const fuzz_model *m = img.channels == 1 ? &grey_model
                          : ar              ? ((img.width & 1) ? &ar_mix_model : &ar_model)
                          : (img.width & 1) ? &checker_model : &rgb_model;
    idfzip_options o;
    idfzip_options_init(&o);
    o.max_pixels = FUZZ_MAX_PIXELS;
    o.model = m->bytes;
    o.model_size = m->size;
    fuzz_check_round_trip(&img, &o);
    idfzip_image_free(&img);
    return 0;
}
