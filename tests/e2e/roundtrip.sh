#!/bin/sh
# Round-trips every model and every test tensor of the ONNX test data (package libonnx-testdata)
# through Kompress's loader and saver (load -> save -> load, compared field by field and byte for
# byte; see tests/tools/roundtrip.c), then has python's onnx check the saved files: the checker
# must accept them and they must equal the originals once tensors are normalized to raw_data.
set -u
DATA=${ONNX_TESTDATA:-/usr/share/libonnx-testdata/data}
BUILD=${BUILD:-build}
RT=$BUILD/tools/roundtrip
here=$(dirname "$0")
[ -d "$DATA/node" ] || { echo "skip: $DATA not found (Debian package libonnx-testdata)"; exit 77; }
[ -x "$RT" ] || { echo "missing $RT (make $RT)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/saved"
status=0
for d in node pytorch-converted pytorch-operator simple; do
  [ -d "$DATA/$d" ] || { echo "missing $DATA/$d"; status=1; }
done
find "$DATA/node" "$DATA/pytorch-converted" "$DATA/pytorch-operator" "$DATA/simple" \
  -name '*.onnx' | sort >"$tmp/models"
find "$DATA/node" "$DATA/pytorch-converted" "$DATA/pytorch-operator" "$DATA/simple" \
  -name '*.pb' | sort >"$tmp/tensors"
# Plus models using the features the test data lacks (functions, training info, sparse and
# external data, every attribute kind, ...), written by python's onnx.
/usr/bin/python3 "$here/roundtrip_features.py" "$tmp/features" >>"$tmp/models" ||
  { echo "roundtrip_features.py failed"; status=1; }
echo "models: $(wc -l <"$tmp/models"), tensor files: $(wc -l <"$tmp/tensors")"
"$RT" --save-dir "$tmp/saved" - <"$tmp/models"
rc=$?; [ $rc -eq 0 ] || { echo "model round-trip failed (exit $rc)"; status=1; }
"$RT" - <"$tmp/tensors"
rc=$?; [ $rc -eq 0 ] || { echo "tensor round-trip failed (exit $rc)"; status=1; }
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import onnx, numpy' 2>/dev/null; then
  /usr/bin/python3 "$here/roundtrip_check.py" "$tmp/models" "$tmp/saved" || status=1
else
  echo "python3-onnx missing: independent check not run"; status=1
fi
exit $status
