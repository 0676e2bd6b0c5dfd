#!/usr/bin/env python3
"""The Python peer of `treerpo bench import` for GGUF files: transformers'
AutoModelForCausalLM.from_pretrained(folder, gguf_file=NAME) in float32 (the Hugging Face way
to get a GGUF's fp32 weights; it dequantises with the gguf package). One run per process:

    treerpo bench import --model M.gguf --python .venv-tools/bin/python --script tools/bench_import_gguf.py

    --child MODEL     one run (what `treerpo bench import` times, in a fresh process; the
                      interpreter start and the torch/transformers imports are included)
"""
import sys
import warnings
from pathlib import Path


def child(path):
    warnings.filterwarnings("ignore")
    import torch
    import transformers
    transformers.logging.set_verbosity_error()
    path = Path(path)
    model = transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    print(sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "--child":
        sys.exit(__doc__)
    child(sys.argv[2])
