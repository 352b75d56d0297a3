/* fuzz_roundtrip.c — libFuzzer target: compress then decompress small
 * images of every PNG kind, derived from the input (see fuzz_image.h), with
 * the built-in model, then with match-v2 forced (its copies, its palette
 * indices); the image must come back exactly. */
#include "fuzz_image.h"

static const fuzz_kind KINDS[] = {
    {IDFZIP_COLOR_GRAY, 1, 1},       {IDFZIP_COLOR_GRAY, 2, 1},  {IDFZIP_COLOR_GRAY, 4, 1},
    {IDFZIP_COLOR_GRAY, 8, 1},       {IDFZIP_COLOR_GRAY, 16, 1}, {IDFZIP_COLOR_RGB, 8, 3},
    {IDFZIP_COLOR_RGB, 16, 3},       {IDFZIP_COLOR_PALETTE, 1, 1}, {IDFZIP_COLOR_PALETTE, 2, 1},
    {IDFZIP_COLOR_PALETTE, 4, 1},    {IDFZIP_COLOR_PALETTE, 8, 1}, {IDFZIP_COLOR_GRAY_ALPHA, 8, 2},
    {IDFZIP_COLOR_GRAY_ALPHA, 16, 2}, {IDFZIP_COLOR_RGBA, 8, 4}, {IDFZIP_COLOR_RGBA, 16, 4},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    idfzip_image img;
    if (fuzz_image_from_bytes(data, size, KINDS, sizeof KINDS / sizeof *KINDS, &img) != 0)
        return 0;
    idfzip_options o;
    idfzip_options_init(&o);
    o.max_pixels = FUZZ_MAX_PIXELS;
    fuzz_check_round_trip(&img, &o);
    o.force_model = 1;
    o.model_name = "match-v2";
    fuzz_check_round_trip(&img, &o);
    idfzip_image_free(&img);
    return 0;
}
