"""Writes the malformed-model corpus into a folder: every file must be refused by Kompress's
loader with a clear error (never loaded, never a crash).

usage: gen.py OUT_DIR

Each case is a file OUT_DIR/<name>.onnx, or a folder OUT_DIR/<name>/model.onnx when the case
needs files next to the model (external data). OUT_DIR/cases.txt lists the model paths, one per
line, with the expected words of the error message after a tab.
"""
import os
import random
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def base_model(inits=None, nodes=None, inputs=None, outputs=None, value_info=None, opset=13):
    """x[1,4] -> Relu -> y, plus whatever is given."""
    nodes = nodes if nodes is not None else [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    inputs = inputs if inputs is not None else [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])]
    outputs = outputs if outputs is not None else [
        helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])]
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=inits or [],
                          value_info=value_info or [])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                             producer_name="kompress-malformed")


def with_init(t):
    """Model whose Add reads initializer t."""
    nodes = [helper.make_node("Add", ["x", t.name], ["y"], name="add")]
    return base_model(inits=[t], nodes=nodes)


def raw_tensor(name, dtype, dims, raw):
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wire, payload):
    key = varint((num << 3) | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def nested_if(depth):
    """If whose then-branch holds an If ... `depth` levels deep."""
    def branch(level):
        if level == 0:
            n = helper.make_node("Identity", ["x"], ["o%d" % level])
        else:
            n = helper.make_node("If", ["c"], ["o%d" % level], then_branch=branch(level - 1),
                                 else_branch=branch(0))
        return helper.make_graph([n], "b%d" % level, [],
                                 [helper.make_tensor_value_info("o%d" % level,
                                                                TensorProto.FLOAT, None)])
    top = helper.make_node("If", ["c"], ["y"], then_branch=branch(depth - 1),
                           else_branch=branch(0))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
              helper.make_tensor_value_info("c", TensorProto.BOOL, [])]
    return base_model(nodes=[top], inputs=inputs)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    cases = []

    def put(name, data, expect):
        path = os.path.join(out, name + ".onnx")
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.SerializeToString())
        cases.append((path, expect))

    def put_dir(name, model, files, expect):
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        for fname, content in files.items():
            p = os.path.join(d, fname)
            if isinstance(content, tuple) and content[0] == "symlink":
                if os.path.lexists(p):
                    os.remove(p)
                os.symlink(content[1], p)
            else:
                with open(p, "wb") as f:
                    f.write(content)
        path = os.path.join(d, "model.onnx")
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
        cases.append((path, expect))

    good = with_init(numpy_helper.from_array(np.arange(4, dtype=np.float32).reshape(1, 4), "w"))
    good_bytes = good.SerializeToString()
    rnd = random.Random(1234)

    # -- not a model at all ------------------------------------------------------------------
    put("empty", b"", "empty")
    put("text", b"this is not an ONNX model\n", "ONNX")
    put("random_bytes", bytes(rnd.randrange(256) for _ in range(4096)), "")
    put("truncated_half", good_bytes[: len(good_bytes) // 2], "")
    put("truncated_last_byte", good_bytes[:-1], "")
    put("no_graph", field(1, 0, varint(8)), "no graph")
    # A length prefix claiming far more bytes than the file holds.
    put("absurd_length", field(7, 2, b"")[:-1] + varint(1 << 60) + b"\x00" * 16, "")

    # Absurd counts: 4 million empty nodes in 8 MB would make the parser allocate gigabytes.
    graph = b"\x0a\x00" * 4000000
    put("absurd_node_count", field(1, 0, varint(8)) + field(7, 2, graph), "memory")

    # -- tensors -----------------------------------------------------------------------------
    put("wrong_raw_size", with_init(raw_tensor("w", TensorProto.FLOAT, [1, 4], b"\0" * 12)),
        "raw_data")
    put("dim_overflow",
        with_init(raw_tensor("w", TensorProto.FLOAT, [1 << 40, 1 << 40], b"\0" * 16)), "")
    put("dim_overflow_int64",
        with_init(raw_tensor("w", TensorProto.FLOAT, [1 << 62, 4, 4], b"\0" * 16)), "")
    put("negative_dim", with_init(raw_tensor("w", TensorProto.FLOAT, [-1, 4], b"\0" * 16)),
        "negative")
    put("unknown_dtype", with_init(raw_tensor("w", 99, [1, 4], b"\0" * 16)), "data_type")
    put("no_dtype", with_init(raw_tensor("w", 0, [1, 4], b"\0" * 16)), "data_type")
    put("rank_too_high", with_init(raw_tensor("w", TensorProto.FLOAT, [1] * 9, b"\0" * 4)),
        "rank")
    # Absurd element count with almost no data: must fail before allocating.
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 33])
    t.float_data.extend([1.0, 2.0, 3.0])
    put("absurd_count_typed", with_init(t), "")
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, 4])
    t.float_data.extend([1.0, 2.0, 3.0])
    put("typed_count_mismatch", with_init(t), "values")
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, 4])
    t.int64_data.extend([1, 2, 3, 4])
    put("typed_wrong_field", with_init(t), "int64_data")
    t = raw_tensor("w", TensorProto.FLOAT, [1, 4], b"\0" * 16)
    t.float_data.extend([1.0, 2.0, 3.0, 4.0])
    put("two_data_sources", with_init(t), "more than one")
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, 4])
    put("no_data", with_init(t), "no data")
    t = raw_tensor("w", TensorProto.STRING, [1], b"abcd")
    put("string_raw_data", with_init(t), "string")
    st = helper.make_sparse_tensor(
        numpy_helper.from_array(np.ones(2, np.float32), "w"),
        numpy_helper.from_array(np.array([1, 99], np.int64), "w_idx"), [1, 4])
    m = base_model(nodes=[helper.make_node("Add", ["x", "w"], ["y"])])
    m.graph.sparse_initializer.append(st)
    put("sparse_index_out_of_range", m, "index")

    # -- types -------------------------------------------------------------------------------
    put("value_info_unknown_elem",
        base_model(value_info=[helper.make_tensor_value_info("y", 99, [1, 4])]), "element type")
    put("value_info_rank_too_high",
        base_model(value_info=[helper.make_tensor_value_info("y", 1, [1] * 12)]), "rank")

    # -- graph structure ---------------------------------------------------------------------
    cyc = [helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
           helper.make_node("Relu", ["a"], ["b"], name="n2"),
           helper.make_node("Relu", ["b"], ["y"], name="n3")]
    put("cycle", base_model(nodes=cyc), "cycle")
    put("dangling_input",
        base_model(nodes=[helper.make_node("Add", ["x", "nowhere"], ["y"], name="add")]),
        "nowhere")
    dup = [helper.make_node("Relu", ["x"], ["y"], name="a"),
           helper.make_node("Relu", ["x"], ["y"], name="b")]
    put("duplicate_producer", base_model(nodes=dup), "")
    n = helper.make_node("Relu", ["x"], ["y"], name="noop")
    n.op_type = ""
    put("no_op_type", base_model(nodes=[n]), "op_type")
    put("nesting_too_deep", nested_if(40), "nested")
    # Messages nested beyond any sane depth: a sequence of sequence of ... type, 300 levels.
    tp = helper.make_tensor_type_proto(TensorProto.FLOAT, [1])
    for _ in range(300):
        tp = helper.make_sequence_type_proto(tp)
    vi = helper.make_value_info("y", tp)
    m = base_model()
    m.graph.value_info.append(vi)
    try:
        data = m.SerializeToString()
    except Exception:  # some protobuf builds refuse to serialize this deep; build it by hand
        data = None
    if data is not None:
        put("message_nesting_too_deep", data, "nested")
    # Attribute with an unknown type (enum value 99), written by hand.
    attr = field(1, 2, b"alpha") + field(20, 0, varint(99)) + field(2, 5, struct.pack("<f", 1))
    node = field(1, 2, b"x") + field(2, 2, b"y") + field(4, 2, b"Elu") + field(5, 2, attr)
    vi_x = field(1, 2, b"x")
    vi_y = field(1, 2, b"y")
    graph = field(1, 2, node) + field(2, 2, b"g") + field(11, 2, vi_x) + field(12, 2, vi_y)
    opset = field(1, 2, b"") + field(2, 0, varint(13))
    put("attr_unknown_type", field(1, 0, varint(8)) + field(8, 2, opset) + field(7, 2, graph),
        "attribute")

    # A value name with an embedded NUL ("y\0z" would otherwise be read as "y").
    m = base_model()
    m.graph.node[0].output[0] = "y\x00z"
    put("name_with_nul", m, "NUL")

    # A branch of an If reading a value defined nowhere (not even in the outer graph).
    br = helper.make_graph([helper.make_node("Add", ["x", "ghost"], ["o"], name="inner_add")],
                           "then", [], [helper.make_tensor_value_info("o", TensorProto.FLOAT,
                                                                       [1, 4])])
    ok_br = helper.make_graph([helper.make_node("Identity", ["x"], ["o2"])], "else", [],
                              [helper.make_tensor_value_info("o2", TensorProto.FLOAT, [1, 4])])
    n = helper.make_node("If", ["c"], ["y"], name="if", then_branch=br, else_branch=ok_br)
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
              helper.make_tensor_value_info("c", TensorProto.BOOL, [])]
    put("dangling_in_subgraph", base_model(nodes=[n], inputs=inputs), "ghost")

    # An If whose branch attribute says "graph" but holds none.
    n = helper.make_node("If", ["c"], ["y"], name="if")
    n.attribute.add(name="then_branch", type=onnx.AttributeProto.GRAPH)
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
              helper.make_tensor_value_info("c", TensorProto.BOOL, [])]
    put("attr_graph_missing", base_model(nodes=[n], inputs=inputs), "holds none")

    # -- external data -----------------------------------------------------------------------
    def ext_model(location, offset=None, length=None):
        t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, 4])
        t.data_location = TensorProto.EXTERNAL
        kv = [("location", location)]
        if offset is not None:
            kv.append(("offset", str(offset)))
        if length is not None:
            kv.append(("length", str(length)))
        for k, v in kv:
            e = t.external_data.add()
            e.key, e.value = k, v
        return with_init(t)

    weights = np.arange(4, dtype=np.float32).tobytes()
    outside = os.path.join(out, "outside.bin")
    with open(outside, "wb") as f:
        f.write(weights * 4)
    put_dir("ext_dotdot", ext_model("../outside.bin"), {}, "..")
    put_dir("ext_dotdot_inner", ext_model("sub/../../outside.bin"), {}, "..")
    put_dir("ext_absolute", ext_model(os.path.abspath(outside)), {}, "absolute")
    put_dir("ext_symlink_escape", ext_model("w.bin"),
            {"w.bin": ("symlink", os.path.abspath(outside))}, "outside")
    put_dir("ext_symlink_dir_escape", ext_model("sub/outside.bin"),
            {"sub": ("symlink", os.path.abspath(out))}, "outside")
    put_dir("ext_missing_file", ext_model("missing.bin"), {}, "not found")
    put_dir("ext_offset_past_end", ext_model("w.bin", offset=1000), {"w.bin": weights},
            "offset")
    put_dir("ext_short_file", ext_model("w.bin", offset=8), {"w.bin": weights}, "bytes")
    put_dir("ext_length_mismatch", ext_model("w.bin", length=12), {"w.bin": weights},
            "length")
    put_dir("ext_bad_offset", ext_model("w.bin", offset="12abc"), {"w.bin": weights},
            "offset")
    put_dir("ext_no_location", ext_model(""), {}, "location")
    os.makedirs(os.path.join(out, "ext_folder", "d"), exist_ok=True)
    put_dir("ext_folder", ext_model("d"), {}, "regular file")

    with open(os.path.join(out, "cases.txt"), "w") as f:
        for path, expect in cases:
            f.write("%s\t%s\n" % (path, expect))
    print("%d malformed models written to %s" % (len(cases), out))


if __name__ == "__main__":
    main()
