#!/usr/bin/env bash
# The real model end to end: SmolLM2-135M-Instruct Q4_1 GGUF -> treerpo import -> generate with
# its own chat template -> a short TreeRPO finetune on the arithmetic task (enough that groups
# with mixed rewards are kept and the weights change) -> export (GGUF in its source types, so the
# trained Q4_1 tensors are re-quantised, and the HF folder) -> checks by the other ecosystems
# (tools/check_smollm2_export.py): the gguf package reads the export, transformers loads it and
# the HF folder and reproduces our logits.
#   bash tools/smollm2_gguf_end_to_end.sh [WORKSPACE]     (default: a new temporary folder)
#   STEPS=N (default 3) training steps; TREERPO=path to the binary (default: release build)
# Not part of tools/test.sh (a few minutes of training); tools/check_gguf_export.py covers the
# untrained real-model export there.
set -euo pipefail
cd "$(dirname "$0")/.."
treerpo="${TREERPO:-.build/release/treerpo}"
ws="${1:-$(mktemp -d)/ws}"
steps="${STEPS:-3}"
gguf="$(bash tools/fetch_smollm2_gguf.sh | tail -1)"
stage() { echo; echo "== $1 ($(date -u +%H:%M:%S))"; }
stage "import"
mkdir -p "$(dirname "$ws")"
time "$treerpo" import "$gguf" --workspace "$ws" --replace
stage "generate (greedy, --chat-template auto)"
time "$treerpo" generate --workspace "$ws" --greedy --max-tokens 24 --chat-template auto \
  --prompt "What is the capital of France?"
# SmolLM2-135M almost never ends the built-in arithmetic task with a marked answer ("The answer
# is ..."), so every leaf scores 0, each tree is pruned and nothing trains. Here: one-digit sums
# and a reward command giving 1 when the response contains the reference number anywhere. At
# temperature 1.2 with 3 x 2 leaves per question, some leaves do and some do not, so groups are
# kept and the weights change (a tree whose leaves all score the same leaves them as they are).
data="$(dirname "$ws")/e2e-sums.jsonl"
reward="$(dirname "$ws")/e2e-contains.py"
for q in "3 4" "2 5" "6 1" "4 4" "5 3" "2 2" "7 1" "1 8"; do
  set -- $q; echo "{\"question\": \"What is $1 + $2?\", \"answer\": \"$(($1 + $2))\"}"
done > "$data"
cat > "$reward" <<'PY'
import json, sys
for line in sys.stdin:
    query = json.loads(line)
    print(1.0 if query["reference"].strip() in query["response"] else 0.0)
PY
stage "finetune: $steps TreeRPO steps on one-digit sums (--chat-template auto)"
time "$treerpo" finetune --workspace "$ws" --data "$data" --reward-command "python3 $reward" --steps "$steps" \
  --prompts-per-step 2 --depth 2 --branching 3,2 --step-tokens 8 --max-response-tokens 24 --temperature 1.2 \
  --lr 2e-5 --chat-template auto --run e2e
stage "export (GGUF in source types + HF folder)"
time "$treerpo" export --workspace "$ws" --replace
stage "the exports read by gguf and transformers"
time .venv-tools/bin/python tools/check_smollm2_export.py --treerpo "$treerpo" --workspace "$ws" --source "$gguf" --run e2e
