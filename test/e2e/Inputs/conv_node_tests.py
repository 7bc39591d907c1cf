"""Runs ONNX backend node tests of the vision/misc ops (Conv, ConvTranspose, pools, BatchNormalization, Pad,
Einsum, TopK, Resize, ArgMax/ArgMin) through sqz-compile and sqz-run (on PATH).

Squeeze compiles static shapes only, so operands that decide a result shape (TopK's k, Pad's
pads/axes, Resize's roi/scales/sizes) are turned into initializers with the test's
values; the rest are fed at run time.

usage: conv_node_tests.py NODE_DIR WORK_DIR [--rtol R] [--atol A] [TEST | re:REGEX ...]

With no tests, runs every test matching DEFAULT. Prints 'PASS <test>' or 'FAIL <test>: ...'
per test and a summary line; exits 1 when any test fails.
"""

import argparse
import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

# test name pattern -> indices of the inputs to freeze
FROZEN = [
    (r"^test_top_k", [1]),
    (r"^test_(constant|reflect|edge|wrap)_pad", [1, 3]),
    (r"^test_resize", [1, 2, 3]),
]
DEFAULT = (r"^test_(conv_with|basic_conv_with|convtranspose|maxpool_(1d|2d|3d|with_argmax)|averagepool|globalaveragepool|"
           r"globalmaxpool|batchnorm_(epsilon|example)$|einsum|top_k|argmax|argmin|"
           r"(constant|reflect|edge)_pad|resize_(up|down)sample_(scales|sizes)_(nearest|linear))")


def load_pb(path):
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return numpy_helper.to_array(tensor)


def run(node_dir, work_dir, name, rtol, atol):
    test_dir = os.path.join(node_dir, name)
    model = onnx.load(os.path.join(test_dir, "model.onnx"))
    data_dir = os.path.join(test_dir, "test_data_set_0")
    inputs = [i.name for i in model.graph.input]
    values = [load_pb(os.path.join(data_dir, f"input_{i}.pb")) for i in range(len(inputs))]
    freeze = next((f for pattern, f in FROZEN if re.search(pattern, name)), [])
    freeze = [i for i in freeze if i < len(inputs)]
    kept = [i for i in range(len(inputs)) if i not in freeze]
    for i in freeze:
        model.graph.initializer.append(numpy_helper.from_array(values[i], inputs[i]))
    graph_inputs = [model.graph.input[i] for i in kept]
    del model.graph.input[:]
    model.graph.input.extend(graph_inputs)
    work = os.path.join(work_dir, name)
    os.makedirs(work, exist_ok=True)
    model_path = os.path.join(work, "model.onnx")
    onnx.save(model, model_path)
    run_args = ["sqz-run", os.path.join(work, "art"), "--output-dir", os.path.join(work, "out"),
                "--rtol", str(rtol), "--atol", str(atol)]
    for i in kept:
        path = os.path.join(work, f"in{i}.npy")
        np.save(path, values[i])
        run_args += ["--input", f"{inputs[i]}={path}"]
    for k, output in enumerate(model.graph.output):
        path = os.path.join(work, f"out{k}.npy")
        np.save(path, load_pb(os.path.join(data_dir, f"output_{k}.pb")))
        run_args += ["--expect", f"{output.name}={path}"]
    for cmd in (["sqz-compile", model_path, "-o", os.path.join(work, "art")], run_args):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            lines = [l for l in (proc.stdout + proc.stderr).splitlines()
                     if "error" in l or "FAIL" in l or "mismatch" in l]
            return f"FAIL {name}: {os.path.basename(cmd[0])}: {(lines or ['?'])[0]}"
    return f"PASS {name}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("node_dir")
    parser.add_argument("work_dir")
    parser.add_argument("tests", nargs="*")
    parser.add_argument("--rtol", type=float, default=1e-3)
    parser.add_argument("--atol", type=float, default=1e-5)
    args = parser.parse_args()
    all_names = sorted(os.listdir(args.node_dir))
    if args.tests:
        # Exact test names, or regular expressions when prefixed with 're:'.
        names = [n for n in all_names
                 if any(n == t or (t.startswith("re:") and re.search(t[3:], n))
                        for t in args.tests)]
    else:
        names = [n for n in all_names if re.search(DEFAULT, n)]
    results = [run(args.node_dir, args.work_dir, name, args.rtol, args.atol) for name in names]
    print("\n".join(results))
    failed = sum(r.startswith("FAIL") for r in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
