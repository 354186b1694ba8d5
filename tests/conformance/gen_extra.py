#!/usr/bin/python3
"""Generates extra conformance tests (model.onnx + test_data_set_0) where ONNX's own test data
has no case: bidirectional LSTM/GRU/RNN with initial states and GRU with
linear_before_reset=1 (PyTorch's form), exported from PyTorch with its outputs as reference.
Run with /usr/bin/python3 (torch, onnx); writes tests/conformance/extra/node/<test>/.
The executor is checked against these by tests/e2e/conformance.sh."""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "extra", "node")


class Net(torch.nn.Module):
    def __init__(self, kind, bidir, batch_first):
        super().__init__()
        cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
        self.kind = kind
        self.rnn = cls(5, 4, num_layers=1, bidirectional=bidir, batch_first=batch_first)

    def forward(self, x, h):
        if self.kind == "lstm":
            y, (hn, cn) = self.rnn(x, (h, h * 0.5))
            return y, hn, cn
        y, hn = self.rnn(x, h)
        return y, hn


def save(name, net, inputs, opset=14):
    d = os.path.join(OUT, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    with torch.no_grad():
        outs = net(*inputs)
    in_names = ["x", "h"]
    out_names = ["y", "hn", "cn"][: len(outs)]
    torch.onnx.export(net, inputs, os.path.join(d, "model.onnx"), opset_version=opset,
                      input_names=in_names, output_names=out_names)
    for i, t in enumerate(inputs):
        p = os.path.join(d, "test_data_set_0", "input_%d.pb" % i)
        with open(p, "wb") as f:
            f.write(numpy_helper.from_array(t.numpy(), in_names[i]).SerializeToString())
    for i, t in enumerate(outs):
        p = os.path.join(d, "test_data_set_0", "output_%d.pb" % i)
        with open(p, "wb") as f:
            f.write(numpy_helper.from_array(t.numpy(), out_names[i]).SerializeToString())
    ops = sorted({n.op_type for n in onnx.load(os.path.join(d, "model.onnx")).graph.node})
    print(name, ops)


def weights(path, op):
    """W, R, B of the first `op` node of an exported model, as numpy arrays."""
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Constant":
            inits[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    node = next(n for n in m.graph.node if n.op_type == op)
    return [inits[n] for n in node.input[1:4]]


def save_single(name, op, w, r, b, feeds, outs, attrs, skip_lens=False):
    """One-node model (opset 14) with W/R/B as initializers; feeds/outs are (name, array).
    skip_lens: leave the sequence_lens input empty (feeds are then X, initial_h, ...)."""
    d = os.path.join(OUT, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    from onnx import helper, TensorProto
    def vi(nm, a):
        dt = TensorProto.INT32 if a.dtype == np.int32 else TensorProto.FLOAT
        return helper.make_tensor_value_info(nm, dt, list(a.shape))
    ins = [f[0] for f in feeds]
    node_in = [ins[0], "W", "R", "B"] + ([""] if skip_lens else []) + ins[1:]
    node = helper.make_node(op, node_in, [o[0] for o in outs], **attrs)
    g = helper.make_graph([node], name, [vi(*f) for f in feeds], [vi(*o) for o in outs],
                          [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R"),
                           numpy_helper.from_array(b, "B")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    onnx.save(model, os.path.join(d, "model.onnx"))
    for i, (nm, a) in enumerate(feeds):
        with open(os.path.join(d, "test_data_set_0", "input_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(a, nm).SerializeToString())
    for i, (nm, a) in enumerate(outs):
        with open(os.path.join(d, "test_data_set_0", "output_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(a.astype(np.float32), nm).SerializeToString())
    print(name, [op])


def layout_and_seqlens():
    """layout=1 (batch-major) and sequence_lens with both directions, expected values from
    PyTorch run on each batch row's own prefix."""
    seq, batch, hid = 6, 3, 4
    for kind, op in [("lstm", "LSTM"), ("gru", "GRU")]:
        torch.manual_seed(11)
        net = Net(kind, True, False).eval()
        tmp = os.path.join(OUT, "_tmp.onnx")
        x = torch.randn(seq, batch, 5)
        h = torch.randn(2, batch, 4)
        torch.onnx.export(net, (x, h), tmp, opset_version=14)
        w, r, b = weights(tmp, op)
        os.remove(tmp)
        attrs = {"hidden_size": hid, "direction": "bidirectional"}
        if kind == "gru":
            attrs["linear_before_reset"] = 1
        with torch.no_grad():
            full = net(x, h)
        # layout = 1
        y = full[0].numpy().reshape(seq, batch, 2, hid).transpose(1, 0, 2, 3)
        feeds = [("x", x.numpy().transpose(1, 0, 2).copy()), ("h", h.numpy().transpose(1, 0, 2).copy())]
        outs = [("y", y), ("hn", full[1].numpy().transpose(1, 0, 2))]
        if kind == "lstm":
            feeds.append(("c", (h * 0.5).numpy().transpose(1, 0, 2).copy()))
            outs.append(("cn", full[2].numpy().transpose(1, 0, 2)))
        save_single("test_torch_%s_layout1" % kind, op, w, r, b, feeds, outs,
                    dict(attrs, layout=1), skip_lens=True)
        # sequence_lens
        lens = np.array([6, 2, 4], dtype=np.int32)
        y = np.zeros((seq, 2, batch, hid), dtype=np.float32)
        hn = np.zeros((2, batch, hid), dtype=np.float32)
        cn = np.zeros((2, batch, hid), dtype=np.float32)
        for i, L in enumerate(lens):
            with torch.no_grad():
                o = net(x[:L, i:i + 1], h[:, i:i + 1].contiguous())
            y[:L, :, i] = o[0].numpy().reshape(L, 2, hid)
            hn[:, i] = o[1].numpy()[:, 0]
            if kind == "lstm":
                cn[:, i] = o[2].numpy()[:, 0]
        feeds = [("x", x.numpy()), ("lens", lens), ("h", h.numpy())]
        outs = [("y", y), ("hn", hn)]
        if kind == "lstm":
            feeds.append(("c", (h * 0.5).numpy()))
            outs.append(("cn", cn))
        save_single("test_torch_%s_seqlens" % kind, op, w, r, b, feeds, outs, attrs)


def main():
    torch.manual_seed(7)
    for kind in ["lstm", "gru", "rnn"]:
        for bidir in [False, True]:
            for bf in [False, True]:
                net = Net(kind, bidir, bf).eval()
                seq, batch = 6, 3
                x = torch.randn(batch, seq, 5) if bf else torch.randn(seq, batch, 5)
                h = torch.randn(2 if bidir else 1, batch, 4)
                save("test_torch_%s%s%s" % (kind, "_bidir" if bidir else "", "_batchfirst" if bf else ""),
                     net, (x, h))
    layout_and_seqlens()
    return 0


if __name__ == "__main__":
    sys.exit(main())
