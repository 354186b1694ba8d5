# NO_COLOR=1: no colour escape sequences at all (attributes like reverse/bold remain), and the
# app still shows the selection. Without NO_COLOR the same screen has colours.
. "$(dirname "$0")/lib/tmux.sh"
start 80 24 NO_COLOR=1
wait_for "1 Project"
e=$(tm capture-pane -e -p -t t)
echo "$e" | grep -q "$(printf '\033')\[[0-9;]*\(3[0-7]\|38;5\|4[0-7]\|48;5\|9[0-7]\)[;m]" &&
    fail "colour sequences with NO_COLOR"
echo "$e" | grep -q "$(printf '\033')\[[0-9;]*7[;m]" || fail "no reverse video for the selection"
keys q
wait_for "EXITED rc=0"
restart
start 80 24
wait_for "1 Project"
tm capture-pane -e -p -t t | grep -q "$(printf '\033')\[[0-9;]*3[0-7][;m]" || fail "no colours without NO_COLOR"
keys q
echo "nocolor: ok"
