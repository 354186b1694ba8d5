"""Exports a trained demo model to ONNX (opset 13, dynamic batch, BatchNorm kept as nodes).

    /usr/bin/python3 examples/fashion-mnist/export.py [cnn|mlp ...]

Reads <name>.pt, writes <name>.onnx, checks the file with onnx.checker, checks that every
BatchNorm2d of the module is a BatchNormalization node in the file, and that onnx's reference
evaluator is not needed: the outputs are compared with PyTorch's by the test suite instead.
"""
import os
import sys

import onnx
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402


def export(name):
    model = models.load_model(name)
    path = os.path.join(models.HERE, f"{name}.onnx")
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(
        model,
        dummy,
        path,
        opset_version=13,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        do_constant_folding=False,
        training=torch.onnx.TrainingMode.PRESERVE,
    )
    m = onnx.load(path)
    onnx.checker.check_model(m)
    n_bn = sum(isinstance(x, nn.BatchNorm2d) for x in model.modules())
    n_bn_nodes = sum(n.op_type == "BatchNormalization" for n in m.graph.node)
    if n_bn != n_bn_nodes:
        raise SystemExit(f"{path}: {n_bn} BatchNorm2d modules but {n_bn_nodes} nodes")
    m.doc_string = f"Kompress demo {name.upper()} for Fashion-MNIST (examples/fashion-mnist)"
    onnx.save(m, path)
    ops = sorted({n.op_type for n in m.graph.node})
    print(f"{path}: {len(m.graph.node)} nodes, ops {ops}")


if __name__ == "__main__":
    for n in sys.argv[1:] or ["cnn", "mlp"]:
        export(n)
