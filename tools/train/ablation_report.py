#!/usr/bin/env python3
"""ablation_report.py -- one markdown table row per ablation run.

    /usr/bin/python3 tools/train/ablation_report.py [RUNS_DIR] [HELDOUT_DIR]

For every RUNS_DIR/NAME.idfw written by tools/train/ablate.sh (default
runs/ablation) it reports: MAC per pixel and the real coded size on the
held-out photos (build/tools/bench_codec, one thread, model forced), the
training loss at the end (running mean over the last steps, bits per
subpixel on the training patches), the trainer's held-out NLL of the
exported integer model on whole images (EMA weights), patches seen and
minutes trained.  Speeds are printed too but mean something only on a quiet
machine.
"""
import glob
import os
import re
import subprocess
import sys


def last_row(csv_path):
    rows = [line.strip().split(",") for line in open(csv_path)][1:]
    return rows[-1] if rows else None


def done_line(log_path):
    for line in open(log_path):
        if line.startswith("train: done"):
            return line
    return ""


def coded(model, heldout):
    images = sorted(glob.glob(os.path.join(heldout, "*.png")))
    out = subprocess.run(["build/tools/bench_codec", "-n", "-T", "1", "-r", "1", "-m", model] + images,
                         capture_output=True, text=True, check=True).stdout
    macs = re.search(r"(\d+) MAC/pixel", out).group(1)
    total = re.search(r"idfzip ([\d.]+) bpsp.*encode ([\d.]+) MP/s, decode ([\d.]+) MP/s", out)
    return int(macs), float(total.group(1)), float(total.group(2)), float(total.group(3))


def main():
    runs = sys.argv[1] if len(sys.argv) > 1 else "runs/ablation"
    heldout = sys.argv[2] if len(sys.argv) > 2 else "corpus/heldout"
    print("| run | MAC/px | coded held-out (bpsp) | train loss (bpsp) | held-out NLL, whole images "
          "| patches | minutes | enc / dec MP/s (-T 1) |")
    print("|---|---|---|---|---|---|---|---|")
    for model in sorted(glob.glob(os.path.join(runs, "*.idfw"))):
        name = os.path.basename(model)[:-5]
        row = last_row(os.path.join(runs, name, "log.csv"))
        done = done_line(os.path.join(runs, name + ".log"))
        m = re.search(r"(\d+) patches, ([\d.]+) min; held-out EMA [\d.]+ bpsp float, ([\d.]+) exact", done)
        macs, bpsp, enc, dec = coded(model, heldout)
        print("| %s | %d | %.3f | %.3f | %s | %s | %s | %.2f / %.2f |" % (
            name, macs, bpsp, float(row[2]) if row else float("nan"), m.group(3) if m else "-",
            m.group(1) if m else "-", m.group(2) if m else "-", enc, dec))


if __name__ == "__main__":
    main()
