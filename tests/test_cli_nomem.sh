#!/bin/sh
# test_cli_nomem.sh BUILDDIR — the idfzip command when memory runs out.
#
# BUILDDIR/tests/idfzip_nomem is the CLI linked with tests/support/
# fail_alloc.c: IDFZIP_FAIL_ALLOC=N makes its Nth allocation fail (the
# library's, libpng's, zlib's or the CLI's own).  For every N until the
# command succeeds, compress and decompress must exit 1 with one line on
# stderr that says "out of memory", and leave no output file and no
# temporary file behind.
set -u
B=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN="$B/tests/idfzip_nomem"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "test_cli_nomem: $*"; }

cp "$HERE/data/pngsuite/basn2c08.png" "$T/in.png"
"$BIN" compress -q "$T/in.png" -o "$T/ref.idf" || bad "compress without failures"

# run_all NAME OUTPUT ARGS...: every allocation of the command, failed in turn.
run_all() {
    name=$1 out=$2
    shift 2
    n=1 wrong=0
    while [ $n -le 5000 ]; do
        rm -f "$out"
        IDFZIP_FAIL_ALLOC=$n "$BIN" "$@" 2>"$T/err"
        rc=$?
        [ $rc -eq 0 ] && break
        lines=$(wc -l <"$T/err")
        leftovers=$(ls "$T" | grep -v -e '^in.png$' -e '^ref.idf$' -e '^err$' | tr '\n' ' ')
        if [ $rc -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -q "out of memory" "$T/err" ||
           [ -n "$leftovers" ]; then
            wrong=$((wrong + 1))
            [ $wrong -le 3 ] && bad "$name: allocation $n: exit $rc, $lines lines: $(head -c 200 "$T/err"); left: $leftovers"
        fi
        n=$((n + 1))
    done
    [ $rc -eq 0 ] || bad "$name: still failing after 5000 allocations"
    [ $wrong -eq 0 ] && ok
    echo "  $name: $((n - 1)) allocations, each failed once"
}

run_all compress "$T/out.idf" compress -q -T 1 "$T/in.png" -o "$T/out.idf"
cmp -s "$T/out.idf" "$T/ref.idf" && ok || bad "compress output differs"
rm -f "$T/out.idf"
run_all decompress "$T/out.png" decompress -q -T 1 "$T/ref.idf" -o "$T/out.png"
rm -f "$T/out.idf" "$T/out.png"

echo "cli_nomem: $passed passed, $failed failed"
[ $failed -eq 0 ]
