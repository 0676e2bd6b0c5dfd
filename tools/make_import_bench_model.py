#!/usr/bin/env python3
"""Builds the import benchmark model: a randomly initialised Qwen2.5-0.5B-shaped Qwen2 model
(hidden 896, 24 layers, 14 heads / 2 kv heads, intermediate 4864, vocab 151936, tied embeddings),
exported by the torch legacy exporter with constant folding and saved with all initializers in
one external data file, the way >2 GB exports are written.

Not committed (about 2.5 GB). Run from the repository root:
    .venv-tools/bin/python tools/make_import_bench_model.py [--out /tmp/treerpo-bench/qwen2.5-0.5b-shaped]
then:
    .build-imp/release/treerpo bench import --model /tmp/treerpo-bench/qwen2.5-0.5b-shaped/model.onnx
"""
import argparse
import json
import os
import shutil
import tempfile
import time

import onnx
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="/tmp/treerpo-bench/qwen2.5-0.5b-shaped")
    parser.add_argument("--layers", type=int, default=24, help="fewer for a quick smoke run")
    args = parser.parse_args()

    config = Qwen2Config(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=args.layers,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
        rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True, use_cache=False,
        bos_token_id=151643, eos_token_id=151645,
    )
    torch.manual_seed(0)
    start = time.time()
    model = Qwen2ForCausalLM(config).eval()
    print(f"model: {sum(p.numel() for p in model.parameters()):,} parameters ({time.time() - start:.1f} s)")

    os.makedirs(args.out, exist_ok=True)
    ids = torch.randint(0, config.vocab_size, (1, 8))
    mask = torch.ones_like(ids)

    class Logits(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).logits

    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(args.out))) as tmp:
        raw = os.path.join(tmp, "model.onnx")
        start = time.time()
        with torch.no_grad():
            torch.onnx.export(Logits(model), (ids, mask), raw, dynamo=False, do_constant_folding=True,
                              input_names=["input_ids", "attention_mask"], output_names=["logits"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                            "attention_mask": {0: "batch", 1: "sequence"}},
                              opset_version=20)
        print(f"exported ({time.time() - start:.1f} s)")
        del model
        m = onnx.load(raw, load_external_data=True)
        for name in ("model.onnx", "model.onnx.data"):
            path = os.path.join(args.out, name)
            if os.path.exists(path):
                os.remove(path)
        onnx.save_model(m, os.path.join(args.out, "model.onnx"), save_as_external_data=True,
                        all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=0)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        f.write(config.to_json_string())
    sizes = {n: os.path.getsize(os.path.join(args.out, n)) for n in sorted(os.listdir(args.out))}
    print(json.dumps({"out": args.out, "files": sizes}, indent=1))


if __name__ == "__main__":
    main()
