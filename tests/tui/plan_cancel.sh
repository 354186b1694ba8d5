# Cancelling the planner: on the Plan screen c stops a planner at work within seconds, the screen
# says "plan cancelled" and project.json is byte-identical to before; r asks again and q while
# the planner works exits promptly (the planner is cancelled and joined, nothing leaks).
. "$(dirname "$0")/lib/tmux.sh"
P=$(demo_project)
cp "$P/project.json" "$TMP/before.json"
start 100 30 -- --open "$P"
wait_for "─ 2 Model ─"
wait_for "MACs " 60
# The demo project has data and no plan: entering Plan asks the planner, which measures trials.
keys 6
wait_for "─ 6 Plan ─"
wait_for "the planner is working" 30
sleep 2
screen | grep -qF "the planner is working" || fail "the planner answered within 2 s; nothing to cancel"
# While it works the table says so, not "The plan is empty: r asks the planner".
screen | grep -qF "The planner is choosing the passes" || fail "no word in the table while planning"
screen | grep -qF "The plan is empty" && fail "'plan is empty' while the planner works"
t0=$(date +%s%N)
keys c
wait_for "plan cancelled" 5
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "plan_cancel: c -> 'plan cancelled' took $ms ms"
wait_gone "the planner is working" 5
cmp -s "$P/project.json" "$TMP/before.json" || fail "project.json changed by a cancelled plan"
screen | grep -q "\[x\]" && fail "a cancelled plan shows steps"
# Ask again (r), then Esc cancels too.
keys r
wait_for "the planner is working" 10
sleep 1
keys Escape
wait_for "plan cancelled" 5
cmp -s "$P/project.json" "$TMP/before.json" || fail "project.json changed by a cancelled plan"
# Quitting while the planner works: prompt exit, rc 0 (ASan: no leaks), project unchanged.
keys r
wait_for "the planner is working" 10
sleep 2
t0=$(date +%s%N)
tm send-keys -t t q
wait_for "EXITED rc=0" 30
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "plan_cancel: q -> exit took $ms ms while planning"
[ "$ms" -lt 10000 ] || fail "quitting while the planner worked took $ms ms (limit 10000)"
cmp -s "$P/project.json" "$TMP/before.json" || fail "project.json changed by quitting during a plan"
echo "plan_cancel: ok"
