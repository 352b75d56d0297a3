#!/usr/bin/env python3
"""train.py -- train an idfzip integer discrete flow and export it as .idfw.

    /usr/bin/python3 tools/train/train.py --config tools/train/configs/rgb-s.json \
        --data corpus/train_rgb.npy --val corpus/heldout --out runs/rgb-s \
        --minutes 120 --qat-steps 300 --export weights/rgb-s.idfw

Runs on Debian's python3-torch (1.13, CPU) and on torch 2.x with CUDA
(--device cuda) alike; the export does not depend on where it trained.  For
a machine without network, pack the corpus (tools/train/pack_corpus.py,
~31 MB) and pass the .npz as --data and --val; tools/train/gpu_burst.sh
runs several configs side by side on one GPU.
Resumable: --resume continues from OUT/ckpt.pt (written every few minutes,
atomically).  Prints a progress line with loss (bits per subpixel), speed and
ETA; writes OUT/log.csv and, with matplotlib, OUT/curve.png.

Phases: float training (straight-through rounding of translations) with
Adamax, linear warm-up, cosine decay and optionally an EMA of the weights; then
--qat-steps of quantisation-aware fine-tuning through the exact emulation of
the C integer arithmetic; export (by default the raw weights: --ema 0).
"""
import argparse
import copy
import json
import math
import os
import signal
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idf  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    p.add_argument("--data", required=True, help="uint8 patches (N, H, W, C) as .npy, or a pack_corpus.py .npz")
    p.add_argument("--val", help="folder of held-out PNGs, or a pack_corpus.py .npz")
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=0, help="float-phase budget (or --steps)")
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--qat-steps", type=int, default=0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--patch", type=int, default=0,
                   help="training patch side (default: the config's tile, which is what the codec "
                        "codes each block at; see docs/ablation.md)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--ema", type=float, default=0.0,
                   help="EMA decay of the exported weights (0: the raw weights; measured: an EMA of "
                        "0.999 coded held-out 1.1 to 4.6 bpsp worse, docs/ablation.md)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init", help="start from this checkpoint's weights (idf.warm_start: a new "
                                  "checkerboard prior starts as a copy of the plain one)")
    p.add_argument("--export", help="write the .idfw here at the end")
    p.add_argument("--ckpt-minutes", type=float, default=5)
    p.add_argument("--val-images", type=int, default=4)
    return p.parse_args()


class Patches:
    """Random crops with flips: from a (N, H, W, C) uint8 patch array (.npy),
    or from the whole train images of a pack_corpus.py .npz, each image drawn
    with its stored weight and the corner uniform (fresh crops every step)."""

    def __init__(self, path, patch, channels, seed):
        self.patch = patch
        self.rng = np.random.default_rng(seed)
        if path.endswith(".npz"):
            self.images, weights = pack_images(path, "train", channels)
            keep = [i for i, im in enumerate(self.images) if min(im.shape[:2]) >= patch]
            if not keep:
                raise SystemExit("train: no image in %s is at least %dx%d" % (path, patch, patch))
            self.images = [self.images[i] for i in keep]
            w = np.asarray(weights)[keep]
            self.weights = w / w.sum()
            return
        self.images = None
        self.data = np.load(path, mmap_mode="r")
        if self.data.ndim == 3:
            self.data = self.data[..., None]
        if self.data.shape[3] != channels:
            raise SystemExit("train: %s has %d channels, the config wants %d" % (path, self.data.shape[3], channels))

    def crops(self, n):
        p = self.patch
        if self.images is None:
            d = self.data
            idx = self.rng.integers(0, d.shape[0], n)
            ys = self.rng.integers(0, d.shape[1] - p + 1, n)
            xs = self.rng.integers(0, d.shape[2] - p + 1, n)
            return np.stack([d[i, y:y + p, x:x + p] for i, y, x in zip(idx, ys, xs)])
        out = []
        for i in self.rng.choice(len(self.images), n, p=self.weights):
            im = self.images[i]
            y = self.rng.integers(0, im.shape[0] - p + 1)
            x = self.rng.integers(0, im.shape[1] - p + 1)
            out.append(im[y:y + p, x:x + p])
        return np.stack(out)

    def batch(self, n):
        out = self.crops(n)
        flip_x = self.rng.random(n) < 0.5
        flip_y = self.rng.random(n) < 0.5
        out[flip_x] = out[flip_x, :, ::-1]
        out[flip_y] = out[flip_y, ::-1]
        return torch.from_numpy(np.ascontiguousarray(out.transpose(0, 3, 1, 2))).float()


def pack_images(path, group, channels):
    """Images of one group ("train" or "heldout") of a pack_corpus.py .npz,
    as HxWxC uint8 arrays (grey: the corpus luma), and the train weights."""
    from pack_corpus import unpack_images
    z = np.load(path)
    images = unpack_images(z[group + "_shapes"], z[group + "_pixels"])
    if channels == 1:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus"))
        from build_corpus import luma   # the corpus's own grey (needs PIL; only for grey)
        images = [luma(im)[..., None] for im in images]
    return images, (z["train_weights"] if group == "train" else None)


def load_val(folder, count, channels, align, tile=None):
    """The first `count` held-out images as float tensors.  With tile
    (height, width), each image is cut into whole blocks of that size, a
    batch per image, because the codec runs the flow block by block: a
    whole-image NLL says little about the coded size (the nets see other
    borders), a block NLL predicts it."""
    if not folder:
        return []
    if folder.endswith(".npz"):
        arrays = pack_images(folder, "heldout", channels)[0][:count]
    else:
        from PIL import Image
        arrays = []
        for name in sorted(os.listdir(folder))[:count]:
            im = Image.open(os.path.join(folder, name)).convert("RGB" if channels == 3 else "L")
            a = np.asarray(im)
            arrays.append(a if a.ndim == 3 else a[..., None])
    images = []
    th, tw = tile or (align, align)
    for a in arrays:
        h, w = a.shape[0] // th * th, a.shape[1] // tw * tw
        x = torch.from_numpy(np.ascontiguousarray(a[:h, :w].transpose(2, 0, 1)))[None].float()
        if tile:
            c = x.shape[1]
            x = x.unfold(2, th, th).unfold(3, tw, tw)          # 1, C, H/th, W/tw, th, tw
            x = x.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, th, tw)
        images.append(x)
    return images


def alignment(cfg):
    return 1 << (cfg["initial_squeezes"] + sum(lv["squeeze"] for lv in cfg["levels"]))


@torch.no_grad()
def evaluate(model, images, exact, device):
    if not images:
        return float("nan")
    bits = subpixels = 0.0
    for x in images:
        b, _ = model(x.to(device), exact=exact)  # bits/subpixel of each image or block
        bits += float(b.sum()) * x[0].numel()
        subpixels += x.numel()
    return bits / subpixels


def lr_at(step, total, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    frac = min(1.0, (step - args.warmup) / max(1, total - args.warmup))
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def save_checkpoint(path, state):
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def plot_curve(out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    rows = [line.strip().split(",") for line in open(os.path.join(out, "log.csv"))][1:]
    if not rows:
        return
    seen = [float(r[1]) for r in rows]
    plt.figure(figsize=(6, 4))
    plt.plot(seen, [float(r[2]) for r in rows], label="train (running)")
    val = [(float(r[1]), float(r[3])) for r in rows if r[3] != "nan"]
    if val:
        plt.plot(*zip(*val), "o-", label="held-out")
    plt.xlabel("patches seen")
    plt.ylabel("bits per subpixel")
    plt.legend()
    plt.grid(alpha=0.3)
    plt.savefig(os.path.join(out, "curve.png"), dpi=100, bbox_inches="tight")


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = json.load(open(args.config))
    os.makedirs(args.out, exist_ok=True)
    device = torch.device(args.device)
    model = idf.Flow(cfg).to(device)
    if args.init and not (args.resume and os.path.exists(os.path.join(args.out, "ckpt.pt"))):
        copied = idf.warm_start(model, torch.load(args.init, map_location=device)["model"])
        print("train: %d tensors from %s" % (copied, args.init), flush=True)
    ema = copy.deepcopy(model)
    opt = torch.optim.Adamax(model.parameters(), lr=args.lr)
    state = {"step": 0, "seen": 0, "elapsed": 0.0, "qat": 0}
    ckpt = os.path.join(args.out, "ckpt.pt")
    if args.resume and os.path.exists(ckpt):
        saved = torch.load(ckpt, map_location=device)
        model.load_state_dict(saved["model"])
        ema.load_state_dict(saved["ema"])
        opt.load_state_dict(saved["opt"])
        state = saved["state"]
        print("train: resumed at step %d (%.1f min)" % (state["step"], state["elapsed"] / 60), flush=True)
    patch = args.patch or min(cfg["tile"])
    data = Patches(args.data, patch, cfg["channels"], args.seed + state["step"])
    val = load_val(args.val, args.val_images, cfg["channels"], alignment(cfg), tuple(cfg["tile"]))
    # SIGTERM (a watchdog, a leased machine's end): checkpoint, then stop.
    # Installed before log.csv exists, so a caller that sees the file may
    # signal safely.
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    log_path = os.path.join(args.out, "log.csv")
    if not os.path.exists(log_path):
        open(log_path, "w").write("step,seen,train_bpsp,val_bpsp,phase\n")
    budget = args.minutes * 60
    total_steps = args.steps or 10 ** 9
    t_start, t_ckpt, t_print = time.time() - state["elapsed"], time.time(), time.time()
    running = None

    def checkpoint(val_bpsp=float("nan")):
        state["elapsed"] = time.time() - t_start
        save_checkpoint(ckpt, {"model": model.state_dict(), "ema": ema.state_dict(),
                               "opt": opt.state_dict(), "state": state, "config": cfg})
        with open(log_path, "a") as f:
            f.write("%d,%d,%.5f,%.5f,%s\n" % (state["step"], state["seen"], running or float("nan"),
                                             val_bpsp, "qat" if state["qat"] else "float"))

    while True:
        if stop:
            checkpoint()
            raise SystemExit("train: stopped by SIGTERM at step %d; checkpoint written" % state["step"])
        elapsed = time.time() - t_start
        float_done = (args.steps and state["step"] >= args.steps) or (budget and elapsed >= budget)
        if float_done and state["qat"] >= args.qat_steps:
            break
        exact = bool(float_done)
        if args.steps:
            frac_total = args.steps
        else:
            frac_total = max(args.warmup + 1, int(state["step"] / max(elapsed, 1) * budget))
        lr = lr_at(state["step"], frac_total, args) if not exact else args.lr * 0.05
        for g in opt.param_groups:
            g["lr"] = lr
        x = data.batch(args.batch).to(device).contiguous(memory_format=torch.channels_last)
        bpsp, _ = model(x, exact=exact)
        loss = bpsp.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(args.ema).add_(pm, alpha=1 - args.ema)
        state["step"] += 1
        state["seen"] += args.batch
        state["qat"] += exact
        lv = float(loss.detach())
        running = lv if running is None else 0.98 * running + 0.02 * lv
        now = time.time()
        if now - t_print > 30:
            t_print = now
            rate = state["seen"] / max(now - t_start, 1e-9)
            left = max(0.0, budget - (now - t_start)) if budget else float("nan")
            print("step %d  %s  loss %.4f bpsp  %.0f patches/s  lr %.2e  elapsed %.1f min  ETA %.1f min"
                  % (state["step"], "qat" if exact else "float", running, rate, lr,
                     (now - t_start) / 60, left / 60), flush=True)
        if now - t_ckpt > args.ckpt_minutes * 60:
            t_ckpt = now
            checkpoint(evaluate(ema, val, False, device))
    val_float = evaluate(ema, val, False, device)
    val_exact = evaluate(ema, val, True, device)
    checkpoint(val_exact)
    print("train: done, %d steps, %d patches, %.1f min; held-out %.4f bpsp float, %.4f exact"
          % (state["step"], state["seen"], (time.time() - t_start) / 60, val_float, val_exact), flush=True)
    plot_curve(args.out)
    if args.export:
        with open(args.export, "wb") as f:
            f.write(idf.export_idfw(ema.cpu()))
        print("train: wrote %s" % args.export, flush=True)


if __name__ == "__main__":
    main()
