#!/usr/bin/env python3
"""Training-step throughput of treerpo next to PyTorch eager: same model, same batch shape,
same loss, same thread count; runs alternate, each in a fresh process; prints medians, the
ratio, and peak memory next to params + grads + AdamW moments + activations.

One step (identical for both):
  forward over `batch` random sequences of `tokens` tokens; every position but the last
  predicts the next token; the clipped policy loss (eps 0.2, beta 0, one random advantage per
  sequence, old log-probs -log(vocab)), token-mean; backward; AdamW (lr 1e-5, decay 0.01).
PyTorch runs the Hugging Face model in float32 eager mode (its default "sdpa" attention, the
faster of its eager kernels on CPU) with torch.optim.AdamW's default CPU implementation.
treerpo runs `treerpo bench train --json` (layout "sequences": one forward/backward per
sequence with gradients accumulated, then one AdamW step; "packed" is the alternative).

Models are random (no hub): ``--make-models DIR`` writes HF folders for
  tiny      Qwen2 shape, ~1.7M parameters (the shape of tools/bench_forward.py's tiny)
  small     Qwen2 shape, ~28M parameters
  smollm2   SmolLM2-135M shape (Llama, tied)
They are not committed.

    .venv-tools/bin/python tools/bench_train.py --make-models /tmp/train-models
    swift build -c release --scratch-path .build-bench
    .venv-tools/bin/python tools/bench_train.py --models /tmp/train-models \\
        --treerpo .build-bench/release/treerpo --threads 2 --rounds 3
"""
import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHAPES = {
    "tiny": dict(model_type="qwen2", vocab_size=4096, hidden_size=128, intermediate_size=512,
                 num_hidden_layers=5, num_attention_heads=4, num_key_value_heads=2,
                 max_position_embeddings=2048, tie_word_embeddings=True, rope_theta=1e6),
    "small": dict(model_type="qwen2", vocab_size=16384, hidden_size=512, intermediate_size=1536,
                  num_hidden_layers=6, num_attention_heads=8, num_key_value_heads=4,
                  max_position_embeddings=2048, tie_word_embeddings=True, rope_theta=1e6),
    "smollm2": dict(model_type="llama", vocab_size=49152, hidden_size=576, intermediate_size=1536,
                    num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                    max_position_embeddings=8192, tie_word_embeddings=True, rope_theta=1e5,
                    rms_norm_eps=1e-5),
}


def make_models(out, only):
    import torch
    import transformers
    out.mkdir(parents=True, exist_ok=True)
    for name, cfg in SHAPES.items():
        if only and name not in only:
            continue
        kw = dict(cfg)
        config = transformers.AutoConfig.for_model(kw.pop("model_type"), **kw)
        torch.manual_seed(0)
        model = transformers.AutoModelForCausalLM.from_config(config)
        model.save_pretrained(out / name, safe_serialization=True)
        n = sum(p.numel() for p in model.parameters())
        print(f"{name}: {n / 1e6:.2f}M parameters -> {out / name}", flush=True)


def resident_bytes():
    """The process's resident set now (Linux /proc/self/statm), as treerpo measures it."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def torch_worker(args):
    """One PyTorch run: a warm-up step, then `steps` timed steps; prints one JSON object."""
    import torch
    import transformers
    torch.set_num_threads(args.threads)
    before = resident_bytes()  # after the imports, before the model: as treerpo's figure
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    model.eval()  # no dropout; gradients still flow
    vocab = model.config.vocab_size
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    g = torch.Generator().manual_seed(42)
    ids = torch.randint(0, vocab, (args.batch, args.tokens), generator=g)
    adv = (torch.rand(args.batch, generator=g) * 2 - 1)[:, None]
    old = -math.log(vocab)

    def step():
        logits = model(input_ids=ids).logits[:, :-1]
        logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
        ratio = torch.exp(logp - old)
        loss = -torch.minimum(ratio * adv, ratio.clamp(0.8, 1.2) * adv).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    n = sum(p.numel() for p in model.parameters())
    print(json.dumps(dict(
        tokensPerSecond=args.batch * args.tokens / statistics.median(times), stepSeconds=times,
        peakResidentBytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, residentBeforeModelBytes=before,
        parameters=n, attention=model.config._attn_implementation, torch=torch.__version__)))


def run_json(cmd, env):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench(args):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads))
    names = [n for n in SHAPES if (not args.only or n in args.only) and (args.models / n).is_dir()]
    if not names:
        sys.exit(f"no model folders under {args.models}; make them with --make-models {args.models}")
    rows = []
    for name in names:
        folder = str(args.models / name)
        common = ["--batch", str(args.batch), "--tokens", str(args.tokens), "--steps", str(args.steps),
                  "--threads", str(args.threads)]
        ours_cmd = [args.treerpo, "bench", "train", "--model", folder, "--layout", args.layout, "--json"] + common
        torch_cmd = [sys.executable, __file__, "--worker", "--model", folder] + common
        ours, theirs = [], []
        for r in range(args.rounds):
            order = [(ours, ours_cmd), (theirs, torch_cmd)]
            for sink, cmd in (order if r % 2 == 0 else order[::-1]):
                sink.append(run_json(cmd, env))
                print(f"  {name} round {r + 1}: {'treerpo' if sink is ours else 'torch'} "
                      f"{sink[-1]['tokensPerSecond']:.0f} tok/s, peak {sink[-1]['peakResidentBytes'] / 2**20:.0f} MiB",
                      file=sys.stderr, flush=True)
        o = statistics.median(x["tokensPerSecond"] for x in ours)
        t = statistics.median(x["tokensPerSecond"] for x in theirs)
        acc = ours[0]["accountedBytes"]
        rows.append(dict(model=name, parameters=ours[0]["parameters"], treerpo=o, torch=t, ratio=o / t,
                         ours_peak=max(x["peakResidentBytes"] for x in ours), accounted=sum(acc.values()),
                         activations=acc["activations"],
                         torch_peak=max(x["peakResidentBytes"] for x in theirs),
                         ours_before=min(x.get("residentBeforeModelBytes", 0) for x in ours),
                         torch_before=min(x["residentBeforeModelBytes"] for x in theirs),
                         phases=ours[len(ours) // 2]["phaseSeconds"], attention=theirs[0]["attention"]))
    print(f"\ntrain step, batch {args.batch} x {args.tokens}, {args.threads} thread(s), layout {args.layout}, "
          f"median of {args.rounds} alternating runs x {args.steps} steps")
    print("memory: peak = peak resident set; before = resident set before the model is loaded (runtime, libraries);"
          " accounted = params + grads + AdamW moments + our activation buffers")
    head = ("model", "params", "treerpo tok/s", "torch tok/s", "ratio", "ours peak MiB", "ours before MiB",
            "accounted MiB", "peak/accounted", "(peak-before)/accounted", "torch peak MiB", "torch before MiB",
            "torch (peak-before)/accounted")
    print(" | ".join(head))
    mib = lambda b: f"{b / 2**20:.0f}"
    for r in rows:
        print(" | ".join([r["model"], f"{r['parameters'] / 1e6:.2f}M", f"{r['treerpo']:.0f}", f"{r['torch']:.0f}",
                          f"{r['ratio']:.2f}x", mib(r["ours_peak"]), mib(r["ours_before"]), mib(r["accounted"]),
                          f"{r['ours_peak'] / r['accounted']:.2f}",
                          f"{(r['ours_peak'] - r['ours_before']) / r['accounted']:.2f}",
                          mib(r["torch_peak"]), mib(r["torch_before"]),
                          f"{(r['torch_peak'] - r['torch_before']) / r['accounted']:.2f}"]))
    for r in rows:
        p = r["phases"]
        print(f"{r['model']}: treerpo step phases (s): " + ", ".join(f"{k} {p[k]:.3f}" for k in ("forward", "loss", "backward", "adamw"))
              + f"; torch attention: {r['attention']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--make-models", type=Path, help="write the random HF model folders here and exit")
    ap.add_argument("--models", type=Path, help="folder holding tiny/, small/, smollm2/")
    ap.add_argument("--only", type=lambda s: s.split(","), help="comma-separated subset of tiny,small,smollm2")
    ap.add_argument("--treerpo", default=".build-bench/release/treerpo")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--layout", default="sequences", choices=["sequences", "packed"])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return torch_worker(args)
    if args.make_models:
        return make_models(args.make_models, args.only)
    if not args.models:
        ap.error("give --models DIR (or --make-models DIR first)")
    bench(args)


if __name__ == "__main__":
    main()
