#!/bin/sh
# valgrind.sh BUILDDIR — the unit tests and a few CLI round trips (good
# files, a bad file, a flow model, two threads) under valgrind's memcheck:
# any invalid access, use of uninitialised memory or leak fails.  Slow (the
# unit tests run 20-50x slower), so `make valgrind-test` runs it on demand;
# it is not part of `make test`.  Prints "valgrind: N passed, N failed".
set -u
B=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
# test_flow keeps a 7.4 MB flow_model on the stack; valgrind would take a
# frame over its default 2 MB for a switch to another stack.
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible
    --max-stackframe=16777216"

# vg DESCRIPTION EXPECTED_EXIT COMMAND...: memcheck must stay silent and the
# command exit as expected (1 for the deliberate bad input).  Standard
# input and output are $IN and $OUT when set.
vg() {
    d=$1 want=$2
    shift 2
    start=$(date +%s)
    $VG "$@" <"${IN:-/dev/null}" >"${OUT:-$T/out}" 2>"$T/err"
    rc=$?
    secs=$(($(date +%s) - start))
    if [ $rc -eq "$want" ] && ! grep -q '^==[0-9]*==' "$T/err"; then
        pass=$((pass + 1))
        echo "valgrind: ok   $d (${secs} s)"
    else
        fail=$((fail + 1))
        echo "valgrind: FAIL $d (exit $rc, wanted $want)"
        grep -E '^==[0-9]+==|failed' "$T/err" | head -n 40
        tail -n 3 "$T/out"
    fi
}

vg test_rans 0 "$B/tests/test_rans"
vg test_dl 0 "$B/tests/test_dl"
vg test_container 0 "$B/tests/test_container"
vg test_nn 0 "$B/tests/test_nn"
vg test_idfw 0 "$B/tests/test_idfw"
vg test_flow 0 "$B/tests/test_flow"
vg test_png 0 "$B/tests/test_png" "$HERE/data/pngsuite"
vg test_codec 0 "$B/tests/test_codec" "$HERE/data/pngsuite" "$HERE/golden"
vg test_regressions 0 "$B/tests/test_regressions" "$HERE/regressions"

IDFZIP=$B/idfzip
cd "$T" || exit 1
cp "$HERE/data/photos/chelsea.png" photo.png
cp "$HERE/data/pngsuite/basn3p04.png" palette.png
cp "$HERE/data/pngsuite/basn6a16.png" rgba16.png
"$B/tests/support/make_random_model" tiny-rgb 1 tiny.idfw
mkdir back
vg "compress photo, palette, 16-bit (-T 2)" 0 "$IDFZIP" compress -T 2 --no-store photo.png palette.png rgba16.png
vg "decompress them to stdout" 0 "$IDFZIP" decompress -c photo.idf palette.idf rgba16.idf
for f in photo palette rgba16; do
    vg "decompress $f.idf" 0 "$IDFZIP" decompress "$f.idf" -o "back/$f.png"
    "$B/tests/pngcmp" "$f.png" "back/$f.png" || { fail=$((fail + 1)); echo "valgrind: FAIL $f differs"; }
done
vg "compress with a flow model" 0 "$IDFZIP" compress --no-store --model tiny.idfw -o flow.idf photo.png
vg "decompress with a flow model" 0 "$IDFZIP" decompress --model tiny.idfw -o back/flow.png flow.idf
"$B/tests/pngcmp" photo.png back/flow.png || { fail=$((fail + 1)); echo "valgrind: FAIL flow differs"; }
IN=palette.png OUT=s.idf
vg "compress stdin to stdout (stored mode)" 0 "$IDFZIP" compress
IN=s.idf OUT=back/s.png
vg "decompress stdin to stdout" 0 "$IDFZIP" decompress
unset IN OUT
"$B/tests/pngcmp" palette.png back/s.png || { fail=$((fail + 1)); echo "valgrind: FAIL stdin round trip"; }
head -c 500 photo.idf >truncated.idf
vg "a truncated file fails cleanly" 1 "$IDFZIP" decompress truncated.idf -o back/t.png

echo "valgrind: $pass passed, $fail failed"
[ $fail -eq 0 ]
