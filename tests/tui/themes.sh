# Theme cycling with T, the choice remembered in $XDG_CONFIG_HOME/kompress/tui.conf (and
# used at the next start), --theme NAME, and an unknown theme shown as an in-app error.
. "$(dirname "$0")/lib/tmux.sh"
start 80 24
wait_for "1 Project"
a=$(tm capture-pane -e -p -t t | head -n 3 | md5sum)
keys T
wait_for "theme high-contrast"
grep -q "theme = high-contrast" "$XDG_CONFIG_HOME/kompress/tui.conf" || fail "choice not saved"
b=$(tm capture-pane -e -p -t t | head -n 3 | md5sum)
[ "$a" != "$b" ] || fail "screen colours did not change"
keys T
wait_for "theme light"
keys T
wait_for "theme monochrome"
keys T
wait_for "theme default"
keys T
keys q
wait_for "EXITED rc=0"
restart
start 80 24
wait_for "1 Project"
c=$(tm capture-pane -e -p -t t | head -n 3 | md5sum)
[ "$c" = "$b" ] || fail "remembered theme (high-contrast) not used at start"
keys q
restart
start 80 24 -- --theme nope
wait_for "theme 'nope' not found"
keys q
wait_for "EXITED rc=0"
ls "$XDG_CONFIG_HOME/kompress/" | grep -q tmp && fail "temp file left behind"
echo "themes: ok"
