#!/usr/bin/env python3
"""Build the committed GGUF model fixtures under Fixtures/models/<family>-gguf/.

Each is a tiny random Hugging Face checkpoint (built here from a config, seeded) converted to
GGUF with gguf.GGUFWriter by the rules of llama.cpp's convert_hf_to_gguf.py as documented in
the GGUF spec and llama.cpp's docs (llama.cpp's script is not installed here):

* names: model.embed_tokens -> token_embd, model.norm -> output_norm, lm_head -> output (left
  out when the embeddings are tied), model.layers.N.{input_layernorm -> attn_norm,
  self_attn.{q,k,v,o}_proj -> attn_{q,k,v,output}, post_attention_layernorm -> ffn_norm,
  mlp.{gate,up,down}_proj -> ffn_{gate,up,down}} under blk.N; GPT-2: wte/wpe -> token_embd /
  position_embd, ln_f -> output_norm, h.N.{ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc,
  mlp.c_proj} -> blk.N.{attn_norm, attn_qkv, attn_output, ffn_norm, ffn_up, ffn_down}, with the
  Conv1D weights transposed to [out, in] and the tied head written again as output.weight;
* llama: the q and k projections (weights and biases) permuted for llama.cpp's rotary layout:
  w.reshape(n_head, 2, head_dim // 2, ...).swapaxes(1, 2), n_head = the kv heads for k;
  qwen2 and qwen3 are written unpermuted, as their converters do (llama.cpp runs both with NEOX
  rotary; transformers' GGUF reader un-permutes only llama, and the all-F32 check below passes);
* qwen3: self_attn.{q,k}_norm -> blk.N.attn_{q,k}_norm (F32, [head_dim]), and
  qwen3.attention.key_length = value_length = rope.dimension_count = head_dim;
* metadata {arch}.context_length, embedding_length, block_count, feed_forward_length,
  attention.head_count(_kv), rope.freq_base, rope.dimension_count,
  attention.layer_norm_rms_epsilon / layer_norm_epsilon, vocab_size; tokenizer.ggml bos/eos ids;
* 1-D tensors F32; 2-D tensors in the fixture's type (llama Q8_0, qwen2 F16, gpt2 F16, qwen3 F16).

reference.json beside each model.gguf holds, from transformers'
AutoModelForCausalLM.from_pretrained(folder, gguf_file="model.gguf"):
  input_ids [2, 8], logits [2, 8, vocab] (float32 rounded to 7 significant digits), and
  greedy: for prompt ids, 12 greedy next ids (argmax of a full forward each step);
and, as a check of the conversion rules against the known checkpoint, the largest
|logit| difference between the original random checkpoint and transformers' load of an all-F32
conversion of it (conversion_rules_max_difference: float32 noise when the names, transposes
and permutations are right) and of the fixture itself (quantisation error included).

Run with the tools venv: .venv-tools/bin/python tools/make_gguf_model_fixtures.py
(``--only FAMILY``, repeatable, writes just those fixtures, e.g. ``--only qwen3``).
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch
import transformers
import gguf
from gguf import GGMLQuantizationType as T

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "Fixtures" / "models"
VOCAB = 128

FAMILIES = {
    "llama": dict(cls="LlamaForCausalLM", seed=2001, type=T.Q8_0,
                  config=dict(model_type="llama", vocab_size=VOCAB, hidden_size=64, intermediate_size=96,
                              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                              max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0,
                              hidden_act="silu", tie_word_embeddings=True, attention_bias=False,
                              mlp_bias=False, bos_token_id=1, eos_token_id=2)),
    "qwen2": dict(cls="Qwen2ForCausalLM", seed=2002, type=T.F16,
                  config=dict(model_type="qwen2", vocab_size=VOCAB, hidden_size=64, intermediate_size=96,
                              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                              max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=1000000.0,
                              hidden_act="silu", tie_word_embeddings=False, use_sliding_window=False,
                              bos_token_id=1, eos_token_id=2)),
    # transformers reads GPT-2's context_length as n_ctx and feed_forward_length under its own
    # name, so n_positions and n_inner keep their defaults (1024, 4 * n_embd) to load at all.
    "gpt2": dict(cls="GPT2LMHeadModel", seed=2003, type=T.F16,
                 config=dict(model_type="gpt2", vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4,
                             n_positions=1024, layer_norm_epsilon=1e-5, activation_function="gelu_new",
                             tie_word_embeddings=True, bos_token_id=1, eos_token_id=2)),
    # Qwen3: q_norm/k_norm [head_dim] per layer (blk.N.attn_q_norm / attn_k_norm), no q/k/v biases,
    # untied head, head_dim written as qwen3.attention.key_length/value_length and
    # rope.dimension_count. head_dim is 128 (q_proj [512, 32], != hidden 32) and not 16 like the
    # ONNX qwen3 fixtures: transformers 5.24 maps no qwen3.attention.key_length (its qwen3_moe
    # mapping has it), so its GGUF loader falls back to Qwen3Config's default head_dim 128 and
    # refuses any other (size mismatch).
    "qwen3": dict(cls="Qwen3ForCausalLM", seed=2004, type=T.F16,
                  config=dict(model_type="qwen3", vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
                              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=128,
                              max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=1000000.0,
                              hidden_act="silu", tie_word_embeddings=False, attention_bias=False,
                              use_sliding_window=False, bos_token_id=1, eos_token_id=2)),
}


def build_model(family):
    spec = FAMILIES[family]
    kwargs = dict(spec["config"])
    cfg = transformers.AutoConfig.for_model(kwargs.pop("model_type"), **kwargs)
    torch.manual_seed(spec["seed"])
    model = getattr(transformers, spec["cls"])(cfg).eval()
    gen = torch.Generator().manual_seed(spec["seed"])
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if p.ndim == 1:
                is_norm = "norm" in name or ".ln_" in name
                base = 1.0 if (is_norm and name.endswith("weight")) else 0.0
                p.copy_(base + (0.25 if is_norm else 0.2) * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p.shape[0] if family == "gpt2" else p.shape[-1]
                std = 0.5 if ("embed" in name or ".wte." in name or ".wpe." in name) else 1.0 / fan_in ** 0.5
                p.copy_(std * torch.randn(p.shape, generator=gen))
    return model


def llama_permute(w, n_head):
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_tensors(family, model):
    """(gguf name, float32 array in HF layout after the converter's transforms)."""
    cfg = model.config
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    out = []
    if family == "gpt2":
        out.append(("token_embd.weight", sd["transformer.wte.weight"]))
        out.append(("position_embd.weight", sd["transformer.wpe.weight"]))
        for i in range(cfg.n_layer):
            h = f"transformer.h.{i}."
            for hf, g, transpose in [("ln_1", "attn_norm", False), ("attn.c_attn", "attn_qkv", True),
                                     ("attn.c_proj", "attn_output", True), ("ln_2", "ffn_norm", False),
                                     ("mlp.c_fc", "ffn_up", True), ("mlp.c_proj", "ffn_down", True)]:
                w = sd[h + hf + ".weight"]
                out.append((f"blk.{i}.{g}.weight", w.T.copy() if transpose else w))
                out.append((f"blk.{i}.{g}.bias", sd[h + hf + ".bias"]))
        out.append(("output_norm.weight", sd["transformer.ln_f.weight"]))
        out.append(("output_norm.bias", sd["transformer.ln_f.bias"]))
        out.append(("output.weight", sd["transformer.wte.weight"]))
        return out
    out.append(("token_embd.weight", sd["model.embed_tokens.weight"]))
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        names = [("input_layernorm", "attn_norm"), ("self_attn.q_proj", "attn_q"), ("self_attn.k_proj", "attn_k"),
                 ("self_attn.v_proj", "attn_v"), ("self_attn.o_proj", "attn_output"),
                 ("self_attn.q_norm", "attn_q_norm"), ("self_attn.k_norm", "attn_k_norm"),
                 ("post_attention_layernorm", "ffn_norm"), ("mlp.gate_proj", "ffn_gate"),
                 ("mlp.up_proj", "ffn_up"), ("mlp.down_proj", "ffn_down")]
        for hf, g in names:
            for kind in ("weight", "bias"):
                key = p + hf + "." + kind
                if key not in sd:
                    continue
                w = sd[key]
                if family == "llama" and hf == "self_attn.q_proj":
                    w = llama_permute(w, cfg.num_attention_heads)
                if family == "llama" and hf == "self_attn.k_proj":
                    w = llama_permute(w, cfg.num_key_value_heads)
                out.append((f"blk.{i}.{g}.{kind}", w))
    out.append(("output_norm.weight", sd["model.norm.weight"]))
    if not cfg.tie_word_embeddings:
        out.append(("output.weight", sd["lm_head.weight"]))
    return out


def write_gguf(family, model, path, tensor_type=None):
    cfg = model.config
    spec = FAMILIES[family]
    tensor_type = tensor_type if tensor_type is not None else spec["type"]
    w = gguf.GGUFWriter(path, family)
    w.add_name(f"treerpo {family} gguf fixture")
    if family == "gpt2":
        w.add_context_length(cfg.n_positions)
        w.add_embedding_length(cfg.n_embd)
        w.add_feed_forward_length(4 * cfg.n_embd)
        w.add_block_count(cfg.n_layer)
        w.add_head_count(cfg.n_head)
        w.add_layer_norm_eps(cfg.layer_norm_epsilon)
    else:
        w.add_context_length(cfg.max_position_embeddings)
        w.add_embedding_length(cfg.hidden_size)
        w.add_block_count(cfg.num_hidden_layers)
        w.add_feed_forward_length(cfg.intermediate_size)
        w.add_head_count(cfg.num_attention_heads)
        w.add_head_count_kv(cfg.num_key_value_heads)
        w.add_rope_freq_base(cfg.rope_theta if hasattr(cfg, "rope_theta") else cfg.rope_parameters["rope_theta"])
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        if family == "qwen3":
            w.add_key_length(head_dim)
            w.add_value_length(head_dim)
        w.add_rope_dimension_count(head_dim)
        w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_vocab_size(cfg.vocab_size)
    if family == "gpt2":
        # transformers has no gpt2.vocab_size mapping: it counts the token list (no tokenizer
        # model is named, so none is built from it).
        w.add_token_list([f"<t{i}>" for i in range(cfg.vocab_size)])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    for name, values in gguf_tensors(family, model):
        values = np.ascontiguousarray(values, dtype=np.float32)
        if values.ndim == 1 or tensor_type == T.F32:
            w.add_tensor(name, values, raw_dtype=T.F32)
        else:
            w.add_tensor(name, gguf.quantize(values, tensor_type), raw_dtype=tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def round7(a):
    return [float(f"{v:.7g}") for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def greedy(model, prompt, steps):
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(steps):
            logits = model(torch.tensor([ids])).logits[0, -1]
            ids.append(int(logits.argmax()))
    return ids[len(prompt):]


def main():
    ap = argparse.ArgumentParser(description="GGUF model fixtures with transformers reference logits")
    ap.add_argument("--only", action="append", metavar="FAMILY", choices=list(FAMILIES),
                    help="write only this family's <family>-gguf folder; repeatable")
    args = ap.parse_args()
    rng = np.random.default_rng(20261205)
    input_ids = rng.integers(3, VOCAB, size=(2, 8)).tolist()
    prompt = rng.integers(3, VOCAB, size=5).tolist()
    for family in FAMILIES:
        if args.only and family not in args.only:
            continue
        folder = OUT / f"{family}-gguf"
        folder.mkdir(parents=True, exist_ok=True)
        original = build_model(family)
        write_gguf(family, original, folder / "model.gguf")
        loaded = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file="model.gguf",
                                                                   dtype=torch.float32).eval()
        with torch.no_grad():
            logits = loaded(torch.tensor(input_ids)).logits.numpy()
            original_logits = original(torch.tensor(input_ids)).logits.numpy()
        difference = float(np.abs(logits - original_logits).max())
        write_gguf(family, original, folder / "f32-check.gguf", tensor_type=T.F32)
        f32 = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file="f32-check.gguf",
                                                                dtype=torch.float32).eval()
        with torch.no_grad():
            rules_difference = float(np.abs(f32(torch.tensor(input_ids)).logits.numpy() - original_logits).max())
        (folder / "f32-check.gguf").unlink()
        assert rules_difference < 1e-4 * np.abs(original_logits).max(), (family, rules_difference)
        reference = dict(
            family=family, gguf_type=FAMILIES[family]["type"].name,
            versions=dict(transformers=transformers.__version__, gguf=gguf.__version__ if hasattr(gguf, "__version__") else "0.19.0",
                          torch=torch.__version__),
            input_ids=input_ids, logits_shape=list(logits.shape), logits=round7(logits),
            max_abs_logit=float(np.abs(logits).max()),
            original_checkpoint_max_difference=difference,
            conversion_rules_max_difference=rules_difference,
            greedy=dict(prompt=prompt, ids=greedy(loaded, prompt, 12)))
        (folder / "reference.json").write_text(json.dumps(reference) + "\n")
        size = (folder / "model.gguf").stat().st_size
        print(f"{family}: model.gguf {size} bytes, GGUF-loaded vs original checkpoint max |diff| {difference:.3g} "
              f"(all-F32 conversion {rules_difference:.3g}), "
              f"max |logit| {reference['max_abs_logit']:.3g}")


if __name__ == "__main__":
    main()
