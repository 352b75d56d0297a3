/* png_deflate.c — the zlib stream of the PNGs we write (see png_deflate.h).
 *
 * Writing the PNG was a tenth of `idfzip decompress -T 2` on a photo, all
 * of it on one thread while the other waited: libdeflate compresses a
 * whole buffer or nothing (no flush), so the pieces are separate raw
 * deflate streams, and each but the last is made to continue: zlib's
 * inflate, asked to stop at every block boundary (Z_BLOCK, as zlib's
 * examples/gzjoin.c does), finds the bit that marks its final block, which
 * is cleared, and where its last block ends, after which an empty stored
 * block (3 zero bits, the padding to a byte, 00 00 FF FF) brings the next
 * piece to a byte boundary. */
#include "png_deflate.h"

#include <libdeflate.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../include/idfzip.h"

#define MAX_THREADS 64
/* The empty stored block: at most one byte for its header bits, then LEN
 * and NLEN. */
#define CONTINUATION_MAX 5
/* A piece that libdeflate or zlib did not handle as they always do: the
 * data is then deflated whole (other bytes, the same pixels). */
#define PIECE_UNJOINABLE 1

uint32_t png_deflate_pieces(size_t n)
{
    size_t pieces = n / PNG_DEFLATE_PIECE_MIN;
    if (pieces < 1)
        return 1;
    return pieces > PNG_DEFLATE_MAX_PIECES ? PNG_DEFLATE_MAX_PIECES : (uint32_t)pieces;
}

typedef struct piece {
    const uint8_t *in;
    size_t n;
    uint8_t *out; /* bound + CONTINUATION_MAX bytes */
    size_t size;
} piece;

typedef struct deflate_job {
    piece *pieces;
    uint32_t count;
    atomic_uint next;
    atomic_int status;
} deflate_job;

/* Where the last block of a raw deflate stream (size bytes, ours) starts
 * (byte *at, bit mask *mask of its final-block bit) and how many bits of
 * its last byte are unused (*unused).  Z_OK, or what zlib said instead
 * (Z_MEM_ERROR: no memory for its window). */
static int find_final_block(z_stream *z, const uint8_t *s, size_t size, size_t *at, unsigned *mask,
                            unsigned *unused)
{
    uint8_t sink[1 << 15]; /* the inflated bytes are not wanted */
    z->next_in = (uint8_t *)s;
    z->avail_in = (uInt)size;
    *at = 0, *mask = 1;
    for (;;) {
        z->next_out = sink;
        z->avail_out = sizeof sink;
        int ret = inflate(z, Z_BLOCK);
        if (ret != Z_OK) /* the stream ends only after its final block, seen below */
            return ret == Z_STREAM_END ? Z_DATA_ERROR : ret;
        if (!(z->data_type & 128))
            continue; /* the sink filled up inside a block */
        /* At a block boundary: data_type's low bits are the bits not yet
         * used of the last byte read, 64 says the block that ended was the
         * final one. */
        unsigned bits = (unsigned)z->data_type & 7;
        if (z->data_type & 64) {
            *unused = bits;
            return Z_OK;
        }
        size_t read = (size_t)(z->next_in - s);
        *at = bits ? read - 1 : read;
        *mask = bits ? 0x100u >> bits : 1u;
    }
}

/* zlib's allocations through ours, so that tests can make them fail like
 * any other (tests/test_nomem.c). */
static voidpf zlib_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return calloc(items, size);
}

static void zlib_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    free(p);
}

/* Makes piece p's stream continue into the next: its final-block bit
 * cleared, then an empty stored block.  IDFZIP_OK, IDFZIP_ERR_NOMEM or
 * PIECE_UNJOINABLE. */
static int make_continue(piece *p)
{
    if (p->size > UINT32_MAX)
        return PIECE_UNJOINABLE; /* more than zlib's avail_in can say */
    z_stream z;
    memset(&z, 0, sizeof z);
    z.zalloc = zlib_alloc;
    z.zfree = zlib_free;
    int ret = inflateInit2(&z, -15); /* raw deflate */
    if (ret != Z_OK)
        return ret == Z_MEM_ERROR ? IDFZIP_ERR_NOMEM : PIECE_UNJOINABLE;
    size_t at;
    unsigned mask, unused;
    ret = find_final_block(&z, p->out, p->size, &at, &mask, &unused);
    inflateEnd(&z);
    if (ret != Z_OK)
        return ret == Z_MEM_ERROR ? IDFZIP_ERR_NOMEM : PIECE_UNJOINABLE;
    p->out[at] &= (uint8_t)~mask;
    /* The stored block's header bits (BFINAL 0, BTYPE 00) go into the
     * unused bits, made zero, or into one more byte when fewer than 3. */
    p->out[p->size - 1] &= (uint8_t)((1u << (8 - unused)) - 1u);
    if (unused < 3)
        p->out[p->size++] = 0;
    static const uint8_t empty_stored[4] = {0x00, 0x00, 0xFF, 0xFF};
    memcpy(p->out + p->size, empty_stored, sizeof empty_stored);
    p->size += sizeof empty_stored;
    return IDFZIP_OK;
}

static int deflate_piece(struct libdeflate_compressor *c, piece *p, int last)
{
    size_t bound = libdeflate_deflate_compress_bound(c, p->n) + CONTINUATION_MAX;
    p->out = malloc(bound);
    if (!p->out)
        return IDFZIP_ERR_NOMEM;
    p->size = libdeflate_deflate_compress(c, p->in, p->n, p->out, bound - CONTINUATION_MAX);
    if (p->size == 0)
        return PIECE_UNJOINABLE; /* not with libdeflate's own bound */
    return last ? IDFZIP_OK : make_continue(p);
}

static void *deflate_worker(void *arg)
{
    deflate_job *job = arg;
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(PNG_DEFLATE_LEVEL);
    if (!c)
        atomic_store(&job->status, IDFZIP_ERR_NOMEM);
    while (atomic_load(&job->status) == IDFZIP_OK) {
        unsigned i = atomic_fetch_add(&job->next, 1u);
        if (i >= job->count)
            break;
        int st = deflate_piece(c, &job->pieces[i], i + 1 == job->count);
        if (st != IDFZIP_OK) {
            int expected = IDFZIP_OK;
            atomic_compare_exchange_strong(&job->status, &expected, st);
        }
    }
    libdeflate_free_compressor(c);
    return NULL;
}

/* Runs deflate_worker on the calling thread plus threads-1 others. */
static int run_deflate_workers(deflate_job *job, int threads)
{
    pthread_t tid[MAX_THREADS];
    int started = 0;
    threads = threads > MAX_THREADS ? MAX_THREADS : threads;
    threads = (unsigned)threads > job->count ? (int)job->count : threads;
    for (int k = 1; k < threads; k++) {
        if (pthread_create(&tid[started], NULL, deflate_worker, job) != 0)
            break; /* fewer threads write the same bytes */
        started++;
    }
    deflate_worker(job);
    for (int k = 0; k < started; k++)
        pthread_join(tid[k], NULL);
    return atomic_load(&job->status);
}

/* The zlib wrapper around the joined pieces: the header libdeflate writes
 * at this level (32 KiB window, level hint 1, "fast"), the pieces, the
 * Adler-32 of all of data. */
_Static_assert(PNG_DEFLATE_LEVEL >= 2 && PNG_DEFLATE_LEVEL <= 5,
               "libdeflate gives levels 2 to 5 the zlib header's level hint 1");
static int join_pieces(const piece *pieces, uint32_t count, const uint8_t *data, size_t n,
                       uint8_t **out, size_t *out_size)
{
    size_t total = 2 + 4;
    for (uint32_t i = 0; i < count; i++)
        total += pieces[i].size;
    uint8_t *z = malloc(total), *at = z;
    if (!z)
        return IDFZIP_ERR_NOMEM;
    uint32_t header = 0x7800u | (1u << 6);
    header += 31 - header % 31;
    *at++ = (uint8_t)(header >> 8);
    *at++ = (uint8_t)header;
    for (uint32_t i = 0; i < count; i++) {
        memcpy(at, pieces[i].out, pieces[i].size);
        at += pieces[i].size;
    }
    uint32_t adler = libdeflate_adler32(1, data, n);
    for (int shift = 24; shift >= 0; shift -= 8)
        *at++ = (uint8_t)(adler >> shift);
    *out = z;
    *out_size = total;
    return IDFZIP_OK;
}

static int deflate_whole(const uint8_t *data, size_t n, uint8_t **out, size_t *out_size)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(PNG_DEFLATE_LEVEL);
    size_t bound = c ? libdeflate_zlib_compress_bound(c, n) : 0;
    uint8_t *z = bound ? malloc(bound) : NULL;
    size_t size = z ? libdeflate_zlib_compress(c, data, n, z, bound) : 0;
    libdeflate_free_compressor(c);
    if (!size) {
        free(z);
        return IDFZIP_ERR_NOMEM;
    }
    *out = z;
    *out_size = size;
    return IDFZIP_OK;
}

int png_deflate(const uint8_t *data, size_t n, int threads, uint8_t **out, size_t *out_size)
{
    const uint32_t count = png_deflate_pieces(n);
    if (count == 1)
        return deflate_whole(data, n, out, out_size);
    piece *pieces = calloc(count, sizeof *pieces);
    if (!pieces)
        return IDFZIP_ERR_NOMEM;
    for (uint32_t i = 0; i < count; i++) {
        size_t from = n / count * i, to = i + 1 == count ? n : n / count * (i + 1);
        pieces[i].in = data + from;
        pieces[i].n = to - from;
    }
    deflate_job job = {.pieces = pieces, .count = count};
    atomic_init(&job.next, 0u);
    atomic_init(&job.status, IDFZIP_OK);
    int st = run_deflate_workers(&job, threads < 1 ? 1 : threads);
    if (st == IDFZIP_OK)
        st = join_pieces(pieces, count, data, n, out, out_size);
    for (uint32_t i = 0; i < count; i++)
        free(pieces[i].out);
    free(pieces);
    return st == PIECE_UNJOINABLE ? deflate_whole(data, n, out, out_size) : st;
}
