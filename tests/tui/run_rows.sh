# Step 7 with a disabled step before the enabled ones (the job numbers events by plan index):
# each bar is labelled with the pass that ran, "step k of n" counts enabled steps only, and
# no row is left at 0% when the run is done. Uses the small MLP so the run takes seconds.
. "$(dirname "$0")/lib/tmux.sh"
P=$(demo_project)
/usr/bin/python3 - "$P/project.json" <<'PY' || exit 77
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["model"] = "mlp.onnx"
d["plan"] = [{"pass": "fold", "params": "", "enabled": False},
             {"pass": "prune", "params": "sparsity=0.5", "enabled": True},
             {"pass": "fp16", "params": "", "enabled": True}]
json.dump(d, open(p, "w"), indent=2)
PY
start 100 30 -- --open "$P"
wait_for "─ 2 Model ─"
keys 7
wait_for "Ready. Press g"
keys g
sleep 0.3
screen | tail -n 1 | grep -q "g run" && ! screen | grep -q "finished in" &&
    fail "the bar offers g run while the run works"
wait_for "finished in" 120
screen | tail -n 1 | grep -q "g run again" || fail "no 'g run again' after the run: $(screen | tail -n 1)"
screen | tail -n 1 | grep -q "c cancel" && fail "the bar offers cancel after the run"
s=$(screen)
echo "$s" | grep -q "^│.*││ fold  " && fail "a row for the disabled fold step"
echo "$s" | grep -q "││ prune .*100%" || fail "prune's bar is not full"
echo "$s" | grep -q "││ fp16 .*100%" || fail "fp16's bar is not full"
echo "$s" | grep -q " 0%  " && fail "a bar left at 0% after the run"
echo "$s" | grep -q "step 2 done" || fail "log does not count enabled steps (step 2 done)"
echo "$s" | grep -q "step 3" && fail "log counts the disabled step (step 3)"
# Microsecond latencies keep a decimal, so the change can be read from the two values.
echo "$s" | grep -q "latency here  *[0-9]*\.[0-9] us\|latency here  *[0-9.]* ms" ||
    fail "latency without its decimal"
keys q
wait_for "EXITED rc=0"
echo "run_rows: ok"
