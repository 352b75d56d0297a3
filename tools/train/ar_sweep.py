#!/usr/bin/env python3
"""ar_sweep.py -- an ablation sweep of AR prior nets (ar.py), each variant
trained for the same wall-clock budget on the same data, in one process.

    ar_sweep.py --data TRAIN.bin --val HELDOUT.bin --seconds 40 --out DIR \\
        r16:width=16 r16-ema:width=16,ema=0.999 mix2:width=16,mix=2 ...

A variant is NAME:KEY=VALUE,... with keys
    width, hidden   the dense net (ar.make_net; default 16 and 2)
    batch, lr       Adam's batch and peak rate (default 65536 and 3e-3)
    stride          train on every stride-th record only (data ablation)
    ema             decay of an EMA of the weights, used for QAT and export
    mix             K > 1: a mixture of K discretized logistics per sample,
                    softmax weights, float NLL only (the ablation of
                    docs/ablation.md 3b; the codec's mixture of two, with
                    its integer weight, is ar.py --mix)
    qat, qat_batch  quantisation-aware steps after the float phase (500 at
                    batch 4096, at lr / 20)
Each variant gets DIR/NAME.csv (ar.py's log format), DIR/NAME.pt (the
net's state) and, unless it is a mixture, DIR/NAME.idfw (its export,
codable with idfzip --model FILE); one row
per variant goes to DIR/results.tsv: held-out NLL in float and in the exact
integers the codec runs, over every held-out record.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ar  # noqa: E402
import idf  # noqa: E402

DEFAULTS = {"width": 16, "hidden": 2, "batch": 65536, "lr": 3e-3, "stride": 1,
            "ema": 0.0, "mix": 1, "qat": 500, "qat_batch": 4096}
COLUMNS = ("name", "width", "hidden", "mix", "batch", "stride", "ema", "mac",
           "steps", "seen", "train_s", "raw_float", "float", "exact")


def parse_variant(text):
    name, _, rest = text.partition(":")
    v = dict(DEFAULTS, name=name)
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if key not in DEFAULTS:
            raise SystemExit("ar_sweep: unknown key %r in %r" % (key, text))
        v[key] = type(DEFAULTS[key])(float(value)) if isinstance(DEFAULTS[key], int) else float(value)
    return v


def make_mix_net(width, hidden, k):
    """Outputs (1/16 units): K mean corrections, K scale indices, K logits.
    The components start at spread scales so they can specialise."""
    net = idf.Net(ar.FEATURES, 3 * k, width, hidden, 1, "relu", gain=8.0, in_scale=1.0 / 64)
    with torch.no_grad():
        for j in range(k):
            net.layers[-1].conv.bias[k + j] = (22.0 + 16.0 * j / (k - 1)) / 8.0
    return net


def mix_bits_fn(k):
    def mix_bits(net, feats, mean16, value, exact):
        x = feats.float().view(-1, ar.FEATURES, 1, 1)
        out = net.output16(x, exact).view(-1, 3 * k)
        logw = F.log_softmax(out[:, 2 * k:] / 16.0, dim=1)
        return ar.mixture_bits(logw, ar.component_bits(out, mean16, value, exact, k))
    return mix_bits


def run_variant(v, data, val, seconds, out, dev, channels):
    torch.manual_seed(1)
    mix = v["mix"] > 1
    net = (make_mix_net(v["width"], v["hidden"], v["mix"]) if mix else ar.make_net(v["width"], v["hidden"])).to(dev)
    bits_fn = mix_bits_fn(v["mix"]) if mix else None
    train_data = tuple(t[::v["stride"]] for t in data)
    ema = ar.Ema(net, v["ema"]) if v["ema"] > 0 else None
    row = dict(v, mac=sum(layer.conv.weight.numel() for layer in net.layers))
    print("== %s: %d training records" % (v["name"], len(train_data[2])), flush=True)
    t0 = time.time()
    with open(os.path.join(out, v["name"] + ".csv"), "w") as log:
        log.write("step,seen,train_bpsp,val_bpsp,phase\n")
        seen = ar.train(net, train_data, 10 ** 9, v["lr"], v["batch"], False, log, val=val,
                        seconds=seconds, ema=ema, bits_fn=bits_fn)
        row["steps"], row["seen"] = seen // v["batch"], seen
        row["raw_float"] = ar.evaluate(net, val, False, bits_fn=bits_fn)
        if ema is not None:
            ema.copy_to(net)
        if not mix:
            ar.train(net, train_data, v["qat"], v["lr"] / 20, v["qat_batch"], True, log,
                     warmup=1, val=val, seen=seen)
    row["train_s"] = time.time() - t0
    torch.save(net.state_dict(), os.path.join(out, v["name"] + ".pt"))
    row["float"] = ar.evaluate(net, val, False, bits_fn=bits_fn)
    row["exact"] = float("nan") if mix else ar.evaluate(net, val, True)
    if not mix:
        with open(os.path.join(out, v["name"] + ".idfw"), "wb") as f:
            f.write(ar.export_ar(net, v["name"][:16], channels))
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--val", required=True)
    p.add_argument("--seconds", type=float, default=40.0, help="float-phase budget per variant")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--channels", type=int, default=3, choices=(1, 3),
                   help="image channels the exports serve (1: records from ar_features -g)")
    p.add_argument("--out", required=True)
    p.add_argument("variants", nargs="+")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    variants = [parse_variant(t) for t in a.variants]
    os.makedirs(a.out, exist_ok=True)
    data = tuple(t.to(dev) for t in ar.load_records(a.data))
    val = tuple(t.to(dev) for t in ar.load_records(a.val))
    print("%d training, %d held-out records on %s" % (len(data[2]), len(val[2]), dev), flush=True)
    with open(os.path.join(a.out, "results.tsv"), "w") as res:
        res.write("\t".join(COLUMNS) + "\n")
        for v in variants:
            row = run_variant(v, data, val, a.seconds, a.out, dev, a.channels)
            line = "\t".join(("%.4f" % row[c]) if isinstance(row[c], float) else str(row[c]) for c in COLUMNS)
            res.write(line + "\n")
            res.flush()
            print("RESULT " + line, flush=True)


if __name__ == "__main__":
    main()
