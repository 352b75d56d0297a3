#!/bin/sh
# run_fuzz.sh BUILDDIR SECONDS TARGET... — runs each libFuzzer target for
# SECONDS seconds, one after the other, starting from its checked-in seeds
# (tests/fuzz/corpus/TARGET) plus what earlier runs found
# (BUILDDIR/corpus/TARGET, which is also where new inputs go; the checked-in
# corpus is never written).  Prints the executions each target reached and
# "fuzz: N passed, N failed"; a crash, leak, sanitizer report, timeout or
# broken invariant fails its target and leaves the input under
# BUILDDIR/artifacts/.
set -u
B=$1
SECONDS_EACH=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$B/artifacts"
pass=0 fail=0

# Longest input per target: room for the seeds, small enough that one
# input cannot take long.
max_len() {
    case $1 in
    fuzz_idf) echo 8192 ;;      # golden seeds are up to ~6 KB
    fuzz_idfw) echo 24576 ;;    # the tiny-rgb model is ~19 KB
    fuzz_png) echo 4096 ;;      # PngSuite seeds are up to ~3.5 KB
    *) echo 1024 ;;             # round trips: bytes past the end are generated
    esac
}

for t in "$@"; do
    work="$B/corpus/$t"
    log="$B/artifacts/$t.log"
    mkdir -p "$work"
    "$B/tests/fuzz/$t" -max_total_time="$SECONDS_EACH" -max_len="$(max_len "$t")" \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$B/artifacts/$t-" \
        "$work" "$HERE/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    if [ $rc -eq 0 ] && [ -n "$execs" ]; then
        pass=$((pass + 1))
        echo "$t: ${execs} execs in ${SECONDS_EACH} s, ${cov:-cov: ?}"
    else
        fail=$((fail + 1))
        echo "$t: FAILED (exit $rc, ${execs:-?} execs); log $log:"
        grep -E 'ERROR|SUMMARY|invariant|Test unit written|runtime error' "$log" | head -n 20
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ $fail -eq 0 ]
