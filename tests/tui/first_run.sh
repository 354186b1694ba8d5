# A newcomer on an empty workspace: create a project, then walk the steps before choosing a
# model. The status line speaks of the step it was said on (no "now choose a model" left on
# later screens), Run names what is missing first (the model, step 2), the Plan screen says
# what r does without a model, and nothing shows cut-off text.
. "$(dirname "$0")/lib/tmux.sh"
status() { screen | tail -n 2 | head -n 1; }
start 100 30
wait_for "─ 1 Project ─"
keys n
wait_for "New project"
keys -l "my first"
keys Enter
wait_for "created project my first; now choose its model (.onnx)"
status | grep -q "…" && fail "status cut: $(status)"
# Leave the picker's filter (printable keys are text there) with Tab.
keys Tab
wait_for "─ 3 Test data ─"
status | grep -q "created project" && fail "stale status on step 3: $(status)"
wait_for "scale 1, no mean/std normalisation"
screen | grep -q "mean \[\]" && fail "empty mean/std lists shown as []"
wait_for "eval all"
screen | grep "eval all" | grep -q "…" && fail "the preprocessing line is cut"
keys 7
wait_for "─ 7 Run ─"
wait_for "Choose the model to compress first (step 2)."
screen | grep -q "no enabled step" && fail "Run blames the plan while the model is missing"
keys g
wait_for "Choose the model to compress first (step 2)."
keys 8
wait_for "─ 8 Results ─"
status | grep -q "Choose the model" && fail "stale status on step 8: $(status)"
keys q
wait_for "EXITED rc=0"
echo "first_run: ok"
