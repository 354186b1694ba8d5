# Memory figures a person compares across screens: the Model screen's peak activations is what
# `kompress eval` reports at batch 1 (it used to be the sum of every activation: 573 KB for the
# demo CNN beside eval's 37.6 KB), and the Target screen's RAM counts every activation whose
# shape the loaded model infers (it used to count only the input, 3.18 KB, and call the CNN a
# fit anywhere).
. "$(dirname "$0")/lib/tmux.sh"
P=$(demo_project)
peak=$("$KOMPRESS" eval --project "$P" --limit 8 --batch 1 --no-latency --json |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["memory"]["peak_activation_bytes_batchB"])') ||
    fail "kompress eval failed"
# kp_fmt_bytes: 1000-based, two decimals
want=$(awk -v b="$peak" 'BEGIN { if (b >= 1e6) printf "%.2f MB", b / 1e6; else if (b >= 1e3) printf "%.2f KB", b / 1e3; else printf "%d B", b }')
start 100 30 -- --open "$P"
wait_for "─ 2 Model ─"
wait_for "peak activations $want" 60
keys 4
wait_for "─ 4 Target ─"
# host: the CNN's 673.96 KB of weights + 203.84 KB of activations live at once (roofline
# liveness over the inferred shapes, batch 1; no ISA dependence)
wait_for "RAM   fits: needs 877.80 KB"
screen | grep -q "needs 677" && fail "RAM counts only the input activation"
echo "memory_figures: ok"
