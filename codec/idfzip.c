/* idfzip.c — the public API: model choice, coded vs stored mode, assembly
 * of header and payload, and every integrity check on the way back. */
#include "../include/idfzip.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../model/idfw.h"
#include "../model/model.h"
#include "../model/registry.h"
#include "container.h"
#include "palette_pack.h"
#include "png_io.h"
#include "sample_map.h"
#include "tile_coder.h"

#define IDFZIP_STR2(x) #x
#define IDFZIP_STR(x) IDFZIP_STR2(x)

const char *idfzip_version_string(void)
{
    return IDFZIP_STR(IDFZIP_VERSION_MAJOR) "." IDFZIP_STR(IDFZIP_VERSION_MINOR) "." IDFZIP_STR(IDFZIP_VERSION_PATCH);
}

const char *idfzip_error_string(int status)
{
    switch (status) {
    case IDFZIP_OK: return "success";
    case IDFZIP_ERR_ARG: return "invalid argument";
    case IDFZIP_ERR_NOMEM: return "out of memory";
    case IDFZIP_ERR_NOT_IDF: return "not an idfzip file (bad magic)";
    case IDFZIP_ERR_VERSION: return "unsupported idfzip format version";
    case IDFZIP_ERR_TRUNCATED: return "file is truncated";
    case IDFZIP_ERR_CORRUPT: return "file is corrupt";
    case IDFZIP_ERR_CRC: return "checksum mismatch (file is corrupt)";
    case IDFZIP_ERR_LIMIT: return "image exceeds the pixel limit";
    case IDFZIP_ERR_PNG: return "invalid or unsupported PNG";
    case IDFZIP_ERR_UNSUPPORTED: return "unsupported image";
    case IDFZIP_ERR_MODEL: return "model missing, invalid, or not the one the file was coded with";
    case IDFZIP_ERR_THREAD: return "cannot start worker threads";
    case IDFZIP_ERR_MODEL_KIND:
        return "the model does not serve this image (channels, bit depth or pixel values outside its range)";
    default: return "unknown error";
    }
}

void idfzip_options_init(idfzip_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->threads = 1;
    opt->max_pixels = IDFZIP_DEFAULT_MAX_PIXELS;
}

static idfzip_options options_or_default(const idfzip_options *opt)
{
    idfzip_options o;
    idfzip_options_init(&o);
    if (opt)
        o = *opt;
    if (o.threads < 1)
        o.threads = 1;
    if (o.max_pixels == 0)
        o.max_pixels = IDFZIP_DEFAULT_MAX_PIXELS;
    return o;
}

static nn_kernel plan_kernel(const idfzip_options *o)
{
    return o->portable_kernels ? NN_KERNEL_PORTABLE : nn_kernel_best();
}

static uint32_t max_sample(const idfzip_image *img)
{
    size_t n = (size_t)img->width * img->height * img->channels;
    uint32_t m = 0;
    for (size_t i = 0; i < n; i++)
        m = img->samples[i] > m ? img->samples[i] : m;
    return m;
}

/* How many pixels equal their west or north neighbour in every sample.
 * Branch-free (the differences OR-ed per pixel): with a branch per sample
 * a photo's count took 4 ms of its compress, on one thread. */
static uint64_t repeats_of(const idfzip_image *img)
{
    const size_t c = img->channels, row = (size_t)img->width * c;
    uint64_t n = 0;
    for (uint32_t y = 0; y < img->height; y++) {
        const uint16_t *p = img->samples + (size_t)y * row;
        const uint16_t *up = y ? p - row : p; /* row 0: no north to match */
        const uint32_t has_north = y > 0;
        for (uint32_t x = 0; x < img->width; x++, p += c, up += c) {
            const uint16_t *w = x ? p - c : p;
            uint32_t differ_w = 0, differ_n = 0;
            for (size_t k = 0; k < c; k++) {
                differ_w |= (uint32_t)(p[k] ^ w[k]);
                differ_n |= (uint32_t)(p[k] ^ up[k]);
            }
            n += ((x > 0) & (differ_w == 0)) | (has_north & (differ_n == 0));
        }
    }
    return n;
}

/* What the registry needs to know of img; the repeats only count for a
 * model chosen by default (automatic), so only then are they counted. */
static model_image_kind kind_of(const idfzip_image *img, int automatic)
{
    model_image_kind kind = {img->channels, img->bit_depth, img->color_type, max_sample(img),
                             (uint64_t)img->width * img->height,
                             automatic ? repeats_of(img) : 0};
    return kind;
}

static int choose_model(const idfzip_options *o, const model_image_kind *kind, model_ref *ref)
{
    if (o->model || !o->model_name)
        return model_select_for_image(o->model, o->model_size, kind, ref);
    return model_select_by_name(o->model_name, kind, ref);
}

int idfzip_builtin_model(const char *name)
{
    model_ref ref;
    if (!name || model_select_by_name(name, NULL, &ref) != IDFZIP_OK)
        return 0;
    model_release(&ref);
    return 1;
}

/* Header, then payload pieces back to back, into one malloc'ed buffer. */
static void header_from_image(idf_header *h, const idfzip_image *img)
{
    memset(h, 0, sizeof *h);
    h->version = 2;
    h->width = img->width;
    h->height = img->height;
    h->channels = img->channels;
    h->bit_depth = img->bit_depth;
    h->color_type = img->color_type;
    h->pixel_crc = idf_pixel_crc(img);
}

static int write_stored(const idfzip_image *img, const uint8_t *png, size_t png_size,
                        uint8_t **out, size_t *out_size)
{
    idf_header h;
    header_from_image(&h, img);
    if (png_size > UINT32_MAX)
        return IDFZIP_ERR_LIMIT;
    h.mode = IDF_MODE_STORED;
    h.stored_size = (uint32_t)png_size;
    h.stored_crc = (uint32_t)crc32(0L, png, (uInt)png_size);
    uint8_t *piece = (uint8_t *)png;
    uint32_t size = (uint32_t)png_size;
    return idf_file_write(&h, &piece, &size, 1, out, out_size);
}

static void header_for_model(idf_header *h, const idfzip_image *img, const sample_map *map,
                             const idf_model *m)
{
    header_from_image(h, img);
    /* the oldest version that holds the file: 3 for a sample map or a
     * palette that packs (out of memory here shows when it is written) */
    palette_packed packed = {PALETTE_RAW, 0, {0}};
    if (img->palette_size)
        palette_pack(img->palette, img->palette_size, &packed);
    h->version = map->flags || packed.coding != PALETTE_RAW ? 3 : 2;
    h->map = *map;
    h->mode = IDF_MODE_CODED;
    memcpy(h->model_name, m->name, IDFZIP_MODEL_NAME_MAX);
    h->model_crc = m->crc;
    h->model_id = model_number_of(m); /* 0: named in full (a user's model) */
    h->tile_width = m->tile_width;
    h->tile_height = m->tile_height;
    h->tile_count = idf_tile_count(img->width, img->height, h->tile_width, h->tile_height);
    h->palette_size = img->palette_size;
    memcpy(h->palette, img->palette, sizeof h->palette);
    h->trns_size = img->trns_size;
    memcpy(h->trns, img->trns, sizeof h->trns);
    h->chunk_count = img->chunk_count;
    h->chunks = img->chunks;
}

static int write_tiles(const idf_header *h, uint8_t **payload, uint8_t **out, size_t *out_size)
{
    uint32_t *sizes = malloc((size_t)h->tile_count * sizeof *sizes);
    for (uint32_t i = 0; sizes && i < h->tile_count; i++)
        sizes[i] = h->tiles[i].size;
    int st = sizes ? idf_file_write(h, payload, sizes, h->tile_count, out, out_size) : IDFZIP_ERR_NOMEM;
    free(sizes);
    return st;
}

/* The map img is coded with by model: the image's map (its scale, or
 * its palette order), less the palette order for a model that only asks
 * whether indices are equal. */
static sample_map map_for_model(const sample_map *image_map, const idf_model *model)
{
    sample_map map = *image_map;
    if (!model->luma_palette)
        map.flags &= ~SAMPLE_MAP_PALETTE;
    return map;
}

static int write_with_model(const idfzip_image *img, const sample_map *image_map,
                            const idfzip_options *o, const idf_model *model,
                            uint8_t **out, size_t *out_size)
{
    idf_header h;
    const sample_map map = map_for_model(image_map, model);
    header_for_model(&h, img, &map, model);
    tile_plan plan = {model, dl_tables_shared(), h.tile_width, h.tile_height, h.tile_count,
                      o->threads, plan_kernel(o), h.version};
    uint8_t **payload = NULL;
    idfzip_image coded = *img;
    int st = map.flags ? sample_map_forward(img, &map, &coded) : IDFZIP_OK;
    if (st == IDFZIP_OK)
        st = tiles_encode(&plan, &coded, &payload, &h.tiles);
    if (map.flags)
        free(coded.samples);
    if (st != IDFZIP_OK)
        return st;
    st = write_tiles(&h, payload, out, out_size);
    for (uint32_t i = 0; i < h.tile_count; i++)
        free(payload[i]);
    free(payload);
    free(h.tiles);
    return st;
}

/* Codes img with the built-in model called name and keeps the result if
 * it is smaller than *out.  Only running out of memory is an error. */
static int keep_if_smaller(const idfzip_image *img, const sample_map *image_map,
                           const idfzip_options *o, const char *name,
                           uint8_t **out, size_t *out_size)
{
    model_ref ref;
    uint8_t *alt;
    size_t alt_size;
    int st = model_select_by_name(name, NULL, &ref);
    if (st == IDFZIP_OK)
        st = write_with_model(img, image_map, o, ref.model, &alt, &alt_size);
    model_release(&ref);
    if (st != IDFZIP_OK)
        return st == IDFZIP_ERR_NOMEM ? st : IDFZIP_OK;
    if (alt_size < *out_size) {
        free(*out);
        *out = alt, *out_size = alt_size;
    } else {
        free(alt);
    }
    return IDFZIP_OK;
}

/* Codes img with its model; an image whose model was chosen by default
 * also tries the registry's fallbacks for its kind and size. */
static int write_coded(const idfzip_image *img, const idfzip_options *o,
                       uint8_t **out, size_t *out_size)
{
    const int automatic = !o->model && !o->model_name;
    sample_map map; /* a scale, or a palette order: never both */
    sample_map_scale_of(img, &map);
    /* the models are chosen for the samples they will code */
    idfzip_image scaled = *img;
    int st = map.flags ? sample_map_forward(img, &map, &scaled) : IDFZIP_OK;
    if (st != IDFZIP_OK)
        return st;
    model_image_kind kind = kind_of(&scaled, automatic);
    if (map.flags)
        free(scaled.samples);
    else
        sample_map_palette_of(img, &map);
    model_ref ref;
    *out = NULL;
    *out_size = 0;
    st = choose_model(o, &kind, &ref);
    if (st != IDFZIP_OK)
        return st;
    st = write_with_model(img, &map, o, ref.model, out, out_size);
    const char *fallbacks[MODEL_MAX_FALLBACKS + 1] = {NULL};
    if (automatic)
        model_fallbacks_for_image(&kind, fallbacks);
    for (const char *const *fallback = fallbacks; st == IDFZIP_OK && *fallback; fallback++)
        if (strncmp(*fallback, ref.model->name, IDFZIP_MODEL_NAME_MAX) != 0)
            st = keep_if_smaller(img, &map, o, *fallback, out, out_size);
    if (st != IDFZIP_OK && *out) {
        free(*out);
        *out = NULL;
    }
    model_release(&ref);
    return st;
}

/* Codes img; keeps the coded form unless the PNG (given, or made here when
 * coding expanded the data) plus the stored header is no larger. */
static int compress_checked(const idfzip_image *img, const idfzip_options *o,
                            const uint8_t *png, size_t png_size,
                            uint8_t **out, size_t *out_size)
{
    int st = write_coded(img, o, out, out_size);
    if (st != IDFZIP_OK || o->force_model)
        return st;
    uint8_t *made = NULL;
    if (!png) {
        uint64_t raw = (uint64_t)img->width * img->height * img->channels * img->bit_depth / 8;
        if (*out_size <= raw)
            return IDFZIP_OK;
        st = png_io_write(img, o->threads, &made, &png_size);
        if (st != IDFZIP_OK) {
            free(*out);
            *out = NULL;
            return st;
        }
        png = made;
    }
    if (png_size < *out_size) {
        uint8_t *stored;
        size_t stored_size;
        st = write_stored(img, png, png_size, &stored, &stored_size);
        if (st == IDFZIP_OK && stored_size < *out_size) {
            free(*out);
            *out = stored;
            *out_size = stored_size;
        } else if (st == IDFZIP_OK) {
            free(stored);
        }
    }
    free(made);
    if (st == IDFZIP_ERR_NOMEM) { /* a PNG too large to store (LIMIT) stays coded */
        free(*out);
        *out = NULL;
        return st;
    }
    return IDFZIP_OK;
}

int idfzip_compress_image(const idfzip_image *img, const idfzip_options *opt,
                          uint8_t **out, size_t *out_size)
{
    if (!img || !out || !out_size)
        return IDFZIP_ERR_ARG;
    idfzip_options o = options_or_default(opt);
    int st = png_io_validate(img);
    if (st != IDFZIP_OK)
        return st;
    if ((uint64_t)img->width * img->height > o.max_pixels)
        return IDFZIP_ERR_LIMIT;
    return compress_checked(img, &o, NULL, 0, out, out_size);
}

int idfzip_compress_png(const uint8_t *png, size_t png_size, const idfzip_options *opt,
                        uint8_t **out, size_t *out_size)
{
    if (!png || !out || !out_size)
        return IDFZIP_ERR_ARG;
    idfzip_options o = options_or_default(opt);
    idfzip_image img;
    int st = png_io_read(png, png_size, o.max_pixels, &img);
    if (st != IDFZIP_OK)
        return st;
    st = compress_checked(&img, &o, png, png_size, out, out_size);
    idfzip_image_free(&img);
    return st;
}

/* ---- decoding ---- */

static int copy_chunks(const idf_header *h, idfzip_image *img)
{
    if (h->chunk_count == 0)
        return IDFZIP_OK;
    img->chunks = calloc(h->chunk_count, sizeof *img->chunks);
    if (!img->chunks)
        return IDFZIP_ERR_NOMEM;
    for (uint32_t i = 0; i < h->chunk_count; i++) {
        img->chunks[i] = h->chunks[i];
        img->chunks[i].data = malloc(h->chunks[i].size ? h->chunks[i].size : 1);
        if (!img->chunks[i].data)
            return IDFZIP_ERR_NOMEM;
        img->chunk_count = i + 1;
        memcpy(img->chunks[i].data, h->chunks[i].data, h->chunks[i].size);
    }
    return IDFZIP_OK;
}

static int image_from_header(const idf_header *h, idfzip_image *img)
{
    img->width = h->width;
    img->height = h->height;
    img->channels = h->channels;
    img->bit_depth = h->bit_depth;
    img->color_type = h->color_type;
    img->palette_size = h->palette_size;
    memcpy(img->palette, h->palette, sizeof img->palette);
    img->trns_size = h->trns_size;
    memcpy(img->trns, h->trns, sizeof img->trns);
    int st = copy_chunks(h, img);
    if (st != IDFZIP_OK)
        return st;
    img->samples = malloc((size_t)h->width * h->height * h->channels * sizeof *img->samples);
    return img->samples ? IDFZIP_OK : IDFZIP_ERR_NOMEM;
}

/* Every tile payload is a rANS stream, which starts with the coder's 4-byte
 * final states (FORMAT.md); a tile table that promises less cannot decode.
 * Checked before the image is allocated, so that a small file with an empty
 * tile table cannot make us allocate the (up to max_pixels) image it claims. */
#define TILE_MIN_PAYLOAD (4 * RANS_STATES)

static int tiles_can_decode(const idf_header *h)
{
    for (uint32_t i = 0; i < h->tile_count; i++)
        if (h->tiles[i].size < TILE_MIN_PAYLOAD)
            return 0;
    return 1;
}

static int decode_coded(const uint8_t *idf, const idf_header *h,
                        const idfzip_options *o, idfzip_image *img)
{
    if (!tiles_can_decode(h))
        return IDFZIP_ERR_CORRUPT;
    model_ref ref;
    int st = h->model_id ? model_select_by_name(h->model_name, NULL, &ref)
                         : model_select_for_file(h->model_name, h->model_crc, o->model,
                                                 o->model_size, &ref);
    if (st != IDFZIP_OK)
        return st == IDFZIP_ERR_NOMEM ? st : IDFZIP_ERR_MODEL;
    st = image_from_header(h, img);
    if (st == IDFZIP_OK && (h->tile_width != ref.model->tile_width ||
                            h->tile_height != ref.model->tile_height))
        st = IDFZIP_ERR_CORRUPT;
    if (st == IDFZIP_OK) {
        tile_plan plan = {ref.model, dl_tables_shared(), h->tile_width, h->tile_height,
                          h->tile_count, o->threads, plan_kernel(o), h->version};
        idfzip_image coded = *img; /* the samples as the model coded them */
        if (h->map.flags & SAMPLE_MAP_SCALED)
            coded.bit_depth = h->map.coded_depth;
        st = tiles_decode(&plan, idf + h->header_size, h->tiles, &coded);
    }
    if (st == IDFZIP_OK)
        st = sample_map_inverse(&h->map, img);
    model_release(&ref);
    return st;
}

static int decode_stored(const uint8_t *idf, const idf_header *h,
                         const idfzip_options *o, idfzip_image *img)
{
    const uint8_t *png = idf + h->header_size;
    if (h->version == 1 && (uint32_t)crc32(0L, png, (uInt)h->stored_size) != h->stored_crc)
        return IDFZIP_ERR_CRC;
    int st = png_io_read(png, h->stored_size, o->max_pixels, img);
    if (st != IDFZIP_OK)
        return st == IDFZIP_ERR_NOMEM ? st : IDFZIP_ERR_CORRUPT;
    if (img->width != h->width || img->height != h->height || img->channels != h->channels ||
        img->bit_depth != h->bit_depth || img->color_type != h->color_type)
        return IDFZIP_ERR_CORRUPT;
    return IDFZIP_OK;
}

static int decode_checked(const uint8_t *idf, size_t idf_size, const idfzip_options *o,
                          idfzip_image *img, idf_header *h)
{
    memset(img, 0, sizeof *img);
    int st = idf_header_read(idf, idf_size, o->max_pixels, h);
    if (st != IDFZIP_OK)
        return st;
    st = h->mode == IDF_MODE_STORED ? decode_stored(idf, h, o, img) : decode_coded(idf, h, o, img);
    if (st == IDFZIP_OK && idf_pixel_crc(img) != h->pixel_crc)
        st = IDFZIP_ERR_CRC;
    /* A header can describe what no PNG holds (a chunk out of place, a
     * palette on a grey image, indices past the palette); such a file is
     * corrupt, so that every image we return can be written as a PNG. */
    if (st == IDFZIP_OK && png_io_validate(img) != IDFZIP_OK)
        st = IDFZIP_ERR_CORRUPT;
    if (st != IDFZIP_OK) {
        idfzip_image_free(img);
        idf_header_free(h);
    }
    return st;
}

int idfzip_decompress_image(const uint8_t *idf, size_t idf_size,
                            const idfzip_options *opt, idfzip_image *img)
{
    if (!idf || !img)
        return IDFZIP_ERR_ARG;
    idfzip_options o = options_or_default(opt);
    idf_header h;
    int st = decode_checked(idf, idf_size, &o, img, &h);
    if (st == IDFZIP_OK)
        idf_header_free(&h);
    return st;
}

int idfzip_decompress_png(const uint8_t *idf, size_t idf_size, const idfzip_options *opt,
                          uint8_t **out, size_t *out_size)
{
    if (!idf || !out || !out_size)
        return IDFZIP_ERR_ARG;
    idfzip_options o = options_or_default(opt);
    idfzip_image img;
    idf_header h;
    int st = decode_checked(idf, idf_size, &o, &img, &h);
    if (st != IDFZIP_OK)
        return st;
    if (h.mode == IDF_MODE_STORED) {
        /* Stored files give back the original PNG, byte for byte. */
        *out = malloc(h.stored_size ? h.stored_size : 1);
        st = *out ? IDFZIP_OK : IDFZIP_ERR_NOMEM;
        if (*out) {
            memcpy(*out, idf + h.header_size, h.stored_size);
            *out_size = h.stored_size;
        }
    } else {
        st = png_io_write(&img, o.threads, out, out_size);
    }
    idfzip_image_free(&img);
    idf_header_free(&h);
    return st;
}

int idfzip_get_info(const uint8_t *idf, size_t idf_size, idfzip_info *info)
{
    if (!idf || !info)
        return IDFZIP_ERR_ARG;
    idf_header h;
    int st = idf_header_peek(idf, idf_size, &h);
    if (st != IDFZIP_OK)
        return st;
    memset(info, 0, sizeof *info);
    info->width = h.width;
    info->height = h.height;
    info->channels = h.channels;
    info->bit_depth = h.bit_depth;
    info->color_type = h.color_type;
    info->mode = h.mode;
    memcpy(info->model_name, h.model_name, sizeof info->model_name);
    /* a built-in model named by number: its CRC is its own */
    info->model_crc = h.model_id ? model_builtin_crc(h.model_name) : h.model_crc;
    info->tile_width = h.tile_width;
    info->tile_height = h.tile_height;
    info->tile_count = h.tile_count;
    info->file_size = idf_size;
    idf_header_free(&h);
    return IDFZIP_OK;
}

int idfzip_model_info(const uint8_t *model, size_t model_size, char name[IDFZIP_MODEL_NAME_MAX + 1],
                      uint32_t *crc)
{
    if (!model || !name || !crc)
        return IDFZIP_ERR_ARG;
    idf_model *m;
    int st = idfw_load(model, model_size, &m);
    if (st != IDFZIP_OK)
        return st;
    memcpy(name, m->name, IDFZIP_MODEL_NAME_MAX);
    name[IDFZIP_MODEL_NAME_MAX] = 0;
    *crc = m->crc;
    idfw_free(m);
    return IDFZIP_OK;
}
