#!/usr/bin/env python3
"""Quantization benchmark: every quantization pass on the demo CNN and MLP, side by side with
PyTorch's own tools on the same trained weights. Writes the "Quantization" section of
tests/bench/RESULTS.md and the "Quantization: side by side with PyTorch" section (replacing
older ones) and prints them.

For each model and pass: file size and ratio, top-1 on the 10k Fashion-MNIST test set in our
engine and in ONNX Runtime, top-1 agreement ORT vs ours on the same file, onnx.checker,
latency (median, single thread, batch 1 and 64) in our engine and in ORT. PyTorch rows:
torch.ao.quantization.quantize_dynamic (int8 Linear) and eager-mode static post-training
quantization (fbgemm, per-channel weights, Conv+BN+ReLU fused, 512 calibration images).

Usage: sh tests/bench/quant.sh [--runs 20] [--side-by-side] [--memory] [--no-torch]
(builds what it needs, installs ORT via setup.sh)
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

import quant_torch as qt

BUILD = "build"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EX = os.path.join(ROOT, "examples", "fashion-mnist")
sys.path.insert(0, EX)

PASSES = {
    "cnn": ["quant-static", "quant-static:method=entropy", "quant-static:method=percentile",
            "quant-static:method=mse", "quant-dynamic", "quant-dynamic:conv=convinteger", "fp16",
            "mixed-precision:max_drop=0.1"],
    "mlp": ["quant-dynamic", "quant-dynamic:per_channel=false", "quant-static",
            "quant-static:method=mse", "fp16"],
}


def sh(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()[-500:]}")
    return r.stdout


def env1():
    return dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")


def compress(k, model, spec, out, runs, seed=None):
    cmd = [k, "compress", model, "-o", out, "--pass", spec, "--project",
           os.path.join(EX, "project.json"), "--calib", "512", "--runs", str(runs), "--json"]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    return json.loads(sh(cmd, env=env1()))


def ours_logits(kp_run, model, x, tmp):
    """Our engine's outputs on x, run in chunks of 1000 images (dynamic quantization takes its
    activation ranges per run, so the chunk size matters; PyTorch is run the same way)."""
    out = []
    for i in range(0, len(x), 1000):
        np.save(os.path.join(tmp, "chunk.npy"), x[i:i + 1000])
        od = os.path.join(tmp, "o")
        os.makedirs(od, exist_ok=True)
        sh([kp_run, model, "--in", os.path.join(tmp, "chunk.npy"), "--runs", "1", "--warmup", "0",
            "--out", od], env=env1())
        out.append(np.load(os.path.join(od, "output_0.npy")))
    return np.concatenate(out)


def ours_preds(kp_run, model, x, tmp):
    return ours_logits(kp_run, model, x, tmp).argmax(1)


def ort_top1(model, preds_file, tmp):
    out = sh(["node", os.path.join(HERE, "ort_eval.js"), model, "--save-preds",
              os.path.join(tmp, "ort_preds.npy")])
    top1 = float(re.search(r"top-1 ([0-9.]+)%", out).group(1))
    ort = np.load(os.path.join(tmp, "ort_preds.npy"))
    ours = np.load(preds_file)
    return top1, 100.0 * float((ort == ours).mean())


def cpu_ms(model, b, runs):
    """Process CPU time per run in our executor (build/tools/node_times): robust when the
    machine is shared, unlike wall-clock medians. Averaged over at least 2000 runs at batch 1
    and 50 at batch 64 (runs of a few microseconds need many to be measured)."""
    runs = max(runs, 2000 if b == 1 else 50)
    out = sh([os.path.join(ROOT, BUILD, "tools", "node_times"), model, str(b), str(runs)],
             env=env1())
    return float(re.search(r"([0-9.]+) ms process CPU", out).group(1))


def latency(kp_run, model, x, runs, tmp):
    res = {}
    for b in (1, 64):
        f = os.path.join(tmp, f"lat{b}.npy")
        np.save(f, x[:b])
        o = json.loads(sh([kp_run, model, "--in", f, "--runs", str(runs), "--warmup", "3"],
                          env=env1()).strip().splitlines()[-1])
        r = json.loads(sh(["node", os.path.join(HERE, "ort_run.js"), model, "--in", f, "--runs",
                           str(runs), "--warmup", "3"]).strip().splitlines()[-1])
        res[b] = (o["median_ms"], r["median_ms"], cpu_ms(model, b, runs), r["cpu_median_ms"])
    return res


def checker(path):
    import onnx
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        return "✓"
    except Exception as e:  # noqa: BLE001 - reported in the table
        return "✗ " + str(e).splitlines()[0][:60]


def side_by_side(k, kp_run, x, y, xcal, tmp):
    """Our default quant-dynamic and quant-static files against PyTorch's quantize_dynamic and
    static PTQ on the same trained weights: top-1 (argmax), tied top logits and top-1 with ties
    split on the 10k test set and on the 60k training images, and a paired McNemar test per
    pair of models. Returns the markdown text."""
    import models
    xtr, ytr = models.load_split("train")
    sets = (("test", x, y), ("train", xtr, ytr))
    acc, pairs, b1 = [], [], []
    for name in ("cnn", "mlp"):
        src = os.path.join(EX, f"{name}.onnx")
        fp = models.load_model(name)
        s0 = qt.size_of(fp)
        acc.append((name, "fp32 (the same weights in both)", 1.0,
                    [qt.scores(qt.logits(fp, X), Y)[:3] for _, X, Y in sets]))
        sm, engine, pc = qt.static_model(name, xcal)
        dm = qt.dynamic_model(name)
        for kind, spec, tm, tool in (
                ("dynamic", "quant-dynamic", dm, "PyTorch quantize_dynamic (Linear int8)"),
                ("static", "quant-static", sm, f"PyTorch static PTQ ({engine}, {pc})")):
            out = os.path.join(tmp, f"sbs_{name}_{kind}.onnx")
            compress(k, src, spec, out, 1)
            theirs = [qt.scores(qt.logits(tm, X), Y) for _, X, Y in sets]
            ours = [qt.scores(ours_logits(kp_run, out, X, tmp), Y) for _, X, Y in sets]
            acc.append((name, tool, s0 / qt.size_of(tm), [t[:3] for t in theirs]))
            acc.append((name, f"Kompress {spec}", os.path.getsize(src) / os.path.getsize(out),
                        [t[:3] for t in ours]))
            for (tag, _, _), o, t in zip(sets, ours, theirs):
                pairs.append((name, kind, tag) + qt.mcnemar(o[3], t[3]))
            if kind == "dynamic":
                r = json.loads(sh([k, "eval", "--project", os.path.join(EX, "project.json"), out,
                                   "--batch", "1", "--no-latency", "--json"], env=env1()))
                b1.append((name, r["accuracy"]["top1"], qt.scores(qt.logits(tm, x, 1), y)[0]))
    lines = ["\n### Side by side with PyTorch (same trained weights)\n",
             "Default parameters on both sides; PyTorch static PTQ calibrates on the first 512 "
             "test images, ours on a seeded sample of 512. Both run in chunks of 1000 images "
             "(dynamic quantization takes its activation ranges per run). \"tied\": images "
             "whose top logit is shared by two or more classes; \"ties split\": such an image "
             "counts 1/k (the expected top-1 if ties were broken at random; see "
             "tests/bench/quant_torch.py). Training set: the 60k images the models were trained "
             "on, a second and 6x larger sample for comparing the two tools.\n",
             "| model | tool | size ratio | test top-1 | tied | test ties split | train top-1 | "
             "tied | train ties split |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, tool, ratio, sc in acc:
        lines.append(f"| {name} | {tool} | {ratio:.2f}x | " + " | ".join(
            f"{a:.2f} | {n} | {sp:.2f}" for a, n, sp in sc) + " |")
    lines += ["\nPaired on the same images (argmax predictions as each tool returns them; "
              "exact two-sided McNemar test; p > 0.05: no detectable difference):\n",
              "| model | kind | images | only Kompress right | only PyTorch right | McNemar p |",
              "|---|---|---|---:|---:|---:|"]
    for name, kind, tag, oa, ob, p in pairs:
        lines.append(f"| {name} | {kind} | {tag} | {oa} | {ob} | {p:.2f} |")

    def where(better):
        w = [f"{n} {kd} {tg} (p={p:.3f})" for n, kd, tg, oa, ob, p in pairs
             if p < 0.05 and better(oa, ob)]
        return ", ".join(w) or "none"
    lines.append(f"\nPairs where PyTorch's model is detectably more accurate (p < 0.05): "
                 f"{where(lambda oa, ob: ob > oa)}; where ours is: "
                 f"{where(lambda oa, ob: oa > ob)}.")
    lines.append("\nDynamic int8 at batch 1 (activation ranges per image), 10k test top-1, "
                 "Kompress / PyTorch: " + "; ".join(f"{n} {o:.2f} / {t:.2f}" for n, o, t in b1)
                 + ".")
    return "\n".join(lines)


def mlp_spread(k, kp_run, x, y, tmp):
    """MLP static int8 top-1 over several calibration subsets of 512 images, both tools, and
    what quantizing the logits does (PyTorch's DeQuantStub sits after the last layer, so its
    logits are uint8; ours stay float)."""
    import models
    src = os.path.join(EX, "mlp.onnx")
    ours = []
    for seed in range(1, 6):
        out = os.path.join(tmp, "spread.onnx")
        compress(k, src, "quant-static", out, 1, seed)
        ours.append(qt.scores(ours_logits(kp_run, out, x, tmp), y)[:3])
    subsets = [np.arange(512)] + [np.random.default_rng(s).choice(len(x), 512, replace=False)
                                  for s in range(1, 6)]
    theirs = [qt.scores(qt.logits(qt.static_model("mlp", x[sel])[0], x), y)[:3]
              for sel in subsets]
    # float64 emulation of our scheme (per-tensor min/max activations on the first 512 images,
    # per-channel symmetric weights, int32 bias) with float logits and with uint8 logits
    m = models.load_model("mlp")
    W = [m.net[i].weight.detach().numpy().astype(np.float64) for i in (1, 3, 5)]
    B = [m.net[i].bias.detach().numpy().astype(np.float64) for i in (1, 3, 5)]

    def fq(v, lo, hi):
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        sc = (hi - lo) / 255 or 1.0
        z = np.clip(np.round(-lo / sc), 0, 255)
        return (np.clip(np.round(v / sc) + z, 0, 255) - z) * sc

    def forward(X, ranges=None, q_logits=False):
        h, acts = X, [(X.min(), X.max())]
        h = fq(h, *ranges[0]) if ranges else h
        for i in range(3):
            sw = np.abs(W[i]).max(1) / 127
            w = np.clip(np.round(W[i] / sw[:, None]), -127, 127) * sw[:, None] if ranges else W[i]
            b = B[i]
            if ranges:
                sx = (max(ranges[i][1], 0) - min(ranges[i][0], 0)) / 255
                b = np.round(B[i] / (sx * sw)) * sx * sw
            h = h @ w.T + b
            if i < 2:
                h = np.maximum(h, 0)
                acts.append((h.min(), h.max()))
                h = fq(h, *ranges[i + 1]) if ranges else h
            else:
                acts.append((h.min(), h.max()))
                if q_logits:
                    h = fq(h, *ranges[3])
        return h, acts

    X = x.reshape(len(x), -1).astype(np.float64)
    _, ranges = forward(X[:512])
    emu = [100.0 * float((forward(X, ranges, q)[0].argmax(1) == y).mean()) for q in (False, True)]
    return ours, theirs, emu


def mlp_corrections(x, y):
    """Principled PTQ corrections for the static MLP, emulated in float64 numpy with our scheme
    (min/max uint8 activations, symmetric per-channel int8 weights, int32 bias), each judged on
    the calibration data only (mean squared error of the logits against fp32 on the 512
    calibration images) and then scored on the 10k test set; means over 5 seeded subsets."""
    import models
    m = models.load_model("mlp")
    W = [m.net[i].weight.detach().numpy().astype(np.float64) for i in (1, 3, 5)]
    B = [m.net[i].bias.detach().numpy().astype(np.float64) for i in (1, 3, 5)]
    X = x.reshape(len(x), -1).astype(np.float64)

    def aq(lo, hi):
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        sc = (hi - lo) / 255 or 1.0
        return sc, np.clip(np.round(-lo / sc), 0, 255)

    def fq(v, sc, z):
        return (np.clip(np.round(v / sc) + z, 0, 255) - z) * sc

    def wq(w, amax):
        sw = amax / 127
        return np.clip(np.round(w / sw[:, None]), -127, 127) * sw[:, None], sw

    def rounding(w, sw, xin, iters=400):
        # floor or ceil per weight, one flip per output channel per step, each the one that
        # lowers the layer's squared output error on the calibration inputs the most
        base = w / sw[:, None]
        lo, q = np.floor(base), np.clip(np.round(base), -127, 127)
        G = xin.T @ xin
        for _ in range(iters):
            grad = ((q - base) * sw[:, None]) @ G
            other = np.clip(np.where(q == lo, lo + 1, lo), -127, 127)
            t = (other - q) * sw[:, None]
            gain = 2 * t * grad + t * t * np.diag(G)[None, :]
            j = gain.argmin(1)
            rows = np.where(gain[np.arange(len(j)), j] < -1e-12)[0]
            if not len(rows):
                break
            q[rows, j[rows]] = other[rows, j[rows]]
        return q * sw[:, None]

    def build(Xc, mode):
        h, ranges, pre_f = Xc, [(Xc.min(), Xc.max())], []
        for i in range(3):
            h = h @ W[i].T + B[i]
            pre_f.append(h)
            h = np.maximum(h, 0) if i < 2 else h
            ranges.append((h.min(), h.max()))
        hq, layers = fq(Xc, *aq(*ranges[0])), []
        for i in range(3):
            amax = np.abs(W[i]).max(1)
            if mode == "mse-clipped weights":  # per channel, least weight MSE over 26 clips
                err = np.full(len(amax), np.inf)
                best = amax.copy()
                for f in np.linspace(0.5, 1.0, 26):
                    e = ((wq(W[i], amax * f)[0] - W[i]) ** 2).sum(1)
                    best = np.where(e < err, amax * f, best)
                    err = np.minimum(e, err)
                amax = best
            w, sw = wq(W[i], amax)
            if mode == "rounding direction per weight (greedy, AdaRound-style)":
                w = rounding(W[i], sw, hq)
            b = B[i].copy()
            if mode == "bias correction (weight error)":
                b = b + (hq @ (W[i] - w).T).mean(0)
            if mode == "bias correction (whole error)":
                b = b + (pre_f[i] - (hq @ w.T + b)).mean(0)
            sx = aq(*ranges[i])[0]
            b = np.round(b / (sx * sw)) * sx * sw
            layers.append((w, b))
            hq = hq @ w.T + b
            hq = fq(np.maximum(hq, 0), *aq(*ranges[i + 1])) if i < 2 else hq
        return ranges, layers

    def forward(Xt, ranges, layers):
        h = fq(Xt, *aq(*ranges[0]))
        for i, (w, b) in enumerate(layers):
            h = h @ w.T + b
            h = fq(np.maximum(h, 0), *aq(*ranges[i + 1])) if i < 2 else h
        return h

    def fp32(Xt):
        h = Xt
        for i in range(3):
            h = h @ W[i].T + B[i]
            h = np.maximum(h, 0) if i < 2 else h
        return h

    subsets = [np.random.default_rng(s).choice(len(x), 512, replace=False) for s in range(1, 6)]
    rows = []
    for mode in ("none", "bias correction (weight error)", "bias correction (whole error)",
                 "mse-clipped weights", "rounding direction per weight (greedy, AdaRound-style)"):
        mse, top1 = [], []
        for sel in subsets:
            ranges, layers = build(X[sel], mode)
            mse.append(float(((forward(X[sel], ranges, layers) - fp32(X[sel])) ** 2).mean()))
            top1.append(100.0 * float((forward(X, ranges, layers).argmax(1) == y).mean()))
        rows.append((mode, float(np.mean(mse)), top1))
    return rows


def max_rss_kb(cmd):
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env1())
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()[-300:]}")
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))


def memory_section(k, batch):
    """Peak RSS of calibrating on the full 10k set vs one fp32 evaluation at the same batch."""
    proj = os.path.join(EX, "project.json")
    rows = []
    for name in ("cnn", "mlp"):
        src = os.path.join(EX, f"{name}.onnx")
        fp = max_rss_kb([k, "eval", src, "--project", proj, "--batch", str(batch), "--runs", "1"])
        out = os.path.join(tempfile.mkdtemp(prefix="kq_mem_"), "q.onnx")
        cal = max_rss_kb([k, "compress", src, "-o", out, "--pass", "quant-static", "--project",
                          proj, "--batch", str(batch), "--calib", "0", "--runs", "1"])
        rows.append(f"| {name} | {batch} | {fp / 1024:.1f} | {cal / 1024:.1f} | {cal / fp:.2f} |")
    return "\n".join([
        "## Quantization: calibration memory", "",
        f"- Command: `sh tests/bench/quant.sh --memory` ({datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC)",
        "- Peak resident memory (/usr/bin/time -v) of `kompress eval MODEL --batch B` (one fp32 "
        "run over the test set) and of `kompress compress MODEL --pass quant-static --calib 0 "
        "--batch B` (calibration streamed over all 10k images, plus the before/after checks "
        "with two executors and the latency probes, in the same process).", "",
        "| model | batch | fp32 eval MiB | quant-static, full 10k calibration MiB | ratio |",
        "|---|---:|---:|---:|---:|"] + rows) + "\n"


def write_section(title_re, text):
    res = os.path.join(HERE, "RESULTS.md")
    old = open(res).read() if os.path.exists(res) else ""
    old = re.sub(r"\n*" + title_re + r"\n.*?(?=\n## |\Z)", "", old, flags=re.S)
    with open(res, "w") as f:
        f.write(old.rstrip() + "\n\n" + text)


def torch_section(k, kp_run, x, y, xcal, tmp):
    """The "Quantization: side by side with PyTorch" section (accuracy only, no timings)."""
    import models
    fp32_mlp = qt.scores(qt.logits(models.load_model("mlp"), x), y)[0]
    lines = ["## Quantization: side by side with PyTorch", "",
             f"- Command: `sh tests/bench/quant.sh --side-by-side` (also part of the full run); "
             f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC"]
    lines.append(side_by_side(k, kp_run, x, y, xcal, tmp))
    ours, theirs, emu = mlp_spread(k, kp_run, x, y, tmp)
    lines.append("\n#### MLP static int8: calibration subsets\n")
    lines.append(
        "top-1 (argmax) / images with a tied top logit / top-1 with ties split, per "
        "calibration subset of 512 test images, scored on the 10k test set:\n")
    lines.append("| tool | subsets | argmax top-1 | tied | ties split | mean argmax | "
                 "mean ties split |")
    lines.append("|---|---|---|---|---|---:|---:|")
    for tool, sub, v in (("Kompress quant-static", "`--seed 1..5`", ours),
                         ("PyTorch static PTQ", "first 512, seeds 1..5", theirs)):
        lines.append(f"| {tool} | {sub} | {', '.join(f'{t[0]:.2f}' for t in v)} | "
                     f"{', '.join(str(t[1]) for t in v)} | "
                     f"{', '.join(f'{t[2]:.2f}' for t in v)} | "
                     f"{np.mean([t[0] for t in v]):.3f} | {np.mean([t[2] for t in v]):.3f} |")
    lines.append(
        f"\nEmulating our scheme in float64 numpy (min/max ranges on the first 512 images): "
        f"float logits {emu[0]:.2f}, the same logits quantized to uint8 as PyTorch's are "
        f"{emu[1]:.2f}. Quantizing the logits only creates ties (rounding keeps their order), "
        f"and argmax breaks ties toward the lower class index, which on Fashion-MNIST favours "
        f"T-shirt/pullover/coat over shirt: that, not better quantization, is PyTorch's lead "
        f"in argmax top-1 on the MLP. With ties split the two tools are level. No range "
        f"method (minmax, percentile, entropy, mse) wins consistently on this MLP, so minmax "
        f"stays the default; the defaults were not tuned on the test set.")
    lines.append(
        "\nCorrections tried for the MLP (float64 emulation of our scheme; judged on the "
        "calibration images only by the logits' mean squared error against fp32, then scored "
        "on the 10k test set; fp32 top-1 "
        f"{fp32_mlp:.2f}):\n")
    lines.append("| correction | calibration logits MSE (mean of 5) | top-1 per subset | "
                 "mean top-1 |")
    lines.append("|---|---:|---|---:|")
    for mode, mse, t in mlp_corrections(x, y):
        lines.append(f"| {mode} | {mse:.3e} | {', '.join(f'{v:.2f}' for v in t)} | "
                     f"{np.mean(t):.3f} |")
    lines.append(
        "\nEach correction that lowers the calibration error brings the int8 MLP closer to "
        "fp32, and fp32 itself scores below PyTorch's static PTQ here: none raises the mean "
        "top-1 beyond the spread between subsets, so quant-static keeps plain rounding and "
        "no correction (none of them is worth its calibration cost on this model).")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--build", default="build")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--side-by-side", action="store_true",
                    help="only the side-by-side section with PyTorch (accuracy, no timings)")
    ap.add_argument("--memory", action="store_true",
                    help="only the calibration-memory section (peak RSS)")
    a = ap.parse_args()
    global BUILD
    BUILD = a.build
    k = os.path.join(ROOT, a.build, "kompress")
    kp_run = os.path.join(ROOT, a.build, "tools", "kp_run")
    for p in (k, kp_run):
        if not os.access(p, os.X_OK):
            sys.exit(f"{p} missing: run make first")
    if a.memory:
        text = memory_section(k, 64)
        write_section("## Quantization: calibration memory", text)
        print(text)
        return
    sh(["sh", os.path.join(HERE, "setup.sh")])
    import models
    x, y = models.load_split("t10k")
    # PyTorch calibrates on the same subset size as ours (the first 512 test images; ours
    # takes a seeded sample of 512 from the same set)
    xcal = x[:512]
    tmp = tempfile.mkdtemp(prefix="kq_bench_")
    if a.side_by_side:
        text = torch_section(k, kp_run, x, y, xcal, tmp)
        write_section("## Quantization: side by side with PyTorch", text)
        print(text)
        return
    lines = []
    summary = {}
    for name in ("cnn", "mlp"):
        src = os.path.join(EX, f"{name}.onnx")
        pf = os.path.join(tmp, f"{name}_fp32.npy")
        np.save(pf, ours_preds(kp_run, src, x, tmp))
        ort1, agree = ort_top1(src, pf, tmp)
        lat = latency(kp_run, src, x, a.runs, tmp)
        base_size = os.path.getsize(src)
        ours_top1 = 100.0 * float((np.load(pf) == y).mean())
        rows = [(f"fp32 original", base_size, 1.0, ours_top1, ort1, agree, checker(src), lat)]
        for spec in PASSES[name]:
            out = os.path.join(tmp, f"{name}_{re.sub('[^a-z0-9]+', '_', spec)}.onnx")
            r = compress(k, src, spec, out, 3)
            st = r["stages"][1]
            if st["status"] != "ok":
                rows.append((spec, 0, 0, 0, 0, 0, st.get("error", "failed"), None))
                continue
            pf2 = os.path.join(tmp, "p.npy")
            np.save(pf2, ours_preds(kp_run, out, x, tmp))
            o1, ag = ort_top1(out, pf2, tmp)
            # top-1 on all 10k test images, as for the fp32 row, PyTorch and ORT (compress
            # itself scores on the images its calibration did not use)
            t1 = 100.0 * float((np.load(pf2) == y).mean())
            rows.append((spec, st["bytes"], st["ratio"], t1, o1, ag, checker(out),
                         latency(kp_run, out, x, a.runs, tmp)))
        summary[name] = rows
        lines.append(f"\n### Demo {name.upper()}\n")
        lines.append("| pass | bytes | ratio | top-1 ours | top-1 ORT | ORT agrees with ours | "
                     "onnx.checker | ours b=1 ms | ours b=1 CPU ms | ORT b=1 ms | ours b=64 ms | "
                     "ours b=64 CPU ms | ORT b=64 ms |")
        lines.append("|---|---:|---:|---:|---:|---:|:-:|---:|---:|---:|---:|---:|---:|")
        for spec, size, ratio, t1, o1, ag, chk, lt in rows:
            if lt is None:
                lines.append(f"| {spec} | – | – | – | – | – | {chk} | – | – | – | – | – | – |")
                continue
            lines.append(f"| {spec} | {size} | {ratio:.2f}x | {t1:.2f} | {o1:.2f} | {ag:.2f}% | "
                         f"{chk} | {lt[1][0]:.3f} | {lt[1][2]:.4f} | {lt[1][1]:.3f} | "
                         f"{lt[64][0]:.2f} | {lt[64][2]:.2f} | {lt[64][1]:.2f} |")
    cpu = "unknown CPU"
    try:
        cpu = re.search(r"Model name:\s*(.*)", sh(["lscpu"])).group(1).strip()
    except Exception:  # noqa: BLE001
        pass
    ortv = sh(["sh", os.path.join(HERE, "setup.sh")]).strip()
    head = [
        "## Quantization",
        "",
        f"- Machine: {cpu}, {os.cpu_count()} CPUs shared with other work (latency noise ±20 %); "
        f"{ortv}; {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC",
        f"- Command: `sh tests/bench/quant.sh --runs {a.runs}`",
        "- Each pass: `kompress compress MODEL --pass P --project examples/fashion-mnist/project.json "
        "--calib 512` (calibration: a seeded sample of 512 test images). top-1 on all 10k test "
        "images (our engine's predictions; PyTorch calibrates on 512 test images too). Latency: median of the runs, single thread, random inputs of the right shape, "
        "ours = build/tools/kp_run, ORT = onnxruntime-node (intra/inter-op threads 1). "
        "\"CPU ms\": process CPU time per run in our engine (build/tools/node_times, mean over "
        "at least 2000 runs at b=1 and 50 at b=64), the figure to compare when the machine is "
        "shared; wall-clock medians swing with the load.",
        "- int8 kernels: " + sh([k, "version"]).strip() + ", int8 GEMM path chosen at run time "
        "(AVX-512 VNNI here, and AMX tiles for convolutions and matrix products where the CPU and "
        "OS allow them; KOMPRESS_NO_AMX=1 measures without). fp16 in our engine is emulated "
        "(fp16 storage, fp32 arithmetic), so its latency there is not a target figure.",
        "- ONNX Runtime on our QDQ files: its optimizer fuses every QDQ Conv into QLinearConv and "
        "every QDQ Gemm (including the last layer, whose output stays float) into its int8 QGemm "
        "(seen in the graph it saves with optimizedModelFilePath). QGemm needs the weight "
        "DequantizeLinear to carry an explicit zero point: without it ORT kept DequantizeLinear "
        "-> float Gemm and the static MLP ran slower than fp32 (0.35 vs 0.23 ms at b=64 before "
        "the fix); tests/e2e/compress_quant.sh checks the fused graph.",
        "- quant-dynamic keeps Conv in float by default (conv=keep): ONNX Runtime 1.30's CPU "
        "provider runs the ConvInteger that conv=convinteger writes several times slower than "
        "the fp32 Conv (row quant-dynamic:conv=convinteger), as PyTorch's quantize_dynamic also "
        "leaves Conv in float. On the CNN the default quantizes only the two Gemms; quant-static "
        "is the pass for convolutions.",
    ]
    for name, bs in (("cnn", (64, 1)), ("mlp", (64, 1))):
        rows = {r[0]: r for r in summary[name]}
        base = rows["fp32 original"][7]
        specs = ("quant-static", "quant-dynamic") + (
            ("quant-dynamic:conv=convinteger",) if name == "cnn" else ())
        for spec in specs:
            lt = rows.get(spec, (None,) * 8)[7]
            if base and lt:
                sp = ", ".join(f"b={b} {base[b][2] / lt[b][2]:.2f}x" for b in bs)
                head.append(f"- {name.upper()} {spec} speed-up over fp32 in our engine by CPU "
                            f"time: {sp}")
                so = ", ".join(f"b={b} {base[b][1] / lt[b][1]:.2f}x wall, "
                               f"{base[b][3] / lt[b][3]:.2f}x CPU" for b in bs)
                head.append(f"- {name.upper()} {spec} speed-up over fp32 in ONNX Runtime "
                            f"(median of the runs): {so}")
    text = "\n".join(head + lines) + "\n"
    write_section("## Quantization", text)
    print(text)
    if not a.no_torch:
        text = torch_section(k, kp_run, x, y, xcal, tmp)
        write_section("## Quantization: side by side with PyTorch", text)
        print(text)


if __name__ == "__main__":
    main()
