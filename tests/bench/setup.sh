#!/bin/sh
# Installs ONNX Runtime for Node into tests/bench/scratch (gitignored); idempotent.
#   sh tests/bench/setup.sh        -> prints the installed onnxruntime-node version
# The CPU library ships inside the npm package, so --ignore-scripts is enough (no download step).
set -e
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/scratch"
cd "$here/scratch"
if [ ! -f node_modules/onnxruntime-node/package.json ]; then
  command -v npm >/dev/null || { echo "npm not found (Debian package npm)"; exit 77; }
  [ -f package.json ] || echo '{"name":"kompress-bench-scratch","private":true}' > package.json
  # Bounded: without a registry (offline CI) this fails in about a minute instead of hanging.
  timeout 180 npm install --ignore-scripts --no-audit --no-fund --fetch-timeout=30000 \
    --fetch-retries=1 onnxruntime-node >&2
fi
node -e "console.log('onnxruntime-node ' + require('./node_modules/onnxruntime-node/package.json').version)"
