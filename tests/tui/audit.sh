# What a first-time user reads at 80x24 (the narrowest supported size): text that does not
# fit wraps or ends with an ellipsis (never cut mid-word silently), paths keep their end,
# changes never read "-0%" / "-0.00", units line up, runs that did not finish show "-" (not
# zeros), a layer whose weights were re-stored (codebook) reads "encoded", not "removed".
. "$(dirname "$0")/lib/tmux.sh"
# The row of the screen holding TEXT (fixed string).
row() { screen | grep -F -- "$1" | head -n 1; }

# Empty workspace: the hint wraps instead of stopping at "Press n (or Enter) to".
mkdir -p "$XDG_DATA_HOME/kompress/projects"
start 80 24
wait_for "─ 1 Project ─"
wait_for "No projects in this workspace yet"
screen | grep -A1 "Press n (or Enter) to" | grep -q "create one\." ||
    fail "the empty-workspace hint is cut"
keys q
wait_for "EXITED rc=0"

# A demo project with a plan (fold + prune), a cancelled run and a finished run whose model
# has clustered (codebook) weights.
restart
P=$(demo_project)
mkdir -p "$P/runs/run-002"
$KOMPRESS compress "$P/cnn.onnx" -o "$P/runs/run-002/model.onnx" --pass cluster:k=16 \
    >/dev/null 2>&1 || fail "could not make the clustered model"
/usr/bin/python3 - "$P/project.json" <<'PY' || exit 77
import json, sys
p = sys.argv[1]
d = json.load(open(p))
m = lambda f, g, h, t, a, e: {"file_bytes": f, "gzip_bytes": g, "host_latency_ms": h,
    "target_latency_ms": t, "top1": a, "ram_bytes": 700000, "flash_bytes": f,
    "energy_mj": e, "fits_ram": 1, "fits_flash": 1}
step = {"pass": "cluster", "params": "k=16", "enabled": True}
d["plan"] = [{"pass": "fold", "params": "", "enabled": True},
             {"pass": "prune", "params": "sparsity=0.5", "enabled": True}]
# What the planner measured for this plan, with a note longer than the screen has room for.
d["plan_summary"] = {"total": {"size_ratio": 0.5, "latency_ratio": 0.98, "acc_drop": 0.34,
                               "confidence": 0.9}, "acc_se": 0.41, "trial_samples": 2048,
                     "note": "chose fold + prune " + "of many pipelines tried " * 12 + "END"}
d["runs"] = [
    {"id": "run-001", "started": "2026-01-01T00:00:00Z", "status": -6, "steps": [step],
     "before": m(678590, 620000, 0.50, 0.040, 92.83, 0.68), "after": m(0, 0, 0, 0, -1, 0)},
    {"id": "run-002", "started": "2026-01-01T00:10:00Z", "status": 0, "steps": [step],
     "output_model": "runs/run-002/model.onnx", "report": "runs/run-002/report.md",
     "before": m(678590, 620000, 0.50, 0.040, 92.83, 0.68),
     "after": m(339295, 250000, 0.40, 0.030, 92.829, 0.5)},
]
json.dump(d, open(p, "w"), indent=2)
PY
start 80 24 -- --open "$P"
wait_for "─ 2 Model ─"
# The status line names the project folder; the path is cut with an ellipsis, not mid-name.
s=$(screen | sed -n 23p)
echo "$s" | grep -q "…$" || fail "status line cut without an ellipsis: $s"

keys 1
wait_for "─ 1 Project ─"
keys d
wait_for "Please confirm"
screen | tail -n 1 | grep -q "y yes  n/Esc no" || fail "question open with the screen's hints"
keys n
wait_gone "Please confirm"
r=$(row "Open: ")
echo "$r" | grep -q "Open: fashion-mnist-demo in …/.*projects/demo " ||
    fail "open project line does not keep the folder's end: $r"
r=$(row "Workspace: ")
echo "$r" | grep -q "kompress/projects " || fail "workspace path cut at its end: $r"

keys 4
wait_for "─ 4 Target ─"
wait_for "(estimated)"

# The data picker's title names every accepted kind on two lines, not cut.
keys 3
wait_for "─ 3 Test data ─"
keys Home
keys Enter
wait_for "Choose the test data"
wait_for "its ./ row)"
keys Escape
wait_gone "Choose the test data"

keys 5
wait_for "─ 5 Goals ─"
wait_for "then the second."

# Plan: fold changes the size a little: "-0.4%", "0%", never "-0%"; no "-0.00" anywhere.
keys 6
wait_for "─ 6 Plan ─"
wait_for "sparsity=0.5"
r=$(row "] fold")
echo "$r" | grep -q -- " -0% " && fail "plan shows -0%: $r"
echo "$r" | grep -q -- "-0\.00" && fail "plan shows -0.00: $r"
screen | grep -q -- "[^0-9]-0% \|-0\.00" && fail "a -0 change on the Plan screen"
# The planner's measurement: "± SE" in full words at 80 columns, the note wrapped into the
# rows the short table leaves free and, when still too long, ending with an ellipsis.
wait_for "-0.34 ± 0.41 pts (budget -1.00) confidence 90%"
[ "$(screen | grep -c "of many pipelines tried")" -ge 4 ] || fail "the note does not use the free rows"
screen | grep "of many" | tail -n 1 | grep -q "… *│$" || fail "a cut note without an ellipsis"

# The hint bar follows what is open: the Add-a-pass list, a parameter form, the help.
bar() { screen | tail -n 1; }
keys a
wait_for "Add a pass"
bar | grep -q "Enter add  Esc cancel" || fail "Add-a-pass list with the plan's hints: $(bar)"
bar | grep -q "toggle" && fail "the bar offers toggle inside the Add-a-pass list"
screen | grep -q "(lossless) \[lossless\]" && fail "fold says lossless twice"
keys Escape
wait_gone "Add a pass"
bar | grep -q "Space toggle" || fail "plan hints not back after the list: $(bar)"
keys Home
keys Enter
wait_for "fold: Fold and clean up"
bar | grep -q "Enter save  Esc cancel" || fail "form open with the screen's hints: $(bar)"
keys Escape
wait_gone "fold: Fold and clean up"
keys ?
wait_for "Help: Plan"
bar | grep -q "any key close this help" || fail "help open with the screen's hints: $(bar)"
keys Escape
wait_gone "Help: Plan"

# Results: -0.00 pts never shown for a drop below 0.005; energy with fixed decimals.
keys 8
wait_for "─ 8 Results ─"
wait_for "x0.50"
r=$(row "top-1")
echo "$r" | grep -q -- "-0.00" && fail "results show -0.00 pts: $r"
echo "$r" | grep -q " 0.00 pts" || fail "no 0.00 pts for an unchanged top-1: $r"
r=$(row "energy/inf.")
echo "$r" | grep -q "0.680 mJ *0.500 mJ" || fail "energy not in fixed decimals: $r"

# Per layer: clustered weights are "encoded" (explained), never "removed"; zeros "-".
keys v
wait_for "zero"
wait_for "encoded"
screen | grep -q "removed" && fail "clustered layers shown as removed"
wait_for "encoded: the layer is kept"
r=$(row "features.11 ")
[ -n "$r" ] || fail "layer names cut mid-name (features.11.)"

# History: every column fits in 80 columns; the cancelled run shows "-", not 0.00%.
keys v
wait_for "steps"
r=$(row "run-001")
echo "$r" | grep -q "cancelled" || fail "no cancelled run: $r"
echo "$r" | grep -q "0\.00%\|0 B" && fail "cancelled run shows zeros: $r"
r=$(row "run-002")
echo "$r" | grep -q "92.83% *1 *│" || fail "history row cut: $r"

keys q
wait_for "EXITED rc=0"

# Wide (160 columns): a reason cut in its column is shown in full under the table.
restart
start 160 40 -- --open "$P"
wait_for "─ 2 Model ─"
keys 6
wait_for "sparsity=0.5"
keys Home
keys Down
r=$(row "] prune")
echo "$r" | grep -q "…" || fail "prune's reason fits its column; this check needs a longer one: $r"
# The reason's first words, as its column shows them.
start_of=$(echo "$r" | sed 's/.*[0-9]%  *[-+]\{0,1\}[0-9.]*  *//' | cut -c1-24)
[ -n "$start_of" ] || fail "no reason in the row: $r"
full=$(screen | grep -F -- "$start_of" | grep -v "\] prune")
[ -n "$full" ] || fail "the cut reason ($start_of...) is not shown under the table"
echo "$full" | grep -q "…" && fail "the reason under the table is cut too: $full"
keys q
wait_for "EXITED rc=0"
echo "audit: ok"
