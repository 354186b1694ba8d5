#!/bin/sh
# `kompress info --json` against Debian's python3-onnx (tests/e2e/info_vs_onnx.py): parameter
# counts per dtype, op histograms, every shape onnx.shape_inference infers (on a copy without
# value_info, so both sides infer), MACs recomputed from onnx's shapes, and inferred output
# shapes against the real outputs stored with the test data. Models: a generated CNN with
# BatchNorm, a Constant-node weight and If-branch weights; torch-exported CNN/attention/LSTM
# (when python3-torch is installed); the demo project's models (examples/); every model of
# libonnx-testdata (node, pytorch-converted, pytorch-operator, simple). Under ASan
# (BUILD=build-asan) the node suite is sampled (every 6th model).
set -u
BUILD=${BUILD:-build}
KOMPRESS=${KOMPRESS:-$(pwd)/$BUILD/kompress}
DATA=/usr/share/libonnx-testdata/data
here=$(dirname "$0")
[ -d "$DATA/node" ] || { echo "libonnx-testdata is not installed ($DATA)"; exit 77; }
/usr/bin/python3 -c 'import onnx, numpy' 2>/dev/null ||
  { echo "skip: /usr/bin/python3 with onnx and numpy is needed"; exit 77; }
[ -x "$KOMPRESS" ] || { echo "missing $KOMPRESS"; exit 1; }
list=$(mktemp)
trap 'rm -f "$list"' EXIT INT TERM
# the demo project's trained Fashion-MNIST CNN (BatchNorm kept) and MLP, when present
find "$here/../../examples" -name '*.onnx' 2>/dev/null | sort >"$list"
find "$DATA/pytorch-converted" "$DATA/pytorch-operator" "$DATA/simple" -name model.onnx | sort >>"$list"
step=1
case "$BUILD" in *asan*) step=6 ;; esac
find "$DATA/node" -name model.onnx | sort | awk -v s=$step 'NR % s == 0' >>"$list"
# (ci) say when a subset runs; `make test` checks every model
[ $step = 1 ] || echo "ASan subset: every ${step}th node model, $(wc -l <"$list") models in all"
# shellcheck disable=SC2046
/usr/bin/python3 "$here/info_vs_onnx.py" "$KOMPRESS" $(cat "$list")
