/* rans.c — the interleaved rANS coder declared in rans.h.
 *
 * Invariants (stated in full in rans.h):
 *   - M = 2^RANS_PROB_BITS, L = RANS_L; between symbols every state is in
 *     [L, 256*L), so it fits 31 bits and a final state fits 4 bytes.
 *   - Encode: emit low bytes while x >= ((L >> PROB_BITS) << 8) * freq, then
 *     x = (x / freq) * M + (x % freq) + start.  The decoder undoes it exactly.
 *   - Symbol k (decoding order) uses state k % RANS_STATES; the encoder codes
 *     last to first, writing bytes backwards, so the decoder reads forwards.
 *   - Stream: RANS_STATES states, 4 bytes little-endian each, then the bytes.
 *   - States start at L on encode, hence end at L on a correct decode.
 */
#include "rans.h"

#include <stdlib.h>
#include <string.h>

#include "../common/bytes.h"

_Static_assert((RANS_STATES & (RANS_STATES - 1)) == 0,
               "RANS_STATES must be a power of two (index uses a mask)");
_Static_assert(RANS_MAX_RAW_BITS >= 1 && RANS_MAX_RAW_BITS <= RANS_PROB_BITS,
               "a raw chunk must be a symbol with freq >= 1");
_Static_assert(RANS_L % RANS_PROB_SCALE == 0 && RANS_L < (1u << 24),
               "L must be a multiple of M, and 256*L must fit 32 bits");

#define RANS_STATE_MASK ((size_t)RANS_STATES - 1)
#define RANS_HEADER_BYTES ((size_t)4 * RANS_STATES)
/* Once x reaches (L >> PROB_BITS) << 8 times freq, coding would push it to
 * 256*L or beyond, so bytes go out first. */
#define RANS_XMAX_PER_FREQ ((RANS_L >> RANS_PROB_BITS) << 8)
#define RANS_FIRST_CAPACITY 4096

/* ---- encoder: recording ------------------------------------------------ */

void rans_encoder_init(rans_encoder *enc)
{
    enc->symbols = NULL;
    enc->count = 0;
    enc->capacity = 0;
    enc->status = IDFZIP_OK;
}

void rans_encoder_free(rans_encoder *enc)
{
    free(enc->symbols);
    rans_encoder_init(enc);
}

void rans_encoder_reset(rans_encoder *enc)
{
    /* A past allocation failure lost symbols that are now forgotten anyway,
     * so the encoder is usable again. */
    enc->count = 0;
    enc->status = IDFZIP_OK;
}

/* Doubles the symbol array: IDFZIP_OK or IDFZIP_ERR_NOMEM. */
static int encoder_grow(rans_encoder *enc)
{
    size_t max_capacity = (size_t)-1 / sizeof(rans_symbol);
    if (enc->capacity > max_capacity / 2)
        return IDFZIP_ERR_NOMEM;
    size_t capacity = enc->capacity ? 2 * enc->capacity : RANS_FIRST_CAPACITY;
    rans_symbol *grown = realloc(enc->symbols, capacity * sizeof(rans_symbol));
    if (!grown)
        return IDFZIP_ERR_NOMEM;
    enc->symbols = grown;
    enc->capacity = capacity;
    return IDFZIP_OK;
}

void rans_encoder_put(rans_encoder *enc, uint32_t start, uint32_t freq)
{
    /* A symbol breaking the contract would divide by zero or overflow a
     * state in finish(); refuse it the way an allocation failure is. */
    if (enc->status != IDFZIP_OK)
        return;
    if (freq == 0 || freq > RANS_PROB_SCALE || start > RANS_PROB_SCALE - freq) {
        enc->status = IDFZIP_ERR_UNSUPPORTED;
        return;
    }
    if (enc->count == enc->capacity && (enc->status = encoder_grow(enc)) != IDFZIP_OK)
        return;
    enc->symbols[enc->count].start = (uint16_t)start;
    enc->symbols[enc->count].freq = (uint16_t)freq;
    enc->count++;
}

void rans_encoder_put_bits(rans_encoder *enc, uint32_t value, unsigned nbits)
{
    if (nbits > 32) {
        enc->status = IDFZIP_ERR_UNSUPPORTED;
        return;
    }
    if (nbits < 32)
        value &= (1u << nbits) - 1;
    /* Low chunk first: rans_decoder_get_bits() rebuilds in the same order. */
    while (nbits > 0) {
        unsigned k = nbits < RANS_MAX_RAW_BITS ? nbits : RANS_MAX_RAW_BITS;
        uint32_t chunk = value & ((1u << k) - 1);
        rans_encoder_put(enc, chunk << (RANS_PROB_BITS - k), RANS_PROB_SCALE >> k);
        value >>= k;
        nbits -= k;
    }
}

size_t rans_encoder_bound(const rans_encoder *enc)
{
    /* A state below 2^31 meets x_max >= 2^16 after at most two bytes.  The
     * product cannot overflow: count * sizeof(rans_symbol) fits in memory. */
    return enc->count * 2 + RANS_HEADER_BYTES;
}

/* ---- encoder: coding --------------------------------------------------- */

/* Codes one symbol into *x, emitting renormalisation bytes downwards from
 * *ptr but never below limit: IDFZIP_OK, or IDFZIP_ERR_ARG when the
 * caller's capacity runs out. */
static inline int encode_symbol(uint32_t *x, rans_symbol sym, uint8_t **ptr,
                                const uint8_t *limit)
{
    uint32_t freq = sym.freq;
    uint32_t x_max = RANS_XMAX_PER_FREQ * freq;
    uint32_t v = *x;
    while (v >= x_max) {
        if (*ptr == limit)
            return IDFZIP_ERR_ARG;
        *--*ptr = (uint8_t)v;
        v >>= 8;
    }
    *x = (v / freq) * RANS_PROB_SCALE + (v % freq) + sym.start;
    return IDFZIP_OK;
}


size_t rans_encoder_finish(rans_encoder *enc, uint8_t *out, size_t capacity)
{
    if (enc->status != IDFZIP_OK || !out || capacity < RANS_HEADER_BYTES)
        return 0;
    /* out itself is the scratch region: bytes grow down from its end and
     * may not reach the header, which is filled once the states are final. */
    uint8_t *ptr = out + capacity;
    const uint8_t *limit = out + RANS_HEADER_BYTES;
    uint32_t state[RANS_STATES];
    for (size_t s = 0; s < RANS_STATES; s++)
        state[s] = RANS_L;

    const rans_symbol *symbols = enc->symbols;
    for (size_t i = enc->count; i-- > 0;) {
        if (encode_symbol(&state[i & RANS_STATE_MASK], symbols[i], &ptr, limit) != IDFZIP_OK)
            return 0;
    }

    size_t payload = (size_t)(out + capacity - ptr);
    memmove(out + RANS_HEADER_BYTES, ptr, payload);
    for (size_t s = 0; s < RANS_STATES; s++)
        put_le32(out + 4 * s, state[s]);
    return RANS_HEADER_BYTES + payload;
}

/* ---- decoder ----------------------------------------------------------- */


int rans_decoder_init(rans_decoder *dec, const uint8_t *data, size_t size)
{
    /* Whatever happens, leave a decoder that is safe to use and whose
     * finish() fails, so an ignored error cannot turn into a crash. */
    for (size_t s = 0; s < RANS_STATES; s++)
        dec->state[s] = RANS_L;
    dec->ptr = dec->end = data;
    dec->index = 0;
    dec->overrun = 1;
    if (!data || size < RANS_HEADER_BYTES)
        return IDFZIP_ERR_CORRUPT;
    for (size_t s = 0; s < RANS_STATES; s++) {
        uint32_t x = get_le32(data + 4 * s);
        if (x < RANS_L || x >= 256u * RANS_L)
            return IDFZIP_ERR_CORRUPT;
        dec->state[s] = x;
    }
    dec->ptr = data + RANS_HEADER_BYTES;
    dec->end = data + size;
    dec->overrun = 0;
    return IDFZIP_OK;
}

uint32_t rans_decoder_get_bits(rans_decoder *dec, unsigned nbits)
{
    if (nbits > 32) {
        dec->overrun = 1; /* the stream cannot be read as asked */
        return 0;
    }
    uint32_t value = 0;
    for (unsigned shift = 0; shift < nbits;) {
        unsigned k = nbits - shift < RANS_MAX_RAW_BITS ? nbits - shift
                                                       : RANS_MAX_RAW_BITS;
        uint32_t chunk = rans_decoder_peek(dec) >> (RANS_PROB_BITS - k);
        rans_decoder_advance(dec, chunk << (RANS_PROB_BITS - k), RANS_PROB_SCALE >> k);
        value |= chunk << shift;
        shift += k;
    }
    return value;
}

int rans_decoder_finish(const rans_decoder *dec)
{
    if (dec->overrun || dec->ptr != dec->end)
        return IDFZIP_ERR_CORRUPT;
    for (size_t s = 0; s < RANS_STATES; s++) {
        if (dec->state[s] != RANS_L)
            return IDFZIP_ERR_CORRUPT;
    }
    return IDFZIP_OK;
}
