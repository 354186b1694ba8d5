#!/bin/sh
# Our executor and ONNX Runtime agree within 1e-4 (max abs) on the demo models (batch 1 and 64
# of Fashion-MNIST test images) and the suite's largest conv net, and `kompress eval
# --save-preds` predicts the same class as ORT (tests/bench/ort_eval.js) on 2000 test images.
# Skips when onnxruntime-node cannot be installed (tests/bench/setup.sh needs npm).
set -u
PY=/usr/bin/python3
BUILD=${BUILD:-build}
KP_RUN=$BUILD/tools/kp_run
[ -x "$KP_RUN" ] || { echo "$KP_RUN not built"; exit 1; }
command -v node >/dev/null || { echo "node not installed"; exit 77; }
$PY -c "import numpy, onnx" 2>/dev/null || { echo "needs python3 numpy and onnx"; exit 77; }
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST"; exit 77; }
sh tests/bench/setup.sh >/dev/null 2>&1 || { echo "onnxruntime-node not available (npm install failed)"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
$PY - "$T" <<'PYEOF'
import gzip, sys, numpy as np
d = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
x = np.frombuffer(d, np.uint8, offset=16).reshape(-1, 1, 28, 28)[:200]
x = (x.astype(np.float32) * np.float32(1 / 255) - np.float32(0.286)) / np.float32(0.353)
np.save(f"{sys.argv[1]}/b1.npy", np.ascontiguousarray(x[:1]))
np.save(f"{sys.argv[1]}/b64.npy", np.ascontiguousarray(x[100:164]))
import onnx
from onnx import numpy_helper
t = onnx.TensorProto()
t.ParseFromString(open("/usr/share/libonnx-testdata/data/pytorch-operator/test_operator_conv/test_data_set_0/input_0.pb", "rb").read())
np.save(f"{sys.argv[1]}/conv.npy", numpy_helper.to_array(t))
PYEOF
fail=0
check() { # model input
  mkdir -p "$T/a" "$T/b"; rm -f "$T"/a/* "$T"/b/*
  "$KP_RUN" "$1" --in "$2" --runs 1 --warmup 0 --out "$T/a" > /dev/null || { echo "FAIL: kp_run $1"; fail=1; return; }
  node tests/bench/ort_run.js "$1" --in "$2" --runs 1 --warmup 0 --out "$T/b" > /dev/null || { echo "FAIL: ort_run $1"; fail=1; return; }
  $PY - "$T/a" "$T/b" "$1 $(basename "$2")" <<'PYEOF' || fail=1
import glob, os, sys, numpy as np
worst = 0.0
files = sorted(glob.glob(sys.argv[1] + "/output_*.npy"))
assert files, "no outputs"
for a in files:
    x, y = np.load(a), np.load(os.path.join(sys.argv[2], os.path.basename(a)))
    assert x.shape == y.shape, (x.shape, y.shape)
    worst = max(worst, float(np.abs(x.astype(np.float64) - y).max()))
print(f"{sys.argv[3]}: max abs diff vs ONNX Runtime {worst:.2e}")
sys.exit(0 if worst <= 1e-4 else 1)
PYEOF
}
for m in cnn mlp; do
  check examples/fashion-mnist/$m.onnx "$T/b1.npy"
  check examples/fashion-mnist/$m.onnx "$T/b64.npy"
done
check /usr/share/libonnx-testdata/data/pytorch-operator/test_operator_conv/model.onnx "$T/conv.npy"
K=${KOMPRESS:-$BUILD/kompress}
for m in cnn mlp; do
  "$K" eval examples/fashion-mnist/$m.onnx --project examples/fashion-mnist/project.json --limit 2000 \
    --no-latency --save-preds "$T/$m.npy" > "$T/$m.txt" || { echo "FAIL: eval $m"; fail=1; continue; }
  ours=$(sed -n 's/^accuracy  top-1 \([0-9.]*\)%.*/\1/p' "$T/$m.txt")
  node tests/bench/ort_eval.js examples/fashion-mnist/$m.onnx --limit 2000 --preds "$T/$m.npy" --json > "$T/$m.json" || { echo "FAIL: ort_eval $m"; fail=1; continue; }
  $PY - "$T/$m.json" "$ours" "$m" <<'PYEOF' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{sys.argv[3]}: kompress top-1 {sys.argv[2]}%, ORT {r['top1']:.2f}%, same class on {r['agree']}/{r['samples']}")
sys.exit(0 if r["agree"] == r["samples"] and abs(r["top1"] - float(sys.argv[2])) < 1e-9 else 1)
PYEOF
done
exit $fail
