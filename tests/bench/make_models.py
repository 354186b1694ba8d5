#!/usr/bin/python3
"""Builds larger conv nets for the executor benchmark (the ONNX test data ships only tiny ones):

    /usr/bin/python3 tests/bench/make_models.py [OUTDIR]   (default tests/bench/scratch/models)

resnet18_112.onnx   ResNet-18 topology (basic blocks, strided 3x3 and 1x1 shortcuts), 3x112x112
mobilenetv2_112.onnx MobileNetV2 topology (1x1 expand, depthwise 3x3, 1x1 project, ReLU6)
Random weights with a fixed seed (latency and agreement do not depend on training); BatchNorm in
eval mode with random statistics; opset 13, dynamic batch. Written only when missing.
"""
import os
import sys

import torch
from torch import nn


def bn(c):
    b = nn.BatchNorm2d(c)
    with torch.no_grad():
        b.running_mean.uniform_(-0.1, 0.1)
        b.running_var.uniform_(0.5, 1.5)
        b.weight.uniform_(0.5, 1.5)
        b.bias.uniform_(-0.1, 0.1)
    return b


class Basic(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = bn(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = bn(cout)
        self.sc = None
        if stride != 1 or cin != cout:
            self.sc = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), bn(cout))

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return torch.relu(y + (self.sc(x) if self.sc is not None else x))


class ResNet18(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), bn(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        layers, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [Basic(cin, cout, stride), Basic(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class InvRes(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        h = cin * t
        mods = []
        if t != 1:
            mods += [nn.Conv2d(cin, h, 1, bias=False), bn(h), nn.ReLU6()]
        mods += [nn.Conv2d(h, h, 3, stride, 1, groups=h, bias=False), bn(h), nn.ReLU6(),
                 nn.Conv2d(h, cout, 1, bias=False), bn(cout)]
        self.body = nn.Sequential(*mods)
        self.res = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.res else y


class MobileNetV2(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
               (6, 160, 3, 2), (6, 320, 1, 1)]
        mods = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), bn(32), nn.ReLU6()]
        cin = 32
        for t, c, n, s in cfg:
            for i in range(n):
                mods.append(InvRes(cin, c, s if i == 0 else 1, t))
                cin = c
        mods += [nn.Conv2d(cin, 1280, 1, bias=False), bn(1280), nn.ReLU6()]
        self.features = nn.Sequential(*mods)
        self.fc = nn.Linear(1280, classes)

    def forward(self, x):
        x = self.features(x)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


MODELS = {"resnet18_112": ResNet18, "mobilenetv2_112": MobileNetV2}


def build(outdir):
    os.makedirs(outdir, exist_ok=True)
    paths = []
    for name, cls in MODELS.items():
        path = os.path.join(outdir, f"{name}.onnx")
        paths.append(path)
        if os.path.exists(path):
            continue
        torch.manual_seed(0)
        m = cls().eval()
        torch.onnx.export(m, torch.zeros(1, 3, 112, 112), path + ".tmp", opset_version=13,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
        os.replace(path + ".tmp", path)
    return paths


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    for p in build(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "scratch", "models")):
        print(p)
