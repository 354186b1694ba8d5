# Steps 1-5 from an empty workspace: create a project, choose the demo model by typing its
# path in the picker (summary shown), choose test data, a target, change the goals; the
# project list shows it; delete asks first and "no" keeps it.
. "$(dirname "$0")/lib/tmux.sh"
start 80 24
wait_for "No projects in this workspace yet."
keys n
wait_for "New project"
keys -l "mnist"
keys Enter
wait_for "created project mnist"
wait_for "─ 2 Model ─"
wait_for "Choose the ONNX model"
P="$XDG_DATA_HOME/kompress/projects/mnist"
[ -f "$P/project.json" ] || fail "project.json not created"
keys -l "$ROOT/examples/fashion-mnist/cnn.onnx"
keys Enter
wait_for "parameters 168.49k"
wait_for "every op can run here"
grep -q "cnn.onnx" "$P/project.json" || fail "model not saved in project.json"
keys Tab
wait_for "─ 3 Test data ─"
IMG=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
if [ -f "$IMG" ]; then
    keys Enter
    wait_for "Choose the test data"
    keys -l "$IMG"
    keys Enter
    wait_for "labels found beside it"
    grep -q "t10k-images" "$P/project.json" || fail "data not saved in project.json"
fi
keys Tab
wait_for "─ 4 Target ─"
wait_for "host"
keys Enter
wait_for "target host saved"
keys Tab
wait_for "─ 5 Goals ─"
keys Right
wait_for "goals:"
grep -q '"goals"' "$P/project.json" || fail "goals not saved"
keys 1
wait_for "─ 1 Project ─"
wait_for "cnn.onnx"
keys d
wait_for "Delete project 'mnist'"
keys n
wait_for "nothing deleted"
[ -d "$P" ] || fail "project deleted after answering no"
keys d
keys y
wait_for "deleted project mnist"
[ -d "$P" ] && fail "project folder still there after delete"
keys q
wait_for "EXITED rc=0"
assert_restored
echo "project: ok"
