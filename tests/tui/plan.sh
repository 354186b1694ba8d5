# Step 6: add passes, toggle one and see the estimated totals change at once, edit a
# parameter in the generated form (a bad value is refused in the form), the plan is saved.
. "$(dirname "$0")/lib/tmux.sh"
P=$(demo_project)
start 80 24 -- --open "$P"
wait_for "─ 2 Model ─"
keys 6
empty_plan
size_line() { screen | grep -o "size  *[0-9.]* KB -> [0-9.]* KB  (x[0-9.]*)"; }
# Add "prune" from the pass list.
keys a
wait_for "Add a pass"
keys Home
for i in $(seq 1 12); do
    screen | grep -q "Zeros the smallest weights" && break
    keys Down
done
screen | grep -q "Zeros the smallest weights" || fail "could not select prune"
keys Enter
wait_for "added prune"
on=$(size_line)
[ -n "$on" ] || fail "no size total"
echo "$on" | grep -q "(x1.00)" && fail "prune enabled but the size estimate is unchanged: $on"
keys Space
wait_for "prune disabled"
off=$(size_line)
[ "$on" != "$off" ] || fail "toggling did not change the estimate ($on)"
echo "$off" | grep -q "(x1.00)" || fail "all steps off but size ratio is not 1: $off"
keys Space
wait_for "prune enabled"
# Edit: sparsity out of range is refused inside the form; a good value is taken.
keys Enter
wait_for "prune: Magnitude pruning"
keys BSpace BSpace BSpace BSpace BSpace BSpace
keys -l "7"
keys Enter
wait_for "sparsity"
screen | grep -q "0..0.99\|0 to 0.99\|range\|between\|must" || fail "no range error in the form"
keys BSpace
keys -l "0.9"
keys Enter
wait_for "sparsity=0.9"
grep -q "sparsity=0.9" "$P/project.json" || fail "edited parameters not saved"
keys q
wait_for "EXITED rc=0"
echo "plan: ok"
