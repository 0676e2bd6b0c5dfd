#!/usr/bin/env bash
# Creates the Python environments that the tools/ scripts (fixtures, benchmarks) run in; the
# Swift tests need none of them. Pinned to the versions the committed fixtures were made with.
#   .venv-tools     torch (CPU build) + transformers 5 + onnx + onnxruntime + onnxscript + tokenizers
#   .venv-optimum   torch (CPU build) + optimum-onnx, which pins transformers 4.x (hence its own venv)
# Usage: bash tools/setup-python.sh; then e.g. .venv-tools/bin/python tools/make_onnx_fixtures.py
set -euo pipefail
cd "$(dirname "$0")/.."
# The plain `torch` wheel pulls gigabytes of CUDA packages: always the +cpu pin.
torch_pin="torch==2.13.0+cpu"
if [ ! -x .venv-tools/bin/python ]; then
  python3 -m venv .venv-tools
  .venv-tools/bin/pip install -q --upgrade pip
  .venv-tools/bin/pip install -q "$torch_pin" transformers==5.24.0 onnx==1.23.2 onnxruntime==1.32.0 \
    onnxscript==0.7.2 tokenizers==0.23.3 safetensors==0.8.0 numpy==2.4.6
fi
if [ ! -x .venv-optimum/bin/python ]; then
  python3 -m venv .venv-optimum
  .venv-optimum/bin/pip install -q --upgrade pip
  .venv-optimum/bin/pip install -q "$torch_pin" optimum==2.1.0 optimum-onnx==0.1.0 transformers==4.57.6 \
    onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6
fi
echo "tools venvs ready: .venv-tools/bin/python, .venv-optimum/bin/python"
