# The Model screen stays responsive while a big model loads: the load and its measuring run
# run on a worker thread, so the screen shows a spinner, the help overlay opens and closes
# and the step list moves while the model is still loading; the summary appears at the end.
. "$(dirname "$0")/lib/tmux.sh"
P=$(demo_project)
# A model that takes seconds to load and measure: one run of 32 256-channel 3x3 convolutions
# on a 64x64 map (~77 GMACs), 75 MB of weights.
/usr/bin/python3 - "$P/big.onnx" <<'PY' || { echo "skip: python3 with onnx and numpy is needed"; exit 77; }
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
rng = np.random.default_rng(0)
nodes, inits, x = [], [], "x"
C = 256
for i in range(32):
    w = numpy_helper.from_array((rng.standard_normal((C, C, 3, 3)) * 0.02).astype(np.float32), f"w{i}")
    inits.append(w)
    nodes.append(helper.make_node("Conv", [x, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]))
    x = f"c{i}"
nodes.append(helper.make_node("ReduceMean", [x], ["y"], axes=[2, 3], keepdims=0))
g = helper.make_graph(nodes, "big",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, 64, 64])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, C])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
onnx.save(m, sys.argv[1])
PY
sed -i 's/"model": "cnn.onnx"/"model": "big.onnx"/' "$P/project.json"
start 80 24 -- --open "$P"
wait_for "─ 2 Model ─"
wait_for "loading the model"
keys ?
wait_for "choose a model file"
screen | grep -q "loading the model" && fail "the help overlay did not open"
keys Escape
wait_for "loading the model"
keys 1
wait_for "─ 1 Project ─"
keys 2
wait_for "loading the model"
wait_for "MACs " 120
screen | grep -q "big.onnx" || fail "the summary does not name the model"
keys q
wait_for "EXITED rc=0"
echo "model_busy: ok"
