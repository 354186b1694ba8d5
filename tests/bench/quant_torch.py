"""PyTorch's own quantization tools on the demo models, and the paired statistics that compare
their predictions with ours (used by tests/bench/quant.py).

PyTorch side: torch.ao.quantization.quantize_dynamic (int8 Linear) and eager-mode static
post-training quantization (the engine's default qconfig: per-channel weights, histogram
observer; Conv+BN+ReLU and Linear+ReLU fused; QuantStub/DeQuantStub around the model).

Ties: PyTorch's static model ends in a quantized Linear, so its logits are uint8 levels and two
classes can share the top level. argmax then returns the first of them (the lowest class index),
which is a rule about class order, not something the model decided. Each tool is therefore
scored three ways: top-1 as argmax computes it, the number of images whose top logit is tied,
and top-1 with ties split (an image whose top level is shared by k classes, one of them right,
counts 1/k: the expected top-1 when ties are broken at random).
"""
import io
import math

import numpy as np


def _setup():
    import torch
    torch.set_num_threads(1)
    # fbgemm when the build has it (Debian's torch does not); onednn is the other x86 engine
    engine = next(e for e in ("fbgemm", "x86", "onednn", "qnnpack")
                  if e in torch.backends.quantized.supported_engines)
    torch.backends.quantized.engine = engine
    return engine


def size_of(m):
    import torch
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    return buf.tell()


def dynamic_model(name):
    import torch
    from torch import nn
    from torch.ao import quantization as tq
    import models
    _setup()
    return tq.quantize_dynamic(models.load_model(name), {nn.Linear}, dtype=torch.qint8)


def static_model(name, xcal):
    """Eager static PTQ of demo model `name` calibrated on xcal (batches of 64); returns
    (model, engine, "per-channel"|"per-tensor")."""
    import torch
    from torch import nn
    from torch.ao import quantization as tq
    import models
    engine = _setup()

    class Wrap(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.q, self.m, self.dq = tq.QuantStub(), m, tq.DeQuantStub()

        def forward(self, t):
            return self.dq(self.m(self.q(t)))

    m = models.load_model(name)
    if name == "cnn":
        groups = [["0", "1", "2"], ["4", "5", "6"], ["8", "9", "10"], ["11", "12", "13"]]
        tq.fuse_modules(m.features, groups, inplace=True)
        tq.fuse_modules(m.classifier, [["1", "2"]], inplace=True)
    else:
        tq.fuse_modules(m.net, [["1", "2"], ["3", "4"]], inplace=True)
    w = Wrap(m).eval()
    w.qconfig = tq.get_default_qconfig(engine)
    pc = "per-channel" if "channel" in type(w.qconfig.weight()).__name__.lower() else "per-tensor"
    tq.prepare(w, inplace=True)
    with torch.no_grad():
        for i in range(0, len(xcal), 64):
            w(torch.from_numpy(xcal[i:i + 64]))
    tq.convert(w, inplace=True)
    return w, engine, pc


def logits(model, x, batch=1000):
    import torch
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(x[i:i + batch])).numpy()
                               for i in range(0, len(x), batch)])


def scores(L, y):
    """(top-1 % as argmax computes it, images with a tied top logit, top-1 % with ties split,
    boolean array: argmax right per image)."""
    top = L == L.max(1, keepdims=True)
    k = top.sum(1)
    right = L.argmax(1) == y
    split = float((top[np.arange(len(y)), y] / k).mean()) * 100.0
    return 100.0 * float(right.mean()), int((k > 1).sum()), split, right


def mcnemar(a_right, b_right):
    """Paired comparison of two classifiers on the same images: (images only a gets right,
    images only b gets right, exact two-sided McNemar p-value)."""
    only_a = int((a_right & ~b_right).sum())
    only_b = int((b_right & ~a_right).sum())
    n, lo = only_a + only_b, min(only_a, only_b)
    if n == 0:
        return only_a, only_b, 1.0
    tail = sum(math.comb(n, i) for i in range(lo + 1)) / 2.0 ** n
    return only_a, only_b, min(1.0, 2.0 * tail)
