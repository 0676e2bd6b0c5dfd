#!/usr/bin/env python3
"""GRPO vs TreeRPO from the bundled model at the same budget of sampled tokens.

Runs `treerpo finetune` for GRPO and TreeRPO with several seeds each, plus TreeRPO with each
other advantage normalisation (the ablation), every run stopping once it has sampled
--budget tokens. Each final checkpoint is then evaluated with `treerpo eval` on the built-in
task's held-out questions. Prints (and writes to OUT/results.md / results.json) a table of
held-out Pass@1, Pass@k, mean answer length, wall time and the seconds each run spent sampling
and training, and draws the curves with `treerpo report`.

Usage (after `swift build -c release`):
    python3 tools/run_experiment.py --treerpo .build/release/treerpo --out experiment \
        [--budget 80000] [--seeds 0,1] [--eval-questions 200] [--eval-samples 8]
Only the Python standard library is needed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def sh(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--treerpo", required=True, help="path of the treerpo binary")
    ap.add_argument("--model", default=None, help="ONNX model to start from (default: the first models/*/model.onnx)")
    ap.add_argument("--out", default="experiment", help="folder for the workspace and results")
    ap.add_argument("--budget", type=int, default=80_000, help="sampled tokens per run")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--ablation", default="none,tree,batch", help="other normalisations to run for TreeRPO (seed = first seed)")
    ap.add_argument("--tree", default="--depth 3 --branching 2 --step-tokens 16",
                    help="TreeRPO tree options (8 leaves per question)")
    ap.add_argument("--grpo", default="--group-size 8", help="GRPO options (same leaves per question)")
    ap.add_argument("--common", default="--prompts-per-step 8 --lr 2e-5 --max-response-tokens 128 --tau 0.1 --eval-every 10 --eval-questions 64 --eval-samples 2 --checkpoint-every 1000 --tree-dump-every 0",
                    help="options shared by every run")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=OPTIONS",
                    help="an extra TreeRPO run (seed = first seed) with these tree options instead of --tree, "
                         "e.g. 'b422=--depth 3 --branching 4,2,2 --step-tokens 16'; repeatable")
    ap.add_argument("--eval-questions", type=int, default=200)
    ap.add_argument("--eval-samples", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    model = args.model
    if model is None:
        names = sorted(d for d in os.listdir(os.path.join(root, "models")) if os.path.exists(os.path.join(root, "models", d, "model.onnx")))
        model = os.path.join(root, "models", names[0], "model.onnx")
    os.makedirs(args.out, exist_ok=True)
    ws = os.path.join(args.out, "workspace")
    threads = ["--threads", str(args.threads)] if args.threads else []
    sh([args.treerpo, "import", model, "--workspace", ws, "--replace"])

    seeds = [int(s) for s in args.seeds.split(",") if s]
    runs = []  # (name, algorithm, normalisation, seed, options)
    for seed in seeds:
        runs.append((f"grpo-s{seed}", "grpo", "group", seed, ["--algorithm", "grpo"] + args.grpo.split()))
        runs.append((f"treerpo-s{seed}", "treerpo", "group", seed, ["--algorithm", "treerpo"] + args.tree.split()))
    for norm in [n for n in args.ablation.split(",") if n]:
        runs.append((f"treerpo-{norm}-s{seeds[0]}", "treerpo", norm, seeds[0],
                     ["--algorithm", "treerpo", "--advantage-norm", norm] + args.tree.split()))

    for variant in args.variant:
        label, _, options = variant.partition("=")
        runs.append((f"treerpo-{label}-s{seeds[0]}", "treerpo", "group", seeds[0], ["--algorithm", "treerpo"] + options.split()))

    results = []
    base_eval = json.loads(sh([args.treerpo, "eval", "--workspace", ws, "--base", "--data", "arithmetic",
                               "--questions", str(args.eval_questions), "--samples", str(args.eval_samples), "--json"] + threads,
                              capture_output=True, text=True).stdout)
    for name, algorithm, norm, seed, options in runs:
        run_dir = os.path.join(ws, "runs", name)
        if os.path.exists(os.path.join(run_dir, "metrics.jsonl")) and os.path.exists(os.path.join(run_dir, "result.json")):
            results.append(json.load(open(os.path.join(run_dir, "result.json"))))
            continue
        if os.path.exists(run_dir):
            subprocess.run(["rm", "-rf", run_dir], check=True)
        start = time.time()
        sh([args.treerpo, "finetune", "--workspace", ws, "--task", "arithmetic", "--run", name, "--seed", str(seed),
            "--steps", "100000", "--max-sampled-tokens", str(args.budget)] + args.common.split() + options + threads,
           stdout=subprocess.DEVNULL)
        wall = time.time() - start
        ev = json.loads(sh([args.treerpo, "eval", "--workspace", ws, "--checkpoint", name, "--data", "arithmetic",
                            "--questions", str(args.eval_questions), "--samples", str(args.eval_samples), "--json"] + threads,
                           capture_output=True, text=True).stdout)
        metrics = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl")) if line.strip()]
        r = {
            "run": name, "algorithm": algorithm, "normalisation": norm, "seed": seed, "steps": len(metrics),
            "sampled_tokens": metrics[-1]["tokens_sampled_total"], "pass@1": ev["pass@1"], "pass@k": ev["pass@k"],
            "k": ev["k"], "maj@k": ev["maj@k"], "mean_response_tokens": ev["mean_response_tokens"], "wall_seconds": wall,
            "seconds_sampling": sum(m["seconds_sampling"] for m in metrics),
            "seconds_training": sum(m["seconds_training"] for m in metrics),
            "tokens_trained": sum(m["tokens_trained"] for m in metrics),
        }
        json.dump(r, open(os.path.join(run_dir, "result.json"), "w"), indent=1)
        results.append(r)

    lines = [f"Budget: {args.budget:,} sampled tokens per run. Held-out: {args.eval_questions} questions x {args.eval_samples} samples at temperature 1.",
             f"Base model: Pass@1 {100 * base_eval['pass@1']:.1f}%, Pass@{base_eval['k']} {100 * base_eval['pass@k']:.1f}%, "
             f"{base_eval['mean_response_tokens']:.1f} answer tokens.", "",
             "| run | steps | Pass@1 | Pass@k | answer tokens | wall s | sampling s | training s | tokens trained |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['run']} | {r['steps']} | {100 * r['pass@1']:.1f}% | {100 * r['pass@k']:.1f}% | {r['mean_response_tokens']:.1f} | "
                     f"{r['wall_seconds']:.0f} | {r['seconds_sampling']:.0f} | {r['seconds_training']:.0f} | {r['tokens_trained']:,} |")
    lines.append("")
    for algorithm in ("grpo", "treerpo"):
        group = [r for r in results if r["algorithm"] == algorithm and r["normalisation"] == "group"
                 and r["run"].rsplit("-s", 1)[0] == algorithm]
        if group:
            p1 = [100 * r["pass@1"] for r in group]
            length = [r["mean_response_tokens"] for r in group]
            spread = f" (min {min(p1):.1f}, max {max(p1):.1f})" if len(p1) > 1 else ""
            lines.append(f"- {algorithm} (group normalisation), {len(group)} seeds: mean Pass@1 {statistics.mean(p1):.1f}%{spread}, "
                         f"mean answer tokens {statistics.mean(length):.1f}")
    text = "\n".join(lines)
    print(text)
    open(os.path.join(args.out, "results.md"), "w").write(text + "\n")
    json.dump({"base": base_eval, "runs": results, "budget": args.budget}, open(os.path.join(args.out, "results.json"), "w"), indent=1)
    sh([args.treerpo, "report"] + [r["run"] for r in results] + ["--workspace", ws, "--out", os.path.join(args.out, "curves.svg"),
                                                                  "--title", f"GRPO vs TreeRPO, {args.budget:,} sampled tokens per run"])


if __name__ == "__main__":
    sys.exit(main())
