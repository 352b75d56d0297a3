#!/bin/sh
# test_cli.sh BUILDDIR — the idfzip command line as a user drives it:
# names, stdin/stdout, -f/-k/--rm, info/test, and bad input of every kind
# (one line on stderr, exit 1, no partial output, never a signal); hostile
# headers and the pixel limit (under ulimit -v); I/O faults (full disk,
# read-only folder, vanishing input); every bit flip of a tiny file.
set -u
B=$(cd "${1:-build}" && pwd)
IDFZIP=$B/idfzip
PNGCMP=$B/tests/pngcmp
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
MOUNTS=""    # tmpfs mounts made below, undone before $T is removed
IMMUTABLE="" # folders made immutable with chattr +i
cleanup() {
    for m in $MOUNTS; do umount "$m" 2>/dev/null; done
    for d in $IMMUTABLE; do chattr -i "$d" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
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
check "--model baseline-v1" "$IDFZIP" compress -f --no-store --model baseline-v1 orig.png -o v1.idf
check "v1 file names baseline-v1" sh -c "'$IDFZIP' info v1.idf | grep -q 'model baseline-v1 '"
check "--model baseline-v2" "$IDFZIP" compress -f --no-store --model baseline-v2 orig.png -o v2.idf
check "v2 file names baseline-v2" sh -c "'$IDFZIP' info v2.idf | grep -q 'model baseline-v2 '"
check "v2 file decodes without --model" "$IDFZIP" decompress -f v2.idf -o v2.png
check "v2 pixels" "$PNGCMP" orig.png v2.png
check "default model" "$IDFZIP" compress -f --no-store -o d.idf orig.png
check "a small gradient falls back to baseline-v3" sh -c "'$IDFZIP' info d.idf | grep -q 'model baseline-v3 '"
cp "$HERE/data/photos/chelsea.png" photo.png
check "photo default" "$IDFZIP" compress -f --no-store photo.png
check "the RGB default is ar-rgb-mix" sh -c "'$IDFZIP' info photo.idf | grep -q 'model ar-rgb-mix '"
cp "$HERE/data/pngsuite/basn0g08.png" g8.png
cp "$HERE/data/pngsuite/basn6a08.png" rgba.png
check "grey default" "$IDFZIP" compress -f --no-store g8.png rgba.png
check "the grey default is ar-grey-mix" sh -c "'$IDFZIP' info g8.idf | grep -q 'model ar-grey-mix '"
check "the RGBA default is ar-rgba-mix" sh -c "'$IDFZIP' info rgba.idf | grep -q 'model ar-rgba-mix '"
check "--model baseline-v3" "$IDFZIP" compress -f --no-store --model baseline-v3 orig.png -o v3.idf
check "v3 file names baseline-v3" sh -c "'$IDFZIP' info v3.idf | grep -q 'model baseline-v3 '"
check "v1 file decodes without --model" "$IDFZIP" decompress -f v1.idf -o v1.png
check "v1 pixels" "$PNGCMP" orig.png v1.png
expect_error "--model with no such name or file" "$IDFZIP" compress -f --model no-such-model orig.png -o nm.idf
check "no output for a missing model" test ! -e nm.idf
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

# --- limits: -v reports peak memory; hostile headers fail before allocating ---
"$IDFZIP" compress -v -f orig.png -o v.idf 2>"$T/err"
grep -q 'peak memory [0-9][0-9.]* MiB$' "$T/err" && ok || { bad "-v reports peak memory"; cat "$T/err"; }
"$IDFZIP" test -v v.idf 2>"$T/err"
grep -q ': OK, peak memory [0-9][0-9.]* MiB$' "$T/err" && ok || { bad "test -v reports peak memory"; cat "$T/err"; }

# expect_message DESCRIPTION TEXT COMMAND...: exit 1, one stderr line containing TEXT
expect_message() {
    d=$1 text=$2
    shift 2
    "$@" >/dev/null 2>"$T/err"
    rc=$?
    if [ $rc -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "$text" "$T/err"; then ok; else
        bad "$d (exit $rc, wanted one line with '$text')"
        cat "$T/err"
    fi
}
# crc32_le: the CRC32 of standard input as 4 little-endian bytes (gzip's trailer).
crc32_le() { gzip -c | tail -c 8 | head -c 4; }
# layout FILE: where the tile table and the pixel CRC of a one-tile
# model-coded .idf (version 2 or 3, FORMAT.md) start; the file CRC follows
# the pixel CRC, then the payload.
layout() {
    od -An -v -tu1 "$1" | awk '
        function varint(   v, s) { v = 0; s = 1
            while (b[at] >= 128) { v += (b[at++] - 128) * s; s *= 128 }
            v += b[at++] * s; return v }
        { for (i = 1; i <= NF; i++) b[n++] = $i }
        END { at = 12; varint(); varint()
              if (b[at++] == 0) { at += 1 + b[at] + 4; varint(); varint() }
              v3 = b[8] >= 3; split("1 0 3 1 2 0 4", ch, " "); c = ch[b[10] + 1]
              p = varint()
              if (v3 && p > 0) { if (b[at++] == 0) at += 3 * p; else at += varint() }
              else at += 3 * p
              at += varint()
              if (v3) { f = b[at++]; if (f % 8 >= 4) at += p
                        if (int(f / 2) % 2 == 1) { at++; for (i = 0; i < c; i++) varint() } }
              for (k = varint(); k > 0; k--) { at += 5; at += varint() }
              t = at; varint(); print t, at }'
}
# with_file_crc BODY PAYLOAD OUT: OUT = BODY, the CRC of BODY and PAYLOAD,
# then PAYLOAD.
with_file_crc() { { cat "$1"; cat "$1" "$2" | crc32_le; cat "$2"; } >"$3"; }

"$IDFZIP" compress -f --no-store orig.png -o h.idf 2>/dev/null
ta=$(layout h.idf | cut -d' ' -f1)
pc=$(layout h.idf | cut -d' ' -f2)
tail -c +$((pc + 9)) h.idf >"$T/payload"
# 60000x60000 (3.6 Gpixels) with a valid file CRC: once with the one-entry
# tile table of the 32x32 original (the table the size claims cannot fit),
# once with all 235 x 235 tile entries present and every tile empty (a
# 55 KB file that claims a 21.6 GB image).  60000 is the varint e0 d4 03.
wh='\340\324\003\340\324\003'
{ head -c 12 h.idf; printf "$wh"; head -c $((pc + 4)) h.idf | tail -c +15; } >"$T/body"
with_file_crc "$T/body" "$T/payload" hostile.idf
{ head -c 12 h.idf; printf "$wh"; head -c "$ta" h.idf | tail -c +15
  head -c $((235 * 235)) /dev/zero; head -c $((pc + 4)) h.idf | tail -c 4; } >"$T/body"
: >"$T/empty"
with_file_crc "$T/body" "$T/empty" hostile-tiles.idf
expect_message "hostile header, default limit" "exceeds the pixel limit" \
    "$IDFZIP" decompress hostile.idf -o x4.png
expect_message "hostile tile table, default limit" "exceeds the pixel limit" \
    "$IDFZIP" decompress hostile-tiles.idf -o x4.png
# Above the limit the decoder must still fail on what the file holds, not
# by allocating the image: under ulimit -v 1 GB, one clear line.  (ASan
# reserves terabytes of address space, so its builds run without ulimit.)
limit="ulimit -v 1000000 &&"
if grep -q __asan_init "$IDFZIP"; then limit=""; fi
expect_message "hostile header, huge limit" "truncated" \
    sh -c "$limit exec '$IDFZIP' --max-pixels 4000000000 decompress hostile.idf -o x4.png"
expect_message "hostile tile table, huge limit" "corrupt" \
    sh -c "$limit exec '$IDFZIP' --max-pixels 4000000000 decompress hostile-tiles.idf -o x4.png"
check "no output for hostile headers" test ! -e x4.png

# --- I/O faults: one line, exit 1, no output or temporary file, input untouched ---
# io_fault DESCRIPTION INPUT OUTPUT COMMAND...  (OUTPUT - : standard output)
io_fault() {
    d=$1 in=$2 out=$3
    shift 3
    rm -f "$T/saved"
    [ -f "$in" ] && cp "$in" "$T/saved"
    "$@" >/dev/null 2>"$T/err"
    rc=$?
    if [ $rc -ne 1 ] || [ "$(wc -l <"$T/err")" -ne 1 ]; then
        bad "$d (exit $rc, $(wc -l <"$T/err") stderr lines)"
        cat "$T/err"
    elif [ "$out" != - ] && [ -e "$out" ]; then
        bad "$d: output left behind"
    elif [ "$out" != - ] && ls -A "$(dirname "$out")" | grep -q 'tmp-'; then
        bad "$d: temporary file left behind"
    elif [ -f "$T/saved" ] && ! cmp -s "$in" "$T/saved"; then
        bad "$d: input changed"
    else
        ok
    fi
}
cp "$HERE/data/photos/chelsea.png" big.png
"$IDFZIP" compress -f --no-store big.png -o big.idf 2>/dev/null
io_fault "full disk on stdout (compress)" big.png - sh -c "'$IDFZIP' compress -c big.png >/dev/full"
io_fault "full disk on stdout (decompress)" big.idf - sh -c "'$IDFZIP' decompress -c big.idf >/dev/full"

# A full filesystem: a 16 KiB tmpfs (we run as root; where mounting is not
# permitted the cases are skipped with a note).
mkdir "$T/small"
if mount -t tmpfs -o size=16k tmpfs "$T/small" 2>/dev/null; then
    MOUNTS="$MOUNTS $T/small"
    io_fault "compress to a full filesystem" big.png "$T/small/big.idf" \
        "$IDFZIP" compress --no-store big.png -o "$T/small/big.idf"
    io_fault "decompress to a full filesystem" big.idf "$T/small/big.png" \
        "$IDFZIP" decompress big.idf -o "$T/small/big.png"
    io_fault "--rm keeps the input when the disk is full" big.png "$T/small/big.idf" \
        "$IDFZIP" compress --rm --no-store big.png -o "$T/small/big.idf"
else
    echo "cli: note: cannot mount a tmpfs here; full-filesystem cases skipped"
fi

# A read-only folder (root ignores permission bits): a tmpfs remounted
# read-only, else chattr +i, else skipped with a note.
RO=$T/readonly
mkdir "$RO"
if mount -t tmpfs -o size=256k tmpfs "$RO" 2>/dev/null; then
    MOUNTS="$MOUNTS $RO"
    cp orig.png "$RO/in.png"
    mount -o remount,ro "$RO" 2>/dev/null
else
    cp orig.png "$RO/in.png"
    chattr +i "$RO" 2>/dev/null && IMMUTABLE="$RO"
fi
if touch "$RO/probe" 2>/dev/null; then
    rm -f "$RO/probe"
    echo "cli: note: cannot make a read-only folder here; read-only cases skipped"
else
    io_fault "output into a read-only folder" orig.png "$RO/x.idf" \
        "$IDFZIP" compress orig.png -o "$RO/x.idf"
    io_fault "default output next to a read-only input" "$RO/in.png" "$RO/in.idf" \
        "$IDFZIP" compress "$RO/in.png"
    # The output is complete and stays; only removing the input fails.
    io_fault "--rm of an input in a read-only folder" "$RO/in.png" - \
        "$IDFZIP" compress --rm "$RO/in.png" -o ro.idf
    check "--rm failure keeps the input" test -f "$RO/in.png"
    check "--rm failure: the output is whole" "$IDFZIP" test ro.idf
fi

# Inputs that vanish or never were: a dangling symlink, a FIFO whose writer
# stops after the signature, a folder.
ln -s nowhere.png dangling.png
io_fault "dangling symlink" dangling.png dangling.idf "$IDFZIP" compress dangling.png
check "dangling symlink kept" test -L dangling.png
mkfifo fifo.png
printf '\211PNG\r\n\032\n' >fifo.png &
writer=$!
io_fault "FIFO closed early" fifo.png fifo.idf "$IDFZIP" compress fifo.png
kill $writer 2>/dev/null
wait $writer 2>/dev/null
mkdir folder.png
io_fault "input is a folder" folder.png folder.idf "$IDFZIP" compress folder.png
no_leftovers "after I/O faults"

# --- every single-bit flip of a tiny file is detected or harmless ---
# A 1x1 grey PNG (67 bytes) coded as a 90-byte .idf: 720 flipped copies,
# checked by one `idfzip test` run (one process keeps this fast under ASan).
printf '\211PNG\r\n\032\n\000\000\000\rIHDR\000\000\000\001\000\000\000\001\010\000\000\000\000:~\233U\000\000\000\nIDATx\332ch\000\000\000\202\000\201\332E\010;\000\000\000\000IEND\256B`\202' >one.png
check "tiny file compresses" "$IDFZIP" compress -f --no-store one.png -o one.idf
mkdir flips
off=0
for byte in $(od -An -v -tu1 one.idf); do
    for bit in 0 1 2 3 4 5 6 7; do
        { head -c $off one.idf; printf "$(printf '\\%03o' $((byte ^ (1 << bit))))"
          tail -c +$((off + 2)) one.idf; } >flips/$off-$bit.idf
    done
    off=$((off + 1))
done
"$IDFZIP" test flips/*.idf 2>"$T/err"
flips=$(ls flips | wc -l)
detected=$(grep -c '^idfzip: flips/[0-9]*-[0-7]\.idf: ' "$T/err")
[ "$flips" -eq $((off * 8)) ] && [ "$flips" -gt 0 ] && ok || bad "bit flip files"
for f in flips/*.idf; do # each accepted flip must give the original pixels
    grep -q "^idfzip: $f: " "$T/err" && continue
    "$IDFZIP" decompress -q -f "$f" -o flip.png 2>/dev/null && "$PNGCMP" one.png flip.png ||
        bad "bit flip $f accepted but decodes to a different image"
done
echo "cli: $detected of $flips single-bit flips of a $off-byte file detected, the rest harmless"

echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
