/* bench_codec [-n] [-p] [-b] [-T N] [-r RUNS] [-m MODEL.idfw] FILE.png... — measures idfzip on real files:
 * bits per subpixel of the .idf (8 * bytes / (W*H*C)) next to the input
 * PNG's, and encode/decode speed in megapixels per second (median of RUNS
 * runs).  Every decode is checked against the source pixels.  -n: code with
 * the model even where stored mode would win; -p: portable (non-SIMD) nets;
 * -b: also a time breakdown on one thread (see breakdown()) and the
 * process's start-up (print_startup()). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../include/idfzip.h"
#include "../model/flow.h"
#include "../model/idfw.h"
#include "../model/registry.h"
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

/* ---- time breakdown ------------------------------------------------------
 * Where one thread's time goes, all measured (medians of the runs):
 *   PNG read and PNG write: idfzip_png_decode / idfzip_png_encode;
 *   encode and decode: idfzip_compress_image / idfzip_decompress_image;
 *   entropy coding: the image coded once as one tile through the model with
 *     every latent and its (mean, scale) logged, then only those symbols
 *     coded again (DL table lookup + rANS) and timed;
 *   model: encode minus entropy coding (prediction or network, container,
 *     CRCs).  Mixture-coded top latents are left out of the entropy part,
 *     and the AR prior's per-sample mixtures are timed as their first
 *     component's DL (the encoder's side of a mixture costs about that). */

typedef struct breakdown_times {
    double png_read, png_write, encode, decode, entropy;
} breakdown_times;

static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* Codes img once through the model slot with a latent log; returns the log
 * (caller frees its arrays) or count 0 on failure. */
static latent_log log_latents(const idfzip_image *img, const idfzip_options *o)
{
    size_t n = (size_t)img->width * img->height * img->channels;
    latent_log log = {malloc(n * 4), malloc(n * 4), malloc(n * 4), 0, n, NULL, NULL};
    int32_t *planes = malloc(n * sizeof *planes);
    model_ref ref = {0};
    /* The default for a photo: its repeats are not counted (0). */
    model_image_kind kind = {img->channels, img->bit_depth, img->color_type,
                             (1u << img->bit_depth) - 1, (uint64_t)img->width * img->height, 0};
    dl_tables *dl = dl_tables_create();
    rans_encoder enc;
    rans_encoder_init(&enc);
    int ok = log.value && log.mean16 && log.scale && planes && dl &&
             model_select_for_image(o->model, o->model_size, &kind, &ref) == IDFZIP_OK;
    for (size_t i = 0; ok && i < n; i++) /* interleaved -> planar */
        planes[(i % img->channels) * (n / img->channels) + i / img->channels] = img->samples[i];
    symbol_io io = {dl, &enc, NULL, &log, nn_kernel_best(), NULL, 1};
    model_tile tile = {img->width, img->height, img->channels, (1u << img->bit_depth) - 1, planes,
                       img->color_type == IDFZIP_COLOR_PALETTE};
    if (!ok || ref.model->code_tile(ref.model, &tile, &io) != IDFZIP_OK)
        log.count = 0;
    if (ref.model)
        model_release(&ref);
    rans_encoder_free(&enc);
    dl_tables_destroy(dl);
    free(planes);
    return log;
}

/* Seconds to code the logged symbols again (tables + rANS, no model). */
static double time_entropy(const latent_log *log)
{
    dl_tables *dl = dl_tables_create();
    rans_encoder enc;
    rans_encoder_init(&enc);
    double t0 = now();
    for (size_t i = 0; dl && i < log->count; i++)
        if (log->scale[i] >= 0)
            dl_encode(dl, &enc, log->value[i], log->mean16[i], (uint32_t)log->scale[i]);
    size_t bound = rans_encoder_bound(&enc);
    uint8_t *buf = malloc(bound);
    if (buf)
        rans_encoder_finish(&enc, buf, bound);
    double t = now() - t0;
    free(buf);
    rans_encoder_free(&enc);
    dl_tables_destroy(dl);
    return t;
}

static int breakdown(const char *path, const idfzip_options *opt, int runs, breakdown_times *sum)
{
    idfzip_options o = *opt;
    o.threads = 1;
    size_t png_size, idf_size = 0, out_size;
    uint8_t *png = read_file(path, &png_size), *idf = NULL, *out = NULL;
    idfzip_image img, back;
    if (!png || idfzip_png_decode(png, png_size, 0, &img) != IDFZIP_OK) {
        free(png);
        return -1;
    }
    double t[5][16];
    int ok = 1;
    for (int r = 0; r < runs && ok; r++) {
        idfzip_image tmp;
        double a = now();
        ok = idfzip_png_decode(png, png_size, 0, &tmp) == IDFZIP_OK;
        double b = now();
        ok = ok && idfzip_png_encode(&tmp, &out, &out_size) == IDFZIP_OK;
        double c = now();
        idfzip_free(out), idfzip_image_free(&tmp), idfzip_free(idf);
        ok = ok && idfzip_compress_image(&img, &o, &idf, &idf_size) == IDFZIP_OK;
        double d = now();
        ok = ok && idfzip_decompress_image(idf, idf_size, &o, &back) == IDFZIP_OK;
        double e = now();
        if (ok)
            idfzip_image_free(&back);
        t[0][r] = b - a, t[1][r] = c - b, t[2][r] = d - c, t[3][r] = e - d;
    }
    latent_log log = ok ? log_latents(&img, &o) : (latent_log){0};
    for (int r = 0; r < runs && log.count; r++)
        t[4][r] = time_entropy(&log);
    ok = ok && log.count > 0;
    if (ok) {
        sum->png_read += median_of(t[0], runs), sum->png_write += median_of(t[1], runs);
        sum->encode += median_of(t[2], runs), sum->decode += median_of(t[3], runs);
        sum->entropy += median_of(t[4], runs);
    }
    free(log.value), free(log.mean16), free(log.scale);
    idfzip_free(idf);
    idfzip_image_free(&img);
    free(png);
    return ok ? 0 : -1;
}

static void print_breakdown(const breakdown_times *b, double pixels)
{
    double model = b->encode - b->entropy;
    printf("breakdown (one thread, s per MP): PNG read %.3f, PNG write %.3f; encode %.3f = "
           "model %.3f (%.0f%%) + entropy coding %.3f (%.0f%%: DL tables + rANS); decode %.3f\n",
           b->png_read / pixels, b->png_write / pixels, b->encode / pixels, model / pixels,
           100 * model / b->encode, b->entropy / pixels, 100 * b->entropy / b->encode,
           b->decode / pixels);
}

/* Start-up: what this process's first compress and decompress of a 1x1
 * image cost (the once-per-process work: the built-in model's weights, the
 * predictor's tables, the DL tables each first use builds) against the
 * same calls later.  Only meaningful before any other call. */
static void print_startup(const idfzip_options *opt)
{
    uint16_t rgb[3] = {12, 34, 56};
    idfzip_image img;
    memset(&img, 0, sizeof img);
    img.width = img.height = 1;
    img.channels = 3;
    img.bit_depth = 8;
    img.color_type = IDFZIP_COLOR_RGB;
    img.samples = rgb;
    idfzip_options o = *opt;
    o.threads = 1;
    o.force_model = 1;
    double t[2][2];
    for (int r = 0; r < 2; r++) {
        uint8_t *idf = NULL;
        size_t n = 0;
        idfzip_image back;
        double a = now();
        int ok = idfzip_compress_image(&img, &o, &idf, &n) == IDFZIP_OK;
        double b = now();
        ok = ok && idfzip_decompress_image(idf, n, &o, &back) == IDFZIP_OK;
        double c = now();
        if (ok)
            idfzip_image_free(&back);
        idfzip_free(idf);
        t[r][0] = b - a, t[r][1] = c - b;
    }
    printf("start-up (1x1 RGB, one thread, ms): first compress %.2f, decompress %.2f; "
           "then %.2f, %.2f\n", 1e3 * t[0][0], 1e3 * t[0][1], 1e3 * t[1][0], 1e3 * t[1][1]);
}

/* Loads a model for the runs and reports its size in MACs per pixel. */
static int load_model(const char *path, idfzip_options *o, uint8_t **data)
{
    idf_model *m;
    *data = read_file(path, &o->model_size);
    if (!*data || idfw_load(*data, o->model_size, &m) != IDFZIP_OK) {
        fprintf(stderr, "%s: cannot load model\n", path);
        return -1;
    }
    printf("model %.16s: %llu MAC/pixel, tiles %ux%u\n", m->name,
           (unsigned long long)m->macs_per_pixel, m->tile_width, m->tile_height);
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
    int want_breakdown = 0;
    for (; i < argc && (!strcmp(argv[i], "-n") || !strcmp(argv[i], "-p") || !strcmp(argv[i], "-b"));
         i++) {
        if (argv[i][1] == 'n')
            o.force_model = 1; /* measure the model even where stored mode wins */
        else if (argv[i][1] == 'p')
            o.portable_kernels = 1;
        else
            want_breakdown = 1;
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
    breakdown_times bt = {0};
    if (want_breakdown)
        print_startup(&o);
    for (; i < argc; i++) {
        failed |= bench_file(argv[i], &o, runs, &t) != 0;
        if (want_breakdown && breakdown(argv[i], &o, runs, &bt) != 0) {
            fprintf(stderr, "%s: breakdown failed\n", argv[i]);
            failed = 1;
        }
    }
    if (t.subpixels > 0)
        printf("TOTAL (-T %d, %s nets, median of %d): PNG %.3f bpsp, idfzip %.3f bpsp (%.1f%% of PNG), "
               "encode %.2f MP/s, decode %.2f MP/s\n",
               o.threads, nn_kernel_name(o.portable_kernels ? NN_KERNEL_PORTABLE : nn_kernel_best()),
               runs, 8 * t.png_bytes / t.subpixels, 8 * t.idf_bytes / t.subpixels,
               100 * t.idf_bytes / t.png_bytes, t.pixels / 1e6 / t.enc_s, t.pixels / 1e6 / t.dec_s);
    if (want_breakdown && t.pixels > 0)
        print_breakdown(&bt, t.pixels / 1e6);
    free(model);
    return failed;
}
