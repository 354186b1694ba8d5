"""Demo models for Kompress: a small CNN and an MLP for Fashion-MNIST.

Importable: other scripts (PyTorch side-by-side benchmarks of passes) rebuild the trained
modules with `load_model("cnn")` / `load_model("mlp")` and read the data with `load_idx`.

Preprocessing (declared in project.json, applied by the data loader, never inside the model):
    x = (pixel * SCALE - MEAN) / STD,  layout NCHW [N,1,28,28] float32.
"""
import gzip
import os
import struct

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = "/usr/share/datasets/fashion-mnist"
SCALE = 1.0 / 255.0
MEAN = 0.2860
STD = 0.3530


def load_idx(path):
    """Reads an IDX file (gzipped or not) into a numpy array; checks the header."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    code, ndim = data[2], data[3]
    if code not in dtypes:
        raise ValueError(f"{path}: unknown IDX type code {code:#x}")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=dtypes[code], offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {arr.size} elements, header says {dims}")
    return arr.reshape(dims)


def load_split(split):
    """split = "train" | "t10k" -> (float32 [N,1,28,28] preprocessed, int64 labels [N])."""
    images = load_idx(os.path.join(DATA_DIR, f"{split}-images-idx3-ubyte.gz"))
    labels = load_idx(os.path.join(DATA_DIR, f"{split}-labels-idx1-ubyte.gz"))
    x = (images.astype(np.float32) * np.float32(SCALE) - np.float32(MEAN)) / np.float32(STD)
    return x.reshape(-1, 1, 28, 28), labels.astype(np.int64)


def conv_block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class CNN(nn.Module):
    """4 Conv+BN+ReLU blocks (32-64-64-64), 3 max-pools, FC 576-128-10 (~170k parameters)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            *conv_block(1, 32),
            nn.MaxPool2d(2),  # 14x14
            *conv_block(32, 64),
            nn.MaxPool2d(2),  # 7x7
            *conv_block(64, 64),
            *conv_block(64, 64),
            nn.MaxPool2d(2),  # 3x3
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 3 * 3, 128), nn.ReLU(), nn.Linear(128, 10)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class MLP(nn.Module):
    """784-256-128-10 with ReLU; flattens its [N,1,28,28] input itself."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.net(x)


MODELS = {"cnn": CNN, "mlp": MLP}


def load_model(name):
    """Rebuilds the trained module `name` ("cnn"|"mlp") in eval mode with its weights."""
    model = MODELS[name]()
    state = torch.load(os.path.join(HERE, f"{name}.pt"), map_location="cpu")
    model.load_state_dict(state)
    return model.eval()


def accuracy(model, x, y, batch=1000):
    """Top-1 accuracy in percent of `model` on preprocessed x and labels y (numpy)."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(torch.from_numpy(x[i : i + batch]))
            correct += int((logits.argmax(1).numpy() == y[i : i + batch]).sum())
    return 100.0 * correct / len(x)
