"""Trains the demo CNN and MLP on Fashion-MNIST (60k train images), fixed seeds, CPU, 2 threads.

    /usr/bin/python3 examples/fashion-mnist/train.py [cnn|mlp ...]

Writes <name>.pt (state_dict) next to this file, updates pytorch_accuracy.json with the test
top-1, then exports <name>.onnx (export.py). Takes a few minutes on 2 cores.
"""
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402
import models  # noqa: E402

RECIPES = {
    # name: (epochs, batch, max_lr, weight_decay)
    "cnn": (7, 128, 3e-3, 1e-4),
    "mlp": (10, 128, 2e-3, 1e-4),
}


def train(name, xtr, ytr, xte, yte):
    epochs, batch, max_lr, wd = RECIPES[name]
    torch.manual_seed(0)
    model = models.MODELS[name]()
    opt = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=wd)
    steps = epochs * ((len(xtr) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    gen = np.random.default_rng(0)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    for ep in range(epochs):
        t0 = time.time()
        model.train()
        perm = torch.from_numpy(gen.permutation(len(xtr)))
        total = 0.0
        for i in range(0, len(xtr), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        acc = models.accuracy(model, xte, yte)
        print(f"{name} epoch {ep + 1}/{epochs}: loss {total / len(xtr):.4f} "
              f"test top-1 {acc:.2f}% ({time.time() - t0:.0f}s)", flush=True)
    model.eval()
    return model


def main():
    torch.set_num_threads(2)
    names = sys.argv[1:] or ["cnn", "mlp"]
    xtr, ytr = models.load_split("train")
    xte, yte = models.load_split("t10k")
    acc_path = os.path.join(models.HERE, "pytorch_accuracy.json")
    accs = json.load(open(acc_path)) if os.path.exists(acc_path) else {}
    for name in names:
        model = train(name, xtr, ytr, xte, yte)
        torch.save(model.state_dict(), os.path.join(models.HERE, f"{name}.pt"))
        nparams = sum(p.numel() for p in model.parameters())
        accs[name] = {
            "top1": round(models.accuracy(model, xte, yte), 2),
            "correct": int(round(models.accuracy(model, xte, yte) * len(xte) / 100)),
            "samples": len(xte),
            "parameters": nparams,
            "torch": torch.__version__,
        }
        with open(acc_path, "w") as f:
            json.dump(accs, f, indent=2, sort_keys=True)
            f.write("\n")
        export.export(name)
        print(f"{name}: {nparams} parameters, test top-1 {accs[name]['top1']}%", flush=True)


if __name__ == "__main__":
    main()
