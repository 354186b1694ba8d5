# Step 8 on a project with two recorded runs (one cancelled, one finished): the before/after
# table with ratios and point deltas, bars, the per-layer view of the output model, the run
# history, saving the report; the project list shows the last result.
. "$(dirname "$0")/lib/tmux.sh"
P=$(demo_project)
mkdir -p "$P/runs/run-002"
cp "$P/cnn.onnx" "$P/runs/run-002/model.onnx"
/usr/bin/python3 - "$P/project.json" <<'PY' || exit 77
import json, sys
p = sys.argv[1]
d = json.load(open(p))
m = lambda f, g, h, t, a: {"file_bytes": f, "gzip_bytes": g, "host_latency_ms": h,
    "target_latency_ms": t, "top1": a, "ram_bytes": 700000, "flash_bytes": f,
    "energy_mj": 0.3, "fits_ram": 1, "fits_flash": 1}
step = {"pass": "prune", "params": "sparsity=0.5", "enabled": True}
d["runs"] = [
    {"id": "run-001", "started": "2026-01-01T00:00:00Z", "status": -6, "steps": [step],
     "before": m(678590, 620000, 0.50, 0.040, 92.83), "after": m(0, 0, 0, 0, -1)},
    {"id": "run-002", "started": "2026-01-01T00:10:00Z", "status": 0, "steps": [step],
     "output_model": "runs/run-002/model.onnx", "report": "runs/run-002/report.md",
     "before": m(678590, 620000, 0.50, 0.040, 92.83),
     "after": m(339295, 250000, 0.40, 0.030, 92.43)},
]
json.dump(d, open(p, "w"), indent=2)
PY
start 80 24 -- --open "$P"
wait_for "─ 2 Model ─"
keys 8
wait_for "─ 8 Results ─"
wait_for "run-002"
wait_for "x0.50"
wait_for "-0.40 pts"
wait_for "-50.0%"
screen | grep -q "after.*█" || fail "no bars"
wait_for "runs/run-002/model.onnx"
keys v
wait_for "zero"
wait_for "classifier.1"
screen | grep -q "MACs" || fail "the per-layer view has no MACs column"
screen | grep -q "error" || fail "the per-layer view has no error column"
# The output model is a copy of the original: MACs are computed, every layer's error is 0.
wait_for "error: relative max over"
screen | grep -q "classifier.1.* 0e+00" || fail "no per-layer error for an unchanged layer"
screen | grep -q "classifier.1 .* 73.73k fp32" || fail "no MACs for the classifier"
keys v
wait_for "cancelled"
screen | grep -q "run-002 *ok" || fail "history lacks the finished run"
keys v
keys s
wait_for "report saved:"
for ext in md csv json; do
    [ -s "$P/runs/run-002/report.$ext" ] || fail "no report.$ext"
done
grep -q "run-002" "$P/runs/run-002/report.md" || fail "report.md does not name the run"
keys 1
wait_for "2.0x smaller"
keys q
wait_for "EXITED rc=0"
echo "results: ok"
