#!/usr/bin/env bash
# Creates the Python environments that the tools/ scripts (fixtures, benchmarks, the export
# interop check) run in; the Swift tests need none of them. Pinned to the versions the committed
# fixtures were made with.
#   .venv-tools     torch (CPU build) + transformers 5 + onnx + onnxruntime + onnxscript + tokenizers
#                   + gguf and accelerate (GGUF fixtures; transformers' GGUF loading needs accelerate)
#   .venv-optimum   torch (CPU build) + optimum-onnx, which pins transformers 4.x (hence its own venv)
#   .venv-trl       torch (CPU build) + transformers 5 + TRL (tools/bench_step.py's GRPOTrainer side);
#                   only on request: TRL pulls datasets and more, and neither CI nor the fixtures need it
# Usage: bash tools/setup-python.sh [tools|optimum|trl]   (default: tools and optimum; trl only by name)
#   then e.g. .venv-tools/bin/python tools/make_onnx_fixtures.py
set -euo pipefail
cd "$(dirname "$0")/.."
which_venvs="${1:-all}"
# The plain `torch` wheel pulls gigabytes of CUDA packages: always the +cpu build, which lives on
# PyTorch's CPU index (or in a local wheel folder, when pip's find-links names one that holds it).
torch_pin="torch==2.13.0+cpu"
torch_index="https://download.pytorch.org/whl/cpu"
if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
  echo "treerpo: installing python3-venv with apt-get" >&2
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq python3-venv python3-pip >/dev/null
fi
# new_venv DIR: the venv with the CPU torch installed (its dependencies come with the next install).
new_venv() {
  python3 -m venv "$1"
  "$1/bin/pip" install -q --upgrade pip
  "$1/bin/pip" install -q --no-index --no-deps "$torch_pin" 2>/dev/null \
    || "$1/bin/pip" install -q --no-deps --index-url "$torch_index" "$torch_pin"
}
if [ "$which_venvs" != optimum ] && [ "$which_venvs" != trl ] && [ ! -x .venv-tools/bin/python ]; then
  new_venv .venv-tools
  .venv-tools/bin/pip install -q "$torch_pin" transformers==5.24.0 onnx==1.23.2 onnxruntime==1.32.0 \
    onnxscript==0.7.2 tokenizers==0.23.3 safetensors==0.8.0 numpy==2.4.6
fi
# Added after the venv first existed: installed into an existing venv too.
if [ "$which_venvs" != optimum ] && [ "$which_venvs" != trl ] && ! .venv-tools/bin/python -c "import gguf, accelerate" 2>/dev/null; then
  .venv-tools/bin/pip install -q gguf==0.19.0 accelerate==1.16.0
fi
if [ "$which_venvs" != tools ] && [ "$which_venvs" != trl ] && [ ! -x .venv-optimum/bin/python ]; then
  new_venv .venv-optimum
  .venv-optimum/bin/pip install -q "$torch_pin" optimum==2.1.0 optimum-onnx==0.1.0 transformers==4.57.6 \
    onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6
fi
# gguf + accelerate: the benchmark loads SmolLM2 from its GGUF with transformers, as .venv-tools does.
if [ "$which_venvs" = trl ] && [ ! -x .venv-trl/bin/python ]; then
  new_venv .venv-trl
  .venv-trl/bin/pip install -q "$torch_pin" transformers==5.24.0 trl==1.16.0 datasets==5.2.0 accelerate==1.16.0 \
    gguf==0.19.0 tokenizers==0.23.3 safetensors==0.8.0 numpy==2.4.6
fi
echo "tools venvs ready ($which_venvs): .venv-tools/bin/python, .venv-optimum/bin/python (.venv-trl/bin/python with trl)"
