#!/bin/sh
# ablate.sh -- train each ablation config for the same wall-clock budget on
# one thread, export it, and leave runs/ablation/NAME/{log.csv,train.log}
# and NAME.idfw for tools/train/ablation_report.sh.
#   sh tools/train/ablate.sh MINUTES CONFIG...
# A config named *-patch64.json trains on 64x64 patches (default 32x32).
set -eu
minutes=$1; shift
mkdir -p runs/ablation
for cfg in "$@"; do
    name=$(basename "$cfg" .json)
    out=runs/ablation/$name
    [ -f "$out.idfw" ] && { echo "ablate: $name done already"; continue; }
    patch=32
    case $name in *-patch64) patch=64 ;; esac
    echo "ablate: $name ($minutes min, ${patch}x$patch patches)"
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/train/train.py --config "$cfg" \
        --data corpus/train_rgb.npy --val corpus/heldout --val-images 8 \
        --out "$out" --minutes "$minutes" --threads 1 --qat-steps 100 --patch "$patch" \
        --export "$out.idfw" --resume >"$out.log" 2>&1
    tail -1 "$out.log"
done
