#!/bin/sh
# Kernel robustness: build/tools/fuzz_ops calls every op with random shapes, dtypes, values,
# attributes and opsets; each call must succeed or fail with a message, never crash (under
# `make asan` memory errors and undefined behaviour abort the run). Bounded: 100000 calls
# (30000 under ASan), fixed seeds so failures reproduce:
#   build/tools/fuzz_ops 100000 1 - "$SKIP"
BUILD=${BUILD:-build}
TOOL=$BUILD/tools/fuzz_ops
[ -x "$TOOL" ] || { echo "$TOOL is not built"; exit 1; }
n=100000
case "$BUILD" in *asan*) n=30000 ;; esac
# Ops with a known UBSan finding on degenerate input, reported to their owners (remove an op
# here once fixed): quantized ops convert NaN to an integer; LayerNormalization offsets a
# NULL pointer for empty tensors.
SKIP=QuantizeLinear,DequantizeLinear,DynamicQuantizeLinear,MatMulInteger,ConvInteger
SKIP=$SKIP,QLinearConv,QLinearMatMul,LayerNormalization
for seed in 1 2; do
  "$TOOL" $n $seed - "$SKIP" || { echo "fuzz_ops failed (seed $seed)"; exit 1; }
done
exit 0
