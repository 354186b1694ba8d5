#!/bin/sh
# The table-driven option parser (tui/cli_opts.c) of every command (info, eval, compress, plan,
# run, targets, new, report, passes, version):
# --help prints the usage on stdout and exits 0; an unknown option, a bad value (naming the
# option and its range) or a wrong count of positional arguments exits 2 and writes nothing to
# stdout; options may follow the arguments; "--name=value" and short letters work.
set -u
K=${KOMPRESS:?}
EX=examples/fashion-mnist
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

for c in info eval compress plan run targets new report passes version; do
  "$K" $c --help > "$T/out" 2> "$T/err"; rc=$?
  [ $rc -eq 0 ] && grep -q "usage: kompress $c" "$T/out" && [ ! -s "$T/err" ] ||
    bad "$c --help: exit $rc, stdout '$(head -1 "$T/out")', stderr '$(cat "$T/err")'"
done

# usage2 NAME PATTERN ARGS...: exit 2, stderr matches PATTERN, stdout empty
usage2() {
  name=$1; pat=$2; shift 2
  "$K" "$@" > "$T/out" 2> "$T/err"; rc=$?
  [ $rc -eq 2 ] || bad "$name: exit $rc, want 2 ($(cat "$T/err"))"
  grep -q -- "$pat" "$T/err" || bad "$name: stderr '$(cat "$T/err")' lacks '$pat'"
  [ ! -s "$T/out" ] || bad "$name: wrote to stdout: $(head -2 "$T/out")"
}
usage2 unknown "kompress info: unrecognized option '--colour'" info --colour $EX/cnn.onnx
usage2 short-unknown "kompress eval: invalid option -- 'z'" eval -z $EX/cnn.onnx
usage2 short-missing "kompress compress: option requires an argument -- 'o'" compress $EX/cnn.onnx -o
usage2 ambiguous "kompress new: option '--m' is ambiguous" new p --m x
usage2 flag-value "kompress run: option '--json' doesn't allow an argument" run x --json=yes
usage2 version-unknown "kompress version: unrecognized option '--bogus'" version --bogus
usage2 version-arg "kompress version: unexpected argument 'x'" version x
usage2 passes-unknown "kompress passes: unrecognized option '--all'" passes --all
usage2 info-none "kompress info: no MODEL given" info
usage2 info-two "unexpected argument 'b.onnx'" info a.onnx b.onnx
usage2 eval-runs "--runs: a whole number from 1 to 100000, not '0'" eval $EX/cnn.onnx --runs 0
usage2 eval-threads "--threads: a whole number from 1 to 256, not 'many'" eval $EX/cnn.onnx -t many
usage2 eval-batch "--batch: a whole number from 1 to 1048576, not '-3'" eval $EX/cnn.onnx --batch=-3
usage2 compress-runs "--runs: a whole number from 1 to 1000, not '1001'" compress $EX/cnn.onnx \
  -o "$T/x.onnx" --pass fold --runs 1001
usage2 compress-tol "--tol: a positive number, not '-1'" compress $EX/cnn.onnx -o "$T/x.onnx" \
  --pass fold --tol -1
usage2 compress-score "--score is holdout or all, not 'some'" compress $EX/cnn.onnx \
  -o "$T/x.onnx" --pass fold --score some
usage2 compress-scale "--scale 0: a non-zero number (or 1/255)" compress $EX/cnn.onnx \
  -o "$T/x.onnx" --pass fold --data $EX/cnn.onnx --scale 0
usage2 plan-trial "--trial: a whole number from 0 to 1000000, not '-1'" plan --trial -1 x
usage2 run-tries "--tries: a whole number from 1 to 10, not '11'" run x --tries 11
usage2 run-none "kompress run: no PROJECT given" run
usage2 targets-arg "unexpected argument 'x'" targets x
# new: every option named in its message; nothing is created on a refusal
NW="--workspace $T/ws"
usage2 new-unknown "unrecognized option '--modle'" new p --modle $EX/mlp.onnx $NW
usage2 new-missing "kompress new: option '--model' requires an argument" new p $NW --model
usage2 new-none "kompress new: no NAME given" new --model $EX/mlp.onnx $NW
usage2 new-two "unexpected argument 'q'" new p q --model $EX/mlp.onnx $NW
usage2 new-model "kompress new: --model is required" new p $NW
usage2 new-drop "--max-drop: a number from 0 to 100, not '200'" new p --model $EX/mlp.onnx $NW --max-drop 200
usage2 new-size "--size-budget: a number from 0 to 1e+15, not 'big'" new p --model $EX/mlp.onnx $NW --size-budget big
usage2 new-lat "--latency-budget: a number from 0 to 1e+09, not '-2'" new p --model $EX/mlp.onnx $NW --latency-budget=-2
usage2 new-calib "--calib: a whole number from 1 to 1000000000, not '0'" new p --model $EX/mlp.onnx $NW --calib 0
usage2 new-limit "--limit: a whole number from 0 to 1000000000000, not '1.5'" new p --model $EX/mlp.onnx $NW --limit 1.5
usage2 new-scale "--scale 0: a non-zero number (or 1/255)" new p --model $EX/mlp.onnx $NW --scale 0
usage2 new-scale-big "--scale 1e12: from 1e-09 to 1e+09 in size" new p --model $EX/mlp.onnx $NW --scale 1e12
usage2 new-mean "--mean: at most 8 values (one per channel), not 9" new p --model $EX/mlp.onnx $NW --mean 1,2,3,4,5,6,7,8,9
usage2 new-std "--std: values must not be zero" new p --model $EX/mlp.onnx $NW --std 0.5,0
usage2 new-layout "--layout: nchw or nhwc, not 'hwc'" new p --model $EX/mlp.onnx $NW --layout hwc
usage2 new-format "--format jpg: use npy, npz, idx, csv or onnx-pb" new p --model $EX/mlp.onnx $NW --format jpg
usage2 new-goal "--goal: latency, size or accuracy, not 'speed'" new p --model $EX/mlp.onnx $NW --goal speed
usage2 new-goal2 "--goal: 'size' given twice" new p --model $EX/mlp.onnx $NW --goal size --goal size
usage2 new-goal3 "--goal: at most two goals" new p --model $EX/mlp.onnx $NW --goal size --goal accuracy --goal latency
usage2 new-target "target 'toaster' is not known" new p --model $EX/mlp.onnx $NW --target toaster
[ -e "$T/ws/p" ] && bad "a refused new created its project"
# report: the same, then a real project (options before and after it, short letters)
usage2 report-unknown "unrecognized option '--colour'" report --colour x
usage2 report-missing "kompress report: option '--run' requires an argument" report x --run
usage2 report-format "--format is md, csv or json, not 'pdf'" report x --format pdf
usage2 report-none "kompress report: no PROJECT given" report
usage2 report-two "unexpected argument 'y'" report x y
"$K" new p --model $EX/mlp.onnx --scale 1/255 --goal size --goal=accuracy --max-drop=0.5 $NW --json > "$T/new.json" ||
  bad "new with table options: $(cat "$T/new.json")"
/usr/bin/python3 - "$T/ws/p/project.json" <<'PYEOF' || bad "new did not store its options"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["goals"] == ["size", "accuracy"] and d["budgets"]["max_drop"] == 0.5, d
assert abs(d["data"]["preprocessing"]["scale"] - 1 / 255) < 1e-15, d["data"]
PYEOF
"$K" report "$T/ws/p" -f csv > "$T/out" 2> "$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "no finished run yet" "$T/err" || bad "report of a run-less project: exit $rc, $(cat "$T/err")"
"$K" report -e "$T/ws/p" > "$T/out" 2> "$T/err" && grep -q "^run " "$T/out" || bad "report -e: $(cat "$T/err")"
[ -e "$T/x.onnx" ] && bad "a refused compress wrote its output"

# Options after the argument, --name=value, short letters and repeated --pass all work.
"$K" compress $EX/mlp.onnx --pass=fold -o "$T/y.onnx" --pass fold --runs=1 --json > "$T/y.json" 2> "$T/err" ||
  bad "compress with --name=value: $(cat "$T/err")"
grep -c '"stage":' "$T/y.json" | grep -qx 3 || bad "two --pass flags did not make two stages"
"$K" info -j $EX/mlp.onnx | grep -q '"file_bytes"' || bad "info -j is not JSON"
"$K" targets -j | grep -q '"id":' || bad "targets -j is not JSON"
"$K" version -j | grep -q '"version":' || bad "version -j is not JSON"
"$K" passes --json | grep -q '"id":' || bad "passes --json is not JSON"
[ $fail -eq 0 ] && echo "cli_opts: all checks passed"
exit $fail
