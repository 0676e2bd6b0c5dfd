"""Reference outputs and gradients of every Tensors kernel, computed by PyTorch (float64 autograd
on the same float32 inputs) and by transformers' own RoPE, for the Swift test
`Tests/TensorsTests/TorchReferenceTests.swift`.

Regenerate with:  .venv-tools/bin/python tools/make_kernel_fixtures.py
(any Python with torch and transformers; writes Tests/TensorsTests/Fixtures/torch_kernels.json)
"""
import json
import pathlib

import torch
import torch.nn.functional as F
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/TensorsTests/Fixtures/torch_kernels.json"
gen = torch.Generator().manual_seed(1234)


def rand(*shape, scale=1.0):
    # float32 values, so the Swift side reads exactly the same inputs
    return ((torch.rand(*shape, generator=gen, dtype=torch.float32) * 2 - 1) * scale).double().requires_grad_(True)


def flat(t):
    return [float(f"{x:.9g}") for x in t.detach().reshape(-1).tolist()]


cases = []


def add(name, inputs, outputs, **attrs):
    cases.append({"name": name, "inputs": {k: {"shape": list(v.shape), "values": flat(v)} for k, v in inputs.items()},
                  "outputs": {k: {"shape": list(v.shape), "values": flat(v)} for k, v in outputs.items()}, **attrs})


def grads(y, dy, *xs):
    return torch.autograd.grad(y, xs, dy)


# matmul, every transpose combination: C = op(A) op(B)
for ta in (False, True):
    for tb in (False, True):
        m, n, k = 7, 5, 33
        a = rand(*((k, m) if ta else (m, k)))
        b = rand(*((n, k) if tb else (k, n)))
        c = (a.T if ta else a) @ (b.T if tb else b)
        dc = rand(m, n)
        da, db = grads(c, dc, a, b)
        add(f"matmul_{int(ta)}{int(tb)}", {"a": a, "b": b, "dc": dc}, {"c": c, "da": da, "db": db},
            transposeA=ta, transposeB=tb)

# embedding with repeated ids
table = rand(7, 5)
ids = torch.tensor([3, 0, 3, 6, 1, 3])
out = F.embedding(ids, table)
dout = rand(6, 5)
(dtable,) = grads(out, dout, table)
add("embedding", {"table": table, "dout": dout}, {"out": out, "dtable": dtable}, ids=ids.tolist())

# RMSNorm as Llama writes it, LayerNorm as torch
x = rand(4, 33, scale=3)
w = rand(33)
dy = rand(4, 33)
y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w
dx, dw = grads(y, dy, x, w)
add("rmsnorm", {"x": x, "weight": w, "dy": dy}, {"y": y, "dx": dx, "dweight": dw}, eps=1e-6)
b = rand(33)
y = F.layer_norm(x, (33,), w, b, eps=1e-5)
dx, dw, db = grads(y, dy, x, w, b)
add("layernorm", {"x": x, "weight": w, "bias": b, "dy": dy}, {"y": y, "dx": dx, "dweight": dw, "dbias": db}, eps=1e-5)

# RoPE through transformers' apply_rotary_pos_emb with cos/sin built the way its rotary
# embedding does (inv_freq = 1 / theta^(arange(0, d, 2) / d)), explicit positions.
tokens, heads, head_dim, theta = 5, 3, 8, 10000.0
positions = torch.tensor([0, 1, 7, 2, 30])
q = rand(tokens, heads, head_dim)
inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
freqs = positions.double()[:, None] * inv_freq[None, :]
emb = torch.cat([freqs, freqs], dim=-1)
# apply_rotary_pos_emb wants [batch, heads, seq, dim]
q4 = q.permute(1, 0, 2)[None]
rq, _ = apply_rotary_pos_emb(q4, q4, emb.cos()[None], emb.sin()[None])
rq = rq[0].permute(1, 0, 2)
drq = rand(tokens, heads, head_dim)
(dq,) = grads(rq, drq, q)
add("rope", {"x": q, "dy": drq}, {"y": rq, "dx": dq}, positions=positions.tolist(), theta=theta)

# activations
x = rand(257, scale=6)
dy = rand(257)
for name, fn in [("silu", F.silu), ("gelu", F.gelu), ("gelu_new", lambda t: F.gelu(t, approximate="tanh"))]:
    y = fn(x)
    (dx,) = grads(y, dy, x)
    add(f"activation_{name}", {"x": x, "dy": dy}, {"y": y, "dx": dx}, activation=name)
gate, up = rand(33, scale=4), rand(33)
dy = rand(33)
y = F.silu(gate) * up
dg, du = grads(y, dy, gate, up)
add("swiglu", {"gate": gate, "up": up, "dy": dy}, {"y": y, "dgate": dg, "dup": du})

# softmax family
x = rand(3, 257, scale=8)
dy = rand(3, 257)
y = torch.softmax(x, -1)
(dx,) = grads(y, dy, x)
add("softmax", {"x": x, "dy": dy}, {"y": y, "dx": dx})
y = torch.log_softmax(x, -1)
(dx,) = grads(y, dy, x)
add("log_softmax", {"x": x, "dy": dy}, {"y": y, "dx": dx})
targets = torch.tensor([5, 256, 0])
logp = torch.log_softmax(x, -1).gather(1, targets[:, None])[:, 0]
dlogp = rand(3)
(dx,) = grads(logp, dlogp, x)
add("token_logprob", {"logits": x, "dlogp": dlogp}, {"logp": logp, "dlogits": dx}, targets=targets.tolist())
loss = F.cross_entropy(x, targets)
(dx,) = grads(loss, torch.tensor(1.0, dtype=torch.float64), x)
add("cross_entropy", {"logits": x}, {"loss": loss.reshape(1), "dlogits": dx}, targets=targets.tolist())

# attention: torch's scaled_dot_product_attention with GQA, causal and a tree mask.
tree_parents = [-1, 0, 1, 2, 3, 4, 3, 6, 7, 3, 9, 5, 11, 5]
def ancestors(i):
    out = set()
    while i >= 0:
        out.add(i)
        i = tree_parents[i]
    return out
T = len(tree_parents)
tree_mask = torch.tensor([[j in ancestors(i) for j in range(T)] for i in range(T)])
causal_mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
for mask_name, mask in [("causal", causal_mask), ("tree", tree_mask)]:
    qh, kvh, d = 4, 2, 8
    q, k, v = rand(T, qh, d, scale=2), rand(T, kvh, d, scale=2), rand(T, kvh, d)
    out = F.scaled_dot_product_attention(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1),
                                         attn_mask=mask, enable_gqa=True).transpose(0, 1)
    dout = rand(T, qh, d)
    dq, dk, dv = grads(out, dout, q, k, v)
    add(f"attention_{mask_name}", {"q": q, "k": k, "v": v, "dout": dout},
        {"out": out, "dq": dq, "dk": dk, "dv": dv}, parents=tree_parents if mask_name == "tree" else None)

# attention over several sequences and trees packed into one sequence (the trainer's
# micro-batches): a causal run longer than the kernel's 64-query blocks, the tree above, a
# lone token, a tree with a 70-token path (spans two blocks) and a causal run. Drawn after the
# cases above so that they keep their values.
def packed_tree(prompt, branches):
    """parents of a tree: `prompt` tokens, then for each (parent node, length) one step."""
    parents, last = [i - 1 for i in range(prompt)], [prompt - 1]
    for parent, length in branches:
        parents += [last[parent]] + [len(parents) + j for j in range(length - 1)]
        last.append(len(parents) - 1)
    return parents
pieces = [[i - 1 for i in range(70)], tree_parents, [-1],
          packed_tree(30, [(0, 20), (1, 20), (1, 6), (0, 9), (4, 5)]), [i - 1 for i in range(23)]]
packed_parents = []
for piece in pieces:
    packed_parents += [p + len(packed_parents) if p >= 0 else -1 for p in piece]
def packed_ancestors(i):
    out = set()
    while i >= 0:
        out.add(i)
        i = packed_parents[i]
    return out
T = len(packed_parents)
packed_mask = torch.tensor([[j in packed_ancestors(i) for j in range(T)] for i in range(T)])
qh, kvh, d = 3, 1, 4
q, k, v = rand(T, qh, d, scale=2), rand(T, kvh, d, scale=2), rand(T, kvh, d)
out = F.scaled_dot_product_attention(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1),
                                     attn_mask=packed_mask, enable_gqa=True).transpose(0, 1)
dout = rand(T, qh, d)
dq, dk, dv = grads(out, dout, q, k, v)
add("attention_packed", {"q": q, "k": k, "v": v, "dout": dout},
    {"out": out, "dq": dq, "dk": dk, "dv": dv}, parents=packed_parents)

# fp16 / bf16 bit patterns from torch's own conversion
vals = torch.tensor([0.0, 1.0, -2.5, 65504.0, 65520.0, 1e-8, 6.1e-5, 3.14159265, -1e30, 1.0 + 1 / 2048, 1.0 + 3 / 2048,
                     0.1, 1234.5678, -0.000123], dtype=torch.float32)
half_bits = vals.to(torch.float16).view(torch.int16).tolist()
bf_bits = vals.to(torch.bfloat16).view(torch.int16).tolist()
conversions = {"values": [float(v) for v in vals.tolist()], "float16": [b & 0xFFFF for b in half_bits],
               "bfloat16": [b & 0xFFFF for b in bf_bits]}

OUT.parent.mkdir(parents=True, exist_ok=True)
OUT.write_text(json.dumps({"torch": torch.__version__, "cases": cases, "conversions": conversions}))
print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(cases)} cases)")
