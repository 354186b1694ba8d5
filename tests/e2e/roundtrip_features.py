"""Writes valid models that use the ONNX features the libonnx-testdata models lack, so the
round-trip covers them too: local functions, training info, metadata, sparse initializers and
attributes, quantization annotations, every attribute kind (floats, tensors, graphs, sparse
tensors, type protos), non-tensor types (sequence, map, optional, sparse), denotations, typed
fields of every dtype, and weights in an external-data file.

usage: roundtrip_features.py OUT_DIR    (prints the model paths, one per line)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def vi(name, elem=F, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def map_type():
    tp = onnx.TypeProto()
    tp.map_type.key_type = TensorProto.INT64
    tp.map_type.value_type.CopyFrom(helper.make_tensor_type_proto(F, [2]))
    return tp


def typed_initializers():
    """One initializer per dtype, values in the typed fields (not raw_data)."""
    out = []
    specs = [
        (TensorProto.FLOAT, [1.5, -2.0]),
        (TensorProto.DOUBLE, [1e300, -0.5]),
        (TensorProto.INT8, [-128, 127]),
        (TensorProto.UINT8, [0, 255]),
        (TensorProto.INT16, [-32768, 7]),
        (TensorProto.UINT16, [65535, 1]),
        (TensorProto.INT32, [-(2 ** 31), 5]),
        (TensorProto.INT64, [-(2 ** 63), 2 ** 62]),
        (TensorProto.UINT32, [2 ** 32 - 1, 3]),
        (TensorProto.UINT64, [2 ** 64 - 1, 9]),
        (TensorProto.BOOL, [True, False]),
        (TensorProto.FLOAT16, np.array([1.0, -65504.0], np.float16)),
        (TensorProto.COMPLEX64, [1 + 2j, -3j]),
        (TensorProto.COMPLEX128, [0.5 - 1j, 2 + 0j]),
        (TensorProto.STRING, [b"abc", b""]),
    ]
    for dt, vals in specs:
        name = "typed_%s" % TensorProto.DataType.Name(dt).lower()
        if dt == TensorProto.FLOAT16:
            t = helper.make_tensor(name, dt, [2], vals.view(np.uint16).tolist())
        else:
            t = helper.make_tensor(name, dt, [2], vals)
        out.append(t)
    bf = TensorProto(name="typed_bfloat16", data_type=TensorProto.BFLOAT16, dims=[2])
    bf.int32_data.extend([0x3F80, 0xC000])  # 1.0, -2.0
    out.append(bf)
    return out


def rich_model():
    # A local function: y = Relu(x) * alpha-scaled, used by a node of domain "local".
    fn = helper.make_function(
        "local", "ScaledRelu", ["X"], ["Y"],
        [helper.make_node("Relu", ["X"], ["R"]),
         helper.make_node("Constant", [], ["S"], value_float=2.0),
         helper.make_node("Mul", ["R", "S"], ["Y"])],
        [helper.make_opsetid("", 13)], attributes=["unused_attr"])
    fn.doc_string = "a local function"

    # Loop body reading an outer-scope value ("w") and an If with two branches.
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["v_in", "w"], ["v_out"])],
        "loop_body",
        [vi("iter", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []),
         vi("v_in", F, [1, 4])],
        [vi("cond_out", TensorProto.BOOL, []), vi("v_out", F, [1, 4])])
    then_g = helper.make_graph([helper.make_node("Identity", ["lv"], ["t_out"])], "then", [],
                               [vi("t_out", F, [1, 4])])
    else_g = helper.make_graph([helper.make_node("Neg", ["lv"], ["e_out"])], "else", [],
                               [vi("e_out", F, [1, 4])])

    sp = helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([1.0, 3.0], np.float32), "sp_w"),
        numpy_helper.from_array(np.array([0, 3], np.int64), "sp_w_idx"), [1, 4])
    sp_attr = helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([5.0], np.float32), "sp_c"),
        numpy_helper.from_array(np.array([[0, 2]], np.int64), "sp_c_idx"), [1, 4])

    odd = helper.make_node(
        "Everything", ["x"], ["odd_out"], domain="custom.test", name="every_attr_kind",
        doc_string="a node carrying every attribute kind",
        f=0.25, i=-7, s=b"bytes\x00with nul", floats=[1.0, -0.0, 3.5], ints=[1, -2],
        strings=[b"a", b"bc"],
        t=numpy_helper.from_array(np.eye(2, dtype=np.float32), "t_attr"),
        tensors=[numpy_helper.from_array(np.arange(3, dtype=np.int64), "ta"),
                 numpy_helper.from_array(np.array([True]), "tb")],
        g=then_g, graphs=[else_g, then_g],
        sparse_tensor=sp_attr, sparse_tensors=[sp_attr, sp],
        tp=helper.make_sequence_type_proto(helper.make_tensor_type_proto(F, [2, "n"])),
        type_protos=[helper.make_tensor_type_proto(TensorProto.INT8, None),
                     helper.make_optional_type_proto(helper.make_tensor_type_proto(F, []))])
    nodes = [
        helper.make_node("ScaledRelu", ["x"], ["fx"], domain="local", name="call_fn"),
        helper.make_node("Add", ["fx", "sp_w"], ["a"], name="add_sparse"),
        helper.make_node("Constant", [], ["c_sparse"], sparse_value=sp_attr, name="c_sp"),
        helper.make_node("Add", ["a", "c_sparse"], ["lv0"]),
        helper.make_node("Loop", ["trip", "cond", "lv0"], ["lv"], body=body, name="loop"),
        helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g,
                         name="if"),
        odd,
    ]
    x_type = helper.make_tensor_type_proto(F, [1, 4])
    x_type.denotation = "TENSOR"
    x_type.tensor_type.shape.dim[1].denotation = "DATA_CHANNEL"
    x = helper.make_value_info("x", x_type, doc_string="input with denotations")
    graph = helper.make_graph(
        nodes, "rich", [x, vi("trip", TensorProto.INT64, []), vi("cond", TensorProto.BOOL, [])],
        [vi("y", F, ["batch", 4]), vi("odd_out", F, [2])],
        initializer=[numpy_helper.from_array(np.ones((1, 4), np.float32), "w")]
        + typed_initializers(),
        value_info=[
            helper.make_value_info("seq_vi", helper.make_sequence_type_proto(
                helper.make_tensor_type_proto(F, ["s", 3]))),
            helper.make_value_info("map_vi", map_type()),
            helper.make_value_info("opt_vi", helper.make_optional_type_proto(
                helper.make_tensor_type_proto(F, [1]))),
            helper.make_value_info("sparse_vi", helper.make_sparse_tensor_type_proto(F, [4, 4])),
            helper.make_value_info("untyped_vi", onnx.TypeProto()),
        ],
        doc_string="graph doc", sparse_initializer=[sp])
    ann = graph.quantization_annotation.add()
    ann.tensor_name = "a"
    kv = ann.quant_parameter_tensor_names.add()
    kv.key, kv.value = "SCALE_TENSOR", "w"
    model = helper.make_model(
        graph, functions=[fn],
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("local", 1),
                       helper.make_opsetid("custom.test", 3)],
        producer_name="kompress-tests", producer_version="1.0", domain="org.kompress",
        model_version=42, doc_string="model doc")
    helper.set_model_props(model, {"author": "tests", "purpose": "round-trip"})
    ti = model.training_info.add()
    ti.algorithm.CopyFrom(helper.make_graph(
        [helper.make_node("Identity", ["w"], ["w_new"])], "train", [], [vi("w_new", F, [1, 4])]))
    b = ti.update_binding.add()
    b.key, b.value = "w", "w_new"
    return model


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    paths = []
    m = rich_model()
    p = os.path.join(out, "rich.onnx")
    onnx.save(m, p)
    paths.append(p)
    # The same model with its big weights in an external file next to it.
    ext_dir = os.path.join(out, "external")
    os.makedirs(ext_dir, exist_ok=True)
    m2 = rich_model()
    m2.graph.initializer.append(
        numpy_helper.from_array(np.arange(4096, dtype=np.float32).reshape(64, 64), "big_w"))
    m2.graph.initializer.append(
        numpy_helper.from_array(np.arange(100, dtype=np.int64), "big_i"))
    p = os.path.join(ext_dir, "model.onnx")
    onnx.save_model(m2, p, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=64)
    paths.append(p)
    for p in paths:
        print(p)


if __name__ == "__main__":
    main()
