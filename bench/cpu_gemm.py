#!/usr/bin/env python3
"""CPU speed of one linear layer: builds single-MatMul ONNX models with random float32 weights

  gemv  x[1, 4096]   @ W[4096, 4096]   (64 MiB of weights: bound by memory bandwidth)
  gemm  x[128, 4096] @ W[4096, 4096]   (4.3 GFLOP: bound by FMA throughput)

compiles each with every BUILD dir's sqz-compile, checks the result against numpy once, times
`sqz-run --bench N` and prints, per build and model, the median time, GFLOP/s and weight GB/s
(weight bytes / median time). Pass several build dirs to compare them in the same run (the
machine's load changes between runs):

    /usr/bin/python3 bench/cpu_gemm.py [--runs 20] [--only gemv] [--threads N] BUILD [BUILD...]

--threads sets OMP_NUM_THREADS for the runs (default: libomp's default, the number of cores).
Models and artifacts go to $TMPDIR/sqz-cpu-gemm (about 130 MiB per model and build).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SHAPES = {"gemv": (1, 4096, 4096), "gemm": (128, 4096, 4096)}


def make_model(path, m, k, n, rng):
    w = rng.standard_normal((k, n), dtype=np.float32) / np.sqrt(k)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return w


def parse_seconds(text):
    out = {}
    for line in text.splitlines():
        mt = re.match(r"(min|median|max) ([0-9.]+) (us|ms|s)$", line.strip())
        if mt:
            scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0}[mt.group(3)]
            out[mt.group(1)] = float(mt.group(2)) * scale
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("builds", nargs="+", help="build directories (with bin/sqz-compile)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--only", choices=sorted(SHAPES), default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    work = os.path.join(os.environ.get("TMPDIR", tempfile.gettempdir()), "sqz-cpu-gemm")
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    rng = np.random.default_rng(args.seed)
    rows = []
    status = 0
    for name, (m, k, n) in SHAPES.items():
        if args.only and name != args.only:
            continue
        model = os.path.join(work, name + ".onnx")
        w = make_model(model, m, k, n, rng)
        x = rng.standard_normal((m, k), dtype=np.float32)
        np.save(os.path.join(work, name + "_x.npy"), x)
        np.save(os.path.join(work, name + "_y.npy"), (x.astype(np.float64) @ w).astype(np.float32))
        for b, build in enumerate(args.builds):
            art = os.path.join(work, "%s.%d" % (name, b))
            subprocess.run([os.path.join(build, "bin", "sqz-compile"), model, "-o", art],
                           check=True)
            run = subprocess.run(
                [os.path.join(build, "bin", "sqz-run"), art,
                 "--input", "x=" + os.path.join(work, name + "_x.npy"),
                 "--expect", "y=" + os.path.join(work, name + "_y.npy"),
                 "--rtol", "1e-3", "--atol", "1e-3",
                 "--output-dir", art, "--bench", str(args.runs)],
                capture_output=True, text=True, env=env)
            if run.returncode != 0:
                sys.stdout.write(run.stdout + run.stderr)
                print("%s %s: sqz-run failed (exit %d)" % (build, name, run.returncode))
                status = 1
                continue
            t = parse_seconds(run.stdout)
            flops = 2.0 * m * k * n
            rows.append((name, build, t["min"], t["median"], t["max"],
                         flops / t["median"] / 1e9, 4.0 * k * n / t["median"] / 1e9))
    print("%-5s %-28s %10s %10s %10s %9s %9s" % ("model", "build", "min ms", "median ms",
                                                 "max ms", "GFLOP/s", "W GB/s"))
    for name, build, tmin, tmed, tmax, gflops, gbs in rows:
        print("%-5s %-28s %10.3f %10.3f %10.3f %9.1f %9.2f" % (
            name, build[-28:], tmin * 1e3, tmed * 1e3, tmax * 1e3, gflops, gbs))
    return status


if __name__ == "__main__":
    sys.exit(main())
