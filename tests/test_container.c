/* test_container.c — .idf header serialise/parse and its checks, for every
 * version (1: fixed fields and a CRC per tile; 2: variable-length fields,
 * built-in models by number, one CRC over the file; 3: 2 with a sample map). */
#include <stdlib.h>
#include <string.h>

#include "../codec/container.h"
#include "../codec/palette_pack.h"
#include "../model/registry.h"
#include "test_util.h"

static uint8_t chunk_a[] = {0, 0, 0xB1, 0x8F};           /* a gAMA payload */
static uint8_t chunk_b[] = {'C', 'o', 'm', 'm', 'e', 'n', 't', 0, 'h', 'i'};

static void fill_header(idf_header *h, idfzip_chunk *chunks, idf_tile_entry *tiles, uint32_t version)
{
    memset(h, 0, sizeof *h);
    h->version = version;
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
    if (version >= 3)
        h->map.flags = SAMPLE_MAP_PALETTE_LUMA;
}

/* A header plus its 8 payload bytes (tiles of 5 and 3), as a whole file. */
static uint8_t *make_file(const idf_header *h, size_t *size)
{
    static uint8_t payload[8] = {0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A};
    uint8_t *const pieces[2] = {payload, payload + 5};
    const uint32_t sizes[2] = {5, 3};
    uint8_t *file = NULL;
    return idf_file_write(h, pieces, sizes, 2, &file, size) == IDFZIP_OK ? file : NULL;
}

static void test_round_trip(uint32_t version)
{
    idf_header h, r;
    idfzip_chunk chunks[2];
    idf_tile_entry tiles[2];
    fill_header(&h, chunks, tiles, version);
    size_t size;
    uint8_t *file = make_file(&h, &size);
    CHECK(file != NULL, "write");
    int st = file ? idf_header_read(file, size, 0, &r) : IDFZIP_ERR_NOMEM;
    CHECK(st == IDFZIP_OK, "v%u read: %s", version, idfzip_error_string(st));
    if (st == IDFZIP_OK) {
        CHECK(r.version == version, "version");
        CHECK(r.width == 300 && r.height == 200 && r.color_type == 3 && r.bit_depth == 8 &&
                  r.channels == 1, "dims");
        CHECK(strcmp(r.model_name, "baseline-v1") == 0 && r.model_crc == 0x12345678 &&
                  r.model_id == 0 && r.tile_width == 256 && r.tile_height == 256, "model");
        CHECK(r.palette_size == 3 && memcmp(r.palette, h.palette, 9) == 0, "palette");
        CHECK(r.trns_size == 2 && r.trns[1] == 9, "trns");
        CHECK(r.chunk_count == 2 && memcmp(r.chunks[1].type, "tEXt", 4) == 0 &&
              r.chunks[1].size == sizeof chunk_b && memcmp(r.chunks[1].data, chunk_b, sizeof chunk_b) == 0 &&
              r.chunks[1].where == IDFZIP_CHUNK_AFTER_IDAT, "chunks");
        CHECK(r.tile_count == 2 && r.tiles[0].size == 5 && r.tiles[1].size == 3 &&
                  r.tiles[1].crc == (version == 1 ? 0xBBBBu : 0u), "tiles");
        CHECK(r.pixel_crc == 0xCAFEF00D && r.header_size == size - 8, "crc and size");
        CHECK(r.map.flags == (version >= 3 ? SAMPLE_MAP_PALETTE_LUMA : 0u), "sample map");
        idf_header_free(&r);
    }
    free(file);
}

/* Version 2 names a built-in model by its number: one byte, and the name
 * and tile size come from the registry; an unknown number is "model". */
static void test_model_number(void)
{
    idf_header h, r;
    idfzip_chunk chunks[2];
    idf_tile_entry tiles[2];
    fill_header(&h, chunks, tiles, 2);
    h.model_id = 3;
    h.tile_count = 2;
    h.width = 400; /* 2 tiles of baseline-v3's 256x256 */
    size_t size;
    uint8_t *file = make_file(&h, &size);
    int st = file ? idf_header_read(file, size, 0, &r) : IDFZIP_ERR_NOMEM;
    CHECK(st == IDFZIP_OK && strcmp(r.model_name, "baseline-v3") == 0 && r.model_id == 3 &&
              r.tile_width == 256 && r.tile_height == 256,
          "model number: %s", idfzip_error_string(st));
    if (st == IDFZIP_OK)
        idf_header_free(&r);
    free(file);
    h.model_id = 200;
    file = make_file(&h, &size);
    CHECK(file && idf_header_read(file, size, 0, &r) == IDFZIP_ERR_MODEL, "unknown model number");
    free(file);
}

/* Every number names a built-in model of that tile size, whose number it
 * is (composites included: their CRC is that of their parts). */
static void test_number_table(void)
{
    uint32_t found = 0;
    for (uint32_t id = 1; id < 256; id++) {
        const model_number *n = model_number_by_id(id);
        if (!n)
            continue;
        found++;
        model_ref ref;
        int st = model_select_by_name(n->name, NULL, &ref);
        CHECK(st == IDFZIP_OK, "number %u (%s): %s", id, n->name, idfzip_error_string(st));
        if (st != IDFZIP_OK)
            continue;
        CHECK(ref.model->tile_width == n->tile_width && ref.model->tile_height == n->tile_height &&
                  model_number_of(ref.model) == id &&
                  model_builtin_crc(n->name) == ref.model->crc,
              "number %u (%s): tile, number or CRC", id, n->name);
        model_release(&ref);
    }
    CHECK(found == 11, "%u numbered models", found);
}

static void test_damage(uint32_t version)
{
    idf_header h, r;
    idfzip_chunk chunks[2];
    idf_tile_entry tiles[2];
    fill_header(&h, chunks, tiles, version);
    size_t size;
    uint8_t *file = make_file(&h, &size);
    if (!file) {
        CHECK(0, "write");
        return;
    }
    int accepted = 0;
    size_t fixed = version == 1 ? 22 : 4; /* from here a cut is "truncated" */
    for (size_t n = 0; n < size; n++) {
        int st = idf_header_read(file, n, 0, &r);
        accepted += st == IDFZIP_OK;
        if (n >= fixed && st != IDFZIP_ERR_TRUNCATED && st != IDFZIP_ERR_CRC)
            accepted += 1000;
    }
    CHECK(accepted == 0, "v%u: truncations accepted or misreported (%d)", version, accepted);
    /* version 1 checks the payload by its tile CRCs later; version 2's file
     * CRC covers every byte */
    size_t covered = version == 1 ? size - 8 : size;
    for (size_t bit = 0; bit < covered * 8; bit++) {
        file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int st = idf_header_read(file, size, 0, &r);
        accepted += st == IDFZIP_OK;
        if (st == IDFZIP_OK)
            idf_header_free(&r);
        file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    CHECK(accepted == 0, "v%u: %d header bit flips accepted", version, accepted);
    uint8_t *longer = malloc(size + 1);
    memcpy(longer, file, size);
    longer[size] = 0;
    CHECK(idf_header_read(longer, size + 1, 0, &r) == IDFZIP_ERR_CORRUPT, "trailing byte");
    CHECK(idf_header_read(file, size, 300 * 200 - 1, &r) == IDFZIP_ERR_LIMIT, "pixel limit");
    free(longer);
    free(file);
}

/* Version 3's sample map on a 16-bit RGBA header: read back as written,
 * and every map that fits no image of the kind is corrupt. */
static int read_map(const sample_map *map, uint32_t color_type, uint32_t depth, sample_map *out)
{
    idf_header h, r;
    idfzip_chunk chunks[2];
    idf_tile_entry tiles[2];
    fill_header(&h, chunks, tiles, 3);
    h.color_type = color_type, h.bit_depth = depth;
    h.channels = color_type == IDFZIP_COLOR_RGBA ? 4 : 1;
    h.palette_size = color_type == IDFZIP_COLOR_PALETTE ? 3 : 0;
    h.trns_size = color_type == IDFZIP_COLOR_PALETTE ? 2 : 0;
    h.map = *map;
    size_t size;
    uint8_t *file = make_file(&h, &size);
    int st = file ? idf_header_read(file, size, 0, &r) : IDFZIP_ERR_NOMEM;
    if (st == IDFZIP_OK) {
        *out = r.map;
        idf_header_free(&r);
    }
    free(file);
    return st;
}

static void test_sample_map(void)
{
    sample_map m = {SAMPLE_MAP_SCALED, 8, {257, 257, 300, 65535}, {0}}, r;
    int st = read_map(&m, IDFZIP_COLOR_RGBA, 16, &r);
    CHECK(st == IDFZIP_OK && memcmp(&m, &r, sizeof m) == 0, "scaled map: %s",
          idfzip_error_string(st));
    static const struct {
        sample_map map;
        uint32_t color_type, depth;
        const char *what;
    } bad[] = {
        {{4, 0, {0}, {0}}, IDFZIP_COLOR_PALETTE, 8, "unknown flag"},
        {{SAMPLE_MAP_PALETTE_LUMA, 0, {0}, {0}}, IDFZIP_COLOR_RGBA, 16, "luma order, no palette"},
        {{SAMPLE_MAP_SCALED, 8, {2, 2, 2, 2}, {0}}, IDFZIP_COLOR_PALETTE, 8, "scaled palette"},
        {{SAMPLE_MAP_SCALED, 16, {2, 2, 2, 2}, {0}}, IDFZIP_COLOR_RGBA, 8, "coded deeper than the image"},
        {{SAMPLE_MAP_SCALED, 4, {2, 2, 2, 2}, {0}}, IDFZIP_COLOR_RGBA, 16, "coded at 4 bits"},
        {{SAMPLE_MAP_SCALED, 8, {2, 0, 2, 2}, {0}}, IDFZIP_COLOR_RGBA, 16, "scale 0"},
        {{SAMPLE_MAP_SCALED, 8, {2, 2, 2, 65536}, {0}}, IDFZIP_COLOR_RGBA, 16, "scale past the range"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st = read_map(&bad[i].map, bad[i].color_type, bad[i].depth, &r);
        CHECK(st == IDFZIP_ERR_CORRUPT, "%s: %s", bad[i].what, idfzip_error_string(st));
    }
    /* a sent palette order (3 entries): a permutation, alone */
    sample_map order = {SAMPLE_MAP_PALETTE_ORDER, 0, {0}, {2, 0, 1}};
    st = read_map(&order, IDFZIP_COLOR_PALETTE, 8, &r);
    CHECK(st == IDFZIP_OK && r.flags == SAMPLE_MAP_PALETTE_ORDER && r.order[0] == 2 &&
              r.order[1] == 0 && r.order[2] == 1 && r.order[3] == 3 && r.order[255] == 255,
          "sent order: %s", idfzip_error_string(st));
    static const uint8_t not_orders[][3] = {{0, 0, 1}, {0, 1, 3}, {2, 2, 2}};
    for (size_t i = 0; i < 3; i++) {
        memcpy(order.order, not_orders[i], 3);
        st = read_map(&order, IDFZIP_COLOR_PALETTE, 8, &r);
        CHECK(st == IDFZIP_ERR_CORRUPT, "order %zu, no permutation: %s", i, idfzip_error_string(st));
    }
    memcpy(order.order, (uint8_t[]){1, 2, 0}, 3);
    order.flags = SAMPLE_MAP_PALETTE_ORDER | SAMPLE_MAP_PALETTE_LUMA;
    st = read_map(&order, IDFZIP_COLOR_PALETTE, 8, &r);
    CHECK(st == IDFZIP_ERR_CORRUPT, "both orders: %s", idfzip_error_string(st));
}

/* Version 3's packed palettes: each coding round-trips, a palette that
 * packs makes a smaller header, and damaged streams are corrupt. */
static void test_palette_pack(void)
{
    uint8_t shades[3 * 256], random[3 * 256], back[3 * 256];
    uint64_t rng = 3;
    for (int i = 0; i < 3 * 256; i++) {
        shades[i] = (uint8_t)(i / 3 * (i % 3 + 1)); /* steady steps: deltas pack */
        random[i] = (uint8_t)test_rand(&rng);
    }
    palette_packed p;
    CHECK(palette_pack(shades, 256, &p) == IDFZIP_OK && p.coding == PALETTE_DEFLATE_DELTA &&
              p.size < 100, "shades: coding %u, %u bytes", p.coding, p.size);
    CHECK(palette_unpack(p.coding, p.data, p.size, 256, back) == IDFZIP_OK &&
              memcmp(back, shades, sizeof shades) == 0, "shades back");
    CHECK(palette_unpack(p.coding, p.data, p.size - 1, 256, back) == IDFZIP_ERR_CORRUPT,
          "a stream cut short");
    CHECK(palette_unpack(p.coding, p.data, p.size, 255, back) == IDFZIP_ERR_CORRUPT,
          "a stream longer than the palette");
    CHECK(palette_unpack(7, p.data, p.size, 256, back) == IDFZIP_ERR_CORRUPT, "unknown coding");
    uint8_t longer[PALETTE_PACK_MAX + 1];
    memcpy(longer, p.data, p.size);
    longer[p.size] = 0;
    CHECK(palette_unpack(p.coding, longer, p.size + 1, 256, back) == IDFZIP_ERR_CORRUPT,
          "a byte after the stream");
    CHECK(palette_pack(random, 256, &p) == IDFZIP_OK && p.coding == PALETTE_RAW && p.size == 768,
          "random: raw");
    CHECK(palette_unpack(PALETTE_RAW, random, 767, 256, back) == IDFZIP_ERR_CORRUPT, "raw size");
    /* in a header: read back exactly, 600 bytes smaller than raw */
    idf_header h, r;
    idfzip_chunk chunks[2];
    idf_tile_entry tiles[2];
    fill_header(&h, chunks, tiles, 3);
    h.palette_size = 256;
    memcpy(h.palette, shades, sizeof shades);
    size_t size, raw_size;
    uint8_t *file = make_file(&h, &size);
    int st = file ? idf_header_read(file, size, 0, &r) : IDFZIP_ERR_NOMEM;
    CHECK(st == IDFZIP_OK && r.palette_size == 256 && memcmp(r.palette, shades, sizeof shades) == 0,
          "packed palette in a header: %s", idfzip_error_string(st));
    if (st == IDFZIP_OK)
        idf_header_free(&r);
    free(file);
    fill_header(&h, chunks, tiles, 2);
    h.palette_size = 256;
    memcpy(h.palette, shades, sizeof shades);
    file = make_file(&h, &raw_size);
    CHECK(file && size + 600 < raw_size, "packed %zu bytes, raw %zu", size, raw_size);
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
    for (uint32_t version = 1; version <= IDF_VERSION; version++) {
        test_round_trip(version);
        test_damage(version);
    }
    test_model_number();
    test_number_table();
    test_sample_map();
    test_palette_pack();
    test_tile_grid();
    return test_report("container");
}
