# Cancel a run: c stops it, the screen says what was kept, and project.json is byte-identical
# to before the run. q while a run is going asks first. Skips (77) without the job runner.
. "$(dirname "$0")/lib/tmux.sh"
P=$(demo_project)
start 80 24 -- --open "$P"
wait_for "─ 2 Model ─"
keys 6
wait_for "─ 6 Plan ─"
if ! grep -q '"pass"' "$P/project.json"; then
    if screen | grep -qF "press a to add a pass"; then
        keys a
        wait_for "Add a pass"
        keys Enter
        wait_for "added fold"
    else
        wait_for "[x]" 60
    fi
fi
keys 7
wait_for "─ 7 Run ─"
cp "$P/project.json" "$TMP/before.json"
keys g
# q during the run asks; n keeps running.
keys q
wait_for "A run is in progress. Quit and cancel it?"
keys n
keys c
wait_for "cancel"
wait_for "cancelled" 60
cmp -s "$P/project.json" "$TMP/before.json" || fail "project.json changed by a cancelled run"
keys q
wait_for "EXITED rc=0"
assert_restored
echo "cancel: ok"
