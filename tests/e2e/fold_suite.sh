#!/bin/sh
# fold over every model of the ONNX backend test suite (libonnx-testdata) that our executor runs
# and that fold changes: folded outputs must equal the unfolded ones within 1e-5 relative and
# match the expected outputs (ONNX tolerance). Under ASan (BUILD=build-asan) a quarter run.
BUILD=${BUILD:-build}
ROOT=/usr/share/libonnx-testdata/data
TOOL=$BUILD/tools/fold_check
[ -d "$ROOT/node" ] || { echo "libonnx-testdata is not installed ($ROOT)"; exit 77; }
[ -x "$TOOL" ] || { echo "$TOOL is not built"; exit 1; }
sample=1
case "$BUILD" in *asan*) sample=4 ;; esac
# (ci) say when a subset runs; `make test` runs the whole suite
[ $sample = 1 ] || echo "ASan subset: every ${sample}th test of the suite"
out=$("$TOOL" --root "$ROOT" --sample $sample 2>&1)
rc=$?
echo "$out" | tail -n 40
[ $rc -eq 0 ] || { echo "fold_suite: failures above"; exit 1; }
echo "$out" | grep -q '^fold touched [1-9][0-9]* models: [0-9]* passed, 0 failed' ||
  { echo "fold_suite: fold touched no model (expected BatchNorm/Identity/constant cases)"; exit 1; }
exit 0
