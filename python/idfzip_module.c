/* idfzip_module.c — the CPython extension idfzip._idfzip over the public C
 * API (include/idfzip.h).
 *
 * Owns: the byte-level calls (PNG <-> .idf, samples <-> .idf, header info)
 * and idfzip.Error.  The Python package (python/idfzip/__init__.py) turns
 * samples into numpy arrays and back, and holds the Pillow plugin.
 *
 * Every call into the library runs with the GIL released: the input is held
 * through a Py_buffer (the exporter cannot resize or free it meanwhile), and
 * nothing touches a Python object until the GIL is taken back.  The library
 * keeps no global state, so calls from several Python threads run in
 * parallel.
 *
 * Linked statically with the library's position-independent objects
 * (build/pic/, hidden visibility): the module needs no libidfzip.so at run
 * time and exports only PyInit__idfzip.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idfzip.h"

static PyObject *IdfError; /* idfzip.Error */

/* Raises idfzip.Error(message) with .status set to the library's code. */
static PyObject *raise_status(int status)
{
    PyObject *exc = PyObject_CallFunction(IdfError, "s", idfzip_error_string(status));
    if (exc == NULL)
        return NULL;
    PyObject *code = PyLong_FromLong(status);
    if (code == NULL || PyObject_SetAttrString(exc, "status", code) < 0) {
        Py_XDECREF(code);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(code);
    PyErr_SetObject(IdfError, exc);
    Py_DECREF(exc);
    return NULL;
}

/* threads (0: one per processor) and max_pixels (0: the library's
 * default) from Python into library options. */
static int make_options(idfzip_options *opt, int threads, unsigned long long max_pixels)
{
    idfzip_options_init(opt);
    if (threads < 0) {
        PyErr_SetString(PyExc_ValueError, "threads must be >= 0 (0: one per processor)");
        return -1;
    }
    if (threads == 0) { /* as the command's -T 0 */
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n < 1 ? 1 : n > 256 ? 256 : (int)n;
    }
    opt->threads = threads;
    if (max_pixels != 0)
        opt->max_pixels = (uint64_t)max_pixels;
    return 0;
}

/* Takes ownership of a library buffer and returns it as bytes. */
static PyObject *bytes_from_library(uint8_t *out, size_t size)
{
    PyObject *res = PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)size);
    idfzip_free(out);
    return res;
}

/* PNG bytes -> .idf bytes or back: idfzip_compress_png and
 * idfzip_decompress_png take the same arguments. */
typedef int (*bytes_codec)(const uint8_t *in, size_t in_size, const idfzip_options *opt,
                           uint8_t **out, size_t *out_size);

/* codec(data, threads=1, max_pixels=0) -> bytes, parsed with format and
 * kwlist, the GIL released while coding. */
static PyObject *bytes_to_bytes(PyObject *args, PyObject *kw, const char *format, char **kwlist,
                                bytes_codec codec)
{
    Py_buffer in;
    int threads = 1;
    unsigned long long max_pixels = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, format, kwlist, &in, &threads, &max_pixels))
        return NULL;
    idfzip_options opt;
    if (make_options(&opt, threads, max_pixels) < 0) {
        PyBuffer_Release(&in);
        return NULL;
    }
    uint8_t *out = NULL;
    size_t out_size = 0;
    int st;
    Py_BEGIN_ALLOW_THREADS
    st = codec(in.buf, (size_t)in.len, &opt, &out, &out_size);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&in);
    if (st != IDFZIP_OK)
        return raise_status(st);
    return bytes_from_library(out, out_size);
}

/* compress_png(png, threads=1, max_pixels=0) -> bytes */
static PyObject *py_compress_png(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"png", "threads", "max_pixels", NULL};
    return bytes_to_bytes(args, kw, "y*|iK:compress", kwlist, idfzip_compress_png);
}

/* decompress_png(idf, threads=1, max_pixels=0) -> bytes */
static PyObject *py_decompress_png(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"idf", "threads", "max_pixels", NULL};
    return bytes_to_bytes(args, kw, "y*|iK:decompress", kwlist, idfzip_decompress_png);
}

static int channels_of(int color_type)
{
    switch (color_type) {
    case IDFZIP_COLOR_GRAY: return 1;
    case IDFZIP_COLOR_RGB: return 3;
    case IDFZIP_COLOR_PALETTE: return 1;
    case IDFZIP_COLOR_GRAY_ALPHA: return 2;
    case IDFZIP_COLOR_RGBA: return 4;
    default: return 0;
    }
}

/* encode_image(samples, width, height, color_type, bit_depth, palette=b"",
 *              trns=b"", chunks=(), threads=1, max_pixels=0) -> bytes
 *
 * samples: a C-contiguous buffer of width*height*channels values, one byte
 * each for bit_depth <= 8, native-endian uint16 for 16.  palette: RGB
 * triples.  trns: the tRNS payload as in a PNG.  chunks: (type, where, data)
 * triples of ancillary PNG chunks.  The library checks every value. */
static PyObject *py_encode_image(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"samples", "width", "height", "color_type", "bit_depth",
                             "palette", "trns", "chunks", "threads", "max_pixels", NULL};
    Py_buffer in, pal = {0}, trns = {0};
    unsigned int width, height, color_type, bit_depth;
    PyObject *chunks = NULL;
    int threads = 1;
    unsigned long long max_pixels = 0;
    PyObject *res = NULL;
    idfzip_image img;
    memset(&img, 0, sizeof img);
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*IIII|y*y*OiK:encode_image", kwlist, &in,
                                     &width, &height, &color_type, &bit_depth, &pal, &trns,
                                     &chunks, &threads, &max_pixels))
        return NULL;
    idfzip_options opt;
    if (make_options(&opt, threads, max_pixels) < 0)
        goto done;
    int channels = channels_of((int)color_type);
    if (channels == 0 || width == 0 || height == 0 ||
        !(bit_depth == 1 || bit_depth == 2 || bit_depth == 4 || bit_depth == 8 ||
          bit_depth == 16)) {
        PyErr_Format(PyExc_ValueError,
                     "bad image shape: %ux%u, colour type %u, bit depth %u", width, height,
                     color_type, bit_depth);
        goto done;
    }
    size_t bytes_per = bit_depth == 16 ? 2 : 1;
    uint64_t count = (uint64_t)width * height * (uint64_t)channels;
    if (count > (uint64_t)PY_SSIZE_T_MAX / 2 || (uint64_t)in.len != count * bytes_per) {
        PyErr_Format(PyExc_ValueError, "samples hold %zd bytes, expected %llu", in.len,
                     (unsigned long long)(count * bytes_per));
        goto done;
    }
    if (pal.buf && (pal.len % 3 != 0 || pal.len > 256 * 3)) {
        PyErr_SetString(PyExc_ValueError, "palette must be at most 256 RGB triples");
        goto done;
    }
    if (trns.buf && trns.len > 256) {
        PyErr_SetString(PyExc_ValueError, "tRNS payload longer than 256 bytes");
        goto done;
    }
    img.width = width;
    img.height = height;
    img.channels = (uint32_t)channels;
    img.bit_depth = bit_depth;
    img.color_type = color_type;
    if (pal.buf && pal.len > 0) {
        img.palette_size = (uint32_t)(pal.len / 3);
        memcpy(img.palette, pal.buf, (size_t)pal.len);
    }
    if (trns.buf && trns.len > 0) {
        img.trns_size = (uint32_t)trns.len;
        memcpy(img.trns, trns.buf, (size_t)trns.len);
    }
    if (chunks != NULL && chunks != Py_None) {
        PyObject *seq = PySequence_Fast(chunks, "chunks must be a sequence of (type, where, data)");
        if (seq == NULL)
            goto done;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        if (n > 0) {
            img.chunks = calloc((size_t)n, sizeof *img.chunks);
            if (img.chunks == NULL) {
                Py_DECREF(seq);
                PyErr_NoMemory();
                goto done;
            }
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            const char *type, *data;
            Py_ssize_t type_len, data_len;
            int where;
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "y#iy#;chunk must be (type, where, data)",
                                  &type, &type_len, &where, &data, &data_len)) {
                Py_DECREF(seq);
                goto done;
            }
            if (type_len != 4 || where < 0 || where > 2 || data_len > (Py_ssize_t)0x7fffffff) {
                Py_DECREF(seq);
                PyErr_SetString(PyExc_ValueError, "chunk type must be 4 bytes, where 0..2");
                goto done;
            }
            idfzip_chunk *c = &img.chunks[img.chunk_count];
            memcpy(c->type, type, 4);
            c->where = (uint8_t)where;
            c->size = (uint32_t)data_len;
            c->data = malloc(data_len > 0 ? (size_t)data_len : 1);
            if (c->data == NULL) {
                Py_DECREF(seq);
                PyErr_NoMemory();
                goto done;
            }
            memcpy(c->data, data, (size_t)data_len);
            img.chunk_count++;
        }
        Py_DECREF(seq);
    }
    img.samples = malloc((size_t)count * sizeof *img.samples);
    if (img.samples == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    uint8_t *out = NULL;
    size_t out_size = 0;
    int st;
    Py_BEGIN_ALLOW_THREADS
    if (bytes_per == 1) {
        const uint8_t *s = in.buf;
        for (uint64_t i = 0; i < count; i++)
            img.samples[i] = s[i];
    } else {
        memcpy(img.samples, in.buf, (size_t)count * 2);
    }
    st = idfzip_compress_image(&img, &opt, &out, &out_size);
    Py_END_ALLOW_THREADS
    if (st != IDFZIP_OK)
        raise_status(st);
    else
        res = bytes_from_library(out, out_size);
done:
    free(img.samples);
    for (uint32_t i = 0; i < img.chunk_count; i++)
        free(img.chunks[i].data);
    free(img.chunks);
    PyBuffer_Release(&in);
    if (pal.buf)
        PyBuffer_Release(&pal);
    if (trns.buf)
        PyBuffer_Release(&trns);
    return res;
}

/* Writes the decoded image's samples into dst as described for decode_image. */
static void convert_samples(const idfzip_image *img, int expand_palette, int to8, uint8_t *dst,
                            unsigned out_channels)
{
    size_t pixels = (size_t)img->width * img->height;
    const uint16_t *s = img->samples;
    if (img->color_type == IDFZIP_COLOR_PALETTE && expand_palette) {
        for (size_t i = 0; i < pixels; i++) {
            unsigned k = s[i];
            const uint8_t *rgb = k < img->palette_size ? img->palette + 3 * k : (const uint8_t *)"\0\0\0";
            uint8_t *d = dst + i * out_channels;
            d[0] = rgb[0];
            d[1] = rgb[1];
            d[2] = rgb[2];
            if (out_channels == 4)
                d[3] = k < img->trns_size ? img->trns[k] : 255;
        }
        return;
    }
    size_t count = pixels * img->channels;
    if (img->bit_depth == 16 && !to8) {
        memcpy(dst, s, count * 2);
    } else if (img->bit_depth == 16) {
        for (size_t i = 0; i < count; i++) /* the high byte, as libpng's strip_16 */
            dst[i] = (uint8_t)(s[i] >> 8);
    } else if (img->bit_depth < 8 && img->color_type == IDFZIP_COLOR_GRAY) {
        unsigned mul = 255u / ((1u << img->bit_depth) - 1); /* 255, 85, 17 */
        for (size_t i = 0; i < count; i++)
            dst[i] = (uint8_t)(s[i] * mul);
    } else {
        for (size_t i = 0; i < count; i++)
            dst[i] = (uint8_t)s[i];
    }
}

/* decode_image(idf, expand_palette=True, to8=False, threads=1, max_pixels=0)
 *   -> (width, height, channels, bit_depth, color_type, samples, palette,
 *       trns, chunks)
 *
 * samples is a bytearray of width*height*channels values: uint8, or
 * native-endian uint16 when bit_depth is 16.  Grey of 1, 2 or 4 bits is
 * scaled to 0..255 (bit_depth 8); palette indices are kept as they are, or
 * with expand_palette replaced by RGB (RGBA when the file has tRNS;
 * channels 3 or 4, bit_depth 8); to8 reduces 16-bit samples to their high
 * byte.  color_type, palette, trns (raw tRNS payload) and chunks ((type,
 * where, data) triples) describe the file as stored. */
static PyObject *py_decode_image(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"idf", "expand_palette", "to8", "threads", "max_pixels", NULL};
    Py_buffer in;
    int expand_palette = 1, to8 = 0, threads = 1;
    unsigned long long max_pixels = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|ppiK:decode_image", kwlist, &in,
                                     &expand_palette, &to8, &threads, &max_pixels))
        return NULL;
    idfzip_options opt;
    if (make_options(&opt, threads, max_pixels) < 0) {
        PyBuffer_Release(&in);
        return NULL;
    }
    idfzip_image img;
    int st;
    Py_BEGIN_ALLOW_THREADS
    st = idfzip_decompress_image(in.buf, (size_t)in.len, &opt, &img);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&in);
    if (st != IDFZIP_OK)
        return raise_status(st);

    int palette = img.color_type == IDFZIP_COLOR_PALETTE;
    unsigned out_channels = img.channels;
    unsigned out_depth = img.bit_depth == 16 && !to8 ? 16 : 8;
    if (palette && expand_palette)
        out_channels = img.trns_size > 0 ? 4 : 3;
    size_t bytes = (size_t)img.width * img.height * out_channels * (out_depth / 8);
    PyObject *samples = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)bytes);
    PyObject *res = NULL;
    if (samples != NULL) {
        uint8_t *dst = (uint8_t *)PyByteArray_AS_STRING(samples);
        Py_BEGIN_ALLOW_THREADS
        convert_samples(&img, expand_palette, to8, dst, out_channels);
        Py_END_ALLOW_THREADS
        PyObject *chunks = PyList_New((Py_ssize_t)img.chunk_count);
        for (uint32_t i = 0; chunks != NULL && i < img.chunk_count; i++) {
            const idfzip_chunk *c = &img.chunks[i];
            PyObject *t = Py_BuildValue("(y#iy#)", c->type, (Py_ssize_t)4, (int)c->where,
                                        (const char *)c->data, (Py_ssize_t)c->size);
            if (t == NULL) {
                Py_CLEAR(chunks);
                break;
            }
            PyList_SET_ITEM(chunks, (Py_ssize_t)i, t);
        }
        if (chunks != NULL)
            res = Py_BuildValue("(IIIIINy#y#N)", img.width, img.height, out_channels, out_depth,
                                img.color_type, samples, (const char *)img.palette,
                                (Py_ssize_t)img.palette_size * 3, (const char *)img.trns,
                                (Py_ssize_t)img.trns_size, chunks);
        else
            Py_DECREF(samples);
    }
    idfzip_image_free(&img);
    return res;
}

/* info(idf) -> dict, from the header alone. */
static PyObject *py_info(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer in;
    if (!PyArg_ParseTuple(args, "y*:info", &in))
        return NULL;
    idfzip_info info;
    int st = idfzip_get_info(in.buf, (size_t)in.len, &info);
    PyBuffer_Release(&in);
    if (st != IDFZIP_OK)
        return raise_status(st);
    info.model_name[sizeof info.model_name - 1] = '\0';
    return Py_BuildValue("{sIsIsIsIsIsssssIsIsIsIsK}", "width", info.width, "height",
                         info.height, "channels", info.channels, "bit_depth", info.bit_depth,
                         "color_type", info.color_type, "mode",
                         info.mode == 1 ? "stored" : "model", "model", info.model_name,
                         "model_crc", info.model_crc, "tile_width", info.tile_width,
                         "tile_height", info.tile_height, "tile_count", info.tile_count,
                         "file_size", (unsigned long long)info.file_size);
}

static PyMethodDef methods[] = {
    {"compress_png", (PyCFunction)(void (*)(void))py_compress_png, METH_VARARGS | METH_KEYWORDS,
     "compress_png(png, threads=1, max_pixels=0) -> bytes: PNG bytes to .idf bytes."},
    {"decompress_png", (PyCFunction)(void (*)(void))py_decompress_png,
     METH_VARARGS | METH_KEYWORDS,
     "decompress_png(idf, threads=1, max_pixels=0) -> bytes: .idf bytes to PNG bytes."},
    {"encode_image", (PyCFunction)(void (*)(void))py_encode_image, METH_VARARGS | METH_KEYWORDS,
     "encode_image(samples, width, height, color_type, bit_depth, palette=b'', trns=b'', "
     "chunks=(), threads=1, max_pixels=0) -> bytes"},
    {"decode_image", (PyCFunction)(void (*)(void))py_decode_image, METH_VARARGS | METH_KEYWORDS,
     "decode_image(idf, expand_palette=True, to8=False, threads=1, max_pixels=0) -> "
     "(width, height, channels, bit_depth, color_type, samples, palette, trns, chunks)"},
    {"info", py_info, METH_VARARGS, "info(idf) -> dict: the header's facts."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "idfzip._idfzip",
                                    "The C part of the idfzip Python bindings.", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__idfzip(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    IdfError = PyErr_NewExceptionWithDoc(
        "idfzip.Error",
        "An error from the idfzip library; str() is its message, .status its code "
        "(a negative IDFZIP_ERR_* value).",
        PyExc_Exception, NULL);
    if (IdfError == NULL || PyModule_AddObject(m, "Error", IdfError) < 0) {
        Py_XDECREF(IdfError);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(IdfError); /* the module's reference was stolen; keep ours */
    if (PyModule_AddStringConstant(m, "library_version", idfzip_version_string()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
