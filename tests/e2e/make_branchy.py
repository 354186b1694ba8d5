"""Writes a small CNN with BatchNorm, a depthwise conv and a channel Concat to argv[1], input
(N,1,28,28). Filters 4..7 of convA are zero and everything after them (BatchNorm shift,
depthwise bias) keeps those channels at zero, so prune-channels:ratio=0.5,layers=convA must
remove exactly them, rewiring BN, the depthwise conv (group 8 -> 4) and conv3's inputs behind
the Concat, without changing the outputs."""
import sys
import numpy as np
import onnx
from onnx import helper as h, numpy_helper as nh, TensorProto as T

rng = np.random.default_rng(1)
f32 = np.float32
wa = rng.standard_normal((8, 1, 3, 3)).astype(f32)
wa[4:] = 0
bn_s = rng.uniform(0.5, 1.5, 8).astype(f32)
bn_b = rng.standard_normal(8).astype(f32)
bn_m = rng.standard_normal(8).astype(f32)
bn_v = rng.uniform(0.5, 1.5, 8).astype(f32)
bn_b[4:] = 0
bn_m[4:] = 0
wd = rng.standard_normal((8, 1, 3, 3)).astype(f32)
bd = rng.standard_normal(8).astype(f32)
bd[4:] = 0
wb = rng.standard_normal((4, 1, 3, 3)).astype(f32)
bb = rng.standard_normal(4).astype(f32)
w3 = rng.standard_normal((6, 12, 1, 1)).astype(f32)
b3 = rng.standard_normal(6).astype(f32)
wf = (0.02 * rng.standard_normal((10, 6 * 28 * 28))).astype(f32)
bf = np.zeros(10, f32)
p = dict(pads=[1, 1, 1, 1], kernel_shape=[3, 3])
nodes = [
    h.make_node("Conv", ["input", "wa"], ["a"], name="convA", **p),
    h.make_node("BatchNormalization", ["a", "bn_s", "bn_b", "bn_m", "bn_v"], ["an"], name="bnA"),
    h.make_node("Relu", ["an"], ["ar"], name="reluA"),
    h.make_node("Conv", ["ar", "wd", "bd"], ["d"], name="dw", group=8, **p),
    h.make_node("Relu", ["d"], ["dr"], name="reluD"),
    h.make_node("Conv", ["input", "wb", "bb"], ["b"], name="convB", **p),
    h.make_node("Concat", ["dr", "b"], ["c"], name="cat", axis=1),
    h.make_node("Conv", ["c", "w3", "b3"], ["e"], name="conv3", kernel_shape=[1, 1]),
    h.make_node("Relu", ["e"], ["er"], name="relu3"),
    h.make_node("Flatten", ["er"], ["fl"], name="flatten"),
    h.make_node("Gemm", ["fl", "wf", "bf"], ["logits"], name="fc", transB=1),
]
inits = [nh.from_array(v, k) for k, v in dict(wa=wa, bn_s=bn_s, bn_b=bn_b, bn_m=bn_m, bn_v=bn_v,
                                             wd=wd, bd=bd, wb=wb, bb=bb, w3=w3, b3=b3, wf=wf,
                                             bf=bf).items()]
g = h.make_graph(nodes, "branchy", [h.make_tensor_value_info("input", T.FLOAT, ["N", 1, 28, 28])],
                 [h.make_tensor_value_info("logits", T.FLOAT, ["N", 10])], inits)
m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
m.ir_version = 7
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1])
