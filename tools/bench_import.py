#!/usr/bin/env python3
"""The Python peer of `treerpo bench import`: onnx.load (with external data) + conversion of
every initializer to a numpy float32 array, the minimal Python path to fp32 weights.

    --child MODEL     one run (what `treerpo bench import` times, in a fresh process)
    --model MODEL     drive both alternately here: `treerpo import` and the child above, each a
                      fresh process, reporting median wall time and peak RSS (os.wait4) and ratios
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def child(path):
    import numpy as np
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path, load_external_data=True)
    total = 0
    arrays = []
    for t in m.graph.initializer:
        if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16, onnx.TensorProto.DOUBLE):
            a = numpy_helper.to_array(t).astype(np.float32, copy=False)
            arrays.append(a)
            total += a.size
    print(total)


def measure(argv):
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{argv} exited with {proc.returncode}")
    return time.perf_counter() - start, usage.ru_maxrss * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child")
    parser.add_argument("--model")
    parser.add_argument("--treerpo", default=".build-imp/release/treerpo")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if not args.model:
        parser.error("--model or --child is required")
    with tempfile.TemporaryDirectory() as tmp:
        variants = {
            "treerpo import (written)": [args.treerpo, "import", args.model, "--workspace", os.path.join(tmp, "ws"), "--replace"],
            "treerpo import (in memory)": [args.treerpo, "bench", "import", "--model", args.model, "--child-load-only"],
            "python onnx.load + float32": [sys.executable, os.path.abspath(__file__), "--child", args.model],
        }
        results = {k: [] for k in variants}
        for r in range(args.rounds):
            for name, argv in variants.items():
                seconds, peak = measure(argv)
                results[name].append((seconds, peak))
                print(f"round {r + 1}  {name:30s} {seconds:7.2f} s  {peak / 1e6:7.0f} MB", flush=True)
    med = {k: (statistics.median(s for s, _ in v), statistics.median(p for _, p in v)) for k, v in results.items()}
    py = med["python onnx.load + float32"]
    print()
    for name, (s, p) in med.items():
        print(f"{name:30s} median {s:7.2f} s  peak {p / 1e6:7.0f} MB  python time / this {py[0] / s:5.2f}  python peak / this {py[1] / p:5.2f}")


if __name__ == "__main__":
    main()
