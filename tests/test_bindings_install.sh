#!/bin/sh
# test_bindings_install.sh BUILDDIR — `make install-bindings` (mk/bindings.mk)
# on what `make python pixbuf-loader` built in BUILDDIR: staged for packagers
# (DESTDIR, PREFIX=/usr) it puts exactly the expected files, in Debian's
# folders, and registers nothing; into a private prefix it also writes a
# loaders.cache and a mime database with which GdkPixbuf opens .idf, and the
# module imports from there; uninstall-bindings removes it all (the mime
# database that update-mime-database generated stays); INSTALL_BINDINGS=no
# installs nothing.  Never touches the system.  Ends with
# "bindings_install: N passed, N failed".
# shellcheck disable=SC2317 # mk and py run through check, which shellcheck does not follow
set -u
B=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...: the command must succeed
    d=$1; shift
    if "$@" >"$T/check.out" 2>&1; then ok; else bad "$d"; sed 's/^/  /' "$T/check.out"; fi
}
finish() { echo "bindings_install: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

B_ABS=$(cd "$B" 2>/dev/null && pwd) || { bad "no build folder $B"; finish; }
case $B_ABS in
"$ROOT"/*) B_REL=${B_ABS#"$ROOT"/} ;;
*) B_REL=$B_ABS ;;
esac

# make in the source tree, with the build's compiler and flags (so that
# nothing is rebuilt), outside any make that may be running us.
mk() {
    (
        cd "$ROOT" || exit 1
        unset MAKEFLAGS MFLAGS MAKELEVEL
        if [ -n "${IDFZIP_CC+set}" ]; then
            make -s BUILDDIR="$B_REL" CC="$IDFZIP_CC" CFLAGS="${IDFZIP_CFLAGS:-}" \
                LDFLAGS="${IDFZIP_LDFLAGS:-}" "$@"
        else
            make -s BUILDDIR="$B_REL" "$@"
        fi
    )
}
installed() { (cd "$1" && find . \( -type f -o -type l \) | LC_ALL=C sort); }

# Sanitized builds: python3 needs the runtimes preloaded (see tests/python/run_pytest.sh).
. "$HERE/uninstrumented.sh"
py() { uninstrumented "$PY" "$@"; }
PY=/usr/bin/python3
EXT=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
PYV=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
MODDIR=$(pkg-config --variable=gdk_pixbuf_moduledir gdk-pixbuf-2.0)
if [ -z "$EXT" ] || [ -z "$MODDIR" ]; then bad "python3 or gdk-pixbuf-2.0 not found"; finish; fi
for f in "python/idfzip/_idfzip$EXT" pixbuf/libpixbufloader-idf.so pixbuf/pixbuf_load; do
    [ -e "$B_ABS/$f" ] || { bad "$B/$f is missing (make python pixbuf-loader)"; finish; }
done
ROUNDTRIP='import sys
sys.path.insert(0, sys.argv[1])
import idfzip, numpy as np
assert idfzip.__file__.startswith(sys.argv[1]), idfzip.__file__
a = (np.arange(40 * 30 * 3) % 251).astype(np.uint8).reshape(40, 30, 3)
assert np.array_equal(idfzip.decode(idfzip.encode(a)), a)
from PIL import Image
assert Image.registered_extensions()[".idf"] == "IDF"'

# --- staged, for packagers: DESTDIR, PREFIX=/usr ---
S=$T/stage
check "make install-bindings DESTDIR=... PREFIX=/usr" mk install-bindings DESTDIR="$S" PREFIX=/usr
LC_ALL=C sort >"$T/expected" <<EOF
.$MODDIR/libpixbufloader-idf.so
./usr/lib/python3/dist-packages/idfzip/__init__.py
./usr/lib/python3/dist-packages/idfzip/_idfzip$EXT
./usr/lib/python3/dist-packages/idfzip/pillow_plugin.py
./usr/share/mime/packages/idfzip.xml
./usr/share/thumbnailers/idfzip.thumbnailer
EOF
[ -d "$S" ] && installed "$S" >"$T/got"
check "staged files are exactly the expected ones" diff "$T/expected" "$T/got"
check "the staged module imports and round-trips" py -c "$ROUNDTRIP" "$S/usr/lib/python3/dist-packages"
check "the mime entry is installed as is" cmp "$ROOT/pixbuf/idfzip-mime.xml" "$S/usr/share/mime/packages/idfzip.xml"
check "the thumbnailer serves image/x-idf" grep -qx 'MimeType=image/x-idf;' "$S/usr/share/thumbnailers/idfzip.thumbnailer"
check "make uninstall-bindings DESTDIR=... PREFIX=/usr" mk uninstall-bindings DESTDIR="$S" PREFIX=/usr
left=$(installed "$S")
if [ -z "$left" ]; then ok; else bad "left after uninstall-bindings: $left"; fi

# --- a private prefix, DESTDIR empty: registered there ---
P=$T/prefix
check "make install-bindings PREFIX=$P" mk install-bindings PREFIX="$P"
PMOD=$(pkg-config --define-variable=prefix="$P" --variable=gdk_pixbuf_moduledir gdk-pixbuf-2.0)
PSITE=$P/lib/python$PYV/site-packages
for f in "$PMOD/libpixbufloader-idf.so" "$(dirname "$PMOD")/loaders.cache" "$PSITE/idfzip/_idfzip$EXT" \
    "$P/share/mime/packages/idfzip.xml" "$P/share/mime/mime.cache" "$P/share/thumbnailers/idfzip.thumbnailer"; do
    check "installed: ${f#"$P"/}" test -f "$f"
done
check "the prefix's loaders.cache names the installed loader" \
    grep -q "\"$PMOD/libpixbufloader-idf.so\"" "$(dirname "$PMOD")/loaders.cache"
check "the module imports from the prefix and round-trips" py -c "$ROUNDTRIP" "$PSITE"
# GdkPixbuf through what was installed (not the build folder)
"$B_ABS/idfzip" compress -q -f "$HERE/data/photos/camera.png" -o "$T/camera.idf" 2>/dev/null ||
    cp "$HERE/golden/camera-grey8.idf" "$T/camera.idf"
check "GdkPixbuf opens .idf with the prefix's cache and mime database" \
    env GDK_PIXBUF_MODULE_FILE="$(dirname "$PMOD")/loaders.cache" XDG_DATA_HOME="$T/none" \
    XDG_DATA_DIRS="$P/share:/usr/share" "$B_ABS/pixbuf/pixbuf_load" load "$T/camera.idf"
check "make uninstall-bindings PREFIX=$P" mk uninstall-bindings PREFIX="$P"
left=$(installed "$P" | grep -v '^\./share/mime/[^p]')
if [ -z "$left" ]; then ok; else bad "left after uninstall-bindings: $left"; fi

# --- INSTALL_BINDINGS=no: nothing ---
check "make install-bindings INSTALL_BINDINGS=no" mk install-bindings INSTALL_BINDINGS=no DESTDIR="$T/none" PREFIX=/usr
if [ ! -e "$T/none" ]; then ok; else bad "INSTALL_BINDINGS=no installed: $(installed "$T/none")"; fi

finish
