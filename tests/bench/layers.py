#!/usr/bin/python3
"""The demo CNN's conv layers one at a time: Kompress vs ONNX Runtime, single thread.

    /usr/bin/python3 tests/bench/layers.py [--runs 50] [--batch 1 64] [--out tests/bench/RESULTS.md]

Each layer of examples/fashion-mnist/cnn.onnx (Conv 3x3 pad 1 + bias, as after BatchNorm
folding, + Relu, + the 2x2 MaxPool where the CNN has one) becomes a one-layer model with random
weights; both engines run it on the same random input (build/tools/kp_run, tests/bench/ort_run.js)
and the table gives wall and CPU medians and their ratios, so a regression or a layer we lose on
shows up on its own. Writes its section of RESULTS.md (between <!-- layers:begin/end -->).
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import engine  # noqa: E402  (run_ours, run_ort, max_diff, lscpu_model)

# (name, input channels, output channels, height = width, MaxPool after)
LAYERS = [
    ("conv1 1→32 28×28 +pool", 1, 32, 28, True),
    ("conv2 32→64 14×14 +pool", 32, 64, 14, True),
    ("conv3 64→64 7×7", 64, 64, 7, False),
    ("conv4 64→64 7×7 +pool", 64, 64, 7, True),
]
BEGIN, END = "<!-- layers:begin -->", "<!-- layers:end -->"


def layer_model(path, c, m, hw, pool, rng):
    w = rng.standard_normal((m, c, 3, 3)).astype(np.float32) * (1.0 / np.sqrt(9 * c))
    b = rng.standard_normal(m).astype(np.float32) * 0.1
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r" if pool else "y"])]
    if pool:
        nodes.append(helper.make_node("MaxPool", ["r"], ["y"], kernel_shape=[2, 2],
                                      strides=[2, 2]))
    g = helper.make_graph(
        nodes, "layer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, hw, hw])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def write_section(path, text):
    old = open(path).read() if os.path.exists(path) else ""
    block = f"{BEGIN}\n{text.rstrip()}\n{END}\n"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + block + rest.split(END, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + block
    with open(path + ".tmp", "w") as f:
        f.write(new)
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 64])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    a = ap.parse_args()
    kp_run = os.path.join(ROOT, a.build, "tools", "kp_run")
    if not os.access(kp_run, os.X_OK):
        sys.exit(f"{kp_run} missing: run make first")
    engine.sh(["sh", os.path.join(HERE, "setup.sh")])
    load0 = os.getloadavg()[0]
    rng = np.random.default_rng(1)
    tmp = tempfile.mkdtemp(prefix="kp_layers_")
    rows = []
    for name, c, m, hw, pool in LAYERS:
        model = os.path.join(tmp, f"layer_{c}_{m}_{hw}_{int(pool)}.onnx")
        layer_model(model, c, m, hw, pool, rng)
        for b in a.batch:
            x = os.path.join(tmp, f"x_{c}_{hw}_{b}.npy")
            np.save(x, rng.standard_normal((b, c, hw, hw)).astype(np.float32))
            od, oo = tempfile.mkdtemp(dir=tmp), tempfile.mkdtemp(dir=tmp)
            ours = engine.run_ours(kp_run, model, [x], a.runs, od)
            ort = engine.run_ort(model, [x], a.runs, oo)
            for _ in range(a.rounds - 1):  # engines in turns, best round kept (as engine.py)
                o2 = engine.run_ours(kp_run, model, [x], a.runs, od)
                r2 = engine.run_ort(model, [x], a.runs, oo)
                for best, new in ((ours, o2), (ort, r2)):
                    for key in ("median_ms", "cpu_median_ms"):
                        best[key] = min(best[key], new[key])
            diff = engine.max_diff(od, oo)
            rows.append((name, b, ours, ort, diff))
            print(f"{name:26s} batch {b:3d}: ours {ours['median_ms']:8.4f} ms (CPU "
                  f"{ours['cpu_median_ms']:8.4f})  ORT {ort['median_ms']:8.4f} ms (CPU "
                  f"{ort['cpu_median_ms']:8.4f})  wall ratio "
                  f"{ours['median_ms'] / ort['median_ms']:5.2f}  CPU ratio "
                  f"{ours['cpu_median_ms'] / ort['cpu_median_ms']:5.2f}  max|diff| {diff:.1e}",
                  flush=True)
    cmd = "/usr/bin/python3 tests/bench/layers.py " + " ".join(sys.argv[1:])
    lines = [
        "## The demo CNN layer by layer (Conv 3x3 + bias + Relu [+ MaxPool 2x2], random weights)",
        "",
        f"- {engine.lscpu_model()}; load average {load0:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{a.runs} runs per figure (median), best of {a.rounds} rounds taken in turns",
        f"- Command: `make && {cmd.strip()}`",
        "- ONNX Runtime converts NCHW into its blocked layout at a model's input and back at its "
        "output: a one-layer model charges it that conversion on every layer, which the whole "
        "model pays once. These rows locate where time goes; the whole-model rows of the engine "
        "table above are the fair comparison.",
        "",
        "| layer | batch | ours wall ms | ORT wall ms | wall ratio | ours CPU ms | ORT CPU ms | "
        "CPU ratio | max abs diff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, b, ours, ort, diff in rows:
        lines.append(
            f"| {name} | {b} | {ours['median_ms']:.4f} | {ort['median_ms']:.4f} | "
            f"{ours['median_ms'] / ort['median_ms']:.2f} | {ours['cpu_median_ms']:.4f} | "
            f"{ort['cpu_median_ms']:.4f} | {ours['cpu_median_ms'] / ort['cpu_median_ms']:.2f} | "
            f"{diff:.1e} |")
    lines.append("")
    write_section(a.out, "\n".join(lines))
    print(f"wrote {a.out}")
    sys.exit(1 if any(r[4] > engine.TOL for r in rows) else 0)


if __name__ == "__main__":
    main()
