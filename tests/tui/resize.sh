# Live resize: larger (200x60) redraws to fill; smaller than 80x24 says what size it needs;
# back to 80x24 restores the normal layout.
. "$(dirname "$0")/lib/tmux.sh"
start 80 24
wait_for "1 Project"
tm resize-window -t t -x 200 -y 60
sleep 0.3
wait_for "8 Results"
[ "$(screen | wc -l)" -ge 59 ] || fail "did not grow to 60 rows"
screen | tail -n 1 | grep -qF "q quit" || fail "hint bar not at the bottom after resize"
tm resize-window -t t -x 60 -y 20
wait_for "needs at least 80x24"
wait_for "This terminal is 60x20."
tm resize-window -t t -x 80 -y 24
wait_for "1 Project"
wait_gone "needs at least"
keys q
wait_for "EXITED rc=0"
assert_restored
echo "resize: ok"
