/* idfw.h — loading .idfw model files (FORMAT.md, "The .idfw model format").
 *
 * Owns: parsing and validating a model file into the model it holds: a
 * coupling flow (flow.h) when it has levels, else an AR prior (ar_prior.h).  The loader
 * trusts nothing: every count, size, channel chain, permutation, accumulator
 * bound and the CRC are checked before anything is used (it is fuzzed).
 */
#ifndef IDFZIP_IDFW_H
#define IDFZIP_IDFW_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

#define IDFW_MAGIC_SIZE 8
#define IDFW_VERSION 1

/* Parses data into a new model, ready to code (its slot filled in).
 * Returns IDFZIP_OK, IDFZIP_ERR_MODEL (invalid file: bad magic, version,
 * field, size, CRC, or trailing bytes) or IDFZIP_ERR_NOMEM. */
int idfw_load(const uint8_t *data, size_t size, idf_model **out);

/* Frees a model idfw_load made (NULL: nothing). */
void idfw_free(idf_model *m);

#endif
