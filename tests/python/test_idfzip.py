"""Tests of the Python bindings (import idfzip, PYTHONPATH=build/python):
compress/decompress and encode/decode on every PngSuite kind, checked
against an independent PNG reader (below: zlib and the PNG filters, exact at
every bit depth); the Pillow plugin against Pillow's own PNG plugin;
numpy arrays of every shape and dtype; bad input; thread-independent bytes;
the GIL released while coding.

Run by tests/python/run_pytest.sh BUILDDIR (make test-bindings)."""

import glob
import os
import struct
import threading
import time
import zlib

import numpy as np
import pytest

import idfzip

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

ROOT = os.environ.get("IDFZIP_TEST_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PNGSUITE = sorted(glob.glob(os.path.join(ROOT, "tests", "data", "pngsuite", "*.png")))
PHOTOS = os.path.join(ROOT, "tests", "data", "photos")
REGRESSIONS = os.path.join(ROOT, "tests", "regressions")
CORPUS = sorted(glob.glob(os.path.join(ROOT, "tests", "fuzz", "corpus", "fuzz_idf", "*.idf")))
GOLDEN = sorted(glob.glob(os.path.join(ROOT, "tests", "golden", "*.idf")))


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---- an independent PNG reader, exact: samples, palette, tRNS ----

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def unfilter(raw, pos, w, h, ch, depth):
    """One (sub)image's filtered rows at raw[pos:] -> (samples h x w x ch, end)."""
    stride = (w * ch * depth + 7) // 8
    bpp = max(1, ch * depth // 8)
    rows = np.zeros((h, stride), dtype=np.uint8)
    prev = [0] * stride
    for y in range(h):
        ftype = raw[pos]
        line = raw[pos + 1:pos + 1 + stride]
        pos += 1 + stride
        out = [0] * stride
        for i in range(stride):
            a = out[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 0:
                pred = 0
            elif ftype == 1:
                pred = a
            elif ftype == 2:
                pred = b
            elif ftype == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            out[i] = (line[i] + pred) & 255
        rows[y] = out
        prev = out
    if depth == 16:
        s = rows.view(">u2").astype(np.uint16)
    elif depth == 8:
        s = rows.astype(np.uint16)
    else:
        bits = np.unpackbits(rows, axis=1)[:, :w * ch * depth].reshape(h, w * ch, depth)
        s = np.zeros((h, w * ch), dtype=np.uint16)
        for k in range(depth):
            s = (s << 1) | bits[:, :, k]
    return s.reshape(h, w, ch), pos


def png_read(data):
    """PNG bytes -> (samples H x W x C as uint16 raw values, depth, colour
    type, palette bytes, tRNS bytes); interlaced or not."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, plte, trns = 8, b"", b"", b""
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ct, _comp, _filt, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            plte = body
        elif kind == b"tRNS":
            trns = body
        elif kind == b"IDAT":
            idat += body
    ch = CHANNELS[ct]
    raw = zlib.decompress(idat)
    if interlace == 0:
        s, end = unfilter(raw, 0, w, h, ch, depth)
    else:
        s = np.zeros((h, w, ch), dtype=np.uint16)
        end = 0
        for x0, y0, dx, dy in ADAM7:
            pw, ph = (w - x0 + dx - 1) // dx, (h - y0 + dy - 1) // dy
            if pw > 0 and ph > 0:
                sub, end = unfilter(raw, end, pw, ph, ch, depth)
                s[y0::dy, x0::dx] = sub
    assert end == len(raw)
    return s, depth, ct, plte, trns


def expected_decode(png):
    """What idfzip.decode gives for this PNG's image (see its docstring)."""
    s, depth, ct, plte, trns = png_read(png)
    if ct == 3:
        pal = np.frombuffer(plte, dtype=np.uint8).reshape(-1, 3)
        idx = s[:, :, 0]
        rgb = pal[idx]
        if trns:
            alpha = np.full(len(pal), 255, dtype=np.uint8)
            alpha[:len(trns)] = np.frombuffer(trns, dtype=np.uint8)
            rgb = np.concatenate([rgb, alpha[idx][:, :, None]], axis=2)
        return rgb
    if depth < 8:
        s = s * (255 // ((1 << depth) - 1))
    a = s.astype(np.uint16 if depth == 16 else np.uint8)
    return a[:, :, 0] if a.shape[2] == 1 else a


def png_name(path):
    return os.path.basename(path)


# ---- compress / decompress ----

@pytest.mark.parametrize("path", PNGSUITE, ids=png_name)
def test_compress_decompress_pngsuite(path):
    png = read(path)
    idf = idfzip.compress(png)
    assert idf[:8] == idfzip.MAGIC
    back = idfzip.decompress(idf)
    s0, d0, c0, p0, t0 = png_read(png)
    s1, d1, c1, p1, t1 = png_read(back)
    assert (d0, c0, p0, t0) == (d1, c1, p1, t1)
    assert np.array_equal(s0, s1)
    inf = idfzip.info(idf)
    assert (inf["width"], inf["height"], inf["bit_depth"], inf["color_type"]) == \
        (s0.shape[1], s0.shape[0], d0, c0)
    assert inf["file_size"] == len(idf)


@pytest.mark.parametrize("path", PNGSUITE, ids=png_name)
def test_decode_pngsuite(path):
    png = read(path)
    idf = idfzip.compress(png)
    a = idfzip.decode(idf)
    want = expected_decode(png)
    assert a.dtype == want.dtype and a.shape == want.shape
    assert np.array_equal(a, want)
    # and the palette untouched, on request
    s, _depth, ct, plte, trns = png_read(png)
    if ct == 3:
        idx, pal = idfzip.decode(idf, expand_palette=False)
        assert idx.dtype == np.uint8 and np.array_equal(idx, s[:, :, 0])
        assert pal.shape == (len(plte) // 3, 4 if trns else 3)
        assert pal[:, :3].tobytes() == plte


@pytest.mark.parametrize("path", PNGSUITE, ids=png_name)
def test_encode_what_decode_gives(path):
    """decode -> encode -> decode is exact for every non-palette kind."""
    png = read(path)
    a = idfzip.decode(idfzip.compress(png))
    if png_read(png)[2] == 3:
        pytest.skip("palette: decode expands it")
    b = idfzip.decode(idfzip.encode(a))
    assert b.dtype == a.dtype and np.array_equal(a, b)


def test_model_coded_photo_and_threads():
    png = read(os.path.join(PHOTOS, "chelsea.png"))
    one = idfzip.compress(png, threads=1)
    assert idfzip.info(one)["mode"] == "model"
    assert idfzip.compress(png, threads=3) == one
    assert idfzip.compress(png, threads=0) == one  # one per processor
    with pytest.raises(ValueError):
        idfzip.compress(png, threads=-1)
    assert np.array_equal(idfzip.decode(one), np.asarray(Image.open(os.path.join(PHOTOS, "chelsea.png"))))
    assert idfzip.decompress(one, threads=3) == idfzip.decompress(one, threads=1)


def smooth(shape, dtype, seed=0):
    """An image the models code (smaller than PNG): gradients and a little noise."""
    rng = np.random.default_rng(seed)
    h, w = shape[:2]
    c = shape[2] if len(shape) == 3 else 1
    top = 255 if dtype == np.uint8 else 65535
    y, x = np.mgrid[0:h, 0:w]
    planes = []
    for k in range(c):
        base = (x * (k + 1) * 3 + y * 2 + 40 * np.sin((x + y * k) / 17.0)) % (top // 2)
        planes.append(base + rng.integers(0, 3, size=(h, w)))
    a = np.stack(planes, axis=2).clip(0, top).astype(dtype)
    return a if len(shape) == 3 else a[:, :, 0]


@pytest.mark.parametrize("shape", [(300, 280), (300, 280, 3)], ids=str)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16], ids=lambda d: d.__name__)
def test_threads_give_the_same_bytes(shape, dtype):
    a = smooth(shape, dtype)
    one = idfzip.encode(a, threads=1)
    inf = idfzip.info(one)
    assert inf["mode"] == "model" and inf["tile_count"] > 1
    assert idfzip.encode(a, threads=3) == one
    assert np.array_equal(idfzip.decode(one, threads=3), a)


# ---- encode / decode on numpy arrays ----

SHAPES = [(13, 17), (13, 17, 1), (13, 17, 2), (13, 17, 3), (13, 17, 4), (1, 1), (1, 40, 3), (40, 1, 4)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16], ids=lambda d: d.__name__)
def test_encode_decode_random(shape, dtype):
    rng = np.random.default_rng(abs(hash((shape, dtype.__name__))) % 2**32)
    a = rng.integers(0, np.iinfo(dtype).max + 1, size=shape, dtype=dtype)
    idf = idfzip.encode(a)
    b = idfzip.decode(idf)
    assert b.dtype == a.dtype
    want = a[:, :, 0] if a.ndim == 3 and a.shape[2] == 1 else a  # grey comes back H x W
    assert b.shape == want.shape and np.array_equal(b, want)
    inf = idfzip.info(idf)
    assert inf["bit_depth"] == 8 * a.dtype.itemsize
    assert inf["channels"] == (1 if a.ndim == 2 else a.shape[2])


@pytest.mark.parametrize("shape", [(40, 50), (40, 50, 2), (40, 50, 3), (40, 50, 4)], ids=str)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16], ids=lambda d: d.__name__)
def test_encode_decode_model_coded(shape, dtype):
    a = smooth(shape, dtype, seed=3)
    idf = idfzip.encode(a)
    assert idfzip.info(idf)["mode"] == "model"
    assert np.array_equal(idfzip.decode(idf), a)


def test_encode_accepts_any_layout():
    a = smooth((30, 20, 3), np.uint16)
    ref = idfzip.encode(a)
    assert idfzip.encode(np.asfortranarray(a)) == ref
    assert idfzip.encode(a.astype(">u2")) == ref  # big-endian
    t = np.ascontiguousarray(a.transpose(1, 0, 2)).transpose(1, 0, 2)  # a strided view
    assert idfzip.encode(t) == ref
    assert idfzip.decode(bytearray(ref)).shape == a.shape
    assert idfzip.decode(memoryview(ref)).shape == a.shape
    out = idfzip.decode(ref)
    out[0, 0, 0] = 1  # a writable array of its own
    assert out.flags.writeable and out.flags.c_contiguous


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.int16), np.zeros((4, 4), np.float32),
                                 np.zeros((4, 4), np.uint32), np.zeros((4, 4), bool)],
                         ids=["int16", "float32", "uint32", "bool"])
def test_encode_refuses_dtypes(bad):
    with pytest.raises(TypeError):
        idfzip.encode(bad)


@pytest.mark.parametrize("shape", [(4,), (4, 4, 5), (4, 4, 0), (0, 4), (2, 2, 2, 2)], ids=str)
def test_encode_refuses_shapes(shape):
    with pytest.raises(ValueError):
        idfzip.encode(np.zeros(shape, np.uint8))


# ---- errors ----

def test_error_class():
    assert issubclass(idfzip.Error, Exception)
    assert idfzip.Error.__module__ == "idfzip"


@pytest.mark.parametrize("fn", [idfzip.decompress, idfzip.decode, idfzip.info])
def test_bad_idf_raises(fn):
    idf = idfzip.compress(read(os.path.join(PHOTOS, "camera.png")))
    cases = {
        b"": None,
        b"hello, world": "not an idfzip file (bad magic)",
        idfzip.MAGIC: "file is truncated",
        read(os.path.join(PHOTOS, "camera.png")): "not an idfzip file (bad magic)",
        idf[:len(idf) // 2]: None,
        idf[:30]: None,
        idf + b"x": None,
        idf[:8] + b"\x09" + idf[9:]: None,  # a version this library does not know
    }
    for data, message in cases.items():
        with pytest.raises(idfzip.Error) as e:
            fn(data)
        assert e.value.status < 0
        assert str(e.value)
        if message is not None:
            assert str(e.value) == message, data[:16]


def test_damaged_payload_raises():
    idf = idfzip.compress(read(os.path.join(PHOTOS, "camera.png")))
    assert idfzip.info(idf)["mode"] == "model"
    for pos in (len(idf) - 1, len(idf) - 200, len(idf) // 2, 25):
        bad = bytearray(idf)
        bad[pos] ^= 0x10
        with pytest.raises(idfzip.Error) as e:
            idfzip.decode(bytes(bad))
        assert "corrupt" in str(e.value) or "checksum" in str(e.value)


def test_regressions_raise():
    expected = {}
    for line in read(os.path.join(REGRESSIONS, "EXPECTED")).decode().splitlines():
        if line.strip() and not line.startswith("#"):
            name, status = line.split()
            expected[name] = status
    names = [n for n in expected if n.endswith(".idf")]
    assert names
    for name in names:
        data = read(os.path.join(REGRESSIONS, name))
        with pytest.raises(idfzip.Error) as e:
            idfzip.decompress(data)
        assert expected[name] in str(e.value), name
        with pytest.raises(idfzip.Error):
            idfzip.decode(data)
        with pytest.raises(OSError):  # Pillow: UnidentifiedImageError, or OSError at load
            Image.open(os.path.join(REGRESSIONS, name)).load()
    png = read(os.path.join(REGRESSIONS, "grey-with-empty-plte.png"))
    with pytest.raises(idfzip.Error) as e:
        idfzip.compress(png)
    assert str(e.value) == "invalid or unsupported PNG"


@pytest.mark.parametrize("path", CORPUS + GOLDEN, ids=png_name)
def test_corpus_decodes_or_raises(path):
    """Fuzz seeds and golden files (some need a model the library does not
    have): a clean result or idfzip.Error; also truncated and bit-flipped."""
    data = read(path)
    variants = [data, data[:len(data) - 1], data[:40], bytes(b ^ 0xff if i == len(data) // 3 else b
                                                            for i, b in enumerate(data))]
    for v in variants:
        try:
            a = idfzip.decode(v)
            assert a.size > 0
        except idfzip.Error as e:
            assert str(e) and e.status < 0


def test_compress_bad_png():
    with pytest.raises(idfzip.Error) as e:
        idfzip.compress(b"\x89PNG\r\n\x1a\n garbage")
    assert str(e.value) == "invalid or unsupported PNG"
    with pytest.raises(TypeError):
        idfzip.compress("not bytes")


def test_pixel_limit():
    idf = idfzip.compress(read(os.path.join(PHOTOS, "camera.png")))  # 128 x 128
    with pytest.raises(idfzip.Error) as e:
        idfzip.decode(idf, max_pixels=128 * 127)
    assert str(e.value) == "image exceeds the pixel limit"
    assert idfzip.decode(idf, max_pixels=128 * 128).shape == (128, 128)


# ---- the GIL is released while coding ----

def test_gil_released():
    a = np.tile(smooth((256, 256, 3), np.uint8), (1, 2, 1))  # 256 x 512, 2 tiles
    done = threading.Event()
    span = {}

    def work():
        t0 = time.monotonic()
        idfzip.encode(a, threads=1)
        span["t"] = (t0, time.monotonic())
        done.set()

    ticks = []
    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks.append(time.monotonic())
        time.sleep(0.001)
    t.join()
    t0, t1 = span["t"]
    assert t1 - t0 > 0.05, "too quick to tell"
    inside = [x for x in ticks if t0 <= x <= t1]
    # Held GIL: this thread would not run at all while encode runs.
    gaps = np.diff([t0] + inside + [t1])
    assert len(inside) > 5 and gaps.max() < 0.5 * (t1 - t0), (len(inside), gaps.max(), t1 - t0)


# ---- Pillow ----

def test_pillow_registered():
    assert Image.registered_extensions().get(".idf") == "IDF"
    assert Image.MIME.get("IDF") == "image/x-idf"
    assert "IDF" in Image.OPEN and "IDF" in Image.SAVE


def same_image(a, b):
    assert a.mode == b.mode and a.size == b.size
    assert np.array_equal(np.asarray(a), np.asarray(b))
    if a.mode == "P":
        assert a.getpalette() == b.getpalette()


@pytest.mark.parametrize("path", PNGSUITE, ids=png_name)
def test_pillow_open(path, tmp_path):
    f = tmp_path / "x.idf"
    f.write_bytes(idfzip.compress(read(path)))
    want = Image.open(path)
    with Image.open(f) as im:
        assert im.format == "IDF" and im.get_format_mimetype() == "image/x-idf"
        assert im.size == want.size and im.mode == want.mode  # before load
        im.load()
        same_image(im, want)
        for key in ("transparency", "gamma"):
            assert im.info.get(key) == want.info.get(key), key
        # and what Pillow makes of it, as for the PNG
        if im.mode != "I":
            same_image(im.convert("RGBA"), want.convert("RGBA"))


@pytest.mark.parametrize("path", PNGSUITE, ids=png_name)
def test_pillow_save(path, tmp_path):
    want = Image.open(path)
    want.load()
    f = tmp_path / "x.idf"
    want.save(f)
    assert read(f)[:8] == idfzip.MAGIC
    with Image.open(f) as im:
        im.load()
        same_image(im, want)
        assert im.info.get("transparency") == want.info.get("transparency")


def test_pillow_save_modes(tmp_path):
    rng = np.random.default_rng(7)
    g = rng.integers(0, 256, size=(20, 30), dtype=np.uint8)
    cases = {
        "1": Image.fromarray(g > 127),
        "L": Image.fromarray(g),
        "LA": Image.fromarray(np.stack([g, 255 - g], 2), "LA"),
        "RGB": Image.fromarray(np.stack([g, g // 2, 255 - g], 2)),
        "RGBA": Image.fromarray(np.stack([g, g // 2, 255 - g, g], 2)),
        "I;16": Image.fromarray(g.astype(np.uint16) * 257),
        "I": Image.fromarray(g.astype(np.int32) * 250),
        "P": Image.fromarray(np.stack([g, g // 2, 255 - g], 2)).quantize(40),
    }
    for mode, im in cases.items():
        assert im.mode == mode
        f = tmp_path / ("%s.idf" % mode.replace(";", "_"))
        im.save(f, threads=2)
        back = Image.open(f)
        back.load()
        want_mode = {"I;16": "I"}.get(mode, mode)
        assert back.mode == want_mode, mode
        assert np.array_equal(np.asarray(back).astype(np.int64), np.asarray(im).astype(np.int64)), mode
        if mode == "P":
            n = len(back.getpalette())
            assert back.getpalette() == im.getpalette()[:n]
    # transparency of a palette image, and an RGBA palette
    p = cases["P"].copy()
    p.info["transparency"] = 3
    p.save(tmp_path / "t.idf")
    back = Image.open(tmp_path / "t.idf")
    back.load()
    assert back.info["transparency"] == 3
    assert np.array_equal(np.asarray(back.convert("RGBA")), np.asarray(p.convert("RGBA")))
    # icc profile and dpi come back
    cases["RGB"].save(tmp_path / "icc.idf", icc_profile=b"fake profile" * 10, dpi=(300, 300))
    back = Image.open(tmp_path / "icc.idf")
    back.load()
    assert back.info["icc_profile"] == b"fake profile" * 10
    assert tuple(round(v) for v in back.info["dpi"]) == (300, 300)
    # modes it cannot write
    with pytest.raises(OSError):
        Image.new("CMYK", (4, 4)).save(tmp_path / "cmyk.idf")
    with pytest.raises(ValueError):
        Image.fromarray(np.full((4, 4), 70000, np.int32)).save(tmp_path / "big.idf")


def test_pillow_bad_files(tmp_path):
    f = tmp_path / "bad.idf"
    f.write_bytes(idfzip.MAGIC + b"\x01" * 40)
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(f)
    good = idfzip.compress(read(os.path.join(PHOTOS, "camera.png")))
    bad = bytearray(good)
    bad[-5] ^= 0x40
    f.write_bytes(bytes(bad))
    with Image.open(f) as im:  # the header is fine
        assert im.size == (128, 128)
        with pytest.raises(OSError):
            im.load()


def test_pillow_thumbnail_and_lazy_open(tmp_path):
    f = tmp_path / "chelsea.idf"
    f.write_bytes(idfzip.compress(read(os.path.join(PHOTOS, "chelsea.png"))))
    with Image.open(f) as im:
        assert im.tile  # nothing decoded yet
        im.thumbnail((64, 64))
        assert im.size == (64, 43)
