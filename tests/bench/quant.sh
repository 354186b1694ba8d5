#!/bin/sh
# Quantization benchmark (tests/bench/quant.py): writes the "Quantization" section of
# tests/bench/RESULTS.md. Usage: sh tests/bench/quant.sh [--runs N] [--no-torch]
cd "$(dirname "$0")/../.." || exit 1
make -s -j2 all build/tools/kp_run build/tools/node_times >/dev/null || exit 1
exec /usr/bin/python3 tests/bench/quant.py "$@"
