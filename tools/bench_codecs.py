#!/usr/bin/python3
"""Compare idfzip with other lossless image codecs on a folder of PNGs.

    tools/bench_codecs.py [--runs N] [--best] [--threads N] [--smoke] CORPUS OUT
    make bench-codecs [CORPUS=dir] [OUT=dir] [RUNS=3] [THREADS=2] [BEST=1]

Every PNG in CORPUS is coded by each codec setting below with its Debian
command-line tools, one process per file, and decoded again:

    idfzip            idfzip compress/decompress -T THREADS
    PNG (libpng)      tools/pngtool libpng: libpng's defaults (zlib level 6,
                      libpng's filter choice), same colour type and depth
    optipng -o2       optipng
    zopflipng         zopflipng with its default settings
    WebP lossless     cwebp -lossless -exact, and with -z 9; dwebp
    JPEG XL           cjxl -d 0 -e 7 and -e 9 --num_threads THREADS; djxl
                      --bits_per_sample 8 (16 for 16-bit images)
    JPEG 2000         opj_compress (lossless 5/3 wavelet, its default) to
                      .j2k; opj_decompress; both -threads THREADS
    JPEG-LS           libjpeg-tools' jpeg -ls 0 -c (no colour transform) and
                      -ls 0 -cls (JPEG-LS part 2 colour transform), from a
                      PPM/PGM; decoded by jpeg to PPM/PGM

A tool that is not installed is skipped with a note.  Every encoder reads
the same file: a copy of the PNG with only IHDR, PLTE, tRNS, IDAT and IEND
(cwebp would otherwise apply a gAMA chunk to the pixels, and idfzip would
count the metadata it keeps).  What is measured:

* Size: bits per subpixel, 8 * bytes / (W * H * C), C the channel count of
  the source PNG's colour type (a palette image counts 1, as idfzip does).
  A total is 8 * (sum of bytes) / (sum of subpixels).
* Speed: wall-clock time of each command, process start and file reading
  and writing included, the median of --runs runs (with --best, the
  fastest).  MP/s = megapixels (W * H) / seconds; a total is sum of pixels
  / sum of the files' times.
  Encoders read the PNG (JPEG-LS a PPM/PGM, jpeg reads nothing else).
  Decoders write a PNG where the tool can (idfzip can write nothing else),
  JPEG-LS a PPM/PGM; "decoding" a PNG is tools/pngtool pam (idfzip's PNG
  reader) writing a PAM.  Small images measure mostly process start-up.
* Peak memory: the highest resident set size of the process over the runs,
  from GNU time (/usr/bin/time -f %M, Debian package time); "-" without it.
* Correctness: every decoded file is read back (PNG through pngtool pam,
  exact at every bit depth) and compared with the source pixels, after
  palette and tRNS are expanded, grey is repeated into RGB and a missing
  alpha is taken as opaque; values are compared on a 16-bit scale, so
  1/2/4-bit grey written back as 8-bit still matches.  Colour under fully
  transparent pixels must match too.  A failed round trip is reported and
  left out of the totals, as is an image a setting cannot code
  ("unsupported": 16-bit for WebP, alpha or 1-bit for JPEG-LS).

Totals in table.md are over the images that every setting in the table
coded losslessly, so that the rows are comparable (if there is none, each
row's own successes, said so under the table); per_image.csv has every
image and setting.  OUT gets table.md, per_image.csv and plot.png (bpsp
against decode MP/s).  Exit status 1 when an idfzip round trip failed (a
failing peer is only reported), 2 on a usage error.
"""

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def note(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- images: PNG header, PAM/PNM read and write, pixel comparison ----

@dataclass
class Image:
    path: str
    name: str
    width: int
    height: int
    bit_depth: int
    color_type: int
    pixels: np.ndarray  # (H, W, C) as pngtool pam gives it
    maxval: int

    @property
    def channels(self):  # of the PNG's colour type; palette counts 1
        return {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[self.color_type]

    @property
    def subpixels(self):
        return self.width * self.height * self.channels

    @property
    def megapixels(self):
        return self.width * self.height / 1e6

    @property
    def has_alpha(self):
        return self.pixels.shape[2] in (2, 4)


def png_header(path):
    """(width, height, bit depth, colour type) from the IHDR chunk."""
    with open(path, "rb") as f:
        head = f.read(29)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return (int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big"),
            head[24], head[25])


# The chunks that define the pixels; the others (gAMA, iCCP, text ...) go.
PIXEL_CHUNKS = (b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND")


def strip_png(src, dst):
    """Copies the PNG with only PIXEL_CHUNKS, byte for byte (nothing re-encoded)."""
    with open(src, "rb") as f:
        data = f.read()
    out, pos = [data[:8]], 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        if data[pos + 4:pos + 8] in PIXEL_CHUNKS:
            out.append(data[pos:pos + 12 + length])
        pos += 12 + length
    with open(dst, "wb") as f:
        f.write(b"".join(out))


def read_pnm(path):
    """PGM (P5), PPM (P6) or PAM (P7) -> (array (H, W, C), maxval)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"P7":
        end = data.index(b"ENDHDR\n") + 7
        fields = dict(line.split(None, 1) for line in data[3:end - 7].decode().splitlines()
                      if line and not line.startswith("#"))
        w, h, c, maxval = (int(fields[k]) for k in ("WIDTH", "HEIGHT", "DEPTH", "MAXVAL"))
    elif data[:2] in (b"P5", b"P6"):
        tokens, pos = [], 2
        while len(tokens) < 3:  # width, height, maxval, then one whitespace byte
            while data[pos:pos + 1].isspace():
                pos += 1
            if data[pos:pos + 1] == b"#":
                pos = data.index(b"\n", pos)
                continue
            start = pos
            while not data[pos:pos + 1].isspace():
                pos += 1
            tokens.append(int(data[start:pos]))
        w, h, maxval = tokens
        c, end = (1 if data[:2] == b"P5" else 3), pos + 1
    else:
        raise ValueError("not a PGM/PPM/PAM file")
    dtype = ">u2" if maxval > 255 else "u1"
    return np.frombuffer(data, dtype, w * h * c, end).reshape(h, w, c), maxval


def write_pnm(path, pixels, maxval):
    """A grey or RGB array as PGM or PPM (for encoders that read nothing else)."""
    h, w, c = pixels.shape
    dtype = ">u2" if maxval > 255 else "u1"
    with open(path, "wb") as f:
        f.write(b"P5" if c == 1 else b"P6")
        f.write(b"\n%d %d\n%d\n" % (w, h, maxval))
        f.write(pixels.astype(dtype).tobytes())


def as_rgba16(pixels, maxval):
    """(H, W, 4) values on a 0..65535 scale: grey repeated, opaque alpha added."""
    if 65535 % maxval:
        raise ValueError("maxval %d" % maxval)
    a = pixels.astype(np.uint32) * (65535 // maxval)
    c = a.shape[2]
    colour = np.repeat(a[..., :1], 3, axis=2) if c <= 2 else a[..., :3]
    alpha = a[..., -1:] if c in (2, 4) else np.full(a.shape[:2] + (1,), 65535, np.uint32)
    return np.concatenate([colour, alpha], axis=2)


def same_pixels(img, pixels, maxval):
    """None when the decoded pixels equal the source's, else what differs."""
    if pixels.shape[:2] != img.pixels.shape[:2]:
        return "size %dx%d" % (pixels.shape[1], pixels.shape[0])
    try:
        diff = as_rgba16(pixels, maxval) != as_rgba16(img.pixels, img.maxval)
    except ValueError as e:
        return str(e)
    n = int(diff.any(axis=2).sum())
    return "%d pixels differ" % n if n else None


# ---- running a command: wall time and peak memory ----

# GNU time reports the command's peak RSS.  ru_maxrss from Python's own wait
# would not do: a child forked from Python keeps Python's high-water mark
# through exec, so every command would show at least this script's ~36 MiB.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


@dataclass
class Run:
    seconds: float
    rss_kib: Optional[int]  # None without GNU time
    error: Optional[str]


def peak_rss(report):
    """The last line of GNU time's -o file: %M, peak RSS in KiB."""
    lines = report.read().split()
    return int(lines[-1]) if lines and lines[-1].isdigit() else None


def run_command(cmd):
    """Runs cmd; wall time, peak RSS of the command, error text if it failed."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as report:
        argv = [GNU_TIME, "-f", "%M", "-o", report.name] + cmd if GNU_TIME else cmd
        start = time.perf_counter()
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=err)
        seconds = time.perf_counter() - start
        rss = peak_rss(report) if GNU_TIME else None
        if proc.returncode == 0:
            return Run(seconds, rss, None)
        err.seek(0)
        text = err.read().decode(errors="replace").strip().splitlines()
        error = "%s exit %d" % (os.path.basename(cmd[0]), proc.returncode)
        return Run(seconds, rss, error + (": " + text[-1] if text else ""))


@dataclass
class Repeats:
    """How often each command runs, and which time counts: the median, or
    with --best the fastest (the best of N on a quiet machine)."""
    count: int
    best: bool

    def pick(self, times):
        return min(times) if self.best else statistics.median(times)

    def words(self):
        return "%s of %d run(s)" % ("best" if self.best else "median", self.count)


def run_repeated(cmd, output, runs):
    """Runs cmd runs.count times, output removed before each; (the time
    runs.pick chooses, max RSS) or error."""
    times, rss = [], 0
    for _ in range(runs.count):
        if os.path.exists(output):
            os.remove(output)
        r = run_command(cmd)
        if r.error is None and not os.path.exists(output):
            r.error = "%s wrote no %s" % (os.path.basename(cmd[0]), os.path.basename(output))
        if r.error:
            return None, None, r.error
        times.append(r.seconds)
        rss = None if r.rss_kib is None or rss is None else max(rss, r.rss_kib)
    return runs.pick(times), rss, None


# ---- the codec settings ----

@dataclass
class Codec:
    label: str            # as shown in the table
    tools: List[str]      # executables that must exist
    threads: str          # as stated in the table
    ext: str              # compressed file
    out: str              # decoded file: .png, .pam or .pnm
    encode: Callable      # (input, output, image) -> argv
    decode: Callable      # (input, output, image) -> argv
    pnm_input: bool = False
    unsupported: Callable = lambda img: None  # img -> reason or None
    missing: List[str] = field(default_factory=list)


def idfzip_codec(idfzip, t):
    return Codec("idfzip", [idfzip], t, ".idf", ".png",
                 lambda i, o, img: [idfzip, "compress", i, "-o", o, "-f", "-q", "-T", t],
                 lambda i, o, img: [idfzip, "decompress", i, "-o", o, "-f", "-q", "-T", t])


def png_codec(label, tool, encode, pngtool):
    """A PNG writer; decoding a PNG is pngtool pam."""
    return Codec(label, [tool, pngtool], "1", ".png", ".pam", encode,
                 lambda i, o, img: [pngtool, "pam", i, o])


def cwebp_codec(extra, mt):
    def encode(i, o, img):
        return ["cwebp", "-quiet", "-lossless", "-exact"] + extra + mt + [i, "-o", o]

    def decode(i, o, img):
        return ["dwebp", "-quiet"] + mt + [i, "-o", o]

    return Codec(" ".join(["cwebp -lossless"] + extra), ["cwebp", "dwebp"],
                 "-mt" if mt else "1", ".webp", ".png", encode, decode,
                 unsupported=lambda img: "16-bit" if img.bit_depth == 16 else None)


def cjxl_codec(effort, t):
    def encode(i, o, img):
        return ["cjxl", i, o, "-d", "0", "-e", str(effort), "--num_threads=" + t, "--quiet"]

    def decode(i, o, img):
        # djxl 0.7 writes 1/2/4-bit grey into an 8-bit PNG unscaled (0 and 1
        # for black and white) and fails on some 16-bit alpha: name the depth.
        depth = 16 if img.bit_depth == 16 else 8
        return ["djxl", i, o, "--bits_per_sample=%d" % depth, "--num_threads=" + t, "--quiet"]

    return Codec("cjxl -d 0 -e %d" % effort, ["cjxl", "djxl"], t, ".jxl", ".png", encode, decode)


def opj_codec(t):
    return Codec("JPEG 2000 (opj, lossless)", ["opj_compress", "opj_decompress"], t,
                 ".j2k", ".png",
                 lambda i, o, img: ["opj_compress", "-i", i, "-o", o, "-threads", t],
                 lambda i, o, img: ["opj_decompress", "-i", i, "-o", o, "-threads", t])


def jpegls_unsupported(img):
    if img.has_alpha:
        return "alpha"
    return "1-bit" if img.maxval == 1 else None


def jpegls_codec(colour):
    """colour: -c (no colour transform) or -cls (JPEG-LS part 2 transform)."""
    return Codec("JPEG-LS -ls 0 " + colour, ["jpeg"], "1", ".jls", ".pnm",
                 lambda i, o, img: ["jpeg", "-ls", "0", colour, i, o],
                 lambda i, o, img: ["jpeg", i, o],
                 pnm_input=True, unsupported=jpegls_unsupported)


def make_codecs(idfzip, pngtool, threads):
    """Every codec setting, in table order."""
    t, mt = str(threads), (["-mt"] if threads > 1 else [])
    return [
        idfzip_codec(idfzip, t),
        png_codec("PNG (libpng defaults)", pngtool,
                  lambda i, o, img: [pngtool, "libpng", i, o], pngtool),
        png_codec("optipng -o2", "optipng",
                  lambda i, o, img: ["optipng", "-quiet", "-o2", "-out", o, i], pngtool),
        png_codec("zopflipng", "zopflipng",
                  lambda i, o, img: ["zopflipng", "-y", i, o], pngtool),
        cwebp_codec([], mt),
        cwebp_codec(["-z", "9"], mt),
        cjxl_codec(7, t),
        cjxl_codec(9, t),
        opj_codec(t),
        jpegls_codec("-c"),
        jpegls_codec("-cls"),
    ]


def find_missing(codecs):
    for c in codecs:
        c.missing = [t for t in c.tools if shutil.which(t) is None]
        if c.missing:
            note("bench-codecs: %s skipped: %s not installed" % (c.label, ", ".join(c.missing)))
    return [c for c in codecs if not c.missing]


# ---- one image through one codec setting ----

def read_decoded(path, pngtool):
    """Pixels and maxval of a decoder's output (PNG through pngtool pam)."""
    if path.endswith(".png"):
        pam = path + ".pam"
        r = run_command([pngtool, "pam", path, pam])
        if r.error:
            raise ValueError(r.error)
        path = pam
    return read_pnm(path)


def source_for(codec, img, work):
    """The file the encoder reads: the PNG, or a PGM/PPM of its pixels."""
    if not codec.pnm_input:
        return img.path
    pnm = os.path.join(work, "source.pnm")
    if not os.path.exists(pnm):
        write_pnm(pnm, img.pixels, img.maxval)
    return pnm


def bench_one(codec, img, work, runs, pngtool):
    """A result row (dict) for img coded by codec."""
    row = {"status": "ok", "note": ""}
    reason = codec.unsupported(img)
    if reason:
        return dict(row, status="unsupported", note=reason)
    coded = os.path.join(work, "coded" + codec.ext)
    decoded = os.path.join(work, "decoded" + codec.out)
    enc_s, enc_rss, error = run_repeated(codec.encode(source_for(codec, img, work), coded, img),
                                         coded, runs)
    if error:
        return dict(row, status="failed", note="encode: " + error)
    size = os.path.getsize(coded)
    dec_s, dec_rss, error = run_repeated(codec.decode(coded, decoded, img), decoded, runs)
    if error:
        return dict(row, status="failed", note="decode: " + error, bytes=size)
    try:
        error = same_pixels(img, *read_decoded(decoded, pngtool))
    except (ValueError, OSError) as e:
        error = "cannot read the decoded file: %s" % e
    if error:
        return dict(row, status="failed", note="round trip: " + error, bytes=size)
    return dict(row, bytes=size, enc_s=enc_s, dec_s=dec_s, enc_rss_kib=enc_rss,
                dec_rss_kib=dec_rss)


def load_image(path, pngtool, work):
    """The image, its pixels, and the stripped copy that every encoder reads."""
    w, h, depth, ctype = png_header(path)
    stripped, pam = os.path.join(work, "source.png"), os.path.join(work, "source.pam")
    strip_png(path, stripped)
    r = run_command([pngtool, "pam", stripped, pam])
    if r.error:
        raise ValueError(r.error)
    pixels, maxval = read_pnm(pam)
    return Image(stripped, os.path.basename(path), w, h, depth, ctype, pixels.copy(), maxval)


def progress(k, n, img, codec, row):
    if row["status"] != "ok":
        msg = "%s (%s)" % (row["status"], row["note"])
    else:
        msg = "%.3f bpsp, enc %.2f MP/s, dec %.2f MP/s" % (
            8 * row["bytes"] / img.subpixels, img.megapixels / row["enc_s"],
            img.megapixels / row["dec_s"])
    note("[%d/%d] %s %s: %s" % (k, n, img.name, codec.label, msg))


def bench_all(paths, codecs, runs, pngtool):
    """Every image through every codec; a list of (image, codec, row)."""
    results, n, k = [], len(paths) * len(codecs), 0
    for path in paths:
        with tempfile.TemporaryDirectory(prefix="bench-codecs-") as work:
            try:
                img = load_image(path, pngtool, work)
            except (ValueError, OSError) as e:
                note("bench-codecs: %s skipped: %s" % (path, e))
                k += len(codecs)
                continue
            for codec in codecs:
                k += 1
                row = bench_one(codec, img, work, runs, pngtool)
                progress(k, n, img, codec, row)
                results.append((img, codec, row))
    return results


# ---- totals, table, CSV, plot ----

def common_images(results, codecs):
    """Names of the images every codec with any success coded losslessly."""
    ok = {(img.name, c.label) for img, c, row in results if row["status"] == "ok"}
    active = [c for c in codecs if any(label == c.label for _, label in ok)]
    names = {img.name for img, _, _ in results}
    return {n for n in names if all((n, c.label) in ok for c in active)}, active


def totals(results, codec, names):
    rows = [(img, row) for img, c, row in results
            if c is codec and img.name in names and row["status"] == "ok"]
    if not rows:
        return None
    sub = sum(img.subpixels for img, _ in rows)
    mp = sum(img.megapixels for img, _ in rows)
    size = sum(row["bytes"] for _, row in rows)
    return {"images": len(rows), "bytes": size, "bpsp": 8 * size / sub,
            "enc": mp / sum(r["enc_s"] for _, r in rows),
            "dec": mp / sum(r["dec_s"] for _, r in rows),
            "enc_rss": peak_mib(r["enc_rss_kib"] for _, r in rows),
            "dec_rss": peak_mib(r["dec_rss_kib"] for _, r in rows)}


def peak_mib(kibs):
    kibs = list(kibs)
    return "-" if None in kibs else "%.1f" % (max(kibs) / 1024)


def table_lines(rows, comparable):
    base = next((t for c, t in rows if c.label == "idfzip"), None) if comparable else None
    lines = ["| codec setting | threads | images | bytes | bpsp | size vs idfzip | encode MP/s "
             "| decode MP/s | encode peak MiB | decode peak MiB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for c, t in rows:
        rel = "%+.1f%%" % (100 * (t["bytes"] / base["bytes"] - 1)) if base else "-"
        lines.append("| %s | %s | %d | %d | %.3f | %s | %.2f | %.2f | %s | %s |" % (
            c.label, c.threads, t["images"], t["bytes"], t["bpsp"], rel, t["enc"], t["dec"],
            t["enc_rss"], t["dec_rss"]))
    return lines


def footnotes(results, all_codecs, names, runs):
    """names: the images in every row's totals, or None when rows differ."""
    images = {img.name for img, _, _ in results}
    if names is None:
        first = ("No image was coded losslessly by every setting: each row's totals are over "
                 "the images that setting coded, so rows are not comparable.")
    else:
        left_out = sorted(images - names)
        first = "Totals over %d of %d images, those that every setting above coded losslessly%s" % (
            len(names), len(images), "; left out: %s." % ", ".join(left_out) if left_out else ".")
    lines = ["", first,
             "Speeds: %s per file, whole command (process start and file I/O "
             "included); MP/s = megapixels / seconds." % runs.words()]
    for c in all_codecs:
        if c.missing:
            lines.append("- %s: not run, %s not installed." % (c.label, ", ".join(c.missing)))
    for img, c, row in results:
        if row["status"] != "ok":
            lines.append("- %s, %s: %s (%s)." % (img.name, c.label, row["status"], row["note"]))
    return lines


def write_table(path, results, codecs, all_codecs, runs):
    """table.md (also printed); returns the rows as (codec, totals)."""
    names, active = common_images(results, codecs)
    comparable = bool(names)
    if not comparable:
        names = {img.name for img, _, _ in results}
    rows = [(c, t) for c in active for t in [totals(results, c, names)] if t]
    lines = table_lines(rows, comparable) + footnotes(results, all_codecs,
                                                      names if comparable else None, runs)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    return rows


CSV_FIELDS = ["image", "width", "height", "channels", "bit_depth", "color_type", "codec",
              "threads", "status", "note", "bytes", "bpsp", "enc_s", "dec_s", "enc_mpps",
              "dec_mpps", "enc_rss_kib", "dec_rss_kib"]


def write_csv(path, results):
    with open(path, "w", newline="") as f:
        out = csv.DictWriter(f, CSV_FIELDS)
        out.writeheader()
        for img, c, row in results:
            line = {"image": img.name, "width": img.width, "height": img.height,
                    "channels": img.channels, "bit_depth": img.bit_depth,
                    "color_type": img.color_type, "codec": c.label, "threads": c.threads}
            line.update({k: row[k] for k in row})
            if "bytes" in row:
                line["bpsp"] = "%.4f" % (8 * row["bytes"] / img.subpixels)
            if row["status"] == "ok":
                line["enc_mpps"] = "%.3f" % (img.megapixels / row["enc_s"])
                line["dec_mpps"] = "%.3f" % (img.megapixels / row["dec_s"])
                line["enc_s"] = "%.5f" % row["enc_s"]
                line["dec_s"] = "%.5f" % row["dec_s"]
            out.writerow(line)


def write_plot(path, rows):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        note("bench-codecs: matplotlib is not installed, no plot")
        return
    from matplotlib.ticker import FuncFormatter, LogLocator
    fig, ax = plt.subplots(figsize=(8, 5.5))
    # Labels alternate above and below in order of bpsp, so that two settings
    # of nearly the same size do not print over each other.
    for k, (c, t) in enumerate(sorted(rows, key=lambda ct: ct[1]["bpsp"])):
        ax.plot(t["dec"], t["bpsp"], "o", color="C3" if c.label == "idfzip" else "C0")
        ax.annotate(c.label, (t["dec"], t["bpsp"]), textcoords="offset points",
                    xytext=(6, 4 if k % 2 else -11), fontsize=8)
    ax.set_xscale("log")
    ax.margins(x=0.12, y=0.06)
    ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "%g" % v))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.set_xlabel("decode speed, MP/s (log scale; whole command, process start included)")
    ax.set_ylabel("bits per subpixel (lower is better)")
    ax.set_title("Lossless codecs: size against decode speed")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- command line ----

def pixel_count(path):
    try:
        w, h, _, _ = png_header(path)
        return w * h
    except (ValueError, OSError):
        return 0  # load_image reports it


def corpus_files(corpus, smoke):
    """The PNGs in corpus, by name; with smoke, the two smallest."""
    paths = sorted(os.path.join(corpus, f) for f in os.listdir(corpus)
                   if f.lower().endswith(".png"))
    return sorted(paths, key=pixel_count)[:2] if smoke else paths


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("corpus", help="folder of PNG files")
    p.add_argument("out", help="folder for table.md, per_image.csv and plot.png")
    p.add_argument("--runs", type=int, default=3, help="runs per command; the median counts")
    p.add_argument("--best", action="store_true",
                   help="the fastest of the runs counts, not the median")
    p.add_argument("--threads", type=int, default=2,
                   help="threads for idfzip -T, cjxl/djxl --num_threads, opj -threads, "
                        "cwebp/dwebp -mt when more than 1 (default 2)")
    p.add_argument("--smoke", action="store_true", help="the 2 smallest images, 1 run")
    p.add_argument("--idfzip", default=os.path.join(ROOT, "idfzip"))
    p.add_argument("--pngtool", default=os.path.join(ROOT, "build", "tools", "pngtool"))
    a = p.parse_args(argv)
    if a.smoke:
        a.runs = 1
    if a.runs < 1 or a.threads < 1:
        p.error("--runs and --threads must be at least 1")
    return a


def main(argv):
    a = parse_args(argv)
    for tool in (a.idfzip, a.pngtool):
        if not os.access(tool, os.X_OK):
            note("bench-codecs: %s is not built (make %s)" % (tool, os.path.basename(tool)))
            return 2
    a.idfzip, a.pngtool = os.path.abspath(a.idfzip), os.path.abspath(a.pngtool)
    paths = corpus_files(a.corpus, a.smoke)
    if not paths:
        note("bench-codecs: no PNG files in %s" % a.corpus)
        return 2
    all_codecs = make_codecs(a.idfzip, a.pngtool, a.threads)
    codecs = find_missing(all_codecs)
    runs = Repeats(a.runs, a.best)
    note("bench-codecs: %d image(s), %d codec setting(s), %s each, %d thread(s)"
         % (len(paths), len(codecs), runs.words(), a.threads))
    if GNU_TIME is None:
        note("bench-codecs: /usr/bin/time not found (Debian package time), no peak memory")
    results = bench_all(paths, codecs, runs, a.pngtool)
    os.makedirs(a.out, exist_ok=True)
    write_csv(os.path.join(a.out, "per_image.csv"), results)
    rows = write_table(os.path.join(a.out, "table.md"), results, codecs, all_codecs, runs)
    write_plot(os.path.join(a.out, "plot.png"), rows)
    note("bench-codecs: wrote %s/table.md, per_image.csv, plot.png" % a.out)
    idfzip_failed = any(c.label == "idfzip" and row["status"] == "failed"
                        for _, c, row in results)
    return 1 if idfzip_failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
