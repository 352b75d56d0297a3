#!/usr/bin/env python3
"""test_trainer.py BUILDDIR -- train.py's plumbing, fast: the corpus pack
round trip, training from a pack, SIGTERM -> checkpoint -> --resume, and an
exported model that idfzip codes losslessly.  (test_export.py checks the
arithmetic.)  Prints "trainer: N passed, N failed"."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pack_corpus import pack_group, unpack_images  # noqa: E402
import test_export  # noqa: E402  (its check() counts; png_bytes)
from test_export import check, png_bytes, smooth_images  # noqa: E402

CFG = {"name": "test-pack", "channels": 3, "bit_depth": 8, "maxval": 255, "tile": [16, 16],
       "initial_squeezes": 0, "width": 8, "hidden": 1, "kernel": 3, "act": "relu", "perm": "shuffle",
       "levels": [{"squeeze": 1, "factor_out": 1, "couplings": 1, "kind": 4},
                  {"squeeze": 1, "factor_out": 0, "couplings": 1, "kind": 2}]}


def smooth_image(rng, h, w):
    return smooth_images(1, h, w, 3, 255, int(rng.integers(1 << 30)))[0]


def write_pack(path, rng):
    train = [smooth_image(rng, 40 + 7 * i, 50 + 5 * i) for i in range(4)] + [smooth_image(rng, 10, 90)]
    held = [smooth_image(rng, 32, 48)]
    ts, tf = pack_group(train)
    hs, hf = pack_group(held)
    np.savez_compressed(path, train_shapes=ts, train_pixels=tf, train_weights=np.full(len(train), 0.2),
                        heldout_shapes=hs, heldout_pixels=hf)
    return train, held


def train_cmd(tmp, extra):
    return [sys.executable, os.path.join(HERE, "train.py"), "--config", os.path.join(tmp, "cfg.json"),
            "--data", os.path.join(tmp, "pack.npz"), "--val", os.path.join(tmp, "pack.npz"),
            "--val-images", "1", "--out", os.path.join(tmp, "run"), "--batch", "2", "--threads", "1"] + extra


def test_pack_round_trip(tmp, rng):
    train, held = write_pack(os.path.join(tmp, "pack.npz"), rng)
    z = np.load(os.path.join(tmp, "pack.npz"))
    back = unpack_images(z["train_shapes"], z["train_pixels"])
    check(len(back) == len(train) and all(np.array_equal(a, b) for a, b in zip(train, back)),
          "pack: train images round trip")
    back = unpack_images(z["heldout_shapes"], z["heldout_pixels"])
    check(np.array_equal(back[0], held[0]), "pack: held-out image round trips")


def test_sigterm_and_resume(tmp):
    log = os.path.join(tmp, "run", "log.csv")
    p = subprocess.Popen(train_cmd(tmp, ["--minutes", "10"]), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    t0 = time.time()
    while not os.path.exists(log) and p.poll() is None and time.time() - t0 < 120:
        time.sleep(0.2)
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    out = p.communicate(timeout=120)[0].decode()
    check(p.returncode != 0 and "stopped by SIGTERM" in out, "SIGTERM stops with a message: " + out[-300:])
    check(os.path.exists(os.path.join(tmp, "run", "ckpt.pt")), "SIGTERM writes a checkpoint")
    model = os.path.join(tmp, "m.idfw")
    r = subprocess.run(train_cmd(tmp, ["--resume", "--steps", "1", "--qat-steps", "2", "--export", model]),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = r.stdout.decode()
    check(r.returncode == 0 and "resumed at step" in out and os.path.exists(model), "resume + export: " + out[-300:])
    return model


def test_codes(build, tmp, model, rng):
    img = smooth_image(rng, 37, 45)
    src, idf_path, back = (os.path.join(tmp, n) for n in ("x.png", "x.idf", "y.png"))
    open(src, "wb").write(png_bytes(img))
    cli = os.path.join(build, "idfzip")
    r1 = subprocess.run([cli, "compress", "-q", "-f", "--model", model, src, "-o", idf_path])
    r2 = subprocess.run([cli, "decompress", "-q", "-f", "--model", model, idf_path, "-o", back])
    check(r1.returncode == 0 and r2.returncode == 0, "idfzip codes with the trained model")
    r3 = subprocess.run([os.path.join(build, "tests", "pngcmp"), src, back])
    check(r3.returncode == 0, "pixels survive the trained model")


def main():
    build = sys.argv[1]
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        json.dump(CFG, open(os.path.join(tmp, "cfg.json"), "w"))
        test_pack_round_trip(tmp, rng)
        model = test_sigterm_and_resume(tmp)
        if os.path.exists(model):
            test_codes(build, tmp, model, rng)
    print("trainer: %d passed, %d failed" % (test_export.passed, test_export.failed))
    sys.exit(1 if test_export.failed else 0)


if __name__ == "__main__":
    main()
