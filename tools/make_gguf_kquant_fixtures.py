#!/usr/bin/env python3
"""Build Tests/ModelFilesTests/Fixtures/gguf-quantize-k.gguf, the worked K-quant blocks the
Swift re-quantisation (GGUF export of Q4_K / Q5_K / Q6_K tensors) must reproduce byte for byte.

The `gguf` package (0.19.0) cannot quantise K-quants, so the expected bytes come from
tools/kquants_reference.py, an independent numpy implementation of llama.cpp's reference
algorithm (quantize_row_q{4,5,6}_K_ref). The file holds:
  input            F32 [8, 256]: eight super-blocks chosen to reach every branch (random normal
                   at two scales, zero / constant / all-positive / all-negative / .5-tie /
                   outlier sub-blocks, an all-zero super-block, a constant super-block, values
                   so small the f16 scales underflow, a heavy tail, uniform)
  <TYPE>           that input quantised by the numpy reference (Q4_K, Q5_K, Q6_K)
  <TYPE>.dequantized  F32: gguf.quants.dequantize of those bytes (the package's own reader),
                   which the Swift dequantiser must equal bit for bit
and this script prints the round-trip RMS error relative to the input's RMS per type.

Run with the tools venv: .venv-tools/bin/python tools/make_gguf_kquant_fixtures.py
"""
from pathlib import Path
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kquants_reference import QUANTIZERS  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "Tests" / "ModelFilesTests" / "Fixtures" / "gguf-quantize-k.gguf"


def fixture_input():
    rng = np.random.default_rng(20261206)
    x = np.zeros((8, 256), dtype=np.float32)
    x[0] = rng.standard_normal(256) * 0.5
    x[1] = rng.standard_normal(256) * 0.02                       # trained-weight scale
    row = rng.standard_normal(256).astype(np.float32) * 0.1
    row[0:32] = 0                                                # zero sub-block
    row[32:64] = 0.375                                           # constant positive
    row[64:96] = rng.uniform(0.1, 1.0, 32)                       # all positive: min clamps to 0
    row[96:128] = -rng.uniform(0.1, 1.0, 32)                     # all negative
    row[128:160] = np.arange(-16, 16) * 0.5                      # exact .5 steps
    row[170] = 3.0                                               # one outlier
    x[2] = row
    # x[3] stays all zero: Q6_K's zero super-block, Q4_K/Q5_K with max_scale = 0
    x[4] = 0.375                                                 # constant super-block
    x[5] = rng.standard_normal(256) * 1e-6                       # f16 scales underflow
    x[6] = rng.standard_normal(256) ** 3 * 0.05                  # heavy tail
    x[7] = rng.uniform(-1, 1, 256)
    return x.astype(np.float32)


def main():
    x = fixture_input()
    flat = x.reshape(-1)
    writer = gguf.GGUFWriter(OUT, "quantize-k-fixture")
    writer.add_tensor("input", x, raw_dtype=T.F32)
    dequantized = []
    for name, quantize in QUANTIZERS.items():
        qtype = T[name]
        _, type_size = gguf.GGML_QUANT_SIZES[qtype]
        raw = np.frombuffer(quantize(flat), dtype=np.uint8).reshape(8, type_size)
        writer.add_tensor(name, raw, raw_dtype=qtype)
        back = gguf.quants.dequantize(raw, qtype).astype(np.float32).reshape(8, 256)
        dequantized.append((name, back))
        rel = np.sqrt(np.mean((back.astype(np.float64) - x) ** 2)) / np.sqrt(np.mean(x.astype(np.float64) ** 2))
        print(f"{name}: round-trip RMS error / RMS(input) = {rel:.5f}")
    for name, back in dequantized:
        writer.add_tensor(name + ".dequantized", back, raw_dtype=T.F32)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(OUT.name, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
