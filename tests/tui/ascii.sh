# TERM=linux with LANG=C: ASCII boxes and markers only, no UTF-8 line drawing.
. "$(dirname "$0")/lib/tmux.sh"
start 80 24 TERM=linux LANG=C LC_ALL=C
wait_for "1 Project"
s=$(screen)
echo "$s" | grep -qF "+- Steps" || fail "no ASCII box"
echo "$s" | grep -q "[─│┌┐└┘▶]" && fail "UTF-8 drawing characters with LANG=C"
keys q
wait_for "EXITED rc=0"
# And --ascii forces it in a UTF-8 locale too.
restart
start 80 24 -- --ascii
wait_for "+- Steps"
keys q
wait_for "EXITED rc=0"
# LANG=C on a project: "±" (blank in the C locale) reads "+/-"; a cut path starts with
# "..." (the ASCII "~" would read as the home folder).
restart
P=$(demo_project)
mkdir -p "$P/runs/run-001"
cp "$P/cnn.onnx" "$P/runs/run-001/model.onnx"
/usr/bin/python3 - "$P/project.json" <<'PY' || exit 77
import json, sys
p = sys.argv[1]
d = json.load(open(p))
m = lambda f, a: {"file_bytes": f, "gzip_bytes": f, "host_latency_ms": 0.5,
    "target_latency_ms": 0.5, "top1": a, "ram_bytes": 700000, "flash_bytes": f,
    "energy_mj": 0.3, "fits_ram": 1, "fits_flash": 1}
d["plan"] = [{"pass": "prune", "params": "sparsity=0.5", "enabled": True}]
d["plan_summary"] = {"total": {"size_ratio": 0.5, "latency_ratio": 1, "acc_drop": 0.2,
                               "confidence": 0.9}, "acc_se": 0.41, "trial_samples": 2048}
d["runs"] = [{"id": "run-001", "started": "2026-01-01T00:10:00Z", "status": 0,
              "steps": d["plan"], "output_model": "runs/run-001/model.onnx",
              "report": "runs/run-001/report.md", "before": m(678590, 92.8),
              "after": m(339295, 92.6)}]
json.dump(d, open(p, "w"), indent=2)
PY
start 80 24 TERM=linux LANG=C LC_ALL=C -- --open "$P"
wait_for "file 678"
keys 6
wait_for "+/- 0.41"
keys 8
wait_for "model:  ..."
screen | grep -q "model:  ~" && fail "a cut path starts with ~"
keys q
wait_for "EXITED rc=0"
echo "ascii: ok"
