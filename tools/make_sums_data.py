#!/usr/bin/env python3
"""Sums small enough for SmolLM2-135M-Instruct to score above zero, split into disjoint training
and held-out sets (the real-model experiment of docs/experiments.md, "SmolLM2").

Every question is "What is a + b? End your reply with "The answer is" and the number." for a, b in
1..--max-number (each ordered pair once). A seeded shuffle (--seed) puts --held-out pairs in
held-out.jsonl and the rest in train.jsonl; finetune.jsonl is train.jsonl followed by
held-out.jsonl, for `treerpo finetune --data finetune.jsonl --eval-every N --eval-questions
<--held-out>`, which holds the last --eval-questions lines out of training and evaluates them
every N steps (without --eval-every those lines would be trained on: use train.jsonl then).
Each line has "question", "answer" ("The answer is N.") and "final" (N), the fields `treerpo
finetune --data` and `treerpo eval --data` read.

    python3 tools/make_sums_data.py --out DIR [--max-number 20] [--held-out 100] [--seed 0]
"""
import argparse
import json
import random
from pathlib import Path

INSTRUCTION = 'End your reply with "The answer is" and the number.'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="folder for train.jsonl, held-out.jsonl and finetune.jsonl")
    ap.add_argument("--max-number", type=int, default=20, help="largest addend (default 20)")
    ap.add_argument("--held-out", type=int, default=100, help="pairs kept for evaluation (default 100)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    a = ap.parse_args()
    pairs = [(x, y) for x in range(1, a.max_number + 1) for y in range(1, a.max_number + 1)]
    if not 0 < a.held_out < len(pairs):
        ap.error(f"--held-out {a.held_out} must be between 1 and {len(pairs) - 1} (there are {len(pairs)} pairs)")
    random.Random(a.seed).shuffle(pairs)
    a.out.mkdir(parents=True, exist_ok=True)
    held_out, train = pairs[:a.held_out], pairs[a.held_out:]
    for name, part in (("held-out.jsonl", held_out), ("train.jsonl", train), ("finetune.jsonl", train + held_out)):
        tmp = a.out / (name + ".tmp")
        with open(tmp, "w") as f:
            for x, y in part:
                f.write(json.dumps({"question": f"What is {x} + {y}? {INSTRUCTION}",
                                    "answer": f"The answer is {x + y}.", "final": x + y}) + "\n")
        tmp.rename(a.out / name)
        print(f"{a.out / name}: {len(part)} questions")


if __name__ == "__main__":
    main()
