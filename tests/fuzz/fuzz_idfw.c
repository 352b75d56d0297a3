/* fuzz_idfw.c — libFuzzer target: the .idfw model loader on arbitrary bytes.
 *
 * Each input is loaded as given and, when that fails, again with its
 * trailing CRC recomputed, so that mutations reach the field, channel-chain
 * and accumulator-bound checks instead of stopping at the CRC.  A model the
 * loader accepts is a promise that the codec can run it: when it is cheap
 * enough, one block of pseudo-random samples of the kind it serves must
 * compress through it and decompress to the same image (the nets run with
 * UBSan watching their int32 accumulators).
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../model/ar_prior.h"
#include "../../model/flow.h"
#include "../../model/idfw.h"
#include "fuzz_util.h"

/* Work allowed for one round trip: multiply-accumulates per image. */
#define MAX_MACS ((uint64_t)1 << 22)
#define MAX_MODEL_PIXELS ((uint64_t)1 << 16)

/* The PNG colour type of an image with this many channels, or -1 when no
 * PNG image has these channels at this bit depth. */
static int color_type_for(uint32_t channels, uint32_t depth)
{
    static const int types[5] = {-1, IDFZIP_COLOR_GRAY, IDFZIP_COLOR_GRAY_ALPHA, IDFZIP_COLOR_RGB,
                                 IDFZIP_COLOR_RGBA};
    if (channels < 1 || channels > 4)
        return -1;
    if (channels == 1)
        return (depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16) ? types[1] : -1;
    return (depth == 8 || depth == 16) ? types[channels] : -1;
}

/* What an image for a loaded model looks like, flow or AR prior. */
typedef struct model_view {
    uint32_t channels, bit_depth, maxval, block_width, block_height;
} model_view;

static model_view view_of(const idf_model *model)
{
    const flow_model *f = flow_model_of(model);
    const ar_prior_model *a = ar_prior_of(model);
    if (f)
        return (model_view){f->image_channels, f->bit_depth, f->maxval, f->block_width,
                            f->block_height};
    return (model_view){a->channels, a->bit_depth, a->maxval, a->block_width, a->block_height};
}

/* One block of the model's kind, samples spread over 0..maxval. */
static int make_block_image(const idf_model *model, idfzip_image *img)
{
    const model_view v = view_of(model), *m = &v;
    int color = color_type_for(m->channels, m->bit_depth);
    uint64_t pixels = (uint64_t)m->block_width * m->block_height;
    if (color < 0 || pixels > MAX_MODEL_PIXELS || pixels * model->macs_per_pixel > MAX_MACS)
        return -1;
    memset(img, 0, sizeof *img);
    img->width = m->block_width;
    img->height = m->block_height;
    img->channels = m->channels;
    img->bit_depth = m->bit_depth;
    img->color_type = (uint32_t)color;
    size_t n = (size_t)pixels * img->channels;
    img->samples = malloc(n * sizeof *img->samples);
    if (!img->samples)
        return -1;
    uint32_t state = model->crc | 1;
    for (size_t i = 0; i < n; i++) {
        state = state * 1103515245u + 12345u;
        img->samples[i] = (uint16_t)((state >> 8) % (m->maxval + 1));
    }
    return 0;
}

static void round_trip(const uint8_t *model, size_t model_size, const idf_model *m)
{
    idfzip_image img, back;
    if (make_block_image(m, &img) != 0)
        return;
    idfzip_options o;
    idfzip_options_init(&o);
    o.max_pixels = FUZZ_MAX_PIXELS;
    o.model = model;
    o.model_size = model_size;
    o.force_model = 1;
    uint8_t *idf = NULL;
    size_t idf_size = 0;
    int st = idfzip_compress_image(&img, &o, &idf, &idf_size);
    if (st != IDFZIP_OK && st != IDFZIP_ERR_NOMEM)
        fuzz_fail("an accepted model cannot code an image it serves", st);
    if (st == IDFZIP_OK) {
        st = idfzip_decompress_image(idf, idf_size, &o, &back);
        if (st != IDFZIP_OK && st != IDFZIP_ERR_NOMEM)
            fuzz_fail("a file coded with an accepted model does not decode", st);
        if (st == IDFZIP_OK && !idfzip_image_equal(&img, &back))
            fuzz_fail("an accepted model decodes to a different image", st);
        if (st == IDFZIP_OK)
            idfzip_image_free(&back);
    }
    idfzip_free(idf);
    idfzip_image_free(&img);
}

/* Loads the model; runs it when the loader accepts it.  Returns the status. */
static int load_and_run(const uint8_t *d, size_t size)
{
    idf_model *m;
    int st = idfw_load(d, size, &m);
    if (st == IDFZIP_OK) {
        round_trip(d, size, m);
        idfw_free(m);
    }
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (load_and_run(data, size) == IDFZIP_OK || size < 4)
        return 0;
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    put_le32(copy + size - 4, (uint32_t)crc32(0L, copy, (uInt)(size - 4)));
    load_and_run(copy, size);
    free(copy);
    return 0;
}
