/* test_container.c — .idf header serialise/parse and its checks. */
#include <stdlib.h>
#include <string.h>

#include "../codec/container.h"
#include "test_util.h"

static uint8_t chunk_a[] = {0, 0, 0xB1, 0x8F};           /* a gAMA payload */
static uint8_t chunk_b[] = {'C', 'o', 'm', 'm', 'e', 'n', 't', 0, 'h', 'i'};

static void fill_header(idf_header *h, idfzip_chunk *chunks, idf_tile_entry *tiles)
{
    memset(h, 0, sizeof *h);
    h->mode = IDF_MODE_CODED;
    h->width = 300, h->height = 200, h->channels = 1, h->bit_depth = 8;
    h->color_type = IDFZIP_COLOR_PALETTE;
    strcpy(h->model_name, "baseline-v1");
    h->model_crc = 0x12345678;
    h->tile_width = 256, h->tile_height = 256;
    h->palette_size = 3;
    for (int i = 0; i < 9; i++)
        h->palette[i] = (uint8_t)(i * 20);
    h->trns_size = 2;
    h->trns[0] = 7, h->trns[1] = 9;
    memcpy(chunks[0].type, "gAMA", 4);
    chunks[0].where = IDFZIP_CHUNK_BEFORE_PLTE, chunks[0].size = sizeof chunk_a, chunks[0].data = chunk_a;
    memcpy(chunks[1].type, "tEXt", 4);
    chunks[1].where = IDFZIP_CHUNK_AFTER_IDAT, chunks[1].size = sizeof chunk_b, chunks[1].data = chunk_b;
    h->chunk_count = 2;
    h->chunks = chunks;
    h->tile_count = 2;
    tiles[0] = (idf_tile_entry){5, 0xAAAA}, tiles[1] = (idf_tile_entry){3, 0xBBBB};
    h->tiles = tiles;
    h->pixel_crc = 0xCAFEF00D;
}

/* A header plus 8 payload bytes, as a whole file. */
static uint8_t *make_file(const idf_header *h, size_t *size)
{
    uint8_t *head;
    size_t n;
    if (idf_header_write(h, &head, &n) != IDFZIP_OK)
        return NULL;
    uint8_t *file = realloc(head, n + 8);
    if (!file) {
        free(head);
        return NULL;
    }
    memset(file + n, 0x5A, 8);
    *size = n + 8;
    return file;
}

static void test_round_trip(void)
{
    idf_header h, r;
    idfzip_chunk chunks[2];
    idf_tile_entry tiles[2];
    fill_header(&h, chunks, tiles);
    size_t size;
    uint8_t *file = make_file(&h, &size);
    CHECK(file != NULL, "write");
    int st = idf_header_read(file, size, 0, &r);
    CHECK(st == IDFZIP_OK, "read: %s", idfzip_error_string(st));
    if (st == IDFZIP_OK) {
        CHECK(r.width == 300 && r.height == 200 && r.color_type == 3 && r.bit_depth == 8, "dims");
        CHECK(strcmp(r.model_name, "baseline-v1") == 0 && r.model_crc == 0x12345678, "model");
        CHECK(r.palette_size == 3 && memcmp(r.palette, h.palette, 9) == 0, "palette");
        CHECK(r.trns_size == 2 && r.trns[1] == 9, "trns");
        CHECK(r.chunk_count == 2 && memcmp(r.chunks[1].type, "tEXt", 4) == 0 &&
              r.chunks[1].size == sizeof chunk_b && memcmp(r.chunks[1].data, chunk_b, sizeof chunk_b) == 0 &&
              r.chunks[1].where == IDFZIP_CHUNK_AFTER_IDAT, "chunks");
        CHECK(r.tile_count == 2 && r.tiles[0].size == 5 && r.tiles[1].crc == 0xBBBB, "tiles");
        CHECK(r.pixel_crc == 0xCAFEF00D && r.header_size == size - 8, "crc and size");
        idf_header_free(&r);
    }
    free(file);
}

static void test_damage(void)
{
    idf_header h, r;
    idfzip_chunk chunks[2];
    idf_tile_entry tiles[2];
    fill_header(&h, chunks, tiles);
    size_t size;
    uint8_t *file = make_file(&h, &size);
    int accepted = 0;
    for (size_t n = 0; n < size; n++) {
        int st = idf_header_read(file, n, 0, &r);
        accepted += st == IDFZIP_OK;
        if (n >= 22 && st != IDFZIP_ERR_TRUNCATED && st != IDFZIP_ERR_CRC)
            accepted += 1000;
    }
    CHECK(accepted == 0, "truncations accepted or misreported (%d)", accepted);
    for (size_t bit = 0; bit < (size - 8) * 8; bit++) {
        file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int st = idf_header_read(file, size, 0, &r);
        accepted += st == IDFZIP_OK;
        if (st == IDFZIP_OK)
            idf_header_free(&r);
        file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    CHECK(accepted == 0, "%d header bit flips accepted", accepted);
    uint8_t *longer = malloc(size + 1);
    memcpy(longer, file, size);
    longer[size] = 0;
    CHECK(idf_header_read(longer, size + 1, 0, &r) == IDFZIP_ERR_CORRUPT, "trailing byte");
    CHECK(idf_header_read(file, size, 300 * 200 - 1, &r) == IDFZIP_ERR_LIMIT, "pixel limit");
    free(longer);
    free(file);
}

static void test_tile_grid(void)
{
    CHECK(idf_tile_count(1, 1, 256, 256) == 1, "1x1");
    CHECK(idf_tile_count(256, 256, 256, 256) == 1, "exact");
    CHECK(idf_tile_count(257, 256, 256, 256) == 2, "one over");
    CHECK(idf_tile_count(769, 513, 256, 256) == 12, "769x513");
    CHECK(idf_tile_count(5, 5, 0, 256) == 0, "zero tile");
}

int main(void)
{
    test_round_trip();
    test_damage();
    test_tile_grid();
    return test_report("container");
}
