# TERM=linux with LANG=C: ASCII boxes and markers only, no UTF-8 line drawing.
. "$(dirname "$0")/lib/tmux.sh"
start 80 24 TERM=linux LANG=C LC_ALL=C
wait_for "1 Project"
s=$(screen)
echo "$s" | grep -qF "+- Steps" || fail "no ASCII box"
echo "$s" | grep -q "[─│┌┐└┘▶]" && fail "UTF-8 drawing characters with LANG=C"
keys q
wait_for "EXITED rc=0"
# And --ascii forces it in a UTF-8 locale too.
restart
start 80 24 -- --ascii
wait_for "+- Steps"
keys q
wait_for "EXITED rc=0"
echo "ascii: ok"
