#!/usr/bin/python3
"""Cross-checks `kompress info --json` against Debian's python3-onnx.

For every model: parameter count per dtype (initializers, sparse initializers and Constant
nodes, inside subgraphs too), the op histogram, the shape and dtype of every value that
onnx.shape_inference infers (a dim onnx knows must be the same in ours; ours may know more),
and total MACs recomputed here from onnx's shapes with the same rules (Conv, ConvTranspose,
Gemm, MatMul, LSTM/GRU/RNN; symbolic batch = 1).

usage: info_vs_onnx.py KOMPRESS MODEL... | KOMPRESS --all DIR...   (prints one summary line)
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

DT = {TensorProto.FLOAT: "float32", TensorProto.UINT8: "uint8", TensorProto.INT8: "int8",
      TensorProto.UINT16: "uint16", TensorProto.INT16: "int16", TensorProto.INT32: "int32",
      TensorProto.INT64: "int64", TensorProto.STRING: "string", TensorProto.BOOL: "bool",
      TensorProto.FLOAT16: "float16", TensorProto.DOUBLE: "float64",
      TensorProto.UINT32: "uint32", TensorProto.UINT64: "uint64",
      TensorProto.COMPLEX64: "complex64", TensorProto.COMPLEX128: "complex128",
      TensorProto.BFLOAT16: "bfloat16"}


# Ops whose outputs kompress does not infer (sequences, optionals, strings, training, DFT,
# Unique): values they produce are not compared, and are counted as skipped.
DATA_PROP = os.environ.get("DATA_PROP") == "1"
SKIP_OPS = {"SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert",
            "SplitToSequence", "ConcatFromSequence", "SequenceMap", "Optional", "OptionalGetElement",
            "OptionalHasElement", "StringNormalizer", "TfIdfVectorizer", "Unique", "DFT", "STFT",
            "Adagrad", "Adam", "Momentum", "Gradient"}


def subgraphs(node):
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            yield a.g
        elif a.type == onnx.AttributeProto.GRAPHS:
            yield from a.graphs


def numel(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def const_tensors(g):
    """(dtype name, element count) of every constant tensor in g and its subgraphs."""
    for t in g.initializer:
        yield DT.get(t.data_type, "?"), numel(t.dims)
    for s in g.sparse_initializer:
        yield DT.get(s.values.data_type, "?"), numel(s.values.dims)
    for n in g.node:
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            for a in n.attribute:
                if a.name == "value":
                    yield DT.get(a.t.data_type, "?"), numel(a.t.dims)
                elif a.name == "value_float":
                    yield "float32", 1
                elif a.name == "value_int":
                    yield "int64", 1
                elif a.name == "value_floats":
                    yield "float32", len(a.floats)
                elif a.name == "value_ints":
                    yield "int64", len(a.ints)
                elif a.name == "value_string":
                    yield "string", 1
                elif a.name == "value_strings":
                    yield "string", len(a.strings)
                elif a.name == "sparse_value":
                    yield DT.get(a.sparse_tensor.values.data_type, "?"), numel(a.sparse_tensor.dims)
        for sg in subgraphs(n):
            yield from const_tensors(sg)


def op_hist(g, h):
    for n in g.node:
        key = n.op_type if n.domain in ("", "ai.onnx") else n.domain + ":" + n.op_type
        h[key] = h.get(key, 0) + 1
        for sg in subgraphs(n):
            op_hist(sg, h)
    return h


def vi_shape(vi):
    tt = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
    if tt is None:
        return None, None
    dtype = DT.get(tt.elem_type) if tt.elem_type else None
    if not tt.HasField("shape"):
        return dtype, None
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(d.dim_value)
        elif d.HasField("dim_param") and d.dim_param and not d.dim_param.startswith("unk__"):
            dims.append(d.dim_param)  # onnx names dims it cannot infer "unk__N": unknown
        else:
            dims.append(None)
    return dtype, dims


def macs(model):
    """Total MACs of the top-level graph by kompress's rules, from onnx's inferred shapes."""
    g = model.graph
    shapes = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        shapes[vi.name] = vi_shape(vi)[1]
    for t in g.initializer:
        shapes[t.name] = list(t.dims)
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    shapes[n.output[0]] = list(a.t.dims)

    def dim(s, i, batch=False):
        v = s[i]
        if isinstance(v, int):
            return v
        if batch:
            return 1
        raise KeyError

    total, complete = 0, True
    for n in g.node:
        if n.domain not in ("", "ai.onnx"):
            continue
        try:
            ins = [shapes.get(x) if x else None for x in n.input]
            y = shapes.get(n.output[0]) if n.output else None
            a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
            if n.op_type in ("Conv", "ConvInteger", "QLinearConv", "ConvTranspose"):
                x, w = ins[0], ins[3 if n.op_type == "QLinearConv" else 1]
                m = dim(x, 0, True)
                if n.op_type == "ConvTranspose":
                    m *= dim(x, 1) * numel(dim(x, i) for i in range(2, len(x)))
                else:
                    m *= dim(w, 0) * numel(dim(y, i) for i in range(2, len(y)))
                m *= dim(w, 1) * numel(dim(w, i) for i in range(2, len(w)))
            elif n.op_type == "Gemm":
                A, B = ins[0], ins[1]
                ta, tb = a.get("transA", 0), a.get("transB", 0)
                m = dim(A, 1 if ta else 0, not ta) * dim(A, 0 if ta else 1) * dim(B, 0 if tb else 1)
            elif n.op_type in ("MatMul", "MatMulInteger", "QLinearMatMul"):
                A, B = ins[0], ins[3 if n.op_type == "QLinearMatMul" else 1]
                k = dim(A, len(A) - 1)
                mm = dim(A, len(A) - 2, len(A) == 2) if len(A) >= 2 else 1
                nn = dim(B, len(B) - 1) if len(B) >= 2 else 1
                tail = (len(A) >= 2) + (len(B) >= 2)
                batch = numel(dim(y, i, i == 0) for i in range(len(y) - tail))
                m = batch * mm * nn * k
            elif n.op_type in ("LSTM", "GRU", "RNN"):
                x, w, r = ins[0], ins[1], ins[2]
                lay = a.get("layout", 0)
                m = dim(x, 1 if lay else 0) * dim(x, 0 if lay else 1, True)
                m *= numel(dim(w, i) for i in range(3)) + numel(dim(r, i) for i in range(3))
            else:
                continue
            total += m
        except (KeyError, TypeError, IndexError):
            complete = False
    return total, complete


def stripped(model):
    """The model without value_info and without output shapes (dtypes kept), so both sides
    must infer every shape themselves."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.value_info[:]
    for o in m.graph.output:
        if o.type.HasField("tensor_type"):
            o.type.tensor_type.ClearField("shape")
    return m


def run_info(kompress, path):
    out = subprocess.run([kompress, "info", "--json", path], capture_output=True, text=True)
    if out.returncode != 0:
        return None, "kompress info failed: " + out.stderr.strip()
    return json.loads(out.stdout), None


def check(kompress, path, tmp):
    """Returns (problems, counts) for one model."""
    info, err = run_info(kompress, path)
    if err:
        return [err], {}
    model = onnx.load(path)
    probs, counts = [], {"values": 0, "dims": 0}
    # MACs: onnx's shapes for the model as given (declared value_info, e.g. from the exporter,
    # plus onnx's own inference with data propagation) against kompress on the same file.
    try:
        total, complete = macs(shape_inference.infer_shapes(model, data_prop=True))
    except Exception:
        total, complete = 0, False
    if complete and info["macs"]["complete"] and total != info["macs"]["total"]:
        probs.append("MACs: onnx shapes give %d, kompress %d" % (total, info["macs"]["total"]))
    counts["macs"] = total if complete else None
    want = EXPECT_MACS.get(os.path.basename(path))
    if want is not None:
        if info["macs"]["total"] != want or not info["macs"]["complete"]:
            probs.append("MACs: expected %d by hand, kompress %d" % (want, info["macs"]["total"]))
        counts["macs"] = want

    want = {}
    for dt, n in const_tensors(model.graph):
        c = want.setdefault(dt, [0, 0])
        c[0] += n
        c[1] += 1
    got = {k: [v["count"], v["tensors"]] for k, v in info["params"]["by_dtype"].items()}
    if want != got:
        probs.append("params per dtype: onnx %s, kompress %s" % (want, got))
    hist = op_hist(model.graph, {})
    if hist != info["ops"]:
        probs.append("op histogram: onnx %s, kompress %s" % (hist, info["ops"]))

    bare = stripped(model)
    bare_path = os.path.join(tmp, "stripped.onnx")
    onnx.save(bare, bare_path)
    info, err = run_info(kompress, bare_path)
    if err:
        return probs + [err + " (value_info stripped)"], counts
    try:
        inferred = shape_inference.infer_shapes(bare, data_prop=DATA_PROP)
    except Exception as e:  # onnx itself cannot infer: nothing to compare against
        counts["skipped_shapes"] = str(e)[:80]
        return probs, counts
    ours = {v["name"]: v for v in info["values"]}
    # Ground truth where the test folder has it: the expected outputs' real shapes. Every dim
    # kompress claims to know must be the real one (also where onnx infers nothing).
    ref = os.path.join(os.path.dirname(path), "test_data_set_0")
    for k, o in enumerate(model.graph.output):
        pb = os.path.join(ref, "output_%d.pb" % k)
        mine = ours.get(o.name)
        if not os.path.exists(pb) or not mine or mine["shape"] is None:
            continue
        t = TensorProto()
        with open(pb, "rb") as f:
            t.ParseFromString(f.read())
        real = list(t.dims)
        counts["truth"] = counts.get("truth", 0) + 1
        if len(real) != len(mine["shape"]) or any(
                isinstance(b, int) and a != b for a, b in zip(real, mine["shape"])):
            probs.append("output %s: real shape %s, kompress infers %s" % (o.name, real, mine["shape"]))
    g = inferred.graph
    skipped = {o for n in g.node if n.op_type in SKIP_OPS for o in n.output}
    for vi in list(g.value_info) + list(g.output):
        dtype, dims = vi_shape(vi)
        if dtype is None and dims is None:
            continue
        if vi.name in skipped:
            counts["skipped"] = counts.get("skipped", 0) + 1
            continue
        counts["values"] += 1
        o = ours.get(vi.name)
        if o is None:
            probs.append("value %s: onnx infers %s %s, kompress has nothing" % (vi.name, dtype, dims))
            continue
        if dtype and o["dtype"] != dtype:
            probs.append("value %s: dtype onnx %s, kompress %s" % (vi.name, dtype, o["dtype"]))
        if dims is None:
            continue
        if o["shape"] is None or len(o["shape"]) != len(dims):
            probs.append("value %s: shape onnx %s, kompress %s" % (vi.name, dims, o["shape"]))
            continue
        for a, b in zip(dims, o["shape"]):
            if a is None:
                continue
            counts["dims"] += 1
            if a != b:
                probs.append("value %s: shape onnx %s, kompress %s" % (vi.name, dims, o["shape"]))
                break
    counts["params"] = info["params"]["total"]
    return probs, counts


def cnn_with_batchnorm(path):
    """A small CNN with BatchNorm (kept, not folded), a symbolic batch, a Constant-node weight
    and an If whose branches hold their own weights: the cases info must count."""
    rng = np.random.default_rng(0)

    def init(name, *shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    inits = [init("w1", 16, 3, 3, 3), init("b1", 16), init("w2", 32, 16, 3, 3),
             init("fc_w", 10, 32), init("fc_b", 10)]
    for i, c in ((1, 16), (2, 32)):
        inits += [init("bn%d_s" % i, c), init("bn%d_b" % i, c), init("bn%d_m" % i, c)]
        inits.append(numpy_helper.from_array(np.abs(rng.standard_normal(c)).astype(np.float32) + 0.5, "bn%d_v" % i))
    bias2 = numpy_helper.from_array(rng.standard_normal(32).astype(np.float32), "b2val")
    then_w = numpy_helper.from_array(np.full((1, 10), 2.0, np.float32), "then_w")
    then_g = helper.make_graph([helper.make_node("Mul", ["logits", "then_w"], ["t_out"])], "then",
                               [], [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, ["batch", 10])],
                               [then_w])
    else_g = helper.make_graph([helper.make_node("Constant", [], ["e_c"], value_floats=[1.0] * 10),
                                helper.make_node("Add", ["logits", "e_c"], ["e_out"])], "else",
                               [], [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, ["batch", 10])])
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn1_s", "bn1_b", "bn1_m", "bn1_v"], ["n1"]),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Constant", [], ["b2"], value=bias2),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("BatchNormalization", ["c2", "bn2_s", "bn2_b", "bn2_m", "bn2_v"], ["n2"]),
        helper.make_node("Relu", ["n2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["gp"]),
        helper.make_node("Flatten", ["gp"], ["fl"]),
        helper.make_node("Gemm", ["fl", "fc_w", "fc_b"], ["logits"], transB=1),
        helper.make_node("If", ["flag"], ["y"], then_branch=then_g, else_branch=else_g),
    ]
    g = helper.make_graph(nodes, "cnn_bn",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 32, 32]),
                           helper.make_tensor_value_info("flag", TensorProto.BOOL, [])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])], inits)
    m = helper.make_model(g, producer_name="info_vs_onnx", opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, path)


EXPECT_MACS = {}


def torch_models(tmp):
    """Real exporter output, when python3-torch is installed: a CNN whose BatchNorms survive
    export (they follow a ReLU, so they are not fused into the Conv), an attention block with
    symbolic batch and sequence, and an LSTM over embeddings. Returns the paths written."""
    try:
        import warnings
        warnings.filterwarnings("ignore")
        import torch
        import torch.nn as nn
    except Exception:
        print("python3-torch not installed: exporter models skipped")
        return []
    torch.manual_seed(0)

    class Cnn(nn.Module):
        def __init__(s):
            super().__init__()
            s.c1, s.b1 = nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16)
            s.c2, s.b2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, groups=2), nn.BatchNorm2d(32)
            s.fc = nn.Linear(32 * 8 * 8, 10)

        def forward(s, x):
            x = nn.functional.max_pool2d(s.b1(torch.relu(s.c1(x))), 2)
            x = s.b2(torch.relu(s.c2(x)))
            return s.fc(x.view(x.size(0), -1))

    class Attn(nn.Module):
        def __init__(s):
            super().__init__()
            s.a, s.n, s.f = nn.MultiheadAttention(32, 4, batch_first=True), nn.LayerNorm(32), nn.Linear(32, 64)

        def forward(s, x):
            y, _ = s.a(x, x, x)
            y = nn.functional.gelu(s.f(s.n(x + y)))
            return y.reshape(x.shape[0], x.shape[1], 2, 32).transpose(1, 2)

    class Rnn(nn.Module):
        def __init__(s):
            super().__init__()
            s.e, s.l = nn.Embedding(100, 8), nn.LSTM(8, 16, batch_first=True)

        def forward(s, i):
            y, _ = s.l(s.e(i))
            return y[:, -1, :].unsqueeze(1).expand(-1, 3, -1).flatten(1)

    out = []
    # MACs by hand from the layer sizes (the exporter leaves the flatten's shape undeclared,
    # so onnx cannot give the Gemm's): conv1 + grouped conv2 + fc
    EXPECT_MACS["torch_cnn_bn.onnx"] = 16 * 32 * 32 * 3 * 9 + 32 * 8 * 8 * 8 * 9 + 2048 * 10
    for name, mod, x, axes, opset in (
            ("torch_cnn_bn", Cnn(), torch.randn(2, 3, 32, 32), {"x": {0: "batch"}}, 13),
            ("torch_attention", Attn(), torch.randn(2, 7, 32), {"x": {0: "B", 1: "T"}}, 14),
            ("torch_lstm", Rnn(), torch.randint(0, 100, (2, 5)), {"x": {0: "B"}}, 11)):
        path = os.path.join(tmp, name + ".onnx")
        torch.onnx.export(mod.eval(), x, path, input_names=["x"], output_names=["y"],
                          dynamic_axes=axes, opset_version=opset)
        out.append(path)
    return out


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__)
        return 2
    kompress = args[0]
    paths = []
    if args[1] == "--all":
        for d in args[2:]:
            for root, _, files in os.walk(d):
                paths += [os.path.join(root, f) for f in files if f.endswith(".onnx")]
        paths.sort()
    else:
        paths = args[1:]
    tmp = tempfile.mkdtemp()
    cnn = os.path.join(tmp, "cnn_bn.onnx")
    cnn_with_batchnorm(cnn)
    paths[0:0] = [cnn] + torch_models(tmp)
    bad, values, dims, params, macs_checked, skipped, truth = 0, 0, 0, 0, 0, 0, 0
    for p in paths:
        probs, counts = check(kompress, p, tmp)
        values += counts.get("values", 0)
        skipped += counts.get("skipped", 0)
        truth += counts.get("truth", 0)
        dims += counts.get("dims", 0)
        params += counts.get("params", 0) or 0
        macs_checked += bool(counts.get("macs"))
        if (p.startswith(tmp) or "examples" in p) and not probs:
            print("%s: params %d, MACs %s, %d values compared" %
                  (os.path.basename(p), counts["params"], counts["macs"], counts["values"]))
        if probs:
            bad += 1
            print("MISMATCH %s" % p)
            for x in probs[:6]:
                print("   " + x)
    for f in os.listdir(tmp):
        os.remove(os.path.join(tmp, f))
    os.rmdir(tmp)
    print("info_vs_onnx: %d models compared, %d differ; %d values (%d dims) and %d parameters "
          "checked, MACs checked on %d models that have MAC layers; %d inferred output shapes "
          "checked against the test data's real outputs; %d values of uninferred ops (sequence, "
          "string, training, ...) skipped" %
          (len(paths), bad, values, dims, params, macs_checked, truth, skipped))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
