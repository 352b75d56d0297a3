/* idfzip.h — the public C API of idfzip, a lossless image codec built on
 * integer discrete flows.
 *
 * Owns: the image type handed across the API, the options, the status codes.
 * Everything is memory to memory; the library never touches files, never
 * prints, and keeps no global mutable state (each call is independent and
 * thread-safe).  Buffers returned through `uint8_t **out` are allocated with
 * malloc and released with idfzip_free().
 */
#ifndef IDFZIP_H
#define IDFZIP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IDFZIP_VERSION_MAJOR 0
#define IDFZIP_VERSION_MINOR 6
#define IDFZIP_VERSION_PATCH 0

/* IDFZIP_API marks the functions the shared library exports.  The library
 * is built with -fvisibility=hidden and IDFZIP_BUILD_SHARED defined, so
 * nothing else leaves it; for users of this header the macro is empty. */
#if defined(IDFZIP_BUILD_SHARED) && (defined(__GNUC__) || defined(__clang__))
#define IDFZIP_API __attribute__((visibility("default")))
#else
#define IDFZIP_API
#endif

/* Status codes: 0 is success, every failure is negative. */
typedef enum idfzip_status {
    IDFZIP_OK = 0,
    IDFZIP_ERR_ARG = -1,         /* invalid argument from the caller */
    IDFZIP_ERR_NOMEM = -2,       /* an allocation failed */
    IDFZIP_ERR_NOT_IDF = -3,     /* input is not an .idf file (bad magic) */
    IDFZIP_ERR_VERSION = -4,     /* .idf written by an unknown format version */
    IDFZIP_ERR_TRUNCATED = -5,   /* input ends before the data it announces */
    IDFZIP_ERR_CORRUPT = -6,     /* inconsistent fields or undecodable payload */
    IDFZIP_ERR_CRC = -7,         /* a CRC32 check failed */
    IDFZIP_ERR_LIMIT = -8,       /* image larger than the pixel limit */
    IDFZIP_ERR_PNG = -9,         /* input PNG is invalid or unreadable */
    IDFZIP_ERR_UNSUPPORTED = -10,/* valid input that idfzip cannot handle */
    IDFZIP_ERR_MODEL = -11,      /* model missing, invalid, or not the one coded with */
    IDFZIP_ERR_THREAD = -12,     /* a worker thread could not be started */
    IDFZIP_ERR_MODEL_KIND = -13  /* the chosen model does not serve this image */
} idfzip_status;

/* PNG colour types, as in the PNG specification. */
enum {
    IDFZIP_COLOR_GRAY = 0,
    IDFZIP_COLOR_RGB = 2,
    IDFZIP_COLOR_PALETTE = 3,
    IDFZIP_COLOR_GRAY_ALPHA = 4,
    IDFZIP_COLOR_RGBA = 6
};

/* Where an ancillary chunk stood in the PNG, so it can be put back there. */
enum {
    IDFZIP_CHUNK_BEFORE_PLTE = 0, /* between IHDR and PLTE (or IDAT) */
    IDFZIP_CHUNK_BEFORE_IDAT = 1, /* between PLTE and IDAT */
    IDFZIP_CHUNK_AFTER_IDAT = 2   /* between IDAT and IEND */
};

/* One ancillary PNG chunk (gAMA, iCCP, tEXt, ...), kept byte for byte. */
typedef struct idfzip_chunk {
    char type[4];
    uint8_t where;   /* IDFZIP_CHUNK_* */
    uint32_t size;
    uint8_t *data;
} idfzip_chunk;

/* An image as a PNG defines it.  samples holds width*height*channels values,
 * row-major, channels interleaved, each in 0 .. 2^bit_depth - 1; for palette
 * images the single channel holds palette indices. */
typedef struct idfzip_image {
    uint32_t width, height;
    uint32_t channels;    /* 1 grey/palette, 2 grey+alpha, 3 RGB, 4 RGBA */
    uint32_t bit_depth;   /* 1, 2, 4, 8 or 16 */
    uint32_t color_type;  /* IDFZIP_COLOR_* */
    uint16_t *samples;
    uint32_t palette_size;       /* entries in palette, 0..256 */
    uint8_t palette[256 * 3];
    uint32_t trns_size;          /* bytes of the tRNS chunk, 0 if none */
    uint8_t trns[256];           /* tRNS payload as in the PNG */
    uint32_t chunk_count;
    idfzip_chunk *chunks;
} idfzip_image;

typedef struct idfzip_options {
    int threads;            /* worker threads for tiles; <= 0 means 1 */
    uint64_t max_pixels;    /* refuse images with more pixels (0: default) */
    const uint8_t *model;   /* optional .idfw model bytes, NULL: built-in */
    size_t model_size;
    int force_model;        /* 1: never fall back to stored mode */
    int portable_kernels;   /* 1: plain C nets, no SIMD (same output, slower;
                               for tests and for comparing) */
    const char *model_name; /* compress with this built-in model (e.g.
                               "baseline-v1" for files idfzip 0.1 can read);
                               NULL: chosen automatically.  Ignored when
                               model is set. */
} idfzip_options;

#define IDFZIP_DEFAULT_MAX_PIXELS ((uint64_t)1 << 28) /* 268 MP */

/* A model's name has at most this many characters (printable ASCII); the
 * buffers below hold it with its terminating NUL. */
#define IDFZIP_MODEL_NAME_MAX 16

/* Facts about an .idf file, read from its header alone. */
typedef struct idfzip_info {
    uint32_t width, height, channels, bit_depth, color_type;
    uint32_t mode;          /* 0 model-coded, 1 stored (PNG bytes kept) */
    char model_name[IDFZIP_MODEL_NAME_MAX + 1]; /* NUL-terminated */
    uint32_t model_crc;
    uint32_t tile_width, tile_height, tile_count;
    uint64_t file_size;
} idfzip_info;

IDFZIP_API const char *idfzip_version_string(void);
IDFZIP_API const char *idfzip_error_string(int status);
IDFZIP_API void idfzip_options_init(idfzip_options *opt);

/* PNG file bytes -> .idf bytes. */
IDFZIP_API int idfzip_compress_png(const uint8_t *png, size_t png_size,
                                   const idfzip_options *opt,
                                   uint8_t **out, size_t *out_size);
/* .idf bytes -> PNG file bytes (pixels, palette, tRNS and chunks equal). */
IDFZIP_API int idfzip_decompress_png(const uint8_t *idf, size_t idf_size,
                                     const idfzip_options *opt,
                                     uint8_t **out, size_t *out_size);
/* An image in memory -> .idf bytes. */
IDFZIP_API int idfzip_compress_image(const idfzip_image *img, const idfzip_options *opt,
                                     uint8_t **out, size_t *out_size);
/* .idf bytes -> image; release it with idfzip_image_free(). */
IDFZIP_API int idfzip_decompress_image(const uint8_t *idf, size_t idf_size,
                                       const idfzip_options *opt, idfzip_image *img);
/* Reads and checks the header only. */
IDFZIP_API int idfzip_get_info(const uint8_t *idf, size_t idf_size, idfzip_info *info);

/* 1 when name is a model compiled into the library ("baseline-v1",
 * "baseline-v2", "baseline-v3", and any embedded learned model), else 0. */
IDFZIP_API int idfzip_builtin_model(const char *name);

/* Name (NUL-terminated, up to IDFZIP_MODEL_NAME_MAX characters) and CRC of
 * an .idfw model. */
IDFZIP_API int idfzip_model_info(const uint8_t *model, size_t model_size,
                                 char name[IDFZIP_MODEL_NAME_MAX + 1],
                                 uint32_t *crc);

/* PNG bytes <-> image, exposed because tests and tools need them. */
IDFZIP_API int idfzip_png_decode(const uint8_t *png, size_t png_size,
                                 uint64_t max_pixels, idfzip_image *img);
IDFZIP_API int idfzip_png_encode(const idfzip_image *img, uint8_t **out, size_t *out_size);

/* 1 when pixels, palette, tRNS, depth, colour type and chunks are equal. */
IDFZIP_API int idfzip_image_equal(const idfzip_image *a, const idfzip_image *b);
IDFZIP_API void idfzip_image_free(idfzip_image *img);
IDFZIP_API void idfzip_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
