#!/bin/sh
# test_determinism.sh BUILDDIR — the .idf bytes depend on nothing but the
# input: not on the compiler, the optimisation level, the instruction set,
# the conv kernel (SIMD or IDFZIP_KERNELS=portable) or the thread count.
# Builds the CLI three ways (gcc -O0, gcc -O3
# -march=native, clang -O2; each in its own build-det-* folder, which make
# keeps up to date like any other build folder), compresses the same images
# with each build at -T 1, -T 2 and -T 1 with portable kernels, with the
# model forced (--no-store), and
# requires every .idf to be byte-identical; then each build decodes the
# other builds' files back to the original pixels.  Uses BUILDDIR's
# make_random_model (for one image coded with a random tiny-rgb flow) and
# pngcmp.  Nothing is kept between runs except the build folders.
set -u
B=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
PNGCMP=$B/tests/pngcmp
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# name compiler flags: one line each.
CONFIGS="gcc-O0 gcc -O0
gcc-O3-native gcc -O3 -march=native
clang-O2 clang -O2"

# Builds only the CLI.  The caller's make variables (MAKEFLAGS, e.g. the
# sanitizer LDFLAGS of make asan-test) must not leak into these builds.
build() { # build NAME CC CFLAGS...
    name=$1 cc=$2
    shift 2
    (cd "$ROOT" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL nice -n 19 \
        make -j1 BUILDDIR="build-det-$name" CC="$cc" CFLAGS="$*" LDFLAGS= \
        "build-det-$name/idfzip") >"$T/build-$name.log" 2>&1
}

built=""
while read -r name cc flags; do
    if ! command -v "$cc" >/dev/null 2>&1; then
        echo "determinism: $cc not installed, skipping the $name build"
        continue
    fi
    if build "$name" "$cc" $flags; then
        ok
        built="$built $name"
    else
        bad "build $name ($cc $flags)"
        tail -n 20 "$T/build-$name.log"
    fi
done <<EOF
$CONFIGS
EOF

# The images: two photos, two PngSuite files (palette, 16-bit RGBA), and a
# 600x20 image of three tiles (so that -T 2 really splits the work), coded
# with the built-in model, with the embedded AR priors named (small images
# chosen automatically may fall back to baseline-v3) and with a random flow
# model.
"$B/tests/support/make_random_model" tiny-rgb 1 "$T/tiny-rgb.idfw" || bad "make_random_model"
# Triples NAME PNG MODEL ("-": the built-in model); no spaces in paths.
IMAGES="camera $HERE/data/photos/camera.png -
chelsea $HERE/data/photos/chelsea.png -
basn3p04 $HERE/data/pngsuite/basn3p04.png -
basn6a16 $HERE/data/pngsuite/basn6a16.png -
tiles $HERE/golden/tiles-rgb8.png -
tiles-ar $HERE/golden/tiles-rgb8.png ar-rgb
camera-ar $HERE/data/photos/camera.png ar-grey
tiles-mix $HERE/golden/tiles-rgb8.png ar-rgb-mix
camera-mix $HERE/data/photos/camera.png ar-grey-mix
screen $HERE/golden/match-screen-rgba8.png -
screen-match $HERE/golden/match-screen-rgba8.png match-v1
tiles-match $HERE/golden/tiles-rgb8.png match-v1
screen-v2 $HERE/golden/match-v2-screen-rgba8.png match-v2
wide-v2 $HERE/golden/match-v2-tiles-rgb8.png match-v2
palette-v2 $HERE/golden/match-v2-palette-trns.png match-v2
palette-luma $HERE/golden/match-v2-palette-text.png ar-grey-mix
icon-rgba $HERE/golden/idf2-ar-rgba-mix-icon.png ar-rgba-mix
greyalpha-pair $HERE/golden/greyalpha8.png ar-ga-mix
rgb16-scaled $HERE/golden/idf3-scaled-chelsea-rgb16.png -
grey16-scaled $HERE/golden/idf3-scaled-camera-grey16.png -
tiles-flow $HERE/golden/tiles-rgb8.png $T/tiny-rgb.idfw
chelsea-flow $HERE/data/photos/chelsea.png $T/tiny-rgb.idfw"

model_option() { [ "$1" = - ] || echo "--model $1"; }

compress_all() { # compress_all BUILD VARIANT OUTDIR (VARIANT: 1, 2 or 1p)
    mkdir -p "$3"
    set -- "$@" $IMAGES
    idfzip=$ROOT/build-det-$1/idfzip threads=${2%p} out=$3
    kernels=auto
    [ "$threads" = "$2" ] || kernels=portable
    shift 3
    while [ $# -ge 3 ]; do
        if ! IDFZIP_KERNELS=$kernels "$idfzip" compress -q -f --no-store -T "$threads" \
            $(model_option "$3") "$2" -o "$out/$1.idf"; then
            bad "$1: compress with $idfzip -T $threads"
        fi
        shift 3
    done
}

reference=""
for name in $built; do
    for variant in 1 2 1p; do
        dir=$T/$name-T$variant
        compress_all "$name" "$variant" "$dir"
        [ -z "$reference" ] && reference=$dir && continue
        for f in "$reference"/*.idf; do
            if cmp -s "$f" "$dir/$(basename "$f")"; then ok; else
                bad "$(basename "$f"): $name -T $variant differs from $(basename "$reference")"
            fi
        done
    done
done

# Each build decodes every other build's files to the original pixels.
decode_others() { # decode_others BUILD
    self=$1
    idfzip=$ROOT/build-det-$self/idfzip
    for other in $built; do
        [ "$other" = "$self" ] && continue
        set -- $IMAGES
        while [ $# -ge 3 ]; do
            png=$T/decoded.png
            rm -f "$png"
            if "$idfzip" decompress -q -f $(model_option "$3") "$T/$other-T1/$1.idf" -o "$png" &&
                "$PNGCMP" "$2" "$png"; then ok; else
                bad "$1: $idfzip does not decode the $other file to the original"
            fi
            shift 3
        done
    done
}
for name in $built; do
    decode_others "$name"
done

echo "determinism: $pass passed, $fail failed"
[ $fail -eq 0 ]
