/* idfw.h — loading .idfw model files (FORMAT.md, "The .idfw model format").
 *
 * Owns: parsing and validating a model file into a flow_model.  The loader
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

/* Parses data into a new model (flow_model_bind() already applied).
 * Returns IDFZIP_OK, IDFZIP_ERR_MODEL (invalid file: bad magic, version,
 * field, size, CRC, or trailing bytes) or IDFZIP_ERR_NOMEM. */
int idfw_load(const uint8_t *data, size_t size, flow_model **out);

void idfw_free(flow_model *m);

#endif
