# Shared helpers for the tmux-driven TUI tests (sourced; not a test itself).
# Each test gets its own tmux server (-L), temp HOME/XDG folders, and bounded waits.
command -v tmux >/dev/null 2>&1 || { echo "tmux is not installed"; exit 77; }
[ -n "$KOMPRESS" ] && [ -x "$KOMPRESS" ] || { echo "KOMPRESS binary not found ($KOMPRESS)"; exit 1; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
SOCK="kp-tui-$$-0"
RUNS=0
export HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/config" XDG_DATA_HOME="$TMP/data"
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME"
export KOMPRESS_THEMES="$ROOT/themes"
# Sanitizer reports go to files (the terminal belongs to curses); failures print them.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$TMP/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$TMP/ubsan"
show_sanitizer() { for f in "$TMP"/asan* "$TMP"/ubsan*; do [ -f "$f" ] && head -n 30 "$f"; done; }
# Slower under sanitizers.
case "$BUILD" in *asan*) SLOW=3 ;; *) SLOW=1 ;; esac

tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
cleanup() { tm kill-server >/dev/null 2>&1; rm -rf "$TMP"; }
# restart: ends this tmux server; the next start uses a fresh one.
restart() {
    tm kill-server >/dev/null 2>&1
    RUNS=$((RUNS + 1))
    SOCK="kp-tui-$$-$RUNS"
}
trap cleanup EXIT INT TERM

# start W H [ENV=VAL ...] -- ARGS...: runs the app in a detached session; after it exits the
# pane prints "EXITED rc=N" and stays open so the test can inspect the terminal state.
start() {
    w=$1; h=$2; shift 2
    envs=""
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs="$envs $1"; shift; done
    [ "$1" = "--" ] && shift
    tm new-session -d -x "$w" -y "$h" -s t \
        "env LANG=C.UTF-8 LC_ALL= TERM=tmux-256color $envs $KOMPRESS $*; echo EXITED rc=\$?; sleep 60"
}

screen() { tm capture-pane -p -t t; }
keys() { tm send-keys -t t "$@"; sleep 0.15; }

# wait_for TEXT [SECONDS]: polls the screen until TEXT (fixed string) appears.
wait_for() {
    limit=$(( ${2:-10} * SLOW * 5 ))
    i=0
    while [ $i -lt $limit ]; do
        screen | grep -qF -- "$1" && return 0
        sleep 0.2
        i=$((i + 1))
    done
    echo "FAIL: timed out waiting for: $1"
    echo "---- screen ----"
    screen
    echo "----------------"
    show_sanitizer
    exit 1
}

# wait_gone TEXT: polls until TEXT is no longer on the screen.
wait_gone() {
    limit=$(( ${2:-10} * SLOW * 5 ))
    i=0
    while [ $i -lt $limit ]; do
        screen | grep -qF -- "$1" || return 0
        sleep 0.2
        i=$((i + 1))
    done
    echo "FAIL: still on screen: $1"
    screen
    exit 1
}

fail() { echo "FAIL: $*"; echo "---- screen ----"; screen; show_sanitizer; exit 1; }

# The terminal is restored: not in the alternate screen, cursor visible, no mouse tracking.
assert_restored() {
    [ "$(tm display -p -t t '#{alternate_on}')" = 0 ] || fail "still in the alternate screen"
    [ "$(tm display -p -t t '#{cursor_flag}')" = 1 ] || fail "cursor still hidden"
    [ "$(tm display -p -t t '#{mouse_any_flag}')" = 0 ] || fail "mouse tracking still on"
}

# Demo project copied into a temp workspace (empty workspace otherwise).
demo_project() {
    mkdir -p "$XDG_DATA_HOME/kompress/projects"
    cp -r "$ROOT/examples/fashion-mnist" "$XDG_DATA_HOME/kompress/projects/demo"
    echo "$XDG_DATA_HOME/kompress/projects/demo"
}

# On the Plan screen: waits for a planner at work to answer, then removes every step so the
# test starts from an empty plan.
empty_plan() {
    wait_for "─ 6 Plan ─"
    sleep 0.3
    wait_gone "the planner is working" 90
    n=0
    while ! screen | grep -qF "The plan is empty" && [ $n -lt 20 ]; do keys d; n=$((n + 1)); done
    wait_for "The plan is empty"
}
