#!/bin/sh
# gpu_burst.sh MINUTES QAT_STEPS BATCH OUTDIR CONFIG... -- train several
# configs side by side on one CUDA GPU (small conv nets leave most of an
# H100 idle, so concurrent runs cost little each), from the packed corpus
# corpus/pack.npz (tools/train/pack_corpus.py; carried to a machine without
# network).  Per config NAME it writes OUTDIR/NAME.idfw (exported
# weights after QAT) and OUTDIR/NAME.log (progress lines, then log.csv);
# checkpoints stay in /tmp/burst/NAME unless KEEP_CKPT names configs whose
# ckpt.pt is copied to OUTDIR/NAME.ckpt.pt (resumable on the CPU trainer).
# TRAIN_ARGS adds train.py options (e.g. --resume, with /tmp/burst/NAME/ckpt.pt
# in place).  DEADLINE=SECONDS stops runs still going by then and exports their last
# checkpoint instead (a leased machine's command limit is hard).
set -eu
[ $# -ge 5 ] || { echo "usage: gpu_burst.sh MINUTES QAT_STEPS BATCH OUTDIR CONFIG..." >&2; exit 2; }
minutes=$1 qat=$2 batch=$3 out=$4
shift 4
mkdir -p "$out"
py=${PYTHON:-python3}
device=${DEVICE:-cuda}
$py -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
        torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
pids=""
for cfg in "$@"; do
    name=$(basename "$cfg" .json)
    PYTHONUNBUFFERED=1 OPENBLAS_NUM_THREADS=1 $py tools/train/train.py --config "$cfg" \
        --data corpus/pack.npz --val corpus/pack.npz --val-images 8 --device "$device" \
        --batch "$batch" --minutes "$minutes" --qat-steps "$qat" --ckpt-minutes 1 \
        --threads 2 --out "/tmp/burst/$name" --export "$out/$name.idfw" ${TRAIN_ARGS:-} >"$out/$name.log" 2>&1 &
    pids="$pids $!"
done
if [ -n "${DEADLINE:-}" ]; then
    (sleep "$DEADLINE" && kill $pids) </dev/null >/dev/null 2>&1 &
    watchdog=$!
fi
status=0
for p in $pids; do wait "$p" || status=1; done
[ -z "${watchdog:-}" ] || { pkill -P "$watchdog"; kill "$watchdog"; } 2>/dev/null || true
for cfg in "$@"; do
    name=$(basename "$cfg" .json)
    if [ ! -s "$out/$name.idfw" ] && [ -f "/tmp/burst/$name/ckpt.pt" ]; then
        echo "gpu_burst: $name stopped early; exporting its last checkpoint" >>"$out/$name.log"
        $py tools/train/export_checkpoint.py "/tmp/burst/$name/ckpt.pt" "$out/$name.idfw" >>"$out/$name.log" 2>&1 || true
    fi
    cat "/tmp/burst/$name/log.csv" >>"$out/$name.log" 2>/dev/null || true
    case " ${KEEP_CKPT:-} " in *" $name "*) cp "/tmp/burst/$name/ckpt.pt" "$out/$name.ckpt.pt" || true ;; esac
    tail -n 3 "$out/$name.log"
done
exit $status
