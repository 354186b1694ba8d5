#!/bin/sh
# kompress eval on the demo models over the 10k Fashion-MNIST test set: top-1 must equal what
# PyTorch reported (examples/fashion-mnist/pytorch_accuracy.json, +-0.05 point) and the CNN must
# reach 91%. Bad data (shape, dtype, truncation, label count, CSV text cell, missing ops) must
# exit 1 with a message naming the problem.
set -u
K=${KOMPRESS:?}
PY=/usr/bin/python3
EX=examples/fashion-mnist
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST (dataset-fashion-mnist)"; exit 77; }
[ -x $PY ] && $PY -c "import numpy, onnx" 2>/dev/null || { echo "needs python3 with numpy and onnx"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

for m in cnn mlp; do
  if ! "$K" eval "$EX/$m.onnx" --project "$EX/project.json" --runs 3 --warmup 1 --json > "$T/$m.json" 2> "$T/$m.err"; then
    bad "eval $m failed: $(cat "$T/$m.err")"; continue
  fi
  $PY - "$T/$m.json" "$EX/pytorch_accuracy.json" "$m" <<'PYEOF' || fail=1
import json, sys
r = json.load(open(sys.argv[1])); ref = json.load(open(sys.argv[2]))[sys.argv[3]]
top1, want = r["accuracy"]["top1"], ref["top1"]
print(f"{sys.argv[3]}: kompress top-1 {top1:.2f}% ({r['accuracy']['correct']}/{r['accuracy']['samples']}), PyTorch {want:.2f}%, "
      f"batch-1 median {r['latency']['batch1']['median_ms']:.3f} ms, {r['macs_per_sample']:.0f} MACs")
ok = abs(top1 - want) <= 0.05 and r["accuracy"]["samples"] == 10000
if sys.argv[3] == "cnn": ok = ok and top1 >= 91.0
assert r["size"]["file_bytes"] > r["size"]["gzip_bytes"] > 0
assert r["memory"]["weight_bytes"] > 0 and r["memory"]["peak_activation_bytes_batch1"] > 0
sys.exit(0 if ok else 1)
PYEOF
done

# Human output names every metric.
"$K" eval "$EX/mlp.onnx" --project "$EX/project.json" --limit 500 --runs 2 > "$T/h.txt" 2>&1 || bad "human eval failed"
for w in "top-1" "top-5" "batch 1: median" "batch 64: median" "gzipped" "peak activations" "MACs per sample"; do
  grep -q "$w" "$T/h.txt" || bad "human output lacks '$w'"
done

# The same 500 test images written by numpy in every format score what the IDX files score.
$PY - "$T" <<'PYEOF'
import gzip, sys, numpy as np
t = sys.argv[1]
def idx(path):
    d = gzip.open(path).read()
    nd = d[3]
    dims = [int.from_bytes(d[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(d, np.uint8, offset=4 + 4 * nd).reshape(dims)
x = idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")[:500]
y = idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")[:500].astype(np.int64)
np.save(f"{t}/x.npy", x.reshape(500, 1, 28, 28))
np.save(f"{t}/y.npy", y)
np.save(f"{t}/xf64_nhwc.npy", x.reshape(500, 28, 28, 1).astype(np.float64))
np.savez(f"{t}/s.npz", images=x, labels=y)
np.savez_compressed(f"{t}/c.npz", images=x, labels=y)
with open(f"{t}/d.csv", "w") as f:
    f.write(",".join(f"pixel{i}" for i in range(784)) + ",label\n")
    for r in range(500):
        f.write(",".join(str(v) for v in x[r].ravel()) + f",{y[r]}\n")
PYEOF
P="--scale 1/255 --mean 0.286 --std 0.353 --no-latency"
"$K" eval "$EX/cnn.onnx" --project "$EX/project.json" --limit 500 --no-latency > "$T/ref.txt" || bad "IDX 500"
want=$(grep '^accuracy' "$T/ref.txt")
for args in "--data $T/x.npy --labels $T/y.npy" "--data $T/xf64_nhwc.npy --labels $T/y.npy --layout nhwc" \
            "--data $T/s.npz" "--data $T/c.npz" "--data $T/d.csv" "--data $T/d.csv --label-column label --batch 7"; do
  # shellcheck disable=SC2086
  got=$("$K" eval "$EX/cnn.onnx" $args $P 2>&1 | grep '^accuracy')
  [ "$got" = "$want" ] && echo "ok: $args: $got" || bad "$args: '$got', IDX gives '$want'"
done

# Progress bar on stderr only when stderr is a terminal (script(1) gives it one).
if command -v script >/dev/null; then
  script -qec "$K eval $EX/mlp.onnx --project $EX/project.json --limit 2000 --no-latency" /dev/null > "$T/tty.txt" 2>&1
  grep -q "evaluating \[.*/2000 samples" "$T/tty.txt" || bad "no progress bar on a terminal"
  "$K" eval "$EX/mlp.onnx" --project "$EX/project.json" --limit 2000 --no-latency 2> "$T/notty.txt" > /dev/null
  [ ! -s "$T/notty.txt" ] || bad "progress written to a non-terminal: $(cat "$T/notty.txt")"
fi

# Without labels: agreement with a reference model's outputs.
"$K" eval "$EX/cnn.onnx" --data "$T/x.npy" --reference "$EX/cnn.onnx" $P > "$T/ref1.txt" 2>&1 || bad "--reference: $(cat "$T/ref1.txt")"
grep -q "agreement top-1 100.00% (500/500 rows)  max abs error 0  cosine 1.000000" "$T/ref1.txt" || bad "self-agreement: $(cat "$T/ref1.txt")"
"$K" eval "$EX/mlp.onnx" --data "$T/x.npy" --reference "$EX/cnn.onnx" $P --json > "$T/ref2.json" 2>&1 || bad "--reference mlp"
$PY -c "
import json, sys; a = json.load(open('$T/ref2.json'))['accuracy']
print(f'MLP vs CNN on 500 images: agreement {a[\"agreement\"]:.1f}%, cosine {a[\"cosine\"]:.3f}')
sys.exit(0 if 70 < a['agreement'] < 100 and a['rows'] == 500 and a['max_abs_error'] > 0.01 else 1)" || bad "MLP vs CNN agreement"

# Bad data: exit 1 and a clear message.
$PY - "$T" <<'PYEOF'
import sys, numpy as np, onnx
from onnx import helper, TensorProto
t = sys.argv[1]
np.save(f"{t}/shape.npy", np.zeros((4, 3, 32, 32), np.float32))
np.save(f"{t}/dtype.npy", np.zeros((4, 1, 28, 28), np.complex64))
np.save(f"{t}/ok.npy", np.zeros((4, 1, 28, 28), np.float32))
np.save(f"{t}/lab3.npy", np.zeros(3, np.int64))
d = open(f"{t}/ok.npy", "rb").read(); open(f"{t}/trunc.npy", "wb").write(d[:-7])
rows = ["label," + ",".join(f"p{i}" for i in range(784))]
for r in range(3):
    cells = ["0"] * 784
    if r == 1: cells[99] = "n/a"
    rows.append("1," + ",".join(cells))
open(f"{t}/stray.csv", "w").write("\n".join(rows) + "\n")
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
g = helper.make_graph([helper.make_node("Relu", ["x"], ["h"]), helper.make_node("FrobOp", ["h"], ["y"], domain="com.example")], "g", [x], [y])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)]), f"{t}/missing.onnx")
m = onnx.load("examples/fashion-mnist/mlp.onnx")
for v in list(m.graph.input) + list(m.graph.output):
    v.type.tensor_type.shape.dim[0].dim_value = 7
onnx.save(m, f"{t}/mlp_b7.onnx")
m = onnx.load("examples/fashion-mnist/cnn.onnx")
m.graph.node.append(helper.make_node("ArgMax", ["logits"], ["cls"], axis=1, keepdims=0))
del m.graph.output[:]
m.graph.output.append(helper.make_tensor_value_info("cls", TensorProto.INT64, ["N"]))
onnx.save(m, f"{t}/cnn_argmax.onnx")
PYEOF
# A classifier that ends in ArgMax is scored on its class indices.
"$K" eval "$T/cnn_argmax.onnx" --project "$EX/project.json" --limit 1000 --no-latency > "$T/am.txt" 2>&1 || bad "ArgMax model: $(cat "$T/am.txt")"
"$K" eval "$EX/cnn.onnx" --project "$EX/project.json" --limit 1000 --no-latency > "$T/am_ref.txt" 2>&1
[ "$(grep -o 'top-1 [0-9.]*% ([0-9/]*)' "$T/am.txt")" = "$(grep -o 'top-1 [0-9.]*% ([0-9/]*)' "$T/am_ref.txt")" ] || bad "ArgMax model scores differently: $(cat "$T/am.txt")"
# A model with a fixed batch of 7: batches are padded to 7, 300 samples still scored.
"$K" eval "$T/mlp_b7.onnx" --project "$EX/project.json" --limit 300 --runs 2 > "$T/b7.txt" 2>&1 || bad "fixed-batch model: $(cat "$T/b7.txt")"
grep -q "(2[0-9][0-9]/300)" "$T/b7.txt" && grep -q "batch 7: median" "$T/b7.txt" || bad "fixed-batch model output: $(cat "$T/b7.txt")"
expect_fail() { # args: expected-substring, eval args...
  want=$1; shift
  "$K" eval "$@" --no-latency > "$T/out" 2> "$T/err"; rc=$?
  if [ $rc -ne 1 ]; then bad "exit $rc (want 1) for: $*"; cat "$T/err"; return; fi
  grep -qF -- "$want" "$T/err" || bad "message for '$*' lacks '$want': $(cat "$T/err")"
  echo "ok: $(cat "$T/err")"
}
expect_fail "wrong shape" "$EX/cnn.onnx" --data "$T/shape.npy"
expect_fail "dtype '<c8' not supported" "$EX/cnn.onnx" --data "$T/dtype.npy"
expect_fail "truncated" "$EX/cnn.onnx" --data "$T/trunc.npy"
expect_fail "has 4 samples but" "$EX/cnn.onnx" --data "$T/ok.npy" --labels "$T/lab3.npy"
expect_fail "row 3, column 101 (p99): 'n/a' is not a number" "$EX/mlp.onnx" --data "$T/stray.csv"
expect_fail "com.example:FrobOp" "$T/missing.onnx" --data "$T/ok.npy"
expect_fail "No such file" "$EX/cnn.onnx" --data "$T/nothere.npy"
head -c 100000 /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz > "$T/cut.gz"
expect_fail "cut.gz" "$EX/cnn.onnx" --data "$T/cut.gz" --scale 1/255
"$K" eval --help > /dev/null || bad "--help"
"$K" eval "$EX/cnn.onnx" > /dev/null 2>&1; [ $? -eq 2 ] || bad "missing --data is not a usage error"
exit $fail
