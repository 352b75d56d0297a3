#!/bin/sh
# test_cli.sh BUILDDIR — the idfzip command line as a user drives it:
# names, stdin/stdout, -f/-k/--rm, info/test, and bad input of every kind
# (one line on stderr, exit 1, no partial output, never a signal).
set -u
B=$(cd "${1:-build}" && pwd)
IDFZIP=$B/idfzip
PNGCMP=$B/tests/pngcmp
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...: the command must succeed
    d=$1; shift
    if "$@" >/dev/null 2>&1; then ok; else bad "$d"; fi
}
# expect_error DESCRIPTION COMMAND...: exit 1 with exactly one stderr line
expect_error() {
    d=$1; shift
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    lines=$(wc -l <"$T/err")
    if [ $rc -eq 1 ] && [ "$lines" -eq 1 ]; then ok; else bad "$d (exit $rc, $lines stderr lines)"; cat "$T/err"; fi
}
no_leftovers() { # no temporary files left in $T/work
    if ls "$T/work" | grep -q 'tmp-'; then bad "temporary file left: $1"; else ok; fi
}

mkdir "$T/work"
cd "$T/work" || exit 1
cp "$HERE/data/pngsuite/basn2c08.png" a.png
cp "$HERE/data/pngsuite/basn3p04.png" p.png
cp "$HERE/data/pngsuite/basn0g16.png" g.png

# --- ordinary use ---
check "compress with default name" "$IDFZIP" compress a.png
check "a.idf exists" test -s a.idf
check "decompress -o" "$IDFZIP" decompress a.idf -o back.png
check "pixels equal" "$PNGCMP" a.png back.png
check "input kept" test -f a.png
mv a.png orig.png
check "decompress with default name" "$IDFZIP" d a.idf
check "default name pixels" "$PNGCMP" orig.png a.png
check "several inputs" "$IDFZIP" compress p.png g.png
check "several outputs" test -s p.idf -a -s g.idf
check "-T 2 decompress" "$IDFZIP" decompress -T 2 -f p.idf g.idf
check "palette pixels" "$PNGCMP" "$HERE/data/pngsuite/basn3p04.png" p.png
check "16-bit pixels" "$PNGCMP" "$HERE/data/pngsuite/basn0g16.png" g.png

# --- stdin / stdout ---
"$IDFZIP" compress <orig.png >s.idf 2>/dev/null && ok || bad "stdin to stdout"
"$IDFZIP" decompress - <s.idf >s.png 2>/dev/null && ok || bad "- to stdout"
check "stdin round trip" "$PNGCMP" orig.png s.png
"$IDFZIP" compress -c orig.png >c.idf 2>/dev/null && ok || bad "-c"
check "-c equals file output" cmp c.idf a.idf
"$IDFZIP" compress -o - orig.png >o.idf 2>/dev/null && ok || bad "-o -"
check "-o - equals file output" cmp o.idf a.idf

# --- never overwrite without -f ---
cp a.idf keep.idf
expect_error "existing output without -f" "$IDFZIP" compress orig.png -o keep.idf
check "existing output untouched" cmp keep.idf a.idf
check "-f overwrites" "$IDFZIP" compress -f p.png -o keep.idf
check "--rm removes input" "$IDFZIP" compress --rm -o rm.idf g.png
if [ -e g.png ]; then bad "--rm left input"; else ok; fi

# --- info and test ---
"$IDFZIP" info a.idf >info.txt 2>&1 && grep -q '32x32 RGB 8-bit' info.txt && ok || bad "info"
check "test good file" "$IDFZIP" test a.idf
check "--help" "$IDFZIP" --help
"$IDFZIP" --version | grep -q '^idfzip [0-9]' && ok || bad "--version"
"$IDFZIP" frobnicate a.idf 2>/dev/null; [ $? -eq 2 ] && ok || bad "unknown command exits 2"
"$IDFZIP" compress --bogus a.png 2>/dev/null; [ $? -eq 2 ] && ok || bad "unknown option exits 2"
"$IDFZIP" 2>/dev/null; [ $? -eq 2 ] && ok || bad "no command exits 2"

# --- bad input: one line, exit 1, no output left behind ---
expect_error "missing input" "$IDFZIP" compress missing.png
expect_error "not a PNG" "$IDFZIP" compress a.idf -o x1.idf
check "no output for bad PNG" test ! -e x1.idf
expect_error "unknown suffix" "$IDFZIP" decompress orig.png
expect_error "unwritable output" "$IDFZIP" compress orig.png -o /nonexistent/dir/x.idf
expect_error "full disk on stdout" sh -c "'$IDFZIP' compress -c orig.png >/dev/full"
printf 'XIDF\r\n\032\nrest' >magic.idf
expect_error "wrong magic" "$IDFZIP" decompress magic.idf -o x2.png
size=$(wc -c <a.idf)
for n in 0 1 7 8 13 21 40 60 $((size / 2)) $((size - 5)) $((size - 1)); do
    head -c "$n" a.idf >trunc.idf
    expect_error "truncated at $n" "$IDFZIP" decompress trunc.idf -o x3.png
    check "no output for truncation at $n" test ! -e x3.png
done
no_leftovers "after truncations"
for off in 8 9 10 14 20 30 45 60 70 90 $((size - 40)) $((size - 20)) $((size - 1)); do
    cp a.idf flip.idf
    byte=$(od -An -tu1 -j "$off" -N1 flip.idf | tr -d ' ')
    printf "$(printf '\\%03o' $(( (byte ^ 16) & 255 )))" |
        dd of=flip.idf bs=1 seek="$off" conv=notrunc 2>/dev/null
    rm -f flip.png
    "$IDFZIP" decompress flip.idf -o flip.png 2>"$T/err"
    rc=$?
    if [ $rc -eq 0 ]; then
        "$PNGCMP" orig.png flip.png && ok || bad "bit flip at $off decoded to a wrong image"
    elif [ $rc -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && [ ! -e flip.png ]; then
        ok
    else
        bad "bit flip at $off: exit $rc"
    fi
done
"$IDFZIP" test a.idf >/dev/null 2>&1 && ok || bad "test after flips"
expect_error "test of a truncated file" "$IDFZIP" test trunc.idf

echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
