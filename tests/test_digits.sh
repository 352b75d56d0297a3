#!/bin/sh
# test_digits.sh BUILDDIR — the shipped digits models (weights/digits-*.idfw,
# docs/digits.md) through the CLI: each golden tests/golden/digits/M.idf
# (.idf version 1) and M-v2.idf (version 2) decodes to exactly the 447
# stacked test digits, and coding those digits again gives the bytes of
# M-v2.idf (the models' integer arithmetic and the coder have not drifted).
set -u
B=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
G=$HERE/golden/digits
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

for m in bipartite quadripartite improved; do
    w=$ROOT/weights/digits-$m.idfw
    for g in "$m" "$m-v2"; do
        if "$B/idfzip" decompress -q -f --model "$w" "$G/$g.idf" -o "$T/$g.png" &&
            "$B/tests/pngcmp" "$G/test-digits.png" "$T/$g.png" >/dev/null; then ok
        else bad "$g: golden .idf does not decode to the test digits"; fi
    done
    if "$B/idfzip" compress -q -f --no-store --model "$w" "$G/test-digits.png" -o "$T/$m.idf" &&
        cmp -s "$T/$m.idf" "$G/$m-v2.idf"; then ok
    else bad "$m: coding the test digits no longer gives the golden bytes"; fi
done
# The model serves 0..16 only: a brighter pixel is refused, not mis-coded.
if ! "$B/idfzip" compress -q -f --no-store --model "$ROOT/weights/digits-improved.idfw" \
        "$HERE/golden/v2-camera-grey8.png" -o "$T/x.idf" 2>"$T/err" &&
    grep -q "does not serve" "$T/err" && [ ! -e "$T/x.idf" ]; then ok
else bad "a pixel above 16 was not refused"; cat "$T/err"; fi

echo "test_digits: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
