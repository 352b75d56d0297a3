#!/bin/sh
# test_pixbuf.sh BUILDDIR — the gdk-pixbuf loader (make pixbuf-loader; builds
# nothing): through BUILDDIR/pixbuf/loaders.cache and the mime database in
# BUILDDIR/pixbuf/share, .idf files made from every PngSuite PNG (model-coded
# and default) load to the pixels gdk-pixbuf's own PNG loader gives for the
# PNG (16-bit reduced to 8 bits the same way), from a file and through a
# GdkPixbufLoader fed 1, 7 and 4096 bytes at a time; gdk_pixbuf_get_file_info
# and scaled loading work; gdk-pixbuf-thumbnailer -s 128 writes a thumbnail
# of the right size; every hostile .idf (tests/regressions, the fuzz seeds of
# tests/fuzz/corpus/fuzz_idf, and truncated or damaged copies) gives a GError
# and no crash.  Ends with "pixbuf: N passed, N failed".
#
# When IDFZIP_CFLAGS (set by `make test`) holds -fsanitize=..., the loader
# is instrumented: gdk-pixbuf-thumbnailer (not instrumented) runs with the
# sanitizer runtimes of IDFZIP_CC preloaded.
set -u
B=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
finish() { echo "pixbuf: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

B_ABS=$(cd "$B" 2>/dev/null && pwd) || { bad "no build folder $B"; finish; }
P=$B_ABS/pixbuf
LOAD=$P/pixbuf_load
IDFZIP=$B_ABS/idfzip
for f in "$P/libpixbufloader-idf.so" "$P/loaders.cache" "$P/share/mime/mime.cache" "$LOAD" "$IDFZIP"; do
    [ -e "$f" ] || { bad "$f is missing (make pixbuf-loader; make)"; finish; }
done
export GDK_PIXBUF_MODULE_FILE="$P/loaders.cache"
export XDG_DATA_DIRS="$P/share:${XDG_DATA_DIRS:-/usr/local/share:/usr/share}"
export XDG_DATA_HOME="$T/data" XDG_CACHE_HOME="$T/cache" # nothing of the user's

. "$HERE/uninstrumented.sh"

# --- the cache lists the loader, for image/x-idf and .idf ---
if grep -q "\"$P/libpixbufloader-idf.so\"" "$P/loaders.cache" &&
    grep -q '"image/x-idf"' "$P/loaders.cache"; then ok; else bad "loaders.cache does not list the idf loader"; fi
# The loader exports its two entry points and nothing of the library.
syms=$(nm -D --defined-only "$P/libpixbufloader-idf.so" | awk '{print $NF}' | sort | tr '\n' ' ')
if [ "$syms" = "fill_info fill_vtable " ]; then ok; else bad "loader exports: $syms"; fi

# --- every PngSuite kind, model-coded and as idfzip chooses ---
n=0
for png in "$HERE"/data/pngsuite/*.png; do
    name=$(basename "$png" .png)
    for how in model default; do
        idf=$T/$name-$how.idf
        if [ $how = model ]; then opt=--no-store; else opt=; fi
        # shellcheck disable=SC2086
        if ! "$IDFZIP" compress -q -f $opt "$png" -o "$idf" 2>"$T/err"; then
            bad "idfzip compress $opt $name.png: $(cat "$T/err")"
            continue
        fi
        if "$LOAD" cmp "$idf" "$png" >"$T/out" 2>&1; then ok; else
            bad "$name ($how): pixels differ from the PNG's"
            sed 's/^/  /' "$T/out"
        fi
        n=$((n + 1))
    done
done
if [ $n -ge 70 ]; then ok; else bad "only $n PngSuite images compared"; fi

# --- file info, scaled loading ---
"$IDFZIP" compress -q -f "$HERE/data/photos/chelsea.png" -o "$T/chelsea.idf"
out=$("$LOAD" info "$T/chelsea.idf")
if [ "$out" = "idf image/x-idf 225x150" ]; then ok; else bad "file info: $out"; fi
out=$("$LOAD" size "$T/chelsea.idf" 100 100)
if [ "$out" = "100x67" ]; then ok; else bad "loaded at 100x100: $out"; fi

# --- gdk-pixbuf-thumbnailer ---
png_size() { # WIDTHxHEIGHT from a PNG's IHDR
    od -An -tu1 -j16 -N8 "$1" | awk '{printf "%dx%d\n", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}'
}
if command -v gdk-pixbuf-thumbnailer >/dev/null 2>&1; then
    cp "$HERE/data/photos/chelsea.png" "$T/chelsea.png"
    uninstrumented gdk-pixbuf-thumbnailer -s 128 "$T/chelsea.idf" "$T/thumb-idf.png" 2>"$T/err"
    rc=$?
    if [ $rc -eq 0 ] && [ -s "$T/thumb-idf.png" ]; then ok; else bad "gdk-pixbuf-thumbnailer (exit $rc): $(cat "$T/err")"; fi
    got=$(png_size "$T/thumb-idf.png" 2>/dev/null)
    if [ "$got" = "128x85" ]; then ok; else bad "thumbnail of 225x150 at -s 128 is $got, not 128x85"; fi
    # The same as the PNG's thumbnail, pixel for pixel.
    uninstrumented gdk-pixbuf-thumbnailer -s 128 "$T/chelsea.png" "$T/thumb-png.png" 2>/dev/null
    if "$LOAD" cmp "$T/thumb-idf.png" "$T/thumb-png.png" >"$T/out" 2>&1; then ok; else
        bad "the .idf's thumbnail differs from the PNG's"; sed 's/^/  /' "$T/out"; fi
    # A grey 16-bit file too (a different conversion path).
    "$IDFZIP" compress -q -f --no-store "$HERE/data/pngsuite/basn0g16.png" -o "$T/g16.idf"
    uninstrumented gdk-pixbuf-thumbnailer -s 64 "$T/g16.idf" "$T/thumb-g16.png" 2>"$T/err"
    got=$(png_size "$T/thumb-g16.png" 2>/dev/null)
    if [ "$got" = "64x64" ]; then ok; else bad "thumbnail of a 32x32 grey16 at -s 64: '$got' $(cat "$T/err")"; fi
else
    bad "gdk-pixbuf-thumbnailer is not installed (apt-get install libgdk-pixbuf2.0-bin)"
fi

# --- hostile files: a GError, never a crash ---
# load_expect FILE ERROR|ANY [PATTERN]: ERROR wants exit 1 and a GError line
# (matching PATTERN); ANY accepts a clean load too.  Exit 2 (the two ways of
# loading disagree) and signals are failures either way.
load_expect() {
    le_f=$1 le_want=$2 le_pattern=${3:-} le_name=$(basename "$1")
    "$LOAD" load "$le_f" >"$T/out" 2>&1
    le_rc=$?
    if [ $le_rc -gt 1 ]; then
        bad "$le_name: exit $le_rc (crash, or one way of loading fails and the other not)"
        sed 's/^/  /' "$T/out"
        return
    fi
    if [ $le_rc -eq 1 ] && ! grep -q '^error [A-Z_]* .' "$T/out"; then
        bad "$le_name: failed without a GError"; sed 's/^/  /' "$T/out"; return
    fi
    if [ "$le_want" = ERROR ] && [ $le_rc -ne 1 ]; then
        bad "$le_name: loaded, a GError was expected"; return
    fi
    if [ -n "$le_pattern" ] && ! grep -q "$le_pattern" "$T/out"; then
        bad "$le_name: error is not '$le_pattern'"; sed 's/^/  /' "$T/out"; return
    fi
    ok
}
nh=0
for f in "$HERE"/regressions/*.idf; do
    load_expect "$f" ERROR '^error CORRUPT_IMAGE .*file is corrupt$'
    nh=$((nh + 1))
done
if [ $nh -ge 4 ]; then ok; else bad "only $nh regression files"; fi
i=0
for f in "$HERE"/fuzz/corpus/fuzz_idf/*.idf "$T/chelsea.idf" "$T/basn3p08-trns-model.idf" "$T/basn4a16-model.idf"; do
    i=$((i + 1))
    name=$(basename "$f" .idf)
    # as it is: flow-tiny-* need a model the library does not have
    case $name in
    flow-tiny-*) load_expect "$f" ERROR '^error CORRUPT_IMAGE .*model missing' ;;
    *) load_expect "$f" ANY ;;
    esac
    size=$(wc -c <"$f")
    # truncated: after the magic, inside the header, one byte short
    for cut in 9 21 23 40 $((size / 2)) $((size - 1)); do
        [ "$cut" -lt "$size" ] || continue
        head -c "$cut" "$f" >"$T/cut-$name.idf"
        load_expect "$T/cut-$name.idf" ERROR '^error CORRUPT_IMAGE'
    done
    # one byte flipped in the header, the tables, the payload
    for pos in 9 14 19 30 $((size / 3)) $((size - 3)); do
        [ "$pos" -lt "$size" ] || continue
        cp "$f" "$T/flip-$name.idf"
        printf '\377' | dd of="$T/flip-$name.idf" bs=1 seek="$pos" conv=notrunc 2>/dev/null
        load_expect "$T/flip-$name.idf" ANY
    done
    # grown by a byte
    { cat "$f"; printf x; } >"$T/grown-$name.idf"
    load_expect "$T/grown-$name.idf" ERROR '^error CORRUPT_IMAGE'
done
if [ $i -ge 20 ]; then ok; else bad "only $i fuzz seeds"; fi
# Not .idf at all, named .idf; the magic alone; empty.
printf 'hello, world\n' >"$T/text.idf"
load_expect "$T/text.idf" ERROR
printf '\211IDF\r\n\032\n' >"$T/magic.idf"
load_expect "$T/magic.idf" ERROR '^error CORRUPT_IMAGE .*truncated'
: >"$T/empty.idf"
load_expect "$T/empty.idf" ERROR

finish
