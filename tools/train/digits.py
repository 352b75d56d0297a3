#!/usr/bin/env python3
"""digits.py -- Tomczak's 8x8 digits experiment (Deep Generative Modeling,
ch. 3) through idfzip's trainer and codec.

    /usr/bin/python3 tools/train/digits.py train tools/train/configs/digits-bipartite.json \
        --out runs/digits-bipartite --export weights/digits-bipartite.idfw
    /usr/bin/python3 tools/train/digits.py report --build build \
        weights/digits-bipartite.idfw:tools/train/configs/digits-bipartite.json ...

Data: scikit-learn's load_digits (Debian's python3-sklearn, offline):
1797 images of 8x8, values 0..16, split in order 1000 train / 350
validation / 447 test (digits[1350:]).  Training follows the book: Adamax,
lr 1e-3, batch 64, early stopping on the validation NLL (patience 20
epochs), then a short quantisation-aware phase through the exact integer
emulation; the export is what idfzip codes with.

`report` writes docs/digits-test.png (the 447 test digits stacked, 8 wide),
measures real .idf sizes with the idfzip CLI, PNG and JPEG XL (where cjxl
is installed), the order-0 and per-position entropies, prints a markdown
table and draws docs/digits-samples.png (real digits, then samples of each
model drawn from its prior and decoded through the exact inverse).
"""
import argparse
import copy
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idf  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def load_split():
    from sklearn.datasets import load_digits
    x = load_digits().data.astype(np.int64).reshape(-1, 1, 8, 8)
    return x[:1000], x[1000:1350], x[1350:]


@torch.no_grad()
def nll(model, x, exact):
    bits, _ = model(torch.from_numpy(x).float(), exact=exact)
    return float(bits.mean())


def train(args):
    cfg = json.load(open(args.config))
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    tr, va, _ = load_split()
    model = idf.Flow(cfg)
    if args.prior_warmup:
        warm_up_priors(model, tr, args.prior_warmup)
    opt = torch.optim.Adamax(model.parameters(), lr=args.lr)
    best, best_state, bad, epoch = float("inf"), None, 0, 0
    g = np.random.default_rng(args.seed)
    t0 = time.time()
    log = []
    while epoch < args.max_epochs and bad < args.patience:
        order = g.permutation(len(tr))
        for k in range(0, len(tr), args.batch):
            xb = torch.from_numpy(tr[order[k:k + args.batch]]).float()
            bits, _ = model(xb)
            opt.zero_grad()
            bits.mean().backward()
            opt.step()
        epoch += 1
        v = nll(model, va, False)
        log.append((epoch, v))
        if v < best:
            best, best_state, bad = v, copy.deepcopy(model.state_dict()), 0
        else:
            bad += 1
        if epoch % 10 == 0:
            print("epoch %d  val %.4f bits/dim  best %.4f  %.0f s" % (epoch, v, best, time.time() - t0), flush=True)
    model.load_state_dict(best_state)
    print("float phase: %d epochs, best val %.4f bits/dim, %.0f s" % (epoch, best, time.time() - t0), flush=True)
    qat(model, tr, va, args)
    os.makedirs(args.out, exist_ok=True)
    torch.save({"model": model.state_dict(), "config": cfg, "log": log}, os.path.join(args.out, "model.pt"))
    with open(args.export, "wb") as f:
        f.write(idf.export_idfw(model))
    print("exported %s: val %.4f bits/dim exact, train time %.0f s" % (args.export, nll(model, va, True), time.time() - t0))


def warm_up_priors(model, tr, steps):
    """Data-dependent initialisation: fit only the priors (top mixture and
    factor-out nets) to the training set while the couplings are still the
    identity (their last layers start at zero), full batch, Adam lr 0.02.
    A mixture prior then starts at the per-dimension marginals instead of
    spending the early-stopping budget getting there."""
    params = [p for n, p in model.named_parameters() if not n.startswith("levels.")]
    opt = torch.optim.Adam(params, lr=0.02)
    x = torch.from_numpy(tr).float()
    couplings = [c for level in model.levels for c in level]
    for c in couplings:  # identity now anyway: skip their nets
        c.forward = lambda y, exact, sign=1: y
    for _ in range(steps):
        bits, _ = model(x)
        opt.zero_grad()
        bits.mean().backward()
        opt.step()
    for c in couplings:
        del c.forward
    print("prior warm-up: %d steps, train %.4f bits/dim" % (steps, float(bits.mean())), flush=True)


def qat(model, tr, va, args):
    """Quantisation-aware fine-tuning through the exact integer emulation."""
    opt = torch.optim.Adamax(model.parameters(), lr=args.lr * 0.1)
    best, best_state = nll(model, va, True), copy.deepcopy(model.state_dict())
    g = np.random.default_rng(args.seed + 1)
    for epoch in range(args.qat_epochs):
        order = g.permutation(len(tr))
        for k in range(0, len(tr), args.batch):
            bits, _ = model(torch.from_numpy(tr[order[k:k + args.batch]]).float(), exact=True)
            opt.zero_grad()
            bits.mean().backward()
            opt.step()
        v = nll(model, va, True)
        if v < best:
            best, best_state = v, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    print("qat phase: %d epochs, best val %.4f bits/dim exact" % (args.qat_epochs, best), flush=True)


# --------------------------------------------------------------------------
# report


def png_bytes(a):
    """Grey 8-bit PNG of a 2-D uint8 array (zlib level 9, filter 0)."""
    h, w = a.shape
    raw = b"".join(b"\0" + a[y].astype(np.uint8).tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def entropies(te):
    flat = te.reshape(len(te), -1)
    counts = np.bincount(flat.ravel(), minlength=17) / flat.size
    h0 = -sum(p * math.log2(p) for p in counts if p > 0)
    per_pos = 0.0
    for j in range(64):
        c = np.bincount(flat[:, j], minlength=17) / len(flat)
        per_pos -= sum(p * math.log2(p) for p in c if p > 0)
    return h0, per_pos / 64


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def report(args):
    _, _, te = load_split()
    dims = te.size
    stacked = te.reshape(-1, 8)  # 447 digits of 8x8 stacked vertically: 8 x 3576
    docs = os.path.join(ROOT, "docs")
    os.makedirs(docs, exist_ok=True)
    png_path = os.path.join(docs, "digits-test.png")
    with open(png_path, "wb") as f:
        f.write(png_bytes(stacked))
    cli = os.path.join(os.path.abspath(args.build), "idfzip")
    rows = []
    h0, hpos = entropies(te)
    tmp = tempfile.mkdtemp()
    try:
        for spec in args.models:
            wpath, cpath = spec.split(":")
            cfg = json.load(open(cpath))
            model = idf.Flow(cfg)
            ckpt = os.path.join(ROOT, "runs", os.path.basename(cpath)[:-5], "model.pt")
            model.load_state_dict(torch.load(ckpt)["model"])
            out = os.path.join(tmp, cfg["name"] + ".idf")
            res = run([cli, "compress", "-f", "--no-store", "--model", wpath, png_path, "-o", out])
            if res.returncode != 0:
                raise SystemExit("report: idfzip failed: " + res.stderr)
            back = os.path.join(tmp, cfg["name"] + ".png")
            res = run([cli, "decompress", "-f", "--model", wpath, out, "-o", back])
            ok = res.returncode == 0 and run([os.path.join(args.build, "tests", "pngcmp"), png_path, back]).returncode == 0
            rows.append((cfg["name"], nll(model, te, False), nll(model, te, True),
                         8.0 * os.path.getsize(out) / dims, ok, model))
        base = os.path.join(tmp, "baseline.idf")
        run([cli, "compress", "-f", "--no-store", png_path, "-o", base])
        refs = [("idfzip default model (no learned model)", 8.0 * os.path.getsize(base) / dims),
                ("PNG (zlib 9)", 8.0 * os.path.getsize(png_path) / dims)]
        if shutil.which("optipng"):
            opt = os.path.join(tmp, "opt.png")
            run(["optipng", "-quiet", "-o7", png_path, "-out", opt])
            refs.append(("PNG (optipng -o7)", 8.0 * os.path.getsize(opt) / dims))
        if shutil.which("cjxl"):
            jxl = os.path.join(tmp, "d.jxl")
            run(["cjxl", "-d", "0", "-e", "9", png_path, jxl])
            if os.path.exists(jxl):
                refs.append(("JPEG XL (cjxl -d 0 -e 9)", 8.0 * os.path.getsize(jxl) / dims))
    finally:
        shutil.rmtree(tmp)
    print("| model | test NLL, float (bits/dim) | test NLL, exact integers | coded .idf (bits/dim) | round trip |")
    print("|---|---|---|---|---|")
    for name, f, e, c, ok, _ in rows:
        print("| %s | %.3f | %.3f | %.3f | %s |" % (name, f, e, c, "exact" if ok else "FAILED"))
    print("\n| reference on the same stacked image | bits/dim |\n|---|---|")
    for name, b in refs:
        print("| %s | %.3f |" % (name, b))
    print("| order-0 entropy of the pixel values | %.3f |" % h0)
    print("| per-position empirical entropy (test set) | %.3f |" % hpos)
    figure(te, [(r[0], r[5]) for r in rows], os.path.join(docs, "digits-samples.png"))


def figure(te, models, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = 10
    fig, axes = plt.subplots(1 + len(models), n, figsize=(n * 0.8, (1 + len(models)) * 0.9))
    rows = [("real", te[:n, 0])]
    g = torch.Generator().manual_seed(3)
    for name, model in models:
        rows.append((name, idf.sample(model, n, 8, 8, g)[:, 0].clamp(0, 16).numpy()))
    for r, (name, imgs) in enumerate(rows):
        for k in range(n):
            ax = axes[r, k]
            ax.imshow(imgs[k], cmap="gray_r", vmin=0, vmax=16)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    plt.savefig(path, dpi=100, bbox_inches="tight")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("config")
    t.add_argument("--out", required=True)
    t.add_argument("--export", required=True)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--max-epochs", type=int, default=400)
    t.add_argument("--patience", type=int, default=20)
    t.add_argument("--qat-epochs", type=int, default=5)
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--prior-warmup", type=int, default=0, metavar="STEPS",
                   help="fit the priors alone first (data-dependent init; 0: off, the book's setup)")
    t.add_argument("--threads", type=int, default=2)
    r = sub.add_parser("report")
    r.add_argument("--build", default=os.path.join(ROOT, "build"))
    r.add_argument("models", nargs="+", help="WEIGHTS.idfw:CONFIG.json")
    args = p.parse_args()
    train(args) if args.cmd == "train" else report(args)


if __name__ == "__main__":
    main()
