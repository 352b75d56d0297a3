/* tile_coder.c — tiles, per-tile rANS streams, worker threads. */
#include "tile_coder.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_THREADS 256

typedef struct tile_job {
    const tile_plan *plan;
    idfzip_image *img;              /* read when encoding, written decoding */
    int encoding;
    uint8_t **payload;              /* encoding: out */
    idf_tile_entry *entries;        /* encoding: out, decoding: in */
    const uint8_t *data;            /* decoding: tile streams back to back */
    size_t *offsets;                /* decoding: where tile i starts */
    atomic_uint next_tile;
    atomic_int status;
} tile_job;

typedef struct tile_rect {
    uint32_t x0, y0, width, height;
} tile_rect;

static tile_rect tile_rect_of(const tile_plan *p, const idfzip_image *img, uint32_t i)
{
    uint32_t across = idf_tiles_across(img->width, p->tile_width);
    tile_rect r;
    r.x0 = (i % across) * p->tile_width;
    r.y0 = (i / across) * p->tile_height;
    r.width = img->width - r.x0 < p->tile_width ? img->width - r.x0 : p->tile_width;
    r.height = img->height - r.y0 < p->tile_height ? img->height - r.y0 : p->tile_height;
    return r;
}

/* Interleaved image samples -> planar tile, and back. */
static void tile_load(const idfzip_image *img, tile_rect r, model_tile *t)
{
    size_t plane = (size_t)r.width * r.height;
    for (uint32_t y = 0; y < r.height; y++) {
        const uint16_t *src = img->samples + ((size_t)(r.y0 + y) * img->width + r.x0) * img->channels;
        for (uint32_t x = 0; x < r.width; x++)
            for (uint32_t c = 0; c < img->channels; c++)
                t->samples[c * plane + (size_t)y * r.width + x] = src[(size_t)x * img->channels + c];
    }
}

static void tile_store(const model_tile *t, tile_rect r, idfzip_image *img)
{
    size_t plane = (size_t)r.width * r.height;
    for (uint32_t y = 0; y < r.height; y++) {
        uint16_t *dst = img->samples + ((size_t)(r.y0 + y) * img->width + r.x0) * img->channels;
        for (uint32_t x = 0; x < r.width; x++)
            for (uint32_t c = 0; c < img->channels; c++)
                dst[(size_t)x * img->channels + c] = (uint16_t)t->samples[c * plane + (size_t)y * r.width + x];
    }
}

static int encode_one(tile_job *job, uint32_t i, model_tile *t, rans_encoder *enc,
                      model_cache *cache)
{
    const tile_plan *p = job->plan;
    tile_rect r = tile_rect_of(p, job->img, i);
    t->width = r.width;
    t->height = r.height;
    tile_load(job->img, r, t);
    rans_encoder_reset(enc);
    symbol_io io = {p->dl, enc, NULL, NULL, p->kernel, cache, p->version >= 2};
    IDF_TRY(p->model->code_tile(p->model, t, &io));
    IDF_TRY(enc->status);
    size_t bound = rans_encoder_bound(enc);
    uint8_t *buf = malloc(bound);
    if (!buf)
        return IDFZIP_ERR_NOMEM;
    size_t n = rans_encoder_finish(enc, buf, bound);
    if (n == 0 || n > UINT32_MAX) { /* bound is enough: only a tile over 4 GB */
        free(buf);
        return IDFZIP_ERR_LIMIT;
    }
    /* Kept at its bound, not shrunk: a realloc that could fail would be an
     * error path that changes nothing; the buffers live until assembly. */
    job->payload[i] = buf;
    job->entries[i].size = (uint32_t)n;
    /* version 2's one CRC covers the file: no pass per tile */
    job->entries[i].crc = p->version == 1 ? (uint32_t)crc32(0L, job->payload[i], (uInt)n) : 0;
    return IDFZIP_OK;
}

static int decode_one(tile_job *job, uint32_t i, model_tile *t, model_cache *cache)
{
    const tile_plan *p = job->plan;
    const uint8_t *src = job->data + job->offsets[i];
    uint32_t size = job->entries[i].size;
    if (p->version == 1 && (uint32_t)crc32(0L, src, (uInt)size) != job->entries[i].crc)
        return IDFZIP_ERR_CRC;
    tile_rect r = tile_rect_of(p, job->img, i);
    t->width = r.width;
    t->height = r.height;
    rans_decoder dec;
    IDF_TRY(rans_decoder_init(&dec, src, size));
    symbol_io io = {p->dl, NULL, &dec, NULL, p->kernel, cache, p->version >= 2};
    IDF_TRY(p->model->code_tile(p->model, t, &io));
    IDF_TRY(rans_decoder_finish(&dec));
    tile_store(t, r, job->img);
    return IDFZIP_OK;
}

static void *tile_worker(void *arg)
{
    tile_job *job = arg;
    const tile_plan *p = job->plan;
    model_tile t = {0, 0, job->img->channels, (1u << job->img->bit_depth) - 1, NULL,
                    job->img->color_type == IDFZIP_COLOR_PALETTE};
    rans_encoder enc;
    model_cache cache = {NULL, NULL};
    rans_encoder_init(&enc);
    /* The largest tile of this image: an image smaller than the model's
     * tile (match-v2's are 2048x1024) needs only its own size. */
    size_t w = p->tile_width < job->img->width ? p->tile_width : job->img->width;
    size_t h = p->tile_height < job->img->height ? p->tile_height : job->img->height;
    t.samples = malloc((w && h ? w * h : 1) * t.channels * sizeof *t.samples);
    if (!t.samples)
        atomic_store(&job->status, IDFZIP_ERR_NOMEM);
    while (atomic_load(&job->status) == IDFZIP_OK) {
        unsigned i = atomic_fetch_add(&job->next_tile, 1u);
        if (i >= p->tile_count)
            break;
        int st = job->encoding ? encode_one(job, i, &t, &enc, &cache)
                               : decode_one(job, i, &t, &cache);
        if (st != IDFZIP_OK) {
            int expected = IDFZIP_OK;
            atomic_compare_exchange_strong(&job->status, &expected, st);
        }
    }
    rans_encoder_free(&enc);
    model_cache_release(&cache);
    free(t.samples);
    return NULL;
}

/* Runs tile_worker on the calling thread plus threads-1 others. */
static int run_workers(tile_job *job, int threads)
{
    pthread_t tid[MAX_THREADS];
    int started = 0;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    if ((unsigned)threads > job->plan->tile_count)
        threads = (int)job->plan->tile_count;
    for (int k = 1; k < threads; k++) {
        if (pthread_create(&tid[started], NULL, tile_worker, job) != 0)
            break; /* fewer threads still give the same result */
        started++;
    }
    tile_worker(job);
    for (int k = 0; k < started; k++)
        pthread_join(tid[k], NULL);
    return atomic_load(&job->status);
}

int tiles_encode(const tile_plan *plan, const idfzip_image *img,
                 uint8_t ***payload, idf_tile_entry **entries)
{
    tile_job job = {.plan = plan, .img = (idfzip_image *)img, .encoding = 1};
    atomic_init(&job.next_tile, 0u);
    atomic_init(&job.status, IDFZIP_OK);
    job.payload = calloc(plan->tile_count, sizeof *job.payload);
    job.entries = calloc(plan->tile_count, sizeof *job.entries);
    int st = (job.payload && job.entries) ? run_workers(&job, plan->threads) : IDFZIP_ERR_NOMEM;
    if (st != IDFZIP_OK) {
        for (uint32_t i = 0; job.payload && i < plan->tile_count; i++)
            free(job.payload[i]);
        free(job.payload);
        free(job.entries);
        return st;
    }
    *payload = job.payload;
    *entries = job.entries;
    return IDFZIP_OK;
}

int tiles_decode(const tile_plan *plan, const uint8_t *data,
                 const idf_tile_entry *entries, idfzip_image *img)
{
    tile_job job = {.plan = plan, .img = img, .encoding = 0, .data = data,
                    .entries = (idf_tile_entry *)entries};
    atomic_init(&job.next_tile, 0u);
    atomic_init(&job.status, IDFZIP_OK);
    job.offsets = malloc((size_t)plan->tile_count * sizeof *job.offsets);
    if (!job.offsets)
        return IDFZIP_ERR_NOMEM;
    size_t at = 0;
    for (uint32_t i = 0; i < plan->tile_count; i++) {
        job.offsets[i] = at;
        at += entries[i].size;
    }
    int st = run_workers(&job, plan->threads);
    free(job.offsets);
    return st;
}
