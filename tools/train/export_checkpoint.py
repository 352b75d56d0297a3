#!/usr/bin/env python3
"""export_checkpoint.py CKPT OUT.idfw [HELDOUT_DIR] -- export the EMA weights
of a train.py checkpoint (e.g. after an interrupted run) and report the
held-out NLL in float and exact-integer arithmetic, with the share of bits
in each latent part (top, then each factor-out level from the first)."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idf  # noqa: E402
from train import load_val, alignment  # noqa: E402


def main():
    ckpt = torch.load(sys.argv[1], map_location="cpu")
    model = idf.Flow(ckpt["config"])
    model.load_state_dict(ckpt["ema"])
    with open(sys.argv[2], "wb") as f:
        f.write(idf.export_idfw(model))
    state = ckpt["state"]
    print("export: step %d, %d patches seen, %.1f min" % (state["step"], state["seen"], state["elapsed"] / 60))
    if len(sys.argv) > 3:
        cfg = ckpt["config"]
        images = load_val(sys.argv[3], 100, cfg["channels"], alignment(cfg))
        th, tw = cfg["tile"]
        for exact in (False, True):
            bits = subpixels = 0.0
            parts = None
            with torch.no_grad():
                for x in images:
                    for y in range(0, x.shape[2] - th + 1, th):
                        for x0 in range(0, x.shape[3] - tw + 1, tw):
                            t = x[:, :, y:y + th, x0:x0 + tw]
                            b, p = model(t, exact=exact)
                            bits += float(b) * t.numel()
                            subpixels += t.numel()
                            p = [float(v) * t.numel() for v in p]
                            parts = p if parts is None else [a + c for a, c in zip(parts, p)]
            print("held-out %s NLL: %.4f bpsp (per tile, as coded); parts: %s" % (
                "exact" if exact else "float", bits / subpixels,
                ", ".join("%.1f%%" % (100 * v / bits) for v in parts)))


if __name__ == "__main__":
    main()
