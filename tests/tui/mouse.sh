# Mouse: clicking a step in the step list opens it; clicking a row selects it and a second
# click uses it; clicking a plan step's box toggles it. (X10 mouse reports sent as input.)
. "$(dirname "$0")/lib/tmux.sh"
P=$(demo_project)
# click X Y: press and release of button 1 at 0-based column X, row Y.
click() {
    seq=$(printf '\033[M%b%b%b\033[M%b%b%b' "\\$(printf '%03o' 32)" "\\$(printf '%03o' $((33 + $1)))" \
        "\\$(printf '%03o' $((33 + $2)))" "\\$(printf '%03o' 35)" "\\$(printf '%03o' $((33 + $1)))" \
        "\\$(printf '%03o' $((33 + $2)))")
    tm send-keys -t t -l "$seq"
    sleep 0.2
}
start 80 24 -- --open "$P"
wait_for "─ 2 Model ─"
click 5 8   # "4 Target" in the step list (rows 2, 4, 6, 8 ...)
wait_for "─ 4 Target ─"
click 25 4  # third row of the target list: laptop-avx2
click 25 4
wait_for "target laptop-avx2 saved"
grep -q '"laptop-avx2"' "$P/project.json" || fail "target not saved"
click 5 12  # "6 Plan"
empty_plan
keys a
wait_for "Add a pass"
keys Enter
wait_for "added fold"
click 22 3  # the [x] of the first plan row
wait_for "fold disabled"
click 22 3
wait_for "fold enabled"
# The data picker's title takes two rows at 80 columns: a click still picks the row under it.
keys 3
wait_for "─ 3 Test data ─"
keys Home
keys Enter
wait_for "its ./ row)"
click 25 7  # t10k-images-idx3-ubyte.gz (rows: title 2-3, folder 4, filter help 5, ../ 6)
click 25 7
wait_for "data saved"
keys q
wait_for "EXITED rc=0"
assert_restored
echo "mouse: ok"
