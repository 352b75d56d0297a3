/* registry.h — which model codes an image, and which decodes a file.
 *
 * Owns: the models compiled into the library (the baselines, and the .idfw
 * files embedded from weights/ by tools/embed_weights.py), the table of
 * default models by kind of image (registry.c, DEFAULTS), loading a user's
 * --model file, and matching a file's model name and CRC.
 */
#ifndef IDFZIP_REGISTRY_H
#define IDFZIP_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct model_ref {
    const idf_model *model;
    idf_model *owned; /* a model loaded from an .idfw, released by model_release */
} model_ref;

/* An embedded .idfw file (model/builtin_weights.c, generated). */
typedef struct builtin_weights {
    const char *file;
    const uint8_t *data;
    size_t size;
} builtin_weights;

/* The embedded models, terminated by an entry with data == NULL. */
extern const builtin_weights idfzip_builtin_weights[];

/* At most this many fallbacks per kind of image. */
#define MODEL_MAX_FALLBACKS 3

/* The model for an image: the user's model when given
 * (IDFZIP_ERR_MODEL_KIND if it does not serve this image), else the
 * default for its kind and whether it repeats its neighbours (the table
 * DEFAULTS in registry.c). */
int model_select_for_image(const uint8_t *user, size_t user_size, const model_image_kind *kind,
                           model_ref *out);

/* The built-in models that an image of this kind also tries when its
 * model was chosen by default, keeping the smallest file: for a small
 * image (side information and images unlike the training set weigh most),
 * and for one that repeats its neighbours (screen content, diagrams,
 * sprites; kind->repeats).  Up to MODEL_MAX_FALLBACKS names into names,
 * which it NULL-terminates. */
void model_fallbacks_for_image(const model_image_kind *kind,
                               const char *names[MODEL_MAX_FALLBACKS + 1]);

/* The model named in a file: built in, or the user's if name and CRC
 * match; IDFZIP_ERR_MODEL otherwise (IDFZIP_ERR_NOMEM when loading ran out
 * of memory). */
int model_select_for_file(const char *name, uint32_t crc, const uint8_t *user,
                          size_t user_size, model_ref *out);

/* A built-in model by name (the baselines and the embedded weights):
 * IDFZIP_ERR_MODEL when there is none of that name, IDFZIP_ERR_MODEL_KIND
 * when it does not serve the image (kind NULL: any image). */
int model_select_by_name(const char *name, const model_image_kind *kind, model_ref *out);

void model_release(model_ref *ref);

/* ---- built-in models by number (.idf version 2) ----
 * A file of version 2 names a built-in model by one byte instead of its
 * 16-byte name and CRC.  Numbers are never reused: a retrained model gets
 * a new name and a new number.  The tile size is the model's (test_idfw
 * checks that the table agrees with every model). */
typedef struct model_number {
    uint32_t id;
    const char *name;
    uint32_t tile_width, tile_height;
} model_number;

/* The entry of number id, or NULL. */
const model_number *model_number_by_id(uint32_t id);

/* The number of model m when it is the built-in model of its name (an
 * embedded one with the embedded weights' CRC), else 0. */
uint32_t model_number_of(const idf_model *m);

/* The CRC a file records for the built-in model called name (0 for a model
 * without weights, or for no such model), read without loading it. */
uint32_t model_builtin_crc(const char *name);

#endif
