/* rans.h — interleaved rANS entropy coder with byte-wise renormalisation.
 *
 * Owns: the coder states and the byte stream.  It knows nothing of images or
 * distributions: a symbol is a (start, freq) pair on a 2^RANS_PROB_BITS
 * scale, handed over by the frequency-table layer (freq_table.h).
 *
 * Invariants (after Duda's rANS and ryg_rans):
 *   - M = 2^RANS_PROB_BITS; a symbol has 1 <= freq <= M and start + freq <= M.
 *   - Every state x lives in [L, 256*L) with L = 2^23, between symbols.
 *   - Encoding x with (start, freq): first emit low bytes while
 *     x >= ((L >> PROB_BITS) << 8) * freq, then
 *     x' = (x / freq) * M + (x % freq) + start.  Decoding undoes this exactly:
 *     slot = x' % M, x = freq * (x' / M) + slot - start, then read bytes
 *     while x < L.
 *   - RANS_STATES states are used round robin: the k-th coded symbol (k from
 *     0, in decoding order) uses state k % RANS_STATES.  The encoder records
 *     the symbols and codes them last-to-first into one byte stream written
 *     backwards, so the decoder reads forwards.
 *   - Stream layout: the RANS_STATES final encoder states, 4 bytes each,
 *     little-endian, then the renormalisation bytes.
 *   - A correct stream ends with every state back at L and every byte read;
 *     rans_decoder_finish() checks this, so most corruption is caught even
 *     without a CRC.  Reading past the end never touches memory outside the
 *     buffer: missing bytes read as 0 and set the overrun flag.
 */
#ifndef IDFZIP_RANS_H
#define IDFZIP_RANS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/status.h"

#define RANS_PROB_BITS 15
#define RANS_PROB_SCALE (1u << RANS_PROB_BITS)
#define RANS_STATES 4
#define RANS_L (1u << 23)
/* Raw bits go through the coder as uniform symbols of at most this many bits. */
#define RANS_MAX_RAW_BITS 12

typedef struct rans_symbol {
    uint16_t start;
    uint16_t freq; /* 1..RANS_PROB_SCALE (2^15 fits in 16 bits) */
} rans_symbol;

/* Records symbols in decoding order; rans_encoder_finish() codes them. */
typedef struct rans_encoder {
    rans_symbol *symbols;
    size_t count, capacity;
    int status; /* IDFZIP_OK, or why recording stopped: IDFZIP_ERR_NOMEM (the
                   symbol array could not grow) or IDFZIP_ERR_UNSUPPORTED (a
                   symbol outside the contract); finish() then writes nothing */
} rans_encoder;

void rans_encoder_init(rans_encoder *enc);
void rans_encoder_free(rans_encoder *enc);
void rans_encoder_reset(rans_encoder *enc); /* forget symbols, keep memory */
/* Record one symbol.  Requires 1 <= freq <= M and start + freq <= M. */
void rans_encoder_put(rans_encoder *enc, uint32_t start, uint32_t freq);
/* Record nbits (0..32) raw bits of value, as uniform symbols. */
void rans_encoder_put_bits(rans_encoder *enc, uint32_t value, unsigned nbits);
/* Upper bound of the coded size in bytes of what was recorded so far. */
size_t rans_encoder_bound(const rans_encoder *enc);
/* Code everything recorded into out (capacity from rans_encoder_bound()).
 * Returns the number of bytes written, or 0 if recording failed (status) or
 * capacity was too small.  The bytes are written at the start of out. */
size_t rans_encoder_finish(rans_encoder *enc, uint8_t *out, size_t capacity);

typedef struct rans_decoder {
    uint32_t state[RANS_STATES];
    const uint8_t *ptr, *end;
    size_t index;   /* symbols decoded so far */
    int overrun;    /* tried to read past the end */
} rans_decoder;

/* IDFZIP_OK, or IDFZIP_ERR_CORRUPT when size is below RANS_STATES*4 or a
 * state is invalid. */
int rans_decoder_init(rans_decoder *dec, const uint8_t *data, size_t size);

/* The slot of the next symbol, in [0, M): find the symbol whose
 * [start, start+freq) holds it, then call rans_decoder_advance(). */
static inline uint32_t rans_decoder_peek(const rans_decoder *dec)
{
    return dec->state[dec->index % RANS_STATES] & (RANS_PROB_SCALE - 1);
}

static inline void rans_decoder_advance(rans_decoder *dec, uint32_t start,
                                        uint32_t freq)
{
    /* With x >= L and start <= slot, v >= freq * 256 >= 256, so at most two
     * bytes bring v back to [L, 256*L): two when v < L/256, one when
     * L/256 <= v < L.  Reading them without a data-dependent branch saves
     * the mispredictions; the loop only serves the last byte of the stream. */
    uint32_t *x = &dec->state[dec->index & (RANS_STATES - 1)];
    uint32_t v = freq * (*x >> RANS_PROB_BITS) + (*x & (RANS_PROB_SCALE - 1)) - start;
    const uint8_t *p = dec->ptr;
    if (dec->end - p >= 2) {
        unsigned n = (v < RANS_L) + (v < (RANS_L >> 8));
        uint32_t next = (uint32_t)p[0] << 8 | p[1];
        v = (v << (8 * n)) | (next >> (16 - 8 * n));
        dec->ptr = p + n;
    } else {
        while (v < RANS_L) {
            if (dec->ptr < dec->end)
                v = (v << 8) | *dec->ptr++;
            else {
                v <<= 8;
                dec->overrun = 1;
            }
        }
    }
    *x = v;
    dec->index++;
}

/* Decode nbits (0..32) raw bits recorded with rans_encoder_put_bits(). */
uint32_t rans_decoder_get_bits(rans_decoder *dec, unsigned nbits);

/* IDFZIP_OK when the stream ended exactly: all bytes read, states back at
 * L, no overrun.  IDFZIP_ERR_CORRUPT otherwise (corrupt or truncated). */
int rans_decoder_finish(const rans_decoder *dec);

#endif
