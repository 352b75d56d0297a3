/* fuzz_png.c — libFuzzer target: the PNG reading path on arbitrary bytes.
 *
 * Each input is decoded with idfzip_png_decode as given and, when that
 * fails, again with every chunk CRC recomputed, so that mutations reach
 * libpng's decoding and our own chunk walk rather than stopping at a CRC.
 * A PNG that decodes must survive the rest of the pipeline: the PNG writer
 * and reader give back the same image, and (for small images) compressing
 * the PNG with idfzip_compress_png and decompressing it gives the same
 * image again.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_util.h"

#define PNG_SIGNATURE_SIZE 8
/* Images this small also go through compress/decompress. */
#define MAX_CODEC_PIXELS 4096

static void check_png_round_trip(const idfzip_image *img)
{
    uint8_t *png = NULL;
    size_t png_size = 0;
    idfzip_image back;
    int st = idfzip_png_encode(img, &png, &png_size);
    if (st != IDFZIP_OK && st != IDFZIP_ERR_NOMEM)
        fuzz_fail("a decoded PNG image cannot be written", st);
    if (st != IDFZIP_OK)
        return;
    st = idfzip_png_decode(png, png_size, FUZZ_MAX_PIXELS, &back);
    if (st != IDFZIP_OK && st != IDFZIP_ERR_NOMEM)
        fuzz_fail("our own PNG does not decode", st);
    if (st == IDFZIP_OK && !idfzip_image_equal(img, &back))
        fuzz_fail("PNG written and read back differs", st);
    if (st == IDFZIP_OK)
        idfzip_image_free(&back);
    idfzip_free(png);
}

static void check_codec_round_trip(const uint8_t *png, size_t png_size, const idfzip_image *img)
{
    idfzip_options o;
    idfzip_options_init(&o);
    o.max_pixels = FUZZ_MAX_PIXELS;
    uint8_t *idf = NULL, *back_png = NULL;
    size_t idf_size = 0, back_size = 0;
    int st = idfzip_compress_png(png, png_size, &o, &idf, &idf_size);
    if (st != IDFZIP_OK && st != IDFZIP_ERR_NOMEM)
        fuzz_fail("a PNG that decodes does not compress", st);
    if (st == IDFZIP_OK)
        st = idfzip_decompress_png(idf, idf_size, &o, &back_png, &back_size);
    if (st != IDFZIP_OK && st != IDFZIP_ERR_NOMEM)
        fuzz_fail("a compressed PNG does not decompress", st);
    idfzip_image back;
    if (st == IDFZIP_OK && idfzip_png_decode(back_png, back_size, FUZZ_MAX_PIXELS, &back) == IDFZIP_OK) {
        if (!idfzip_image_equal(img, &back))
            fuzz_fail("PNG -> .idf -> PNG changed the image", st);
        idfzip_image_free(&back);
    } else if (st == IDFZIP_OK) {
        fuzz_fail("the decompressed PNG does not decode", st);
    }
    idfzip_free(idf);
    idfzip_free(back_png);
}

/* Decodes; on success checks the round trips.  Returns the status. */
static int decode_and_check(const uint8_t *d, size_t size)
{
    idfzip_image img;
    int st = idfzip_png_decode(d, size, FUZZ_MAX_PIXELS, &img);
    if (st != IDFZIP_OK)
        return st;
    check_png_round_trip(&img);
    if ((uint64_t)img.width * img.height <= MAX_CODEC_PIXELS)
        check_codec_round_trip(d, size, &img);
    idfzip_image_free(&img);
    return st;
}

/* Recomputes the CRC of every complete chunk after the signature. */
static void fix_chunk_crcs(uint8_t *d, size_t size)
{
    size_t at = PNG_SIGNATURE_SIZE;
    while (at <= size && size - at >= 12) {
        uint32_t len = (uint32_t)d[at] << 24 | (uint32_t)d[at + 1] << 16 | (uint32_t)d[at + 2] << 8 | d[at + 3];
        if (len > size - at - 12)
            return;
        put_be32(d + at + 8 + len, (uint32_t)crc32(0L, d + at + 4, (uInt)len + 4));
        at += 12 + (size_t)len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (decode_and_check(data, size) == IDFZIP_OK || size < PNG_SIGNATURE_SIZE)
        return 0;
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    fix_chunk_crcs(copy, size);
    if (memcmp(copy, data, size) != 0)
        decode_and_check(copy, size);
    free(copy);
    return 0;
}
