#!/bin/sh
# Data sets stream in batches: evaluating 40k samples from a 125 MB .npy and the 60k Fashion-MNIST
# training images (47 MB decompressed from gzip IDX) must take about the memory of evaluating
# 100 samples (peak RSS within 8 MB).
set -u
K=${KOMPRESS:?}
PY=/usr/bin/python3
EX=examples/fashion-mnist
$PY -c "import numpy" 2>/dev/null || { echo "needs python3-numpy"; exit 77; }
TR=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
[ -f $TR ] || { echo "no Fashion-MNIST"; exit 77; }
base=/tmp; [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
T=$(mktemp -d "$base/kp_stream_XXXXXX")
trap 'rm -rf "$T"' EXIT
$PY -c "
import numpy as np
x = np.random.default_rng(0).random((40000, 1, 28, 28), dtype=np.float32)
np.save('$T/big.npy', x); np.save('$T/small.npy', x[:100])"
rss() { # prints the peak RSS in KB of `kompress eval ARGS --no-latency` (0 on failure)
  $PY - "$T/out" "$T/err" "$K" eval "$@" --no-latency <<'PYEOF'
import resource, subprocess, sys
with open(sys.argv[1], "w") as out, open(sys.argv[2], "w") as err:
    rc = subprocess.run(sys.argv[3:], stdout=out, stderr=err).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if rc == 0 else 0)
PYEOF
}
small=$(rss $EX/mlp.onnx --data "$T/small.npy")
big=$(rss $EX/mlp.onnx --data "$T/big.npy")
idx=$(rss $EX/mlp.onnx --data $TR --labels /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz --scale 1/255 --mean 0.286 --std 0.353)
grep -q "60000/60000\|/60000)" "$T/out" || { echo "FAIL: the 60k IDX run did not score 60000 samples"; cat "$T/out"; exit 1; }
echo "peak RSS: 100 samples ${small} KB, 40000 samples (.npy, 125 MB) ${big} KB, 60000 IDX.gz ${idx} KB"
grep accuracy "$T/out"
fail=0
for v in "$big" "$idx"; do
  [ "$small" -gt 0 ] && [ "$v" -gt 0 ] && [ $((v - small)) -lt 8192 ] || { echo "FAIL: memory grew with the data set size"; fail=1; }
done
exit $fail
