#!/bin/sh
# ar_gpu_sweep.sh OUTDIR SECONDS -- the AR prior ablation of docs/ablation.md
# (section 3b) in one go, made for a leased GPU machine: records of every
# sample (ar_features -a, one process per image) of corpus/train and
# corpus/heldout, in RGB and in grey (-g), then tools/train/ar_sweep.py over
# RGB_VARIANTS and GREY_VARIANTS, SECONDS of float training each.  Results:
# OUTDIR/rgb and OUTDIR/grey (results.tsv, a log per variant, the exports).
# AR_FEATURES names the ar_features binary (default build/tools/ar_features;
# carry one built here, with libpng on LD_LIBRARY_PATH, where the machine
# has no libpng).  Each sweep runs under `timeout` (RGB_LIMIT, GREY_LIMIT
# seconds), so a leased machine's hard command limit still leaves the rows
# already written.
set -u
[ $# -eq 2 ] || { echo "usage: ar_gpu_sweep.sh OUTDIR SECONDS" >&2; exit 2; }
out=$1 secs=$2
feat=${AR_FEATURES:-build/tools/ar_features}
py=${PYTHON:-python3}
tmp=${TMPDIR:-/tmp}/ar_gpu_sweep
rgb=${RGB_VARIANTS:-"s16:stride=16 all:stride=1 ema:ema=0.999 lr1e-2:lr=0.01 w24:width=24 w32:width=32 h3:hidden=3 mix2:mix=2"}
grey=${GREY_VARIANTS:-"g-s16:stride=16 g-all:stride=1 g-mix2:mix=2"}
mkdir -p "$out/rgb" "$out/grey" "$tmp"

# dump NAME FLAGS PNG...: every image in its own process, then one file in
# the images' sorted order.
dump() {
    name=$1 flags=$2
    shift 2
    for png in "$@"; do
        echo "$png"
    done | xargs -P "$(nproc)" -I{} sh -c "$feat $flags $tmp/$name.\$(basename {} .png).bin {}" || return 1
    cat "$tmp/$name".*.bin >"$tmp/$name.bin" && rm -f "$tmp/$name".*.bin
}

t0=$(date +%s)
dump rgb-train -a corpus/train/*.png && dump rgb-val -a corpus/heldout/*.png &&
    dump grey-train "-a -g" corpus/train/*.png && dump grey-val "-a -g" corpus/heldout/*.png ||
    { echo "ar_gpu_sweep: ar_features failed" >&2; exit 1; }
ls -l "$tmp"
echo "records built in $(( $(date +%s) - t0 )) s"
# sweep KIND LIMIT VARIANTS [ar_sweep options]: with PARALLEL=1 every variant
# is its own process (tiny nets leave a GPU mostly idle), in OUTDIR/KIND/NAME.
sweep() {
    kind=$1 limit=$2 variants=$3
    shift 3
    if [ "${PARALLEL:-0}" = 1 ]; then
        for v in $variants; do
            PYTHONUNBUFFERED=1 timeout "$limit" $py tools/train/ar_sweep.py --data "$tmp/$kind-train.bin" \
                --val "$tmp/$kind-val.bin" --seconds "$secs" --out "$out/$kind/${v%%:*}" "$@" "$v" \
                >"$out/$kind/${v%%:*}.log" 2>&1 &
        done
        wait
        cat "$out/$kind"/*/results.tsv >"$out/$kind/results.tsv"
    else
        PYTHONUNBUFFERED=1 timeout "$limit" $py tools/train/ar_sweep.py --data "$tmp/$kind-train.bin" \
            --val "$tmp/$kind-val.bin" --seconds "$secs" --out "$out/$kind" "$@" $variants >"$out/$kind/sweep.log" 2>&1
    fi
    echo "$kind sweep: exit $?"
}
if [ "${PARALLEL:-0}" = 1 ]; then
    sweep rgb "${RGB_LIMIT:-360}" "$rgb" &
    sweep grey "${GREY_LIMIT:-150}" "$grey" --channels 1 &
    wait
else
    sweep rgb "${RGB_LIMIT:-360}" "$rgb"
    sweep grey "${GREY_LIMIT:-150}" "$grey" --channels 1
fi
cat "$out/rgb/results.tsv" "$out/grey/results.tsv"
