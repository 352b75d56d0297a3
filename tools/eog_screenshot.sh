#!/bin/sh
# tools/eog_screenshot.sh [IMAGE.idf|IMAGE.png] [OUT.png]
#
# Opens an .idf in eog (Eye of GNOME) under a virtual X server (Xvfb,
# 640x480) with the loader of `make pixbuf-loader`, waits for the window,
# takes a screenshot of the screen and checks that the image's pixels are
# on it, unscaled (eog shows small images at 100%), so it was the idf
# loader that decoded them.  Default image: tests/data/photos/chelsea.png
# compressed with BUILDDIR/idfzip; a PNG argument is compressed first.
# Default output: docs/eog-idf.png.
#
# Nothing is installed: GDK_PIXBUF_MODULE_FILE points at
# BUILDDIR/pixbuf/loaders.cache, XDG_DATA_DIRS starts with BUILDDIR/pixbuf/share
# (the mime database that knows image/x-idf, which gdk-pixbuf needs to pick
# the loader), and HOME, the XDG folders and GSettings are temporary.
#
# Needs (Debian): eog xvfb xauth x11-utils (xwininfo) imagemagick (import), and
# python3-numpy python3-pil for the pixel check (skipped without them).
# BUILDDIR (default build), EOG_WAIT (seconds to wait for the window,
# default 30), SCREEN (default 640x480x24) may be set.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILDDIR:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
IN=${1:-$ROOT/tests/data/photos/chelsea.png}
OUT=${2:-$ROOT/docs/eog-idf.png}
WAIT=${EOG_WAIT:-30}
SCREEN=${SCREEN:-640x480x24}

die() { echo "eog_screenshot: $*" >&2; exit 1; }
for p in eog xvfb-run xwininfo import; do
    command -v $p >/dev/null 2>&1 || die "$p is missing (apt-get install eog xvfb xauth x11-utils imagemagick)"
done
if [ ! -f "$B/pixbuf/loaders.cache" ] || [ ! -f "$B/pixbuf/share/mime/mime.cache" ]; then
    die "no $B/pixbuf/loaders.cache (make pixbuf-loader)"
fi

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/images # the folder eog names in its Properties
mkdir "$D"
name=$(basename "$IN")
case $IN in
*.png)
    [ -x "$B/idfzip" ] || die "no $B/idfzip (make)"
    name=${name%.png}.idf
    "$B/idfzip" compress -q -f "$IN" -o "$D/$name"
    REF=$IN
    ;;
*)
    cp "$IN" "$D/$name"
    REF=""
    ;;
esac

cat >"$T/run.sh" <<'EOF'
#!/bin/sh
# Inside xvfb-run: start eog, wait for its window to be mapped, screenshot.
set -u
eog --new-instance "$IDF" >"$T/eog.log" 2>&1 &
pid=$!
i=0
while [ $i -lt $((WAIT * 4)) ]; do
    if xwininfo -root -tree 2>/dev/null | grep -q "\"$NAME\""; then break; fi
    sleep 0.25
    i=$((i + 1))
done
sleep 2 # let it paint
import -window root -strip -quality 95 "$T/shot.png"  # PNG: zlib 9, adaptive filters
rc=$?
kill $pid 2>/dev/null
wait $pid 2>/dev/null
exit $rc
EOF

mkdir -p "$T/home" "$T/config" "$T/cache" "$T/data" "$T/runtime"
chmod 700 "$T/runtime"
env -u DBUS_SESSION_BUS_ADDRESS \
    HOME="$T/home" XDG_CONFIG_HOME="$T/config" XDG_CACHE_HOME="$T/cache" \
    XDG_DATA_HOME="$T/data" XDG_RUNTIME_DIR="$T/runtime" \
    XDG_DATA_DIRS="$B/pixbuf/share:/usr/local/share:/usr/share" \
    GDK_PIXBUF_MODULE_FILE="$B/pixbuf/loaders.cache" \
    GSETTINGS_BACKEND=memory NO_AT_BRIDGE=1 GDK_BACKEND=x11 LC_ALL=C.UTF-8 \
    T="$T" IDF="$D/$name" NAME="$name" WAIT="$WAIT" \
    xvfb-run -a -s "-screen 0 $SCREEN -nolisten tcp" sh "$T/run.sh" ||
    { cat "$T/eog.log" >&2 2>/dev/null; die "xvfb-run or the screenshot failed"; }
[ -s "$T/shot.png" ] || die "no screenshot"
if grep -qi -E "could not|unrecognized|error" "$T/eog.log"; then
    sed 's/^/  eog: /' "$T/eog.log" >&2
fi

# The image's own pixels on the screen, at 100%: the loader decoded them.
if [ -n "$REF" ] && /usr/bin/python3 -c 'import numpy, PIL' 2>/dev/null; then
    /usr/bin/python3 - "$T/shot.png" "$REF" <<'EOF' || die "the image is not on the screenshot"
import sys
import numpy as np
from PIL import Image
shot = np.asarray(Image.open(sys.argv[1]).convert("RGB")).astype(np.int16)
ref = np.asarray(Image.open(sys.argv[2]).convert("RGB")).astype(np.int16)
h, w = ref.shape[:2]
H, W = shot.shape[:2]
row = ref[0]
for y in range(H - h + 1):
    for x in np.nonzero((shot[y, :W - w + 1] == row[0]).all(axis=1))[0]:
        if (shot[y, x:x + w] == row).all() and (shot[y:y + h, x:x + w] == ref).all():
            print("eog_screenshot: the %dx%d image is on the screen at (%d, %d), pixel for pixel"
                  % (w, h, x, y))
            sys.exit(0)
sys.exit(1)
EOF
fi
mkdir -p "$(dirname "$OUT")"
cp "$T/shot.png" "$OUT"
echo "eog_screenshot: $OUT ($(wc -c <"$OUT") bytes)"
