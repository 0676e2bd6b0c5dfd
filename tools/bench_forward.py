#!/usr/bin/env python3
"""Forward-pass throughput of treerpo next to onnxruntime and PyTorch eager, same model, same
thread count, measured alternately in the same run; prints medians and ratios.

Measurements (identical for every runtime):
  prefill   one 256-token sequence, logits of the last position (onnxruntime's with-past graph
            computes every position's logits: it cannot be told otherwise)
  decode    32-token prompts, 64 new greedy tokens, batch 1 and batch 16; tokens/s over the 63
            decode forwards after the first token

Models are random (no hub): ``--make-models DIR`` writes HF folders (config.json,
model.safetensors) plus an optimum ``text-generation-with-past`` ONNX export (model.onnx) for
  tiny        Qwen2 shape, ~1.7M parameters
  smollm2     SmolLM2-135M shape (Llama, tied)
  qwen05      Qwen2.5-0.5B shape (only with --with-qwen05; ~2 GB on disk)
They are not committed.

    .venv-tools/bin/python tools/bench_forward.py --make-models /tmp/bench-models
    swift build -c release --scratch-path .build-bench
    .venv-tools/bin/python tools/bench_forward.py --models /tmp/bench-models \\
        --treerpo .build-bench/release/treerpo --threads 2 --rounds 3
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

OPTIMUM_PYTHON = os.environ.get("TREERPO_OPTIMUM_PYTHON", ".venv-optimum/bin/python")

SHAPES = {
    "tiny": dict(model_type="qwen2", vocab_size=4096, hidden_size=128, intermediate_size=512,
                 num_hidden_layers=5, num_attention_heads=4, num_key_value_heads=2,
                 max_position_embeddings=512, tie_word_embeddings=True, rope_theta=1e6),
    "smollm2": dict(model_type="llama", vocab_size=49152, hidden_size=576, intermediate_size=1536,
                    num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                    max_position_embeddings=8192, tie_word_embeddings=True, rope_theta=1e5,
                    rms_norm_eps=1e-5),
    "qwen05": dict(model_type="qwen2", vocab_size=151936, hidden_size=896, intermediate_size=4864,
                   num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                   max_position_embeddings=32768, tie_word_embeddings=True, rope_theta=1e6,
                   rms_norm_eps=1e-6),
}
PREFILL, PROMPT, NEW = 256, 32, 64


def make_models(out, with_qwen05, only):
    import torch
    import transformers
    out.mkdir(parents=True, exist_ok=True)
    for name, cfg in SHAPES.items():
        if (name == "qwen05" and not with_qwen05) or (only and name not in only):
            continue
        d = out / name
        kw = dict(cfg)
        mt = kw.pop("model_type")
        config = transformers.AutoConfig.for_model(mt, **kw)
        torch.manual_seed(0)
        model = transformers.AutoModelForCausalLM.from_config(config).eval()
        model.save_pretrained(d, safe_serialization=True)
        n = sum(p.numel() for p in model.parameters())
        print(f"{name}: {n / 1e6:.1f}M parameters -> {d}", flush=True)
        code = ("from optimum.exporters.onnx import main_export; "
                f"main_export(model_name_or_path={str(d)!r}, output={str(d / 'onnx')!r}, "
                "task='text-generation-with-past', device='cpu')")
        subprocess.run([OPTIMUM_PYTHON, "-c", code], check=True, capture_output=True)
        print(f"  exported {d / 'onnx' / 'model.onnx'}", flush=True)


def prompts(vocab, batch, length, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab, size=(batch, length), dtype=np.int64)


class Ort:
    def __init__(self, d, threads):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.s = ort.InferenceSession(str(d / "onnx" / "model.onnx"), so, providers=["CPUExecutionProvider"])
        self.inputs = {i.name: i for i in self.s.get_inputs()}
        self.cfg = json.loads((d / "config.json").read_text())

    def step(self, ids, past, start):
        b, t = ids.shape
        feed = dict(input_ids=ids, attention_mask=np.ones((b, start + t), dtype=np.int64))
        if "position_ids" in self.inputs:
            feed["position_ids"] = np.tile(np.arange(start, start + t, dtype=np.int64), (b, 1))
        feed.update(past)
        outs = self.s.run(None, feed)
        names = [o.name for o in self.s.get_outputs()]
        new_past = {n.replace("present", "past_key_values"): v for n, v in zip(names, outs) if n.startswith("present")}
        return outs[names.index("logits")][:, -1], new_past

    def empty(self, b):
        c = self.cfg
        kv = c.get("num_key_value_heads", c["num_attention_heads"])
        hd = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        return {n: np.zeros((b, kv, 0, hd), dtype=np.float32) for n in self.inputs if n.startswith("past_key_values")}

    def prefill(self, ids):
        t0 = time.perf_counter()
        self.step(ids, self.empty(ids.shape[0]), 0)
        return time.perf_counter() - t0

    def decode(self, ids):
        logits, past = self.step(ids, self.empty(ids.shape[0]), 0)
        nxt = logits.argmax(-1)[:, None].astype(np.int64)
        t0 = time.perf_counter()
        for k in range(NEW - 1):
            logits, past = self.step(nxt, past, ids.shape[1] + k)
            nxt = logits.argmax(-1)[:, None].astype(np.int64)
        return ids.shape[0] * (NEW - 1) / (time.perf_counter() - t0)


class Torch:
    def __init__(self, d, threads):
        import torch
        import transformers
        torch.set_num_threads(threads)
        self.torch = torch
        self.m = transformers.AutoModelForCausalLM.from_pretrained(d).eval()

    def prefill(self, ids):
        with self.torch.no_grad():
            t0 = time.perf_counter()
            self.m(input_ids=self.torch.from_numpy(ids), use_cache=True, logits_to_keep=1)
            return time.perf_counter() - t0

    def decode(self, ids):
        torch = self.torch
        with torch.no_grad():
            out = self.m(input_ids=torch.from_numpy(ids), use_cache=True, logits_to_keep=1)
            past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
            t0 = time.perf_counter()
            for _ in range(NEW - 1):
                out = self.m(input_ids=nxt, past_key_values=past, use_cache=True)
                past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
            return ids.shape[0] * (NEW - 1) / (time.perf_counter() - t0)


def peer_round(peer, vocab):
    return dict(prefill=PREFILL / peer.prefill(prompts(vocab, 1, PREFILL, 0)),
                decode1=peer.decode(prompts(vocab, 1, PROMPT, 1)),
                decode16=peer.decode(prompts(vocab, 16, PROMPT, 2)))


def swift_round(binary, d, threads):
    p = subprocess.run([binary, "bench", "forward", "--model", str(d), "--threads", str(threads), "--rounds", "1", "--json"],
                       check=True, capture_output=True, text=True)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    return dict(prefill=r["prefillTokensPerSecond"], decode1=r["decodeBatch1TokensPerSecond"],
                decode16=r["decodeBatch16TokensPerSecond"])


def bench(args):
    root = Path(args.models)
    for name in args.only or [n for n in SHAPES if (root / n).exists()]:
        d = root / name
        vocab = json.loads((d / "config.json").read_text())["vocab_size"]
        ort, tor = Ort(d, args.threads), None if args.skip_torch else Torch(d, args.threads)
        peer_round(ort, vocab)   # warm-up
        if tor:
            peer_round(tor, vocab)
        results = {"treerpo": [], "baseline": [], "onnxruntime": [], "torch": []}
        for _ in range(args.rounds):   # alternate so drift hits every runtime alike
            results["treerpo"].append(swift_round(args.treerpo, d, args.threads))
            if args.baseline:
                results["baseline"].append(swift_round(args.baseline, d, args.threads))
            results["onnxruntime"].append(peer_round(ort, vocab))
            if tor:
                results["torch"].append(peer_round(tor, vocab))
        med = {k: {m: statistics.median(r[m] for r in v) if v else float("nan")
                   for m in ("prefill", "decode1", "decode16")} for k, v in results.items()}
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\n{name} ({d}), {args.threads} thread(s), median of {args.rounds} alternating rounds, tokens/s"
              f" (load average at the end: {load} on {os.cpu_count()} cores)")
        base = f"{'baseline':>10}{'base/ort':>9}" if args.baseline else ""
        print(f"{'measurement':<18}{'treerpo':>10}{'onnxrt':>10}{'torch':>10}{'vs ort':>9}{'vs torch':>9}{base}")
        for m, label in (("prefill", "prefill 1x256"), ("decode1", "decode batch 1"), ("decode16", "decode batch 16")):
            s, o, t, b = med["treerpo"][m], med["onnxruntime"][m], med["torch"][m], med["baseline"][m]
            base = f"{b:>10.1f}{b / o:>8.2f}x" if args.baseline else ""
            print(f"{label:<18}{s:>10.1f}{o:>10.1f}{t:>10.1f}{s / o:>8.2f}x{s / t:>8.2f}x{base}")
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--make-models", metavar="DIR")
    ap.add_argument("--with-qwen05", action="store_true")
    ap.add_argument("--models", metavar="DIR")
    ap.add_argument("--only", action="append", choices=list(SHAPES))
    ap.add_argument("--treerpo", default=".build-bench/release/treerpo")
    ap.add_argument("--baseline", metavar="BINARY",
                    help="an earlier treerpo build, measured in the same alternation (before/after a change)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-torch", action="store_true", help="measure onnxruntime only (PyTorch eager is slow)")
    args = ap.parse_args()
    if args.make_models:
        make_models(Path(args.make_models), args.with_qwen05, args.only)
    if args.models:
        bench(args)


if __name__ == "__main__":
    main()
