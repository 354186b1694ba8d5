#!/bin/sh
# Builds every tests/fuzz/fuzz_*.c with libFuzzer + ASan/UBSan and runs each for FUZZ_SECONDS.
# Seeds: small models and tensor files of the ONNX test data (libonnx-testdata) plus the
# malformed corpus (tests/malformed/gen.py). Corpora grow in $FUZZ_BUILD/corpus-<target> across
# runs; crashing inputs are saved in $FUZZ_BUILD/artifacts/. Needs the generated protobuf code
# (`make` first; `make fuzz` does that). Exit 1 on any crash, leak or timeout.
# FUZZ_SECONDS (per target, default 60), FUZZ_ONLY=<target> to run one of them.
set -eu
BUILD=${BUILD:-build}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_CC=${FUZZ_CC:-clang}
DATA=${ONNX_TESTDATA:-/usr/share/libonnx-testdata/data}
GEN=$BUILD/gen/onnx.pb-c.c
[ -f "$GEN" ] || { echo "fuzz: $GEN missing; run make first"; exit 1; }
command -v "$FUZZ_CC" >/dev/null || { echo "fuzz: $FUZZ_CC not found (Debian package clang)"; exit 1; }
mkdir -p "$FUZZ_BUILD/artifacts" "$FUZZ_BUILD/seeds-model" "$FUZZ_BUILD/seeds-tensor"

# The loader and what it calls: I/O, tensors, the graph IR (validation), errors.
SRC="core/error.c core/tensor.c $(ls core/onnx_*.c) $(ls core/graph*.c)"
# fuzz_model_info also needs shape inference and model statistics.
INFO_SRC="$(ls core/shape_infer*.c) core/model_stats.c"
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c11 -D_GNU_SOURCE -I. -I$BUILD/gen"
PKG_CFLAGS=$(pkg-config --cflags libprotobuf-c)
PKG_LIBS=$(pkg-config --libs libprotobuf-c)

# Seeds: small valid files, then the malformed corpus.
if [ -d "$DATA/node" ]; then
  find "$DATA/node" "$DATA/simple" "$DATA/pytorch-operator" -name '*.onnx' -size -8k |
    sort | head -n 400 | while read -r f; do
      cp "$f" "$FUZZ_BUILD/seeds-model/$(echo "$f" | cksum | cut -d' ' -f1).onnx"; done
  find "$DATA/node" -name '*.pb' -size -4k | sort | head -n 400 | while read -r f; do
      cp "$f" "$FUZZ_BUILD/seeds-tensor/$(echo "$f" | cksum | cut -d' ' -f1).pb"; done
fi
if /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
  rm -rf "$FUZZ_BUILD/malformed"
  /usr/bin/python3 tests/malformed/gen.py "$FUZZ_BUILD/malformed" >/dev/null
  find "$FUZZ_BUILD/malformed" -name '*.onnx' -type f | while read -r f; do
    cp "$f" "$FUZZ_BUILD/seeds-model/mal-$(echo "$f" | cksum | cut -d' ' -f1).onnx"; done
  # Models with every attribute kind, functions, sparse tensors, training info.
  rm -rf "$FUZZ_BUILD/features"
  /usr/bin/python3 tests/e2e/roundtrip_features.py "$FUZZ_BUILD/features" >/dev/null
  cp "$FUZZ_BUILD/features/rich.onnx" "$FUZZ_BUILD/seeds-model/features-rich.onnx"
fi

status=0
for f in tests/fuzz/fuzz_*.c; do
  [ -f "$f" ] || continue
  name=$(basename "$f" .c)
  # FUZZ_ONLY=onnx_load (or fuzz_onnx_load) runs just that target.
  if [ -n "${FUZZ_ONLY:-}" ] && [ "$name" != "$FUZZ_ONLY" ] && [ "$name" != "fuzz_$FUZZ_ONLY" ]; then
    continue
  fi
  bin=$FUZZ_BUILD/$name
  echo "fuzz: building $bin"
  # shellcheck disable=SC2086
  extra=""; case $name in *info*) extra=$INFO_SRC ;; esac
  # shellcheck disable=SC2086
  $FUZZ_CC $FLAGS $PKG_CFLAGS -o "$bin" "$f" $SRC $extra "$GEN" $PKG_LIBS -lm
  case $name in *tensor*) seeds=$FUZZ_BUILD/seeds-tensor ;; *) seeds=$FUZZ_BUILD/seeds-model ;; esac
  corpus=$FUZZ_BUILD/corpus-$name
  mkdir -p "$corpus"
  echo "fuzz: running $name for ${FUZZ_SECONDS}s"
  if "$bin" "$corpus" "$seeds" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
       -max_len=65536 -print_final_stats=1 -artifact_prefix="$FUZZ_BUILD/artifacts/$name-" \
       >"$FUZZ_BUILD/$name.log" 2>&1; then
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$FUZZ_BUILD/$name.log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$FUZZ_BUILD/$name.log" | tail -n 1 || true)
    echo "fuzz: $name clean: $execs executions, $cov, corpus $(ls "$corpus" | wc -l) files"
  else
    status=1
    echo "fuzz: $name FAILED (log $FUZZ_BUILD/$name.log):"
    grep -E 'ERROR|SUMMARY|Test unit written|deadly signal' "$FUZZ_BUILD/$name.log" | head -n 20
  fi
done
exit $status
