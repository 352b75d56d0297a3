/* registry.h — which model codes an image, and which decodes a file.
 *
 * Owns: the list of models compiled into the binary (the baseline and the
 * .idfw files embedded from weights/ by tools/embed_weights.py), loading a
 * user's --model file, and matching a file's model name and CRC.
 */
#ifndef IDFZIP_REGISTRY_H
#define IDFZIP_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct model_ref {
    const idf_model *model;
    void *owned; /* a loaded flow model, released by model_release */
} model_ref;

/* An embedded .idfw file (model/builtin_weights.c, generated). */
typedef struct builtin_weights {
    const char *file;
    const uint8_t *data;
    size_t size;
} builtin_weights;

/* The embedded models, terminated by an entry with data == NULL. */
extern const builtin_weights idfzip_builtin_weights[];

/* The model for an image whose samples are all <= max_sample: the user's
 * model when given (IDFZIP_ERR_MODEL_KIND if it does not serve this kind of
 * image or these values), else the first embedded model that serves it,
 * else the baseline. */
int model_select_for_image(const uint8_t *user, size_t user_size,
                           const model_image_kind *kind, uint32_t max_sample,
                           model_ref *out);

/* The model named in a file: built in, or the user's if name and CRC
 * match; IDFZIP_ERR_MODEL otherwise. */
int model_select_for_file(const char *name, uint32_t crc, const uint8_t *user,
                          size_t user_size, model_ref *out);

/* A built-in model by name (the baselines and the embedded weights):
 * IDFZIP_ERR_MODEL when there is none of that name, IDFZIP_ERR_MODEL_KIND
 * when it does not serve the image (kind NULL: any image). */
int model_select_by_name(const char *name, const model_image_kind *kind, uint32_t max_sample,
                         model_ref *out);

void model_release(model_ref *ref);

#endif
