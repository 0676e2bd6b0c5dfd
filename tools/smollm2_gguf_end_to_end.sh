#!/usr/bin/env bash
# The real model end to end: SmolLM2-135M-Instruct Q4_1 GGUF -> treerpo import -> generate with
# its chat format -> a short TreeRPO finetune on the arithmetic task -> export (GGUF in its source
# types, and the HF folder) -> both loaded by transformers, which reproduces our logits.
#   bash tools/smollm2_gguf_end_to_end.sh [WORKSPACE]     (default: a new temporary folder)
#   STEPS=N (default 2) training steps; TREERPO=path to the binary (default: release build)
# The chat format is written out by hand (SmolLM2's template renders a user question so):
# treerpo does not render Jinja chat templates yet (--chat-template is not implemented).
set -euo pipefail
cd "$(dirname "$0")/.."
treerpo="${TREERPO:-.build/release/treerpo}"
ws="${1:-$(mktemp -d)/ws}"
steps="${STEPS:-2}"
gguf="$(bash tools/fetch_smollm2_gguf.sh | tail -1)"
chat=$'<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n'
stage() { echo; echo "== $1 ($(date -u +%H:%M:%S))"; }
stage "import"
time "$treerpo" import "$gguf" --workspace "$ws" --replace
stage "generate (greedy, chat format)"
time "$treerpo" generate --workspace "$ws" --greedy --max-tokens 24 \
  --prompt "${chat//\{question\}/What is the capital of France?}"
stage "finetune: $steps TreeRPO steps on arithmetic"
time "$treerpo" finetune --workspace "$ws" --task arithmetic --steps "$steps" --prompts-per-step 1 \
  --depth 2 --branching 2 --step-tokens 8 --max-response-tokens 24 --prompt-template "$chat" --run e2e
stage "export (GGUF in source types + HF folder)"
time "$treerpo" export --workspace "$ws" --replace
stage "transformers loads the exports"
.venv-tools/bin/python - "$ws" "$(basename "$gguf")" <<'PY'
import json, subprocess, sys, warnings
from pathlib import Path
warnings.filterwarnings("ignore")
import numpy as np, torch, transformers
transformers.logging.set_verbosity_error()
ws, name = Path(sys.argv[1]), sys.argv[2]
ids = [1, 504, 3458, 282, 4649, 314]
ours = np.array(json.loads(subprocess.check_output([".build/release/treerpo", "export-logits", "--workspace", str(ws),
                                                     "--tokens", ",".join(map(str, ids))]))["logits"][0])
scale = float(np.abs(ours).max())
for label, load in [("gguf", lambda: transformers.AutoModelForCausalLM.from_pretrained(ws / "export" / "gguf", gguf_file=name, dtype=torch.float32)),
                    ("hf", lambda: transformers.AutoModelForCausalLM.from_pretrained(ws / "export" / "hf", dtype=torch.float32))]:
    with torch.no_grad():
        theirs = load().eval()(torch.tensor([ids])).logits[0].double().numpy()
    print(f"{label}: transformers vs ours max |diff| / max |logit| = {np.abs(theirs - ours.reshape(theirs.shape)).max() / scale:.2e}")
PY
