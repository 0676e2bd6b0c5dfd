#!/usr/bin/env bash
# The main job on a fresh Debian machine with the Swift toolchain:
#   bash tools/quickstart.sh
# Installs what is missing, builds in release, imports the bundled math model, measures it on
# held-out questions, fine-tunes it with TreeRPO for a few minutes, measures again, exports the
# result as ONNX and safetensors, and prints a before/after table with the change of held-out
# Pass@1 and its uncertainty. Outputs: ./treerpo-workspace/.
#
# The recipe (docs/experiments.md "The quickstart recipe: 225 steps, scored on 1000 x 4 held-out"): TreeRPO with the default tree (depth 3,
# branching 2, 16-token steps), 64 questions per step, answers up to 128 tokens, lr 1e-4
# constant, QUICKSTART_STEPS steps; held-out Pass@1 on 200 questions x 2 samples every 25 steps
# for the curves. Before and after: QUICKSTART_EVAL_QUESTIONS held-out questions x 4 samples
# (1000 x 4: about 0.55 points of sampling noise per evaluation).
#
# QUICKSTART_STEPS (default 225) and QUICKSTART_EVAL_QUESTIONS (default 1000) shorten it,
# QUICKSTART_SEED picks the run seed (default 0), QUICKSTART_THREADS the threads (default: all)
# and QUICKSTART_WORKSPACE moves it (tools/test.sh runs a few steps in a temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup-system.sh
# QUICKSTART_SWIFT_FLAGS: extra build flags (tools/test.sh passes its own, to reuse its build).
# Only the program: the fuzz target and the test support module would add a minute.
swift build -c release ${QUICKSTART_SWIFT_FLAGS:-} --product treerpo
bin="$(swift build -c release ${QUICKSTART_SWIFT_FLAGS:-} --show-bin-path)/treerpo"
ws=${QUICKSTART_WORKSPACE:-treerpo-workspace}
steps=${QUICKSTART_STEPS:-225}
questions=${QUICKSTART_EVAL_QUESTIONS:-1000}
seed=${QUICKSTART_SEED:-0}
threads=()
[ -n "${QUICKSTART_THREADS:-}" ] && threads=(--threads "$QUICKSTART_THREADS")
# Held-out curve during training: the first questions of the same held-out list.
curve_questions=$(( questions < 200 ? questions : 200 ))
model=$(ls -d models/*/ | head -n 1)
model=${model%/}
run="quickstart-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$ws"

echo "== import: $model/model.onnx (Qwen2 layout, torch.onnx default exporter) into $ws/base =="
"$bin" import "$model/model.onnx" --workspace "$ws" --replace

evaluate() {  # $1: before|after, then extra eval options
  local tag=$1; shift
  "$bin" eval --workspace "$ws" --data arithmetic --questions "$questions" --samples 4 --seed 1 \
    --max-response-tokens 128 --json "${threads[@]}" "$@" > "$ws/eval-$tag.json"
  sed -e 's/"correct_per_question":\[[0-9,]*\],\{0,1\}//' "$ws/eval-$tag.json"
}
echo
echo "== eval before: $questions held-out questions x 4 samples =="
evaluate before --base

echo
echo "== finetune: TreeRPO, $steps steps of 64 questions, lr 1e-4 (run $run) =="
"$bin" finetune --workspace "$ws" --task arithmetic --run "$run" --seed "$seed" --preset treerpo \
  --steps "$steps" --prompts-per-step 64 --lr 1e-4 --max-response-tokens 128 \
  --eval-every 25 --eval-questions "$curve_questions" --eval-samples 2 \
  --checkpoint-every 100 --tree-dump-every 50 "${threads[@]}"

echo
echo "== eval after =="
evaluate after --checkpoint "$run"

echo
echo "== export: ONNX (the imported graph with the trained weights) and Hugging Face safetensors =="
"$bin" export --workspace "$ws" --checkpoint "$run" --replace

"$bin" report "$run" --workspace "$ws" --out "$ws/runs/$run/curves.svg" --title "quickstart: TreeRPO on $(basename "$model")" >/dev/null

echo
echo "held-out arithmetic (questions the model was neither pretrained nor fine-tuned on)"
"$bin" compare "$ws/eval-before.json" "$ws/eval-after.json"
echo
echo "outputs in $ws/:"
echo "  base/                     the imported model"
echo "  runs/$run/    config.json, metrics.jsonl, trees/, checkpoints/, curves.svg"
echo "  export/                   model.onnx and the Hugging Face folder"
