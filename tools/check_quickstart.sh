#!/usr/bin/env bash
# Checks the numbers of a (shortened) quickstart run, not only its exit status:
#   bash tools/check_quickstart.sh WORKSPACE QUESTIONS STEPS
# Every field of eval-before.json and eval-after.json must be present and a number (a missing
# field is an error, never 0.0%), rates in [0, 1] with Pass@4 >= Pass@1, the bundled model's
# held-out Pass@1 in a band around its measured 44% (models/*/MODEL.md), no collapse after
# training, and metrics.jsonl holds STEPS steps with finite losses. tools/test.sh runs it.
set -euo pipefail
ws=$1 questions=$2 steps=$3
fail() { echo "quickstart check: $*" >&2; exit 1; }

# field FILE KEY: the number after "KEY": in the one-line JSON FILE; fails when absent.
field() {
  local v
  v=$(grep -o "\"$2\":[-0-9.eE+]*" "$1" | head -n 1 | cut -d: -f2) || true
  [[ $v =~ ^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$ ]] || fail "$1 has no number for \"$2\" (found '${v}')"
  echo "$v"
}
# within X LOW HIGH: LOW <= X <= HIGH.
within() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }

for tag in before after; do
  file="$ws/eval-$tag.json"
  [ -s "$file" ] || fail "$file is missing or empty"
  p1=$(field "$file" 'pass@1'); pk=$(field "$file" 'pass@k'); mk=$(field "$file" 'maj@k')
  k=$(field "$file" k); q=$(field "$file" questions); tokens=$(field "$file" mean_response_tokens)
  for v in "$p1" "$pk" "$mk"; do within "$v" 0 1 || fail "$file: rate $v outside [0, 1]"; done
  within "$pk" "$p1" 1 || fail "$file: pass@k $pk below pass@1 $p1"
  [ "$k" = 4 ] || fail "$file: k is $k, the quickstart asks for 4 samples"
  [ "$q" = "$questions" ] || fail "$file: $q questions, the quickstart asked for $questions"
  within "$tokens" 1 256 || fail "$file: mean response tokens $tokens outside [1, 256]"
  declare "pass1_$tag=$p1"
done
# The bundled model gets about 44% per sample; with 8 questions x 4 samples the reading varies
# by about 0.15, so [0.10, 0.85] only fails on a broken import, tokenizer, forward or verifier.
within "$pass1_before" 0.10 0.85 || fail "held-out Pass@1 before training is $pass1_before, outside [0.10, 0.85]"
# A few steps must not wreck the model (a sign error or a huge step sends it to 0).
awk -v a="$pass1_after" -v b="$pass1_before" 'BEGIN { exit !(a >= 0.10 && a >= b - 0.30) }' \
  || fail "held-out Pass@1 fell from $pass1_before to $pass1_after after $steps steps"

metrics=$(ls "$ws"/runs/*/metrics.jsonl | head -n 1)
[ "$(grep -c '"step"' "$metrics")" = "$steps" ] || fail "$metrics: expected $steps step lines"
while read -r line; do
  loss=$(printf '%s\n' "$line" | grep -o '"loss":[-0-9.eE+]*' | cut -d: -f2) || true
  [[ $loss =~ ^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$ ]] || fail "$metrics: a step without a finite loss: $line"
done < "$metrics"
echo "quickstart check: Pass@1 $pass1_before -> $pass1_after on $questions held-out questions; $steps steps with finite losses"
