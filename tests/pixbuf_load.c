/* pixbuf_load.c — loads images through GdkPixbuf, for tests/test_pixbuf.sh
 * (run with GDK_PIXBUF_MODULE_FILE=build/pixbuf/loaders.cache).
 *
 *   pixbuf_load cmp A B          A and B (e.g. x.idf and x.png) load to the
 *                                same pixels; A also through a
 *                                GdkPixbufLoader fed 1, 7 and 4096 bytes at
 *                                a time
 *   pixbuf_load load FILE        loads FILE from the file and incrementally;
 *                                prints "ok WxH n_channels" or "error CODE
 *                                MESSAGE" (CODE: the GdkPixbufError name)
 *   pixbuf_load info FILE        gdk_pixbuf_get_file_info: "FORMAT MIME WxH"
 *   pixbuf_load size FILE W H    gdk_pixbuf_new_from_file_at_size: "WxH"
 *
 * Exit status: 0 success, 1 a GError (load) or a difference (cmp), 2 one
 * way of loading succeeds and the other fails, or a usage error.  Links only gdk-pixbuf.
 */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *code_name(const GError *e)
{
    if (e->domain != GDK_PIXBUF_ERROR)
        return g_quark_to_string(e->domain);
    switch (e->code) {
    case GDK_PIXBUF_ERROR_CORRUPT_IMAGE: return "CORRUPT_IMAGE";
    case GDK_PIXBUF_ERROR_INSUFFICIENT_MEMORY: return "INSUFFICIENT_MEMORY";
    case GDK_PIXBUF_ERROR_BAD_OPTION: return "BAD_OPTION";
    case GDK_PIXBUF_ERROR_UNKNOWN_TYPE: return "UNKNOWN_TYPE";
    case GDK_PIXBUF_ERROR_UNSUPPORTED_OPERATION: return "UNSUPPORTED_OPERATION";
    case GDK_PIXBUF_ERROR_FAILED: return "FAILED";
    case GDK_PIXBUF_ERROR_INCOMPLETE_ANIMATION: return "INCOMPLETE_ANIMATION";
    default: return "UNKNOWN_CODE";
    }
}

/* Feeds the file to a GdkPixbufLoader `chunk` bytes at a time. */
static GdkPixbuf *load_incremental(const char *path, gsize chunk, GError **error)
{
    gchar *data = NULL;
    gsize size = 0;
    if (!g_file_get_contents(path, &data, &size, error))
        return NULL;
    GdkPixbufLoader *loader = gdk_pixbuf_loader_new();
    gboolean ok = TRUE;
    for (gsize pos = 0; ok && pos < size; pos += chunk)
        ok = gdk_pixbuf_loader_write(loader, (const guchar *)data + pos, MIN(chunk, size - pos),
                                     error);
    if (ok)
        ok = gdk_pixbuf_loader_close(loader, error);
    else
        gdk_pixbuf_loader_close(loader, NULL);
    GdkPixbuf *pb = NULL;
    if (ok) {
        pb = gdk_pixbuf_loader_get_pixbuf(loader);
        if (pb != NULL)
            g_object_ref(pb);
        else
            g_set_error_literal(error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_FAILED,
                                "the loader gave no pixbuf");
    }
    g_object_unref(loader);
    g_free(data);
    return pb;
}

/* 0 when a and b hold the same pixels (as RGBA, alpha 255 when absent). */
static int compare(GdkPixbuf *a, GdkPixbuf *b, const char *what)
{
    int w = gdk_pixbuf_get_width(a), h = gdk_pixbuf_get_height(a);
    if (w != gdk_pixbuf_get_width(b) || h != gdk_pixbuf_get_height(b)) {
        printf("%s: size %dx%d vs %dx%d\n", what, w, h, gdk_pixbuf_get_width(b),
               gdk_pixbuf_get_height(b));
        return 1;
    }
    if (gdk_pixbuf_get_has_alpha(a) != gdk_pixbuf_get_has_alpha(b) ||
        gdk_pixbuf_get_n_channels(a) != gdk_pixbuf_get_n_channels(b) ||
        gdk_pixbuf_get_bits_per_sample(a) != 8 || gdk_pixbuf_get_bits_per_sample(b) != 8) {
        printf("%s: channels %d%s vs %d%s\n", what, gdk_pixbuf_get_n_channels(a),
               gdk_pixbuf_get_has_alpha(a) ? " (alpha)" : "", gdk_pixbuf_get_n_channels(b),
               gdk_pixbuf_get_has_alpha(b) ? " (alpha)" : "");
        return 1;
    }
    int n = gdk_pixbuf_get_n_channels(a);
    const guint8 *pa = gdk_pixbuf_read_pixels(a), *pb = gdk_pixbuf_read_pixels(b);
    int ra = gdk_pixbuf_get_rowstride(a), rb = gdk_pixbuf_get_rowstride(b);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w * n; x++)
            if (pa[(gsize)y * ra + x] != pb[(gsize)y * rb + x]) {
                printf("%s: pixel (%d, %d) channel %d: %u vs %u\n", what, x / n, y, x % n,
                       pa[(gsize)y * ra + x], pb[(gsize)y * rb + x]);
                return 1;
            }
    return 0;
}

static int cmd_cmp(const char *a_path, const char *b_path)
{
    GError *err = NULL;
    GdkPixbuf *a = gdk_pixbuf_new_from_file(a_path, &err);
    if (a == NULL) {
        printf("%s: error %s %s\n", a_path, code_name(err), err->message);
        g_error_free(err);
        return 1;
    }
    GdkPixbuf *b = gdk_pixbuf_new_from_file(b_path, &err);
    if (b == NULL) {
        printf("%s: error %s %s\n", b_path, code_name(err), err->message);
        g_error_free(err);
        g_object_unref(a);
        return 1;
    }
    int st = compare(a, b, a_path);
    static const gsize chunks[] = {1, 7, 4096};
    for (unsigned i = 0; st == 0 && i < G_N_ELEMENTS(chunks); i++) {
        GdkPixbuf *c = load_incremental(a_path, chunks[i], &err);
        if (c == NULL) {
            printf("%s: incremental (%zu bytes a time): error %s %s\n", a_path,
                   (size_t)chunks[i], code_name(err), err->message);
            g_clear_error(&err);
            st = 1;
        } else {
            char what[64];
            snprintf(what, sizeof what, "incremental, %zu bytes a time", (size_t)chunks[i]);
            st = compare(c, b, what);
            g_object_unref(c);
        }
    }
    g_object_unref(a);
    g_object_unref(b);
    return st;
}

static int cmd_load(const char *path)
{
    GError *e1 = NULL, *e2 = NULL;
    GdkPixbuf *a = gdk_pixbuf_new_from_file(path, &e1);
    GdkPixbuf *b = load_incremental(path, 1000, &e2);
    int st;
    if (a != NULL && b != NULL) {
        printf("ok %dx%d %d\n", gdk_pixbuf_get_width(a), gdk_pixbuf_get_height(a),
               gdk_pixbuf_get_n_channels(a));
        st = compare(a, b, "file vs incremental") ? 2 : 0;
    } else if (a == NULL && b == NULL) {
        printf("error %s %s\n", code_name(e1), e1->message);
        st = 1;
        /* Without a file name the loader may not even be chosen (no
         * magic): UNKNOWN_TYPE there is no disagreement. */
        if (e1->domain != e2->domain || e1->code != e2->code)
            printf("incremental: error %s %s\n", code_name(e2), e2->message);
    } else {
        printf("disagree: from the file %s, incremental %s\n", a ? "ok" : e1->message,
               b ? "ok" : e2->message);
        st = 2;
    }
    g_clear_error(&e1);
    g_clear_error(&e2);
    if (a)
        g_object_unref(a);
    if (b)
        g_object_unref(b);
    return st;
}

static int cmd_info(const char *path)
{
    int w = 0, h = 0;
    GdkPixbufFormat *f = gdk_pixbuf_get_file_info(path, &w, &h);
    if (f == NULL) {
        printf("unknown\n");
        return 1;
    }
    gchar *name = gdk_pixbuf_format_get_name(f);
    gchar **mimes = gdk_pixbuf_format_get_mime_types(f);
    printf("%s %s %dx%d\n", name, mimes && mimes[0] ? mimes[0] : "-", w, h);
    g_free(name);
    g_strfreev(mimes);
    return 0;
}

static int cmd_size(const char *path, int w, int h)
{
    GError *err = NULL;
    GdkPixbuf *pb = gdk_pixbuf_new_from_file_at_size(path, w, h, &err);
    if (pb == NULL) {
        printf("error %s %s\n", code_name(err), err->message);
        g_error_free(err);
        return 1;
    }
    printf("%dx%d\n", gdk_pixbuf_get_width(pb), gdk_pixbuf_get_height(pb));
    g_object_unref(pb);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "cmp") == 0)
        return cmd_cmp(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "load") == 0)
        return cmd_load(argv[2]);
    if (argc == 3 && strcmp(argv[1], "info") == 0)
        return cmd_info(argv[2]);
    if (argc == 5 && strcmp(argv[1], "size") == 0)
        return cmd_size(argv[2], atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: pixbuf_load cmp A B | load FILE | info FILE | size FILE W H\n");
    return 2;
}
