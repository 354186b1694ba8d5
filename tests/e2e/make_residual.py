"""Writes a small residual CNN for Fashion-MNIST-shaped input (N,1,28,28) to argv[1]:
conv1 (1->4) relu, a residual block [conv2 (4->4, weights x0.01) relu] + skip, flatten, gemm.
The block barely changes the output, so drop-layers must find and drop it (or its layer)."""
import sys
import numpy as np
import onnx
from onnx import helper as h, numpy_helper as nh, TensorProto as T

rng = np.random.default_rng(0)
w1 = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
w2 = (0.01 * rng.standard_normal((4, 4, 3, 3))).astype(np.float32)
wf = (0.05 * rng.standard_normal((10, 4 * 28 * 28))).astype(np.float32)
bf = np.zeros(10, np.float32)
p = dict(pads=[1, 1, 1, 1], kernel_shape=[3, 3])
nodes = [
    h.make_node("Conv", ["input", "w1"], ["c1"], name="conv1", **p),
    h.make_node("Relu", ["c1"], ["r1"], name="relu1"),
    h.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", **p),
    h.make_node("Relu", ["c2"], ["r2"], name="relu2"),
    h.make_node("Add", ["r1", "r2"], ["s"], name="add"),
    h.make_node("Flatten", ["s"], ["f"], name="flatten"),
    h.make_node("Gemm", ["f", "wf", "bf"], ["logits"], name="fc", transB=1),
]
g = h.make_graph(nodes, "residual",
                 [h.make_tensor_value_info("input", T.FLOAT, ["N", 1, 28, 28])],
                 [h.make_tensor_value_info("logits", T.FLOAT, ["N", 10])],
                 [nh.from_array(w1, "w1"), nh.from_array(w2, "w2"), nh.from_array(wf, "wf"),
                  nh.from_array(bf, "bf")])
m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
m.ir_version = 7
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1])
