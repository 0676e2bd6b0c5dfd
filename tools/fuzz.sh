#!/usr/bin/env bash
# Coverage-guided fuzzing of every reader treerpo runs on a file it is given (ONNX import,
# safetensors, config.json, tokenizer.json, GGUF import): libFuzzer with AddressSanitizer, each target for
# FUZZ_SECONDS (default 45), a 2 GiB memory limit, 1 GiB per allocation and 10 s per input.
# Any crash, trap, sanitizer report, error of a type that is not the library's own, over-limit
# allocation or hang fails the run, and libFuzzer leaves the input as crash-*/oom-*/timeout-*
# in the working folder (FUZZ_ARTIFACTS, default a temporary folder, printed).
#   bash tools/fuzz.sh [TARGET...]        (default: all five)
# Seeds: the committed fixtures of each kind plus Fuzz/corpus/TARGET/. CI runs this (tools/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-45}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(onnx safetensors config tokenizer gguf)
flags=(-c release --product treerpo-fuzz --scratch-path .build-fuzz
       -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING)
swift build "${flags[@]}" 2>&1 | grep -v "Cannot export local symbol" | tail -3
bin="$(swift build "${flags[@]}" --show-bin-path)/treerpo-fuzz"
artifacts=${FUZZ_ARTIFACTS:-$(mktemp -d)}
for target in "${targets[@]}"; do
  case $target in
    onnx) seeds=(Fixtures/models/llama-legacy-folded Fixtures/models/gpt2-legacy-folded Fixtures/models/qwen2-dynamo-optimized) pattern='model.onnx' ;;
    safetensors) seeds=(Fixtures/models/qwen2-hf Fixtures/models/gpt2-hf) pattern='model.safetensors' ;;
    config) seeds=(Fixtures/models/*-hf Fixtures/models/qwen2-legacy-folded) pattern='config.json' ;;
    tokenizer) seeds=(Tests/TokenizationTests/Fixtures) pattern='*.tokenizer.json' ;;
    gguf) seeds=(Fixtures/models/llama-gguf Fixtures/models/qwen2-gguf Fixtures/gguf-tokenizer) pattern='*.gguf' ;;
    *) echo "treerpo: unknown fuzz target $target (onnx, safetensors, config, tokenizer, gguf)" >&2; exit 64 ;;
  esac
  # libFuzzer reads seed files from folders: one folder of copies per target, plus the committed corpus.
  work=$(mktemp -d); mkdir -p "$work/new" "$work/seeds"
  for d in "${seeds[@]}"; do
    for f in "$d"/$pattern; do [ -f "$f" ] && cp "$f" "$work/seeds/$(echo "$f" | tr / _)"; done
  done
  corpus=(); [ -d "Fuzz/corpus/$target" ] && corpus=("$PWD/Fuzz/corpus/$target")
  echo "== fuzz $target: ${seconds}s, $(ls "$work/seeds" | wc -l) seed files + ${corpus[*]:-no committed corpus} =="
  log="$artifacts/$target.log"
  status=0
  (cd "$artifacts" && TREERPO_FUZZ_TARGET=$target "$bin" "$work/new" "$work/seeds" "${corpus[@]}" \
      -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -print_final_stats=1) \
      >"$log" 2>&1 || status=$?
  grep -E "stat::number_of_executed_units|Finding|ERROR: |SUMMARY: |Test unit written" "$log" | head -8 || true
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then
    echo "treerpo: fuzz target $target failed (libFuzzer exit $status); log and input in $artifacts" >&2
    tail -30 "$log" >&2
    exit 1
  fi
done
echo "treerpo: fuzzing passed (${targets[*]}, ${seconds}s each)"
