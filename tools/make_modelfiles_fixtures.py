#!/usr/bin/env python3
"""Writes the small fixtures of Tests/ModelFilesTests/Fixtures and their expected values.

Run from the repository root:  .venv-tools/bin/python tools/make_modelfiles_fixtures.py

The reference for every expected value is numpy / onnx.numpy_helper / torch, never our
Swift code. Files written (all a few KB):
  tiny.onnx                 initializers in every storage form + Constant nodes + metadata_props
  external.onnx, external.bin   two initializers whose data lives in external.bin
  tensors.safetensors       F32/F16/BF16/F64/I64/I32/I8/U8/BOOL written by the safetensors library
  config_llama.json, config_qwen2.json, config_gpt2.json, config_qwen3_tf5.json
  expected.json             {"onnx": {...}, "external": {...}, "safetensors": {...}}
"""
import json
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "ModelFilesTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)

rng = np.random.default_rng(1234)


def f16_bits(a):
    return np.asarray(a, dtype=np.float16).view(np.uint16).astype(np.int32)


def bf16_bits(a):
    # Round-to-nearest-even through torch, the reference the trainer will meet in checkpoints.
    t = torch.tensor(np.asarray(a, dtype=np.float32)).to(torch.bfloat16)
    return t.view(torch.int16).numpy().astype(np.int32) & 0xFFFF


def bf16_values(bits):
    return (np.asarray(bits, dtype=np.uint32) << 16).view(np.float32)


def make_tiny():
    inits = []
    expected = {}

    def add(t, values, kind):
        inits.append(t)
        expected[t.name] = {"dims": list(t.dims), "data_type": t.data_type, kind: values}

    w = rng.standard_normal((2, 3)).astype(np.float32)
    add(numpy_helper.from_array(w, "w_raw"), w.ravel().tolist(), "floats")  # raw_data

    v = np.array([0.5, -1.25, 3.0], dtype=np.float32)
    add(helper.make_tensor("w_float_data", TensorProto.FLOAT, [3], v.tolist()), v.tolist(), "floats")

    s = np.array(2.5, dtype=np.float32)
    add(numpy_helper.from_array(s, "scalar_raw"), [2.5], "floats")  # rank 0

    add(helper.make_tensor("empty_float", TensorProto.FLOAT, [0, 4], []), [], "floats")

    i64 = [1, -2, 3_000_000_000, -9_007_199_254_740_993 // 1024]
    add(helper.make_tensor("i64_data", TensorProto.INT64, [4], i64), i64, "ints")
    add(numpy_helper.from_array(np.array(i64, dtype=np.int64), "i64_raw"), i64, "ints")

    i32 = [7, -8, 2_000_000_000]
    add(helper.make_tensor("i32_data", TensorProto.INT32, [3], i32), i32, "ints")
    add(numpy_helper.from_array(np.array(i32, dtype=np.int32), "i32_raw"), i32, "ints")

    h = np.array([1.0, -2.0, 0.1, 65504.0, 6e-8, 0.0], dtype=np.float16)
    hv = h.astype(np.float32).tolist()
    t = onnx.TensorProto(name="f16_int32", data_type=TensorProto.FLOAT16, dims=[2, 3])
    t.int32_data.extend(f16_bits(h).tolist())
    add(t, hv, "floats")
    add(numpy_helper.from_array(h.reshape(2, 3), "f16_raw"), hv, "floats")

    b = [1.0, -3.140625, 1e30, -1e-30, 0.333]
    bits = bf16_bits(b)
    bv = bf16_values(bits).tolist()
    t = onnx.TensorProto(name="bf16_int32", data_type=TensorProto.BFLOAT16, dims=[5])
    t.int32_data.extend(bits.tolist())
    add(t, bv, "floats")
    t = onnx.TensorProto(name="bf16_raw", data_type=TensorProto.BFLOAT16, dims=[5])
    t.raw_data = np.asarray(bits, dtype=np.uint16).astype("<u2").tobytes()
    add(t, bv, "floats")

    d = [1.5, -2.25, 1e-3]
    add(helper.make_tensor("f64_data", TensorProto.DOUBLE, [3], d), np.float32(d).tolist(), "floats")
    add(numpy_helper.from_array(np.array(d, dtype=np.float64), "f64_raw"), np.float32(d).tolist(), "floats")

    nodes = [
        helper.make_node("Constant", [], ["c_tensor"], name="const_tensor",
                         value=numpy_helper.from_array(np.array([[1.0, 2.0]], dtype=np.float32))),
        helper.make_node("Constant", [], ["c_float"], name="const_float", value_float=0.75),
        helper.make_node("Constant", [], ["c_int"], name="const_int", value_int=-3),
        helper.make_node("Constant", [], ["c_floats"], name="const_floats", value_floats=[1.5, 2.5]),
        helper.make_node("Constant", [], ["c_ints"], name="const_ints", value_ints=[4, 5, 6]),
        helper.make_node("Gemm", ["x", "w_raw"], ["y"], name="gemm", alpha=0.5, transB=0),
    ]
    gemm = nodes[-1]
    gemm.metadata_props.add(key="pkg.torch.onnx.name_scopes", value="['', 'layers.0', 'mlp']")
    gemm.metadata_props.add(key="namespace", value="layers.0.mlp")
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        initializer=inits)
    model = helper.make_model(graph, producer_name="make_modelfiles_fixtures",
                              opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 9
    # Fields our tools/onnx.proto leaves out on purpose: they must survive a Swift round trip as
    # unknown fields (ModelProto.configuration = 26, GraphProto.quantization_annotation = 14,
    # NodeProto.device_configurations = 10).
    model.configuration.add(name="mesh", num_devices=2, device=["cpu0", "cpu1"])
    graph_ann = model.graph.quantization_annotation.add(tensor_name="w_raw")
    graph_ann.quant_parameter_tensor_names.add(key="SCALE_TENSOR", value="w_float_data")
    model.graph.node[-1].device_configurations.add(configuration_id="mesh", pipeline_stage=1)
    onnx.save(model, os.path.join(OUT, "tiny.onnx"))
    constants = {
        "c_tensor": {"dims": [1, 2], "floats": [1.0, 2.0]},
        "c_float": {"dims": [], "floats": [0.75]},
        "c_int": {"dims": [], "ints": [-3]},
        "c_floats": {"dims": [2], "floats": [1.5, 2.5]},
        "c_ints": {"dims": [3], "ints": [4, 5, 6]},
    }
    return {"initializers": expected, "order": [t.name for t in inits], "constants": constants,
            "opsets": {"": 18, "com.microsoft": 1}}


def make_external():
    a = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    b = np.array([10, -20, 30], dtype=np.int64)
    blob = bytearray(b"HEAD" * 4)  # 16 bytes of padding so offsets are non-zero
    inits = []
    expected = {}
    for name, arr, kind in (("ext_a", a, "floats"), ("ext_b", b, "ints")):
        t = numpy_helper.from_array(arr, name)
        raw = t.raw_data
        offset = len(blob)
        blob += raw
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", "external.bin"), ("offset", str(offset)), ("length", str(len(raw)))):
            t.external_data.add(key=k, value=v)
        inits.append(t)
        expected[name] = {"dims": list(arr.shape), "data_type": t.data_type, kind: arr.ravel().tolist()}
    with open(os.path.join(OUT, "external.bin"), "wb") as f:
        f.write(bytes(blob))
    graph = helper.make_graph(
        [helper.make_node("Identity", ["ext_a"], ["out"])], "external", [],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2, 3])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    with open(os.path.join(OUT, "external.onnx"), "wb") as f:
        f.write(model.SerializeToString())  # onnx.save would try to re-externalize
    return expected


def make_safetensors():
    g = torch.Generator().manual_seed(7)
    tensors = {
        "model.embed.weight": torch.randn(4, 3, generator=g),
        "layer.f16": torch.randn(5, generator=g).to(torch.float16),
        "layer.bf16": torch.randn(2, 2, generator=g).to(torch.bfloat16),
        "layer.f64": torch.tensor([1.5, -0.25], dtype=torch.float64),
        "ids.i64": torch.tensor([1, -2, 3_000_000_000], dtype=torch.int64),
        "ids.i32": torch.tensor([7, -7], dtype=torch.int32),
        "small.i8": torch.tensor([-128, 127, 0], dtype=torch.int8),
        "small.u8": torch.tensor([0, 255], dtype=torch.uint8),
        "mask.bool": torch.tensor([True, False, True], dtype=torch.bool),
        "scalar": torch.tensor(3.5),
    }
    save_file(tensors, os.path.join(OUT, "tensors.safetensors"), metadata={"format": "pt"})
    expected = {}
    for name, t in tensors.items():
        dtype = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                 torch.float64: "F64", torch.int64: "I64", torch.int32: "I32", torch.int8: "I8",
                 torch.uint8: "U8", torch.bool: "BOOL"}[t.dtype]
        if t.dtype.is_floating_point:
            entry = {"floats": t.float().reshape(-1).tolist()}
        else:
            entry = {"ints": t.long().reshape(-1).tolist()}
        entry.update({"dtype": dtype, "shape": list(t.shape)})
        expected[name] = entry
    return expected


CONFIGS = {
    "config_llama.json": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256,
        "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
        "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
        "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "max_position_embeddings": 131072,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "tie_word_embeddings": True, "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009],
        "hidden_act": "silu", "attention_bias": False, "mlp_bias": False,
        "torch_dtype": "bfloat16", "initializer_range": 0.02, "pretraining_tp": 1,
    },
    "config_qwen2.json": {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 151936,
        "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
        "num_attention_heads": 14, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0, "max_position_embeddings": 32768, "sliding_window": 32768,
        "use_sliding_window": False, "max_window_layers": 21, "tie_word_embeddings": True,
        "bos_token_id": 151643, "eos_token_id": 151645, "hidden_act": "silu",
        "torch_dtype": "bfloat16", "rope_scaling": None, "attention_dropout": 0.0,
    },
    "config_gpt2.json": {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 50257,
        "n_embd": 768, "n_inner": None, "n_layer": 12, "n_head": 12, "n_positions": 1024,
        "layer_norm_epsilon": 1e-05, "activation_function": "gelu_new", "bos_token_id": 50256,
        "eos_token_id": 50256, "n_ctx": 1024, "resid_pdrop": 0.1,
    },
    # transformers 5 writes rope_parameters and dtype instead of rope_theta / torch_dtype.
    "config_qwen3_tf5.json": {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 151936,
        "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
        "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
        "rms_norm_eps": 1e-06, "max_position_embeddings": 40960,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
        "tie_word_embeddings": True, "bos_token_id": 151643, "eos_token_id": 151645,
        "pad_token_id": None, "hidden_act": "silu", "attention_bias": False, "dtype": "bfloat16",
        "sliding_window": None, "use_sliding_window": False,
    },
}


def main():
    expected = {"onnx": make_tiny(), "external": make_external(), "safetensors": make_safetensors()}
    for name, cfg in CONFIGS.items():
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(cfg, f, indent=2)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
    onnx.checker.check_model(os.path.join(OUT, "tiny.onnx"))
    for f in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(os.path.join(OUT, f)):8d}  {f}")


if __name__ == "__main__":
    main()
