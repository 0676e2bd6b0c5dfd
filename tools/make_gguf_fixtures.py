#!/usr/bin/env python3
"""Build the committed GGUF dequantisation fixtures under Tests/ModelFilesTests/Fixtures/.

gguf-dequant.gguf           one [2, 512] tensor per supported type and origin, written with
                            gguf.GGUFWriter:
                              <TYPE>.quantized  random normal floats through gguf.quantize
                                                (types the package quantises: F32, F16, BF16,
                                                Q4_0, Q4_1, Q5_0, Q5_1, Q8_0)
                              <TYPE>.random     random block bytes with finite random f16 scales
                                                (every quantised type; dequantisation is defined
                                                for any bytes, and the package cannot quantise
                                                Q4_K, Q5_K, Q6_K)
gguf-dequant-expected.gguf  the same names as F32: gguf.dequantize of each tensor's bytes, the
                            reference the Swift dequantiser must equal bit for bit.
gguf-quantize.gguf          "input": F32 [4, 256] (random normal rows, one all-zero block, one
                            block of equal values, one with exact ties at .5 steps), and for every
                            type gguf.quantize implements (F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
                            Q5_1) that input quantised by the package: the bytes the Swift
                            re-quantisation (GGUF export) must equal.

Run with the tools venv: .venv-tools/bin/python tools/make_gguf_fixtures.py
"""
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

OUT = Path(__file__).resolve().parent.parent / "Tests" / "ModelFilesTests" / "Fixtures"
ROWS, COLS = 2, 512

QUANTISABLE = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]
RANDOM_BYTES = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q4_K, T.Q5_K, T.Q6_K]
# Byte offsets of the f16 scales inside each block (they get finite random values).
SCALE_OFFSETS = {T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
                 T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}


def random_blocks(rng, qtype):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = ROWS * COLS // block
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    for at in SCALE_OFFSETS[qtype]:
        scales = (rng.standard_normal(n_blocks) * 0.05).astype(np.float16)
        raw[:, at:at + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
    return raw.reshape(ROWS, COLS // block * size)


def main():
    rng = np.random.default_rng(20261205)
    tensors = []  # (name, stored array, type)
    for qtype in QUANTISABLE:
        values = (rng.standard_normal((ROWS, COLS)) * 0.5).astype(np.float32)
        stored = gguf.quantize(values, qtype)
        tensors.append((f"{qtype.name}.quantized", stored, qtype))
    for qtype in RANDOM_BYTES:
        tensors.append((f"{qtype.name}.random", random_blocks(rng, qtype), qtype))

    writer = gguf.GGUFWriter(OUT / "gguf-dequant.gguf", "dequant-fixture")
    expected = gguf.GGUFWriter(OUT / "gguf-dequant-expected.gguf", "dequant-fixture")
    for name, stored, qtype in tensors:
        writer.add_tensor(name, stored, raw_dtype=qtype)
        as_bytes = np.ascontiguousarray(stored).view(np.uint8)
        reference = gguf.dequantize(as_bytes, qtype).astype(np.float32).reshape(ROWS, COLS)
        expected.add_tensor(name, reference, raw_dtype=T.F32)
    for w in (writer, expected):
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    values = (rng.standard_normal((4, 256)) * 0.5).astype(np.float32)
    values[1, :32] = 0
    values[1, 32:64] = 0.375
    values[2, :32] = np.arange(-16, 16, dtype=np.float32) * 0.5
    quantised = gguf.GGUFWriter(OUT / "gguf-quantize.gguf", "quantize-fixture")
    quantised.add_tensor("input", values, raw_dtype=T.F32)
    for qtype in [T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1]:
        quantised.add_tensor(qtype.name, gguf.quantize(values, qtype), raw_dtype=qtype)
    quantised.write_header_to_file()
    quantised.write_kv_data_to_file()
    quantised.write_tensors_to_file()
    quantised.close()
    for name in ("gguf-dequant.gguf", "gguf-dequant-expected.gguf", "gguf-quantize.gguf"):
        print(name, (OUT / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
