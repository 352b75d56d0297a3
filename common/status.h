/* status.h — the one status convention of every layer (private).
 *
 * Owns: the rule, not the codes.  The codes are the public API's
 * idfzip_status (include/idfzip.h), so a status travels from rans/ through
 * model/ and codec/ to the caller unchanged, as zstd's lib/common/
 * error_private.h uses the codes of its public zstd_errors.h:
 *   - a function that can fail returns int: IDFZIP_OK (0) or a negative code;
 *   - a failed allocation is IDFZIP_ERR_NOMEM, in every layer and direction;
 *   - a stream or field a decoder cannot accept is IDFZIP_ERR_CORRUPT (the
 *     container adds TRUNCATED, CRC, VERSION, ... where it knows better);
 *   - an encoder asked to code what it cannot is IDFZIP_ERR_UNSUPPORTED.
 * Nothing is translated on the way up except where a layer knows more
 * (the API turns a model-file error met while decoding into ERR_MODEL).
 */
#ifndef IDFZIP_COMMON_STATUS_H
#define IDFZIP_COMMON_STATUS_H

#include "../include/idfzip.h"

/* Returns the status of expr from the calling function unless it is OK. */
#define IDF_TRY(expr)                                                          \
    do {                                                                       \
        int idf_try_status_ = (expr);                                          \
        if (idf_try_status_ != IDFZIP_OK)                                      \
            return idf_try_status_;                                            \
    } while (0)

#endif
