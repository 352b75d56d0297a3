/* registry.c — model selection (see registry.h). */
#include "registry.h"

#include <string.h>

#include "../common/bytes.h"

#include "baseline.h"
#include "composite.h"
#include "idfw.h"

/* ---- which model codes an image whose model was not named ----
 *
 * One row per kind of image, first match wins; the last row takes every
 * image.  Each default was chosen by measurement (README, docs/models.md):
 * the trained AR priors where one was trained, baseline-v3 elsewhere.  A
 * small image also tries the fallbacks: the nets were trained on photos
 * and can lose on what they never saw (a synthetic gradient), and side
 * information weighs most on a small image.  An image half of whose pixels
 * repeat their west or north neighbour (screen content, diagrams, sprites;
 * photographs rarely get there) is coded with match-v2 when it is larger
 * than the small ones, and also tries it when it is small (a small icon,
 * sprite or 16-bit image tries it anyway: it won on a third of the
 * held-out icons that do not repeat that much): on the held-out
 * screenshots match-v2 coded 0.50 of the PNG bytes against baseline-v3's
 * 0.96, at four times its speed, and the AR priors never won there. */
#define ANY_KIND UINT32_MAX
#define SMALL_IMAGE_PIXELS 65536u
#define REPEATING_SHARE 2u /* 1/2 of the pixels */

/* The model of an image that repeats its neighbours, whatever its kind. */
#define REPEATING_MODEL "match-v2"

typedef struct model_choice {
    uint32_t color_type, bit_depth; /* ANY_KIND: any */
    const char *model;              /* the default */
    const char *small_fallbacks[3];
} model_choice;

static const model_choice DEFAULTS[] = {
    {IDFZIP_COLOR_RGB, 8, "ar-rgb-mix", {"baseline-v3", "baseline-v1", NULL}},
    {IDFZIP_COLOR_GRAY, 8, "ar-grey-mix", {"baseline-v3", "baseline-v1", NULL}},
    /* palette indices in luma order (codec/sample_map.h) are grey enough */
    {IDFZIP_COLOR_PALETTE, 8, "ar-grey-mix", {"baseline-v3", REPEATING_MODEL, NULL}},
    {IDFZIP_COLOR_RGBA, 8, "ar-rgba-mix", {"baseline-v3", REPEATING_MODEL, NULL}},
    {IDFZIP_COLOR_GRAY_ALPHA, 8, "ar-ga-mix", {"baseline-v3", REPEATING_MODEL, NULL}},
    {ANY_KIND, ANY_KIND, "baseline-v3", {"baseline-v1", REPEATING_MODEL, NULL}},
};

static int repeating(const model_image_kind *kind)
{
    return kind->pixels > 0 && kind->repeats * REPEATING_SHARE >= kind->pixels;
}

static const model_choice *choice_for(const model_image_kind *kind)
{
    const model_choice *c = DEFAULTS;
    while (!((c->color_type == ANY_KIND || c->color_type == kind->color_type) &&
             (c->bit_depth == ANY_KIND || c->bit_depth == kind->bit_depth)))
        c++;
    return c;
}

void model_fallbacks_for_image(const model_image_kind *kind,
                               const char *names[MODEL_MAX_FALLBACKS + 1])
{
    const model_choice *c = choice_for(kind);
    size_t n = 0;
    const int small = kind->pixels <= SMALL_IMAGE_PIXELS;
    for (size_t i = 0; small && c->small_fallbacks[i]; i++)
        names[n++] = c->small_fallbacks[i];
    int listed = 0;
    for (size_t i = 0; i < n; i++)
        listed |= strcmp(names[i], REPEATING_MODEL) == 0;
    if (small && repeating(kind) && !listed)
        names[n++] = REPEATING_MODEL;
    names[n] = NULL;
}

/* ---- loading and naming ---- */

static int load(const uint8_t *data, size_t size, model_ref *out)
{
    idf_model *m;
    int st = idfw_load(data, size, &m);
    if (st != IDFZIP_OK)
        return st;
    out->model = m;
    out->owned = m;
    return IDFZIP_OK;
}

void model_release(model_ref *ref)
{
    idfw_free(ref->owned);
    ref->owned = NULL;
    ref->model = NULL;
}

static int named(const idf_model *m, const char *name)
{
    return strlen(name) <= IDFZIP_MODEL_NAME_MAX &&
           strncmp(m->name, name, IDFZIP_MODEL_NAME_MAX) == 0;
}

/* The non-learned built-in model called name, or NULL. */
static const idf_model *fixed_model(const char *name)
{
    const idf_model *fixed[] = {baseline_v1_model(), baseline_v2_model(), baseline_v3_model(),
                                match_v1_model(), match_v2_model()};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (named(fixed[i], name))
            return fixed[i];
    return NULL;
}

/* The embedded .idfw file named "NAME.idfw" (its model is called NAME), or
 * NULL: found by file name, so that choosing one parses no other. */
static const builtin_weights *embedded(const char *name)
{
    size_t n = strlen(name);
    for (const builtin_weights *b = idfzip_builtin_weights; b->data; b++)
        if (strncmp(b->file, name, n) == 0 && strcmp(b->file + n, ".idfw") == 0)
            return b;
    return NULL;
}

/* The built-in pairs of a colour model and an alpha model (composite.h). */
typedef struct composite_entry {
    const char *name, *colour, *alpha;
    uint32_t colour_channels;
} composite_entry;

static const composite_entry COMPOSITES[] = {
    {"ar-rgba-mix", "ar-icon-rgb-mix", "ar-alpha-mix", 3},
    {"ar-ga-mix", "ar-grey-mix", "ar-alpha-mix", 1},
};

static const composite_entry *composite_entry_of(const char *name)
{
    for (size_t i = 0; i < sizeof COMPOSITES / sizeof *COMPOSITES; i++)
        if (strcmp(COMPOSITES[i].name, name) == 0)
            return &COMPOSITES[i];
    return NULL;
}

static int find_by_name(const char *name, model_ref *out);

static int make_composite(const composite_entry *e, model_ref *out)
{
    model_ref colour, alpha;
    int st = find_by_name(e->colour, &colour);
    if (st != IDFZIP_OK)
        return st;
    st = find_by_name(e->alpha, &alpha);
    if (st != IDFZIP_OK) {
        model_release(&colour);
        return st;
    }
    idf_model *m;
    st = composite_create(e->name, e->colour_channels, colour.model, colour.owned, alpha.model,
                          alpha.owned, &m);
    out->model = out->owned = st == IDFZIP_OK ? m : NULL;
    return st;
}

static int find_by_name(const char *name, model_ref *out)
{
    memset(out, 0, sizeof *out);
    if ((out->model = fixed_model(name)) != NULL)
        return IDFZIP_OK;
    const composite_entry *pair = composite_entry_of(name);
    if (pair)
        return make_composite(pair, out);
    const builtin_weights *b = embedded(name);
    if (!b)
        return IDFZIP_ERR_MODEL;
    int st = load(b->data, b->size, out);
    if (st == IDFZIP_OK && !named(out->model, name)) {
        model_release(out);
        st = IDFZIP_ERR_MODEL;
    }
    return st;
}

int model_select_by_name(const char *name, const model_image_kind *kind, model_ref *out)
{
    memset(out, 0, sizeof *out);
    int st = find_by_name(name, out);
    if (st != IDFZIP_OK || !kind)
        return st;
    if (!out->model->serves(out->model, kind)) {
        model_release(out);
        return IDFZIP_ERR_MODEL_KIND;
    }
    return IDFZIP_OK;
}

int model_select_for_image(const uint8_t *user, size_t user_size, const model_image_kind *kind,
                           model_ref *out)
{
    memset(out, 0, sizeof *out);
    if (user) {
        int st = load(user, user_size, out);
        if (st == IDFZIP_OK && !out->model->serves(out->model, kind)) {
            model_release(out);
            st = IDFZIP_ERR_MODEL_KIND;
        }
        return st;
    }
    /* A small image tries the fallbacks anyway, so it keeps the default. */
    const model_choice *c = choice_for(kind);
    int big_repeating = repeating(kind) && kind->pixels > SMALL_IMAGE_PIXELS;
    int st = model_select_by_name(big_repeating ? REPEATING_MODEL : c->model, kind, out);
    if (st == IDFZIP_ERR_MODEL_KIND || st == IDFZIP_ERR_MODEL) /* cannot happen in a tested build */
        st = model_select_by_name("baseline-v3", kind, out);
    return st == IDFZIP_ERR_MODEL_KIND ? IDFZIP_ERR_UNSUPPORTED : st;
}

static int matches(const idf_model *m, const char *name, uint32_t crc)
{
    return strncmp(m->name, name, IDFZIP_MODEL_NAME_MAX) == 0 && m->crc == crc;
}

int model_select_for_file(const char *name, uint32_t crc, const uint8_t *user,
                          size_t user_size, model_ref *out)
{
    memset(out, 0, sizeof *out);
    const idf_model *fixed = fixed_model(name);
    if (fixed && matches(fixed, name, crc)) {
        out->model = fixed;
        return IDFZIP_OK;
    }
    if (user) {
        int st = load(user, user_size, out);
        if (st == IDFZIP_OK && matches(out->model, name, crc))
            return IDFZIP_OK;
        if (st == IDFZIP_OK)
            model_release(out);
        return st == IDFZIP_OK ? IDFZIP_ERR_MODEL : st;
    }
    int st = find_by_name(name, out);
    if (st == IDFZIP_OK && !matches(out->model, name, crc)) {
        model_release(out);
        st = IDFZIP_ERR_MODEL;
    }
    return st;
}

/* ---- built-in models by number ---- */

static const model_number NUMBERS[] = {
    {1, "baseline-v1", 256, 256}, {2, "baseline-v2", 256, 256}, {3, "baseline-v3", 256, 256},
    {4, "match-v1", 256, 256},    {5, "match-v2", 2048, 1024},  {6, "ar-rgb", 256, 256},
    {7, "ar-grey", 256, 256},     {8, "ar-rgb-mix", 256, 256},  {9, "ar-grey-mix", 256, 256},
    {10, "ar-rgba-mix", 256, 256}, {11, "ar-ga-mix", 256, 256},
};

const model_number *model_number_by_id(uint32_t id)
{
    for (size_t i = 0; i < sizeof NUMBERS / sizeof *NUMBERS; i++)
        if (NUMBERS[i].id == id)
            return &NUMBERS[i];
    return NULL;
}

uint32_t model_builtin_crc(const char *name)
{
    if (fixed_model(name))
        return fixed_model(name)->crc;
    const composite_entry *pair = composite_entry_of(name);
    if (pair)
        return composite_crc(model_builtin_crc(pair->colour), model_builtin_crc(pair->alpha));
    const builtin_weights *b = embedded(name);
    /* an .idfw ends with the CRC that names its weights (idfw.c) */
    return b && b->size >= 4 ? get_le32(b->data + b->size - 4) : 0;
}

uint32_t model_number_of(const idf_model *m)
{
    for (size_t i = 0; i < sizeof NUMBERS / sizeof *NUMBERS; i++) {
        const model_number *n = &NUMBERS[i];
        if (!named(m, n->name) || m->tile_width != n->tile_width || m->tile_height != n->tile_height)
            continue;
        if (fixed_model(n->name))
            return fixed_model(n->name) == m ? n->id : 0;
        return (embedded(n->name) || composite_entry_of(n->name)) &&
                       m->crc == model_builtin_crc(n->name)
                   ? n->id
                   : 0;
    }
    return 0;
}
