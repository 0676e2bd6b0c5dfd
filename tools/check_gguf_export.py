#!/usr/bin/env python3
"""Interop check of `treerpo export` for models imported from GGUF: transformers loads what the
built binary writes and reproduces our logits.

For each GGUF fixture (Fixtures/models/{llama,qwen2,gpt2}-gguf, tools/make_gguf_model_fixtures.py)
and, when given (--smollm2 PATH), the real SmolLM2-135M-Instruct GGUF:
1. `treerpo import model.gguf` into a temporary workspace;
2. `treerpo export` three ways: source types (must be the source file byte for byte, untrained),
   `--gguf-type f16` and `--gguf-type q8_0` (new files written by our GGUF writer, the llama
   Q/K permutation re-applied), each with the HF folder;
3. `treerpo export-logits`: our forward's logits for the imported (untrained) weights;
4. transformers `from_pretrained(folder, gguf_file=...)` on each exported GGUF and on the
   exported HF folder; largest |logit difference| / max |logit| printed. The HF folder and the
   source-type GGUF must agree within 1e-4; f16 and q8_0 re-quantise the weights, so they agree
   within their rounding (limits printed: 2e-2 for f16, 5e-2 for q8_0 relative to max |logit|).

Usage: .venv-tools/bin/python tools/check_gguf_export.py --treerpo .build/release/treerpo [--smollm2 PATH]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
import transformers

REPO = Path(__file__).resolve().parent.parent
LIMITS = {"source": 1e-4, "f16": 2e-2, "q8_0": 5e-2, "hf": 1e-4}


def run(cmd):
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True).stdout


def check(treerpo, gguf, label, vocab_guard=None):
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        run([treerpo, "import", gguf, "--workspace", ws])
        rng = np.random.default_rng(7)
        vocab = json.loads((ws / "base" / "config.json").read_text())["vocab_size"]
        sequences = [rng.integers(3, vocab, size=9).tolist(), rng.integers(3, vocab, size=5).tolist()]
        ours = json.loads(run([treerpo, "export-logits", "--workspace", ws, "--threads", "2",
                               "--tokens", ";".join(",".join(map(str, s)) for s in sequences)]))["logits"]
        ours = [np.array(s, dtype=np.float64) for s in ours]
        scale = max(float(np.abs(s).max()) for s in ours)
        outputs = {}
        for kind, extra in [("source", []), ("f16", ["--gguf-type", "f16"]), ("q8_0", ["--gguf-type", "q8_0"])]:
            out = Path(tmp) / f"export-{kind}"
            run([treerpo, "export", "--workspace", ws, "--out", out] + extra)
            outputs[kind] = out
        source_bytes = Path(gguf).read_bytes()
        exported = outputs["source"] / "gguf" / Path(gguf).name
        if exported.read_bytes() != source_bytes:
            failures.append(f"{label}: untrained source-type export is not the source byte for byte")
        for kind, folder in [("source", outputs["source"]), ("f16", outputs["f16"]), ("q8_0", outputs["q8_0"]), ("hf", outputs["source"])]:
            if kind == "hf":
                model = transformers.AutoModelForCausalLM.from_pretrained(folder / "hf", dtype=torch.float32).eval()
            else:
                model = transformers.AutoModelForCausalLM.from_pretrained(folder / "gguf", gguf_file=Path(gguf).name,
                                                                          dtype=torch.float32).eval()
            worst = 0.0
            with torch.no_grad():
                for ids, expected in zip(sequences, ours):
                    theirs = model(torch.tensor([ids])).logits[0].double().numpy()
                    worst = max(worst, float(np.abs(theirs - expected.reshape(theirs.shape)).max()))
            relative = worst / scale
            verdict = "ok" if relative <= LIMITS[kind] else "FAIL"
            print(f"{label:10s} {kind:7s} transformers vs ours: max |diff| {worst:.3g} = {relative:.2e} x max |logit| "
                  f"(limit {LIMITS[kind]:.0e}) {verdict}", flush=True)
            if verdict != "ok":
                failures.append(f"{label} {kind}: {relative:.3g} > {LIMITS[kind]}")
    return failures


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    parser = argparse.ArgumentParser()
    parser.add_argument("--treerpo", required=True)
    parser.add_argument("--smollm2")
    args = parser.parse_args()
    failures = []
    for family in ("llama", "qwen2", "gpt2"):
        failures += check(args.treerpo, REPO / "Fixtures" / "models" / f"{family}-gguf" / "model.gguf", family)
    if args.smollm2:
        failures += check(args.treerpo, args.smollm2, "smollm2")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("GGUF export interop: all checks passed")


if __name__ == "__main__":
    main()
