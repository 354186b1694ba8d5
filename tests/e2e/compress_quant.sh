#!/bin/sh
# kompress compress with the quantization passes on the demo models:
#  - bad parameters (unknown pass/param, out-of-range values, data missing, output == input)
#    exit 2 with a message naming the problem, and write nothing;
#  - the input model is never modified (checksum before/after);
#  - quant-dynamic on the MLP and quant-static on the CNN: >= 3.9x smaller, <= 0.3 point top-1
#    drop on the holdout of the first 2000 test images (the 1744 calibration does not use: the
#    JSON says so), outputs pass onnx.checker, and (when the ONNX Runtime harness is installed:
#    sh tests/bench/setup.sh) ORT runs them with the same top-1 (+-0.5) as ours with
#    --score all on all 2000;
#  - too few samples to calibrate and score on others is an error that names --score all;
#  - with --project, compress calibrates on the project's subset (same hash as `kompress run`)
#    and scores the same holdout (same top-1 of the original);
#  - the executor runs the static CNN's layers as int8 kernels, and a residual Add between
#    quantized layers as one int8 kernel (QAdd), a Concat likewise (QConcat), close to the
#    float model;
#  - quant-dynamic keeps the CNN's Conv layers float by default (ONNX Runtime runs ConvInteger
#    slower than float Conv) with a note saying why, and conv=convinteger writes ConvInteger
#    that our executor fuses (ai.kompress:DynQConv); on a model whose only weights are Conv
#    kernels the default is an error that points to quant-static.
set -u
K=${KOMPRESS:?}
PY=/usr/bin/python3
EX=examples/fashion-mnist
D=/usr/share/datasets/fashion-mnist
[ -f $D/t10k-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST (dataset-fashion-mnist)"; exit 77; }
$PY -c "import onnx" 2>/dev/null || { echo "needs python3-onnx"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
sum() { md5sum "$1" | cut -d' ' -f1; }
LIMIT=2000; CAL=256
[ "${BUILD:-build}" = build-asan ] && LIMIT=384 && CAL=128
# (ci) say when a subset runs; `make test` evaluates 2000 images
[ $LIMIT = 2000 ] || echo "ASan subset: evaluations on $LIMIT test images"

before_mlp=$(sum $EX/mlp.onnx); before_cnn=$(sum $EX/cnn.onnx)

# expect_usage NAME PATTERN ARGS...: exit 2, message matches, no output file
expect_usage() {
  name=$1; pat=$2; shift 2
  rm -f "$T/x.onnx"
  "$K" compress "$@" > "$T/out" 2> "$T/err"; rc=$?
  [ $rc -eq 2 ] || bad "$name: exit $rc, want 2 ($(cat "$T/err"))"
  grep -q "$pat" "$T/err" || bad "$name: message '$(cat "$T/err")' lacks '$pat'"
  [ ! -e "$T/x.onnx" ] || bad "$name: wrote an output"
}
expect_usage unknown-pass "valid passes:.*quant-static" $EX/mlp.onnx -o "$T/x.onnx" --pass quant-statik
expect_usage unknown-param "valid: bits, " $EX/mlp.onnx -o "$T/x.onnx" --pass quant-dynamic:colour=red
expect_usage bits-range "bits=9 is out of range (allowed 2..8)" $EX/mlp.onnx -o "$T/x.onnx" --pass quant-static:bits=9
expect_usage percentile-range "percentile=101 is out of range" $EX/mlp.onnx -o "$T/x.onnx" \
  --project $EX/project.json --pass quant-static:method=percentile,percentile=101
expect_usage bad-enum "method=kl is not one of minmax|percentile|entropy" $EX/mlp.onnx -o "$T/x.onnx" \
  --project $EX/project.json --pass quant-static:method=kl
expect_usage no-data "needs calibration data" $EX/cnn.onnx -o "$T/x.onnx" --pass quant-static
expect_usage same-file "is the input model" $EX/mlp.onnx -o $EX/mlp.onnx --pass quant-dynamic
expect_usage no-pass "no --pass" $EX/mlp.onnx -o "$T/x.onnx"
expect_usage bad-score "score is holdout or all" $EX/mlp.onnx -o "$T/x.onnx" --pass quant-dynamic \
  --project $EX/project.json --score some
"$K" compress $EX/mlp.onnx -o "$T/x.onnx" --pass quant-dynamic --project $EX/project.json \
  --limit 1 > "$T/out" 2> "$T/err"
rc=$?
[ $rc -eq 1 ] && grep -q "too few to both calibrate and score.*--score all" "$T/err" ||
  bad "one sample: exit $rc, '$(cat "$T/err")'"

# run NAME MODEL PASS: compress on the first LIMIT test images, check the JSON figures
run() {
  name=$1; model=$2; pass=$3
  if ! "$K" compress "$model" -o "$T/$name.onnx" --pass "$pass" --project $EX/project.json \
       --limit $LIMIT --calib $CAL --runs 3 --json > "$T/$name.json" 2> "$T/$name.err"; then
    bad "$name: compress failed: $(cat "$T/$name.err")"; return
  fi
  $PY - "$T/$name.json" "$T/$name.onnx" "$name" $LIMIT $CAL <<'PYEOF' || fail=1
import json, sys, onnx
r = json.load(open(sys.argv[1])); name = sys.argv[3]
a, b = r["stages"][0], r["stages"][1]
sc = r["scored"]
n, cal = int(sys.argv[4]), int(sys.argv[5])
assert {k: sc[k] for k in ("set", "samples", "of", "calibration_samples")} == \
    {"set": "holdout", "samples": n - cal, "of": n, "calibration_samples": cal}, sc
assert len(sc["calibration_hash"]) == 16 and "note" not in sc, sc
print(f"{name}: {a['bytes']} -> {b['bytes']} bytes ({b['ratio']:.2f}x), top-1 {a['top1']:.2f}% -> "
      f"{b['top1']:.2f}%, agreement {100*b['agreement']:.2f}%, b=1 {a['latency_ms_b1']:.3f} -> "
      f"{b['latency_ms_b1']:.3f} ms")
assert r["ok"] and b["status"] == "ok", b
assert b["ratio"] >= 3.9, f"only {b['ratio']:.3f}x smaller"
# 0.3 point, or one sample when the holdout is small (the ASan subset: 1 of 256 = 0.39)
tol = max(0.3, 100.0 / (n - cal) + 1e-9)
assert a["top1"] - b["top1"] <= tol, f"top-1 dropped more than {tol:.2f} point"
assert b["agreement"] >= 0.99
m = onnx.load(sys.argv[2]); onnx.checker.check_model(m, full_check=True)
PYEOF
  if [ -f tests/bench/scratch/node_modules/onnxruntime-node/package.json ]; then
    # ORT scores all LIMIT images: so do we here (same calibration, same model bytes)
    "$K" compress "$model" -o "$T/$name-all.onnx" --pass "$pass" --project $EX/project.json \
      --limit $LIMIT --calib $CAL --runs 1 --score all --json > "$T/$name-all.json" 2>> "$T/$name.err" ||
      bad "$name: compress --score all failed: $(cat "$T/$name.err")"
    cmp -s "$T/$name.onnx" "$T/$name-all.onnx" || bad "$name: --score all changed the model"
    if node tests/bench/ort_eval.js "$T/$name.onnx" --limit $LIMIT > "$T/$name.ort" 2>&1; then
      $PY - "$T/$name-all.json" "$T/$name.ort" "$name" <<'PYEOF' || fail=1
import json, re, sys
r = json.load(open(sys.argv[1]))
assert r["scored"]["set"] == "all" and r["scored"]["samples"] == r["scored"]["of"], r["scored"]
ours = r["stages"][1]["top1"]
ort = float(re.search(r"top-1 ([0-9.]+)%", open(sys.argv[2]).read()).group(1))
print(f"{sys.argv[3]}: ONNX Runtime top-1 {ort:.2f}% (ours {ours:.2f}%)")
assert abs(ort - ours) <= 0.5, "ONNX Runtime and our engine disagree"
PYEOF
    else
      bad "$name: ONNX Runtime could not run it: $(tail -2 "$T/$name.ort")"
    fi
  fi
}
run mlp-dynamic $EX/mlp.onnx quant-dynamic
run cnn-static $EX/cnn.onnx quant-static

# the executor really runs the int8 layers as int8 kernels (not dequantized to float, e.g. by
# load-time constant evaluation): every Conv/Gemm of the static CNN is a fused QConv/QGemm
NT=${BUILD:-build}/tools/node_times
if [ -x "$NT" ] && [ -f "$T/cnn-static.onnx" ]; then
  "$NT" "$T/cnn-static.onnx" 1 1 > "$T/nt" 2>&1 || bad "node_times failed: $(tail -2 "$T/nt")"
  nq=$(grep -c "ai.kompress:Q\(Conv\|Gemm\)" "$T/nt"); nf=$(grep -c " \(Conv\|Gemm\|DequantizeLinear\) ->" "$T/nt")
  [ "$nq" -eq 6 ] && [ "$nf" -eq 0 ] || bad "executor runs $nq int8 layers of 6 and $nf float Conv/Gemm/DQ: $(cat "$T/nt")"
fi
# ONNX Runtime fuses every quantized layer of the static CNN into its int8 kernels too (QGemm
# needs the weight DequantizeLinear's explicit zero point): its optimized graph has no float
# Conv/Gemm and no DequantizeLinear left
ORTM=tests/bench/scratch/node_modules/onnxruntime-node
if [ -f $ORTM/package.json ] && [ -f "$T/cnn-static.onnx" ]; then
  node -e '
const ort = require(process.argv[1]);
ort.InferenceSession.create(process.argv[2], { intraOpNumThreads: 1, interOpNumThreads: 1,
  graphOptimizationLevel: "all", optimizedModelFilePath: process.argv[3], logSeverityLevel: 3 })
  .catch((e) => { console.error(e.message); process.exit(1); });' "$PWD/$ORTM" "$T/cnn-static.onnx" \
    "$T/cnn-static.ort.onnx" 2> "$T/ortopt.err" || bad "ORT could not optimize: $(cat "$T/ortopt.err")"
  $PY - "$T/cnn-static.ort.onnx" <<'PYEOF' || bad "ONNX Runtime runs some int8 layers in float"
import sys, onnx
ops = [n.op_type for n in onnx.load(sys.argv[1]).graph.node]
print("ORT optimized static CNN:", " ".join(ops))
assert ops.count("QGemm") == 2 and ops.count("QLinearConv") == 4, ops
assert not {"Gemm", "Conv", "DequantizeLinear", "MatMul"} & set(ops), ops
PYEOF
fi
# and the dynamic MLP's DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul -> Add chains as
# one kernel each (ai.kompress:DynQMatMul)
if [ -x "$NT" ] && [ -f "$T/mlp-dynamic.onnx" ]; then
  "$NT" "$T/mlp-dynamic.onnx" 1 1 > "$T/ntd" 2>&1 || bad "node_times failed: $(tail -2 "$T/ntd")"
  nd=$(grep -c "ai.kompress:DynQMatMul" "$T/ntd"); nu=$(grep -c " \(MatMulInteger\|Cast\|DynamicQuantizeLinear\) ->" "$T/ntd")
  [ "$nd" -eq 3 ] && [ "$nu" -eq 0 ] || bad "dynamic MLP: $nd fused layers of 3, $nu unfused nodes: $(cat "$T/ntd")"
fi

# quant-dynamic on the CNN: Conv stays float by default, ConvInteger with conv=convinteger
for spec in quant-dynamic quant-dynamic:conv=convinteger; do
  if "$K" compress $EX/cnn.onnx -o "$T/cd.onnx" --pass $spec --runs 1 > "$T/cd.log" 2>&1; then
    $PY - "$T/cd.onnx" "$T/cd.log" "$spec" <<'PYEOF' || bad "$spec on the CNN: wrong layers"
import sys, onnx
m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True)
ops = [n.op_type for n in m.graph.node]; log = open(sys.argv[2]).read()
assert ops.count("MatMulInteger") == 2 and "Gemm" not in ops, ops
if sys.argv[3] == "quant-dynamic":
    assert ops.count("Conv") == 4 and "ConvInteger" not in ops, ops
    assert "4 Conv kept in float: ONNX Runtime runs ConvInteger slower" in log, log
else:
    assert ops.count("ConvInteger") == 4 and "Conv" not in ops, ops
    assert "kept in float" not in log, log
print(f"{sys.argv[3]} on the CNN: {ops.count('Conv')} Conv float, {ops.count('ConvInteger')} ConvInteger, "
      f"{ops.count('MatMulInteger')} MatMulInteger")
PYEOF
  else
    bad "$spec on the CNN failed: $(tail -3 "$T/cd.log")"
  fi
done
if [ -x "$NT" ] && [ -f "$T/cd.onnx" ]; then # the conv=convinteger CNN, fused by our executor
  "$NT" "$T/cd.onnx" 1 1 > "$T/ntc" 2>&1 || bad "node_times failed: $(tail -2 "$T/ntc")"
  nd=$(grep -c "ai.kompress:DynQConv" "$T/ntc")
  [ "$nd" -eq 4 ] || bad "conv=convinteger CNN: $nd fused DynQConv of 4: $(cat "$T/ntc")"
fi

# With --project and no --calib/--seed, compress calibrates on the project's subset and scores
# the holdout its runs score: same calibration hash, same top-1 of the original as `kompress run`.
mkdir -p "$T/proj" && cp $EX/cnn.onnx $EX/project.json "$T/proj/"
$PY - "$T/proj/project.json" $LIMIT $CAL <<'PYEOF' || bad "could not write the test project"
import json, sys
d = json.load(open(sys.argv[1]))
d["data"]["eval_limit"] = int(sys.argv[2]); d["data"]["calib_samples"] = int(sys.argv[3])
d["plan"] = [{"pass": "fold", "params": "", "enabled": True}]
json.dump(d, open(sys.argv[1], "w"))
PYEOF
if "$K" run "$T/proj" --json > "$T/run.json" 2> "$T/run.err" &&
   "$K" compress $EX/cnn.onnx -o "$T/f.onnx" --pass fold --project "$T/proj/project.json" \
     --runs 1 --json > "$T/f.json" 2> "$T/f.err"; then
  $PY - "$T/proj/project.json" "$T/f.json" $CAL <<'PYEOF' || fail=1
import json, sys
run = json.load(open(sys.argv[1]))["runs"][-1]; c = json.load(open(sys.argv[2]))
sc = c["scored"]
print(f"project: run and compress calibrate on {run['calib_hash']} / {sc['calibration_hash']}, "
      f"original top-1 {run['before']['top1']:.2f}% / {c['stages'][0]['top1']:.2f}% on {sc['samples']} samples")
assert sc["calibration_hash"] == run["calib_hash"], (sc, run["calib_hash"])
assert sc["calibration_samples"] == int(sys.argv[3]) and sc["set"] == "holdout", sc
assert abs(run["before"]["top1"] - c["stages"][0]["top1"]) < 1e-6
PYEOF
else
  bad "project run/compress failed: $(cat "$T/run.err" "$T/f.err")"
fi

# a residual Add between quantized layers runs as one int8 kernel (ai.kompress:QAdd), and the
# quantized model stays close to the float one in our executor
QA=${BUILD:-build}/tools/quant_apply
if [ -x "$NT" ] && [ -x "$QA" ]; then
  $PY tests/e2e/make_residual.py "$T/res.onnx" || bad "cannot build the residual model"
  if "$QA" "$T/res.onnx" "$T/res_q.onnx" --random-calib 4 quant-static > "$T/res.log" 2>&1; then
    cos=$(sed -n 's/.*cosine \([0-9.]*\).*/\1/p' "$T/res.log")
    $PY -c "import sys; sys.exit(0 if float('$cos') > 0.999 else 1)" || bad "residual: cosine $cos"
    "$NT" "$T/res_q.onnx" 2 1 > "$T/res.nt" 2>&1 || bad "node_times on the residual model failed"
    grep -q "ai.kompress:QAdd" "$T/res.nt" && ! grep -q " Add ->" "$T/res.nt" ||
      bad "residual Add not fused to int8: $(cat "$T/res.nt")"
    echo "residual: int8 Add fused, cosine $cos"
  else
    bad "quant-static on the residual model: $(tail -3 "$T/res.log")"
  fi
fi

# the same for a Concat of two quantized branches (ai.kompress:QConcat)
if [ -x "$NT" ] && [ -x "$QA" ]; then
  $PY - "$T/cat.onnx" <<'PYEOF' || bad "cannot build the concat model"
import sys, numpy as np, onnx
from onnx import helper as h, numpy_helper as nh, TensorProto as T
rng = np.random.default_rng(0)
W = lambda n, *s: nh.from_array((0.3 * rng.standard_normal(s)).astype(np.float32), n)
p = dict(pads=[1, 1, 1, 1], kernel_shape=[3, 3])
nodes = [h.make_node("Conv", ["x", "w1"], ["a"], **p), h.make_node("Relu", ["a"], ["ar"]),
         h.make_node("Conv", ["x", "w2"], ["b"], **p), h.make_node("Relu", ["b"], ["br"]),
         h.make_node("Concat", ["ar", "br"], ["c"], axis=1),
         h.make_node("Conv", ["c", "w3"], ["y"], **p)]
g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, ["N", 2, 8, 8])],
                 [h.make_tensor_value_info("y", T.FLOAT, ["N", 3, 8, 8])],
                 [W("w1", 4, 2, 3, 3), W("w2", 4, 2, 3, 3), W("w3", 3, 8, 3, 3)])
m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)]); m.ir_version = 7
onnx.save(m, sys.argv[1])
PYEOF
  if "$QA" "$T/cat.onnx" "$T/cat_q.onnx" --random-calib 4 quant-static > "$T/cat.log" 2>&1; then
    cos=$(sed -n 's/.*cosine \([0-9.]*\).*/\1/p' "$T/cat.log")
    $PY -c "import sys; sys.exit(0 if float('$cos') > 0.999 else 1)" || bad "concat: cosine $cos"
    "$NT" "$T/cat_q.onnx" 2 1 > "$T/cat.nt" 2>&1 || bad "node_times on the concat model failed"
    grep -q "ai.kompress:QConcat" "$T/cat.nt" && ! grep -q " Concat ->" "$T/cat.nt" ||
      bad "Concat not fused to int8: $(cat "$T/cat.nt")"
    echo "concat: int8 Concat fused, cosine $cos"
  else
    bad "quant-static on the concat model: $(tail -3 "$T/cat.log")"
  fi
  # only Conv weights: quant-dynamic's default would change nothing, so it says so and fails
  if "$QA" "$T/cat.onnx" "$T/cat_d.onnx" quant-dynamic > "$T/catd.log" 2>&1; then
    bad "quant-dynamic on a Conv-only model succeeded: $(cat "$T/catd.log")"
  else
    grep -q "changes nothing here.*use quant-static" "$T/catd.log" ||
      bad "quant-dynamic on a Conv-only model: unhelpful message: $(cat "$T/catd.log")"
  fi
  "$QA" "$T/cat.onnx" "$T/cat_d.onnx" quant-dynamic:conv=convinteger > "$T/catd.log" 2>&1 ||
    bad "quant-dynamic:conv=convinteger on the Conv-only model: $(tail -3 "$T/catd.log")"
fi

[ "$(sum $EX/mlp.onnx)" = "$before_mlp" ] || bad "the input MLP changed"
[ "$(sum $EX/cnn.onnx)" = "$before_cnn" ] || bad "the input CNN changed"
[ $fail -eq 0 ] && echo "compress_quant: all checks passed"
exit $fail
