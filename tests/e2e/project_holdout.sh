#!/bin/sh
# One holdout for a project: once `kompress plan` has measured its trials on some samples,
# `kompress run` and `kompress compress --project` both score on the samples used neither for
# calibration nor for the trials, say so, and give the same top-1 for the same pipeline.
# Also: `plan --json` and project.json write the tried pipelines in one form, and a project.json
# in the older form (tried "name", "meets", 0/1 numbers) still reads.
set -u
K=${KOMPRESS:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
IMG=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
LAB=/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
[ -f "$IMG" ] || { echo "Fashion-MNIST not installed (dataset-fashion-mnist)"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
PY=/usr/bin/python3
EX=examples/fashion-mnist
LIMIT=1000; CAL=128; TRIAL=200
[ "${BUILD:-build}" = build-asan ] && LIMIT=400 && CAL=64 && TRIAL=100

"$K" new h --model $EX/mlp.onnx --data "$IMG" --labels "$LAB" --scale 1/255 --mean 0.286 \
    --std 0.353 --goal size --limit $LIMIT --calib $CAL --workspace "$T" > /dev/null || fail "new"
P=$T/h
"$K" plan "$P" --trial $TRIAL --json > "$T/plan.json" 2> "$T/plan.err" || fail "plan: $(cat "$T/plan.err")"

# The tried pipelines: one form in plan --json and project.json, booleans for yes/no.
"$PY" - "$T/plan.json" "$P/project.json" $TRIAL <<'PYEOF' || fail "tried pipelines differ"
import json, sys
plan, proj = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
keys = {"pipeline", "size_ratio", "latency_ratio", "acc_drop", "acc_se", "meets_budget", "pareto",
        "chosen"}
ps = proj["plan_summary"]
assert plan["tried"] and plan["tried"] == ps["tried"], (plan["tried"], ps["tried"])
for t in ps["tried"]:
    assert set(t) == keys, t
    assert all(isinstance(t[k], bool) for k in ("meets_budget", "pareto", "chosen")), t
assert isinstance(ps["meets_budget"], bool) and ps["meets_budget"] == plan["meets_budget"], ps
assert ps["trial_samples"] == int(sys.argv[3]), ps["trial_samples"]
PYEOF

# The plan as run (one try: no back-off) and the same passes through compress --project.
"$K" run "$P" --tries 1 > "$T/run.txt" 2> "$T/run.err" || fail "run: $(cat "$T/run.err")"
SCORED=$((LIMIT - CAL - TRIAL))
grep -q "scored on the holdout: $SCORED of $LIMIT samples (not the $CAL used for calibration nor the $TRIAL the planner measured its trials on; holdout [0-9a-f]*)" "$T/run.err" ||
  fail "run should say which samples it scores: $(cat "$T/run.err")"
PASSES=$("$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))["runs"][-1]
print(" ".join("--pass " + s["pass"] + (":" + s["params"] if s["params"] else "") for s in r["steps"]))
' "$P/project.json") || fail "no run record"
[ -n "$PASSES" ] || fail "the run has no steps"
# shellcheck disable=SC2086 # PASSES is a list of options
"$K" compress $EX/mlp.onnx -o "$T/c.onnx" --project "$P/project.json" $PASSES --runs 2 \
    > "$T/c.txt" 2> "$T/c.err" || fail "compress --project: $(cat "$T/c.err")"
grep -q "scored on the holdout: $SCORED of $LIMIT samples (not the $CAL used for calibration nor the $TRIAL the planner measured its trials on; holdout" "$T/c.txt" ||
  fail "compress should say which samples it scores: $(head -3 "$T/c.txt")"
# shellcheck disable=SC2086
"$K" compress $EX/mlp.onnx -o "$T/c.onnx" --project "$P/project.json" $PASSES --runs 2 --json \
    > "$T/c.json" 2> "$T/c.err" || fail "compress --project --json: $(cat "$T/c.err")"
"$PY" - "$P/project.json" "$T/c.json" $SCORED $TRIAL <<'PYEOF' || fail "run and compress --project disagree"
import json, sys
run = json.load(open(sys.argv[1]))["runs"][-1]
c = json.load(open(sys.argv[2]))
sc, st = c["scored"], c["stages"]
print(f"run {run['id']} ({' + '.join(s['pass'] for s in run['steps'])}): top-1 "
      f"{run['before']['top1']:.3f} -> {run['after']['top1']:.3f} on {run['eval_samples']} samples "
      f"(holdout {run['holdout_hash']}); compress --project: {st[0]['top1']:.3f} -> "
      f"{st[-1]['top1']:.3f} on {sc['samples']} (holdout {sc['holdout_hash']})")
assert run["eval_samples"] == sc["samples"] == int(sys.argv[3]), (run["eval_samples"], sc)
assert sc["trial_samples"] == int(sys.argv[4]), sc
assert run["holdout_hash"] == sc["holdout_hash"] and run["calib_hash"] == sc["calibration_hash"], (run, sc)
assert all(s["status"] == "ok" for s in st[1:]), st
assert len(st) == len(run["steps"]) + 1
assert abs(run["before"]["top1"] - st[0]["top1"]) < 1e-9
for m, s in zip(run["steps"], st[1:]):
    assert abs(m["measured"]["top1"] - s["top1"]) < 1e-9, (m["pass"], m["measured"]["top1"], s["top1"])
assert abs(run["after"]["top1"] - st[-1]["top1"]) < 1e-9
PYEOF

# --score all still scores every sample (trial and calibration ones too).
# shellcheck disable=SC2086
"$K" compress $EX/mlp.onnx -o "$T/c.onnx" --project "$P/project.json" --pass fold --score all \
    --runs 1 > "$T/all.txt" 2>&1 || fail "compress --score all: $(cat "$T/all.txt")"
grep -q "scored on all $LIMIT samples" "$T/all.txt" || fail "--score all: $(head -3 "$T/all.txt")"

# A project.json in the older form still reads: report shows its tried pipelines, compress
# --project still leaves its trial samples out.
"$PY" - "$P/project.json" <<'PYEOF' || fail "could not write the old-form file"
import json, sys
d = json.load(open(sys.argv[1]))
def old(pi):
    pi["meets"] = int(pi.pop("meets_budget"))
    for t in pi["tried"]:
        t["name"] = t.pop("pipeline")
        t["meets"] = int(t.pop("meets_budget"))
        t["pareto"], t["chosen"] = int(t["pareto"]), int(t["chosen"])
old(d["plan_summary"])
for r in d["runs"]:
    if "predicted" in r:
        old(r["predicted"])
    r.pop("holdout_hash", None)
json.dump(d, open(sys.argv[1], "w"), indent=1)
PYEOF
grep -q '"pipeline"' "$P/project.json" && fail "old form still has new keys"
"$K" report "$P" > "$T/report.md" 2> "$T/report.err" || fail "report of an old-form project: $(cat "$T/report.err")"
"$PY" - "$P/project.json" "$T/report.md" <<'PYEOF' || fail "report lost the old-form tried pipelines"
import json, sys
d = json.load(open(sys.argv[1])); md = open(sys.argv[2]).read()
tried = d["runs"][-1]["predicted"]["tried"]
assert f"What the planner tried ({len(tried)} pipelines" in md, md
for t in tried:
    assert f"| {t['name']} |" in md, t["name"]
chosen = [t["name"] for t in tried if t["chosen"]]
assert len(chosen) == 1, chosen
PYEOF
# shellcheck disable=SC2086
"$K" compress $EX/mlp.onnx -o "$T/c.onnx" --project "$P/project.json" $PASSES --runs 1 \
    > "$T/c2.txt" 2> "$T/c.err" || fail "compress --project on the old form: $(cat "$T/c.err")"
grep -q "scored on the holdout: $SCORED of $LIMIT samples" "$T/c2.txt" || fail "old form: $(head -2 "$T/c2.txt")"
echo "project holdout e2e ok: run and compress --project score the same $SCORED samples"
