"""idfzip: a lossless image codec built on integer discrete flows.

Python bindings over the C library (a CPython extension, ``idfzip._idfzip``,
with the library linked in).  Every call releases the GIL while it codes, so
threads run in parallel.

    compress(png_bytes, threads=1) -> bytes          PNG file -> .idf file
    decompress(idf_bytes, threads=1) -> bytes        .idf file -> PNG file
    encode(array, threads=1) -> bytes                numpy array -> .idf file
    decode(idf_bytes, threads=1) -> numpy.ndarray    .idf file -> numpy array
    info(idf_bytes) -> dict                          what the header says

Arrays are H x W (grey) or H x W x C with C = 1 (grey), 2 (grey + alpha),
3 (RGB) or 4 (RGBA), of dtype uint8 or uint16 (8 or 16 bits per sample).
``decode`` gives back the same dtype; grey comes back as H x W (an H x W x 1
array comes back as H x W).  Files made from PNGs can hold other kinds:
grey of 1, 2 or 4 bits is scaled to 0..255 (uint8), and palette images are
expanded to RGB, or RGBA when the palette has transparency (tRNS);
``decode(data, expand_palette=False)`` returns the indices and the palette
instead.  A grey or RGB file's colour-key transparency is not applied.

Errors from the library raise ``idfzip.Error`` (its message is the
library's, ``.status`` the negative IDFZIP_ERR_* code); wrong argument types
or shapes raise TypeError or ValueError.

When Pillow is installed, importing idfzip registers the "IDF" format with
it: ``Image.open("x.idf")`` and ``im.save("x.idf")`` work.
"""

from . import _idfzip
from ._idfzip import Error, info

__all__ = ["Error", "compress", "decompress", "encode", "decode", "info",
           "__version__", "MIME_TYPE", "MAGIC"]

__version__ = _idfzip.library_version
#: The first 8 bytes of every .idf file.
MAGIC = b"\x89IDF\r\n\x1a\n"
MIME_TYPE = "image/x-idf"

# PNG colour types, as the file stores them.
COLOR_GRAY, COLOR_RGB, COLOR_PALETTE, COLOR_GRAY_ALPHA, COLOR_RGBA = 0, 2, 3, 4, 6
_COLOR_OF_CHANNELS = {1: COLOR_GRAY, 2: COLOR_GRAY_ALPHA, 3: COLOR_RGB, 4: COLOR_RGBA}


def compress(png, threads=1, *, max_pixels=0):
    """PNG file bytes -> .idf file bytes.

    threads: worker threads for the image's tiles, 0 for one per processor
    (the bytes do not depend on it).  max_pixels: refuse larger images (0: the library's default,
    2**28)."""
    return _idfzip.compress_png(png, threads, max_pixels)


def decompress(idf, threads=1, *, max_pixels=0):
    """.idf file bytes -> PNG file bytes with the same pixels, palette, tRNS,
    bit depth and ancillary chunks."""
    return _idfzip.decompress_png(idf, threads, max_pixels)


def encode(array, threads=1, *, max_pixels=0):
    """A numpy array (H x W, or H x W x C with C in 1..4; uint8 or uint16)
    -> .idf file bytes."""
    import numpy as np

    a = np.asarray(array)
    if a.dtype.kind != "u" or a.dtype.itemsize not in (1, 2):
        raise TypeError("idfzip.encode wants a uint8 or uint16 array, not %s" % a.dtype)
    if a.ndim == 2:
        channels = 1
    elif a.ndim == 3 and a.shape[2] in _COLOR_OF_CHANNELS:
        channels = a.shape[2]
    else:
        raise ValueError("idfzip.encode wants an H x W or H x W x C array (C = 1..4), "
                         "not shape %s" % (a.shape,))
    height, width = a.shape[0], a.shape[1]
    if height < 1 or width < 1:
        raise ValueError("idfzip.encode: empty image (shape %s)" % (a.shape,))
    # C order, native byte order: the extension reads the bytes as they lie.
    a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))
    return _idfzip.encode_image(a, width, height, _COLOR_OF_CHANNELS[channels],
                                8 * a.dtype.itemsize, threads=threads, max_pixels=max_pixels)


def decode(idf, threads=1, *, expand_palette=True, max_pixels=0):
    """.idf file bytes -> numpy array (H x W or H x W x C, uint8 or uint16).

    With expand_palette=False a palette image gives (indices, palette):
    indices an H x W uint8 array, palette an N x 3 uint8 array (N x 4, RGBA,
    when the file has tRNS).  Other images are returned as usual."""
    import numpy as np

    (width, height, channels, depth, color_type, samples, palette, trns,
     _chunks) = _idfzip.decode_image(idf, expand_palette=expand_palette,
                                     threads=threads, max_pixels=max_pixels)
    a = np.frombuffer(samples, dtype=np.uint16 if depth == 16 else np.uint8)
    a = a.reshape((height, width) if channels == 1 else (height, width, channels))
    if color_type == COLOR_PALETTE and not expand_palette:
        pal = np.frombuffer(palette, dtype=np.uint8).reshape(-1, 3)
        if trns:
            alpha = np.full((pal.shape[0], 1), 255, dtype=np.uint8)
            alpha[:len(trns), 0] = np.frombuffer(trns, dtype=np.uint8)[:pal.shape[0]]
            pal = np.concatenate([pal, alpha], axis=1)
        return a, pal
    return a


def _register_pillow():
    try:
        from . import pillow_plugin
    except ImportError as e:
        if (e.name or "").split(".")[0] == "PIL":
            return  # no Pillow: nothing to register with
        raise
    pillow_plugin.register()


_register_pillow()
