#!/bin/sh
# Runs the ONNX backend conformance tests (libonnx-testdata) through our executor. Fails if any
# test whose ops all have kernels fails. tests/conformance/RESULTS.md is regenerated with:
#   build/tools/conformance --results tests/conformance/RESULTS.md
BUILD=${BUILD:-build}
ROOT=/usr/share/libonnx-testdata/data
TOOL=$BUILD/tools/conformance
[ -d "$ROOT/node" ] || { echo "libonnx-testdata is not installed ($ROOT)"; exit 77; }
[ -x "$TOOL" ] || { echo "$TOOL is not built"; exit 1; }
sample=1 # the whole suite takes seconds, under ASan too
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$TOOL" --root "$ROOT" --sample $sample --results "$out/RESULTS.md" >"$out/log" 2>&1
rc=$?
grep -v '^SKIP' "$out/log" | tail -n 60
[ $rc -eq 0 ] || { echo "conformance: failures above"; exit 1; }
tail -n 1 "$out/log" | grep -q ' passed, 0 failed' || { echo "conformance: no summary line"; exit 1; }
# Our own extra cases (tests/conformance/gen_extra.py): bidirectional/batch-major/sequence_lens
# recurrent layers checked against PyTorch.
EXTRA=$(cd "$(dirname "$0")/../conformance/extra" && pwd)
"$TOOL" --root "$EXTRA" >"$out/log2" 2>&1 || { cat "$out/log2"; echo "conformance (extra): failures above"; exit 1; }
tail -n 1 "$out/log2"
exit 0
