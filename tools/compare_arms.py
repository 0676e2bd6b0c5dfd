#!/usr/bin/env python3
"""Arms of tools/run_experiment.py folders side by side, each paired with a reference arm.

A learning-rate sweep (or any other one-setting change) runs each setting as an arm of its own,
often in folders of their own; this puts them in one table. Every arm is named LABEL=DIR:ARM (the
runs DIR/runs/ARM-sS/result.json and evaluations DIR/eval-ARM-sS.json that run_experiment.py
wrote); the first is the reference. Per arm: Pass@1 of each seed, the mean with its standard
deviation and 95% t interval, Pass@k and maj@k means, sampled tokens and steps. Per later arm,
against the reference on the seeds both have: the paired Pass@1 difference over seeds (t
interval) and over questions (each question's difference averaged over those seeds; its standard
error over the questions), as run_experiment.py pairs its arms.

Usage:
    python3 tools/compare_arms.py "lr 1e-4=OUT:treerpo" "lr 5e-5=OUT:lr5e-5" "lr 2e-4=OUT:lr2e-4" \\
        [--title TEXT] [--markdown FILE] [--json FILE]
Only the Python standard library is needed.
"""
import argparse
import json
import os
import sys

from run_experiment import interval, paired_over_questions


def load_arm(spec):
    label, _, where = spec.partition("=")
    folder, _, arm = where.rpartition(":")
    if not label or not folder or not arm:
        sys.exit(f"compare_arms: {spec!r}: expected LABEL=DIR:ARM")
    runs = {}
    runs_dir = os.path.join(folder, "runs")
    for name in sorted(os.listdir(runs_dir)) if os.path.isdir(runs_dir) else []:
        stem, _, seed = name.rpartition("-s")
        path = os.path.join(runs_dir, name, "result.json")
        if stem == arm and seed.isdigit() and os.path.exists(path):
            runs[int(seed)] = dict(json.load(open(path)), eval_path=os.path.join(folder, f"eval-{name}.json"))
    if not runs:
        sys.exit(f"compare_arms: {spec!r}: no finished runs {arm}-sS in {runs_dir}")
    return label, runs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("arms", nargs="+", metavar="LABEL=DIR:ARM", help="the reference arm first")
    ap.add_argument("--title", default=None, help="a heading line for the table")
    ap.add_argument("--markdown", default=None, help="also write the tables to this file")
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    args = ap.parse_args()
    arms = [load_arm(spec) for spec in args.arms]
    ref_label, ref = arms[0]

    lines = [args.title, ""] if args.title else []
    lines += ["| arm | seeds | Pass@1 per seed | Pass@1 mean (sd, 95% t) | Pass@k | maj@k | steps | sampled tokens (mean) |",
              "|---|---|---|---|---|---|---|---|"]
    numbers = {"reference": ref_label, "arms": {}}
    for label, runs in arms:
        seeds = sorted(runs)
        p1 = [100 * runs[s]["pass@1"] for s in seeds]
        m, sd, half = interval(p1)
        numbers["arms"][label] = dict(seeds=seeds, pass1=p1, mean=m, sd=sd, ci95=half)
        spread = f" (sd {sd:.1f}, +-{half:.1f})" if sd is not None else ""
        k = runs[seeds[0]]["k"]
        lines.append(f"| {label} | {','.join(map(str, seeds))} | {' / '.join(f'{v:.1f}' for v in p1)} | {m:.1f}%{spread} | "
                     f"{sum(100 * runs[s]['pass@k'] for s in seeds) / len(seeds):.1f}% (k={k}) | "
                     f"{sum(100 * runs[s]['maj@k'] for s in seeds) / len(seeds):.1f}% | "
                     f"{' / '.join(sorted({str(runs[s]['steps']) for s in seeds}))} | "
                     f"{sum(runs[s]['sampled_tokens'] for s in seeds) / len(seeds):,.0f} |")
    lines += ["", f"Paired with {ref_label} on the seeds both have (Pass@1 points; over seeds: t interval; "
                  "over questions: each question's difference averaged over the seeds):", "",
              "| arm - reference | seeds | per seed | mean | over seeds, 95% | over questions, s.e. | over questions, 95% |",
              "|---|---|---|---|---|---|---|"]
    for label, runs in arms[1:]:
        common = sorted(set(runs) & set(ref))
        if not common:
            lines.append(f"| {label} - {ref_label} | none | - | - | - | - | - |")
            continue
        d = [100 * (runs[s]["pass@1"] - ref[s]["pass@1"]) for s in common]
        m, sd, half = interval(d)
        over_seeds = f"{m - half:+.1f} to {m + half:+.1f}" if half is not None else "-"
        evals = [(runs[s]["eval_path"], ref[s]["eval_path"]) for s in common]
        row = dict(seeds=common, per_seed=d, mean=m, ci95_over_seeds=half)
        if all(os.path.exists(a) and os.path.exists(b) for a, b in evals):
            qm, se, n = paired_over_questions(evals)
            row.update(over_questions=qm, over_questions_stderr=se, questions=n)
            over_questions = (f"{qm:+.1f} +-{se:.1f}", f"{qm - 1.96 * se:+.1f} to {qm + 1.96 * se:+.1f}")
        else:
            over_questions = ("-", "-")
        numbers["arms"][label]["against_reference"] = row
        lines.append(f"| {label} - {ref_label} | {','.join(map(str, common))} | {' / '.join(f'{v:+.1f}' for v in d)} | "
                     f"{m:+.1f} | {over_seeds} | {over_questions[0]} | {over_questions[1]} |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(args.markdown + ".tmp", args.markdown)
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump(numbers, f, indent=1)
        os.replace(args.json + ".tmp", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
