#!/bin/sh
# test_generated.sh ROOT — checked-in generated files match their generators.
ROOT=${1:-.}
pass=0 fail=0
if python3 "$ROOT/tools/gen_dl_constants.py" | cmp -s - "$ROOT/rans/dl_constants.h"; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "rans/dl_constants.h differs from tools/gen_dl_constants.py output"
fi
# The embedded defaults (README, Models; weights/README.md).
if python3 "$ROOT/tools/embed_weights.py" "$ROOT/weights/ar-rgb.idfw" "$ROOT/weights/ar-grey.idfw" |
    cmp -s - "$ROOT/model/builtin_weights.c"; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "model/builtin_weights.c differs from tools/embed_weights.py of weights/ar-rgb.idfw weights/ar-grey.idfw"
fi
echo "generated: $pass passed, $fail failed"
[ $fail -eq 0 ]
