#!/usr/bin/env bash
# Fails when a tracked file (text or binary: ONNX graphs carry exporter stack traces) names a
# folder of one machine (a home or work directory, a toolchain or venv location) or the team's
# notes beside the checkout (../shared/), which a user's clone does not have. Paths under
# /tmp in examples and system paths such as /proc or /usr are fine. tools/machine_paths.py
# rewrites exporter stack traces; elsewhere use repository-relative paths (.venv-tools/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='(/work/|/root/|/home/[A-Za-z0-9_.-]+/|/Users/[A-Za-z0-9_.-]+/|/opt/swift|/\.pyenv/|\.\./shared/)'
if hits=$(git grep -a -I -l -E "$pattern" -- . ':!tools/check_no_machine_paths.sh'; \
          git grep -a -l -E "$pattern" -- '*.onnx' '*.data' '*.safetensors' '*.gguf'); [ -n "$hits" ]; then
  echo "treerpo: these tracked files name a machine-specific path (pattern $pattern):" >&2
  echo "$hits" | sort -u | sed 's/^/  /' >&2
  exit 1
fi
echo "treerpo: no machine-specific paths in tracked files"
