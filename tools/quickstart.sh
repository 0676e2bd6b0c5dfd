#!/usr/bin/env bash
# The main job on a fresh Debian machine with the Swift toolchain:
#   bash tools/quickstart.sh
# Installs what is missing, builds in release, imports the bundled math model, measures it on
# held-out questions, fine-tunes it with TreeRPO for a few minutes, measures again, exports the
# result as ONNX and safetensors, and prints a before/after table. Outputs: ./treerpo-workspace/.
#
# QUICKSTART_STEPS (default 40) and QUICKSTART_EVAL_QUESTIONS (default 100) shorten it, and
# QUICKSTART_WORKSPACE moves it (tools/test.sh runs a few steps in a temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup-system.sh
# QUICKSTART_SWIFT_FLAGS: extra build flags (tools/test.sh passes its own, to reuse its build).
swift build -c release ${QUICKSTART_SWIFT_FLAGS:-}
bin="$(swift build -c release ${QUICKSTART_SWIFT_FLAGS:-} --show-bin-path)/treerpo"
ws=${QUICKSTART_WORKSPACE:-treerpo-workspace}
steps=${QUICKSTART_STEPS:-40}
questions=${QUICKSTART_EVAL_QUESTIONS:-100}
model=$(ls -d models/*/ | head -n 1)
model=${model%/}
run="quickstart-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$ws"

echo "== import: $model/model.onnx (Qwen2 layout, torch.onnx default exporter) into $ws/base =="
"$bin" import "$model/model.onnx" --workspace "$ws" --replace

evaluate() {  # $1: before|after, then extra eval options
  local tag=$1; shift
  "$bin" eval --workspace "$ws" --data arithmetic --questions "$questions" --samples 4 --seed 1 --json "$@" \
    | tee "$ws/eval-$tag.json"
}
echo
echo "== eval before: $questions held-out questions x 4 samples =="
evaluate before --base

echo
echo "== finetune: TreeRPO, $steps steps (run $run) =="
"$bin" finetune --workspace "$ws" --task arithmetic --run "$run" --steps "$steps"

echo
echo "== eval after =="
evaluate after --checkpoint "$run"

echo
echo "== export: ONNX (the imported graph with the trained weights) and Hugging Face safetensors =="
"$bin" export --workspace "$ws" --checkpoint "$run" --replace

"$bin" report "$run" --workspace "$ws" --out "$ws/runs/$run/curves.svg" --title "quickstart: TreeRPO on $(basename "$model")" >/dev/null

# field before|after KEY: the number, or stop naming the file and key (never a silent 0.0%).
field() {
  local v
  v=$(grep -o "\"$2\":[-0-9.eE+]*" "$ws/eval-$1.json" | head -n 1 | cut -d: -f2) || true
  [[ $v =~ ^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$ ]] || { echo "quickstart: $ws/eval-$1.json has no number for \"$2\"" >&2; exit 1; }
  echo "$v"
}
pct() { awk -v x="$1" 'BEGIN { printf "%.1f%%", 100 * x }'; }
# Assignments first: a failed $(field ...) stops the script here (set -e), not inside printf.
b1=$(field before 'pass@1'); a1=$(field after 'pass@1'); bk=$(field before 'pass@k'); ak=$(field after 'pass@k')
bm=$(field before 'maj@k'); am=$(field after 'maj@k')
bt=$(field before mean_response_tokens); at=$(field after mean_response_tokens)
echo
echo "held-out arithmetic, $questions questions x 4 samples"
printf '%-22s %10s %10s\n' "" before after
printf '%-22s %10s %10s\n' "Pass@1" "$(pct "$b1")" "$(pct "$a1")"
printf '%-22s %10s %10s\n' "Pass@4" "$(pct "$bk")" "$(pct "$ak")"
printf '%-22s %10s %10s\n' "maj@4" "$(pct "$bm")" "$(pct "$am")"
printf '%-22s %10.1f %10.1f\n' "mean answer tokens" "$bt" "$at"
echo
echo "outputs in $ws/:"
echo "  base/                     the imported model"
echo "  runs/$run/    config.json, metrics.jsonl, trees/, checkpoints/, curves.svg"
echo "  export/                   model.onnx and the Hugging Face folder"
