#!/bin/sh
# run_pytest.sh BUILDDIR — the Python bindings' tests (tests/python/test_*.py)
# with Debian's python3 and pytest, on the module built by `make python` in
# BUILDDIR/python.  Builds nothing.  Ends with "python: N passed, N failed".
#
# When IDFZIP_CFLAGS (set by `make test`) holds -fsanitize=..., the module
# is instrumented and python3 is not: the sanitizer runtimes of IDFZIP_CC
# are preloaded, and leak detection is off (the interpreter keeps its
# objects at exit).
set -u
B=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$(dirname "$HERE")")
B_ABS=$(cd "$B" 2>/dev/null && pwd) || { echo "python: no build folder $B"; echo "python: 0 passed, 1 failed"; exit 1; }
if [ ! -f "$B_ABS/python/idfzip/__init__.py" ]; then
    echo "python: $B/python/idfzip is missing (make python)"
    echo "python: 0 passed, 1 failed"
    exit 1
fi
PY=${PYTHON3:-/usr/bin/python3}
if ! "$PY" -c 'import pytest' 2>/dev/null; then
    echo "python: $PY has no pytest (apt-get install python3-pytest)"
    echo "python: 0 passed, 1 failed"
    exit 1
fi

. "$HERE/../uninstrumented.sh"

cd "$ROOT" || exit 1
export PYTHONPATH="$B_ABS/python${PYTHONPATH:+:$PYTHONPATH}"
export IDFZIP_TEST_ROOT="$ROOT"
# No cache folder in the source tree; -p no:cacheprovider.
export PYTHONDONTWRITEBYTECODE=1
uninstrumented "$PY" -m pytest -q -p no:cacheprovider "$HERE"
