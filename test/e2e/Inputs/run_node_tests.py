"""Runs ONNX backend node tests (model.onnx + test_data_set_*/{input,output}_N.pb) through
sqz-compile and sqz-run, which must be on PATH.

usage: run_node_tests.py NODE_DIR WORK_DIR [--rtol R] [--atol A] TEST...

Prints one 'PASS <test>' or 'FAIL <test>: <reason>' line per test and a summary line; exits 1
when any test fails.
"""

import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def load_pb(path):
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return tensor.name, numpy_helper.to_array(tensor)


def run_test(node_dir, work_dir, name, rtol, atol):
    test_dir = os.path.join(node_dir, name)
    model = onnx.load(os.path.join(test_dir, "model.onnx"))
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    out_dir = os.path.join(work_dir, name)
    os.makedirs(out_dir, exist_ok=True)
    art = os.path.join(out_dir, "art")
    proc = subprocess.run(["sqz-compile", os.path.join(test_dir, "model.onnx"), "-o", art],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return "compile: " + (proc.stderr.strip().splitlines() or ["?"])[0]
    data_dirs = sorted(d for d in os.listdir(test_dir) if d.startswith("test_data_set_"))
    for data in data_dirs:
        args = ["sqz-run", art, "--rtol", str(rtol), "--atol", str(atol), "--output-dir",
                os.path.join(out_dir, "out")]
        for kind, names, flag in (("input", inputs, "--input"), ("output", outputs, "--expect")):
            for i, io_name in enumerate(names):
                pb = os.path.join(test_dir, data, "%s_%d.pb" % (kind, i))
                _, array = load_pb(pb)
                npy = os.path.join(out_dir, "%s_%s_%d.npy" % (data, kind, i))
                np.save(npy, array)
                args += [flag, "%s=%s" % (io_name, npy)]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            lines = [l for l in (proc.stdout + proc.stderr).splitlines() if "FAIL" in l or
                     "error" in l.lower()]
            return "run %s: %s" % (data, lines[0] if lines else proc.returncode)
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("node_dir")
    parser.add_argument("work_dir")
    parser.add_argument("tests", nargs="+")
    parser.add_argument("--rtol", type=float, default=1e-3)
    parser.add_argument("--atol", type=float, default=1e-5)
    args = parser.parse_args()
    failed = 0
    for name in args.tests:
        error = run_test(args.node_dir, args.work_dir, name, args.rtol, args.atol)
        if error:
            failed += 1
            print("FAIL %s: %s" % (name, error))
        else:
            print("PASS %s" % name)
    print("%d passed, %d failed" % (len(args.tests) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
