#!/usr/bin/env python3
"""ar.py -- train the AR prior of idfzip (an .idfw without flow levels) and
export it.

    build/tools/ar_features corpus/ar-train.bin corpus/train/*.png
    build/tools/ar_features corpus/ar-val.bin corpus/heldout/*.png
    /usr/bin/python3 tools/train/ar.py --data corpus/ar-train.bin \
        --val corpus/ar-val.bin --export weights/ar-rgb.idfw
    (grey: ar_features -g ..., then ar.py --channels 1 --name ar-grey)

The model (FORMAT.md, "AR prior"): each sample is coded autoregressively,
its mean first predicted by baseline-v3 (fixed predictors, NLMS, the
error-weighted blend; the integer flow z = x - mean is then an
autoregressive integer coupling), and a small net (dense layers, the
integers of model/nn.h) maps AR_PRIOR_FEATURES integer features of that
prediction to a mean correction and a scale index, both in 1/16 (with
--mix, idfzip 0.6: a mixture of two DLs, two of each and two logits).  The
features come from the codec's own C code (tools/ar_features), so training
sees exactly the integers the decoder computes; only the net is learned.

Phases: float training with Adam (warm-up, cosine decay); --qat-steps
through the exact integer emulation (idf.Net.exact); export.  A run takes
minutes (5.4 for the shipped RGB net on this CPU), so there are no
checkpoints to resume from; --out keeps the curve (log.csv, curve.png)
and the net's state.  --device cuda runs it on a GPU (torch 2.x); the
export does not depend on the device.  Prints the
held-out NLL in float and exact arithmetic; the coded size is what
idfzip writes (tools/train/test_ar.py checks the two agree).
"""
import argparse
import math
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idf  # noqa: E402
from train import plot_curve  # noqa: E402

FEATURES = 29          # AR_PRIOR_FEATURES in model/ar_prior.h
RECORD = FEATURES + 3  # features, baseline mean16, context, value
MAXVAL = 255
TILE = 256


def load_records(path):
    """(features (N, 29), baseline mean16 (N,), value (N,)), int32."""
    a = torch.from_numpy(np.fromfile(path, dtype="<i4").reshape(-1, RECORD))
    return a[:, :FEATURES].contiguous(), a[:, FEATURES].contiguous(), a[:, -1].contiguous()


def make_net(width, hidden, mix=False):
    """The net; mix: outputs for a mixture of two DLs (idfzip 0.6)."""
    net = idf.Net(FEATURES, 6 if mix else 2, width, hidden, 1, "relu", gain=8.0, in_scale=1.0 / 64)
    with torch.no_grad():  # start: no mean correction, scale index 30 (s ~ 5.8)
        if mix:  # the components start at different scales so they can specialise
            net.layers[-1].conv.bias[2] = 22.0 / 8.0
            net.layers[-1].conv.bias[3] = 38.0 / 8.0
        else:
            net.layers[-1].conv.bias[1] = 30.0 / 8.0
    return net


_TAIL_Q32 = []


def tail_q32():
    """DL_TAIL_Q32 of rans/dl_constants.h: round(2^32 sigmoid(-k / 256))."""
    if not _TAIL_Q32:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "rans", "dl_constants.h")
        text = open(path).read()
        body = text[text.index("DL_TAIL_Q32[DL_TAIL_STEPS + 1] = {"):]
        body = body[body.index("{") + 1:body.index("}")]
        _TAIL_Q32.append(torch.tensor([int(v.strip().rstrip("u")) for v in body.split(",") if v.strip()],
                                      dtype=torch.int64))
    return _TAIL_Q32[0]


def mixture_weight_q15(d16):
    """The first component's weight in 1/2^15 for logit differences d16
    (integers, 1/16), as model/ar_prior.c computes it:
    dl_logistic_cdf_q32(2 d16, 2^20) >> 17, kept in 1 .. 2^15 - 1."""
    table = tail_q32().to(d16.device)
    k = (16 * d16.abs()).to(torch.int64)
    tail = torch.where(k < len(table) - 1, table[torch.clamp(k, max=len(table) - 1)], torch.zeros_like(k))
    cdf = torch.where(d16 >= 0, (1 << 32) - tail, tail)
    return torch.clamp(cdf >> 17, 1, 32767)


def mixture_weight(out16):
    """The first component's weight from the logits (1/16): exactly the
    codec's (mixture_weight_q15) with the sigmoid's gradient.  The outputs
    are integers in both paths, so this is exact."""
    d = out16[:, 4] - out16[:, 5]
    soft = torch.sigmoid(d / 16.0)
    with torch.no_grad():
        exact = mixture_weight_q15(d).to(out16.dtype) / 32768.0
    return soft + (exact - soft).detach()


def component_bits(out, mean16, value, exact, k):
    """-log2 P(value) under each of k DLs, (N, k): their mean corrections
    are out's first k columns, their scale indices the next k (1/16)."""
    m = torch.clamp(mean16.to(out.dtype).view(-1, 1) + out[:, :k], 0, 16 * MAXVAL)
    return idf.dl_bits(value.to(out.dtype).view(-1, 1), m, out[:, k:2 * k], exact)


def mixture_bits(log_w, comp_bits):
    """-log2 sum_k w_k 2^-b_k, stably, from natural-log weights and each
    component's bits, both (N, K)."""
    ln2 = math.log(2.0)
    return -torch.logsumexp(log_w - comp_bits * ln2, dim=1) / ln2


def bits(net, feats, mean16, value, exact):
    """-log2 P(value) per sample, as the codec computes it."""
    x = feats.float().view(-1, FEATURES, 1, 1)  # integers below 2^12: exact in float
    cout = net.layers[-1].conv.out_channels
    out = net.output16(x, exact).view(-1, cout)
    if cout == 2:
        return component_bits(out, mean16, value, exact, 1)[:, 0]
    w = mixture_weight(out)
    return mixture_bits(torch.stack([torch.log(w), torch.log1p(-w)], 1),
                        component_bits(out, mean16, value, exact, 2))


def evaluate(net, data, exact, chunk=1 << 16, bits_fn=None):
    feats, mean16, value = data
    bits_fn = bits_fn or bits
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(value), chunk):
            total += float(bits_fn(net, feats[i:i + chunk], mean16[i:i + chunk], value[i:i + chunk], exact).sum())
    return total / len(value)


def export_ar(net, name, channels=3):
    """The .idfw bytes (FORMAT.md): no levels, top K = 0, the net."""
    head = struct.pack("<BBIHHBB", channels, 8, MAXVAL, TILE, TILE, 0, 0)
    body = b"".join([idf.MAGIC, struct.pack("<H", 1), name.encode("ascii")[:16].ljust(16, b"\0"),
                     head, struct.pack("<B", 0), idf.pack_net(net)])
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


class Ema:
    """An exponential moving average of a net's weights (decay d, warmed up
    as min(d, (1 + t) / (10 + t)) so early steps do not dominate)."""

    def __init__(self, net, decay):
        self.decay, self.t = decay, 0
        self.shadow = [p.detach().clone() for p in net.parameters()]

    def update(self, net):
        d = min(self.decay, (1 + self.t) / (10 + self.t))
        self.t += 1
        with torch.no_grad():
            for s, p in zip(self.shadow, net.parameters()):
                s.lerp_(p.detach(), 1 - d)

    def copy_to(self, net):
        with torch.no_grad():
            for s, p in zip(self.shadow, net.parameters()):
                p.copy_(s)


def steps_for(seconds, step, elapsed, warmup):
    """The step count that fills a time budget at the rate measured so far."""
    return max(warmup + 1, int(seconds * (step + 1) / max(elapsed, 1e-9)))


def train(net, data, steps, lr, batch, exact, log, warmup=200, val=None, seen=0,
          seconds=None, ema=None, bits_fn=None):
    """Adam with warm-up and cosine decay; a row of train.py's log.csv
    format every 1,000 steps (with the float NLL of ~2^16 held-out samples,
    evenly strided, every 5,000 when val is given).  With seconds, the run
    is re-planned after the warm-up to fill that time at the measured rate,
    steps staying the most it may take (a fixed-budget ablation).  ema (an
    Ema) is updated after every step; bits_fn replaces bits (e.g. a
    mixture prior).  Returns the samples seen."""
    feats, mean16, value = data
    bits_fn = bits_fn or bits
    opt = torch.optim.Adam(net.parameters(), lr)
    t0, n, phase = time.time(), len(value), "qat" if exact else "float"
    step = 0
    while step < steps:
        scale = min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))
        for g in opt.param_groups:
            g["lr"] = lr * max(scale, 0.02)
        idx = torch.randint(0, n, (batch,), device=value.device)
        loss = bits_fn(net, feats[idx], mean16[idx], value[idx], exact).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if ema is not None:
            ema.update(net)
        seen += batch
        if seconds is not None and step + 1 == warmup:
            float(loss)  # waits for the device, so the clock is honest
            steps = min(steps, steps_for(seconds, step, time.time() - t0, warmup))
        if step % 1000 == 0 or step + 1 == steps:
            el = time.time() - t0
            eta = el / (step + 1) * (steps - step - 1) / 60
            print("%s step %d/%d  loss %.4f bpsp  %.0f samples/s  ETA %.1f min" % (
                phase, step, steps, float(loss), (step + 1) * batch / el, eta), flush=True)
            held = float("nan")
            if val is not None and (step % 5000 == 0 or step + 1 == steps):
                stride = max(1, len(val[2]) >> 16)  # ~2^16 samples from every image
                held = evaluate(net, tuple(t[::stride] for t in val), False, bits_fn=bits_fn)
            log.write("%d,%d,%.5f,%.5f,%s\n" % (step, seen, float(loss), held, phase))
        step += 1
    return seen


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="tools/ar_features records")
    p.add_argument("--val", help="held-out records (ar_features)")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--hidden", type=int, default=2)
    p.add_argument("--mix", action="store_true", help="a mixture of two DLs per sample (idfzip 0.6)")
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--qat-steps", type=int, default=500)
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seconds", type=float, help="fill this float-phase time (--steps at most)")
    p.add_argument("--ema", type=float, default=0.0,
                   help="decay of an EMA of the weights, exported in place of the raw ones (0: off)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--name", default="ar-rgb")
    p.add_argument("--channels", type=int, default=3, choices=(1, 3),
                   help="image channels the model serves (1: grey, records from ar_features -g)")
    p.add_argument("--device", default="cpu", help="cpu, or cuda with torch 2.x")
    p.add_argument("--out", help="folder for log.csv, curve.png and the net's state (net.pt)")
    p.add_argument("--export", required=True)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    data = tuple(t.to(dev) for t in load_records(a.data))
    val = tuple(t.to(dev) for t in load_records(a.val)) if a.val else None
    print("%d training samples" % len(data[2]))
    net = make_net(a.width, a.hidden, a.mix).to(dev)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "log.csv") if a.out else os.devnull, "w") as log:
        log.write("step,seen,train_bpsp,val_bpsp,phase\n")
        t0 = time.time()
        ema = Ema(net, a.ema) if a.ema > 0 else None
        seen = train(net, data, a.steps, a.lr, a.batch, False, log, val=val, seconds=a.seconds, ema=ema)
        if ema is not None:
            ema.copy_to(net)
        train(net, data, a.qat_steps, a.lr / 20, a.batch, True, log, warmup=1, val=val, seen=seen)
        print("training: %.1f min" % ((time.time() - t0) / 60))
    if a.out:
        torch.save(net.state_dict(), os.path.join(a.out, "net.pt"))
        plot_curve(a.out)
    if val is not None:
        print("held-out NLL: float %.4f, exact %.4f bpsp (%d samples)" % (
            evaluate(net, val, False), evaluate(net, val, True), len(val[2])))
    with open(a.export, "wb") as f:
        f.write(export_ar(net, a.name, a.channels))
    print("exported %s: %d MAC per sample" % (a.export, sum(
        l.conv.weight.numel() for l in net.layers)))


if __name__ == "__main__":
    main()
