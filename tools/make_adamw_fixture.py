#!/usr/bin/env python3
"""Writes Tests/TreeRPOTests/Fixtures/adamw.json: ten torch.optim.AdamW steps for the Swift test.

Two cases over three small tensors with fixed random gradients per step:
  - "decay": lr 3e-3, betas (0.8, 0.95), eps 1e-6, weight decay 0.1, the 1-D tensor in a
    param group with weight decay 0 (our no-decay range); constant lr.
  - "clip": lr changes every step (given in the file), betas (0.85, 0.98), eps 1e-7, weight
    decay 0.05 on all, gradients clipped with clip_grad_norm_(max_norm=0.5) before each step;
    the pre-clip norms are recorded too.
Parameters and gradients are float32; the file stores them flattened in tensor order, the
layout the Swift optimiser sees. Run with the project venv: .venv-tools/bin/python tools/make_adamw_fixture.py
"""
import json
import os

import torch

SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 10


def flat(tensors):
    return [float(x) for t in tensors for x in t.detach().reshape(-1).tolist()]


def run(name, lr_per_step, betas, eps, wd, no_decay_index, max_norm, seed):
    g = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(s, generator=g)) for s in SHAPES]
    initial = flat(params)
    groups = []
    for i, p in enumerate(params):
        groups.append({"params": [p], "weight_decay": 0.0 if i == no_decay_index else wd})
    opt = torch.optim.AdamW(groups, lr=lr_per_step[0], betas=betas, eps=eps, weight_decay=wd, foreach=False)
    grads_per_step, params_per_step, norms = [], [], []
    for step in range(STEPS):
        for p in params:
            p.grad = torch.randn(p.shape, generator=g) * 0.3
        grads_per_step.append(flat([p.grad for p in params]))
        if max_norm is not None:
            norms.append(float(torch.nn.utils.clip_grad_norm_(params, max_norm)))
        for group in opt.param_groups:
            group["lr"] = lr_per_step[step]
        opt.step()
        params_per_step.append(flat(params))
    offsets, at = [], 0
    for s in SHAPES:
        n = 1
        for d in s:
            n *= d
        offsets.append([at, at + n])
        at += n
    return {
        "name": name,
        "lr": lr_per_step,
        "beta1": betas[0], "beta2": betas[1], "eps": eps, "weight_decay": wd,
        "no_decay": [offsets[no_decay_index]] if no_decay_index is not None else [],
        "max_norm": max_norm,
        "initial": initial,
        "grads": grads_per_step,  # grads[step] before clipping
        "pre_clip_norms": norms,
        "params": params_per_step,  # params[step] after the update
    }


def main():
    cases = [
        run("decay", [3e-3] * STEPS, (0.8, 0.95), 1e-6, 0.1, 1, None, seed=1),
        run("clip", [1e-2 * (k + 1) / STEPS for k in range(STEPS)], (0.85, 0.98), 1e-7, 0.05, None, 0.5, seed=2),
    ]
    out = {"generator": "tools/make_adamw_fixture.py", "torch": torch.__version__, "cases": cases}
    path = os.path.join(os.path.dirname(__file__), "..", "Tests", "TreeRPOTests", "Fixtures", "adamw.json")
    with open(path, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
