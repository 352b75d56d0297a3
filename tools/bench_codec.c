/* bench_codec [-n] [-p] [-T N] [-r RUNS] [-m MODEL.idfw] FILE.png... — measures idfzip on real files:
 * bits per subpixel of the .idf (8 * bytes / (W*H*C)) next to the input
 * PNG's, and encode/decode speed in megapixels per second (median of RUNS
 * runs).  Every decode is checked against the source pixels.  -n: code with
 * the model even where stored mode would win; -p: portable (non-SIMD) nets. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../codec/idfzip.h"
#include "../model/idfw.h"
#include "read_file.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct totals {
    double subpixels, pixels, png_bytes, idf_bytes, enc_s, dec_s;
} totals;

static int bench_file(const char *path, const idfzip_options *o, int runs, totals *t)
{
    size_t png_size, idf_size = 0;
    uint8_t *png = read_file(path, &png_size), *idf = NULL;
    idfzip_image src, back;
    if (!png || idfzip_png_decode(png, png_size, 0, &src) != IDFZIP_OK) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(png);
        return -1;
    }
    double enc[16], dec[16];
    int ok = 1;
    for (int r = 0; r < runs && ok; r++) {
        idfzip_free(idf);
        double t0 = now();
        ok = idfzip_compress_png(png, png_size, o, &idf, &idf_size) == IDFZIP_OK;
        double t1 = now();
        ok = ok && idfzip_decompress_image(idf, idf_size, o, &back) == IDFZIP_OK;
        enc[r] = t1 - t0, dec[r] = now() - t1;
        if (ok) {
            ok = idfzip_image_equal(&src, &back);
            idfzip_image_free(&back);
        }
    }
    if (!ok) {
        fprintf(stderr, "%s: ROUND TRIP FAILED\n", path);
    } else {
        qsort(enc, (size_t)runs, sizeof *enc, cmp_double);
        qsort(dec, (size_t)runs, sizeof *dec, cmp_double);
        double px = (double)src.width * src.height, sub = px * src.channels;
        printf("%-40s %5ux%-5u %u ch  PNG %.3f  idf %.3f bpsp  enc %.2f  dec %.2f MP/s\n", path,
               src.width, src.height, src.channels, 8 * png_size / sub, 8 * idf_size / sub,
               px / 1e6 / enc[runs / 2], px / 1e6 / dec[runs / 2]);
        t->subpixels += sub, t->pixels += px, t->png_bytes += (double)png_size;
        t->idf_bytes += (double)idf_size, t->enc_s += enc[runs / 2], t->dec_s += dec[runs / 2];
    }
    idfzip_free(idf);
    idfzip_image_free(&src);
    free(png);
    return ok ? 0 : -1;
}

/* Loads a model for the runs and reports its size in MACs per pixel. */
static int load_model(const char *path, idfzip_options *o, uint8_t **data)
{
    flow_model *m;
    *data = read_file(path, &o->model_size);
    if (!*data || idfw_load(*data, o->model_size, &m) != IDFZIP_OK) {
        fprintf(stderr, "%s: cannot load model\n", path);
        return -1;
    }
    printf("model %.16s: %llu MAC/pixel, tiles %ux%u\n", m->slot.name,
           (unsigned long long)flow_macs_per_pixel(m), m->slot.tile_width, m->slot.tile_height);
    idfw_free(m);
    o->model = *data;
    return 0;
}

int main(int argc, char **argv)
{
    idfzip_options o;
    idfzip_options_init(&o);
    int runs = 3, failed = 0, i = 1;
    const char *model_path = NULL;
    uint8_t *model = NULL;
    for (; i < argc && (!strcmp(argv[i], "-n") || !strcmp(argv[i], "-p")); i++) {
        if (argv[i][1] == 'n')
            o.force_model = 1; /* measure the model even where stored mode wins */
        else
            o.portable_kernels = 1;
    }
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "-T"))
            o.threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-r"))
            runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-m"))
            model_path = argv[i + 1];
    }
    runs = runs < 1 ? 1 : (runs > 16 ? 16 : runs);
    if (model_path && load_model(model_path, &o, &model) != 0)
        return 1;
    totals t = {0};
    for (; i < argc; i++)
        failed |= bench_file(argv[i], &o, runs, &t) != 0;
    if (t.subpixels > 0)
        printf("TOTAL (-T %d, %s nets, median of %d): PNG %.3f bpsp, idfzip %.3f bpsp (%.1f%% of PNG), "
               "encode %.2f MP/s, decode %.2f MP/s\n",
               o.threads, nn_kernel_name(o.portable_kernels ? NN_KERNEL_PORTABLE : nn_kernel_best()),
               runs, 8 * t.png_bytes / t.subpixels, 8 * t.idf_bytes / t.subpixels,
               100 * t.idf_bytes / t.png_bytes, t.pixels / 1e6 / t.enc_s, t.pixels / 1e6 / t.dec_s);
    free(model);
    return failed;
}
