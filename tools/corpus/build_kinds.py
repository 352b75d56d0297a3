#!/usr/bin/env python3
"""build_kinds.py: the corpora of the kinds of PNG besides photographs.

Builds corpus/kinds/KIND/{train,heldout}/ from Debian packages, each PNG
byte for byte as the package ships it (what a user has), and
corpus/kinds/small/heldout/ from 32x32 crops of the photo corpus's held-out
split (tools/corpus/build_corpus.py must have run first):

  screen   screenshots and figures: kicad-doc-en, gnucash-docs
  icons    icons with alpha (the largest rendition of each, 48 to 256 px):
           mate-icon-theme, faenza-icon-theme
  sprites  palette images: freeciv-data, frozen-bubble-data, openttd-opengfx
  small    32x32 RGB crops of the held-out photos (seeded positions)

    /usr/bin/python3 tools/corpus/build_kinds.py             # from the pinned manifest
    /usr/bin/python3 tools/corpus/build_kinds.py --refresh   # select again, rewrite it

The selection is pinned in tools/corpus/kinds_manifest.tsv (package,
version, path, sha256 of the file, size, colour type, split); a run from the
manifest checks every sha256 and stops at the first mismatch.  Candidates
are taken in the order of their sha256, a quarter of them held out (every
fourth), at most CAP per package.  OUT/SHA256SUMS covers every output.
Needs python3-numpy and python3-pil (the crops); downloads with
`apt-get download` into the cache of build_corpus.py, never installs.
"""
import argparse
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_corpus as bc  # noqa: E402  (fetch, walk and hash helpers)

MANIFEST = os.path.join(bc.REPO_ROOT, "tools", "corpus", "kinds_manifest.tsv")
COLUMNS = ["kind", "package", "version", "path", "sha256", "width", "height", "color", "split"]
PACKAGES = {
    "screen": ["kicad-doc-en", "gnucash-docs"],
    "icons": ["mate-icon-theme", "faenza-icon-theme"],
    "sprites": ["freeciv-data", "frozen-bubble-data", "openttd-opengfx"],
}
CAP = {"screen": 40, "icons": 32, "sprites": 32}  # per package
HELDOUT_EVERY = 4
SMALL_COUNT, SMALL_SIZE, SMALL_SEED = 300, 32, 1


def png_header(data):
    """(width, height, bit depth, colour type) of a PNG, or None."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    w, h, depth, color = struct.unpack(">IIBB", data[16:26])
    return w, h, depth, color


def wanted(kind, w, h, depth, color):
    if kind == "screen":
        return 150 * 100 <= w * h <= 1_500_000 and min(w, h) >= 64
    if kind == "icons":
        return color in (4, 6) and depth == 8 and w == h and 48 <= w <= 256
    return color == 3 and w * h >= 32 * 32  # sprites


def icon_key(path):
    """Icons come in several renditions of one name: keep the largest."""
    return os.path.splitext(os.path.basename(path))[0]


def select(kind, pkg, cache):
    got = bc.fetch_package(cache, pkg, None)
    if got is None:
        return []
    version, root = got
    found, seen = {}, set()
    for path, load in bc.iter_package_files(pkg, root):
        if not path.lower().endswith(".png"):
            continue
        data = load()
        head = png_header(data)
        if head is None or not wanted(kind, *head):
            continue
        digest = bc.sha256_bytes(data)
        if digest in seen:
            continue
        seen.add(digest)
        row = {"kind": kind, "package": pkg, "version": version, "path": path, "sha256": digest,
               "width": head[0], "height": head[1], "color": head[3]}
        key = icon_key(path) if kind == "icons" else path
        if key not in found or row["width"] > found[key]["width"]:
            found[key] = row
    rows = sorted(found.values(), key=lambda r: r["sha256"])[:CAP[kind]]
    for i, r in enumerate(rows):
        r["split"] = "heldout" if i % HELDOUT_EVERY == 0 else "train"
    bc.log(f"  {kind:8s} {pkg:22s} {len(rows):3d} of {len(found)} candidates")
    return rows


def write_manifest(rows):
    with open(MANIFEST, "w") as f:
        f.write("# idfzip corpora of other kinds of PNG - written by tools/corpus/build_kinds.py --refresh\n")
        f.write("\t".join(COLUMNS) + "\n")
        for r in rows:
            f.write("\t".join(str(r[c]) for c in COLUMNS) + "\n")


def read_manifest():
    if not os.path.exists(MANIFEST):
        bc.die(f"{MANIFEST} is missing: run with --refresh")
    rows = []
    with open(MANIFEST) as f:
        lines = [ln.rstrip("\n") for ln in f if not ln.startswith("#")]
    for ln in lines[1:]:
        rows.append(dict(zip(COLUMNS, ln.split("\t"))))
    return rows


def output_name(r):
    base = os.path.splitext(os.path.basename(r["path"]))[0]
    return f"{r['package']}_{base}_{r['sha256'][:8]}.png"


def write_files(rows, out, cache):
    roots = {}
    for r in rows:
        key = (r["package"], r["version"])
        if key not in roots:
            got = bc.fetch_package(cache, r["package"], r["version"])
            if got is None:
                bc.die(f"{r['package']}={r['version']} cannot be downloaded")
            roots[key] = got[1]
        data = bc.read_package_file(roots[key], r["path"])
        if data is None or bc.sha256_bytes(data) != r["sha256"]:
            bc.die(f"{r['package']}: {r['path']} is missing or its sha256 differs")
        folder = os.path.join(out, r["kind"], r["split"])
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, output_name(r)), "wb") as f:
            f.write(data)


def write_small(out):
    """32x32 crops of the photo corpus's held-out split, seeded positions."""
    import numpy as np
    from PIL import Image
    src = os.path.join(bc.REPO_ROOT, "corpus", "heldout")
    photos = sorted(p for p in os.listdir(src) if p.endswith(".png")) if os.path.isdir(src) else []
    if not photos:
        bc.die("corpus/heldout is empty: run tools/corpus/build_corpus.py first")
    rng = random.Random(SMALL_SEED)
    folder = os.path.join(out, "small", "heldout")
    os.makedirs(folder, exist_ok=True)
    images = [np.asarray(Image.open(os.path.join(src, p)).convert("RGB")) for p in photos]
    for i in range(SMALL_COUNT):
        k = rng.randrange(len(images))
        h, w = images[k].shape[:2]
        y, x = rng.randrange(h - SMALL_SIZE + 1), rng.randrange(w - SMALL_SIZE + 1)
        crop = images[k][y:y + SMALL_SIZE, x:x + SMALL_SIZE]
        Image.fromarray(crop).save(os.path.join(folder, f"crop_{i:04d}.png"), optimize=False,
                                   compress_level=9)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(bc.REPO_ROOT, "corpus", "kinds"))
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/idfzip-corpus"))
    ap.add_argument("--refresh", action="store_true", help="select again and rewrite the manifest")
    a = ap.parse_args()
    if a.refresh:
        rows = [r for kind, pkgs in PACKAGES.items() for pkg in pkgs for r in select(kind, pkg, a.cache)]
        write_manifest(rows)
    rows = read_manifest()
    write_files(rows, a.out, a.cache)
    write_small(a.out)
    bc.write_sha256sums(a.out)
    for kind in list(PACKAGES) + ["small"]:
        for split in ("train", "heldout"):
            d = os.path.join(a.out, kind, split)
            n = len(os.listdir(d)) if os.path.isdir(d) else 0
            if n:
                bc.log(f"{kind:8s} {split:8s} {n:4d} images")


if __name__ == "__main__":
    main()
