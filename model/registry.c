/* registry.c — model selection (see registry.h). */
#include "registry.h"

#include <string.h>

#include "../include/idfzip.h"
#include "flow.h"
#include "idfw.h"

static int load(const uint8_t *data, size_t size, model_ref *out)
{
    flow_model *m;
    int st = idfw_load(data, size, &m);
    if (st != IDFZIP_OK)
        return st;
    out->model = &m->slot;
    out->owned = m;
    return IDFZIP_OK;
}

void model_release(model_ref *ref)
{
    idfw_free(ref->owned);
    ref->owned = NULL;
    ref->model = NULL;
}

/* A flow model serves an image of its kind whose samples it covers. */
static int serves(const model_ref *r, const model_image_kind *kind, uint32_t max_sample)
{
    const flow_model *m = r->model->params;
    return r->model->serves(r->model, kind) && max_sample <= m->maxval;
}

int model_select_for_image(const uint8_t *user, size_t user_size,
                           const model_image_kind *kind, uint32_t max_sample,
                           model_ref *out)
{
    memset(out, 0, sizeof *out);
    if (user) {
        int st = load(user, user_size, out);
        if (st == IDFZIP_OK && !serves(out, kind, max_sample)) {
            model_release(out);
            st = IDFZIP_ERR_MODEL_KIND;
        }
        return st;
    }
    for (const builtin_weights *b = idfzip_builtin_weights; b->data; b++) {
        if (load(b->data, b->size, out) != IDFZIP_OK)
            continue; /* cannot happen for a tested build; fall through */
        if (serves(out, kind, max_sample))
            return IDFZIP_OK;
        model_release(out);
    }
    out->model = baseline_v3_model();
    return out->model->serves(out->model, kind) ? IDFZIP_OK : IDFZIP_ERR_UNSUPPORTED;
}

static int named(const idf_model *m, const char *name)
{
    return strlen(name) <= IDFZIP_MODEL_NAME_MAX && strncmp(m->name, name, IDFZIP_MODEL_NAME_MAX) == 0;
}

/* The non-learned built-in model called name, or NULL. */
static const idf_model *fixed_model(const char *name)
{
    const idf_model *fixed[] = {baseline_model(), baseline_v2_model(), baseline_v3_model()};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (named(fixed[i], name))
            return fixed[i];
    return NULL;
}

static int find_by_name(const char *name, model_ref *out)
{
    if ((out->model = fixed_model(name)) != NULL)
        return IDFZIP_OK;
    for (const builtin_weights *b = idfzip_builtin_weights; b->data; b++) {
        if (load(b->data, b->size, out) == IDFZIP_OK && named(out->model, name))
            return IDFZIP_OK;
        model_release(out);
    }
    return IDFZIP_ERR_MODEL;
}

int model_select_by_name(const char *name, const model_image_kind *kind, uint32_t max_sample,
                         model_ref *out)
{
    memset(out, 0, sizeof *out);
    int st = find_by_name(name, out);
    if (st != IDFZIP_OK || !kind)
        return st;
    int ok = out->owned ? serves(out, kind, max_sample) : out->model->serves(out->model, kind);
    if (!ok) {
        model_release(out);
        return IDFZIP_ERR_MODEL_KIND;
    }
    return IDFZIP_OK;
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
    for (const builtin_weights *b = idfzip_builtin_weights; b->data; b++) {
        if (load(b->data, b->size, out) == IDFZIP_OK && matches(out->model, name, crc))
            return IDFZIP_OK;
        model_release(out);
    }
    return IDFZIP_ERR_MODEL;
}
