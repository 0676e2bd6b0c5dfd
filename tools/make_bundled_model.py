#!/usr/bin/env python3
"""Builds the bundled pretrained math model `models/arith-qwen2-1m/` and its test references.

Run (from the repository root; about 20 minutes on one CPU thread):

    .venv-tools/bin/python tools/make_bundled_model.py --treerpo .build-release/release/treerpo

Stages, each cached in --work (default $TMPDIR/treerpo-bundled-work) so a rerun resumes:
  1. corpus     `treerpo data arithmetic` (the built-in task at its default difficulty) writes
                the training problems (--train-seed) and the held-out problems (--eval-seed);
                held-out questions that also occur in the training corpus are dropped.
  2. tokenizer  byte-level BPE trained with Hugging Face `tokenizers` on the training texts:
                NFC, Qwen2 split pattern (one digit per pre-token, so numbers are spelled digit
                by digit), ByteLevel, all 256 byte symbols, EOS `<|endoftext|>`.
  3. train      Qwen2ForCausalLM from a small config (see CONFIG), AdamW, warmup + cosine,
                loss on the answer tokens and EOS only, one problem seen once; fixed seed,
                --threads torch threads (default 1). A checkpoint every --checkpoint-every
                steps (written to a temporary name and renamed); a rerun resumes from it.
  4. export     torch.onnx.export with its defaults (dynamo exporter, optimised) except
                dynamic batch/sequence axes and inline weights (external_data=False),
                inputs input_ids + attention_mask, output logits, no past key values.
                Beside it: config.json, tokenizer.json, tokenizer_config.json, generation_config.json.
  5. reference  onnxruntime logits of the exported file on two prompts and its greedy loop on
                three held-out prompts (Fixtures/bundled/reference.json), Hugging Face `tokenizers`
                ids of the bundled tokenizer on golden texts (Fixtures/bundled/tokenizer_golden.json):
                read by Tests/TransformerTests/BundledModelTests.swift; the first lines of both
                corpus files (Fixtures/bundled/corpus_head.json): read by
                Tests/TreeRPOTests/ArithmeticTaskTests.swift.
  6. measure    transformers `generate` on the held-out questions: pure sampling at temperature
                1.0 (top_k=0, top_p=1), --samples answers per question; Pass@1 (mean over
                samples), unbiased Pass@k, mean answer length in tokens, and where wrong answers
                go wrong (an arithmetic slip inside a step, a misread operand, only the last line).
  7. MODEL.md   how it was made, config, sizes, training time and loss, the measured figures.

Everything is deterministic by seed on one thread (corpus, tokenizer, initial weights, batch
order, sampling). Training time and the ONNX bytes may differ between machines and versions.
"""
import argparse
import contextlib
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import machine_paths  # tools/machine_paths.py

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
NAME = "arith-qwen2-1m"
EOS = "<|endoftext|>"
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                 r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# PromptTemplate.arithmetic in Sources/TreeRPO/PromptTemplate.swift.
PROMPT = "Question: {question}\nAnswer:\n"

# Qwen2 shape at about 1M parameters: 4 heads of 32, 2 KV heads (grouped-query attention as in
# Qwen2.5), SwiGLU 384. Embeddings tied, as in Qwen2.5-0.5B/1.5B: the bundled model then carries
# the shared-initializer case that the small Qwen2.5 models bring, and the 512 x 128 table is
# not paid twice.
# The BPE trainer's target; the templated corpus runs out of pairs seen twice a little below
# it, and the model's vocabulary is the tokenizer's actual size (no unused embedding rows).
VOCAB_SIZE = 512
CONFIG = dict(
    hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4,
    num_key_value_heads=2, max_position_embeddings=512, rope_theta=10000.0, rms_norm_eps=1e-6,
    hidden_act="silu", tie_word_embeddings=True, attention_dropout=0.0, initializer_range=0.02,
    use_sliding_window=False,
)


def log(msg):
    print(msg, flush=True)


def atomic_write_text(path, text):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def rel(path):
    """`path` relative to the repository when inside it (for messages)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------
# 1. corpus
# --------------------------------------------------------------------------

def run_treerpo(args, seed, count, out):
    if out.exists():
        return
    cmd = [str(args.treerpo), "data", "arithmetic", "--seed", str(seed), "--count", str(count), "--out", str(out)]
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def corpus(args, work):
    train_path = work / f"train-seed{args.train_seed}-n{args.train_count}.jsonl"
    eval_path = work / f"eval-seed{args.eval_seed}-n{args.eval_pool}.jsonl"
    run_treerpo(args, args.train_seed, args.train_count, train_path)
    run_treerpo(args, args.eval_seed, args.eval_pool, eval_path)
    train = read_jsonl(train_path)
    seen = {p["question"] for p in train}
    pool = read_jsonl(eval_path)
    held_out = [p for p in pool if p["question"] not in seen]
    dropped = len(pool) - len(held_out)
    held_out = held_out[:args.eval_questions]
    if len(held_out) < args.eval_questions:
        sys.exit(f"only {len(held_out)} held-out questions after removing overlap; raise --eval-pool")
    return train, held_out, dict(train_file=train_path.name, eval_file=eval_path.name, eval_overlap_dropped=dropped)


def full_text(p):
    return PROMPT.format(question=p["question"]) + p["answer"]


# --------------------------------------------------------------------------
# 2. tokenizer
# --------------------------------------------------------------------------

def train_tokenizer(train, work):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    path = work / "tokenizer.json"
    if path.exists():
        return Tokenizer.from_file(str(path))
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, min_frequency=2,
                                  special_tokens=[AddedToken(EOS, special=True, normalized=False)],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    # 20k problems carry every template word many times over; more only slows training.
    tok.train_from_iterator((full_text(p) for p in train[:20000]), trainer=trainer)
    tmp = work / "tokenizer.json.tmp"
    tok.save(str(tmp))
    os.replace(tmp, path)
    return Tokenizer.from_file(str(path))


def encode_problem(tok, p, eos_id):
    """(ids, number of prompt tokens): the prompt and the answer are encoded apart so that the
    boundary is exactly the prompt's end, as at generation time."""
    prompt = tok.encode(PROMPT.format(question=p["question"]), add_special_tokens=False).ids
    answer = tok.encode(p["answer"], add_special_tokens=False).ids
    return prompt + answer + [eos_id], len(prompt)


# --------------------------------------------------------------------------
# 3. train
# --------------------------------------------------------------------------

def build_model(eos_id, vocab_size):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    config = Qwen2Config(vocab_size=vocab_size, bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id, **CONFIG)
    model = Qwen2ForCausalLM(config)
    model.to(torch.float32)
    return model


def lr_at(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.train_steps - args.warmup)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def make_batch(encoded, indices, pad_id):
    import torch
    rows = [encoded[i] for i in indices]
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for r, (ids, n_prompt) in enumerate(rows):
        input_ids[r, :len(ids)] = torch.tensor(ids)
        mask[r, :len(ids)] = 1
        labels[r, n_prompt:len(ids)] = torch.tensor(ids[n_prompt:])  # answer + EOS
    return input_ids, mask, labels


def greedy_accuracy(model, tok, problems, eos_id):
    """Quick progress signal while training: greedy answers on a few held-out questions."""
    import torch
    correct = 0
    model.eval()
    with torch.no_grad():
        for p in problems:
            ids = torch.tensor([tok.encode(PROMPT.format(question=p["question"]), add_special_tokens=False).ids])
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=80, do_sample=False,
                                 eos_token_id=eos_id, pad_token_id=eos_id)
            text = tok.decode(out[0, ids.shape[1]:].tolist(), skip_special_tokens=True)
            correct += is_correct(text, p["final"])
    model.train()
    return correct / len(problems)


def train_model(args, work, tok, train, held_out):
    import torch
    torch.set_num_threads(args.threads)
    eos_id = tok.token_to_id(EOS)
    final_dir = work / "hf"
    if (final_dir / "model.safetensors").exists():
        from transformers import Qwen2ForCausalLM
        return Qwen2ForCausalLM.from_pretrained(str(final_dir)), json.loads((work / "train_log.json").read_text())
    need = args.train_steps * args.batch_size
    if len(train) < need:
        sys.exit(f"{args.train_steps} steps x batch {args.batch_size} need {need} problems, corpus has {len(train)}; raise --train-count")
    encoded = [encode_problem(tok, p, eos_id) for p in train[:need]]
    torch.manual_seed(args.seed)
    model = build_model(eos_id, tok.get_vocab_size())
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([dict(params=decay, weight_decay=args.weight_decay), dict(params=no_decay, weight_decay=0.0)],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    order = torch.randperm(need, generator=torch.Generator().manual_seed(args.seed)).tolist()
    ckpt = work / "checkpoint.pt"
    history, start, elapsed = [], 0, 0.0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start, history, elapsed = state["step"], state["history"], state["elapsed"]
        log(f"resumed at step {start} ({elapsed:.0f} s trained)")
    probe = held_out[:args.probe_questions]
    t0 = time.time() - elapsed
    window, window_tokens = [], 0
    for step in range(start, args.train_steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        input_ids, mask, labels = make_batch(encoded, order[step * args.batch_size:(step + 1) * args.batch_size], eos_id)
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels, use_cache=False).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        window.append(loss.item())
        window_tokens += int((labels != -100).sum())
        done = step + 1
        if done % args.log_every == 0 or done == args.train_steps:
            entry = dict(step=done, loss=sum(window) / len(window), seconds=round(time.time() - t0, 1),
                         lr=lr_at(step, args), answer_tokens=window_tokens)
            if done % args.checkpoint_every == 0 or done == args.train_steps:
                entry["greedy_probe"] = greedy_accuracy(model, tok, probe, eos_id)
            history.append(entry)
            log(json.dumps(entry))
            window, window_tokens = [], 0
        if done % args.checkpoint_every == 0 and done < args.train_steps:
            tmp = work / "checkpoint.pt.tmp"
            torch.save(dict(model=model.state_dict(), optimizer=opt.state_dict(), step=done, history=history,
                            elapsed=time.time() - t0), tmp)
            os.replace(tmp, ckpt)
    seconds = time.time() - t0
    model.eval()
    tmp_dir = work / "hf.tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    model.save_pretrained(str(tmp_dir))
    shutil.rmtree(final_dir, ignore_errors=True)
    os.replace(tmp_dir, final_dir)
    train_log = dict(history=history, seconds=round(seconds, 1), steps=args.train_steps, batch_size=args.batch_size,
                     problems=need, threads=args.threads)
    atomic_write_text(work / "train_log.json", json.dumps(train_log, indent=1))
    return model, train_log


# --------------------------------------------------------------------------
# 4. export
# --------------------------------------------------------------------------

def export(args, model, tok, out):
    import torch
    out.mkdir(parents=True, exist_ok=True)
    eos_id = tok.token_to_id(EOS)
    onnx_path = out / "model.onnx"
    example = tok.encode(PROMPT.format(question="Mia has 3 apples. She finds 4 more apples. How many apples does Mia have now?"),
                         add_special_tokens=False).ids
    ids = torch.tensor([example, example])
    mask = torch.ones_like(ids)
    batch = torch.export.Dim("batch_size")
    seq = torch.export.Dim("sequence_length", max=CONFIG["max_position_embeddings"])
    model.config.use_cache = False  # logits only: no present key/value outputs
    tmp = out / ".model.onnx.tmp"
    buf = io.StringIO()
    with torch.no_grad(), contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        prog = torch.onnx.export(model, (), kwargs=dict(input_ids=ids, attention_mask=mask),
                                 input_names=["input_ids", "attention_mask"], output_names=["logits"],
                                 dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
                                 external_data=False)
        prog.save(str(tmp), external_data=False)
    os.replace(tmp, onnx_path)
    machine_paths.scrub_onnx(onnx_path)  # the exporter's stack traces name this machine's venv
    model.config.use_cache = True
    # config.json as save_pretrained writes it.
    tmp_dir = out / ".hf.tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    model.save_pretrained(str(tmp_dir))
    os.replace(tmp_dir / "config.json", out / "config.json")
    shutil.rmtree(tmp_dir)
    shutil.copyfile(args.work / "tokenizer.json", out / "tokenizer.json")
    atomic_write_text(out / "tokenizer_config.json", json.dumps(dict(
        tokenizer_class="PreTrainedTokenizerFast", eos_token=EOS, pad_token=EOS, bos_token=None, unk_token=None,
        add_bos_token=False, add_eos_token=False, clean_up_tokenization_spaces=False,
        model_max_length=CONFIG["max_position_embeddings"]), indent=2) + "\n")
    atomic_write_text(out / "generation_config.json", json.dumps(dict(
        bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id, do_sample=True, temperature=1.0,
        top_k=0, top_p=1.0, max_new_tokens=128), indent=2) + "\n")
    log(f"exported {rel(onnx_path)} ({onnx_path.stat().st_size} bytes)")


# --------------------------------------------------------------------------
# 5. references for the Swift tests
# --------------------------------------------------------------------------

def dumps_compact(obj):
    """indent=1 JSON with every innermost list of numbers on one line."""
    text = json.dumps(obj, indent=1, ensure_ascii=False)
    return re.sub(r"\[\s*([-0-9.eE+,\s]+?)\s*\]", lambda m: "[" + ",".join(x.strip() for x in m.group(1).split(",")) + "]", text)


def write_corpus_head(args, fixtures, corpus_info, lines=16):
    """The first lines of the training and held-out files exactly as `treerpo data arithmetic`
    wrote them: ArithmeticTaskTests checks the library's defaults still produce them."""
    head = dict(generator="tools/make_bundled_model.py", task="treerpo data arithmetic (default difficulty)")
    for part, seed, name in (("train", args.train_seed, corpus_info["train_file"]), ("eval", args.eval_seed, corpus_info["eval_file"])):
        with open(args.work / name, encoding="utf-8") as f:
            head[part] = dict(seed=seed, lines=[f.readline().rstrip("\n") for _ in range(lines)])
    atomic_write_text(fixtures / "corpus_head.json", json.dumps(head, indent=1, ensure_ascii=False) + "\n")


def references(args, model, tok, held_out, train, out, fixtures):
    import numpy as np
    import onnxruntime as ort
    import torch
    fixtures.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "model.onnx"
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    p = held_out[0]
    prompts = [
        # A held-out prompt with the first step of its solution: the next tokens are digits.
        PROMPT.format(question=p["question"]) + p["answer"].split("\n")[0][:-1],
        "Question: Ava has 7 coins.",
    ]
    cases = []
    for text in prompts:
        ids = tok.encode(text, add_special_tokens=False).ids
        x = np.array([ids], dtype=np.int64)
        logits = sess.run(["logits"], {"input_ids": x, "attention_mask": np.ones_like(x)})[0][0]
        with torch.no_grad():
            ref = model(input_ids=torch.tensor(x), attention_mask=torch.ones_like(torch.tensor(x)), use_cache=False).logits[0].numpy()
        cases.append(dict(text=text, input_ids=ids, torch_max_abs_diff=float(np.abs(ref - logits).max()),
                          logits_onnxruntime=[[float(f"{v:.6g}") for v in row] for row in logits.tolist()]))
    # onnxruntime's own greedy loop (the whole sequence re-run each step, no cache) on held-out
    # prompts, to EOS or 64 tokens; margin = top-1 minus top-2 logit at each step, so a failing
    # comparison can tell a near-tie from a real difference.
    greedy = []
    for q in held_out[1:4]:
        ids = tok.encode(PROMPT.format(question=q["question"]), add_special_tokens=False).ids
        seq, margins = list(ids), []
        eos_id = tok.token_to_id(EOS)
        for _ in range(64):
            x = np.array([seq], dtype=np.int64)
            last = sess.run(["logits"], {"input_ids": x, "attention_mask": np.ones_like(x)})[0][0, -1]
            top = np.argsort(-last)[:2]
            margins.append(float(last[top[0]] - last[top[1]]))
            seq.append(int(top[0]))
            if top[0] == eos_id:
                break
        new_ids = seq[len(ids):]
        greedy.append(dict(prompt=ids, greedy_tokens=new_ids, margins=[round(m, 4) for m in margins],
                           text=tok.decode(new_ids, skip_special_tokens=True), reference_answer=q["answer"]))
    reference = dict(
        generator="tools/make_bundled_model.py", model=f"models/{NAME}/model.onnx", model_sha256=sha256(onnx_path),
        onnxruntime=ort.__version__, torch=torch.__version__, cases=cases, greedy=greedy)
    atomic_write_text(fixtures / "reference.json", dumps_compact(reference) + "\n")

    texts = [full_text(q) + EOS for q in train[:8]] + [full_text(q) for q in held_out[:8]] + [
        PROMPT.format(question=q["question"]) for q in held_out[8:16]] + [
        "", " ", "\n", "Step 1: 20 * 5 = 100", "The answer is 12345678.", "The answer is -3.5.",
        "  two  spaces\tand a tab\r\nand CRLF", "Question: Mia has 3 apples.<|endoftext|>Question:",
        "Café naïve Ångström A\u030angstro\u0308m", "日本語 and emoji 😀👍🏽", "<|endoftext|><|endoftext|>",
        "What is 1/3 + 0.25?", "STEP 2: 7 - 9 = -2", "it's they've I'M",
    ]
    from tokenizers import Tokenizer
    hf = Tokenizer.from_file(str(out / "tokenizer.json"))  # the library reading the committed file
    import tokenizers
    golden = dict(generator="tools/make_bundled_model.py", tokenizer=f"models/{NAME}/tokenizer.json",
                  library=f"tokenizers {tokenizers.__version__}", vocab_size=hf.get_vocab_size(with_added_tokens=True),
                  eos_id=hf.token_to_id(EOS), cases=[])
    for t in texts:
        ids = hf.encode(t, add_special_tokens=False).ids
        golden["cases"].append(dict(text=t, ids=ids, ids_with_special=hf.encode(t).ids,
                                    decoded=hf.decode(ids, skip_special_tokens=False),
                                    decoded_skip_special=hf.decode(ids, skip_special_tokens=True)))
    with open(fixtures / ".tokenizer_golden.json.tmp", "w", encoding="utf-8") as f:
        head = {k: v for k, v in golden.items() if k != "cases"}
        f.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in golden["cases"]))
        f.write("\n]}\n")
    os.replace(fixtures / ".tokenizer_golden.json.tmp", fixtures / "tokenizer_golden.json")
    log(f"wrote {rel(fixtures)}/reference.json (max |torch - onnxruntime| "
        f"{max(c['torch_max_abs_diff'] for c in cases):.2e}) and tokenizer_golden.json ({len(texts)} texts)")


# --------------------------------------------------------------------------
# 6. measure
# --------------------------------------------------------------------------

ANSWER_RE = re.compile(r"The answer is\s*(-?[0-9][0-9,]*(?:\.[0-9]+)?(?:/[0-9]+)?)")
STEP_RE = re.compile(r"^Step (\d+): (-?\d+) ([-+*/]) (-?\d+) = (-?\d+)$")


def extract(text):
    """The number of the last "The answer is x" (commas as thousands separators), or None."""
    found = ANSWER_RE.findall(text)
    if not found:
        return None
    try:
        return Fraction(found[-1].replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


def is_correct(text, final):
    got = extract(text)
    return got is not None and got == Fraction(final)


def diagnose(text, question):
    """Where a wrong answer goes wrong: 'slip' (a step's result is not its operands' result),
    'operand' (a step reads a number that is neither the previous result nor the question's
    next number), 'format' (a line that is not a step or the final sentence, or no final line),
    else 'final' (steps all right, last line wrong or the chain too short/long)."""
    numbers = [int(n) for n in re.findall(r"\d+", question)]
    lines = text.strip().split("\n")
    current = numbers[0] if numbers else None
    for k, line in enumerate(lines[:-1]):
        m = STEP_RE.match(line)
        if not m or int(m.group(1)) != k + 1:
            return "format"
        a, op, b, c = int(m.group(2)), m.group(3), int(m.group(4)), int(m.group(5))
        if a != current or k + 1 >= len(numbers) or b != numbers[k + 1]:
            return "operand"
        exact = {"+": Fraction(a + b), "-": Fraction(a - b), "*": Fraction(a * b), "/": Fraction(a, b) if b else None}[op]
        if exact is None or Fraction(c) != exact:
            return "slip"
        current = c
    if not lines or not lines[-1].startswith("The answer is"):
        return "format"
    return "final"


def pass_at_k(n, c, k):
    """Unbiased estimator (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def measure(args, model, tok, held_out):
    import torch
    torch.set_num_threads(args.threads)
    eos_id = tok.token_to_id(EOS)
    model.eval()
    torch.manual_seed(args.sample_seed)
    per_question, lengths, truncated, kinds, examples = [], [], 0, {}, []
    t0 = time.time()
    chunk = max(1, args.generate_batch // args.samples)
    for start in range(0, len(held_out), chunk):
        group = held_out[start:start + chunk]
        prompts = [tok.encode(PROMPT.format(question=p["question"]), add_special_tokens=False).ids for p in group]
        width = max(len(x) for x in prompts)
        # Left padding so every row's prompt ends at the same column.
        ids = torch.tensor([[eos_id] * (width - len(x)) + x for x in prompts])
        mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in prompts])
        with torch.no_grad():
            out = model.generate(ids, attention_mask=mask, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                                 num_return_sequences=args.samples, max_new_tokens=args.max_new_tokens,
                                 eos_token_id=eos_id, pad_token_id=eos_id)
        gen = out[:, width:].tolist()
        for qi, p in enumerate(group):
            correct = 0
            for s in range(args.samples):
                row = gen[qi * args.samples + s]
                n = row.index(eos_id) if eos_id in row else len(row)
                truncated += eos_id not in row
                lengths.append(n)
                text = tok.decode(row[:n], skip_special_tokens=True)
                ok = is_correct(text, p["final"])
                correct += ok
                if not ok:
                    kind = diagnose(text, p["question"])
                    kinds[kind] = kinds.get(kind, 0) + 1
                    if len(examples) < 3 and kind == "slip":
                        examples.append(dict(question=p["question"], reference=p["answer"], sampled=text))
            per_question.append(correct)
    n = args.samples
    samples = n * len(held_out)
    result = dict(
        questions=len(held_out), samples_per_question=n, temperature=1.0, top_k=0, top_p=1.0,
        max_new_tokens=args.max_new_tokens, sample_seed=args.sample_seed,
        pass_at_1=sum(per_question) / samples,
        pass_at_k={str(k): sum(pass_at_k(n, c, k) for c in per_question) / len(held_out) for k in (1, 2, 4, 8) if k <= n},
        mean_answer_tokens=sum(lengths) / len(lengths), truncated=truncated,
        wrong=samples - sum(per_question), wrong_by_kind=kinds, slip_examples=examples,
        seconds=round(time.time() - t0, 1))
    return result


# --------------------------------------------------------------------------
# 7. MODEL.md
# --------------------------------------------------------------------------

def count_parameters(model):
    return sum(p.numel() for p in model.parameters())  # tied embedding counted once


def write_model_md(args, out, fixtures, model, train_log, metrics, corpus_info, command):
    files = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file() and p.name != "MODEL.md"}
    hist = train_log["history"]
    first, last = hist[0], hist[-1]
    probes = [(h["step"], h["greedy_probe"]) for h in hist if "greedy_probe" in h]
    wrong = metrics["wrong"]
    kinds = metrics["wrong_by_kind"]
    def share(kind):
        return f"{kinds.get(kind, 0)} ({100 * kinds.get(kind, 0) / max(1, wrong):.0f}%)"
    ex = metrics["slip_examples"][0] if metrics["slip_examples"] else None
    cfg = json.loads((out / "config.json").read_text())
    text = f"""# {NAME}: the bundled pretrained math model

A Qwen2-architecture causal LM of {count_parameters(model):,} parameters trained from scratch on the built-in
arithmetic task (`treerpo data arithmetic`, default difficulty: 2-4 steps, numbers up to 20,
factors up to 9, intermediate results up to 400, operations `+-*/`). It writes answers in the
task's format (`Step k: a op b = c` lines, then `The answer is N.`) and is deliberately
under-trained: at temperature 1.0 it gets about {100 * metrics['pass_at_1']:.0f}% of held-out problems right per sample,
and most wrong answers go wrong inside a step. It is the starting point for `treerpo finetune`.

Made by `tools/make_bundled_model.py` (deterministic by seed on one thread):

    {command}

## Files

| file | bytes | what |
|---|---|---|
""" + "".join(f"| `{k}` | {v:,} | {FILE_ROLES.get(k, '')} |\n" for k, v in files.items()) + f"""
The ONNX graph is `torch.onnx.export` at its defaults (dynamo exporter, optimised; torch
{__import__('torch').__version__}) with dynamic `batch_size` / `sequence_length` axes and inline weights
(`external_data=False`): inputs `input_ids`, `attention_mask` (int64), output `logits`; no past key
values. Its onnxruntime logits on two prompts are in `Fixtures/bundled/reference.json`, and the
tokenizer's Hugging Face ids on golden texts in `Fixtures/bundled/tokenizer_golden.json`; the
Swift tests `BundledModelTests` check our import, forward and tokenizer against them.

## Model

`Qwen2ForCausalLM`, hidden {cfg['hidden_size']}, {cfg['num_hidden_layers']} layers, {cfg['num_attention_heads']} heads of {cfg['hidden_size'] // cfg['num_attention_heads']} with {cfg['num_key_value_heads']} KV heads, SwiGLU
{cfg['intermediate_size']}, RMSNorm eps {cfg['rms_norm_eps']}, RoPE theta {cfg['rope_theta'] if 'rope_theta' in cfg else cfg.get('rope_parameters', {}).get('rope_theta')}, max positions {cfg['max_position_embeddings']}, vocabulary {cfg['vocab_size']},
**tied embeddings** (as in Qwen2.5-0.5B/1.5B, so the bundled model exercises the shared
embedding / LM-head initializer that small Qwen2.5 exports bring; it also saves {cfg['vocab_size'] * cfg['hidden_size']:,}
parameters).

Tokenizer: byte-level BPE trained with Hugging Face `tokenizers` on the first 20,000 training
texts: NFC, the Qwen2 split pattern (a digit is always its own pre-token, so numbers are
written digit by digit), ByteLevel, all 256 byte symbols (any text encodes), {cfg['vocab_size']} ids in all (trainer target {VOCAB_SIZE}),
`{EOS}` = id {metrics['eos_id']} as EOS and padding; no BOS is added.

## Training

- Corpus: `treerpo data arithmetic --seed {args.train_seed} --count {args.train_count}`; the first
  {train_log['problems']:,} problems, each seen once. Text = `PromptTemplate.arithmetic`
  (`Question: {{question}}\\nAnswer:\\n`) + solution + EOS; the loss covers the solution and EOS only.
- {train_log['steps']:,} steps of {train_log['batch_size']} problems, AdamW (betas 0.9/0.95, weight decay {args.weight_decay} on
  matrices), learning rate {args.lr} with {args.warmup} warmup steps and cosine decay to 10%, gradient
  norm clipped at 1, seed {args.seed}, {train_log['threads']} torch thread(s).
- Time: {train_log['seconds']:.0f} s of wall time{(' (' + args.time_note + ')') if args.time_note else ''}. Loss (mean per answer token over {args.log_every} steps): {first['loss']:.3f} at step
  {first['step']}, {last['loss']:.3f} at step {last['step']}. Greedy accuracy on {args.probe_questions} held-out questions while
  training: {', '.join(f'{p:.0%} at {s}' for s, p in probes)}.

## Measured (base model)

Held-out: `treerpo data arithmetic --seed {args.eval_seed} --count {args.eval_pool}`, questions that also occur in
the training corpus dropped ({corpus_info['eval_overlap_dropped']} were), the first {metrics['questions']} kept. transformers
`generate` on the trained PyTorch weights (the same weights as the ONNX), pure sampling at
temperature 1.0 (top_k 0, top_p 1), {metrics['samples_per_question']} samples per question, at most {metrics['max_new_tokens']} new
tokens, torch seed {metrics['sample_seed']}. Correct = the number of the last `The answer is x` equals the
reference exactly.

| metric | value |
|---|---|
| Pass@1 (mean over samples) | {100 * metrics['pass_at_1']:.1f}% |
| Pass@8 (unbiased) | {100 * metrics['pass_at_k'].get('8', float('nan')):.1f}% |
| Pass@2 / Pass@4 | {100 * metrics['pass_at_k']['2']:.1f}% / {100 * metrics['pass_at_k']['4']:.1f}% |
| mean answer length | {metrics['mean_answer_tokens']:.1f} tokens (EOS not counted; {metrics['truncated']} of {metrics['questions'] * metrics['samples_per_question']} hit the limit) |

Where the {wrong} wrong samples go wrong (first fault along the answer): an arithmetic slip
inside a step {share('slip')}; a step reading the wrong number (not the previous result or
not the question's next number) {share('operand')}; a line that is not a step {share('format')};
steps all right but the last line or the number of steps wrong {share('final')}.
""" + (f"""
A slip, sampled:

```
{ex['sampled']}
```
(reference: `{ex['reference'].replace(chr(10), ' / ')}`)
""" if ex else "") + """
The product's own measurement is `treerpo eval`; its figures may differ slightly (its own
sampler and verifier).
"""
    atomic_write_text(out / "MODEL.md", text)
    atomic_write_text(fixtures / "measured.json", json.dumps(dict(metrics=metrics, train=train_log, corpus=corpus_info), indent=1) + "\n")


FILE_ROLES = {
    "model.onnx": "weights and graph (fp32, inline)",
    "config.json": "`Qwen2Config` as `save_pretrained` wrote it",
    "tokenizer.json": "byte-level BPE (Hugging Face `tokenizers`)",
    "tokenizer_config.json": "for `AutoTokenizer`: EOS and pad token",
    "generation_config.json": "EOS/pad ids; pure sampling at temperature 1",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--treerpo", type=Path, default=ROOT / ".build-release/release/treerpo", help="treerpo binary (for `data arithmetic`)")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "treerpo-bundled-work")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / NAME)
    ap.add_argument("--fixtures", type=Path, default=ROOT / "Fixtures" / "bundled")
    ap.add_argument("--train-seed", type=int, default=1)
    ap.add_argument("--train-count", type=int, default=200000)
    ap.add_argument("--eval-seed", type=int, default=2)
    ap.add_argument("--eval-pool", type=int, default=1000)
    ap.add_argument("--eval-questions", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0, help="torch seed: initial weights and batch order")
    ap.add_argument("--train-steps", type=int, default=800)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--checkpoint-every", type=int, default=200)
    ap.add_argument("--probe-questions", type=int, default=50)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--sample-seed", type=int, default=0)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--generate-batch", type=int, default=128)
    ap.add_argument("--time-note", default="", help="how busy the machine was while training (goes into MODEL.md)")
    ap.add_argument("--stop-after", choices=["corpus", "tokenizer", "train"], help="stop after this stage")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    command = "python tools/make_bundled_model.py --treerpo PATH/TO/treerpo" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in sorted(vars(args).items())
        if k not in ("treerpo", "work", "out", "fixtures", "stop_after", "time_note") and ap.get_default(k) != v)
    import torch
    torch.set_num_threads(args.threads)

    train, held_out, corpus_info = corpus(args, args.work)
    log(f"corpus: {len(train)} training problems, {len(held_out)} held-out ({corpus_info['eval_overlap_dropped']} overlapping dropped)")
    if args.stop_after == "corpus":
        return 0
    tok = train_tokenizer(train, args.work)
    lens = [len(encode_problem(tok, p, tok.token_to_id(EOS))[0]) for p in train[:2000]]
    log(f"tokenizer: {tok.get_vocab_size()} ids; mean text {sum(lens) / len(lens):.1f} tokens, max {max(lens)}")
    if args.stop_after == "tokenizer":
        return 0
    model, train_log = train_model(args, args.work, tok, train, held_out)
    if args.stop_after == "train":
        return 0
    export(args, model, tok, args.out)
    references(args, model, tok, held_out, train, args.out, args.fixtures)
    write_corpus_head(args, args.fixtures, corpus_info)
    metrics = measure(args, model, tok, held_out)
    metrics["eos_id"] = tok.token_to_id(EOS)
    log(json.dumps({k: v for k, v in metrics.items() if k != "slip_examples"}))
    write_model_md(args, args.out, args.fixtures, model, train_log, metrics, corpus_info, command)
    log(f"wrote {rel(args.out / 'MODEL.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
