#!/bin/sh
# Structural-pass benchmark on the demo models (CNN and MLP): sizes, MACs, latency in our engine
# and in ONNX Runtime, top-1 in both, PyTorch side by side. Rewrites the "Structural passes"
# section of tests/bench/RESULTS.md. Takes several minutes (RUNS=N for fewer latency runs).
set -e
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
make -s -j2 all "$BUILD/tools/struct_run" >/dev/null
sh tests/bench/setup.sh >/dev/null
BUILD=$BUILD /usr/bin/python3 tests/bench/structural.py
