#!/usr/bin/env python3
"""pack_corpus.py CORPUS OUT.npz -- pack the train and held-out images of a
corpus built by tools/corpus/build_corpus.py into one compressed .npz that
needs only numpy to read, so the trainer can run on a machine without
network access or PIL (a rented GPU):

    /usr/bin/python3 tools/train/pack_corpus.py corpus corpus/pack.npz
    python3 tools/train/train.py ... --data corpus/pack.npz --val corpus/pack.npz

train.py then cuts fresh random crops from the whole train images instead of
reading the fixed patch array (train_rgb.npy, 700 MB; the pack is ~40 MB).
Each image carries its sampling weight: its package's share of the patches
(build_corpus.package_shares, the same 35% cap) times its share of the
package's area -- the distribution train_rgb.npy was drawn from.

Pixels are stored as differences to the left neighbour (mod 256) before
deflate, which is about what PNG's Sub filter gains; unpack_images() undoes
it with a wrapping cumulative sum.
"""
import csv
import os
import sys
from fractions import Fraction

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def left_differences(a):
    d = a.copy()
    d[:, 1:] = a[:, 1:] - a[:, :-1]          # uint8 arithmetic wraps mod 256
    return d


def pack_group(arrays):
    shapes = np.array([a.shape for a in arrays], dtype=np.int64)
    flat = np.concatenate([left_differences(a).ravel() for a in arrays]) if arrays else np.zeros(0, np.uint8)
    return shapes, flat


def unpack_images(shapes, flat):
    """Inverse of pack_group: a list of HxWxC uint8 arrays."""
    out, pos = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        d = flat[pos:pos + n].reshape(shape)
        out.append(np.cumsum(d, axis=1, dtype=np.uint8))
        pos += n
    return out


def read_png(path):
    from PIL import Image   # only for packing: train.py reads packs with numpy alone
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    corpus, out = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.path.join(HERE, "..", "corpus"))
    from build_corpus import package_shares
    rows = list(csv.DictReader(open(os.path.join(corpus, "images.tsv")), delimiter="\t"))
    train = [r for r in rows if r["split"] == "train"]
    images = [read_png(os.path.join(corpus, "train", r["name"] + ".png")) for r in train]
    areas = {}
    for r, im in zip(train, images):
        areas[r["package"]] = areas.get(r["package"], 0) + im.shape[0] * im.shape[1]
    shares = package_shares(areas)
    weights = np.array([float(shares[r["package"]] * Fraction(im.shape[0] * im.shape[1], areas[r["package"]]))
                        for r, im in zip(train, images)])
    held_dir = os.path.join(corpus, "heldout")
    held = [read_png(os.path.join(held_dir, n)) for n in sorted(os.listdir(held_dir))]
    ts, tf = pack_group(images)
    hs, hf = pack_group(held)
    tmp = out + ".tmp.npz"
    np.savez_compressed(tmp, train_shapes=ts, train_pixels=tf, train_weights=weights,
                        heldout_shapes=hs, heldout_pixels=hf)
    os.replace(tmp, out)
    print("pack: %d train images (%.1f Mpx), %d held-out -> %s (%.1f MB)" % (
        len(images), tf.size / 3e6, len(held), out, os.path.getsize(out) / 1e6))


if __name__ == "__main__":
    main()
