/* test_regressions.c — inputs that once broke idfzip (most found by the
 * fuzzers in tests/fuzz/) must now give exactly their expected result.
 *
 * DIR/EXPECTED names every file in DIR and the status it must give ("ok"
 * or an error name such as "corrupt"); a file without a line there, or a
 * line without a file, fails.  By suffix:
 *   .idf   decoded as an image and as a PNG: both give the status; a file
 *          that decodes must compress again and come back equal
 *   .png   read with idfzip_png_decode, then as .idf -> .png
 *   .idfw  loaded as a model (idfzip_model_info)
 * Besides the files, the in-memory images behind some of them.
 *
 * Usage: test_regressions DIR
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "../include/idfzip.h"
#include "../tools/read_file.h"
#include "test_util.h"

static const struct {
    const char *name;
    int status;
} STATUS_NAMES[] = {
    {"ok", IDFZIP_OK},           {"arg", IDFZIP_ERR_ARG},         {"nomem", IDFZIP_ERR_NOMEM},
    {"not-idf", IDFZIP_ERR_NOT_IDF}, {"version", IDFZIP_ERR_VERSION}, {"truncated", IDFZIP_ERR_TRUNCATED},
    {"corrupt", IDFZIP_ERR_CORRUPT}, {"crc", IDFZIP_ERR_CRC},     {"limit", IDFZIP_ERR_LIMIT},
    {"png", IDFZIP_ERR_PNG},     {"unsupported", IDFZIP_ERR_UNSUPPORTED}, {"model", IDFZIP_ERR_MODEL},
};

/* The status a name stands for, or 1 for an unknown name. */
static int status_named(const char *name)
{
    for (size_t i = 0; i < sizeof STATUS_NAMES / sizeof *STATUS_NAMES; i++)
        if (strcmp(STATUS_NAMES[i].name, name) == 0)
            return STATUS_NAMES[i].status;
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* img must survive compress/decompress with the model forced and without. */
static void check_round_trip(const idfzip_image *img, const char *what)
{
    for (int force = 1; force >= 0; force--) {
        idfzip_options o;
        idfzip_options_init(&o);
        o.force_model = force;
        uint8_t *idf = NULL;
        size_t size = 0;
        idfzip_image back;
        int st = idfzip_compress_image(img, &o, &idf, &size);
        st = st ? st : idfzip_decompress_image(idf, size, &o, &back);
        CHECK(st == IDFZIP_OK, "%s: round trip (force %d): %s", what, force, idfzip_error_string(st));
        if (st == IDFZIP_OK) {
            CHECK(idfzip_image_equal(img, &back), "%s: round trip (force %d) changed the image", what,
                  force);
            idfzip_image_free(&back);
        }
        idfzip_free(idf);
    }
}

static void check_idf(const uint8_t *data, size_t size, int want, const char *name)
{
    idfzip_image img;
    uint8_t *png = NULL;
    size_t png_size = 0;
    int st = idfzip_decompress_image(data, size, NULL, &img);
    int st_png = idfzip_decompress_png(data, size, NULL, &png, &png_size);
    CHECK(st == want && st_png == want, "%s: decodes with %d (image) and %d (PNG), expected %d",
          name, st, st_png, want);
    if (st == IDFZIP_OK) {
        check_round_trip(&img, name);
        idfzip_image_free(&img);
    }
    idfzip_free(png);
}

static void check_png(const uint8_t *data, size_t size, int want, const char *name)
{
    idfzip_image img;
    int st = idfzip_png_decode(data, size, 0, &img);
    CHECK(st == want, "%s: PNG decode gives %d, expected %d", name, st, want);
    if (st == IDFZIP_OK) {
        check_round_trip(&img, name);
        idfzip_image_free(&img);
    }
}

static void check_idfw(const uint8_t *data, size_t size, int want, const char *name)
{
    char model_name[IDFZIP_MODEL_NAME_MAX + 1];
    uint32_t crc;
    int st = idfzip_model_info(data, size, model_name, &crc);
    CHECK(st == want, "%s: model load gives %d, expected %d", name, st, want);
}

static void check_file(const char *dir, const char *name, int want)
{
    char path[1024];
    size_t size = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *data = read_file(path, &size);
    CHECK(data != NULL, "%s: cannot read", path);
    if (!data)
        return;
    if (ends_with(name, ".idf"))
        check_idf(data, size, want, name);
    else if (ends_with(name, ".png"))
        check_png(data, size, want, name);
    else if (ends_with(name, ".idfw"))
        check_idfw(data, size, want, name);
    else
        CHECK(0, "%s: unknown kind of regression file", name);
    free(data);
}

/* Runs every EXPECTED line; returns how many there were (-1: no list). */
static int run_expected(const char *dir)
{
    char path[1024], line[512], name[256], status[64];
    snprintf(path, sizeof path, "%s/EXPECTED", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f)
        return -1;
    int count = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%255s %63s", name, status) != 2)
            continue;
        int want = status_named(status);
        CHECK(want <= 0, "%s: unknown status %s", name, status);
        if (want <= 0)
            check_file(dir, name, want);
        count++;
    }
    fclose(f);
    return count;
}

/* Is name listed in DIR/EXPECTED? */
static int listed(const char *dir, const char *name)
{
    char path[1024], line[512], first[256];
    snprintf(path, sizeof path, "%s/EXPECTED", dir);
    FILE *f = fopen(path, "r");
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f))
        found = line[0] != '#' && sscanf(line, "%255s", first) == 1 && strcmp(first, name) == 0;
    if (f)
        fclose(f);
    return found;
}

static void check_all_listed(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "EXPECTED") == 0 ||
            strcmp(e->d_name, "README.md") == 0)
            continue;
        CHECK(listed(dir, e->d_name), "%s is not in %s/EXPECTED", e->d_name, dir);
    }
    if (d)
        closedir(d);
}

/* ---- the images behind the chunk-place regressions ---- */

static uint16_t samples_4x4_rgba[4 * 4 * 4];
static uint8_t text[] = "Comment\0hello";

static idfzip_image rgba_with_chunks(idfzip_chunk *chunks, uint32_t count)
{
    idfzip_image img;
    memset(&img, 0, sizeof img);
    img.width = img.height = 4;
    img.channels = 4;
    img.bit_depth = 8;
    img.color_type = IDFZIP_COLOR_RGBA;
    img.samples = samples_4x4_rgba;
    for (size_t i = 0; i < sizeof samples_4x4_rgba / sizeof *samples_4x4_rgba; i++)
        samples_4x4_rgba[i] = (uint16_t)(i * 37 & 255);
    img.chunks = chunks;
    img.chunk_count = count;
    return img;
}

/* A chunk "between PLTE and IDAT" in an image without PLTE, or chunks out
 * of file order, cannot be kept in a PNG: compressing such an image once
 * gave back a different image whenever stored mode won (found by
 * fuzz_roundtrip and fuzz_flow).  Now they are refused up front. */
static void test_chunk_places(void)
{
    idfzip_chunk c[2] = {{{'t', 'E', 'X', 't'}, IDFZIP_CHUNK_BEFORE_IDAT, sizeof text - 1, text},
                         {{'z', 'z', 'Z', 'z'}, IDFZIP_CHUNK_BEFORE_PLTE, 3, text}};
    idfzip_image img = rgba_with_chunks(c, 1);
    uint8_t *out = NULL;
    size_t size = 0;
    CHECK(idfzip_compress_image(&img, NULL, &out, &size) == IDFZIP_ERR_ARG, "before IDAT, no PLTE");
    CHECK(idfzip_png_encode(&img, &out, &size) == IDFZIP_ERR_ARG, "PNG: before IDAT, no PLTE");
    c[0].where = IDFZIP_CHUNK_AFTER_IDAT;
    img = rgba_with_chunks(c, 2);
    CHECK(idfzip_compress_image(&img, NULL, &out, &size) == IDFZIP_ERR_ARG, "chunks out of order");
    c[1].where = IDFZIP_CHUNK_AFTER_IDAT;
    check_round_trip(&img, "two chunks after IDAT");
    /* With a suggested palette, "between PLTE and IDAT" exists. */
    c[0].where = IDFZIP_CHUNK_BEFORE_IDAT;
    img.palette_size = 2;
    check_round_trip(&img, "chunk between PLTE and IDAT of an RGBA image");
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/regressions";
    int files = run_expected(dir);
    CHECK(files >= 1, "no regression files in %s", dir);
    check_all_listed(dir);
    test_chunk_places();
    return test_report("regressions");
}
