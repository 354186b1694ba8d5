#!/bin/sh
# Structural passes on the demo Fashion-MNIST models: every output passes onnx.checker, runs in
# ONNX Runtime when the bench harness is installed (tests/bench/setup.sh) with the same top-1 as
# our engine, and the headline numbers hold on the first 2000 test images:
#   fold keeps top-1 exactly; 80% pruning + reconstruct recovers at least half of the loss;
#   prune + cluster + reconstruct is >= 8x smaller on disk within 1.5 points.
# Bad parameters must fail with a message naming the parameter.
BUILD=${BUILD:-build}
TOOL=$BUILD/tools/struct_run
M=examples/fashion-mnist
PY=/usr/bin/python3
[ -x "$TOOL" ] || { echo "$TOOL is not built"; exit 1; }
[ -f $M/cnn.onnx ] || { echo "demo models missing"; exit 77; }
[ -d /usr/share/datasets/fashion-mnist ] || { echo "Fashion-MNIST data not installed"; exit 77; }
N=2000; CAL=2048; TOL=1.5
case "$BUILD" in *asan*) N=300; CAL=256; TOL=3 ;; esac
# (ci) say when a subset runs; `make test` runs the full set
[ "$N" = 2000 ] || echo "ASan subset: $N test images, $CAL calibration images, tolerance $TOL points"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "struct_passes: $*"; exit 1; }
ORT=""
[ -f tests/bench/scratch/node_modules/onnxruntime-node/package.json ] && command -v node >/dev/null && ORT=1

# run NAME MODEL PASSES... -> prints RESULT line, leaves $tmp/NAME.onnx
run() {
  name=$1; model=$2; shift 2
  "$TOOL" "$model" "$tmp/$name.onnx" --calib $CAL --eval $N "$@" >"$tmp/$name.log" 2>&1 ||
    { cat "$tmp/$name.log"; fail "$name: struct_run failed"; }
  $PY -c "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]))" "$tmp/$name.onnx" ||
    fail "$name: onnx.checker rejects the output"
  grep RESULT "$tmp/$name.log"
}
top1() { sed -n 's/.*top1_after=\([0-9.]*\).*/\1/p' "$tmp/$1.log"; }
top0() { sed -n 's/.*top1_before=\([0-9.]*\).*/\1/p' "$tmp/$1.log"; }
ort_top1() {
  node tests/bench/ort_eval.js "$tmp/$1.onnx" --limit $N --json | sed -n 's/.*"top1":\([0-9.]*\).*/\1/p'
}

run fold $M/cnn.onnx fold
[ "$(top1 fold)" = "$(top0 fold)" ] || fail "fold changed top-1"
run prune80 $M/cnn.onnx prune:sparsity=0.8
run prune80r $M/cnn.onnx prune:sparsity=0.8 reconstruct
run combo $M/cnn.onnx prune:sparsity=0.8 reconstruct cluster:k=16 reconstruct
run pc $M/cnn.onnx fold prune-channels:ratio=0.5 reconstruct
run lr $M/mlp.onnx low-rank:energy=0.9 reconstruct
run mlp $M/mlp.onnx prune:sparsity=0.8 reconstruct cluster:k=16 reconstruct

b=$(top0 prune80); p=$(top1 prune80); r=$(top1 prune80r)
awk -v b="$b" -v p="$p" -v r="$r" 'BEGIN { exit !(b - p > 0 && (r - p) >= 0.5 * (b - p)) }' ||
  fail "reconstruct recovered too little: base $b, pruned $p, reconstructed $r"
orig=$(stat -c %s $M/cnn.onnx); small=$(stat -c %s "$tmp/combo.onnx")
awk -v o="$orig" -v s="$small" -v b="$(top0 combo)" -v a="$(top1 combo)" -v t=$TOL \
  'BEGIN { printf "combo: %.2fx smaller, top-1 %s -> %s\n", o / s, b, a; exit !(o / s >= 8 && b - a <= t) }' ||
  fail "prune+cluster+reconstruct missed 8x / $TOL points"

if [ -n "$ORT" ]; then
  for n in fold prune80r combo pc lr mlp; do
    o=$(ort_top1 $n); u=$(top1 $n)
    awk -v o="$o" -v u="$u" 'BEGIN { d = o - u; if (d < 0) d = -d; exit !(o != "" && d <= 0.5) }' ||
      fail "$n: ONNX Runtime top-1 $o differs from ours $u"
    echo "$n: ORT top-1 $o, ours $u"
  done
else
  echo "ONNX Runtime harness not installed (sh tests/bench/setup.sh): ORT checks skipped"
fi

# drop-layers: a residual block that barely contributes is measured and dropped; the plain CNN's
# layers all cost too much, so nothing is dropped there and the note says why
$PY tests/e2e/make_residual.py "$tmp/res_in.onnx" || fail "cannot build the residual test model"
run res "$tmp/res_in.onnx" drop-layers:count=1,max_drop=2
grep -q "dropped residual block ending at add" "$tmp/res.log" || { cat "$tmp/res.log"; fail "residual block not dropped"; }
$PY -c "import onnx,sys; m=onnx.load(sys.argv[1]); sys.exit(len(m.graph.node) != 4)" "$tmp/res.onnx" ||
  fail "dropped model should have 4 nodes"
if [ -n "$ORT" ]; then
  o=$(ort_top1 res); u=$(top1 res)
  awk -v o="$o" -v u="$u" 'BEGIN { d = o - u; if (d < 0) d = -d; exit !(o != "" && d <= 0.5) }' ||
    fail "res: ONNX Runtime top-1 $o differs from ours $u"
fi
run dl $M/cnn.onnx drop-layers:count=1,max_drop=1
grep -q "stopping: dropping" "$tmp/dl.log" || fail "drop-layers on the CNN should stop with a note"

# prune-channels rewiring is exact when the removed channels are zero: BatchNorm, a depthwise
# conv (group 8 -> 4) and a conv behind a channel Concat all lose the right channels
$PY tests/e2e/make_branchy.py "$tmp/br_in.onnx" || fail "cannot build the branchy test model"
"$TOOL" "$tmp/br_in.onnx" "$tmp/br.onnx" --calib 256 --compare 4 prune-channels:ratio=0.5,layers=convA \
  >"$tmp/br.log" 2>&1 || { cat "$tmp/br.log"; fail "branchy: struct_run failed"; }
grep -q "convA 8 -> 4 channels (3 readers rewired)" "$tmp/br.log" || { cat "$tmp/br.log"; fail "branchy: not rewired"; }
grep -q "^MAXREL 0$" "$tmp/br.log" || { cat "$tmp/br.log"; fail "branchy: outputs changed"; }
$PY -c "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]))" "$tmp/br.onnx" ||
  fail "branchy: onnx.checker rejects the output"
if [ -n "$ORT" ]; then
  head -c 3136 /dev/zero >"$tmp/x.f32"
  node tests/bench/ort_run.js "$tmp/br.onnx" --in "$tmp/x.f32:1x1x28x28" --runs 2 >/dev/null ||
    fail "branchy: ONNX Runtime cannot run the output"
fi

# bad parameters: clear errors, exit 2, no output written
"$TOOL" $M/cnn.onnx "$tmp/bad.onnx" --calib 0 prune:sparsity=1.5 >"$tmp/bad.log" 2>&1
[ $? -eq 2 ] && grep -q sparsity "$tmp/bad.log" && [ ! -f "$tmp/bad.onnx" ] || fail "bad sparsity accepted"
"$TOOL" $M/cnn.onnx "$tmp/bad.onnx" --calib 0 cluster:clusters=16 >"$tmp/bad.log" 2>&1
[ $? -eq 2 ] && grep -q "k" "$tmp/bad.log" || fail "unknown parameter accepted"
"$TOOL" $M/cnn.onnx "$tmp/bad.onnx" --calib 0 reconstruct >"$tmp/bad.log" 2>&1
[ $? -eq 1 ] && grep -q "calibration" "$tmp/bad.log" || fail "reconstruct without data accepted"
echo "struct_passes: ok"
