#!/usr/bin/env python3
"""Build the committed ONNX test fixtures under ``Fixtures/models/``.

What it builds
--------------
Tiny causal LMs with *random* weights, built from a config with
``transformers`` (no model hub involved), for four families:

* ``llama``  -- LlamaForCausalLM, SmolLM2-like: RMSNorm, RoPE, GQA
  (4 heads / 2 KV heads), SwiGLU MLP, no biases, tie_word_embeddings=True.
* ``qwen2``  -- Qwen2ForCausalLM: q/k/v biases, GQA, untied lm_head,
  rope_theta=1e6, rms_norm_eps=1e-6.
* ``gpt2``   -- GPT2LMHeadModel (LayerNorm with bias, fused c_attn Conv1D,
  learned position embeddings, tied lm_head).
* ``qwen3``  -- Qwen3ForCausalLM: Qwen2-like but no q/k/v biases
  (attention_bias=False) and a per-head RMSNorm on queries and keys
  (``self_attn.q_norm.weight`` / ``self_attn.k_norm.weight``, shape
  ``[head_dim]``, applied to each head's vector after q_proj/k_proj and
  before RoPE); head_dim=16 is independent of hidden/heads (hidden 32,
  4 heads, 2 KV heads: q_proj is [64, 32], k_proj/v_proj [32, 32], o_proj
  [32, 64]), untied lm_head, rope_theta=1e6, rms_norm_eps=1e-6.

Every 1-D parameter (norm weights/biases, linear biases) is randomised with
distinct values, and every parameter tensor is checked to be unique, so an
importer cannot match a tensor to the wrong HF name by accident.  The extra
family ``llama_equalnorms`` deliberately makes two RMSNorm weights identical
to exercise exporters that merge equal initializers.

Each model is exported with these exporter styles (directory
``Fixtures/models/<family>-<style>/``):

* ``legacy-folded``      torch.onnx.export(dynamo=False, do_constant_folding=True)
                         -> Linear weights become anonymous ``onnx::MatMul_NNN``
                         initializers pre-transposed to ``[in, out]``; tied
                         embeddings are duplicated (Gather table + MatMul copy).
* ``legacy-unfolded``    same with do_constant_folding=False -> weights keep
                         their HF names ``[out, in]`` and are fed through an
                         explicit ``Transpose`` node.
* ``dynamo-optimized``   torch.onnx.export(dynamo=True) (optimize=True) ->
                         ``val_NN`` initializers ``[in, out]`` plus HF-named
                         ones; nodes carry ``pkg.torch.onnx.name_scopes`` /
                         ``namespace`` metadata.
* ``dynamo-unoptimized`` dynamo=True, optimize=False -> HF-named ``[out, in]``
                         weights with Transpose nodes, lots of small ops.
* ``optimum``            optimum-onnx ``main_export(task="text-generation")``
* ``optimum-with-past``  ``task="text-generation-with-past"``
                         (past_key_values.N.key/value inputs, present.N.* outputs;
                         reference.json also holds one KV-cached decode step).
* ``external-data``      the legacy-folded model re-saved with all tensors in
                         ``model.onnx.data`` (size_threshold=0).
* ``legacy-folded-fp16`` (qwen2 only) model.half() exported with the legacy
                         exporter; fp16 weights and fp16 logits.

Plus ``<family>-hf/`` with just the HF folder (config.json, model.safetensors)
and the PyTorch reference logits (``reference.json``) and a KV-cached greedy
decode (``decode.json``: for each prompt, 16 greedy tokens and the logits of
every step, computed by transformers with its own cache, batch 1), and ``MANIFEST.json`` listing every
fixture, its style, file sizes and every skipped combination with its reason.

Each ``reference.json`` holds the fixed input ids (batch 2 x 8 tokens,
all-ones attention mask), onnxruntime and PyTorch logits ``[batch, seq,
vocab]`` (float32 rounded to 7 significant digits), their max abs
difference, extra cases (batch 1 x 5 tokens; a left-padded batch), the
exporter name and library versions, and an automatic analysis of the graph
layout: every initializer mapped back to the HF parameter it holds (exact,
transposed, or not found), merged/duplicated tensors, how Linear weights
reach their MatMul/Gemm, node metadata keys, opsets, op histogram.

Regenerate everything (deterministic, seeded)::

    .venv-tools/bin/python tools/make_onnx_fixtures.py

Options: ``--only NAME`` (substring match on fixture directory name,
repeatable; e.g. ``--only qwen3`` builds just the qwen3 fixtures and keeps the
MANIFEST entries of the others), ``--out DIR``, ``--skip-dynamo``, ``--skip-optimum``,
``--decode-only`` (rewrite only ``<family>-hf/decode.json`` from the
committed HF folders and ``<family>-optimum-with-past/ort_decode.json``, onnxruntime's own
greedy loop on the with-past export, leaving every weight file untouched).

The optimum part runs in a separate venv (optimum-onnx pins an older
transformers); this script re-invokes itself there in ``--optimum-worker``
mode.  Paths are overridable:

    TREERPO_PYTHON          main venv python (default: sys.executable)
    TREERPO_OPTIMUM_PYTHON  optimum venv python (default .venv-optimum/bin/python)

If the optimum python is missing, the optimum fixtures are skipped with a
message and the skip is recorded in MANIFEST.json.

Set up the venvs with ``bash tools/setup-python.sh`` (pinned versions; ``.venv-tools`` and
``.venv-optimum`` in the repository), or by hand (CPU-only torch; never an unpinned torch)::

    python3 -m venv .venv-tools
    .venv-tools/bin/pip install "torch==2.13.0+cpu" transformers onnx onnxruntime onnxscript safetensors
    python3 -m venv .venv-optimum
    .venv-optimum/bin/pip install "torch==2.13.0+cpu" "optimum-onnx[onnxruntime]"
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import machine_paths  # tools/machine_paths.py

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "Fixtures" / "models"
# tools/setup-python.sh makes .venv-optimum in the repository.
OPTIMUM_PYTHON = os.environ.get("TREERPO_OPTIMUM_PYTHON", str(REPO / ".venv-optimum/bin/python"))

TOL = 1e-4          # fp32 ORT vs PyTorch
TOL_FP16 = 2e-2     # fp16 ORT vs fp16 PyTorch

VOCAB = 128
MAX_POS = 64

# --------------------------------------------------------------------------
# Families
# --------------------------------------------------------------------------

FAMILIES = {
    "llama": dict(
        cls="LlamaForCausalLM", seed=1001,
        config=dict(model_type="llama", vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
                    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                    max_position_embeddings=MAX_POS, rms_norm_eps=1e-5, rope_theta=10000.0,
                    hidden_act="silu", tie_word_embeddings=True, attention_bias=False,
                    mlp_bias=False, bos_token_id=1, eos_token_id=2)),
    "qwen2": dict(
        cls="Qwen2ForCausalLM", seed=1002,
        config=dict(model_type="qwen2", vocab_size=VOCAB, hidden_size=64, intermediate_size=96,
                    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                    max_position_embeddings=MAX_POS, rms_norm_eps=1e-6, rope_theta=1000000.0,
                    hidden_act="silu", tie_word_embeddings=False, use_sliding_window=False,
                    bos_token_id=1, eos_token_id=2)),
    "gpt2": dict(
        cls="GPT2LMHeadModel", seed=1003,
        config=dict(model_type="gpt2", vocab_size=VOCAB, n_embd=32, n_inner=96, n_layer=2,
                    n_head=4, n_positions=MAX_POS, layer_norm_epsilon=1e-5,
                    activation_function="gelu_new", tie_word_embeddings=True,
                    bos_token_id=1, eos_token_id=2)),
    # same as llama, but layers.0.input_layernorm.weight == layers.1.post_attention_layernorm.weight
    "llama_equalnorms": dict(
        cls="LlamaForCausalLM", seed=1004, base="llama",
        equal_params=("model.layers.0.input_layernorm.weight",
                      "model.layers.1.post_attention_layernorm.weight")),
    # head_dim 16 != hidden/heads (8): q_proj [64, 32], k/v_proj [32, 32], o_proj [32, 64];
    # q_norm/k_norm [16] per layer (randomised like every other norm weight).
    "qwen3": dict(
        cls="Qwen3ForCausalLM", seed=1005,
        config=dict(model_type="qwen3", vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
                    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                    max_position_embeddings=MAX_POS, rms_norm_eps=1e-6, rope_theta=1000000.0,
                    hidden_act="silu", tie_word_embeddings=False, attention_bias=False,
                    use_sliding_window=False, bos_token_id=1, eos_token_id=2)),
}
for _f in FAMILIES.values():
    if "base" in _f:
        _f["config"] = FAMILIES[_f["base"]]["config"]

STYLES = ["legacy-folded", "legacy-unfolded", "dynamo-optimized", "dynamo-unoptimized",
          "optimum", "optimum-with-past", "external-data"]
# (family, style) combinations built; everything else is listed as "not built" in the manifest.
PLAN = [(fam, st) for fam in ("llama", "qwen2", "gpt2", "qwen3") for st in STYLES]
PLAN += [("qwen2", "legacy-folded-fp16"),
         ("llama_equalnorms", "legacy-folded"), ("llama_equalnorms", "legacy-unfolded"),
         ("llama_equalnorms", "dynamo-optimized"), ("llama_equalnorms", "optimum")]


def log(*a):
    print(*a, flush=True)


def round7(x):
    """float32 array -> nested lists of floats with 7 significant digits."""
    a = np.asarray(x, dtype=np.float64)
    flat = [float(f"{v:.7g}") for v in a.reshape(-1)]
    return np.array(flat, dtype=object).reshape(a.shape).tolist() if a.ndim else flat[0]


def versions(include_optimum=False):
    import onnx
    import onnxruntime
    import torch
    import transformers
    v = dict(python=sys.version.split()[0], torch=torch.__version__,
             transformers=transformers.__version__, onnx=onnx.__version__,
             onnxruntime=onnxruntime.__version__, numpy=np.__version__)
    with contextlib.suppress(Exception):
        import onnxscript
        v["onnxscript"] = onnxscript.__version__
    if include_optimum:
        from importlib.metadata import version
        for pkg in ("optimum", "optimum-onnx"):
            with contextlib.suppress(Exception):
                v[pkg] = version(pkg)
    return v


def reference_inputs():
    rng = np.random.default_rng(20240607)
    ids = rng.integers(3, VOCAB, size=(2, 8), dtype=np.int64)
    short = rng.integers(3, VOCAB, size=(1, 5), dtype=np.int64)
    padded = rng.integers(3, VOCAB, size=(2, 6), dtype=np.int64)
    pmask = np.ones_like(padded)
    padded[1, :2] = 0          # left padding (pad id 0) on row 1
    pmask[1, :2] = 0
    decode_next = rng.integers(3, VOCAB, size=(2, 1), dtype=np.int64)
    return dict(main=(ids, np.ones_like(ids)), short=(short, np.ones_like(short)),
                padded=(padded, pmask), decode_next=decode_next)


def position_ids_for(mask):
    pos = np.cumsum(mask, axis=-1) - 1
    pos[mask == 0] = 1
    return pos.astype(np.int64)


# --------------------------------------------------------------------------
# Building the HF model (runs in either venv)
# --------------------------------------------------------------------------

def build_model(family):
    import torch
    import transformers
    spec = FAMILIES[family]
    cfg_kwargs = dict(spec["config"])
    model_type = cfg_kwargs.pop("model_type")
    cfg = transformers.AutoConfig.for_model(model_type, **cfg_kwargs)
    torch.manual_seed(spec["seed"])
    model = getattr(transformers, spec["cls"])(cfg).eval()
    gen = torch.Generator().manual_seed(spec["seed"])
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if p.ndim == 1:
                if "norm" in name or name.split(".")[-2].startswith("ln_") or ".ln_f." in name:
                    base = 1.0 if name.endswith("weight") else 0.0
                    p.copy_(base + 0.25 * torch.randn(p.shape, generator=gen))
                else:   # linear biases
                    p.copy_(0.2 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p.shape[-1] if not family.startswith("gpt2") else p.shape[0]
                std = 0.5 if ("embed" in name or name.startswith("transformer.w")) else 1.0 / fan_in ** 0.5
                p.copy_(std * torch.randn(p.shape, generator=gen))
        eq = spec.get("equal_params")
        if eq:
            params = dict(model.named_parameters())
            params[eq[1]].copy_(params[eq[0]])
    check_unique(model, allowed=[tuple(eq)] if eq else [])
    return model


def check_unique(model, allowed=()):
    seen = {}
    allowed = {frozenset(a) for a in allowed}
    for name, p in model.named_parameters():
        key = hashlib.sha1(p.detach().float().numpy().tobytes()).hexdigest()
        if key in seen and frozenset((seen[key], name)) not in allowed:
            raise AssertionError(f"parameters {seen[key]} and {name} are equal")
        seen[key] = name


def save_hf_folder(model, family, dest):
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest, safe_serialization=True)
    for extra in ("generation_config.json",):
        with contextlib.suppress(FileNotFoundError):
            (dest / extra).unlink()
    patch_config(dest / "config.json", family)


def patch_config(path, family):
    """transformers 5 writes rope_parameters only; add the classic top-level
    rope_theta (what hub checkpoints contain and what transformers 4.x reads)."""
    cfg = json.loads(path.read_text())
    rt = FAMILIES[family]["config"].get("rope_theta")
    if rt is not None:
        cfg["rope_theta"] = rt
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def torch_logits(model, ids, mask, position_ids=None):
    import torch
    with torch.no_grad():
        kw = dict(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                  use_cache=False)
        if position_ids is not None:
            kw["position_ids"] = torch.from_numpy(position_ids)
        return model(**kw).logits.float().numpy()


def hf_state(model):
    """HF parameters as float32 numpy, tied aliases (lm_head tied to the
    embedding) dropped: {name: array}, {alias: target}."""
    out, seen, aliases = {}, {}, {}
    for k, v in model.state_dict().items():
        if k.endswith("inv_freq") or k.endswith(".attn.bias") or k.endswith("masked_bias"):
            continue
        if v.data_ptr() in seen:
            aliases[k] = seen[v.data_ptr()]
            continue
        seen[v.data_ptr()] = k
        out[k] = v.detach().float().numpy()
    return out, aliases


DECODE_STEPS = 16


def decode_prompts():
    """Prompts of different lengths for the greedy decode reference."""
    inputs = reference_inputs()
    ids = inputs["main"][0]
    return [ids[0].tolist(), inputs["short"][0][0].tolist(), ids[1, :3].tolist()]


def greedy_decode_reference(model):
    """16-step greedy decode per prompt with transformers' KV cache (batch 1):
    logits[k] is the distribution that chose tokens[k] (k = 0 from the prefill)."""
    import torch
    cases = []
    with torch.no_grad():
        for prompt in decode_prompts():
            ids = torch.tensor([prompt])
            out = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True)
            past, logits, tokens, mask = out.past_key_values, [], [], torch.ones_like(ids)
            last = out.logits[0, -1]
            for _ in range(DECODE_STEPS):
                logits.append(last.float().numpy())
                nxt = int(torch.argmax(last))
                tokens.append(nxt)
                mask = torch.cat([mask, torch.ones((1, 1), dtype=mask.dtype)], dim=1)
                out = model(input_ids=torch.tensor([[nxt]]), attention_mask=mask, past_key_values=past, use_cache=True)
                past, last = out.past_key_values, out.logits[0, -1]
            cases.append(dict(prompt=prompt, greedy_tokens=tokens, step_logits=round7(np.stack(logits))))
    return cases


def write_decode_reference(model, family, hf_dir, vers):
    write_reference_named(hf_dir, "decode.json", dict(
        fixture=f"{family}-hf", family=family, versions=vers,
        description=f"greedy decode, {DECODE_STEPS} steps per prompt, transformers {type(model).__name__} "
                    "with use_cache=True, one prompt at a time; step_logits[k] chose greedy_tokens[k] "
                    "(step 0 is the prefill's last position)",
        cases=greedy_decode_reference(model)))


def run_decode_only(args, out):
    import torch
    import transformers
    torch.set_num_threads(2)
    vers = versions()
    for family in FAMILIES:
        hf_dir = out / f"{family}-hf"
        if not selected(args, f"{family}-hf") or not hf_dir.exists():
            continue
        model = getattr(transformers, FAMILIES[family]["cls"]).from_pretrained(hf_dir).eval()
        write_decode_reference(model, family, hf_dir, vers)
        log(f"wrote {(hf_dir / 'decode.json').relative_to(REPO)}")


# --------------------------------------------------------------------------
# Graph analysis
# --------------------------------------------------------------------------

def analyze_graph(onnx_path, state, aliases=None):
    """Describe how the exporter laid out the weights. Returns a JSON-able dict."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(str(onnx_path), load_external_data=True)
    g = m.graph
    consumers = {}
    producers = {}
    for n in g.node:
        for i, x in enumerate(n.input):
            consumers.setdefault(x, []).append((n, i))
        for x in n.output:
            producers[x] = n

    # tensors: initializers + Constant nodes
    tensors = []
    for t in g.initializer:
        ext = any(e.key == "location" for e in t.external_data) if t.data_location == 1 else False
        tensors.append(("initializer", t.name, numpy_helper.to_array(t, base_dir=str(Path(onnx_path).parent)), ext))
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    tensors.append(("constant", n.output[0], numpy_helper.to_array(a.t), False))

    # index HF params by shape for matching
    hf_by_shape = {}
    for k, v in state.items():
        hf_by_shape.setdefault(v.shape, []).append(k)
        if v.ndim == 2 and v.T.shape != v.shape:
            hf_by_shape.setdefault(v.T.shape, []).append(k)

    def match(arr):
        a = arr.astype(np.float32)
        tol = 1e-6 if arr.dtype != np.float16 else 2e-3
        hits = []
        for k in hf_by_shape.get(a.shape, []):
            ref = state[k]
            if ref.shape == a.shape and np.allclose(a, ref, atol=tol, rtol=tol if arr.dtype == np.float16 else 0):
                hits.append((k, False))
            elif ref.ndim == 2 and ref.T.shape == a.shape and np.allclose(a, ref.T, atol=tol, rtol=tol if arr.dtype == np.float16 else 0):
                hits.append((k, True))
        return hits

    def trace_use(name, depth=0):
        """How a tensor is consumed: op types, following Transpose/Cast/Identity chains."""
        out = []
        for n, idx in consumers.get(name, []):
            if n.op_type in ("Transpose", "Cast", "Identity", "Reshape") and depth < 3:
                perm = [a.ints for a in n.attribute if a.name == "perm"]
                tag = n.op_type + (f"(perm={list(perm[0])})" if perm else "")
                out += [f"{tag}->{u}" for u in trace_use(n.output[0], depth + 1)] or [tag]
            else:
                extra = ""
                if n.op_type == "Gemm":
                    tb = [a.i for a in n.attribute if a.name == "transB"]
                    extra = f"(transB={tb[0] if tb else 0})"
                out.append(f"{n.op_type}{extra}[in{idx}]")
        return out

    init_rows = []
    hf_locations = {}
    for kind, name, arr, ext in tensors:
        if arr.ndim == 0 or arr.size < 4:
            continue
        if not np.issubdtype(arr.dtype, np.floating):
            continue
        hits = match(arr)
        if not hits and kind == "constant":
            continue
        row = dict(name=name, kind=kind, shape=list(arr.shape), dtype=str(arr.dtype),
                   hf=[h[0] for h in hits], transposed=bool(hits and hits[0][1]),
                   used_by=sorted(set(trace_use(name))))
        if ext:
            row["external"] = True
        init_rows.append(row)
        for k, tr in hits:
            hf_locations.setdefault(k, []).append(dict(name=name, transposed=tr))

    missing = sorted(k for k in state if k not in hf_locations)
    # missing 2-D weights may have been folded into other tensors; note them.
    merged = [r for r in init_rows if len(r["hf"]) > 1]
    duplicated = {k: v for k, v in hf_locations.items() if len(v) > 1}

    # weight layout summary: one line per (role, naming, orientation, use) pattern
    def role_of(k):
        last = k.split(".")
        if "embed" in k or k.startswith("transformer.wte"):
            return "token embedding"
        if k.startswith("transformer.wpe"):
            return "position embedding"
        if "norm" in k or any(x.startswith("ln_") for x in last):
            return "norm " + last[-1]
        if k.startswith("lm_head"):
            return "lm_head"
        return "linear " + last[-1]

    layout = {}
    for r in init_rows:
        if not r["hf"]:
            continue
        hfname = r["hf"][0]
        nm = r["name"]
        if nm in state:
            naming = "HF name"
        elif nm in (aliases or {}):
            naming = f"HF tied-alias name {nm}"
        elif nm.startswith("onnx::"):
            naming = "anonymous onnx::<Op>_NNN"
        elif nm.startswith("val_"):
            naming = "anonymous val_NN"
        else:
            naming = f"other name (e.g. {nm})"
        hf_shape = state[hfname].shape
        if len(hf_shape) == 2:
            conv1d = hfname.startswith("transformer.h") and ".c_" in hfname
            hf_layout = "HF Conv1D [in,out]" if conv1d else ("HF [vocab,hidden]" if "embed" in role_of(hfname) else "HF [out,in]")
            t_layout = "[out,in]" if conv1d else ("[hidden,vocab]" if "embed" in role_of(hfname) else "[in,out]")
            orient = f"stored transposed ({hf_layout} -> {t_layout})" if r["transposed"] \
                else f"stored as in HF ({hf_layout})"
        else:
            orient = "1-D"
        key = f"{role_of(hfname)}: {naming}, {orient}, {r['dtype']}, used by {', '.join(r['used_by']) or 'nothing'}"
        layout[key] = layout.get(key, 0) + 1

    meta_keys = {}
    for n in g.node:
        for p in n.metadata_props:
            meta_keys[p.key] = meta_keys.get(p.key, 0) + 1
    sample_meta = None
    for n in g.node:
        if n.op_type in ("MatMul", "Gemm") and n.metadata_props:
            sample_meta = dict(node=n.name, op=n.op_type, metadata={p.key: p.value for p in n.metadata_props})
            break

    ops = {}
    for n in g.node:
        key = n.op_type if not n.domain else f"{n.domain}::{n.op_type}"
        ops[key] = ops.get(key, 0) + 1

    def vi(v):
        t = v.type.tensor_type
        dims = [d.dim_param if d.dim_param else d.dim_value for d in t.shape.dim]
        return dict(name=v.name, elem_type=onnx.TensorProto.DataType.Name(t.elem_type), shape=dims)

    return dict(
        ir_version=m.ir_version, producer=f"{m.producer_name} {m.producer_version}".strip(),
        opsets={(o.domain or "ai.onnx"): o.version for o in m.opset_import},
        inputs=[vi(v) for v in g.input], outputs=[vi(v) for v in g.output],
        node_count=len(g.node), op_histogram=dict(sorted(ops.items())),
        initializer_count=len(g.initializer),
        constant_node_count=sum(1 for n in g.node if n.op_type == "Constant"),
        model_metadata={p.key: p.value for p in m.metadata_props},
        node_metadata_keys=meta_keys, sample_matmul_metadata=sample_meta,
        weight_layout=layout,
        hf_params_not_found_verbatim=missing,
        initializers_holding_several_hf_params=[dict(name=r["name"], hf=r["hf"]) for r in merged],
        hf_params_stored_more_than_once=duplicated,
        hf_tied_aliases=aliases or {},
        weight_tensors=init_rows,
    )


def layout_notes(a):
    notes = []
    for k, v in a["weight_layout"].items():
        notes.append(f"{v} x {k}")
    for k, v in a["hf_tied_aliases"].items():
        notes.append(f"HF tie: {k} is {v} (one tensor in the checkpoint)")
    if a["initializers_holding_several_hf_params"]:
        for r in a["initializers_holding_several_hf_params"]:
            notes.append(f"merged: initializer {r['name']} serves {r['hf']}")
    if a["hf_params_stored_more_than_once"]:
        for k, v in a["hf_params_stored_more_than_once"].items():
            notes.append(f"duplicated: {k} stored as " + ", ".join(
                f"{x['name']}{' (transposed)' if x['transposed'] else ''}" for x in v))
    if a["hf_params_not_found_verbatim"]:
        notes.append("HF params not found verbatim (folded into other constants or renamed beyond recognition): "
                     + ", ".join(a["hf_params_not_found_verbatim"]))
    if a["node_metadata_keys"]:
        notes.append("node metadata_props keys: " + ", ".join(f"{k} ({v} nodes)" for k, v in a["node_metadata_keys"].items()))
    else:
        notes.append("no node metadata_props")
    return notes


# --------------------------------------------------------------------------
# ORT helpers
# --------------------------------------------------------------------------

def ort_session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_feed(sess, ids, mask, past=None):
    names = [i.name for i in sess.get_inputs()]
    feed = {}
    for n in names:
        if n == "input_ids":
            feed[n] = ids
        elif n == "attention_mask":
            feed[n] = mask
        elif n == "position_ids":
            feed[n] = position_ids_for(mask)[:, -ids.shape[1]:]
        elif n.startswith("past_key_values"):
            feed[n] = past[n]
        else:
            raise KeyError(f"unexpected ONNX input {n}")
    return feed


def ort_logits(sess, ids, mask, past=None):
    out = sess.run(None, ort_feed(sess, ids, mask, past))
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, out))


def empty_past(sess, batch):
    past = {}
    for i in sess.get_inputs():
        if i.name.startswith("past_key_values"):
            shape = [batch if j == 0 else (0 if isinstance(d, str) or d is None else d)
                     for j, d in enumerate(i.shape)]
            # [batch, kv_heads, past_seq, head_dim]; the seq axis is the dynamic one (index 2)
            shape = [batch, i.shape[1], 0, i.shape[3]]
            dt = np.float16 if "float16" in i.type else np.float32
            past[i.name] = np.zeros(shape, dtype=dt)
    return past


def compare_cases(sess, model, inputs, half=False):
    """Run main/short/padded cases through ORT and torch. Returns dict."""
    res = {}
    for case in ("main", "short", "padded"):
        ids, mask = inputs[case]
        # position_ids only where the graph takes them; otherwise both sides use arange positions
        has_pos = "position_ids" in [i.name for i in sess.get_inputs()]
        pos = position_ids_for(mask) if has_pos else None
        try:
            o = ort_logits(sess, ids, mask)["logits"]
        except Exception as e:  # noqa: BLE001
            res[case] = dict(error=f"{type(e).__name__}: {str(e)[:300]}")
            continue
        t = torch_logits(model, ids, mask, position_ids=pos)
        res[case] = dict(ort=o.astype(np.float32), torch=t, diff=float(np.abs(o.astype(np.float32) - t).max()))
    return res


# --------------------------------------------------------------------------
# Exporters (main venv)
# --------------------------------------------------------------------------

def _quiet():
    warnings.filterwarnings("ignore")
    import logging
    logging.getLogger("torch").setLevel(logging.ERROR)


def export_legacy(model, path, fold):
    import torch
    ids, mask = reference_inputs()["main"]
    # Passing kwargs= to the legacy exporter turns the int default `logits_to_keep`
    # into a graph input, so swap in a subclass whose forward takes exactly
    # (input_ids, attention_mask) and returns logits.  Swapping __class__ (instead
    # of wrapping) keeps the parameter names identical to the HF checkpoint.
    orig_cls = model.__class__

    class ExportForward(orig_cls):
        def forward(self, input_ids, attention_mask):
            return orig_cls.forward(self, input_ids=input_ids, attention_mask=attention_mask,
                                    use_cache=False).logits

    model.__class__ = ExportForward
    try:
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            torch.onnx.export(
                model, (torch.from_numpy(ids), torch.from_numpy(mask)), str(path),
                dynamo=False, do_constant_folding=fold,
                input_names=["input_ids", "attention_mask"], output_names=["logits"],
                dynamic_axes={"input_ids": {0: "batch_size", 1: "sequence_length"},
                              "attention_mask": {0: "batch_size", 1: "sequence_length"},
                              "logits": {0: "batch_size", 1: "sequence_length"}})
    finally:
        model.__class__ = orig_cls
    return dict(call=f"torch.onnx.export(model, (input_ids, attention_mask), dynamo=False, "
                     f"do_constant_folding={fold}, dynamic_axes={{batch_size, sequence_length}}) with "
                     "forward(input_ids, attention_mask) -> logits (use_cache=False)")


def export_dynamo(model, path, optimize):
    import torch
    ids, mask = reference_inputs()["main"]
    batch = torch.export.Dim("batch_size", max=16)
    seq = torch.export.Dim("sequence_length", max=MAX_POS)
    buf = io.StringIO()
    with torch.no_grad(), contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        prog = torch.onnx.export(
            model, (), kwargs=dict(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)),
            dynamo=True, optimize=optimize, external_data=False,
            input_names=["input_ids", "attention_mask"], output_names=["logits"],
            dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}})
        prog.save(str(path), external_data=False)
    return dict(call=f"torch.onnx.export(model, (), kwargs={{input_ids, attention_mask}}, dynamo=True, "
                     f"optimize={optimize}, dynamic_shapes={{batch_size, sequence_length}}); prog.save(path)")


def export_external(src_onnx, path):
    import onnx
    m = onnx.load(str(src_onnx))
    onnx.save_model(m, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx.data", size_threshold=0)
    return dict(call="onnx.save_model(onnx.load(legacy-folded model.onnx), save_as_external_data=True, "
                     "all_tensors_to_one_file=True, location='model.onnx.data', size_threshold=0)")


# --------------------------------------------------------------------------
# Writing fixtures
# --------------------------------------------------------------------------

def file_sizes(d):
    return {p.name: p.stat().st_size for p in sorted(d.iterdir()) if p.is_file()}


def dumps(obj):
    """JSON with indent=1 but every innermost list of numbers on one line."""
    import re
    text = json.dumps(obj, indent=1)
    return re.sub(r"\[\s*([-0-9.eE+,\s]+?)\s*\]",
                  lambda m: "[" + ",".join(x.strip() for x in m.group(1).split(",")) + "]", text)


def write_reference(d, payload):
    write_reference_named(d, "reference.json", payload)


def write_reference_named(d, name, payload):
    (d / name).write_text(dumps(payload) + "\n")


def build_reference(name, family, style, exporter, vers, cases, analysis, extra_notes=(), fp16=None):
    main = cases["main"]
    ids, mask = reference_inputs()["main"]
    ref = dict(
        fixture=name, family=family, style=style, exporter=exporter, versions=vers,
        hf_class=FAMILIES[family]["cls"],
        inputs=dict(input_ids=ids.tolist(), attention_mask=mask.tolist()),
        logits_shape=list(main["ort"].shape),
        max_abs_diff=main["diff"],
        tolerance=TOL if not fp16 else TOL_FP16,
        logits_onnxruntime=round7(main["ort"]),
        logits_torch=round7(main["torch"]),
    )
    extra = []
    for case, desc in (("short", "batch 1 x 5 tokens (checks dynamic axes)"),
                       ("padded", "batch 2 x 6, row 1 left-padded by 2 (pad id 0, attention_mask 0). If the graph "
                                  "has a position_ids input it is fed cumsum(mask)-1 (pads: 1) and torch gets the same; "
                                  "otherwise neither side gets position_ids (positions 0..5 on both rows). "
                                  "Compared on non-pad positions only.")):
        c = cases.get(case)
        if c is None:
            continue
        ids_c, mask_c = reference_inputs()[case]
        e = dict(name=case, description=desc, input_ids=ids_c.tolist(), attention_mask=mask_c.tolist())
        if "error" in c:
            e["error"] = c["error"]
        else:
            e.update(max_abs_diff=c["diff"], agrees=c["diff"] < ref["tolerance"],
                     logits_onnxruntime=round7(c["ort"]), logits_torch=round7(c["torch"]))
            if case == "padded":
                # padded positions are garbage in every implementation; compare only real tokens
                valid = mask_c.astype(bool)
                dv = float(np.abs(c["ort"] - c["torch"])[valid].max())
                e["max_abs_diff_valid_positions"] = dv
                e["agrees"] = dv < ref["tolerance"]
        extra.append(e)
    ref["extra_cases"] = extra
    if fp16 is not None:
        ref.update(fp16)
    ref["notes"] = list(extra_notes) + layout_notes(analysis)
    ref["graph"] = analysis
    return ref


def run_main(args, out, manifest):
    _quiet()
    import torch
    torch.set_num_threads(2)
    vers = versions()
    inputs = reference_inputs()
    families = sorted({f for f, _ in PLAN}, key=list(FAMILIES).index)
    for family in families:
        styles = [s for f, s in PLAN if f == family and not s.startswith("optimum")]
        wanted_hf = selected(args, f"{family}-hf")
        wanted = [s for s in styles if selected(args, f"{family}-{s}")]
        if not wanted and not wanted_hf and not any(
                selected(args, f"{family}-{s}") for f, s in PLAN if f == family):
            continue
        model = build_model(family)
        model.config.use_cache = False
        state, aliases = hf_state(model)
        hf_dir = out / f"{family}-hf"
        # the HF folder is always (re)written: the optimum worker loads it
        if hf_dir.exists():
            shutil.rmtree(hf_dir)
        save_hf_folder(model, family, hf_dir)
        ids, mask = inputs["main"]
        t = torch_logits(model, ids, mask)
        short_t = torch_logits(model, *inputs["short"])
        write_reference(hf_dir, dict(
            fixture=f"{family}-hf", family=family, style="hf", hf_class=FAMILIES[family]["cls"],
            versions=vers, inputs=dict(input_ids=ids.tolist(), attention_mask=mask.tolist()),
            logits_shape=list(t.shape), logits_torch=round7(t),
            extra_cases=[dict(name="short", input_ids=inputs["short"][0].tolist(),
                              attention_mask=inputs["short"][1].tolist(), logits_torch=round7(short_t))],
            notes=["HF folder written by save_pretrained (transformers %s); config.json additionally "
                   "carries top-level rope_theta for transformers 4.x / hub-style readers." % vers["transformers"]]
            + ([f"{FAMILIES[family]['equal_params'][0]} == {FAMILIES[family]['equal_params'][1]} (deliberately equal)"]
               if FAMILIES[family].get("equal_params") else []),
            parameters={k: list(v.shape) for k, v in state.items()}, tied_parameters=aliases))
        write_decode_reference(model, family, hf_dir, vers)
        manifest_add(manifest, hf_dir, family, "hf", dict(name="transformers.save_pretrained"), None)
        log(f"wrote {hf_dir.relative_to(REPO)}  {file_sizes(hf_dir)}")

        for style in wanted:
            if style in ("dynamo-optimized", "dynamo-unoptimized") and args.skip_dynamo:
                manifest["skipped"].append(dict(fixture=f"{family}-{style}", reason="--skip-dynamo given"))
                continue
            name = f"{family}-{style}"
            d = out / name
            if d.exists():
                shutil.rmtree(d)
            d.mkdir(parents=True)
            t0 = time.time()
            fp16 = None
            notes = []
            mdl = model
            try:
                if style == "legacy-folded":
                    exporter = export_legacy(model, d / "model.onnx", fold=True)
                elif style == "legacy-unfolded":
                    exporter = export_legacy(model, d / "model.onnx", fold=False)
                elif style == "dynamo-optimized":
                    exporter = export_dynamo(model, d / "model.onnx", optimize=True)
                elif style == "dynamo-unoptimized":
                    exporter = export_dynamo(model, d / "model.onnx", optimize=False)
                elif style == "external-data":
                    src = out / f"{family}-legacy-folded" / "model.onnx"
                    if not src.exists():
                        export_legacy(model, d / "tmp.onnx", fold=True)
                        src = d / "tmp.onnx"
                    exporter = export_external(src, d / "model.onnx")
                    with contextlib.suppress(FileNotFoundError):
                        (d / "tmp.onnx").unlink()
                elif style == "legacy-folded-fp16":
                    import copy
                    mdl = copy.deepcopy(model).half()
                    exporter = export_legacy(mdl, d / "model.onnx", fold=True)
                    exporter["call"] = "model.half(); " + exporter["call"]
                    notes.append("fp16: torch model converted with model.half() before export; "
                                 "weights and logits are float16. logits_torch is the fp16 PyTorch CPU run; "
                                 "logits_torch_fp32 is the fp32 model.")
                else:
                    raise ValueError(style)
            except Exception as e:  # noqa: BLE001
                shutil.rmtree(d)
                reason = f"export failed: {type(e).__name__}: {str(e).splitlines()[0][:400]}"
                manifest["skipped"].append(dict(fixture=name, reason=reason))
                log(f"SKIP {name}: {reason}")
                continue
            exporter["name"] = style
            sess = ort_session(d / "model.onnx")
            cases = compare_cases(sess, mdl, inputs)
            if "error" in cases["main"]:
                shutil.rmtree(d)
                reason = "onnxruntime failed on the exported model: " + cases["main"]["error"]
                manifest["skipped"].append(dict(fixture=name, reason=reason))
                log(f"SKIP {name}: {reason}")
                continue
            if style == "legacy-folded-fp16":
                t32 = torch_logits(model, ids, mask)
                o = cases["main"]["ort"]
                fp16 = dict(logits_torch_fp32=round7(t32),
                            max_abs_diff_vs_torch_fp32=float(np.abs(o - t32).max()))
            (d / "config.json").write_text((hf_dir / "config.json").read_text())
            if mdl is not model:   # fp16: match against the half-precision weights
                analysis = analyze_graph(d / "model.onnx", *hf_state(mdl))
            else:
                analysis = analyze_graph(d / "model.onnx", state, aliases)
            ref = build_reference(name, family, style, exporter, vers, cases, analysis, notes, fp16)
            write_reference(d, ref)
            manifest_add(manifest, d, family, style, exporter, ref)
            log(f"wrote {name} in {time.time() - t0:.1f}s  max|ort-torch|={ref['max_abs_diff']:.3g}  "
                f"short={cases['short'].get('diff', cases['short'].get('error'))}  "
                f"padded={ref['extra_cases'][1].get('max_abs_diff_valid_positions', ref['extra_cases'][1].get('error'))}  "
                f"{file_sizes(d)}")


# --------------------------------------------------------------------------
# Optimum (runs inside the optimum venv via --optimum-worker)
# --------------------------------------------------------------------------

def run_optimum_worker(args):
    """Export each requested family with optimum, compute ORT + torch logits,
    write the fixture folders. Invoked with the optimum venv's python."""
    _quiet()
    import torch
    import transformers
    from optimum.exporters.onnx import main_export
    torch.set_num_threads(2)
    out = Path(args.out)
    vers = versions(include_optimum=True)
    inputs = reference_inputs()
    results = []
    for item in args.optimum_worker.split(","):
        family, style = item.split(":")
        name = f"{family}-{style}"
        hf_dir = out / f"{family}-hf"
        d = out / name
        if d.exists():
            shutil.rmtree(d)
        task = "text-generation-with-past" if style == "optimum-with-past" else "text-generation"
        t0 = time.time()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                buf = io.StringIO()
                with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                    main_export(model_name_or_path=str(hf_dir), output=tmp, task=task, device="cpu",
                                local_files_only=True, do_validation=False)
                d.mkdir(parents=True)
                for f in sorted(Path(tmp).iterdir()):
                    if f.name.startswith("model.onnx"):
                        shutil.copy(f, d / f.name)
        except Exception as e:  # noqa: BLE001
            if d.exists():
                shutil.rmtree(d)
            results.append(dict(fixture=name, skipped=f"optimum export failed: {type(e).__name__}: {str(e)[:400]}"))
            continue
        model = getattr(transformers, FAMILIES[family]["cls"]).from_pretrained(str(hf_dir)).eval()
        state, aliases = hf_state(model)
        sess = ort_session(d / "model.onnx")
        past_names = [i.name for i in sess.get_inputs() if i.name.startswith("past_key_values")]
        notes = [f"optimum-onnx main_export(task={task!r}, device='cpu') from the local {family}-hf folder; "
                 f"torch reference computed with transformers {vers['transformers']} in the optimum venv."]
        cases = {}
        for case in ("main", "short", "padded"):
            ids, mask = inputs[case]
            past = empty_past(sess, ids.shape[0]) if past_names else None
            try:
                o = ort_logits(sess, ids, mask, past)["logits"]
            except Exception as e:  # noqa: BLE001
                cases[case] = dict(error=f"{type(e).__name__}: {str(e)[:300]}")
                continue
            has_pos = "position_ids" in [i.name for i in sess.get_inputs()]
            t = torch_logits(model, ids, mask, position_ids=position_ids_for(mask) if has_pos else None)
            cases[case] = dict(ort=o, torch=t, diff=float(np.abs(o - t).max()))
        exporter = dict(name=style, call=f"optimum.exporters.onnx.main_export(model_name_or_path=<{family}-hf>, "
                                         f"task={task!r}, device='cpu')")
        analysis = analyze_graph(d / "model.onnx", state, aliases)
        ref = build_reference(name, family, style, exporter, vers, cases, analysis, notes)
        if past_names:
            ref["notes"].insert(1, "with-past inputs: " + ", ".join(i.name for i in sess.get_inputs())
                                + "; prefill is run with empty past tensors [batch, kv_heads, 0, head_dim].")
            ref["decode_step"] = decode_step(sess, model, inputs)
            if "position_ids" not in [i.name for i in sess.get_inputs()]:
                ref["notes"].append("no position_ids input: positions derived from attention_mask inside the graph")
        (d / "config.json").write_text((hf_dir / "config.json").read_text())
        write_reference(d, ref)
        results.append(dict(fixture=name, family=family, style=style, exporter=exporter,
                            max_abs_diff=ref["max_abs_diff"], seconds=round(time.time() - t0, 1),
                            decode_diff=ref.get("decode_step", {}).get("max_abs_diff")))
    print("OPTIMUM_RESULTS " + json.dumps(results), flush=True)


def decode_step(sess, model, inputs):
    import torch
    ids, mask = inputs["main"]
    nxt = inputs["decode_next"]
    past = empty_past(sess, ids.shape[0])
    out = ort_logits(sess, ids, mask, past)
    names = [o.name for o in sess.get_outputs()]
    present = {n.replace("present", "past_key_values"): out[n] for n in names if n.startswith("present")}
    mask2 = np.concatenate([mask, np.ones_like(nxt)], axis=1)
    o2 = ort_logits(sess, nxt, mask2, present)["logits"]
    with torch.no_grad():
        r1 = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), use_cache=True)
        r2 = model(input_ids=torch.from_numpy(nxt), attention_mask=torch.from_numpy(mask2),
                   past_key_values=r1.past_key_values, use_cache=True)
    t2 = r2.logits.float().numpy()
    return dict(description="prefill input_ids (2x8) with empty past, then feed present.* back as "
                            "past_key_values.* with next_input_ids (2x1), attention_mask (2x9)"
                            + (", position_ids [[8],[8]]" if "position_ids" in [i.name for i in sess.get_inputs()] else ""),
                next_input_ids=nxt.tolist(), attention_mask=mask2.tolist(),
                present_shapes={k: list(v.shape) for k, v in present.items()},
                logits_onnxruntime=round7(o2), logits_torch=round7(t2),
                max_abs_diff=float(np.abs(o2 - t2).max()))


def ort_greedy_reference(onnx_path):
    """16-step greedy decode per prompt with onnxruntime on a with-past export (batch 1):
    prefill with empty past, then feed present.* back as past_key_values.*; same schema as
    decode.json (step_logits[k] chose greedy_tokens[k])."""
    sess = ort_session(onnx_path)
    out_names = [o.name for o in sess.get_outputs()]
    cases = []
    for prompt in decode_prompts():
        ids = np.array([prompt], dtype=np.int64)
        mask = np.ones_like(ids)
        res = ort_logits(sess, ids, mask, empty_past(sess, 1))
        logits, tokens = [], []
        for _ in range(DECODE_STEPS):
            last = res["logits"][0, -1].astype(np.float32)
            logits.append(last)
            nxt = int(np.argmax(last))
            tokens.append(nxt)
            past = {n.replace("present", "past_key_values"): res[n] for n in out_names if n.startswith("present")}
            mask = np.concatenate([mask, np.ones((1, 1), dtype=mask.dtype)], axis=1)
            res = ort_logits(sess, np.array([[nxt]], dtype=np.int64), mask, past)
        cases.append(dict(prompt=prompt, greedy_tokens=tokens, step_logits=round7(np.stack(logits))))
    return cases


def run_ort_greedy(args, out):
    """Writes <family>-optimum-with-past/ort_decode.json (onnxruntime's own greedy loop)."""
    import onnxruntime
    for family in FAMILIES:
        d = out / f"{family}-optimum-with-past"
        if not selected(args, d.name) or not (d / "model.onnx").exists():
            continue
        write_reference_named(d, "ort_decode.json", dict(
            fixture=d.name, family=family, versions=dict(onnxruntime=onnxruntime.__version__),
            description=f"greedy decode, {DECODE_STEPS} steps per prompt, onnxruntime on this with-past export, "
                        "one prompt at a time; step_logits[k] chose greedy_tokens[k] (step 0 is the prefill's last position)",
            cases=ort_greedy_reference(d / "model.onnx")))
        log(f"wrote {(d / 'ort_decode.json').relative_to(REPO)}")


def run_optimum(args, out, manifest):
    items = [(f, s) for f, s in PLAN if s.startswith("optimum") and selected(args, f"{f}-{s}")]
    if not items:
        return
    if args.skip_optimum:
        for f, s in items:
            manifest["skipped"].append(dict(fixture=f"{f}-{s}", reason="--skip-optimum given"))
        return
    if not Path(OPTIMUM_PYTHON).exists():
        msg = (f"optimum venv python {OPTIMUM_PYTHON} not found (set TREERPO_OPTIMUM_PYTHON); "
               "optimum fixtures skipped")
        log("SKIP optimum: " + msg)
        for f, s in items:
            manifest["skipped"].append(dict(fixture=f"{f}-{s}", reason=msg))
        return
    for f, _ in items:
        if not (out / f"{f}-hf" / "model.safetensors").exists():
            raise SystemExit(f"{f}-hf missing; run without --only first")
    cmd = [OPTIMUM_PYTHON, str(Path(__file__).resolve()), "--out", str(out),
           "--optimum-worker", ",".join(f"{f}:{s}" for f, s in items)]
    log("running optimum worker: " + " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    line = [x for x in p.stdout.splitlines() if x.startswith("OPTIMUM_RESULTS ")]
    if p.returncode != 0 or not line:
        tail = (p.stdout + p.stderr)[-3000:]
        log("optimum worker failed:\n" + tail)
        for f, s in items:
            manifest["skipped"].append(dict(fixture=f"{f}-{s}", reason="optimum worker failed: " + tail[-400:]))
        return
    for r in json.loads(line[-1][len("OPTIMUM_RESULTS "):]):
        if "skipped" in r:
            manifest["skipped"].append(dict(fixture=r["fixture"], reason=r["skipped"]))
            log(f"SKIP {r['fixture']}: {r['skipped']}")
            continue
        d = out / r["fixture"]
        ref = json.loads((d / "reference.json").read_text())
        manifest_add(manifest, d, r["family"], r["style"], r["exporter"], ref)
        log(f"wrote {r['fixture']} in {r['seconds']}s  max|ort-torch|={r['max_abs_diff']:.3g}"
            + (f"  decode={r['decode_diff']:.3g}" if r.get("decode_diff") is not None else "")
            + f"  {file_sizes(d)}")


# --------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------

def manifest_add(manifest, d, family, style, exporter, ref):
    e = dict(fixture=d.name, family=family, style=style, path=str(d.relative_to(REPO)) if d.is_relative_to(REPO) else str(d),
             files=file_sizes(d), exporter=exporter.get("name"))
    if ref is not None:
        e.update(max_abs_diff=ref["max_abs_diff"], tolerance=ref["tolerance"],
                 passes=ref["max_abs_diff"] < ref["tolerance"],
                 onnx_inputs=[i["name"] for i in ref["graph"]["inputs"]],
                 onnx_outputs=[o["name"] for o in ref["graph"]["outputs"]][:3],
                 opsets=ref["graph"]["opsets"], versions=ref["versions"],
                 extra_cases={c["name"]: (c.get("max_abs_diff_valid_positions", c.get("max_abs_diff"))
                                          if "error" not in c else "error: " + c["error"][:120])
                              for c in ref["extra_cases"]},
                 layout=ref["notes"])
        if "decode_step" in ref:
            e["decode_step_max_abs_diff"] = ref["decode_step"]["max_abs_diff"]
    manifest["fixtures"] = [x for x in manifest["fixtures"] if x["fixture"] != d.name] + [e]


def selected(args, name):
    return not args.only or any(o in name for o in args.only)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--only", action="append", help="substring of fixture names to (re)build; repeatable")
    ap.add_argument("--skip-dynamo", action="store_true")
    ap.add_argument("--skip-optimum", action="store_true")
    ap.add_argument("--decode-only", action="store_true",
                    help="only rewrite <family>-hf/decode.json and <family>-optimum-with-past/ort_decode.json")
    ap.add_argument("--optimum-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.optimum_worker:
        run_optimum_worker(args)
        return
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.decode_only:
        run_decode_only(args, out)
        run_ort_greedy(args, out)
        return
    mpath = out / "MANIFEST.json"
    manifest = dict(fixtures=[], skipped=[])
    if args.only and mpath.exists():
        manifest = json.loads(mpath.read_text())
        manifest["skipped"] = [s for s in manifest["skipped"] if not selected(args, s["fixture"])]
    t0 = time.time()
    run_main(args, out, manifest)
    run_optimum(args, out, manifest)
    run_ort_greedy(args, out)
    built = {(x["family"], x["style"]) for x in manifest["fixtures"]}
    manifest["not_planned"] = [
        dict(fixture=f"{f}-{s}", reason=r) for f, s, r in (
            ("llama", "legacy-folded-fp16", "one fp16 variant only (qwen2)"),
            ("gpt2", "legacy-folded-fp16", "one fp16 variant only (qwen2)"),
            ("qwen3", "legacy-folded-fp16", "one fp16 variant only (qwen2)"),
            ("llama_equalnorms", "dynamo-unoptimized/external-data/optimum-with-past",
             "equal-norm variant only needs the exporters that might merge initializers"))]
    manifest["generator"] = dict(
        script="tools/make_onnx_fixtures.py",
        command=".venv-tools/bin/python tools/make_onnx_fixtures.py",
        optimum_python=machine_paths.scrub_text(OPTIMUM_PYTHON), main_versions=versions(),
        families={k: dict(hf_class=v["cls"], seed=v["seed"], config=v["config"],
                          equal_params=v.get("equal_params")) for k, v in FAMILIES.items()},
        tolerance=dict(fp32=TOL, fp16=TOL_FP16))
    manifest["fixtures"].sort(key=lambda x: x["fixture"])
    manifest["total_bytes"] = sum(sum(x["files"].values()) for x in manifest["fixtures"])
    mpath.write_text(dumps(manifest) + "\n")
    # The dynamo exporter's stack traces name this machine's venv: rewrite them from site-packages/.
    machine_paths.scrub_tree(out)
    machine_paths.refresh_manifest_sizes(mpath)
    fails = [x["fixture"] for x in manifest["fixtures"] if x.get("passes") is False]
    log(f"wrote {mpath.relative_to(REPO) if mpath.is_relative_to(REPO) else mpath}: "
        f"{len(manifest['fixtures'])} fixtures, {len(manifest['skipped'])} skipped, "
        f"{manifest['total_bytes'] / 1e6:.2f} MB, {time.time() - t0:.0f}s")
    if fails:
        log("FAILED tolerance: " + ", ".join(fails))
        sys.exit(1)


if __name__ == "__main__":
    main()
