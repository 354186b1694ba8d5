"""Independent check of Kompress's saved models with the reference onnx package.

usage: roundtrip_check.py MODEL_LIST SAVED_DIR [SAMPLE_EVERY]

MODEL_LIST holds the original model paths, one per line; SAVED_DIR/<n>.onnx is what Kompress
saved for line n. For every pair: onnx.checker.check_model must accept the saved model (on every
SAMPLE_EVERY-th pair, default 1 = all), and the saved model must equal the original once both
are normalized (every tensor's values moved into raw_data, which is how Kompress saves them, and
empty TypeProtos dropped, which say nothing).
Prints "N saved models match their originals, N differ" and exits 1 on any difference.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto

# Storage of the typed fields, per data type: (field, numpy dtype of the raw bytes).
TYPED = {
    TensorProto.FLOAT: ("float_data", np.float32),
    TensorProto.COMPLEX64: ("float_data", np.float32),
    TensorProto.DOUBLE: ("double_data", np.float64),
    TensorProto.COMPLEX128: ("double_data", np.float64),
    TensorProto.INT64: ("int64_data", np.int64),
    TensorProto.UINT32: ("uint64_data", np.uint32),
    TensorProto.UINT64: ("uint64_data", np.uint64),
    TensorProto.INT32: ("int32_data", np.int32),
    TensorProto.INT16: ("int32_data", np.int16),
    TensorProto.UINT16: ("int32_data", np.uint16),
    TensorProto.INT8: ("int32_data", np.int8),
    TensorProto.UINT8: ("int32_data", np.uint8),
    TensorProto.BOOL: ("int32_data", np.uint8),
    TensorProto.FLOAT16: ("int32_data", np.uint16),
    TensorProto.BFLOAT16: ("int32_data", np.uint16),
}


def norm_tensor(t):
    # onnx.load marks tensors whose external data it read as DEFAULT location explicitly.
    if t.HasField("data_location") and t.data_location == TensorProto.DEFAULT:
        t.ClearField("data_location")
    if t.data_type == TensorProto.STRING or t.HasField("raw_data"):
        return
    field, dt = TYPED.get(t.data_type, (None, None))
    if field is None:
        return
    vals = getattr(t, field)
    raw = np.array(list(vals), dtype=np.int64 if field == "int32_data" else dt)
    raw = raw.astype(dt).astype("<" + np.dtype(dt).str[1:]).tobytes()
    t.ClearField(field)
    t.raw_data = raw


def norm_graph(g):
    # An empty TypeProto says nothing; Kompress keeps it as "no type" and writes none.
    for v in list(g.input) + list(g.output) + list(g.value_info):
        if v.HasField("type") and v.type.ByteSize() == 0:
            v.ClearField("type")
    for t in g.initializer:
        norm_tensor(t)
    for s in g.sparse_initializer:
        norm_tensor(s.values)
        norm_tensor(s.indices)
    for n in g.node:
        norm_node(n)


def norm_node(n):
    for a in n.attribute:
        if a.HasField("t"):
            norm_tensor(a.t)
        for t in a.tensors:
            norm_tensor(t)
        if a.HasField("sparse_tensor"):
            norm_tensor(a.sparse_tensor.values)
            norm_tensor(a.sparse_tensor.indices)
        for s in a.sparse_tensors:
            norm_tensor(s.values)
            norm_tensor(s.indices)
        if a.HasField("g"):
            norm_graph(a.g)
        for sub in a.graphs:
            norm_graph(sub)


def norm_model(m):
    norm_graph(m.graph)
    for f in m.functions:
        for n in f.node:
            norm_node(n)
    return m.SerializeToString(deterministic=True)


def first_diff(a, b):
    """A short description of where two models differ, for the failure message."""
    for field in ("ir_version", "producer_name", "opset_import", "metadata_props", "functions"):
        if getattr(a, field) != getattr(b, field):
            return field
    ga, gb = a.graph, b.graph
    for field in ("input", "output", "value_info", "initializer", "sparse_initializer"):
        if getattr(ga, field) != getattr(gb, field):
            return "graph." + field
    for i, (x, y) in enumerate(zip(ga.node, gb.node)):
        if x != y:
            return "graph.node[%d] (%s)" % (i, x.op_type)
    return "elsewhere"


def main():
    paths = [p for p in open(sys.argv[1]).read().splitlines() if p]
    saved_dir = sys.argv[2]
    every = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    same = differ = checked = both_rejected = 0
    for i, orig_path in enumerate(paths):
        saved_path = "%s/%d.onnx" % (saved_dir, i)
        if not os.path.exists(saved_path):
            print("FAIL %s: Kompress saved nothing" % orig_path)
            differ += 1
            continue
        orig = onnx.load(orig_path)
        saved = onnx.load(saved_path)
        if i % every == 0:
            try:
                onnx.checker.check_model(saved)
                checked += 1
            except Exception as e:  # the checker raises several exception types
                # The saved file must be as acceptable as the original: only fail when the
                # checker accepts the original.
                try:
                    onnx.checker.check_model(orig)
                except Exception:
                    both_rejected += 1
                else:
                    print("FAIL %s: checker rejects the saved model: %s" % (orig_path, e))
                    differ += 1
                    continue
        if norm_model(orig) == norm_model(saved):
            same += 1
        else:
            differ += 1
            print("FAIL %s: saved model differs at %s" % (orig_path, first_diff(orig, saved)))
    print("%d saved models match their originals, %d differ; onnx.checker accepts %d saved "
          "models (%d more are rejected like their originals)" % (same, differ, checked,
                                                                  both_rejected))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
