#!/bin/sh
# tools/make_fixtures.sh — rebuilds tests/data/photos from Debian's
# python3-skimage sample images (BSD-licensed, see its copyright file),
# box-downscaled so the fixtures stay small and free of sensor noise.
# Needs apt-get (download only, nothing is installed) and a built tree.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILDDIR:-$ROOT/build}
make -C "$ROOT" "$B/tools/box_downscale" >/dev/null
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
(cd "$T" && apt-get download python3-skimage >/dev/null && dpkg -x python3-skimage_*.deb x)
D=$(find "$T/x" -type d -path '*skimage/data' | head -n 1)
OUT=$ROOT/tests/data/photos
mkdir -p "$OUT"
# name factor
while read -r name factor; do
    "$B/tools/box_downscale" "$factor" "$D/$name.png" "$OUT/$name.png"
done <<LIST
chelsea 2
coffee 4
astronaut 4
camera 4
LIST
(cd "$OUT" && sha256sum *.png >SHA256SUMS)
cat "$OUT/SHA256SUMS"
