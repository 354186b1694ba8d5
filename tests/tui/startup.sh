# Start-up, step list, every step reachable by keyboard (Tab, digits, Esc), help overlay,
# quitting with q restores the terminal.
. "$(dirname "$0")/lib/tmux.sh"
start 80 24
wait_for "1 Project"
for s in "2 Model" "3 Test data" "4 Target" "5 Goals" "6 Plan" "7 Run" "8 Results"; do
    screen | grep -qF "$s" || fail "step list lacks $s"
done
screen | grep -qF "? help" || fail "no key-hint bar"
# Tab through every step: the screen title follows.
for s in "2 Model" "3 Test data" "4 Target" "5 Goals" "6 Plan" "7 Run" "8 Results"; do
    keys Tab
    wait_for "─ $s ─"
done
keys Escape
wait_for "─ 7 Run ─"
keys 3
wait_for "─ 3 Test data ─"
keys BTab
wait_for "─ 2 Model ─"
keys 1
wait_for "─ 1 Project ─"
# Help overlay lists this screen's keys and the global ones; any key closes it.
keys '?'
wait_for "Help: Project"
screen | grep -qF "next colour theme" || fail "help lacks the global keys"
keys x
wait_gone "Help: Project"
keys q
wait_for "EXITED rc=0"
assert_restored
echo "startup: ok"
