# The Results screen stays responsive while a big compressed model loads: the load runs on the
# per-layer view's worker thread, so the view shows a spinner line, the help overlay opens and
# closes and the views switch while the model is still loading; the layer rows appear at the end.
# Leaving the screen during the load and coming back loads it again. Quitting while it loads
# exits within seconds (the abandoned work is cancelled, not waited for).
. "$(dirname "$0")/lib/tmux.sh"
P=$(demo_project)
# A compressed model that takes a few seconds to load: a chain of 600,000 Add nodes (24 MB; the
# time goes into the nodes, not the bytes). It shares no layer with the demo CNN, so every CNN
# layer shows as removed once it is loaded.
mkdir -p "$P/runs/run-001"
/usr/bin/python3 - "$P/runs/run-001/model.onnx" "$P/project.json" <<'PY' || { echo "skip: python3 with onnx and numpy is needed"; exit 77; }
import json, sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
N = 600000
nodes, x = [], "x"
for i in range(N):
    nodes.append(helper.make_node("Add", [x, "one"], [f"a{i}"], name=f"add{i}"))
    x = f"a{i}"
nodes.append(helper.make_node("Identity", [x], ["y"]))
g = helper.make_graph(nodes, "many",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    [numpy_helper.from_array(np.ones((1,), np.float32), "one")])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
p = sys.argv[2]
d = json.load(open(p))
m = lambda f, a: {"file_bytes": f, "gzip_bytes": f, "host_latency_ms": 0.5,
    "target_latency_ms": 0.04, "top1": a, "ram_bytes": 700000, "flash_bytes": f,
    "energy_mj": 0.3, "fits_ram": 1, "fits_flash": 1}
d["runs"] = [{"id": "run-001", "started": "2026-01-01T00:00:00Z", "status": 0,
    "steps": [{"pass": "fold", "params": "", "enabled": True}],
    "output_model": "runs/run-001/model.onnx", "report": "runs/run-001/report.md",
    "before": m(678590, 92.83), "after": m(24266766, 10.0)}]
json.dump(d, open(p, "w"), indent=2)
PY
start 80 24 -- --open "$P"
wait_for "─ 2 Model ─"
wait_for "MACs " 60 # the original (the demo CNN) is loaded
keys 8
wait_for "─ 8 Results ─"
wait_for "run-001"
keys v
wait_for "loading the compressed model runs/run-001/model.onnx"
# While it loads: the help overlay opens and closes, the views switch.
keys ?
wait_for "next view"
screen | grep -q "loading the compressed model" && fail "the help overlay did not open"
keys Escape
wait_for "loading the compressed model"
keys v
wait_for "history"
screen | grep -q "run-001 *ok" || fail "the history view did not show while loading"
keys v
keys v
wait_for "removed" 120
screen | grep -q "loading the compressed model" && fail "still loading after the rows appeared"
screen | grep -q "classifier.1" || fail "no layer rows after the load"
# Leaving while the worker measures, or while a load runs, and coming back: a new task loads
# the model again (the one left behind is cancelled and stops on its own).
keys 1
wait_for "─ 1 Project ─"
keys 8
wait_for "loading the compressed model"
keys 1
wait_for "─ 1 Project ─"
keys 8
wait_for "removed" 120
# Quitting while a load is in progress (and abandoned tasks are still at work) is prompt: the
# loads and measurements are cancelled, every worker is joined, nothing leaks (rc 0 under ASan
# means LeakSanitizer found nothing).
keys 1
wait_for "─ 1 Project ─"
keys 8
wait_for "loading the compressed model"
t0=$(date +%s%N)
tm send-keys -t t q
wait_for "EXITED rc=0" 60
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "results_busy: q -> exit took $ms ms while loading"
[ "$ms" -lt 10000 ] || fail "quitting while a load was in progress took $ms ms (limit 10000)"
echo "results_busy: ok"
