#!/bin/sh
# tools/setup.sh         install what is missing, build, and round-trip a sample image
# tools/setup.sh test    the same, plus test-only packages and the whole test suite
#                        (gcc, the trainer's tests, clang, and gcc with
#                        AddressSanitizer + UBSan), the
#                        codec comparison on two small images (make bench-codecs-smoke),
#                        then each libFuzzer target for 60 seconds (make fuzz)
#
# Debian 12; uses apt-get (through sudo when not root) only for packages that
# are not installed yet.
set -eu
cd "$(dirname "$0")/.."

BUILD_PACKAGES="make gcc libc6-dev pkg-config libpng-dev zlib1g-dev libdeflate-dev"
TEST_PACKAGES="clang python3 python3-torch python3-numpy pkg-config man-db python3-dev python3-pil
  python3-pytest libgdk-pixbuf-2.0-dev libgdk-pixbuf2.0-bin shared-mime-info"
# make bench-codecs: the peer codecs' tools, GNU time (peak memory), the plot
BENCH_PACKAGES="webp libjxl-tools optipng zopfli libopenjp2-tools libjpeg-tools time python3-matplotlib"

install_missing() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "setup: installing$missing"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
}

JOBS=$(nproc 2>/dev/null || echo 2)
case "${1:-}" in
"")
    install_missing $BUILD_PACKAGES
    make -j"$JOBS"
    make -j"$JOBS" demo
    ;;
test)
    install_missing $BUILD_PACKAGES $TEST_PACKAGES
    install_missing $BENCH_PACKAGES ||
        echo "setup: not every bench-codecs peer could be installed; the missing ones are skipped"
    make -j"$JOBS" test
    make -j"$JOBS" test-trainer
    make -j"$JOBS" CC=clang BUILDDIR=build-clang test
    make -j"$JOBS" asan-test
    echo "setup: all test configurations passed (gcc, clang, gcc+asan/ubsan, trainer)"
    # Every peer on two small images, one run; a missing peer is only a note.
    make -j"$JOBS" bench-codecs-smoke
    echo "setup: codec comparison smoke passed"
    # Five targets one after the other, a minute each, plus the build.
    make -j"$JOBS" fuzz FUZZ_SECONDS=60
    echo "setup: fuzzing found nothing"
    ;;
*)
    echo "usage: tools/setup.sh [test]" >&2
    exit 2
    ;;
esac
