# A broken model file (garbage, and a truncated real model) shows an in-app error the person
# can act on; the app keeps running and the project still points at the good model.
. "$(dirname "$0")/lib/tmux.sh"
P=$(demo_project)
printf 'this is not an onnx file\n' > "$TMP/garbage.onnx"
head -c 5000 "$ROOT/examples/fashion-mnist/cnn.onnx" > "$TMP/truncated.onnx"
start 80 24 -- --open "$P"
wait_for "─ 2 Model ─"
wait_for "parameters 168.49k"
for f in garbage truncated; do
    keys Enter
    wait_for "Choose the ONNX model"
    keys -l "$TMP/$f.onnx"
    keys Enter
    wait_for "This model could not be loaded"
    wait_for "model not usable"
done
grep -q '"cnn.onnx"' "$P/project.json" || fail "project.json changed by a broken model"
# Still alive and responsive: choose the good model again.
keys Enter
keys -l "$P/cnn.onnx"
keys Enter
wait_for "parameters 168.49k"
keys q
wait_for "EXITED rc=0"
assert_restored
echo "broken_model: ok"
