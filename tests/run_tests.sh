#!/bin/sh
# run_tests.sh BUILDDIR [trainer] — runs every test program and script
# (`make test`), or with "trainer" the trainer's tests, which need Debian's
# python3-torch (`make test-trainer`), then prints one closing line
# "N passed, N failed" summed over all of them.
# Each test prints its own closing line "name: N passed, N failed".
set -u
B=${1:-build}
SUITE=${2:-library}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

status=0
run() {
    # A test that crashes or exits non-zero without a closing line still
    # counts as a failure.
    "$@" >"$LOG.one" 2>&1
    rc=$?
    cat "$LOG.one"
    if grep -Eq '^[a-z_]+: [0-9]+ passed, [0-9]+ failed$' "$LOG.one"; then
        grep -E '^[a-z_]+: [0-9]+ passed, [0-9]+ failed$' "$LOG.one" >>"$LOG"
    else
        echo "$1: 0 passed, 1 failed" >>"$LOG"
        echo "$1: no closing line (exit $rc)"
    fi
    [ $rc -eq 0 ] || status=1
    rm -f "$LOG.one"
}

if [ "$SUITE" = trainer ]; then
    # The trainer's exact emulation against the C model.
    run /usr/bin/python3 "$ROOT/tools/train/test_export.py" "$B"
    # The AR prior: trainer and C agree on every mean and scale; coded size vs NLL.
    run /usr/bin/python3 "$ROOT/tools/train/test_ar.py" "$B"
    # The trainer's plumbing: corpus pack, SIGTERM checkpoint and resume.
    run /usr/bin/python3 "$ROOT/tools/train/test_trainer.py" "$B"
else
    run "$B/tests/test_rans"
    run "$B/tests/test_dl"
    run "$B/tests/test_container"
    run "$B/tests/test_nn"
    run "$B/tests/test_idfw"
    run "$B/tests/test_flow"
    run "$B/tests/test_predictor"
    run "$B/tests/test_png" "$HERE/data/pngsuite"
    run "$B/tests/test_codec" "$HERE/data/pngsuite" "$HERE/golden"
    run "$B/tests/test_regressions" "$HERE/regressions"
    run "$B/tests/test_nomem" "$HERE/data"
    run sh "$HERE/test_cli_nomem.sh" "$B"
    run sh "$HERE/test_generated.sh" "$ROOT"
    run sh "$HERE/test_cli.sh" "$B"
    run sh "$HERE/test_digits.sh" "$B"
    run sh "$HERE/test_determinism.sh" "$B"
    run sh "$HERE/test_install.sh" "$B"
    # The Python module, the gdk-pixbuf loader and their install (mk/bindings.mk)
    run sh "$HERE/python/run_pytest.sh" "$B"
    run sh "$HERE/test_pixbuf.sh" "$B"
    run sh "$HERE/test_bindings_install.sh" "$B"
fi

passed=$(awk '{p += $2} END {print p + 0}' "$LOG")
failed=$(awk '{f += $4} END {print f + 0}' "$LOG")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ $status -eq 0 ]
