#!/usr/bin/python3
"""build_corpus.py - reproducible idfzip training corpus from Debian packages.

Purpose
    Builds the photographic training / held-out corpus for the idfzip
    trainer out of images shipped in Debian packages (wallpapers, sample
    data, documentation).  Only natural, true-colour photographs are kept;
    they are box-downscaled by an integer factor (3..8) so that camera noise
    and JPEG artefacts average away, split into train / held-out by whole
    image, and the train images are additionally packed into random patches.

Reproducibility
    The selection is pinned in tools/corpus/manifest.tsv (package, version,
    path inside the package, sha256 of the file, original size, downscale
    factor, split).  When the manifest exists the script downloads exactly
    those package versions (`apt-get download NAME=VERSION`), takes exactly
    the listed files and verifies every sha256; any mismatch is a fatal
    error.  Walks are sorted, the patch sampler is Python's `random.Random`
    (Mersenne Twister, stable across Python versions) seeded by --seed, and
    every output file is listed in OUT/SHA256SUMS.  `--refresh` re-runs the
    selection and rewrites the manifest.

Selection (only with --refresh or when no manifest exists)
    See tools/corpus/README.md for the full rules.  In short: candidate files
    are .jpg/.jpeg/.png/.webp/.ppm (also inside Qt .rcc resource bundles);
    they must be 8-bit RGB with no transparent pixel and really coloured,
    large enough (wallpaper packages >= 1000x700, others >= 512x384), pass a
    "looks like a photograph" test on a 64x64 thumbnail and on the
    downscaled image, and be neither a pixel duplicate nor a near-duplicate
    (same picture at another resolution / quality) of an image already kept.
    At most 100 images per package (40 for gcompris-qt-data).  Held-out
    images may come from any package: landscape photos of at least
    2304x1536 are eligible, every 8th of them (at least 8) is held out and
    downscaled by 3 (not by its train factor) for a 768x512 centre crop.

Patches
    Each package gets a share of the patches equal to its share of the
    train area, capped at 35 %; the excess is spread over the other packages
    in proportion to their area.  Within a package, images are drawn in
    proportion to their area.

Outputs (OUT = --out, default <repo>/corpus)
    OUT/train/NAME.png      downscaled train images (full frame)
    OUT/heldout/NAME.png    768x512 centre crops of downscaled held-out images
    OUT/train_rgb.npy       uint8 [count, patch, patch, 3] random train patches
                            (package shares as under "Patches")
    OUT/train_grey.npy      uint8 [count, patch, patch] luma of the same
                            patches, (77R + 150G + 29B + 128) >> 8
    OUT/images.tsv          NAME -> manifest entry, downscaled size
    OUT/SHA256SUMS          sha256 of every file above

Runs with Debian's /usr/bin/python3 plus python3-numpy and python3-pil.
Single-threaded.  Needs apt-get/apt-cache/dpkg (download needs no root if
the cache directory is writable).
"""

import argparse
import bisect
from fractions import Fraction
import fnmatch
import hashlib
import io
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib

try:
    import numpy as np
    from PIL import Image
except ImportError as exc:  # pragma: no cover - environment check
    sys.exit(f"build_corpus: missing Python module ({exc.name}); install it with "
             "`apt-get install -y --no-install-recommends python3-numpy python3-pil` "
             "and run this script with /usr/bin/python3")

Image.MAX_IMAGE_PIXELS = 64 * 1024 * 1024  # wallpapers are large but not bombs

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFEST = os.path.join(REPO_ROOT, "tools", "corpus", "manifest.tsv")
MANIFEST_COLUMNS = ["package", "version", "path", "sha256", "width", "height", "factor", "split"]

# (package, class).  "wallpaper": min 1000x700; "misc": min 512x384.
PACKAGES = [
    ("plasma-workspace-wallpapers", "wallpaper"),
    ("mate-backgrounds", "wallpaper"),
    ("ukui-wallpapers", "wallpaper"),
    ("gnome-backgrounds", "wallpaper"),
    ("opencv-doc", "misc"),
    ("libjxl-testdata", "misc"),
    ("gcompris-qt-data", "misc"),
    ("stellarium-data", "misc"),
    ("visp-images-data", "misc"),
    ("python3-skimage", "misc"),
]
MIN_SIZE = {"wallpaper": (1000, 700), "misc": (512, 384)}
# Where to look inside a package (default: everywhere) and what to skip.
# These keep each package to its photographic sample data: skimage's sample
# images, OpenCV's example data (its HTML tutorial figures are mostly
# composites with drawn overlays), Stellarium's landscapes and deep-sky
# photographs (not the constellation artwork or planet maps), and ViSP
# without its synthetic warps / blurs of one picture.
SEARCH_GLOBS = {
    "python3-skimage": ["usr/lib/python3/dist-packages/skimage/data/*"],
    "opencv-doc": ["usr/share/doc/opencv-doc/examples/*"],
    "stellarium-data": ["usr/share/stellarium/landscapes/*", "usr/share/stellarium/nebulae/*"],
}
SKIP_GLOBS = {
    "libjxl-testdata": ["*/jxl/flower/flower_*", "*/jxl/flower/flower.png.*"],
    "visp-images-data": ["*/ViSP-images/warp/*", "*/ViSP-images/Gaussian-filter/*"],
}
# Reviewed by eye (contact sheets of everything the heuristic accepted, 2025):
# renders, illustrations and paintings that pass the photo heuristic.
NOT_PHOTOS = {
    "plasma-workspace-wallpapers": [f"usr/share/wallpapers/{name}/*" for name in (
        "Autumn", "Canopee", "Honeywave", "Kay", "Kokkini", "Opal", "Patak",
        "SafeLanding", "Shell")],
    "mate-backgrounds": ["usr/share/backgrounds/mate/abstract/*",
                         "usr/share/backgrounds/mate/desktop/*"],
    "ukui-wallpapers": ["usr/share/backgrounds/string.jpg"],
    "gnome-backgrounds": [f"usr/share/backgrounds/gnome/{name}-*" for name in (
        "adwaita", "grid", "licorice", "truchet")],
    "opencv-doc": ["*/examples/data/starry_night.jpg", "*/examples/data/pca_test1.jpg",
                   "*/examples/ximgproc/stanford.png"],
    "libjxl-testdata": ["*/external/wide-gamut-tests/*"],
    "gcompris-qt-data": ["*/activities/babyshapes/*", "*/details/resource/image/Van*Gogh*"],
    "visp-images-data": ["*/ViSP-images/Klimt/*"],
}
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".ppm")
CAP_PER_PACKAGE = 100         # at most this many images per package (largest first)
# Tighter caps: gcompris-qt-data is lossy WebP game art and was about half of
# all patch area with the default cap.
CAP_OVERRIDES = {"gcompris-qt-data": 40}
# Patch sampling: each package's share of the patches is its share of the
# train area, capped at this fraction (the excess goes to the other packages
# in proportion to their area).
MAX_PACKAGE_PATCH_SHARE = Fraction(35, 100)

# Photo heuristic thresholds (see README "Photo heuristic").
THUMB = 64
MIN_CHROMA = 3.0              # mean max channel difference over the 64x64 thumbnail
MIN_THUMB_COLOURS = 200       # distinct 6-bit-per-channel colours in the thumbnail
MAX_THUMB_TOP16 = 0.60        # share of thumbnail pixels taken by its 16 commonest colours
MAX_SMOOTH_FRACTION = 0.60    # share of downscaled luma pixels with |4-neighbour Laplacian| <= 1
NEAR_DUP_MAD = 4.0            # mean abs diff of 32x32 luma signatures (0..255)

HELDOUT_W, HELDOUT_H = 768, 512
HELDOUT_FACTOR = 3            # held-out images are always downscaled by 3 ...
HELDOUT_EVERY = 8             # ... and every 8th eligible one is held out,
HELDOUT_MIN = 8               # but at least 8 (a warning is printed below that)


def die(msg):
    """Exit with one clear line."""
    sys.exit(f"build_corpus: error: {msg}")


LOG_STREAM = sys.stdout  # stderr under --list-only, so stdout is pure TSV


def log(msg):
    print(msg, file=LOG_STREAM, flush=True)


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------
# Debian packages: download + extract
# --------------------------------------------------------------------------

def run_cmd(args, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def candidate_version(pkg):
    """Version apt would download for pkg, or None when not available."""
    r = run_cmd(["apt-cache", "policy", pkg])
    m = re.search(r"^\s*Candidate:\s*(\S+)", r.stdout, re.M)
    if r.returncode != 0 or not m or m.group(1) == "(none)":
        return None
    return m.group(1)


def deb_version(deb):
    r = run_cmd(["dpkg-deb", "-f", deb, "Version"])
    return r.stdout.strip() if r.returncode == 0 else None


def find_cached_deb(debdir, pkg, version):
    """A cached .deb of pkg at exactly version, or None."""
    if not os.path.isdir(debdir):
        return None
    for name in sorted(os.listdir(debdir)):
        if name.startswith(pkg + "_") and name.endswith(".deb"):
            path = os.path.join(debdir, name)
            if deb_version(path) == version:
                return path
    return None


def fetch_package(cache, pkg, version):
    """Ensure pkg (at version, or apt's candidate when version is None) is
    downloaded and extracted under cache.  Returns (version, root) or None
    when the package cannot be obtained (a note is printed)."""
    if version is None:
        version = candidate_version(pkg)
        if version is None:
            log(f"  note: {pkg} is not available from apt (apt-cache policy); skipped")
            return None
    debdir = os.path.join(cache, "debs")
    os.makedirs(debdir, exist_ok=True)
    deb = find_cached_deb(debdir, pkg, version)
    if deb is None:
        log(f"  downloading {pkg}={version}")
        r = run_cmd(["apt-get", "download", f"{pkg}={version}"], cwd=debdir)
        deb = find_cached_deb(debdir, pkg, version)
        if r.returncode != 0 or deb is None:
            why = (r.stderr.strip().splitlines() or ["unknown error"])[-1]
            log(f"  note: apt-get download {pkg}={version} failed ({why}); skipped")
            return None
    root = os.path.join(cache, "extract", f"{pkg}_{version.replace(':', '%3a')}")
    stamp = root + ".done"
    if not os.path.exists(stamp):
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(os.path.dirname(root), exist_ok=True)
        r = run_cmd(["dpkg", "-x", deb, root])
        if r.returncode != 0:
            die(f"dpkg -x {deb} failed: {r.stderr.strip()}")
        open(stamp, "w").close()
    return version, root


# --------------------------------------------------------------------------
# Qt resource bundles (.rcc) - gcompris-qt-data keeps its images in them
# --------------------------------------------------------------------------

RCC_COMPRESSED, RCC_DIRECTORY, RCC_ZSTD = 1, 2, 4


def rcc_members(blob):
    """Yield (path, flags, payload) for each file of a Qt .rcc bundle.
    payload is the stored bytes (still compressed when flags say so)."""
    if blob[:4] != b"qres":
        return
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    node_size = 22 if version >= 2 else 14

    def name_at(off):
        (n,) = struct.unpack(">H", blob[names + off:names + off + 2])
        return blob[names + off + 6:names + off + 6 + 2 * n].decode("utf-16-be")

    def walk(index, prefix):
        p = tree + index * node_size
        name_off, flags = struct.unpack(">IH", blob[p:p + 6])
        name = name_at(name_off) if index else ""
        if flags & RCC_DIRECTORY:
            count, first = struct.unpack(">II", blob[p + 6:p + 14])
            for child in range(first, first + count):
                yield from walk(child, prefix + name + "/")
        else:
            (data_off,) = struct.unpack(">I", blob[p + 10:p + 14])
            (size,) = struct.unpack(">I", blob[data + data_off:data + data_off + 4])
            yield prefix + name, flags, blob[data + data_off + 4:data + data_off + 4 + size]

    yield from walk(0, "")


def rcc_payload(flags, payload):
    """Decoded member bytes, or None for zstd members (no stdlib decoder)."""
    if flags & RCC_ZSTD:
        return None
    if flags & RCC_COMPRESSED:
        return zlib.decompress(payload[4:])  # qCompress: 4-byte size + zlib
    return payload


# --------------------------------------------------------------------------
# Candidate files
# --------------------------------------------------------------------------

def is_image_name(name):
    return name.lower().endswith(IMAGE_EXTS)


def iter_package_files(pkg, root):
    """Yield (path-in-package, loader) for every candidate image, sorted.
    Members of .rcc bundles get the path 'BUNDLE.rcc!/member/path'."""
    globs = SEARCH_GLOBS.get(pkg)
    skips = SKIP_GLOBS.get(pkg, [])
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            rel = os.path.relpath(full, root)
            if globs and not any(fnmatch.fnmatch(rel, g) for g in globs):
                continue
            if any(fnmatch.fnmatch(rel, g) for g in skips):
                continue
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            if is_image_name(fn):
                yield rel, (lambda full=full: open(full, "rb").read())
            elif fn.endswith(".rcc"):
                with open(full, "rb") as f:
                    blob = f.read()
                for member, flags, payload in sorted(rcc_members(blob)):
                    if is_image_name(member):
                        yield (f"{rel}!{member}",
                               (lambda flags=flags, payload=payload: rcc_payload(flags, payload)))


def read_package_file(root, path):
    """Bytes of path (possibly 'BUNDLE.rcc!/member') inside an extracted package."""
    bundle, _, member = path.partition("!")
    full = os.path.join(root, bundle)
    if not os.path.isfile(full):
        return None
    with open(full, "rb") as f:
        blob = f.read()
    if not member:
        return blob
    for name, flags, payload in rcc_members(blob):
        if name == member:
            return rcc_payload(flags, payload)
    return None


# --------------------------------------------------------------------------
# Image processing
# --------------------------------------------------------------------------

def decode_rgb(data):
    """(rgb uint8 HxWx3 array, reason).  rgb is None with a reason when the
    file is not an 8-bit opaque RGB image."""
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except Exception as exc:  # corrupt / unsupported file
        return None, f"undecodable ({type(exc).__name__})"
    if getattr(im, "n_frames", 1) > 1:
        return None, "animated"
    if im.mode in ("RGBA", "RGBa"):
        alpha = np.asarray(im.getchannel("A"))
        if alpha.min() < 255:
            return None, "transparent pixels"
        im = im.convert("RGB")
    if im.mode != "RGB":
        return None, f"mode {im.mode}"
    return np.asarray(im, dtype=np.uint8), ""


def downscale_factor(width, height):
    """Integer box factor: ceil(short/700), clamped to 3..8, so the short side
    of the result is <= 700 px (and >= 467 px whenever the source allows)."""
    return min(8, max(3, math.ceil(min(width, height) / 700)))


def box_downscale(rgb, k):
    """Mean of k x k blocks, rounded to nearest (partial edge blocks dropped),
    identical to tools/box_downscale.c."""
    h, w = rgb.shape[0] // k, rgb.shape[1] // k
    blocks = rgb[:h * k, :w * k].reshape(h, k, w, k, rgb.shape[2])
    s = blocks.sum(axis=(1, 3), dtype=np.uint32)
    return ((s + (k * k) // 2) // (k * k)).astype(np.uint8)


def luma(rgb):
    """Integer luma (77R + 150G + 29B + 128) >> 8 of a uint8 [..., 3] array
    (the sum fits in uint16; done in chunks to bound memory)."""
    out = np.empty(rgb.shape[:-1], dtype=np.uint8)
    flat_in, flat_out = rgb.reshape(-1, 3), out.reshape(-1)
    step = 1 << 22
    for i in range(0, flat_in.shape[0], step):
        c = flat_in[i:i + step].astype(np.uint16)
        flat_out[i:i + step] = (77 * c[:, 0] + 150 * c[:, 1] + 29 * c[:, 2] + 128) >> 8
    return out


def thumbnail(rgb, size):
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.BOX), dtype=np.uint8)


def photo_features(rgb, small):
    """Numbers used by looks_like_photo; rgb is the source image, small the
    box-downscaled one."""
    t = thumbnail(rgb, THUMB).astype(np.int32)
    q = t >> 2
    codes = (q[..., 0] << 12) | (q[..., 1] << 6) | q[..., 2]
    _, counts = np.unique(codes, return_counts=True)
    top16 = np.sort(counts)[::-1][:16].sum() / codes.size
    chroma = np.max(np.abs(t - np.roll(t, 1, axis=2)), axis=2).mean()
    y = luma(small).astype(np.int32)
    lap = 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]
    smooth = float(np.mean(np.abs(lap) <= 1))
    return {"colours": int(counts.size), "top16": float(top16), "chroma": float(chroma),
            "smooth": smooth}


def looks_like_photo(f):
    """(ok, reason) for the features of photo_features."""
    if f["chroma"] < MIN_CHROMA:
        return False, f"nearly grey (chroma {f['chroma']:.1f})"
    if f["colours"] < MIN_THUMB_COLOURS:
        return False, f"few colours ({f['colours']})"
    if f["top16"] > MAX_THUMB_TOP16:
        return False, f"dominated by flat colours (top16 {f['top16']:.2f})"
    if f["smooth"] > MAX_SMOOTH_FRACTION:
        return False, f"too smooth to be a photograph (smooth {f['smooth']:.2f})"
    return True, ""


def signature(rgb):
    """32x32 luma thumbnail used for near-duplicate detection."""
    return luma(thumbnail(rgb, 32)).astype(np.float32)


def is_near_duplicate(a, b):
    """Same aspect ratio (2 %) and nearly identical 32x32 luma thumbnails."""
    if abs(a["aspect"] / b["aspect"] - 1) > 0.02:
        return False
    return float(np.abs(a["sig"] - b["sig"]).mean()) < NEAR_DUP_MAD


# --------------------------------------------------------------------------
# Selection (--refresh) and manifest
# --------------------------------------------------------------------------

RENDITION_RE = re.compile(r"^(\d+)x(\d+)\.[a-z]+$", re.I)


def drop_smaller_renditions(paths_sizes):
    """KDE-style wallpapers ship one picture as DIR/WxH.ext in many sizes;
    keep only the largest per directory.  Input/output: list of
    (path, (w, h)) pairs."""
    best = {}
    for path, (w, h) in paths_sizes:
        m = RENDITION_RE.match(os.path.basename(path))
        key = os.path.dirname(path) if m else path
        if key not in best or w * h > best[key][1][0] * best[key][1][1]:
            best[key] = (path, (w, h))
    keep = {p for p, _ in best.values()}
    return [(p, s) for p, s in paths_sizes if p in keep]


def select_package(pkg, version, root, klass, verbose):
    """Run the selection on one extracted package.  Returns one dict per
    accepted photo: its manifest fields plus the pixel hash, 32x32 signature
    and aspect ratio that dedup_and_cap needs."""
    min_w, min_h = MIN_SIZE[klass]
    headers = []
    loaders = {}
    n_files = 0
    for path, loader in iter_package_files(pkg, root):
        n_files += 1
        data = loader()
        if data is None:
            continue  # zstd-compressed rcc member
        try:
            im = Image.open(io.BytesIO(data))
            size = im.size
        except Exception:
            continue
        if max(size) < min_w or min(size) < min_h:
            continue
        headers.append((path, size))
        loaders[path] = loader
    kept = []
    log(f"  {n_files} image files, {len(headers)} at least {min_w}x{min_h}")
    for path, size in drop_smaller_renditions(headers):
        if any(fnmatch.fnmatch(path, g) for g in NOT_PHOTOS.get(pkg, [])):
            if verbose:
                log(f"    skip {path}: reviewed, not a photograph")
            continue
        data = loaders[path]()
        rgb, why = decode_rgb(data)
        if rgb is None:
            if verbose:
                log(f"    skip {path}: {why}")
            continue
        k = downscale_factor(rgb.shape[1], rgb.shape[0])
        small = box_downscale(rgb, k)
        ok, why = looks_like_photo(photo_features(rgb, small))
        if not ok:
            if verbose:
                log(f"    skip {path}: {why}")
            continue
        kept.append({"package": pkg, "version": version, "path": path,
                     "sha256": sha256_bytes(data), "width": rgb.shape[1], "height": rgb.shape[0],
                     "factor": k, "pixels": hashlib.sha256(rgb.tobytes()).hexdigest(),
                     "sig": signature(rgb), "aspect": rgb.shape[1] / rgb.shape[0],
                     "lossless": not path.lower().endswith((".jpg", ".jpeg", ".webp"))})
        if verbose:
            log(f"    keep {path} {rgb.shape[1]}x{rgb.shape[0]} /{k}")
    return kept


def dedup_and_cap(kept):
    """Drop pixel duplicates and near duplicates (preferring larger, then
    lossless, then earlier path), then cap each package at CAP_PER_PACKAGE
    images, or its CAP_OVERRIDES entry (largest first)."""
    order = sorted(kept, key=lambda r: (-r["width"] * r["height"], not r["lossless"],
                                        r["package"], r["path"]))
    out, seen = [], set()
    for r in order:
        if r["pixels"] in seen or any(is_near_duplicate(r, o) for o in out):
            continue
        seen.add(r["pixels"])
        out.append(r)
    per_pkg = {}
    capped = []
    for r in out:
        per_pkg[r["package"]] = per_pkg.get(r["package"], 0) + 1
        if per_pkg[r["package"]] <= CAP_OVERRIDES.get(r["package"], CAP_PER_PACKAGE):
            capped.append(r)
    return capped


def heldout_eligible(r):
    """An image of any package can be held out if it is landscape and gives a
    768x512 crop after downscaling by HELDOUT_FACTOR (3), i.e. it is at least
    2304x1536."""
    return (r["width"] >= r["height"]
            and r["width"] // HELDOUT_FACTOR >= HELDOUT_W
            and r["height"] // HELDOUT_FACTOR >= HELDOUT_H)


def assign_split(rows):
    """Of the eligible images (heldout_eligible), sorted by sha256, every 8th
    is held out, but at least 8: n = max(8, ceil(E/8)) (at most E) evenly
    spaced picks, index floor(i*E/n).  Held-out images get factor 3 (their
    train factor may be larger); all other images are train."""
    for r in rows:
        r["split"] = "train"
    eligible = sorted((r for r in rows if heldout_eligible(r)), key=lambda r: r["sha256"])
    n = min(len(eligible), max(HELDOUT_MIN, math.ceil(len(eligible) / HELDOUT_EVERY)))
    for i in range(n):
        r = eligible[(i * len(eligible)) // n]
        r["split"] = "heldout"
        r["factor"] = HELDOUT_FACTOR
    log(f"held-out: {n} of {len(eligible)} eligible images (landscape, >= "
        f"{HELDOUT_W * HELDOUT_FACTOR}x{HELDOUT_H * HELDOUT_FACTOR})")
    if n < HELDOUT_MIN:
        log(f"  warning: only {n} images are large enough for the held-out set "
            f"(wanted at least {HELDOUT_MIN})")


def write_manifest(rows, path):
    rows = sorted(rows, key=lambda r: (r["package"], r["path"]))
    with open(path, "w", encoding="utf-8") as f:
        f.write("# idfzip training corpus manifest - written by tools/corpus/build_corpus.py --refresh\n")
        caps = " ".join(f"{p}={c}" for p, c in sorted(CAP_OVERRIDES.items()))
        f.write(f"# cap_per_package={CAP_PER_PACKAGE} ({caps})  heldout={HELDOUT_W}x{HELDOUT_H} "
                f"centre crop at factor {HELDOUT_FACTOR}\n")
        f.write("\t".join(MANIFEST_COLUMNS) + "\n")
        for r in rows:
            f.write("\t".join(str(r[c]) for c in MANIFEST_COLUMNS) + "\n")


def read_manifest(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            if fields == MANIFEST_COLUMNS:
                continue
            if len(fields) != len(MANIFEST_COLUMNS):
                die(f"{path}:{lineno}: expected {len(MANIFEST_COLUMNS)} tab-separated fields")
            r = dict(zip(MANIFEST_COLUMNS, fields))
            for c in ("width", "height", "factor"):
                r[c] = int(r[c])
            if r["split"] not in ("train", "heldout") or not 3 <= r["factor"] <= 8 or (
                    r["split"] == "heldout" and r["factor"] != HELDOUT_FACTOR):
                die(f"{path}:{lineno}: bad split or factor")
            rows.append(r)
    if not rows:
        die(f"{path} lists no images")
    return rows


# --------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------

NAME_STOPWORDS = {"usr", "share", "lib", "doc", "contents", "images", "image", "resource",
                  "backgrounds", "wallpapers", "default", "data", "examples"}


def output_name(r):
    """Stable file name: package, the last two informative path components,
    sha256 prefix (e.g. plasma-workspace-wallpapers_Path-2560x1600_7477457d)."""
    parts = [os.path.splitext(p)[0] for p in r["path"].replace("!", "/").split("/") if p]
    parts = [p for p in parts if p.lower() not in NAME_STOPWORDS][-2:]
    slug = re.sub(r"[^A-Za-z0-9]+", "-", "-".join(parts)).strip("-")[:48]
    return f"{r['package']}_{slug}_{r['sha256'][:8]}"


def centre_crop(img, w, h):
    y0 = (img.shape[0] - h) // 2
    x0 = (img.shape[1] - w) // 2
    return img[y0:y0 + h, x0:x0 + w]


def save_png(arr, path):
    Image.fromarray(arr).save(path, format="PNG", optimize=False, compress_level=9)


def package_shares(areas, cap=MAX_PACKAGE_PATCH_SHARE):
    """Exact share of the patches for each package (dict package -> Fraction):
    its share of the train area, but at most cap; what capped packages give
    up is spread over the others in proportion to their area, repeatedly
    until no package is above cap.  With too few packages for the cap
    (len * cap < 1) every package gets an equal share."""
    pkgs = sorted(areas)
    if len(pkgs) * cap < 1:
        log(f"  warning: {len(pkgs)} package(s) cannot respect the {float(cap):.0%} "
            "patch cap; equal shares used")
        return {p: Fraction(1, len(pkgs)) for p in pkgs}
    capped = set()
    while True:
        free = [p for p in pkgs if p not in capped]
        rest = 1 - cap * len(capped)
        total = sum(areas[p] for p in free)
        shares = {p: rest * Fraction(areas[p], total) for p in free}
        over = [p for p in free if shares[p] > cap]
        if not over:
            shares.update({p: cap for p in capped})
            return shares
        capped.update(over)


def patch_quotas(shares, count):
    """Integer patch counts from exact shares (largest remainder; ties go to
    the package that sorts first).  They sum to count."""
    quota = {p: math.floor(s * count) for p, s in shares.items()}
    left = count - sum(quota.values())
    by_remainder = sorted(shares, key=lambda p: (-(shares[p] * count - quota[p]), p))
    for p in by_remainder[:left]:
        quota[p] += 1
    return quota


def sample_patches(images, patch, count, seed):
    """count patches of patch x patch from images (list of (package, HxWx3
    array)).  Each package gets patch_quotas(package_shares(...)) patches;
    the package of each patch comes from a shuffled list of those labels, the
    image within the package is chosen with probability proportional to its
    area, and the top-left corner is uniform.  Uses random.Random(seed),
    stable across Python versions.  Returns (patches, quotas, areas)."""
    by_pkg = {}
    for pkg, im in images:
        if im.shape[0] >= patch and im.shape[1] >= patch:
            by_pkg.setdefault(pkg, []).append(im)
    if not by_pkg:
        die(f"no train image is at least {patch}x{patch}")
    cums, areas = {}, {}
    for pkg, ims in by_pkg.items():
        cum, total = [], 0
        for im in ims:
            total += im.shape[0] * im.shape[1]
            cum.append(total)
        cums[pkg], areas[pkg] = cum, total
    quotas = patch_quotas(package_shares(areas), count)
    labels = [p for p in sorted(quotas) for _ in range(quotas[p])]
    rng = random.Random(seed)
    rng.shuffle(labels)
    out = np.empty((count, patch, patch, 3), dtype=np.uint8)
    for i, pkg in enumerate(labels):
        cum = cums[pkg]
        im = by_pkg[pkg][bisect.bisect_right(cum, rng.randrange(cum[-1]))]
        y = rng.randrange(im.shape[0] - patch + 1)
        x = rng.randrange(im.shape[1] - patch + 1)
        out[i] = im[y:y + patch, x:x + patch]
    return out, quotas, areas


def write_sha256sums(out):
    lines = []
    for dirpath, dirnames, filenames in os.walk(out):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            rel = os.path.relpath(full, out)
            if rel != "SHA256SUMS":
                lines.append(f"{sha256_file(full)}  {rel}\n")
    lines.sort(key=lambda s: s[66:])
    with open(os.path.join(out, "SHA256SUMS"), "w") as f:
        f.writelines(lines)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def build_selection(cache, verbose):
    """--refresh: fetch every package, select, dedup, split."""
    kept, versions = [], {}
    for pkg, klass in PACKAGES:
        log(f"{pkg}:")
        got = fetch_package(cache, pkg, None)
        if got is None:
            continue
        version, root = got
        versions[pkg] = version
        rows = select_package(pkg, version, root, klass, verbose)
        log(f"  {len(rows)} photo candidates")
        kept.extend(rows)
    rows = dedup_and_cap(kept)
    assign_split(rows)
    return rows


def iter_pinned(rows, cache):
    """Yield (row, rgb) for every manifest row: fetch the pinned package
    version, read the file, verify its sha256 and decode it."""
    roots = {}
    for r in rows:
        key = (r["package"], r["version"])
        if key not in roots:
            got = fetch_package(cache, *key)
            if got is None:
                die(f"manifest needs {key[0]}={key[1]}, which apt cannot provide "
                    "(rebuild the manifest with --refresh)")
            roots[key] = got[1]
        data = read_package_file(roots[key], r["path"])
        if data is None:
            die(f"{r['package']}={r['version']} has no file {r['path']}")
        digest = sha256_bytes(data)
        if digest != r["sha256"]:
            die(f"sha256 mismatch for {r['package']}:{r['path']} "
                f"(manifest {r['sha256'][:16]}..., file {digest[:16]}...)")
        rgb, why = decode_rgb(data)
        if rgb is None or (rgb.shape[1], rgb.shape[0]) != (r["width"], r["height"]):
            die(f"{r['package']}:{r['path']} does not decode to {r['width']}x{r['height']} RGB "
                f"({why or 'size differs'})")
        yield r, rgb


def clean_outputs(out):
    """Remove what a previous run wrote (and nothing else) from out."""
    for sub in ("train", "heldout"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
    for fn in ("SHA256SUMS", "train_rgb.npy", "train_grey.npy", "images.tsv"):
        if os.path.exists(os.path.join(out, fn)):
            os.remove(os.path.join(out, fn))
    for sub in ("train", "heldout"):
        os.makedirs(os.path.join(out, sub))


def write_images(rows, cache, out):
    """Downscale every pinned image; write train PNGs and held-out crops.
    Returns (train images, stats dict)."""
    train, index = [], ["name\tsplit\tpackage\tversion\tpath\tfactor\twidth\theight\n"]
    stats = {"per_pkg": {}, "held_n": 0, "held_bytes": 0, "train_px": 0, "held_px": 0}
    for r, rgb in iter_pinned(rows, cache):
        small = box_downscale(rgb, r["factor"])
        del rgb
        name = output_name(r)
        if r["split"] == "heldout":
            if small.shape[1] < HELDOUT_W or small.shape[0] < HELDOUT_H:
                die(f"held-out image {r['path']} is smaller than {HELDOUT_W}x{HELDOUT_H} "
                    f"after /{r['factor']}")
            small = centre_crop(small, HELDOUT_W, HELDOUT_H)
            path = os.path.join(out, "heldout", name + ".png")
            save_png(small, path)
            stats["held_n"] += 1
            stats["held_bytes"] += os.path.getsize(path)
            stats["held_px"] += small.shape[0] * small.shape[1]
        else:
            save_png(small, os.path.join(out, "train", name + ".png"))
            train.append((r["package"], small))
            stats["train_px"] += small.shape[0] * small.shape[1]
        counts = stats["per_pkg"].setdefault(r["package"], [0, 0])
        counts[r["split"] == "heldout"] += 1
        index.append(f"{name}\t{r['split']}\t{r['package']}\t{r['version']}\t{r['path']}\t"
                     f"{r['factor']}\t{small.shape[1]}\t{small.shape[0]}\n")
    with open(os.path.join(out, "images.tsv"), "w", encoding="utf-8") as f:
        f.writelines(index)
    return train, stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "corpus"),
                    help="output directory (default: corpus/ in the repository)")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/idfzip-corpus"),
                    help="where .debs are downloaded and extracted (default ~/.cache/idfzip-corpus)")
    ap.add_argument("--patch", type=int, default=64, help="patch size (default 64)")
    ap.add_argument("--count", type=int, default=60000, help="number of patches (default 60000)")
    ap.add_argument("--seed", type=int, default=1, help="patch sampler seed (default 1)")
    ap.add_argument("--refresh", action="store_true",
                    help="redo the selection and rewrite tools/corpus/manifest.tsv")
    ap.add_argument("--list-only", action="store_true",
                    help="print the selection (pinned, or fresh with --refresh) and stop; writes nothing")
    ap.add_argument("--verbose", action="store_true",
                    help="during selection, say why each candidate is kept or skipped")
    args = ap.parse_args()
    if args.patch < 8 or args.count < 1:
        die("--patch must be >= 8 and --count >= 1")
    for tool in ("apt-get", "apt-cache", "dpkg", "dpkg-deb"):
        if shutil.which(tool) is None:
            die(f"{tool} not found (this script needs a Debian system)")

    global LOG_STREAM
    if args.list_only:
        LOG_STREAM = sys.stderr
    t0 = time.time()
    os.makedirs(args.cache, exist_ok=True)
    if args.refresh or not os.path.exists(MANIFEST):
        log("selecting images (no manifest, or --refresh)")
        rows = build_selection(args.cache, args.verbose)
        if not rows:
            die("no image was selected")
        if not args.list_only:
            write_manifest(rows, MANIFEST)
            log(f"wrote {MANIFEST} ({len(rows)} images)")
            rows = read_manifest(MANIFEST)
    else:
        rows = read_manifest(MANIFEST)
        log(f"using the pinned selection {MANIFEST} ({len(rows)} images)")
    rows.sort(key=lambda r: (r["package"], r["path"]))

    if args.list_only:
        print("\t".join(MANIFEST_COLUMNS))
        for r in rows:
            print("\t".join(str(r[c]) for c in MANIFEST_COLUMNS))
        return

    clean_outputs(args.out)
    train, st = write_images(rows, args.cache, args.out)
    log(f"sampling {args.count} patches of {args.patch}x{args.patch} (seed {args.seed})")
    patches, quotas, areas = sample_patches(train, args.patch, args.count, args.seed)
    del train
    np.save(os.path.join(args.out, "train_rgb.npy"), patches)
    np.save(os.path.join(args.out, "train_grey.npy"), luma(patches))
    del patches
    write_sha256sums(args.out)

    log("")
    total_area = sum(areas.values())
    log(f"{'package':<30} {'train':>6} {'heldout':>8} {'area%':>6} {'patches':>8} {'patch%':>7}")
    for pkg, (tr, he) in sorted(st["per_pkg"].items()):
        q = quotas.get(pkg, 0)
        log(f"{pkg:<30} {tr:>6} {he:>8} {100 * areas.get(pkg, 0) / total_area:>6.1f} "
            f"{q:>8} {100 * q / args.count:>7.2f}")
    n_train = sum(tr for tr, _ in st["per_pkg"].values())
    log(f"images: {n_train} train, {st['held_n']} held-out")
    log(f"pixels after downscaling: {st['train_px']} train, {st['held_px']} held-out")
    log(f"held-out PNGs: {st['held_bytes']} bytes")
    log(f"patches: {args.count} x {args.patch}x{args.patch} (seed {args.seed})")
    log(f"sha256(train_rgb.npy) = {sha256_file(os.path.join(args.out, 'train_rgb.npy'))}")
    log(f"output: {args.out}  ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
