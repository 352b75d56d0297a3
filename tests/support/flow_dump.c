/* flow_dump MODEL.idfw PLANES W H OUT.bin — runs a model's encoder on one
 * tile and records every latent with its mean (1/16) and scale index, in
 * coding order, so the trainer's emulation (tools/train) can be compared
 * with the C integers bit for bit.
 *
 * PLANES: int32 little-endian samples, planar (channel, row, column),
 * W x H with W and H multiples of the model's alignment.
 * OUT.bin: int32 count, then count values, count means, count scales
 * (of a mixture: its first component's), then count triples (a mixture's
 * second mean and scale and first weight; zeros for one DL).
 * Prints the rANS stream size in bytes of the tile. */
#include <stdio.h>
#include <stdlib.h>

#include "../../model/ar_prior.h"
#include "../../model/flow.h"
#include "../../model/idfw.h"
#include "../../tools/read_file.h"

/* What the planes must look like for model m: channels, largest value and
 * the alignment of width and height. */
typedef struct model_shape {
    uint32_t channels, maxval, align;
} model_shape;

static model_shape shape_of(const idf_model *m)
{
    const flow_model *flow = flow_model_of(m);
    const ar_prior_model *ar = ar_prior_of(m);
    if (flow)
        return (model_shape){flow->image_channels, flow->maxval, flow_alignment(flow)};
    return (model_shape){ar->channels, ar->maxval, 1};
}

static int run(const idf_model *m, int32_t *samples, uint32_t w, uint32_t h, FILE *out)
{
    const model_shape shape = shape_of(m);
    size_t n = (size_t)shape.channels * w * h;
    latent_log log = {malloc(n * 4), malloc(n * 4), malloc(n * 4), 0, n, NULL, malloc(n * 12)};
    dl_tables *dl = dl_tables_create();
    rans_encoder enc;
    rans_encoder_init(&enc);
    symbol_io io = {dl, &enc, NULL, &log, nn_kernel_best(), NULL, 0};
    /* side information as in .idf version 1 (raw fits, each bias its
     * mean miss): what the AR priors were trained on, and what
     * tools/train/test_ar.py counts bit by bit */
    model_tile tile = {w, h, shape.channels, shape.maxval, samples, 0};
    int ok = log.value && log.mean16 && log.scale && log.mixture && dl &&
             m->code_tile(m, &tile, &io) == IDFZIP_OK;
    size_t bound = rans_encoder_bound(&enc), bytes = 0;
    uint8_t *buf = malloc(bound);
    if (ok && buf)
        bytes = rans_encoder_finish(&enc, buf, bound);
    int32_t count = (int32_t)log.count;
    ok = ok && bytes > 0 && write_i32_le(out, &count, 1) == 0 && write_i32_le(out, log.value, log.count) == 0 &&
         write_i32_le(out, log.mean16, log.count) == 0 && write_i32_le(out, log.scale, log.count) == 0 &&
         write_i32_le(out, log.mixture, 3 * log.count) == 0;
    if (ok)
        printf("%zu\n", bytes);
    free(buf);
    rans_encoder_free(&enc);
    dl_tables_destroy(dl);
    free(log.value);
    free(log.mean16);
    free(log.scale);
    free(log.mixture);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: flow_dump MODEL.idfw PLANES W H OUT.bin\n");
        return 2;
    }
    size_t model_size, planes_size;
    uint8_t *model = read_file(argv[1], &model_size), *planes = read_file(argv[2], &planes_size);
    uint32_t w = (uint32_t)atoi(argv[3]), h = (uint32_t)atoi(argv[4]);
    idf_model *m = NULL;
    if (!model || !planes || idfw_load(model, model_size, &m) != IDFZIP_OK) {
        fprintf(stderr, "flow_dump: cannot load %s or %s\n", argv[1], argv[2]);
        return 1;
    }
    const model_shape shape = shape_of(m);
    size_t n = (size_t)shape.channels * w * h;
    uint32_t a = shape.align;
    if (w % a || h % a || planes_size != 4 * n) {
        fprintf(stderr, "flow_dump: need %ux%u planes, multiples of %u\n", w, h, a);
        return 1;
    }
    int32_t *samples = malloc(n * sizeof *samples);
    for (size_t i = 0; samples && i < n; i++)
        samples[i] = (int32_t)((uint32_t)planes[4 * i] | (uint32_t)planes[4 * i + 1] << 8 |
                               (uint32_t)planes[4 * i + 2] << 16 | (uint32_t)planes[4 * i + 3] << 24);
    FILE *out = fopen(argv[5], "wb");
    int rc = samples && out && run(m, samples, w, h, out) == 0 ? 0 : 1;
    if (out && fclose(out) != 0)
        rc = 1;
    if (rc)
        fprintf(stderr, "flow_dump: failed\n");
    free(samples);
    idfw_free(m);
    free(model);
    free(planes);
    return rc;
}
