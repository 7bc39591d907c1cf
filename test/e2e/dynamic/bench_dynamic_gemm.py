#!/usr/bin/env python3
"""Speed of a linear layer with a dynamic number of rows against the same layer compiled for a
static row count: single-MatMul ONNX models x[M, 4096] @ W[4096, 4096] (random float32
weights) with M static (1 or 128) or the ONNX dim_param "m" (ABI 3), compiled by BUILD's
sqz-compile and timed through the artifact C ABI with ctypes (same harness for both; the
dynamic artifact runs at the static model's M). Prints min/median ms per model.

    /usr/bin/python3 test/e2e/dynamic/bench_dynamic_gemm.py BUILD [--runs 20] [--k 4096] [--n 4096]
"""
import argparse
import ctypes
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def make_model(path, m, k, n, w):
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
        [numpy_helper.from_array(w, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def load(art):
    with open(os.path.join(art, "manifest.json")) as f:
        manifest = json.load(f)
    lib = ctypes.CDLL(os.path.join(art, manifest["library"]))
    weights = None
    if "weights" in manifest:
        with open(os.path.join(art, manifest["weights"]["file"]), "rb") as f:
            data = f.read()
        (hlen,) = struct.unpack("<Q", data[:8])
        weights = np.frombuffer(data[8 + hlen:], dtype=np.uint8).copy()
    return manifest, lib, weights


def time_calls(call, runs):
    for _ in range(3):
        call()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--k", type=int, default=4096)
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 128])
    args = parser.parse_args()
    work = os.path.join(tempfile.gettempdir(), "sqz-dynamic-gemm")
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(0)
    k, n = args.k, args.n
    w = (rng.standard_normal((k, n), dtype=np.float32) / np.sqrt(k)).astype(np.float32)
    compile_ = os.path.join(args.build, "bin", "sqz-compile")
    dyn_model, dyn_art = os.path.join(work, "dyn.onnx"), os.path.join(work, "dyn")
    make_model(dyn_model, "m", k, n, w)
    subprocess.run([compile_, dyn_model, "-o", dyn_art], check=True, stdout=subprocess.DEVNULL)
    dyn_manifest, dyn_lib, dyn_weights = load(dyn_art)
    assert dyn_manifest["abi_version"] == 3
    print("%-6s %-8s %10s %10s" % ("rows", "model", "min ms", "median ms"))
    for m in args.rows:
        x = rng.standard_normal((m, k), dtype=np.float32)
        want = x.astype(np.float64) @ w.astype(np.float64)
        model, art = os.path.join(work, "static%d.onnx" % m), os.path.join(work, "static%d" % m)
        make_model(model, m, k, n, w)
        subprocess.run([compile_, model, "-o", art], check=True, stdout=subprocess.DEVNULL)
        manifest, lib, weights = load(art)
        for name, lib_, weights_, dynamic in (("static", lib, weights, False),
                                               ("dynamic", dyn_lib, dyn_weights, True)):
            y = np.zeros((m, n), dtype=np.float32)
            ptrs = [x.ctypes.data, y.ctypes.data] + ([weights_.ctypes.data]
                                                     if weights_ is not None else [])
            buffers = (ctypes.c_void_p * len(ptrs))(*ptrs)
            invoke = lib_.sqz_model_invoke
            if dynamic:
                shapes = (ctypes.c_int64 * 4)(m, k, m, n)
                call = lambda: invoke(buffers, shapes)
            else:
                call = lambda: invoke(buffers)
            call()
            err = float(np.max(np.abs(y - want)))
            if err > 1e-3:
                sys.exit("%s M=%d: max_abs_err %g" % (name, m, err))
            tmin, tmed = time_calls(call, args.runs)
            print("%-6d %-8s %10.3f %10.3f" % (m, name, tmin * 1e3, tmed * 1e3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
