"""Pillow plugin for .idf files: the format "IDF", extension ".idf", MIME
type "image/x-idf".  ``import idfzip`` registers it (when Pillow is
installed); ``idfzip.pillow_plugin.register()`` does it again if needed.

Opening gives the modes Pillow's PNG plugin gives for the same PNG:

    grey 1 bit          "1"
    grey 2, 4, 8 bits   "L"      (2 and 4 bits scaled to 0..255)
    grey 16 bits        "I"
    grey + alpha        "LA"     (16 bits: "RGBA", reduced to 8 bits)
    RGB                 "RGB"    (16 bits reduced to 8 bits)
    RGBA                "RGBA"   (16 bits reduced to 8 bits)
    palette             "P"      with its palette

Image.open reads the header only (size and mode); the pixels are decoded by
load(), which also fills im.info: "transparency" (as the PNG plugin gives
it), "gamma", "icc_profile" and "dpi" when the file holds gAMA, iCCP, pHYs.

Saving takes the modes "1", "L", "LA", "I" (values 0..65535), "I;16",
"I;16B", "I;16L", "RGB", "RGBA" and "P" (with its palette; an RGBA palette
or info["transparency"] becomes tRNS), with the save parameters
threads=N, icc_profile=bytes, dpi=(x, y) and transparency=..., as for PNG.
"""

import re
import struct
import sys
import zlib

from PIL import Image, ImageFile, ImagePalette

from . import _idfzip, MAGIC, MIME_TYPE

FORMAT = "IDF"
_SIMPLE_PALETTE = re.compile(b"^\xff*\x00\xff*$")


def _accept(prefix):
    return prefix[:8] == MAGIC


def _mode_of(color_type, bit_depth):
    if color_type == 0:
        return "1" if bit_depth == 1 else ("I" if bit_depth == 16 else "L")
    if color_type == 2:
        return "RGB"
    if color_type == 3:
        return "P"
    if color_type == 4:
        return "RGBA" if bit_depth == 16 else "LA"
    if color_type == 6:
        return "RGBA"
    raise SyntaxError("unknown colour type %d" % color_type)


class IdfImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "idfzip lossless image"

    def _open(self):
        data = self.fp.read()
        if not _accept(data):
            raise SyntaxError("not an IDF file")
        try:
            head = _idfzip.info(data)
        except _idfzip.Error as e:
            raise SyntaxError("broken IDF file: %s" % e) from e
        self._idf_data = data
        self._idf_head = head
        self._size = (head["width"], head["height"])
        mode = _mode_of(head["color_type"], head["bit_depth"])
        self._mode = mode  # Pillow >= 10.1: mode is a read-only property over _mode
        try:
            self.mode = mode  # Pillow < 10.1 (Debian 12 has 9.4)
        except AttributeError:
            pass
        # Not a decoder Pillow knows: load() below decodes the whole file.
        self.tile = [("idf", (0, 0) + self.size, 0, None)]

    def load(self):
        if self.tile and getattr(self, "_idf_data", None) is not None:
            head = self._idf_head
            try:
                (width, height, channels, depth, color_type, samples, palette, trns,
                 chunks) = _idfzip.decode_image(self._idf_data, expand_palette=False,
                                                to8=_reduces_16(head))
            except _idfzip.Error as e:
                raise OSError("cannot decode IDF file: %s" % e) from e
            if (width, height) != self.size:
                raise OSError("IDF header and image disagree")
            self._set_info(color_type, depth, palette, trns, chunks)
            self.load_prepare()
            self.frombytes(bytes(samples), "raw", _rawmode(self.mode, channels, depth))
            self.tile = []
            self._idf_data = None
            if self._exclusive_fp and self._close_exclusive_fp_after_loading:
                self.fp.close()  # as ImageFile.load does
                self.fp = None
        return Image.Image.load(self)

    def _set_info(self, color_type, depth, palette, trns, chunks):
        if color_type == 3:
            self.palette = ImagePalette.raw("RGB", palette)
            if trns:
                if _SIMPLE_PALETTE.match(trns):
                    self.info["transparency"] = trns.find(b"\0")
                else:
                    self.info["transparency"] = trns
        elif color_type == 0 and len(trns) == 2:
            self.info["transparency"] = struct.unpack(">H", trns)[0]
        elif color_type == 2 and len(trns) == 6:
            self.info["transparency"] = struct.unpack(">HHH", trns)
        for ctype, _where, cdata in chunks:
            try:
                if ctype == b"gAMA" and len(cdata) == 4:
                    self.info["gamma"] = struct.unpack(">I", cdata)[0] / 100000.0
                elif ctype == b"iCCP":
                    name_end = cdata.index(b"\0")
                    self.info["icc_profile"] = zlib.decompress(cdata[name_end + 2:])
                elif ctype == b"pHYs" and len(cdata) == 9:
                    px, py, unit = struct.unpack(">IIB", cdata)
                    if unit == 1:
                        self.info["dpi"] = (px * 0.0254, py * 0.0254)
            except (ValueError, zlib.error):
                pass  # a broken ancillary chunk is no reason to refuse the pixels


def _reduces_16(head):
    """16-bit samples are reduced to 8 bits for every kind but grey ("I")."""
    return head["color_type"] != 0


def _rawmode(mode, channels, depth):
    if mode == "1":
        return "1;8"  # bytes 0 / 255
    if mode == "I":
        return "I;16" if sys.byteorder == "little" else "I;16B"
    if mode == "RGBA" and channels == 2:
        return "LA"
    return mode


def _save(im, fp, filename):
    import numpy as np

    params = im.encoderinfo
    threads = int(params.get("threads", 1))
    mode = im.mode
    transparency = params.get("transparency", im.info.get("transparency"))
    palette = b""
    trns = b""
    if mode == "1":
        samples = im.convert("L").tobytes().translate(bytes([0] * 255 + [1]))
        color_type, depth = 0, 1
        if isinstance(transparency, int):
            trns = struct.pack(">H", 1 if transparency else 0)
    elif mode == "L":
        samples, color_type, depth = im.tobytes(), 0, 8
        if isinstance(transparency, int):
            trns = struct.pack(">H", transparency)
    elif mode == "LA":
        samples, color_type, depth = im.tobytes(), 4, 8
    elif mode == "RGB":
        samples, color_type, depth = im.tobytes(), 2, 8
        if isinstance(transparency, tuple) and len(transparency) == 3:
            trns = struct.pack(">HHH", *transparency)
    elif mode == "RGBA":
        samples, color_type, depth = im.tobytes(), 6, 8
    elif mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        a = np.asarray(im)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise ValueError("cannot write mode %s as IDF: values outside 0..65535" % mode)
        samples = np.ascontiguousarray(a, dtype=np.dtype("=u2"))
        color_type, depth = 0, 16
        if isinstance(transparency, int):
            trns = struct.pack(">H", transparency)
    elif mode == "P":
        palette, trns, depth = _palette_of(im, transparency)
        samples, color_type = im.tobytes(), 3
    else:
        raise OSError("cannot write mode %s as IDF" % mode)

    chunks = []
    icc = params.get("icc_profile", im.info.get("icc_profile"))
    if icc:
        chunks.append((b"iCCP", 0, b"ICC Profile\0\0" + zlib.compress(icc)))
    dpi = params.get("dpi")
    if dpi:
        chunks.append((b"pHYs", 0, struct.pack(">IIB", int(dpi[0] / 0.0254 + 0.5),
                                                int(dpi[1] / 0.0254 + 0.5), 1)))
    width, height = im.size
    data = _idfzip.encode_image(samples, width, height, color_type, depth, palette=palette,
                                trns=trns, chunks=chunks, threads=threads)
    fp.write(data)


def _palette_of(im, transparency):
    """(PLTE bytes, tRNS bytes, bit depth) for a "P" image."""
    pal_mode = im.palette.mode if im.palette is not None else "RGB"
    rgba = pal_mode == "RGBA"
    entries = im.getpalette("RGBA" if rgba else "RGB") or []
    size = 4 if rgba else 3
    colors = len(entries) // size
    lo, hi = im.getextrema()
    colors = max(min(max(colors, hi + 1), 256), 1)  # every index must have an entry
    entries = list(entries[:colors * size]) + [0] * (colors * size - len(entries))
    if rgba:
        plte = bytes(v for i, v in enumerate(entries) if i % 4 != 3)
        alpha = bytes(entries[3::4]).rstrip(b"\xff")
        trns = alpha
    else:
        plte = bytes(entries)
        trns = b""
        if isinstance(transparency, int) and 0 <= transparency < colors:
            trns = b"\xff" * transparency + b"\0"
        elif isinstance(transparency, (bytes, bytearray)):
            trns = bytes(transparency[:colors])
    depth = 1 if colors <= 2 else 2 if colors <= 4 else 4 if colors <= 16 else 8
    return plte, trns, depth


def register():
    Image.register_open(FORMAT, IdfImageFile, _accept)
    Image.register_save(FORMAT, _save)
    Image.register_extension(FORMAT, ".idf")
    Image.register_mime(FORMAT, MIME_TYPE)


__all__ = ["IdfImageFile", "register", "FORMAT"]
