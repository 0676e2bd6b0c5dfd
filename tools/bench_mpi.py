#!/usr/bin/env python3
"""Data-parallel finetune over MPI against one process, same global batch (issue 15, docs/mpi.md).

Runs `treerpo finetune` as 1 process x 2 threads, as `mpirun -np 2` ranks x 1 thread, and as
1 process x 1 thread, in fresh processes, alternating, --rounds times each, and prints the
medians: steps per second and sampled tokens per second (from each run's metrics, the first
step left out as warm-up), rank 0's seconds per step inside exchanges (trees, loss statistics,
the gradient sum; waiting for the slower rank included) and the bytes it sent per step.

    python3 tools/bench_mpi.py --treerpo .build-mpi/release/treerpo [--rounds 3]
        [--model models/arith-qwen2-1m/model.onnx | --gguf SmolLM2-135M-Instruct.Q4_1.gguf]
        [--out results.json]

The bundled model trains on the arithmetic task (32 questions a step); a GGUF model (SmolLM2)
on the sums of tools/make_sums_data.py with its chat template (8 questions a step, 48-token
answers). The binary must be built with TREERPO_MPI=1.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_once(binary, ws, run, common, ranks, threads):
    cmd = [str(binary), "finetune", "--workspace", str(ws), "--run", run, "--threads", str(threads), "--json"] + common
    if ranks > 1:
        cmd = ["mpirun", "-np", str(ranks)] + cmd
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    start = time.monotonic()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    if p.returncode != 0:
        sys.exit(f"bench_mpi: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    steps = [json.loads(l) for l in open(ws / "runs" / run / "metrics.jsonl")][1:]
    shutil.rmtree(ws / "runs" / run)  # its final checkpoint: 1.6 GB for SmolLM2
    seconds = sum(m["seconds_sampling"] + m["seconds_training"] for m in steps)
    return {
        "wall_seconds": wall,
        "steps_per_second": len(steps) / seconds,
        "sampled_tokens_per_second": sum(m["tokens_sampled"] for m in steps) / seconds,
        "seconds_sampling_per_step": sum(m["seconds_sampling"] for m in steps) / len(steps),
        "seconds_training_per_step": sum(m["seconds_training"] for m in steps) / len(steps),
        "seconds_exchanging_per_step": sum(m.get("seconds_exchanging", 0) for m in steps) / len(steps),
        "bytes_sent_per_step": sum(m.get("exchange_bytes_sent", 0) for m in steps) / len(steps),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--treerpo", type=Path, required=True, help="treerpo built with TREERPO_MPI=1")
    ap.add_argument("--model", type=Path, default=ROOT / "models/arith-qwen2-1m/model.onnx")
    ap.add_argument("--gguf", type=Path, help="a GGUF model (SmolLM2) instead of --model, trained on sums")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, help="steps per run, the first not timed (default 6; 3 with --gguf)")
    ap.add_argument("--out", type=Path, help="write the medians and every run as JSON")
    a = ap.parse_args()
    binary = a.treerpo.resolve()
    work = Path(tempfile.mkdtemp(prefix="bench-mpi-"))
    ws = work / "ws"
    source = a.gguf or a.model
    subprocess.run([str(binary), "import", str(source), "--workspace", str(ws), "--replace"], check=True, capture_output=True)
    if a.gguf:
        subprocess.run([sys.executable, str(ROOT / "tools/make_sums_data.py"), "--out", str(work / "sums")], check=True,
                       capture_output=True)
        steps = a.steps or 3
        common = ["--data", str(work / "sums/train.jsonl"), "--preset", "treerpo", "--depth", "2", "--branching", "4,2",
                  "--step-tokens", "8", "--max-response-tokens", "48", "--temperature", "0.7", "--prompts-per-step", "8",
                  "--steps", str(steps), "--checkpoint-every", "1000"]
        task = "SmolLM2 sums, TreeRPO 4,2 tree, 8 questions a step"
    else:
        steps = a.steps or 6
        common = ["--task", "arithmetic", "--preset", "treerpo", "--prompts-per-step", "32", "--lr", "1e-4",
                  "--max-response-tokens", "128", "--steps", str(steps), "--checkpoint-every", "1000"]
        task = "bundled model, arithmetic, default tree, 32 questions a step"
    configs = [("1 process x 2 threads", 1, 2), ("2 ranks x 1 thread (mpirun)", 2, 1), ("1 process x 1 thread", 1, 1)]
    runs = {name: [] for name, _, _ in configs}
    for r in range(a.rounds):
        for i, (name, ranks, threads) in enumerate(configs):
            runs[name].append(run_once(binary, ws, f"r{r}-c{i}", common, ranks, threads))
            print(f"round {r + 1}/{a.rounds}: {name}: {runs[name][-1]['steps_per_second']:.3f} steps/s", file=sys.stderr)
    med = {name: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for name, rs in runs.items()}
    print(f"treerpo finetune over MPI: {task}; {steps - 1} timed steps a run, median of {a.rounds} alternating runs")
    print()
    print("| configuration | steps/s | sampled tokens/s | sampling s/step | training s/step | exchanging s/step | MB sent/step |")
    print("|---|---|---|---|---|---|---|")
    for name, m in med.items():
        print(f"| {name} | {m['steps_per_second']:.3f} | {m['sampled_tokens_per_second']:.0f} | {m['seconds_sampling_per_step']:.2f} | "
              f"{m['seconds_training_per_step']:.2f} | {m['seconds_exchanging_per_step']:.3f} | {m['bytes_sent_per_step'] / 1e6:.1f} |")
    one2, two, one1 = (med[n]["steps_per_second"] for n, _, _ in configs)
    print()
    print(f"2 ranks x 1 thread / 1 process x 2 threads: {two / one2:.2f}x (goal: at least 0.9)")
    print(f"2 ranks x 1 thread / 1 process x 1 thread: {two / one1:.2f}x (2.0 would be perfect scaling)")
    shutil.rmtree(work)
    if a.out:
        a.out.write_text(json.dumps({"task": task, "steps": steps, "rounds": a.rounds, "median": med, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
