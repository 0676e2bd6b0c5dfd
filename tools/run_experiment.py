#!/usr/bin/env python3
"""TreeRPO vs GRPO from the bundled model, paired by seed at equal sampled tokens.

For each run seed s: TreeRPO runs the quickstart recipe for --steps steps; GRPO (a named preset,
plain by default) then runs with the same seed until it has sampled as many tokens as that
TreeRPO run did, so every pair compares equal budgets. Both train on the same question pool
(the default --data-seed, which no run seed changes). Each final checkpoint is evaluated
exactly as tools/quickstart.sh evaluates (the first --eval-questions held-out questions x
--eval-samples samples, sample seed 1, answers up to 128 tokens), so the TreeRPO runs of seeds
0, 1, 2 are the quickstart's main job for those seeds.

Reports, per arm, the mean and spread over seeds of Pass@1, Pass@k, maj@k and answer length, each
run's gain over the base model with its paired standard error over questions (`treerpo
compare`), and the paired difference TreeRPO - GRPO over seeds: mean, standard deviation and 95%
t interval. Writes OUT/results.md, OUT/results.json, OUT/curves.svg and OUT/runs/NAME/
{metrics.jsonl,config.json,result.json} (small enough to commit); the workspace with the
checkpoints stays in OUT/workspace (not for committing).

Usage (after `swift build -c release`):
    python3 tools/run_experiment.py --treerpo .build/release/treerpo --out docs/experiment-paired \\
        [--seeds 0,1,2,3,4] [--jobs 2] [--threads 1] [--grpo-preset grpo-plain]
Finished runs (OUT/runs/NAME/result.json) are kept, so the script can be stopped and rerun, or
rerun with more seeds. Only the Python standard library is needed.

Tree shapes side by side: each --tree-arm NAME=OPTIONS is a TreeRPO arm of its own (runs
NAME-sS); the summary pairs each with GRPO and each later one with the first. With --grpo-budget
steps GRPO runs the same --steps on the same questions (equal leaves when its group size is the
trees' leaf count) instead of the first tree arm's sampled tokens. The summary also lists, per
run, the sibling groups kept and tied at each depth and the per-line slip rate. For example (the
line-step experiment of docs/experiments.md):
    python3 tools/run_experiment.py --treerpo .build/release/treerpo --out OUT --grpo-budget steps \\
        --tree-arm "tokens16=--preset treerpo --depth 3 --branching 2 --step-tokens 16" \\
        --tree-arm "lines=--preset treerpo --depth 3 --branching 2 --step-boundary newline --step-tokens 32" ...

Another model and task (the SmolLM2 experiment of docs/experiments.md): --model takes anything
`treerpo import` does (a GGUF too), --data a JSONL training file instead of the built-in task,
--eval-data the held-out JSONL and --eval-options how to sample it, for example
    python3 tools/run_experiment.py --treerpo .build/release/treerpo --out OUT --model SmolLM2.gguf \\
        --data sums/finetune.jsonl --eval-data sums/held-out.jsonl --eval-questions 100 \\
        --eval-options "--temperature 0.7 --max-response-tokens 48" --treerpo-options "..." --common "..."
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

# Two-sided 95% Student t quantiles by degrees of freedom (1..30); beyond, the normal 1.96.
T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
       2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]

METRICS = [("pass@1", "Pass@1", 100), ("pass@k", "Pass@k", 100), ("maj@k", "maj@k", 100),
           ("mean_response_tokens", "answer tokens", 1)]

print_lock = threading.Lock()


def log(*parts):
    with print_lock:
        print(*parts, flush=True)


def sh(cmd, **kw):
    log("+", " ".join(cmd))
    return subprocess.run(cmd, check=True, **kw)


def interval(values):
    """Mean, sample std and 95% t interval half-width of a list (None when fewer than 2)."""
    m = statistics.mean(values)
    if len(values) < 2:
        return m, None, None
    sd = statistics.stdev(values)
    t = T95[len(values) - 2] if len(values) - 1 <= len(T95) else 1.96
    return m, sd, t * sd / math.sqrt(len(values))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--treerpo", required=True, help="path of the treerpo binary")
    ap.add_argument("--model", default=None, help="model to import and start from (default: the first models/*/model.onnx)")
    ap.add_argument("--data", default=None, help="JSONL training questions (default: the built-in arithmetic task)")
    ap.add_argument("--eval-data", default="arithmetic", help="held-out JSONL for the final evaluation (default: the built-in task's)")
    ap.add_argument("--eval-options", default="--max-response-tokens 128",
                    help="sampling options of the final evaluation (default: the quickstart's, temperature 1)")
    ap.add_argument("--out", default="experiment", help="folder for the results (and the workspace)")
    ap.add_argument("--seeds", default="0,1,2,3,4", help="run seeds; each gives one TreeRPO and one GRPO run")
    ap.add_argument("--arms", default=None, help="which arms to run now (default: all; the summary reads every finished run)")
    ap.add_argument("--steps", type=int, default=150, help="TreeRPO steps; GRPO gets the tokens they sampled")
    ap.add_argument("--treerpo-options", default="--preset treerpo --depth 3 --branching 2 --step-tokens 16",
                    help="TreeRPO method options (the quickstart's)")
    ap.add_argument("--tree-arm", action="append", default=[], metavar="NAME=OPTIONS",
                    help="a TreeRPO arm of its own name and method options (repeatable; replaces the one arm "
                         "'treerpo' of --treerpo-options); the first one sets GRPO's token budget")
    ap.add_argument("--grpo-budget", default="tokens", choices=["tokens", "steps"],
                    help="GRPO runs until it has sampled the first TreeRPO arm's tokens (tokens), or for --steps "
                         "steps (steps: the same questions, so equal leaves when its group size is the tree's leaves)")
    ap.add_argument("--grpo-preset", default="grpo-plain", choices=["grpo-plain", "grpo-filtered"])
    ap.add_argument("--grpo-options", default="--group-size 8", help="GRPO options besides the preset (8 leaves per question)")
    ap.add_argument("--common", default="--prompts-per-step 64 --lr 1e-4 --max-response-tokens 128 --eval-every 25 "
                                        "--eval-questions 200 --eval-samples 2 --checkpoint-every 1000 --tree-dump-every 0",
                    help="options shared by both arms (the quickstart's)")
    ap.add_argument("--eval-questions", type=int, default=500)
    ap.add_argument("--eval-samples", type=int, default=4)
    ap.add_argument("--threads", type=int, default=None, help="threads per run")
    ap.add_argument("--jobs", type=int, default=1, help="seeds run side by side")
    ap.add_argument("--pairing", default=None,
                    help="how each seed's pair was matched, for the summary (when OUT holds runs gathered from elsewhere; "
                         "default: from --grpo-budget)")
    args = ap.parse_args()
    # Tree arms always run --steps, so two of them pair at the same steps unless --pairing says
    # otherwise (runs gathered from elsewhere, or arms given their own --max-sampled-tokens).
    args.tree_pairing = args.pairing or "the same steps and questions"
    if args.pairing is None:
        args.pairing = "equal sampled tokens" if args.grpo_budget == "tokens" else "the same steps and questions"

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    model = args.model
    if model is None:
        names = sorted(d for d in os.listdir(os.path.join(root, "models")) if os.path.exists(os.path.join(root, "models", d, "model.onnx")))
        model = os.path.join(root, "models", names[0], "model.onnx")
    os.makedirs(os.path.join(args.out, "runs"), exist_ok=True)
    ws = os.path.join(args.out, "workspace")
    threads = ["--threads", str(args.threads)] if args.threads else []
    if not os.path.exists(os.path.join(ws, "base")):
        sh([args.treerpo, "import", model, "--workspace", ws, "--replace"], stdout=subprocess.DEVNULL)

    def evaluate(tag, which):
        path = os.path.join(args.out, f"eval-{tag}.json")
        if not os.path.exists(path):
            out = sh([args.treerpo, "eval", "--workspace", ws, "--data", args.eval_data, "--questions", str(args.eval_questions),
                      "--samples", str(args.eval_samples), "--seed", "1", "--json"] + args.eval_options.split() + which + threads,
                     capture_output=True, text=True).stdout
            with open(path + ".tmp", "w") as f:
                f.write(out)
            os.replace(path + ".tmp", path)
        return path

    base_path = evaluate("base", ["--base"])
    base = json.load(open(base_path))

    def run_one(name, seed, options, budget):
        kept = os.path.join(args.out, "runs", name)
        if os.path.exists(os.path.join(kept, "result.json")):
            return json.load(open(os.path.join(kept, "result.json")))
        run_dir = os.path.join(ws, "runs", name)
        if os.path.exists(run_dir):
            shutil.rmtree(run_dir)
        limit = ["--steps", "100000", "--max-sampled-tokens", str(budget)] if budget else ["--steps", str(args.steps)]
        start = time.time()
        data = ["--data", args.data] if args.data else ["--task", "arithmetic"]
        sh([args.treerpo, "finetune", "--workspace", ws] + data + ["--run", name, "--seed", str(seed), "--json"]
           + limit + args.common.split() + options + threads, stdout=subprocess.DEVNULL)
        wall = time.time() - start
        after_path = evaluate(name, ["--checkpoint", name])
        comparison = json.loads(sh([args.treerpo, "compare", base_path, after_path, "--json"], capture_output=True, text=True).stdout)
        ev = comparison["after"]
        metrics = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl")) if line.strip()]
        config = json.load(open(os.path.join(run_dir, "config.json")))
        r = {
            "run": name, "arm": name.rsplit("-s", 1)[0], "seed": seed, "steps": len(metrics),
            "sampled_tokens": metrics[-1]["tokens_sampled_total"], "tokens_trained": sum(m["tokens_trained"] for m in metrics),
            "tokens_packed": sum(m.get("tokens_packed", 0) for m in metrics),
            "pass@1": ev["pass@1"], "pass@1_stderr": ev.get("pass@1_stderr"), "pass@k": ev["pass@k"], "k": ev["k"],
            "maj@k": ev["maj@k"], "mean_response_tokens": ev["mean_response_tokens"], "answered": ev.get("answered"),
            "gain": comparison["pass1Change"], "gain_stderr": comparison["pass1ChangeStandardError"],
            "wall_seconds": wall, "seconds_sampling": sum(m["seconds_sampling"] for m in metrics),
            "seconds_training": sum(m["seconds_training"] for m in metrics),
            "curve": [(m["step"] + 1, m["tokens_sampled_total"], m["eval"]["pass@1"]) for m in metrics if m.get("eval")],
        }
        os.makedirs(kept, exist_ok=True)
        shutil.copy(os.path.join(run_dir, "metrics.jsonl"), kept)
        shutil.copy(os.path.join(run_dir, "config.json"), kept)
        json.dump(r, open(os.path.join(kept, "result.json"), "w"), indent=1)
        return r

    tree_arms = tree_arm_options(args)
    arms = [a for a in args.arms.split(",") if a] if args.arms else list(tree_arms) + ["grpo"]
    unknown = [a for a in arms if a not in tree_arms and a != "grpo"]
    if unknown:
        ap.error(f"--arms names {', '.join(unknown)}, not an arm of this experiment ({', '.join(list(tree_arms) + ['grpo'])})")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    errors = []
    first_tree = next(iter(tree_arms))

    def pair(seed):
        try:
            finished = {}
            for arm, options in tree_arms.items():
                if arm in arms:
                    finished[arm] = run_one(f"{arm}-s{seed}", seed, options, None)
            if "grpo" in arms:
                budget = None
                if args.grpo_budget == "tokens":
                    tree = finished.get(first_tree)
                    if tree is None:
                        done = os.path.join(args.out, "runs", f"{first_tree}-s{seed}", "result.json")
                        if not os.path.exists(done):
                            raise RuntimeError(f"GRPO seed {seed} needs the {first_tree} run of that seed first (its sampled tokens)")
                        tree = json.load(open(done))
                    budget = tree["sampled_tokens"]
                run_one(f"grpo-s{seed}", seed, ["--preset", args.grpo_preset] + args.grpo_options.split(), budget)
        except Exception as e:  # noqa: BLE001 - reported below, the other seeds go on
            errors.append(f"seed {seed}: {e}")

    pending = list(seeds)
    workers = []
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not pending:
                    return
                seed = pending.pop(0)
            pair(seed)

    for _ in range(max(1, args.jobs)):
        t = threading.Thread(target=worker)
        t.start()
        workers.append(t)
    for t in workers:
        t.join()
    for e in errors:
        log("error:", e)
    summarise(args, base)
    return 1 if errors else 0


def paired_over_questions(evals):
    """Pass@1 difference A - B in points over the questions, from (eval A, eval B) file pairs of
    several seeds scored on the same questions: each question's difference averaged over the
    seeds, then the mean and standard error over the questions. Returns (mean, stderr, questions)."""
    per_seed = []
    for x, y in evals:
        a, b = json.load(open(x)), json.load(open(y))
        ca, cb = a.get("correct_per_question"), b.get("correct_per_question")
        if ca is None or cb is None or len(ca) != len(cb) or a["k"] != b["k"]:
            raise ValueError(f"{x} and {y} were not scored on the same questions and samples")
        per_seed.append([(u - v) / a["k"] for u, v in zip(ca, cb)])
    per_question = [100 * sum(d) / len(d) for d in zip(*per_seed)]
    return statistics.mean(per_question), statistics.stdev(per_question) / math.sqrt(len(per_question)), len(per_question)


def tree_arm_options(args):
    """The TreeRPO arms, name -> method options, in the order given (the first sets GRPO's budget)."""
    if not args.tree_arm:
        return {"treerpo": args.treerpo_options.split()}
    arms = {}
    for spec in args.tree_arm:
        name, _, options = spec.partition("=")
        if not name or not options or name == "grpo" or "-s" in name or name in arms:
            sys.exit(f"--tree-arm {spec!r}: expected NAME=OPTIONS with a new name, not 'grpo' and without '-s'")
        arms[name] = options.split()
    return arms


def summarise(args, base):
    runs_dir = os.path.join(args.out, "runs")
    results = []
    for name in sorted(os.listdir(runs_dir)):
        path = os.path.join(runs_dir, name, "result.json")
        if os.path.exists(path):
            results.append(json.load(open(path)))
    by_arm = {}
    for r in results:
        by_arm.setdefault(r["arm"], {})[r["seed"]] = r
    method = {}
    for arm in by_arm:
        config = json.load(open(os.path.join(runs_dir, f"{arm}-s{min(by_arm[arm])}", "config.json")))
        tau, prune = config["advantages"]["tau"], config["advantages"]["pruneUniformTrees"]
        if config["algorithm"] == "grpo":
            method[arm] = "GRPO (plain)" if tau == 0 and not prune else "GRPO (filtered)" if tau == 0.1 and prune else f"GRPO (tau {tau}, prune {prune})"
        elif sum(1 for a in by_arm if a != "grpo") == 1:
            method[arm] = "TreeRPO"
        else:
            steps = "line steps" if config["stepBoundary"] == "newline" else f"{config['stepTokens']}-token steps"
            method[arm] = f"TreeRPO {arm} ({steps}, branching {','.join(map(str, config['branching']))})"
    k = base["k"]
    # Format compliance (the share of answers the verifier can read) where every run has it.
    metrics_shown = METRICS + ([("answered", "answered", 100)] if results and all(r.get("answered") is not None for r in results) else [])
    held_out = "held-out questions" if args.eval_data == "arithmetic" else f"questions of {os.path.basename(args.eval_data)}"
    lines = [f"Held-out: the first {base['questions']} {held_out} x {k} samples, eval options `{args.eval_options}` (sample seed 1). "
             f"Base model: Pass@1 {100 * base['pass@1']:.1f}% (+-{100 * base['pass@1_stderr']:.1f} sampling noise), "
             f"Pass@{k} {100 * base['pass@k']:.1f}%, maj@{k} {100 * base['maj@k']:.1f}%, {base['mean_response_tokens']:.1f} answer tokens"
             + (f", {100 * base['answered']:.1f}% answered." if "answered" in base else "."),
             "",
             f"| run | method | steps | sampled tokens | trained tokens | packed tokens | Pass@1 | gain over base (+-1 s.e.) | "
             f"Pass@{k} | maj@{k} | answer tokens | sampling s | training s | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "tokens_packed" not in r:  # results written before run_one stored it: from the kept metrics
            metrics = [json.loads(line) for line in open(os.path.join(runs_dir, r["run"], "metrics.jsonl")) if line.strip()]
            r["tokens_packed"] = sum(m.get("tokens_packed", 0) for m in metrics)
        lines.append(f"| {r['run']} | {method[r['arm']]} | {r['steps']} | {r['sampled_tokens']:,} | {r['tokens_trained']:,} | "
                     f"{r['tokens_packed']:,} | {100 * r['pass@1']:.1f}% | "
                     f"{100 * r['gain']:+.1f} +-{100 * r['gain_stderr']:.1f} | {100 * r['pass@k']:.1f}% | {100 * r['maj@k']:.1f}% | "
                     f"{r['mean_response_tokens']:.1f} | {r['seconds_sampling']:.0f} | {r['seconds_training']:.0f} | {r['wall_seconds']:.0f} |")
    lines += ["", "Per arm, over seeds (mean, standard deviation, 95% t interval of the mean):", "",
              "| arm | seeds | " + " | ".join(label for _, label, _ in metrics_shown) + " | gain over base |",
              "|---|---|" + "---|" * (len(metrics_shown) + 1)]
    summary = {}
    for arm, runs in sorted(by_arm.items()):
        cells = []
        summary[arm] = {}
        for key, _, scale in metrics_shown + [("gain", "gain", 100)]:
            m, sd, half = interval([scale * r[key] for r in runs.values()])
            summary[arm][key] = dict(mean=m, sd=sd, ci95=half)
            cells.append(f"{m:.1f}" + (f" (sd {sd:.1f}, +-{half:.1f})" if sd is not None else ""))
        lines.append(f"| {method[arm]} | {len(runs)} | " + " | ".join(cells) + " |")
    lines += tree_diagnostics(runs_dir, results)
    # Each TreeRPO arm against GRPO, and each later TreeRPO arm against the first one.
    named = tree_arm_options(args)
    tree_order = [a for a in named if a in by_arm] + sorted(a for a in by_arm if a not in named and a != "grpo")
    pairs = [(a, "grpo") for a in tree_order if "grpo" in by_arm] + [(a, tree_order[0]) for a in tree_order[1:]]
    paired = {}
    for a, b in pairs:
        common = sorted(set(by_arm[a]) & set(by_arm[b]))
        if not common:
            continue
        this = paired[f"{a} - {b}"] = {}
        pairing = args.pairing if b == "grpo" else args.tree_pairing
        lines += ["", f"Paired difference {method[a]} - {method[b]} over seeds {','.join(map(str, common))} "
                      f"({pairing} per pair; mean, standard deviation, 95% t interval):", "",
                  "| metric | mean difference | sd | 95% interval |", "|---|---|---|---|"]
        for key, label, scale in metrics_shown:
            d = [scale * (by_arm[a][s][key] - by_arm[b][s][key]) for s in common]
            m, sd, half = interval(d)
            this[key] = dict(mean=m, sd=sd, ci95=half, seeds=common, values=d)
            unit = " points" if scale == 100 else " tokens"
            lines.append(f"| {label} | {m:+.1f}{unit} | " + (f"{sd:.1f} | {m - half:+.1f} to {m + half:+.1f} |" if sd is not None else "- | - |"))
        # The interval over seeds holds the questions fixed: every run is scored on the same
        # ones, so their noise is common to all differences. Over questions instead: each
        # question's Pass@1 difference averaged over the seeds, and its standard error.
        evals = [(os.path.join(args.out, f"eval-{a}-s{s}.json"), os.path.join(args.out, f"eval-{b}-s{s}.json")) for s in common]
        if all(os.path.exists(x) and os.path.exists(y) for x, y in evals):
            m, se, n = paired_over_questions(evals)
            this["pass@1_over_questions"] = dict(mean=m, stderr=se, questions=n)
            lines += ["", f"Pass@1 difference over the {n} questions (each question's difference averaged over the "
                          f"seeds): {m:+.1f} points, standard error {se:.1f}, 95% interval {m - 1.96 * se:+.1f} to {m + 1.96 * se:+.1f}."]
    text = "\n".join(lines)
    print(text)
    open(os.path.join(args.out, "results.md"), "w").write(text + "\n")
    json.dump({"base": {k2: v for k2, v in base.items() if k2 != "correct_per_question"}, "runs": results,
               "per_arm": summary, "paired": paired, "methods": method},
              open(os.path.join(args.out, "results.json"), "w"), indent=1)
    names = [r["run"] for r in results]
    if names:
        sh([args.treerpo, "report"] + [os.path.join(runs_dir, n) for n in names] + ["--out", os.path.join(args.out, "curves.svg"),
           "--title", f"TreeRPO vs {method.get('grpo', 'GRPO')}, paired by seed at {args.pairing}"], stdout=subprocess.DEVNULL)


def tree_diagnostics(runs_dir, results):
    """Per run, summed over its steps: the share of sibling groups kept and of exact ties at each
    depth (groups of one child, as a branching of 1 makes, left out), and the per-line slip rate
    of the leaves' computation lines over the first and the last 10 steps."""
    lines = ["", "Tree diagnostics per run (summed over steps; depth 1 = the first step's siblings; groups of one child "
                 "left out; slips = wrong `Step k:` lines of the leaves / all of them):", "",
             "| run | groups per depth | kept per depth | exact ties per depth | slip rate, first 10 steps | last 10 steps |",
             "|---|---|---|---|---|---|"]
    for r in results:
        metrics = [json.loads(line) for line in open(os.path.join(runs_dir, r["run"], "metrics.jsonl")) if line.strip()]
        if not metrics or "groups_per_depth" not in metrics[0]:
            continue
        depth = max(len(m["groups_per_depth"]) for m in metrics)

        def total(key, d):
            return sum(m[key][d] for m in metrics if d < len(m.get(key, [])))
        # A level of branching 1 makes groups of one child, which sit in groups_per_depth but can
        # never be kept or tie: shown as "-".
        config = json.load(open(os.path.join(runs_dir, r["run"], "config.json")))
        branching = config["branching"] if config["algorithm"] == "treerpo" else [config["groupSize"]]
        single = [d < len(branching) and branching[d] == 1 for d in range(depth)]
        groups = [total("groups_per_depth", d) for d in range(depth)]
        kept = ["-" if single[d] else f"{100 * total('groups_kept_per_depth', d) / max(1, groups[d]):.0f}%" for d in range(depth)]
        tied = ["-" if single[d] else f"{100 * total('groups_tied_per_depth', d) / max(1, groups[d]):.0f}%" for d in range(depth)]

        def slips(part):
            lines_, wrong = sum(m.get("step_lines", 0) for m in part), sum(m.get("step_line_slips", 0) for m in part)
            return f"{100 * wrong / lines_:.1f}%" if lines_ else "-"
        lines.append(f"| {r['run']} | {' / '.join(f'{g:,}' for g in groups)} | {' / '.join(kept)} | {' / '.join(tied)} | "
                     f"{slips(metrics[:10])} | {slips(metrics[-10:])} |")
    return lines


if __name__ == "__main__":
    sys.exit(main())
