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
W=$ROOT/weights
if python3 "$ROOT/tools/embed_weights.py" "$W/ar-rgb-mix.idfw" "$W/ar-grey-mix.idfw" "$W/ar-rgb.idfw" "$W/ar-grey.idfw" "$W/ar-alpha-mix.idfw" "$W/ar-icon-rgb-mix.idfw" |
    cmp -s - "$ROOT/model/builtin_weights.c"; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "model/builtin_weights.c differs from tools/embed_weights.py of weights/ar-{rgb-mix,grey-mix,rgb,grey,alpha-mix,icon-rgb-mix}.idfw"
fi
echo "generated: $pass passed, $fail failed"
[ $fail -eq 0 ]
