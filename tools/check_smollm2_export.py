#!/usr/bin/env python3
"""The checks at the end of tools/smollm2_gguf_end_to_end.sh: a SmolLM2 workspace trained by
TreeRPO and exported in its source GGUF types (Q4_1, one Q8_0, F32) read back by the other
ecosystems. Fails (exit 1) on any of:

1. training: no group kept in runs/RUN/metrics.jsonl, or no parameter of the newest checkpoint
   different from base/ (then the export would re-quantise nothing);
2. gguf package: the exported GGUF does not read with gguf.GGUFReader, its tensor names, types
   and shapes differ from the source's, no tensor was re-quantised (bytes differing from the
   source), or a re-quantised tensor is not gguf.quantize of the trained weights (taken from the
   exported HF folder, mapped to GGUF names with llama.cpp's Q/K permutation);
3. transformers: from_pretrained(gguf_file=) of the export against our forward of the same
   file (imported back by treerpo) beyond 1e-4 x max |logit|; the HF folder against our forward
   of the trained fp32 weights beyond 1e-4. The difference between the re-quantised GGUF and the
   fp32 trained weights (the quantisation error) is printed and must stay below 0.1 x max |logit| (measured 0.044 after 3 steps).

Usage: .venv-tools/bin/python tools/check_smollm2_export.py --treerpo BIN --workspace WS --source SRC.gguf --run RUN
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import gguf
from safetensors.numpy import load_file

IDS = [1, 504, 3458, 282, 4649, 314, 28, 216, 33, 1232, 216, 34, 438]
EXACT = 1e-4
QUANTISATION = 0.1


def ours(treerpo, workspace):
    out = subprocess.run([treerpo, "export-logits", "--workspace", str(workspace), "--tokens", ",".join(map(str, IDS))],
                         check=True, capture_output=True, text=True).stdout
    return np.array(json.loads(out)["logits"][0], dtype=np.float64)


def hf_to_gguf(hf, config):
    """HF tensor name -> (GGUF name, values in GGUF row order), llama's Q/K rows permuted as
    llama.cpp's converter does: w.reshape(heads, 2, head_dim / 2, in).swapaxes(1, 2)."""
    heads, kv = config["num_attention_heads"], config["num_key_value_heads"]
    out = {}
    for name, w in hf.items():
        if name == "model.embed_tokens.weight":
            out["token_embd.weight"] = w
        elif name == "model.norm.weight":
            out["output_norm.weight"] = w
        elif name == "lm_head.weight":
            out["output.weight"] = w
        elif name.startswith("model.layers."):
            layer, rest = name[len("model.layers."):].split(".", 1)
            local = {"input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
                     "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
                     "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
                     "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
                     "mlp.down_proj.weight": "ffn_down.weight"}[rest]
            if rest in ("self_attn.q_proj.weight", "self_attn.k_proj.weight"):
                n = heads if rest.startswith("self_attn.q") else kv
                w = w.reshape(n, 2, w.shape[0] // n // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
            out[f"blk.{layer}.{local}"] = w
    return out


def main():
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser()
    parser.add_argument("--treerpo", required=True)
    parser.add_argument("--workspace", required=True, type=Path)
    parser.add_argument("--source", required=True, type=Path)
    parser.add_argument("--run", required=True)
    args = parser.parse_args()
    ws, failures = args.workspace, []

    # 1. training changed the weights
    metrics = [json.loads(line) for line in (ws / "runs" / args.run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    kept = sum(m.get("groups_kept", 0) for m in metrics)
    print(f"training: {len(metrics)} steps, {sum(m.get('groups', 0) for m in metrics)} groups, {kept} kept")
    checkpoints = sorted((ws / "runs" / args.run / "checkpoints").glob("*/model.safetensors"))
    base, trained = load_file(ws / "base" / "model.safetensors"), load_file(checkpoints[-1])
    changed = [k for k in trained if not np.array_equal(trained[k], base[k])]
    delta = max((float(np.abs(trained[k] - base[k]).max()) for k in changed), default=0.0)
    print(f"  {checkpoints[-1].parent.name}: {len(changed)} of {len(trained)} parameters changed, largest |change| {delta:.3g}")
    if kept == 0 or not changed:
        failures.append("training kept no group or changed no parameter: the export re-quantises nothing")

    # 2. the gguf package reads the export; re-quantised tensors are gguf.quantize of the trained weights
    exported_path = ws / "export" / "gguf" / args.source.name
    source, exported = gguf.GGUFReader(args.source), gguf.GGUFReader(exported_path)
    src = {t.name: t for t in source.tensors}
    config = json.loads((ws / "export" / "hf" / "config.json").read_text())
    hf = {}
    for shard in sorted((ws / "export" / "hf").glob("*.safetensors")):
        hf.update(load_file(shard))
    expected = hf_to_gguf(hf, config)
    requantised, wrong = 0, []
    for t in exported.tensors:
        s = src[t.name]
        if (t.tensor_type, list(t.shape)) != (s.tensor_type, list(s.shape)):
            wrong.append(f"{t.name}: {t.tensor_type.name} {list(t.shape)} vs source {s.tensor_type.name} {list(s.shape)}")
            continue
        if np.array_equal(t.data, s.data):
            continue
        requantised += 1
        values = expected[t.name].astype(np.float32)
        reference = gguf.quantize(values, t.tensor_type) if t.tensor_type != gguf.GGMLQuantizationType.F32 else values
        if not np.array_equal(np.asarray(reference).reshape(-1).view(np.uint8), np.asarray(t.data).reshape(-1).view(np.uint8)):
            wrong.append(f"{t.name} ({t.tensor_type.name}): not gguf.quantize of the trained weights")
    types = sorted({t.tensor_type.name for t in exported.tensors if not np.array_equal(t.data, src[t.name].data)})
    print(f"gguf: {exported_path.name} read, {len(exported.tensors)} tensors; {requantised} re-quantised ({', '.join(types)}), "
          f"each equal to gguf.quantize of the trained weights: {'no' if wrong else 'yes'}")
    failures += wrong[:5]
    if requantised == 0:
        failures.append("no tensor of the exported GGUF differs from the source")

    # 3. transformers against our forward
    os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' per-tensor progress bars
    import torch
    import transformers
    transformers.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as scratch:
        back = Path(scratch) / "ws"
        subprocess.run([args.treerpo, "import", str(exported_path), "--workspace", str(back)], check=True, capture_output=True)
        ours_requantised = ours(args.treerpo, back)
    ours_trained = ours(args.treerpo, ws)
    scale = float(np.abs(ours_trained).max())

    def theirs(load):
        with torch.no_grad():
            return load().eval()(torch.tensor([IDS])).logits[0].double().numpy()

    gguf_logits = theirs(lambda: transformers.AutoModelForCausalLM.from_pretrained(exported_path.parent, gguf_file=exported_path.name, dtype=torch.float32))
    hf_logits = theirs(lambda: transformers.AutoModelForCausalLM.from_pretrained(ws / "export" / "hf", dtype=torch.float32))
    rows = [("exported GGUF vs ours on the same file", np.abs(gguf_logits - ours_requantised).max() / scale, EXACT),
            ("exported HF folder vs ours (trained fp32)", np.abs(hf_logits - ours_trained).max() / scale, EXACT),
            ("exported GGUF vs ours (trained fp32): re-quantisation", np.abs(gguf_logits - ours_trained).max() / scale, QUANTISATION)]
    for label, error, limit in rows:
        print(f"transformers: {label}: max |diff| / max |logit| = {error:.2e} (limit {limit:g})")
        if not error <= limit:
            failures.append(f"{label}: {error:.2e} > {limit:g}")
    argmax = (gguf_logits.argmax(-1) == ours_trained.argmax(-1)).mean()
    print(f"  greedy next-token agreement, re-quantised GGUF vs trained fp32: {argmax:.0%} of {len(IDS)} positions")
    for f in failures:
        print("FAIL:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
