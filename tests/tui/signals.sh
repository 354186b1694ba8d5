# The terminal is restored on Ctrl-C and on a crash signal (SIGABRT, SIGSEGV): the handlers
# end curses before the process dies.
. "$(dirname "$0")/lib/tmux.sh"
start 80 24
wait_for "1 Project"
keys C-c
wait_for "EXITED rc="
assert_restored
for sig in ABRT SEGV; do
    restart
    start 80 24
    wait_for "1 Project"
    pid=$(tm display -p -t t '#{pane_pid}')
    app=$(pgrep -P "$pid" -f kompress | head -n 1)
    [ -n "$app" ] || fail "cannot find the app process"
    kill -"$sig" "$app"
    wait_for "EXITED rc="
    assert_restored
done
echo "signals: ok"
