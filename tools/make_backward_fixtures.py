#!/usr/bin/env python3
"""Writes Tests/TreeRPOTests/Fixtures/backward/: PyTorch autograd references for the backward
pass over a packed TreeRPO tree and the clipped policy loss.

For each tiny fixture model (Fixtures/models/<family>-hf, made by tools/make_onnx_fixtures.py:
llama tied head, qwen2 untied head with q/k/v biases, gpt2 tied head with learned positions,
qwen3 untied head without biases but with per-head q_norm/k_norm RMSNorms [head_dim] before RoPE
and head_dim 16 != hidden 32 / 4 heads)
this script (and for llama_biases, a model it makes and commits beside the fixture: every
optional Llama bias, untied head, 4 query heads on 1 KV head, heads * head_dim != hidden):

1. builds a small tree (root = prompt, then branching steps, one leaf ended early), packs it
   into one sequence (each step once, parents before children), with
     parents[i]   = previous token on i's root-to-leaf path (-1 for the first prompt token; the
                    first token of a child points at its parent step's LAST token), exactly the
                    predecessor list `AttentionMask(parents:)` takes;
     positions[i] = depth of i on its path minus one (path depth);
2. loss tokens: every token outside the root prompt, predicted by logits row parents[i]
   (so the parent's last row predicts the first token of each of its children);
   advantage = its node's advantage; old log-prob = the current log-prob minus a perturbation
   chosen clear of the clip boundaries (so that some tokens are clipped, some not);
   reference log-prob = current + noise; per-token weights (uniform token-mean in one case);
3. runs the Hugging Face model (transformers, eager attention) in FLOAT64 with the tree as an
   additive -inf 4D attention mask and the path-depth position ids, and checks that every
   token's logits equal those of its root-to-leaf path run alone as a plain causal sequence
   (to 1e-5 x max |logit|: transformers' RoPE tables are float32 even in a float64 model);
4. computes, in float64,
     rho_t = exp(new_t - old_t)
     l_t   = -min(rho_t A_t, clamp(rho_t, 1 - epsLow, 1 + epsHigh) A_t)
             + beta (exp(ref_t - new_t) - (ref_t - new_t) - 1)
     loss  = sum_t w_t l_t
   and every parameter gradient by autograd (a tied head's gradient is part of the embedding's).

Written per family:
  <family>.json         tree, positions, parents, loss tokens, settings, loss, statistics,
                        new log-probs, the model folder and its SHA-256
  <family>.safetensors  d loss / d parameter for every parameter, Hugging Face names,
                        float32 (rounded from the float64 autograd result)

Run with the project venv: .venv-tools/bin/python tools/make_backward_fixtures.py
(``--only FAMILY``, repeatable, writes just those cases, e.g. ``--only qwen3``).
"""
import argparse
import hashlib
import json
import math
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "Fixtures", "models")
OUT = os.path.join(ROOT, "Tests", "TreeRPOTests", "Fixtures", "backward")

# Each case: model folder, seed, loss settings, weighting.
CASES = [
    dict(family="llama", folder="llama-hf", seed=61, eps_low=0.2, eps_high=0.2, beta=0.0, weights="token-mean"),
    dict(family="qwen2", folder="qwen2-hf", seed=62, eps_low=0.2, eps_high=0.28, beta=0.04, weights="sequence-mean"),
    dict(family="gpt2", folder="gpt2-hf", seed=63, eps_low=0.2, eps_high=0.2, beta=0.1, weights="sequence-mean"),
    # Qwen3: q_norm/k_norm per head before RoPE, no q/k/v biases, head_dim 16 != 32 / 4, untied head.
    dict(family="qwen3", folder="qwen3-hf", seed=65, eps_low=0.2, eps_high=0.28, beta=0.04, weights="sequence-mean"),
    # Made here (committed beside the fixture): every optional bias, untied head, 4 query heads
    # sharing 1 KV head, and heads * head_dim (32) != hidden (24).
    dict(family="llama_biases", folder=None, seed=64, eps_low=0.15, eps_high=0.25, beta=0.02, weights="token-mean",
         config=dict(model_type="llama", vocab_size=96, hidden_size=24, intermediate_size=40, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=1, head_dim=8, max_position_embeddings=64,
                     attention_bias=True, mlp_bias=True, tie_word_embeddings=False, rms_norm_eps=1e-5,
                     bos_token_id=1, eos_token_id=2)),
]

# The tree: node -> (parent node, number of tokens). Node 0 is the prompt. Node 7 is a leaf
# that ended early (one token); nodes at depth 3 are leaves.
TREE = [
    (-1, 6),  # 0 prompt
    (0, 4),   # 1
    (0, 3),   # 2
    (0, 4),   # 3
    (1, 3),   # 4
    (1, 5),   # 5
    (2, 4),   # 6
    (2, 1),   # 7 (ended early)
    (3, 3),   # 8
    (4, 2),   # 9
    (4, 3),   # 10
    (6, 4),   # 11
]


def pack(gen, vocab):
    """Tokens, parents, positions, node of each token, in node order (parents come first)."""
    tokens, parents, positions, nodes = [], [], [], []
    last = {}  # node -> index of its last token
    for node, (parent, length) in enumerate(TREE):
        prev = last[parent] if parent >= 0 else -1
        for _ in range(length):
            tokens.append(int(torch.randint(3, vocab, (1,), generator=gen)))
            parents.append(prev)
            positions.append(positions[prev] + 1 if prev >= 0 else 0)
            nodes.append(node)
            prev = len(tokens) - 1
        last[node] = prev
    return tokens, parents, positions, nodes


def tree_mask(parents):
    n = len(parents)
    allow = torch.zeros(n, n, dtype=torch.bool)
    for i in range(n):
        j = i
        while j >= 0:
            allow[i, j] = True
            j = parents[j]
    return torch.zeros(1, 1, n, n, dtype=torch.float64).masked_fill(~allow, float("-inf"))


def path_of(i, parents):
    path = []
    while i >= 0:
        path.append(i)
        i = parents[i]
    return path[::-1]


def perturbation(gen, eps_low, eps_high):
    """old = new + delta; rho = exp(-delta). Draws well inside the clip range (|log rho| <= 0.1)
    or well outside it (|log rho| in [0.35, 0.6]), never near a boundary, so float32 and
    float64 agree on which tokens are clipped."""
    u = float(torch.rand(1, generator=gen))
    mag = float(torch.rand(1, generator=gen))
    sign = 1.0 if float(torch.rand(1, generator=gen)) < 0.5 else -1.0
    assert math.log(1 + eps_high) > 0.12 and -math.log(1 - eps_low) > 0.12
    if u < 0.6:
        return sign * 0.1 * mag
    return sign * (0.35 + 0.25 * mag)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_model(case, folder):
    """A random float32 model of case["config"] written as an HF folder: matrices N(0, 0.08),
    biases N(0, 0.1), norm weights 1 + N(0, 0.1) (HF would start biases at 0 and norms at 1,
    which would leave those parameters' forward roles untested)."""
    from transformers import AutoConfig
    kw = dict(case["config"])
    config = AutoConfig.for_model(kw.pop("model_type"), **kw)
    gen = torch.Generator().manual_seed(case["seed"] + 1000)
    model = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if p.dim() > 1:
                p.copy_(0.08 * noise)
            elif name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * noise)
            else:
                p.copy_(0.1 * noise)
    model.save_pretrained(folder, safe_serialization=True)
    extra = os.path.join(folder, "generation_config.json")  # not needed by the test
    if os.path.exists(extra):
        os.remove(extra)


def build(case):
    torch.manual_seed(case["seed"])
    gen = torch.Generator().manual_seed(case["seed"])
    if case["folder"] is None:
        folder = os.path.join(OUT, f"{case['family']}-hf")
        make_model(case, folder)
    else:
        folder = os.path.join(MODELS, case["folder"])
    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=torch.float64)
    model.eval()  # no dropout (GPT-2's config has p = 0.1)
    vocab = model.config.vocab_size

    tokens, parents, positions, nodes = pack(gen, vocab)
    n = len(tokens)
    ids = torch.tensor([tokens])
    pos = torch.tensor([positions])
    logits = model(input_ids=ids, attention_mask=tree_mask(parents), position_ids=pos).logits[0]  # [n, vocab]

    # The tree mask and positions really are what the model saw: each token's logits equal
    # those of its root-to-leaf path run alone, causally, with positions 0..depth-1.
    with torch.no_grad():
        worst = 0.0
        for i in range(n):
            path = path_of(i, parents)
            alone = model(input_ids=torch.tensor([[tokens[j] for j in path]])).logits[0]
            worst = max(worst, float((alone - logits[path]).abs().max()))
        # Not 0: transformers computes RoPE's cos/sin in float32 even for a float64 model, and
        # torch's vectorised cos differs by an ulp from the scalar path that short inputs take.
        bound = 1e-5 * float(logits.abs().max())
        assert worst < bound, f"{case['family']}: tree-masked logits differ from path-alone logits by {worst} > {bound}"

    # Loss tokens: every token outside the root prompt, predicted from its predecessor's row.
    node_adv = torch.randn(len(TREE), generator=gen).tolist()
    loss_tokens = []
    for i in range(n):
        if nodes[i] == 0:
            continue
        loss_tokens.append(dict(row=parents[i], token=tokens[i], advantage=float(node_adv[nodes[i]])))
    rows = torch.tensor([t["row"] for t in loss_tokens])
    targets = torch.tensor([t["token"] for t in loss_tokens])
    logp = torch.log_softmax(logits, dim=-1)
    new = logp[rows, targets]  # [T]
    T = len(loss_tokens)

    # Weights: token-mean (1/T each), or sequence-mean over root-to-leaf paths: each leaf's
    # path gets 1/leaves, spread over its loss tokens; a shared token sums its paths' shares.
    packed = [i for i in range(n) if nodes[i] != 0]  # loss token k is packed token packed[k]
    if case["weights"] == "token-mean":
        weights = [1.0 / T] * T
    else:
        has_children = {p for p, _ in TREE if p >= 0}
        leaves = [k for k in range(len(TREE)) if k not in has_children]
        weights = [0.0] * T
        for leaf in leaves:
            chain, x = set(), leaf
            while x > 0:
                chain.add(x)
                x = TREE[x][0]
            members = [k for k, i in enumerate(packed) if nodes[i] in chain]
            for k in members:
                weights[k] += 1.0 / len(leaves) / len(members)

    old, ref = [], []
    with torch.no_grad():
        for k in range(T):
            old.append(float(new[k]) + perturbation(gen, case["eps_low"], case["eps_high"]))
            ref.append(float(new[k]) + 0.3 * float(torch.randn(1, generator=gen)))
    old_t = torch.tensor(old, dtype=torch.float64)
    ref_t = torch.tensor(ref, dtype=torch.float64)
    adv = torch.tensor([t["advantage"] for t in loss_tokens], dtype=torch.float64)
    w = torch.tensor(weights, dtype=torch.float64)

    rho = torch.exp(new - old_t)
    surrogate = -torch.minimum(rho * adv, torch.clamp(rho, 1 - case["eps_low"], 1 + case["eps_high"]) * adv)
    kl = torch.exp(ref_t - new) - (ref_t - new) - 1
    per_token = surrogate + case["beta"] * kl
    loss = (w * per_token).sum()
    model.zero_grad()
    loss.backward()

    with torch.no_grad():
        r = rho.detach()
        clipped = ((adv > 0) & (r > 1 + case["eps_high"])) | ((adv < 0) & (r < 1 - case["eps_low"]))
        probs = torch.softmax(logits.detach(), dim=-1)
        entropy_rows = -(probs * torch.log_softmax(logits.detach(), dim=-1)).sum(-1)
        entropy = entropy_rows[rows]
    n_clipped = int(clipped.sum())
    assert 0 < n_clipped < T, f"{case['family']}: {n_clipped} of {T} tokens clipped; want some, not all"
    inside = int((((r - 1).abs()) < 0.12).sum())
    assert inside > 0

    grads = {}
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        grads[name] = p.grad.detach().to(torch.float32).contiguous()

    for k, t in enumerate(loss_tokens):
        t.update(old_log_prob=old[k], ref_log_prob=ref[k], weight=weights[k])
    payload = dict(
        description=f"tools/make_backward_fixtures.py: packed-tree policy loss and gradients of {case['folder']}",
        torch=torch.__version__, dtype="float64",
        model_folder=os.path.relpath(folder, ROOT),
        model_sha256=sha256(os.path.join(folder, "model.safetensors")),
        tied_embeddings=bool(model.config.tie_word_embeddings),
        tokens=tokens, parents=parents, positions=positions, nodes=nodes,
        settings=dict(eps_low=case["eps_low"], eps_high=case["eps_high"], beta=case["beta"], weights=case["weights"]),
        loss_tokens=loss_tokens,
        loss=loss.item(),
        new_log_probs=[float(x) for x in new.detach()],
        clip_fraction=n_clipped / T,
        kl_mean=float(kl.detach().mean()),
        entropy_mean=float(entropy.mean()),
        gradient_names=sorted(grads),
    )
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f"{case['family']}.json"), "w") as f:
        json.dump(payload, f, indent=1)
        f.write("\n")
    save_file(grads, os.path.join(OUT, f"{case['family']}.safetensors"), metadata={"format": "pt"})  # one key: a deterministic header
    print(f"{case['family']}: {n} packed tokens, {T} loss tokens, {n_clipped} clipped, loss {loss.item():.6f}, "
          f"{len(grads)} gradient tensors")


def main():
    ap = argparse.ArgumentParser(description="PyTorch autograd references for the packed-tree backward pass")
    ap.add_argument("--only", action="append", metavar="FAMILY",
                    help="write only this case (family name, e.g. qwen3); repeatable")
    args = ap.parse_args()
    unknown = set(args.only or ()) - {c["family"] for c in CASES}
    if unknown:
        ap.error(f"unknown family: {', '.join(sorted(unknown))}")
    torch.set_num_threads(1)
    for case in CASES:
        if args.only and case["family"] not in args.only:
            continue
        build(case)


if __name__ == "__main__":
    sys.exit(main())
