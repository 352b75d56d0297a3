/* io-idf.c — a gdk-pixbuf loader for .idf files (idfzip), so that GTK image
 * viewers (eog, gThumb ...), file managers and gdk-pixbuf-thumbnailer open
 * and preview them.
 *
 * Owns: the module entry points (fill_info, fill_vtable), the incremental
 * and FILE* loading, and the conversion of a decoded image to an 8-bit RGB
 * or RGBA GdkPixbuf.  Uses only the public API (include/idfzip.h); the
 * library is linked in (build/pic objects, symbols hidden), so the module
 * needs no libidfzip.so at run time.
 *
 * An .idf is decoded as a whole (its tiles in parallel, one thread per
 * processor, at most 8): begin_load / load_increment collect the bytes,
 * stop_load decodes.  The size is announced (size_func) as soon as the
 * header's width and height are in (version 1: its first 22 bytes;
 * versions 2 and 3: the two varints after its first 12), so
 * gdk_pixbuf_get_file_info() stops early; the caller (GdkPixbufLoader)
 * scales when a size was asked for.
 *
 * Conversion, as gdk-pixbuf's own PNG loader does (libpng's strip_16,
 * expand, tRNS_to_alpha, gray_to_rgb): 16-bit samples are reduced to 8 bits
 * (their high byte; GdkPixbuf holds 8 bits per sample); grey of 1, 2 or 4
 * bits is scaled to 0..255; grey is expanded to RGB; palette images are
 * expanded to RGB, with alpha from tRNS when the file has it; a grey or RGB
 * colour key (tRNS) becomes an alpha channel, 0 where the sample matches.
 *
 * Every failure of the library becomes a GError: GDK_PIXBUF_ERROR_CORRUPT_IMAGE
 * with the library's message (idfzip_error_string), or
 * GDK_PIXBUF_ERROR_INSUFFICIENT_MEMORY for IDFZIP_ERR_NOMEM.
 */
#define GDK_PIXBUF_ENABLE_BACKEND
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gdk-pixbuf/gdk-pixbuf-io.h>
#undef GDK_PIXBUF_ENABLE_BACKEND

#include <stdio.h>
#include <string.h>

#include "idfzip.h"

#define IDF_MAGIC "\x89IDF\r\n\x1a\n"
#define IDF_V1_SIZE_END 22 /* magic, version, mode, type, depth, channels, 0, width, height */
#define IDF_V2_SIZE_AT 12  /* versions 2, 3: magic, version, mode, type, depth; then width, height */

typedef struct {
    GdkPixbufModuleSizeFunc size_func;
    GdkPixbufModulePreparedFunc prepared_func;
    GdkPixbufModuleUpdatedFunc updated_func;
    gpointer user_data;
    GByteArray *data;
    gboolean size_announced;
    gboolean size_only; /* size_func asked for 0 x 0: only the size was wanted */
} IdfContext;

static void set_library_error(GError **error, int status)
{
    g_set_error_literal(error, GDK_PIXBUF_ERROR,
                        status == IDFZIP_ERR_NOMEM ? GDK_PIXBUF_ERROR_INSUFFICIENT_MEMORY
                                                   : GDK_PIXBUF_ERROR_CORRUPT_IMAGE,
                        idfzip_error_string(status));
}

static guint32 read_le32(const guint8 *p)
{
    return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 | (guint32)p[3] << 24;
}

/* The image size from the header's first n bytes: 1 when known, 0 when
 * more bytes are needed, else a library status (bad magic or version, a
 * malformed varint). */
static int header_size(const guint8 *d, gsize n, guint32 *w, guint32 *h)
{
    if (n < 9)
        return n >= 8 && memcmp(d, IDF_MAGIC, 8) != 0 ? IDFZIP_ERR_NOT_IDF : 0;
    if (memcmp(d, IDF_MAGIC, 8) != 0)
        return IDFZIP_ERR_NOT_IDF;
    if (d[8] == 1) {
        if (n < IDF_V1_SIZE_END)
            return 0;
        *w = read_le32(d + 14), *h = read_le32(d + 18);
        return 1;
    }
    if (d[8] != 2 && d[8] != 3)
        return IDFZIP_ERR_VERSION;
    gsize at = IDF_V2_SIZE_AT;
    guint32 v[2];
    for (int k = 0; k < 2; k++) {
        guint64 x = 0;
        for (int i = 0;; i++) {
            if (i == 5)
                return IDFZIP_ERR_CORRUPT;
            if (at >= n)
                return 0;
            guint8 b = d[at++];
            x |= (guint64)(b & 0x7f) << (7 * i);
            if (!(b & 0x80))
                break;
        }
        if (x > G_MAXUINT32)
            return IDFZIP_ERR_CORRUPT;
        v[k] = (guint32)x;
    }
    *w = v[0], *h = v[1];
    return 1;
}

/* Calls size_func with the header's size once it is in.  FALSE with error
 * on a bad header. */
static gboolean announce_size(IdfContext *ctx, GError **error)
{
    if (ctx->size_announced)
        return TRUE;
    guint32 w = 0, h = 0;
    int known = header_size(ctx->data->data, ctx->data->len, &w, &h);
    if (known == 0)
        return TRUE;
    ctx->size_announced = TRUE;
    if (known < 0) {
        set_library_error(error, known);
        return FALSE;
    }
    if (w == 0 || h == 0 || w > G_MAXINT || h > G_MAXINT) {
        set_library_error(error, IDFZIP_ERR_CORRUPT);
        return FALSE;
    }
    if (ctx->size_func != NULL) {
        gint sw = (gint)w, sh = (gint)h;
        ctx->size_func(&sw, &sh, ctx->user_data);
        if (sw == 0 || sh == 0)
            ctx->size_only = TRUE;
    }
    return TRUE;
}

/* A decoded image -> a new 8-bit RGB(A) pixbuf; NULL with error. */
static GdkPixbuf *pixbuf_from_image(const idfzip_image *img, GError **error)
{
    if (img->width > (guint32)G_MAXINT || img->height > (guint32)G_MAXINT) {
        set_library_error(error, IDFZIP_ERR_LIMIT);
        return NULL;
    }
    gboolean palette = img->color_type == IDFZIP_COLOR_PALETTE;
    gboolean grey = img->color_type == IDFZIP_COLOR_GRAY ||
                    img->color_type == IDFZIP_COLOR_GRAY_ALPHA;
    gboolean alpha_channel = img->color_type == IDFZIP_COLOR_GRAY_ALPHA ||
                             img->color_type == IDFZIP_COLOR_RGBA;
    gboolean has_alpha = alpha_channel || img->trns_size > 0;
    GdkPixbuf *pb = gdk_pixbuf_new(GDK_COLORSPACE_RGB, has_alpha, 8, (int)img->width,
                                   (int)img->height);
    if (pb == NULL) {
        g_set_error(error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_INSUFFICIENT_MEMORY,
                    "not enough memory for a %ux%u image", img->width, img->height);
        return NULL;
    }
    guint8 *pixels = gdk_pixbuf_get_pixels(pb);
    int rowstride = gdk_pixbuf_get_rowstride(pb);
    int n_out = has_alpha ? 4 : 3;
    unsigned depth = img->bit_depth;
    /* Colour key (grey: 1 value, RGB: 3), compared with the raw samples. */
    guint32 key[3] = {0, 0, 0};
    gboolean keyed = !palette && !alpha_channel && img->trns_size > 0;
    if (keyed) {
        for (unsigned c = 0; c < (grey ? 1u : 3u); c++)
            key[c] = (guint32)img->trns[2 * c] << 8 | img->trns[2 * c + 1];
    }
    unsigned scale = depth < 8 ? 255u / ((1u << depth) - 1u) : 1u; /* 255, 85, 17 */
    unsigned ch = img->channels;
    for (guint32 y = 0; y < img->height; y++) {
        const uint16_t *s = img->samples + (size_t)y * img->width * ch;
        guint8 *d = pixels + (size_t)y * (size_t)rowstride;
        for (guint32 x = 0; x < img->width; x++, s += ch, d += n_out) {
            if (palette) {
                unsigned k = s[0];
                if (k < img->palette_size) {
                    d[0] = img->palette[3 * k];
                    d[1] = img->palette[3 * k + 1];
                    d[2] = img->palette[3 * k + 2];
                } else { /* the library refuses such files; be safe anyway */
                    d[0] = d[1] = d[2] = 0;
                }
                if (has_alpha)
                    d[3] = k < img->trns_size ? img->trns[k] : 255;
                continue;
            }
            guint8 v[4];
            for (unsigned c = 0; c < ch; c++)
                v[c] = depth == 16 ? (guint8)(s[c] >> 8) : (guint8)(s[c] * scale);
            if (grey) {
                d[0] = d[1] = d[2] = v[0];
                if (alpha_channel)
                    d[3] = v[1];
                else if (has_alpha)
                    d[3] = s[0] == key[0] ? 0 : 255;
            } else {
                d[0] = v[0];
                d[1] = v[1];
                d[2] = v[2];
                if (alpha_channel)
                    d[3] = v[3];
                else if (has_alpha)
                    d[3] = s[0] == key[0] && s[1] == key[1] && s[2] == key[2] ? 0 : 255;
            }
        }
    }
    return pb;
}

static GdkPixbuf *decode_bytes(const guint8 *data, gsize size, GError **error)
{
    idfzip_options opt;
    idfzip_options_init(&opt);
    guint cpus = g_get_num_processors();
    opt.threads = (int)(cpus < 1 ? 1 : cpus > 8 ? 8 : cpus);
    idfzip_image img;
    int st = idfzip_decompress_image(data, size, &opt, &img);
    if (st != IDFZIP_OK) {
        set_library_error(error, st);
        return NULL;
    }
    GdkPixbuf *pb = pixbuf_from_image(&img, error);
    idfzip_image_free(&img);
    return pb;
}

static gpointer idf_begin_load(GdkPixbufModuleSizeFunc size_func,
                               GdkPixbufModulePreparedFunc prepared_func,
                               GdkPixbufModuleUpdatedFunc updated_func, gpointer user_data,
                               GError **error)
{
    (void)error;
    IdfContext *ctx = g_new0(IdfContext, 1);
    ctx->size_func = size_func;
    ctx->prepared_func = prepared_func;
    ctx->updated_func = updated_func;
    ctx->user_data = user_data;
    ctx->data = g_byte_array_new();
    return ctx;
}

static gboolean idf_load_increment(gpointer context, const guchar *buf, guint size,
                                   GError **error)
{
    IdfContext *ctx = context;
    g_byte_array_append(ctx->data, buf, size);
    return announce_size(ctx, error);
}

static gboolean idf_stop_load(gpointer context, GError **error)
{
    IdfContext *ctx = context;
    gboolean ok = FALSE;
    guint32 w, h;
    if (!ctx->size_announced && header_size(ctx->data->data, ctx->data->len, &w, &h) == 0) {
        /* Too short for a header: let the library say what is wrong. */
        int st = ctx->data->len > 0 &&
                         memcmp(ctx->data->data, IDF_MAGIC, MIN(ctx->data->len, 8u)) != 0
                     ? IDFZIP_ERR_NOT_IDF
                     : IDFZIP_ERR_TRUNCATED;
        set_library_error(error, st);
    } else if (!announce_size(ctx, error)) {
        /* bad header, error set */
    } else if (ctx->size_only) {
        ok = TRUE; /* only the size was asked for */
    } else {
        GdkPixbuf *pb = decode_bytes(ctx->data->data, ctx->data->len, error);
        if (pb != NULL) {
            if (ctx->prepared_func != NULL)
                ctx->prepared_func(pb, NULL, ctx->user_data);
            if (ctx->updated_func != NULL)
                ctx->updated_func(pb, 0, 0, gdk_pixbuf_get_width(pb),
                                  gdk_pixbuf_get_height(pb), ctx->user_data);
            g_object_unref(pb);
            ok = TRUE;
        }
    }
    g_byte_array_unref(ctx->data);
    g_free(ctx);
    return ok;
}

static GdkPixbuf *idf_load(FILE *f, GError **error)
{
    GByteArray *data = g_byte_array_new();
    guint8 buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        g_byte_array_append(data, buf, (guint)n);
    GdkPixbuf *pb = NULL;
    if (ferror(f))
        g_set_error_literal(error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_FAILED,
                            "error reading the .idf file");
    else
        pb = decode_bytes(data->data, data->len, error);
    g_byte_array_unref(data);
    return pb;
}

G_MODULE_EXPORT void fill_vtable(GdkPixbufModule *module);
G_MODULE_EXPORT void fill_info(GdkPixbufFormat *info);

G_MODULE_EXPORT void fill_vtable(GdkPixbufModule *module)
{
    module->load = idf_load;
    module->begin_load = idf_begin_load;
    module->stop_load = idf_stop_load;
    module->load_increment = idf_load_increment;
}

G_MODULE_EXPORT void fill_info(GdkPixbufFormat *info)
{
    static GdkPixbufModulePattern signature[] = {
        {(char *)IDF_MAGIC, NULL, 100},
        {NULL, NULL, 0}};
    static gchar *mime_types[] = {"image/x-idf", NULL};
    static gchar *extensions[] = {"idf", NULL};

    info->name = "idf";
    info->signature = signature;
    info->description = "idfzip lossless image";
    info->mime_types = mime_types;
    info->extensions = extensions;
    info->flags = GDK_PIXBUF_FORMAT_THREADSAFE;
    info->license = "idfzip";
}
