/* test_idfw.c — the .idfw loader (model/idfw.c) against files from the
 * random builder (tests/support/idfw_random.c): every preset loads with the fields
 * it was built with, and every truncation, bit flip and semantic corruption
 * (CRC recomputed, so the parser itself must catch it) is refused without
 * a crash, for flow models and for the AR prior (no levels, K = 0).  Meant
 * to run under ASan/UBSan too. */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../include/idfzip.h"
#include "../model/idfw.h"
#include "support/idfw_random.h"
#include "test_util.h"

/* Layout of the fixed header and of the first coupling (FORMAT.md). */
#define OFF_VERSION 8
#define OFF_NAME 10
#define OFF_CHANNELS 26
#define OFF_BIT_DEPTH 27
#define OFF_MAXVAL 28
#define OFF_TILE_W 32
#define OFF_TILE_H 34
#define OFF_INITIAL 36
#define OFF_LEVELS 37
#define OFF_LEVEL0 38 /* squeeze, factor_out, K (2 bytes) */
#define OFF_COUPLING0 42
#define NET_HEADER 6 /* layer count, input clamp */
#define CONV_HEADER 10
/* The AR prior: no levels, so K and then its net follow the header. */
#define OFF_AR_K 38
#define OFF_AR_NET 39
#define OFF_AR_CONV0 (OFF_AR_NET + NET_HEADER)

/* ---- helpers ---- */

static uint32_t file_crc(const uint8_t *d, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), d, (uInt)n);
}

static void put_le(uint8_t *p, uint32_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le(const uint8_t *p, unsigned bytes)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static void fix_crc(uint8_t *d, size_t size) { put_le(d + size - 4, file_crc(d, size - 4), 4); }

/* Loads, frees what loaded, returns the status. */
static int load_status(const uint8_t *d, size_t size)
{
    idf_model *m = NULL;
    int st = idfw_load(d, size, &m);
    CHECK((st == IDFZIP_OK) == (m != NULL), "status %d with model %p", st, (void *)m);
    idfw_free(m);
    return st;
}

/* A copy of d with `bytes` bytes at `at` set to v and the CRC recomputed. */
static int patched_status(const uint8_t *d, size_t size, size_t at, uint32_t v, unsigned bytes)
{
    uint8_t *c = malloc(size);
    if (!c)
        return IDFZIP_ERR_NOMEM;
    memcpy(c, d, size);
    put_le(c + at, v, bytes);
    fix_crc(c, size);
    int st = load_status(c, size);
    free(c);
    return st;
}

/* A copy of d without the cut bytes at `at`, then patched at `patch` (an
 * offset before `at`) and the CRC recomputed: keeps the file parseable while
 * one count changes, so only the semantic check can refuse it. */
static int spliced_status(const uint8_t *d, size_t size, size_t at, size_t cut, size_t patch,
                          uint32_t v, unsigned bytes)
{
    uint8_t *c = malloc(size);
    if (!c)
        return IDFZIP_ERR_NOMEM;
    memcpy(c, d, at);
    memcpy(c + at, d + at + cut, size - at - cut);
    put_le(c + patch, v, bytes);
    fix_crc(c, size - cut);
    int st = load_status(c, size - cut);
    free(c);
    return st;
}

static size_t conv_size(uint32_t k, uint32_t cin, uint32_t cout)
{
    return CONV_HEADER + (size_t)cout * (k * k * cin) + (size_t)cout * 9;
}

static int build(const idfw_arch *a, uint64_t seed, uint8_t **d, size_t *n)
{
    int rc = idfw_build_random(a, seed, d, n);
    CHECK(rc == 0, "build %s seed %llu", a->name, (unsigned long long)seed);
    return rc;
}

static int build_status(const idfw_arch *a)
{
    uint8_t *d;
    size_t n;
    if (idfw_build_random(a, 7, &d, &n) != 0)
        return 1; /* not even writable */
    int st = load_status(d, n);
    free(d);
    return st;
}

static idfw_arch preset(const char *name)
{
    idfw_arch a;
    memset(&a, 0, sizeof a);
    int rc = idfw_arch_preset(name, &a);
    CHECK(rc == 0, "preset %s", name);
    return a;
}

/* ---- the loaded model matches its arch ---- */

static uint32_t expected_layers(const idfw_arch *a)
{
    return a->hidden ? 2 + (a->hidden - 1) * (a->residual ? 3 : 2) + 1 : 1;
}

static int aligned4(const void *p) { return (uintptr_t)p % alignof(int32_t) == 0; }

static void check_net(const idfw_arch *a, const nn_net *net, uint32_t cin, uint32_t cout)
{
    CHECK(net->cin == cin && net->cout == cout, "net %u->%u, want %u->%u", net->cin, net->cout,
          cin, cout);
    CHECK(net->nlayers == expected_layers(a), "net layers %u", net->nlayers);
    const nn_layer *first = &net->layer[0], *last = &net->layer[net->nlayers - 1];
    CHECK(first->op == NN_CONV && first->kernel == a->kernel && first->cin == cin,
          "first layer op %u kernel %u cin %u", first->op, first->kernel, first->cin);
    CHECK(last->op == NN_CONV && last->cout == cout && last->clamp == NN_MAX_CLAMP,
          "last layer op %u cout %u clamp %d", last->op, last->cout, last->clamp);
    for (uint32_t i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layer[i];
        if (l->op == NN_CONV)
            CHECK(l->weight && aligned4(l->bias) && aligned4(l->mult) && l->shift,
                  "conv %u arrays", i);
        if (l->op == NN_LEAKY)
            CHECK(l->leaky_shift == a->leaky_shift, "leaky shift %u", l->leaky_shift);
        if (i == 1 && a->hidden)
            CHECK(l->op == (a->leaky_shift ? NN_LEAKY : NN_RELU), "activation op %u", l->op);
    }
}

static void check_level(const idfw_arch *a, const flow_level *lv, uint32_t li, uint32_t c)
{
    CHECK(lv->squeeze == a->level[li].squeeze && lv->factor_out == (a->level[li].factor_out != 0) &&
              lv->checkerboard == (a->level[li].factor_out == 2) &&
              lv->ncouplings == a->level[li].ncouplings && lv->channels == c,
          "level %u: squeeze %u factor %u K %u C %u (want C %u)", li, lv->squeeze,
          lv->factor_out, lv->ncouplings, lv->channels, c);
    for (uint32_t k = 0; k < lv->ncouplings; k++) {
        const flow_coupling *cp = &lv->coupling[k];
        CHECK(cp->kind == a->level[li].kind, "level %u coupling %u kind %u", li, k, cp->kind);
        CHECK(cp->perm && (uintptr_t)cp->perm % alignof(uint16_t) == 0, "perm storage");
        if (cp->kind == FLOW_BIPARTITE)
            check_net(a, &cp->net[0], c / 2, c / 2);
        for (int n = 0; cp->kind == FLOW_QUADRIPARTITE && n < 4; n++)
            check_net(a, &cp->net[n], 3 * c / 4, c / 4);
    }
    if (lv->factor_out)
        check_net(a, &lv->prior, c / 2, c);
    if (lv->checkerboard)
        check_net(a, &lv->prior2, c, c);
}

/* The AR prior's fields: header, net, dense layers packed where AVX2 runs. */
static void check_ar_prior(const idfw_arch *a, const ar_prior_model *m)
{
    CHECK(m != NULL && m->slot.family == MODEL_AR_PRIOR, "%s: an AR prior", a->name);
    if (!m)
        return;
    CHECK(m->channels == a->channels && m->bit_depth == a->bit_depth && m->maxval == a->maxval &&
              a->initial_squeezes == 0 && a->nlevels == 0,
          "header fields of %s", a->name);
    check_net(a, &m->net, AR_PRIOR_FEATURES, idfw_ar_outputs(a));
    for (uint32_t i = 0; i < m->net.nlayers; i++)
        if (m->net.layer[i].op == NN_CONV)
            CHECK(m->net.layer[i].kernel == 1 &&
                      (nn_kernel_best() == NN_KERNEL_PORTABLE) == !m->net.layer[i].dense,
                  "%s: AR conv %u kernel %u packed %d", a->name, i, m->net.layer[i].kernel,
                  m->net.layer[i].dense != NULL);
}

static void check_flow(const idfw_arch *a, const flow_model *m)
{
    CHECK(m != NULL && m->slot.family == MODEL_FLOW, "%s: a flow", a->name);
    if (!m)
        return;
    CHECK(m->block_width == a->tile_w && m->block_height == a->tile_h, "tile %ux%u",
          m->slot.tile_width, m->slot.tile_height);
    CHECK(m->image_channels == a->channels && m->bit_depth == a->bit_depth &&
              m->maxval == a->maxval && m->initial_squeezes == a->initial_squeezes &&
              m->nlevels == a->nlevels,
          "header fields of %s", a->name);
    uint32_t c = a->channels << (2 * a->initial_squeezes);
    for (uint32_t li = 0; li < m->nlevels && li < a->nlevels; li++) {
        c *= a->level[li].squeeze ? 4 : 1;
        check_level(a, &m->level[li], li, c);
        c /= a->level[li].factor_out ? 2 : 1;
    }
    CHECK(m->top_channels == c, "top channels %u want %u", m->top_channels, c);
    CHECK(aligned4(m->top_mean16) && aligned4(m->top_scale), "top storage");
    for (uint32_t i = 0; i < m->top_channels; i++)
        CHECK(m->top_scale[i] >= 0 && m->top_scale[i] < DL_NUM_SCALES, "top scale");
}

static void check_model(const idfw_arch *a, const idf_model *m, const uint8_t *d, size_t n)
{
    CHECK(strncmp(m->name, a->name, IDFZIP_MODEL_NAME_MAX) == 0, "name %.16s", m->name);
    CHECK(m->crc == file_crc(d, n - 4), "crc %08x", m->crc);
    if (a->ar)
        check_ar_prior(a, ar_prior_of(m));
    else
        check_flow(a, flow_model_of(m));
}

/* ---- MACs per pixel, from the arch and from the loaded model ---- */

static uint64_t arch_net_macs(const idfw_arch *a, uint32_t cin, uint32_t cout)
{
    uint64_t kk = (uint64_t)a->kernel * a->kernel;
    if (a->hidden == 0)
        return kk * cin * cout;
    return kk * ((uint64_t)cin * a->width + (uint64_t)(a->hidden - 1) * a->width * a->width +
                 (uint64_t)a->width * cout);
}

static double arch_macs_per_pixel(const idfw_arch *a)
{
    uint32_t c = a->channels << (2 * a->initial_squeezes);
    double positions = 1.0 / (double)(1u << (2 * a->initial_squeezes)), total = 0;
    for (uint32_t li = 0; li < a->nlevels; li++) {
        if (a->level[li].squeeze) {
            c *= 4;
            positions /= 4;
        }
        uint64_t per_coupling = a->level[li].kind == FLOW_QUADRIPARTITE
                                    ? 4 * arch_net_macs(a, 3 * c / 4, c / 4)
                                    : arch_net_macs(a, c / 2, c / 2);
        uint64_t level = per_coupling * a->level[li].ncouplings;
        if (a->level[li].factor_out) {
            level += arch_net_macs(a, c / 2, c);
            level += a->level[li].factor_out == 2 ? arch_net_macs(a, c, c) : 0;
            c /= 2;
        }
        total += (double)level * positions;
    }
    if (a->ar) /* one net per sample */
        total += (double)arch_net_macs(a, AR_PRIOR_FEATURES, idfw_ar_outputs(a)) * a->channels;
    return total;
}

static uint64_t loaded_net_macs(const nn_net *net)
{
    uint64_t macs = 0;
    for (uint32_t i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layer[i];
        if (l->op == NN_CONV)
            macs += (uint64_t)l->kernel * l->kernel * l->cin * l->cout;
    }
    return macs;
}

static double loaded_macs_per_pixel(const idf_model *model)
{
    const ar_prior_model *ar = ar_prior_of(model);
    if (ar)
        return (double)loaded_net_macs(&ar->net) * ar->channels;
    const flow_model *m = flow_model_of(model);
    double positions = 1.0 / (double)(1u << (2 * m->initial_squeezes)), total = 0;
    for (uint32_t li = 0; li < m->nlevels; li++) {
        const flow_level *lv = &m->level[li];
        positions /= lv->squeeze ? 4 : 1;
        uint64_t level = lv->factor_out ? loaded_net_macs(&lv->prior) : 0;
        level += lv->checkerboard ? loaded_net_macs(&lv->prior2) : 0;
        for (uint32_t k = 0; k < lv->ncouplings; k++) {
            int nets = lv->coupling[k].kind == FLOW_QUADRIPARTITE ? 4 : 1;
            for (int n = 0; n < nets; n++)
                level += loaded_net_macs(&lv->coupling[k].net[n]);
        }
        total += (double)level * positions;
    }
    return total;
}

/* ---- tests ---- */

static void test_presets(void)
{
    const char *name;
    for (size_t i = 0; (name = idfw_preset_name(i)) != NULL; i++) {
        idfw_arch a = preset(name);
        uint8_t *d, *again;
        size_t n, n2;
        if (build(&a, 1, &d, &n) != 0)
            continue;
        idf_model *m = NULL;
        int st = idfw_load(d, n, &m);
        CHECK(st == IDFZIP_OK, "%s loads: %d", name, st);
        if (m) {
            check_model(&a, m, d, n);
            double from_arch = arch_macs_per_pixel(&a), loaded = loaded_macs_per_pixel(m);
            CHECK(from_arch == loaded, "%s MACs %.1f vs %.1f", name, from_arch, loaded);
            printf("  %-12s %8zu bytes  %9.1f MACs/pixel\n", name, n, from_arch);
        }
        idfw_free(m);
        if (build(&a, 1, &again, &n2) == 0) {
            CHECK(n == n2 && memcmp(d, again, n) == 0, "%s deterministic", name);
            free(again);
        }
        if (build(&a, 2, &again, &n2) == 0) {
            CHECK(n == n2 && memcmp(d, again, n) != 0, "%s seed matters", name);
            free(again);
        }
        free(d);
    }
    idfw_arch a;
    CHECK(idfw_arch_preset("no-such-preset", &a) == -1, "unknown preset");
}

/* Variant v of weight mode `mode` of arch a, built with seed, loads and
 * matches its description (what: a label for failures). */
static void check_variant(const idfw_arch *a, uint64_t seed, const char *what, int mode, int v)
{
    uint8_t *d;
    size_t n;
    if (build(a, seed, &d, &n) != 0)
        return;
    idf_model *m = NULL;
    int st = idfw_load(d, n, &m);
    CHECK(st == IDFZIP_OK, "%smode %d variant %d: %d", what, mode, v, st);
    if (m)
        check_model(a, m, d, n);
    idfw_free(m);
    free(d);
}

/* Weight modes, permutations, activations, residuals, depths all load. */
static void test_variants(void)
{
    for (int mode = 0; mode < 3; mode++) {
        for (int v = 0; v < 6; v++) {
            idfw_arch a = preset("tiny-rgb");
            a.weight_mode = mode;
            a.perm_mode = v & 1;
            a.leaky_shift = (uint8_t)(v >= 2 ? 1 + 10 * (v - 2) : 0);
            a.hidden = (uint32_t)v;
            a.residual = v >= 3;
            a.kernel = (uint8_t)(v == 4 ? 1 : 3);
            check_variant(&a, 100 + (uint64_t)v, "", mode, v);
        }
    }
    /* Wide nets: the builder shrinks clamps to keep the bound; still valid. */
    idfw_arch a = preset("digits-quad");
    a.width = NN_MAX_CHANNELS;
    a.kernel = 3;
    a.hidden = 1;
    a.weight_mode = IDFW_WEIGHTS_EXTREME;
    a.level[0].ncouplings = 1;
    CHECK(build_status(&a) == IDFZIP_OK, "widest nets load");
}

/* The AR prior's net: any depth, activation, residuals, weight mode and
 * width of dense layers loads. */
static void test_ar_variants(void)
{
    for (int mode = 0; mode < 3; mode++) {
        for (int v = 0; v < 6; v++) {
            idfw_arch a = preset("tiny-ar");
            a.weight_mode = mode;
            a.leaky_shift = (uint8_t)(v >= 2 ? 1 + 10 * (v - 2) : 0);
            a.hidden = v == 5 ? 1 : (uint32_t)v;
            a.residual = v >= 3;
            a.width = v == 5 ? NN_MAX_CHANNELS : 8 + 9 * (uint32_t)v; /* 5: 29 -> 1024 -> 2 */
            check_variant(&a, 200 + (uint64_t)v, "AR ", mode, v);
        }
    }
}

/* Every shorter file: plain (the CRC catches it) and with a valid CRC over
 * the prefix (the parser must catch it).  Each parsed prefix costs a model
 * allocation (slow under ASan), so past the first coupling's nets and
 * before the last bytes only every 13th prefix is parsed. */
static void test_truncations(const uint8_t *d, size_t n)
{
    uint8_t *c = malloc(n);
    if (!c)
        return;
    long bad_plain = 0, bad_fixed = 0;
    for (size_t len = 0; len < n; len++)
        bad_plain += load_status(d, len) != IDFZIP_ERR_MODEL;
    for (size_t body = 0; body + 4 < n; body++) {
        if (body > 1100 && body + 100 < n && body % 13 != 0)
            continue;
        memcpy(c, d, body);
        fix_crc(c, body + 4);
        bad_fixed += load_status(c, body + 4) != IDFZIP_ERR_MODEL;
    }
    CHECK(bad_plain == 0, "%ld truncations accepted", bad_plain);
    CHECK(bad_fixed == 0, "%ld truncations with fixed CRC accepted", bad_fixed);
    free(c);
}

/* Every single-bit flip breaks the CRC; flips with the CRC recomputed may
 * be valid (weights) but must never crash. */
static void test_bit_flips(const uint8_t *d, size_t n)
{
    uint8_t *c = malloc(n);
    if (!c)
        return;
    memcpy(c, d, n);
    long accepted = 0, refused = 0, odd = 0;
    for (size_t bit = 0; bit < n * 8; bit++) {
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        accepted += load_status(c, n) != IDFZIP_ERR_MODEL;
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    CHECK(accepted == 0, "%ld bit flips accepted", accepted);
    uint64_t rng = 42;
    for (int t = 0; t < 2000; t++) {
        /* The first 150 bytes (header, perm, first conv header) densely, the
         * rest at random. */
        size_t bit = t < 1200 ? (size_t)t : test_rand_below(&rng, (uint32_t)(n - 4) * 8);
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        fix_crc(c, n);
        int st = load_status(c, n);
        refused += st == IDFZIP_ERR_MODEL;
        odd += st != IDFZIP_ERR_MODEL && st != IDFZIP_OK;
        memcpy(c, d, n);
    }
    CHECK(odd == 0 && refused > 100, "fixed-CRC flips: %ld refused, %ld odd", refused, odd);
    free(c);
}

/* Offsets inside tiny-rgb's first coupling (C = 12, bipartite, hidden 1). */
typedef struct tiny_layout {
    size_t perm, net, conv0, bias0, mult0, shift0, act, conv1, conv1_clamp;
    size_t top_mean, top_scale_last;
} tiny_layout;

static tiny_layout tiny_rgb_layout(size_t size, uint32_t top_channels)
{
    tiny_layout t;
    t.perm = OFF_COUPLING0 + 1;
    t.net = t.perm + 2 * 12;
    t.conv0 = t.net + NET_HEADER;
    t.bias0 = t.conv0 + CONV_HEADER + 8 * 6 * 9;
    t.mult0 = t.bias0 + 8 * 4;
    t.shift0 = t.mult0 + 8 * 4;
    t.act = t.conv0 + conv_size(3, 6, 8);
    t.conv1 = t.act + 1;
    t.conv1_clamp = t.conv1 + 6;
    /* ... K (1 byte), C means, C scales, C uint16 weights, CRC. */
    t.top_scale_last = size - 4 - 2 * (size_t)top_channels - 4;
    t.top_mean = size - 4 - 10 * (size_t)top_channels;
    return t;
}

static void test_header_fields(const uint8_t *d, size_t n)
{
    CHECK(patched_status(d, n, 0, 0x88, 1) == IDFZIP_ERR_MODEL, "bad magic");
    CHECK(patched_status(d, n, OFF_VERSION, 2, 2) == IDFZIP_ERR_MODEL, "version 2");
    CHECK(patched_status(d, n, OFF_VERSION, 0, 2) == IDFZIP_ERR_MODEL, "version 0");
    CHECK(patched_status(d, n, OFF_NAME, 0, 1) == IDFZIP_ERR_MODEL, "empty name");
    CHECK(patched_status(d, n, OFF_NAME + 1, 0x7f, 1) == IDFZIP_ERR_MODEL, "DEL in name");
    CHECK(patched_status(d, n, OFF_NAME + 15, 'x', 1) == IDFZIP_ERR_MODEL, "text after NUL");
    uint8_t *c = malloc(n);
    if (c) { /* a name of all 16 bytes has no NUL and is fine */
        memcpy(c, d, n);
        memset(c + OFF_NAME, 'n', IDFZIP_MODEL_NAME_MAX);
        fix_crc(c, n);
        CHECK(load_status(c, n) == IDFZIP_OK, "16-byte name");
        free(c);
    }
    CHECK(patched_status(d, n, OFF_CHANNELS, 0, 1) == IDFZIP_ERR_MODEL, "0 channels");
    CHECK(patched_status(d, n, OFF_CHANNELS, 5, 1) == IDFZIP_ERR_MODEL, "5 channels");
    CHECK(patched_status(d, n, OFF_BIT_DEPTH, 0, 1) == IDFZIP_ERR_MODEL, "bit depth 0");
    CHECK(patched_status(d, n, OFF_BIT_DEPTH, 17, 1) == IDFZIP_ERR_MODEL, "bit depth 17");
    CHECK(patched_status(d, n, OFF_BIT_DEPTH, 16, 1) == IDFZIP_OK, "bit depth 16");
    CHECK(patched_status(d, n, OFF_MAXVAL, 256, 4) == IDFZIP_ERR_MODEL, "maxval 256");
    CHECK(patched_status(d, n, OFF_MAXVAL, 0, 4) == IDFZIP_ERR_MODEL, "maxval 0");
    CHECK(patched_status(d, n, OFF_MAXVAL, 1, 4) == IDFZIP_OK, "maxval 1");
    CHECK(patched_status(d, n, OFF_TILE_W, 0, 2) == IDFZIP_ERR_MODEL, "tile width 0");
    CHECK(patched_status(d, n, OFF_TILE_H, 3, 2) == IDFZIP_ERR_MODEL, "tile below alignment");
    CHECK(patched_status(d, n, OFF_TILE_H, 4, 2) == IDFZIP_OK, "tile at alignment");
    CHECK(patched_status(d, n, OFF_TILE_W, 37, 2) == IDFZIP_OK, "tile not a multiple");
    CHECK(patched_status(d, n, OFF_INITIAL, 9, 1) == IDFZIP_ERR_MODEL, "9 initial squeezes");
    CHECK(patched_status(d, n, OFF_INITIAL, 1, 1) == IDFZIP_ERR_MODEL, "channel chain");
    CHECK(patched_status(d, n, OFF_LEVELS, 0, 1) == IDFZIP_ERR_MODEL, "0 levels");
    CHECK(patched_status(d, n, OFF_LEVELS, 9, 1) == IDFZIP_ERR_MODEL, "9 levels");
    CHECK(patched_status(d, n, OFF_LEVELS, 1, 1) == IDFZIP_ERR_MODEL, "factor-out last");
    CHECK(patched_status(d, n, OFF_LEVELS, 3, 1) == IDFZIP_ERR_MODEL, "missing level");
}

static void test_level_fields(const uint8_t *d, size_t n, const tiny_layout *t)
{
    CHECK(patched_status(d, n, OFF_LEVEL0, 2, 1) == IDFZIP_ERR_MODEL, "squeeze 2");
    CHECK(patched_status(d, n, OFF_LEVEL0 + 1, 2, 1) == IDFZIP_ERR_MODEL,
          "factor_out 2 without its second prior net");
    CHECK(patched_status(d, n, OFF_LEVEL0 + 1, 3, 1) == IDFZIP_ERR_MODEL, "factor_out 3");
    CHECK(patched_status(d, n, OFF_LEVEL0 + 2, 0, 2) == IDFZIP_ERR_MODEL, "0 couplings");
    CHECK(patched_status(d, n, OFF_LEVEL0 + 2, 65, 2) == IDFZIP_ERR_MODEL, "65 couplings");
    CHECK(patched_status(d, n, OFF_LEVEL0 + 2, 1, 2) == IDFZIP_ERR_MODEL, "1 coupling less");
    CHECK(patched_status(d, n, OFF_COUPLING0, 4, 1) == IDFZIP_ERR_MODEL, "kind 4 chain");
    CHECK(patched_status(d, n, OFF_COUPLING0, 3, 1) == IDFZIP_ERR_MODEL, "kind 3");
    uint32_t p0 = get_le(d + t->perm, 2), p1 = get_le(d + t->perm + 2, 2);
    CHECK(patched_status(d, n, t->perm + 2, p0, 2) == IDFZIP_ERR_MODEL, "perm not bijective");
    CHECK(patched_status(d, n, t->perm, 12, 2) == IDFZIP_ERR_MODEL, "perm out of range");
    uint8_t *c = malloc(n);
    if (c) { /* swapping two entries keeps a bijection */
        memcpy(c, d, n);
        put_le(c + t->perm, p1, 2);
        put_le(c + t->perm + 2, p0, 2);
        fix_crc(c, n);
        CHECK(load_status(c, n) == IDFZIP_OK, "swapped perm");
        free(c);
    }
}

static void test_layer_fields(const uint8_t *d, size_t n, const tiny_layout *t)
{
    CHECK(patched_status(d, n, t->net, 0, 2) == IDFZIP_ERR_MODEL, "0 layers");
    CHECK(patched_status(d, n, t->net, 65, 2) == IDFZIP_ERR_MODEL, "65 layers");
    CHECK(patched_status(d, n, t->net + 2, 0, 4) == IDFZIP_ERR_MODEL, "in_clamp 0");
    CHECK(patched_status(d, n, t->net + 2, NN_MAX_CLAMP, 4) == IDFZIP_ERR_MODEL,
          "in_clamp 2^20 breaks the bound");
    CHECK(patched_status(d, n, t->conv0, 5, 1) == IDFZIP_ERR_MODEL, "op 5");
    CHECK(patched_status(d, n, t->conv0 + 1, 2, 1) == IDFZIP_ERR_MODEL, "kernel 2");
    CHECK(patched_status(d, n, t->conv0 + 2, 7, 2) == IDFZIP_ERR_MODEL, "cin chain");
    CHECK(patched_status(d, n, t->conv0 + 6, 0, 4) == IDFZIP_ERR_MODEL, "conv clamp 0");
    /* Bound propagation through ReLU: the second conv reads the first's clamp. */
    CHECK(patched_status(d, n, t->conv0 + 6, NN_MAX_CLAMP, 4) == IDFZIP_ERR_MODEL,
          "bound through relu");
    CHECK(patched_status(d, n, t->shift0, 41, 1) == IDFZIP_ERR_MODEL, "shift 41");
    CHECK(patched_status(d, n, t->shift0, 40, 1) == IDFZIP_OK, "shift 40");
    CHECK(patched_status(d, n, t->mult0, NN_MAX_MULT, 4) == IDFZIP_ERR_MODEL, "mult 2^24");
    CHECK(patched_status(d, n, t->mult0, NN_MAX_MULT - 1, 4) == IDFZIP_OK, "mult 2^24-1");
    CHECK(patched_status(d, n, t->mult0, 0xFFFFFFFFu, 4) == IDFZIP_ERR_MODEL, "mult -1");
    int64_t in_clamp = (int32_t)get_le(d + t->net + 2, 4);
    int64_t limit = ((int64_t)1 << 31) - 1 - 9 * 6 * in_clamp * 128; /* largest |bias| */
    CHECK(patched_status(d, n, t->bias0, (uint32_t)limit, 4) == IDFZIP_OK, "bias at bound");
    CHECK(patched_status(d, n, t->bias0, (uint32_t)(limit + 1), 4) == IDFZIP_ERR_MODEL,
          "bias over bound");
    CHECK(patched_status(d, n, t->bias0, (uint32_t)(-limit), 4) == IDFZIP_OK, "-bias at bound");
    CHECK(patched_status(d, n, t->bias0, 0x80000000u, 4) == IDFZIP_ERR_MODEL, "bias INT32_MIN");
    CHECK(patched_status(d, n, t->act, 5, 1) == IDFZIP_ERR_MODEL, "activation op 5");
    CHECK(patched_status(d, n, t->act, NN_ADD, 1) == IDFZIP_ERR_MODEL, "relu read as add");
    CHECK(patched_status(d, n, t->conv1 + 4, 7, 2) == IDFZIP_ERR_MODEL, "net cout chain");
    /* Consistent bytes, wrong channels: conv 5 -> 8 reading 6 channels. */
    CHECK(spliced_status(d, n, t->conv0 + CONV_HEADER, 8 * 9, t->conv0 + 2, 5, 2) ==
              IDFZIP_ERR_MODEL,
          "conv cin != tensor channels");
    /* A net ending after its first conv returns 8 channels, not 6. */
    CHECK(spliced_status(d, n, t->act, 1 + conv_size(3, 8, 6), t->net, 1, 2) == IDFZIP_ERR_MODEL,
          "net output channels");
}

static void test_top_and_tail(const uint8_t *d, size_t n, const tiny_layout *t)
{
    CHECK(patched_status(d, n, t->top_scale_last, 96, 4) == IDFZIP_ERR_MODEL, "top scale 96");
    CHECK(patched_status(d, n, t->top_scale_last, 95, 4) == IDFZIP_OK, "top scale 95");
    CHECK(patched_status(d, n, t->top_scale_last, 0xFFFFFFFFu, 4) == IDFZIP_ERR_MODEL,
          "top scale -1");
    CHECK(patched_status(d, n, t->top_mean, NN_MAX_CLAMP, 4) == IDFZIP_OK, "top mean 2^20");
    CHECK(patched_status(d, n, t->top_mean, (uint32_t)-NN_MAX_CLAMP, 4) == IDFZIP_OK,
          "top mean -2^20");
    CHECK(patched_status(d, n, t->top_mean, NN_MAX_CLAMP + 1, 4) == IDFZIP_ERR_MODEL,
          "top mean 2^20+1");
    uint8_t *c = malloc(n + 1);
    if (!c)
        return;
    memcpy(c, d, n - 4);
    c[n - 4] = 0;
    fix_crc(c, n + 1);
    CHECK(load_status(c, n + 1) == IDFZIP_ERR_MODEL, "trailing byte, CRC fixed");
    memcpy(c, d, n);
    c[n] = 0;
    CHECK(load_status(c, n + 1) == IDFZIP_ERR_MODEL, "trailing byte after CRC");
    free(c);
}

/* The AR prior's file (tiny-ar): header fields it does not serve and its
 * net's fields, CRC recomputed.  With no levels the net does not depend on
 * the image's channels, bit depth, maxval or initial squeezes, so those
 * patches keep the bytes consistent and only the AR prior's own check can
 * refuse them. */
static void test_ar_fields(const uint8_t *d, size_t n)
{
    const uint32_t f = AR_PRIOR_FEATURES, w = 8; /* tiny-ar: f -> w, ReLU, w -> 2 */
    const size_t conv0 = OFF_AR_CONV0, shift0 = conv0 + CONV_HEADER + (size_t)w * f + 8 * w;
    const size_t conv1 = conv0 + conv_size(1, f, w) + 1;
    CHECK(get_le(d + OFF_LEVELS, 1) == 0 && get_le(d + OFF_AR_K, 1) == 0 &&
              get_le(d + OFF_AR_NET, 2) == 3 && get_le(d + conv0, 1) == NN_CONV &&
              get_le(d + conv0 + 2, 2) == AR_PRIOR_FEATURES && get_le(d + conv1, 1) == NN_CONV &&
              get_le(d + conv1 + 4, 2) == 2 && conv1 + conv_size(1, w, 2) + 4 == n,
          "tiny-ar layout");
    CHECK(load_status(d, n) == IDFZIP_OK, "tiny-ar loads");
    CHECK(patched_status(d, n, OFF_CHANNELS, 1, 1) == IDFZIP_OK, "AR prior on grey");
    CHECK(patched_status(d, n, OFF_CHANNELS, 2, 1) == IDFZIP_ERR_MODEL, "AR prior on grey+alpha");
    CHECK(patched_status(d, n, OFF_CHANNELS, 4, 1) == IDFZIP_ERR_MODEL, "AR prior on RGBA");
    CHECK(patched_status(d, n, OFF_BIT_DEPTH, 16, 1) == IDFZIP_ERR_MODEL, "AR prior of 16 bits");
    CHECK(patched_status(d, n, OFF_MAXVAL, 254, 4) == IDFZIP_ERR_MODEL, "AR prior of maxval 254");
    CHECK(patched_status(d, n, OFF_INITIAL, 1, 1) == IDFZIP_ERR_MODEL,
          "AR prior after an initial squeeze");
    CHECK(patched_status(d, n, OFF_LEVELS, 1, 1) == IDFZIP_ERR_MODEL, "K = 0 read as a level");
    CHECK(patched_status(d, n, OFF_AR_K, 1, 1) == IDFZIP_ERR_MODEL, "K = 1 without levels");
    CHECK(patched_status(d, n, conv0 + 1, 3, 1) == IDFZIP_ERR_MODEL, "AR conv kernel 3 (bytes)");
    CHECK(patched_status(d, n, conv0 + 2, f - 1, 2) == IDFZIP_ERR_MODEL, "AR net of a feature less");
    CHECK(patched_status(d, n, conv1 + 4, 3, 2) == IDFZIP_ERR_MODEL, "AR net of 3 outputs");
    CHECK(patched_status(d, n, OFF_AR_NET + 2, NN_MAX_CLAMP, 4) == IDFZIP_ERR_MODEL,
          "AR in_clamp 2^20 breaks the bound");
    /* What the AR prior does not restrict. */
    CHECK(patched_status(d, n, OFF_AR_NET + 2, 1, 4) == IDFZIP_OK, "AR in_clamp 1");
    CHECK(patched_status(d, n, shift0, 40, 1) == IDFZIP_OK, "AR shift 40");
    CHECK(patched_status(d, n, OFF_TILE_W, 1, 2) == IDFZIP_OK, "AR tile width 1");
    CHECK(patched_status(d, n, OFF_TILE_H, 777, 2) == IDFZIP_OK, "AR tile height 777");
}

/* Leaky shift and add src on a hidden-2 residual leaky tiny-rgb. */
static void test_leaky_and_add(void)
{
    idfw_arch a = preset("tiny-rgb");
    a.hidden = 2;
    a.residual = 1;
    a.leaky_shift = 1;
    uint8_t *d;
    size_t n;
    if (build(&a, 5, &d, &n) != 0)
        return;
    size_t conv0 = OFF_COUPLING0 + 1 + 2 * 12 + NET_HEADER;
    size_t leaky = conv0 + conv_size(3, 6, 8);          /* op, shift */
    size_t add = leaky + 2 + conv_size(3, 8, 8) + 2;    /* op, src, clamp */
    CHECK(get_le(d + leaky, 1) == NN_LEAKY && get_le(d + add, 1) == NN_ADD, "layout");
    CHECK(load_status(d, n) == IDFZIP_OK, "residual leaky loads");
    CHECK(patched_status(d, n, leaky + 1, 0, 1) == IDFZIP_ERR_MODEL, "leaky shift 0");
    CHECK(patched_status(d, n, leaky + 1, 32, 1) == IDFZIP_ERR_MODEL, "leaky shift 32");
    CHECK(patched_status(d, n, leaky + 1, 31, 1) == IDFZIP_OK, "leaky shift 31");
    /* Layer 4 reads tensor 4 and may add tensors 0..4; tensor 0 has 6 channels. */
    CHECK(patched_status(d, n, add + 1, 5, 2) == IDFZIP_ERR_MODEL, "add src ahead");
    CHECK(patched_status(d, n, add + 1, 0, 2) == IDFZIP_ERR_MODEL, "add src channels");
    CHECK(patched_status(d, n, add + 1, 4, 2) == IDFZIP_OK, "add src itself");
    CHECK(patched_status(d, n, add + 3, 0, 4) == IDFZIP_ERR_MODEL, "add clamp 0");
    CHECK(patched_status(d, n, add + 3, NN_MAX_CLAMP + 1, 4) == IDFZIP_ERR_MODEL,
          "add clamp 2^20+1");
    free(d);
}

/* Archs the builder writes as described and the loader must refuse. */
static void test_invalid_archs(void)
{
    idfw_arch a = preset("tiny-rgb");
    a.level[1].factor_out = 1;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "factor_out on the last level");
    a = preset("tiny-rgb");
    a.level[0].ncouplings = 0;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "zero couplings");
    a = preset("tiny-rgb");
    a.level[0].squeeze = 0; /* 3 channels cannot split in two */
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "odd bipartite");
    a = preset("tiny-rgb");
    a.level[0].squeeze = 0; /* 3 channels, no factor-out: only the kind check */
    a.level[0].factor_out = 0;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "odd bipartite, no factor-out");
    a = preset("tiny-grey");
    a.level[1].squeeze = 0; /* 2 channels cannot split in four */
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "quadripartite on 2 channels");
    a = preset("tiny-rgb");
    a.level[1].squeeze = 0; /* 6 channels: nets 4 -> 1 are consistent bytes */
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "quadripartite on 6 channels");
    a = preset("tiny-grey");
    a.tile_w = 2;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "tile below alignment");
    a = preset("digits-bi");
    a.width = NN_MAX_CHANNELS + 1;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "net wider than NN_MAX_CHANNELS");
    a = preset("tiny-rgb");
    a.name = "";
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "empty name");
    a = preset("tiny-rgb-checker");
    a.level[0].factor_out = 3;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "factor_out 3");
    a = preset("tiny-rgb-checker");
    a.level[1].factor_out = 2;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "checkerboard factor-out on the last level");
    /* The AR prior: K = 0 exactly when there are no levels; dense layers
     * only; 8-bit RGB or grey without initial squeezes.  Each arch below differs
     * from a valid one in that alone. */
    a = preset("tiny-ar");
    CHECK(build_status(&a) == IDFZIP_OK, "tiny-ar");
    a.ar = 0; /* a top prior of K = 1 after no levels */
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "no levels with K = 1");
    a.top_components = 3;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "no levels with K = 3");
    a = preset("tiny-rgb");
    a.kernel = 1;
    CHECK(build_status(&a) == IDFZIP_OK, "tiny-rgb of kernel 1");
    a.ar = 1; /* K = 0 and an AR net after two levels */
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "levels with K = 0");
    a = preset("tiny-ar");
    a.kernel = 3;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "AR net with 3x3 convs");
    a = preset("tiny-ar-mix"); /* 6 outputs: a mixture of two DLs; no other count */
    CHECK(build_status(&a) == IDFZIP_OK, "tiny-ar-mix");
    for (uint32_t outputs = 1; outputs <= 8; outputs++) {
        a.ar_outputs = outputs;
        if (outputs != 2 && outputs != 6)
            CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "AR net with %u outputs", outputs);
    }
    a = preset("tiny-ar");
    a.channels = 1;
    CHECK(build_status(&a) == IDFZIP_OK, "grey AR prior");
    a.channels = 4;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "RGBA AR prior");
    a = preset("tiny-ar");
    a.bit_depth = 16;
    a.maxval = 65535;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "16-bit AR prior");
    a = preset("tiny-ar");
    a.maxval = 127;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "AR prior of maxval 127");
    a = preset("tiny-ar");
    a.initial_squeezes = 1;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "AR prior after an initial squeeze");
}

/* maxval + couplings * (2^16 + 1) must stay below 2^24: 255 couplings fit
 * 8-bit data, 256 do not. */
static void test_latent_range(void)
{
    idfw_arch a = {.name = "many", .channels = 1, .bit_depth = 8, .maxval = 255,
                   .tile_w = 2, .tile_h = 2, .initial_squeezes = 1, .nlevels = 4,
                   .width = 1, .hidden = 0, .kernel = 1,
                   .weight_mode = IDFW_WEIGHTS_SMALL};
    for (int li = 0; li < 4; li++)
        a.level[li].kind = FLOW_BIPARTITE, a.level[li].ncouplings = FLOW_MAX_COUPLINGS;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "256 couplings");
    a.level[3].ncouplings = FLOW_MAX_COUPLINGS - 1;
    CHECK(build_status(&a) == IDFZIP_OK, "255 couplings");
    a.bit_depth = 16;
    a.maxval = 65535;
    CHECK(build_status(&a) == IDFZIP_ERR_MODEL, "255 couplings of 16-bit data");
    a.level[3].ncouplings = FLOW_MAX_COUPLINGS - 2;
    CHECK(build_status(&a) == IDFZIP_OK, "254 couplings of 16-bit data");
}

static void test_arguments(const uint8_t *d, size_t n)
{
    void *sentinel = malloc(16);
    idf_model *m = sentinel; /* must stay untouched on error */
    CHECK(idfw_load(NULL, 0, &m) == IDFZIP_ERR_MODEL && m == sentinel, "NULL data");
    CHECK(idfw_load(d, n - 1, &m) == IDFZIP_ERR_MODEL && m == sentinel, "short file");
    free(sentinel);
    CHECK(idfw_load(d, n, NULL) == IDFZIP_ERR_ARG, "NULL out");
    idfw_free(NULL);
}

int main(void)
{
    test_presets();
    test_variants();
    idfw_arch a = preset("tiny-rgb");
    uint8_t *d;
    size_t n;
    if (build(&a, 3, &d, &n) == 0) {
        idf_model *m = NULL;
        CHECK(idfw_load(d, n, &m) == IDFZIP_OK, "tiny-rgb loads");
        uint32_t top = flow_model_of(m) ? flow_model_of(m)->top_channels : 0;
        idfw_free(m);
        tiny_layout t = tiny_rgb_layout(n, top);
        test_header_fields(d, n);
        test_level_fields(d, n, &t);
        test_layer_fields(d, n, &t);
        test_top_and_tail(d, n, &t);
        test_arguments(d, n);
        test_truncations(d, n);
        test_bit_flips(d, n);
        free(d);
    }
    a = preset("tiny-ar");
    if (build(&a, 3, &d, &n) == 0) {
        test_ar_fields(d, n);
        test_truncations(d, n);
        test_bit_flips(d, n);
        free(d);
    }
    test_ar_variants();
    test_leaky_and_add();
    test_invalid_archs();
    test_latent_range();
    return test_report("idfw");
}
