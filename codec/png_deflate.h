/* png_deflate.h — the zlib stream of the PNGs we write (their IDAT data).
 *
 * Owns: deflating the filtered rows with libdeflate, in pieces that worker
 * threads compress at once and that are joined into one zlib stream, the
 * way pigz does it: every piece but the last has its final-block bit
 * cleared and ends in an empty stored block, so the next piece starts on
 * a byte boundary.  The pieces depend on the data's size alone, so the
 * bytes written do not depend on the thread count.
 */
#ifndef IDFZIP_PNG_DEFLATE_H
#define IDFZIP_PNG_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

/* libdeflate's level 5: on the held-out photos as small as zlib's level 6
 * (its default; within 0.1%) in a fifth of the time (0.06 against 0.28 s
 * per megapixel here), and writing the PNG was a third of `idfzip
 * decompress`.  Level 6 is 1% smaller at 1.5 times the time. */
#define PNG_DEFLATE_LEVEL 5

/* Pieces of at least this many bytes, at most PNG_DEFLATE_MAX_PIECES: a
 * piece loses the 32 KiB of history before it (0.01% on a photo), and
 * every piece but the last is inflated once more to find its final block
 * (about a tenth of deflating it). */
#define PNG_DEFLATE_PIECE_MIN ((size_t)512 << 10)
#define PNG_DEFLATE_MAX_PIECES 8

/* How many pieces n bytes are deflated in. */
uint32_t png_deflate_pieces(size_t n);

/* data (n bytes) as one zlib stream in *out (malloc'd, *out_size bytes),
 * deflated on up to `threads` threads (fewer when they cannot start).
 * IDFZIP_OK, or IDFZIP_ERR_NOMEM. */
int png_deflate(const uint8_t *data, size_t n, int threads, uint8_t **out, size_t *out_size);

#endif
