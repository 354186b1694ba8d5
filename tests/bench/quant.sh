#!/bin/sh
# Quantization benchmark (tests/bench/quant.py): writes the "Quantization" section of
# tests/bench/RESULTS.md. Usage: make && sh tests/bench/quant.sh [--runs N] [--no-torch]
cd "$(dirname "$0")/../.." && exec /usr/bin/python3 tests/bench/quant.py "$@"
