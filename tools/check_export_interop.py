#!/usr/bin/env python3
"""Interop check of ``treerpo export``: the real clients load what our binary wrote.

For each model (an ``.onnx`` file; its ``config.json`` beside it when there is one) this script
drives the built ``treerpo`` binary and then the reference libraries:

1. ``treerpo import MODEL --workspace W``;
2. a trained checkpoint in ``W/runs/interop/checkpoints/``: for the bundled model(s) a real
   ``treerpo finetune`` run of ``FINETUNE_STEPS`` steps (the checkpoint the trainer itself
   writes, checked to differ from the base weights); for the fixtures, whose vocabularies have
   no task, the imported weights moved by seeded noise, every tensor its own stream, so
   parameters that the exporter merged into one initializer (equal norms) now differ and must
   be split;
3. ``treerpo export --workspace W`` (every second model with a small ``--max-shard-size`` so
   that transformers reads a sharded folder through its index);
4. ``treerpo export-logits``: our forward's logits for the checkpoint, two seeded token
   sequences;
5. ``onnx.checker.check_model`` on the exported ``model.onnx`` (by path, so external data is
   followed); onnxruntime runs it (with-past graphs get empty past tensors
   ``[1, kv_heads, 0, head_dim]``; merged decoders ``use_cache_branch = False``);
6. transformers ``AutoModelForCausalLM.from_pretrained`` on the exported HF folder (float32; no
   missing, unexpected or mis-shaped weights); ``AutoTokenizer`` too when the export has a
   tokenizer, checked against ``tokenizers`` on a sample;

and requires |client logit - our logit| <= 1e-4 x max |our logits| for every logit of both
clients, through ``tools/numeric_compare.py`` (a NaN or infinite logit on either side fails). An
fp16 graph computes in fp16, so its onnxruntime logits get the fixture script's fp16 tolerance
(0.02 x max(1, max |logit|)); its HF folder is float32 and gets 1e-4 like the rest.

Usage (the venv from ``bash tools/setup-python.sh tools``; CI runs this from ``.ci/run``)::

    .venv-tools/bin/python tools/check_export_interop.py --treerpo .build/release/treerpo
    .venv-tools/bin/python tools/check_export_interop.py --treerpo BIN path/to/model.onnx ...

Without model arguments it checks ``MODELS`` below: every ONNX fixture of
``Fixtures/models`` (made by ``tools/make_onnx_fixtures.py``) plus the bundled model(s).
Exit status 1 when any check fails; the table printed says which and by how much.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from numeric_compare import compare

ROOT = Path(__file__).resolve().parent.parent

# The models checked by default. Adding one is one line.
MODELS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "Fixtures/models").glob("*/model.onnx"))
MODELS += sorted(str(p.relative_to(ROOT)) for p in (ROOT / "models").glob("*/model.onnx"))  # bundled

FP32_TOLERANCE = 1e-4   # x max |logit|
FP16_TOLERANCE = 2e-2   # x max(1, max |logit|): the fixture script's tolerance for fp16 graphs
SEED = 20250607
# The bundled model gets a real fine-tuning run: a few small steps, enough to move every weight.
FINETUNE_STEPS = 2


def run(cmd, **kw):
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def write_checkpoint(ws: Path, seed: int):
    """The imported weights plus seeded noise, as checkpoint runs/interop/step-00000001."""
    import numpy as np
    from safetensors.numpy import load_file, save_file
    base = load_file(str(ws / "base" / "model.safetensors"))
    trained = {}
    for k, name in enumerate(sorted(base)):
        w = base[name].astype(np.float32)
        rng = np.random.default_rng([seed, k])
        scale = max(float(np.abs(w).max()), 0.1)
        trained[name] = (w + 0.05 * scale * rng.uniform(-1, 1, size=w.shape)).astype(np.float32)
    folder = ws / "runs" / "interop" / "checkpoints" / "step-00000001"
    folder.mkdir(parents=True)
    save_file(trained, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "trainer.json").write_text(json.dumps({"step": 1, "configDigest": "interop-check"}))
    return sum(v.nbytes for v in trained.values())


def finetune_checkpoint(treerpo: Path, ws: Path):
    """A short real ``treerpo finetune`` run ``interop``; returns (step, config digest) of its
    last checkpoint after checking that it differs from the imported weights."""
    import numpy as np
    from safetensors.numpy import load_file
    run([treerpo, "finetune", "--workspace", ws, "--task", "arithmetic", "--run", "interop", "--depth", "2",
         "--branching", "2", "--step-tokens", "12", "--max-response-tokens", "48", "--prompts-per-step", "2",
         "--steps", FINETUNE_STEPS, "--lr", "5e-4", "--checkpoint-every", FINETUNE_STEPS, "--tree-dump-every", "0",
         "--seed", "3", "--threads", "1"])
    checkpoints = sorted((ws / "runs" / "interop" / "checkpoints").glob("step-*"))
    if not checkpoints:
        raise RuntimeError(f"{ws}/runs/interop/checkpoints: finetune wrote no checkpoint")
    state = json.loads((checkpoints[-1] / "trainer.json").read_text())
    base = load_file(str(ws / "base" / "model.safetensors"))
    trained = load_file(str(checkpoints[-1] / "model.safetensors"))
    if sorted(base) != sorted(trained):
        raise RuntimeError(f"{checkpoints[-1]}: tensor names differ from the base model's")
    if all(np.array_equal(base[k], trained[k]) for k in base):
        raise RuntimeError(f"{checkpoints[-1]}: finetune changed no weight")
    return state["step"], state["configDigest"]


def ort_logits(path: Path, ids, config):
    import numpy as np
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    heads = config.get("num_key_value_heads") or config.get("num_attention_heads") or config.get("n_head")
    hidden = config.get("hidden_size") or config.get("n_embd")
    head_dim = config.get("head_dim") or hidden // (config.get("num_attention_heads") or config.get("n_head"))
    feed = {}
    for i in session.get_inputs():
        n = len(ids)
        if i.name == "input_ids":
            feed[i.name] = np.array([ids], dtype=np.int64)
        elif i.name == "attention_mask":
            feed[i.name] = np.ones((1, n), dtype=np.int64)
        elif i.name == "position_ids":
            feed[i.name] = np.arange(n, dtype=np.int64)[None]
        elif i.name.startswith("past_key_values") or i.name.startswith("past."):
            dtype = np.float16 if "float16" in i.type else np.float32
            feed[i.name] = np.zeros((1, heads, 0, head_dim), dtype=dtype)
        elif i.name == "use_cache_branch":
            feed[i.name] = np.array([False])
        else:
            raise KeyError(f"{path}: unexpected ONNX input {i.name} {i.type} {i.shape}")
    names = [o.name for o in session.get_outputs()]
    out = dict(zip(names, session.run(None, feed)))
    return out["logits"][0].astype(np.float64), session.get_outputs()[names.index("logits")].type


def hf_logits(folder: Path, sequences):
    import torch
    from transformers import AutoModelForCausalLM
    model, info = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, output_loading_info=True)
    problems = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")}
    if problems:
        raise RuntimeError(f"{folder}: transformers loading reported {problems}")
    model.eval()
    with torch.no_grad():
        return [model(input_ids=torch.tensor([ids])).logits[0].double().numpy() for ids in sequences]


def check_tokenizer(folder: Path):
    """AutoTokenizer loads the exported folder and encodes like the tokenizer.json it holds."""
    if not (folder / "tokenizer.json").exists():
        return "none in the workspace"
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer
    sample = "Tree search: 12 + 30 = 42. \u00e9t\u00e9 \U0001F600"
    ours = AutoTokenizer.from_pretrained(str(folder))
    reference = Tokenizer.from_file(str(folder / "tokenizer.json"))
    got, want = ours(sample, add_special_tokens=False)["input_ids"], reference.encode(sample, add_special_tokens=False).ids
    if got != want:
        raise RuntimeError(f"{folder}: AutoTokenizer gives {got}, tokenizer.json gives {want}")
    return "loads, encodes equal"


def check_model(model: Path, treerpo: Path, work: Path, index: int):
    import numpy as np
    import onnx
    name = model.parent.name if model.name == "model.onnx" else model.stem
    ws = work / name
    run([treerpo, "import", model, "--workspace", ws])
    config = json.loads((ws / "base" / "config.json").read_text())
    finetuned = model.is_relative_to(ROOT / "models")
    if finetuned:
        step, digest = finetune_checkpoint(treerpo, ws)
    else:
        write_checkpoint(ws, SEED + index)
        step, digest = 1, "interop-check"
    total = sum(p.stat().st_size for p in (ws / "base").glob("*.safetensors"))
    export = [treerpo, "export", "--workspace", ws]
    sharded = index % 2 == 1
    if sharded:
        export += ["--max-shard-size", str(total // 3 + 1)]
    run(export)
    onnx_path, hf = ws / "export" / "onnx" / "model.onnx", ws / "export" / "hf"
    provenance = (ws / "export" / "EXPORT.md").read_text()
    if f"run `interop`, checkpoint step {step}" not in provenance or f"`{digest}`" not in provenance:
        raise RuntimeError(f"{ws}/export/EXPORT.md does not name the checkpoint and its config digest")
    if sharded and not (hf / "model.safetensors.index.json").exists():
        raise RuntimeError(f"{hf}: expected a sharded export with model.safetensors.index.json")

    vocab = config["vocab_size"]
    limit = min(config.get("max_position_embeddings") or config.get("n_positions") or 64, 64)
    rng = np.random.default_rng(SEED + index)
    sequences = [rng.integers(0, vocab, size=n).tolist() for n in (min(9, limit), min(4, limit))]
    ours = json.loads(run([treerpo, "export-logits", "--workspace", ws, "--threads", "1",
                           "--tokens", ";".join(",".join(map(str, s)) for s in sequences)]))
    if "interop" not in ours["weights"]:
        raise RuntimeError(f"export-logits did not take the interop checkpoint: {ours['weights']}")
    ours = np.concatenate([np.array(s, dtype=np.float64).ravel() for s in ours["logits"]])

    onnx.checker.check_model(str(onnx_path))
    ort_runs = [ort_logits(onnx_path, ids, config) for ids in sequences]
    ort_got = np.concatenate([got.ravel() for got, _ in ort_runs])
    half = any("float16" in kind for _, kind in ort_runs)
    ort = (compare(ort_got, ours, of_largest=FP16_TOLERANCE, scale_floor=1.0, what="onnxruntime fp16 vs ours") if half
           else compare(ort_got, ours, of_largest=FP32_TOLERANCE, what="onnxruntime vs ours"))
    hf_got = np.concatenate([got.ravel() for got in hf_logits(hf, sequences)])
    hf_cmp = compare(hf_got, ours, of_largest=FP32_TOLERANCE, what="transformers vs ours")
    tokenizer = check_tokenizer(hf)
    return dict(model=str(model), ok=ort.ok and hf_cmp.ok, ort=ort, hf=hf_cmp, sharded=sharded, half=half,
                tokenizer=tokenizer, finetuned=finetuned)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="ONNX files to check (default: MODELS)")
    parser.add_argument("--treerpo", default=str(ROOT / ".build/release/treerpo"), help="the built treerpo binary")
    parser.add_argument("--work", help="working folder (default: a temporary one, removed at the end)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import torch
    import transformers
    torch.set_num_threads(1)
    transformers.utils.logging.disable_progress_bar()

    treerpo = Path(args.treerpo).resolve()
    if not treerpo.exists():
        sys.exit(f"{treerpo}: no treerpo binary; build it first (swift build -c release) or pass --treerpo")
    models = [Path(m) if os.path.isabs(m) else ROOT / m for m in (args.models or MODELS)]
    if not models:
        sys.exit("no models to check")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="treerpo-interop-"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.time()
    failures = 0
    print(f"{'model':60} {'onnxruntime max |diff|':>24} {'transformers max |diff|':>24}  notes")
    try:
        for index, model in enumerate(models):
            try:
                r = check_model(model, treerpo, work, index)
            except Exception as error:  # one model's failure must not hide the others'
                failures += 1
                print(f"{str(model.relative_to(ROOT) if model.is_relative_to(ROOT) else model):60} FAILED: {error}")
                continue
            failures += 0 if r["ok"] else 1
            notes = ", ".join(n for n in ["finetuned checkpoint" if r["finetuned"] else "noise checkpoint",
                                          "sharded hf" if r["sharded"] else "", "fp16 graph" if r["half"] else "",
                                          f"tokenizer {r['tokenizer']}"] if n)
            shown = str(model.relative_to(ROOT)) if model.is_relative_to(ROOT) else str(model)
            print(f"{shown:60} {r['ort'].largest_error:24.3e} {r['hf'].largest_error:24.3e}  "
                  f"{'ok' if r['ok'] else 'FAIL'}; {notes}")
            for failed in (c for c in (r["ort"], r["hf"]) if not c.ok):
                print(f"    {failed}")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{len(models) - failures}/{len(models)} exports load in onnxruntime and transformers with our logits "
          f"(onnx.checker passed on each that got that far); {time.time() - start:.1f} s")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
