#!/bin/sh
# The table-driven option parser (tui/cli_opts.c) of info, eval, compress, plan, run, targets:
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

for c in info eval compress plan run targets; do
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
usage2 unknown "unrecognized option '--colour'" info --colour $EX/cnn.onnx
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
[ -e "$T/x.onnx" ] && bad "a refused compress wrote its output"

# Options after the argument, --name=value, short letters and repeated --pass all work.
"$K" compress $EX/mlp.onnx --pass=fold -o "$T/y.onnx" --pass fold --runs=1 --json > "$T/y.json" 2> "$T/err" ||
  bad "compress with --name=value: $(cat "$T/err")"
grep -c '"stage":' "$T/y.json" | grep -qx 3 || bad "two --pass flags did not make two stages"
"$K" info -j $EX/mlp.onnx | grep -q '"file_bytes"' || bad "info -j is not JSON"
"$K" targets -j | grep -q '"id":' || bad "targets -j is not JSON"
[ $fail -eq 0 ] && echo "cli_opts: all checks passed"
exit $fail
