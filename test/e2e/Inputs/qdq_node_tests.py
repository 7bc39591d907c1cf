"""Runs the ONNX backend node tests of QuantizeLinear/DequantizeLinear through sqz-compile and
sqz-run (on PATH), in two variants:

  runtime  the test's inputs stay graph inputs (Q/DQ become a linalg.generic)
  folded   every input is frozen to an initializer, so the importer quantizes/dequantizes on the
           host (how a quantized weight is imported)

Outputs are compared exactly (float ones within 1e-6). int4/uint4/int2/uint2 and float8/float4
tensors cross the artifact boundary widened, one int8/uint8 per element (values, or the float
bit patterns; docs/Runtime.md "onnx_dtype"). ONNX 1.12 (Debian) cannot decode these dtypes, so
this script unpacks them itself (lowest bits first). Tests of the newer suite import opset 25;
they are run as opset 21 (the importer's Q/DQ does not depend on the opset past 21).

usage: qdq_node_tests.py WORK_DIR NODE_DIR...
Prints 'PASS <variant> <test>' or 'FAIL <variant> <test>: ...' lines and a summary.
"""

import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

# dtype -> (npy dtype, bits per packed element, signed) of the dtypes ONNX 1.12 cannot decode.
WIDENED = {17: (np.uint8, 8, False), 18: (np.uint8, 8, False), 19: (np.uint8, 8, False),
           20: (np.uint8, 8, False), 21: (np.uint8, 4, False), 22: (np.int8, 4, True),
           23: (np.uint8, 4, False), 25: (np.uint8, 2, False), 26: (np.int8, 2, True)}


def widen(tensor):
    np_dtype, bits, signed = WIDENED[tensor.data_type]
    n = int(np.prod(tensor.dims)) if len(tensor.dims) else 1
    packed = (np.frombuffer(tensor.raw_data, dtype=np.uint8) if tensor.raw_data
              else np.array(tensor.int32_data, dtype=np.int64).astype(np.uint8))
    if bits == 8:
        values = packed.astype(np.int16)
    else:
        shifts = np.arange(8 // bits, dtype=np.uint8) * bits
        values = ((packed[:, None] >> shifts[None, :]) & ((1 << bits) - 1)).reshape(-1)
        values = values.astype(np.int16)
        if signed:
            values = np.where(values >= (1 << (bits - 1)), values - (1 << bits), values)
    return values[:n].astype(np_dtype).reshape(tuple(tensor.dims))


def load_pb(path):
    """(dtype, the array the artifact takes, the TensorProto)."""
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    if tensor.data_type in WIDENED:
        return tensor.data_type, widen(tensor), tensor
    return tensor.data_type, numpy_helper.to_array(tensor), tensor


def make_initializer(name, tensor):
    initializer = onnx.TensorProto()
    initializer.CopyFrom(tensor)
    initializer.name = name
    return initializer


def run_variant(test_dir, work, name, variant):
    model = onnx.load(os.path.join(test_dir, "model.onnx"))
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version > 21:
            opset.version = 21
    model.ir_version = min(model.ir_version, 8)
    data_dir = os.path.join(test_dir, "test_data_set_0")
    inputs = list(model.graph.input)
    values = [load_pb(os.path.join(data_dir, f"input_{i}.pb")) for i in range(len(inputs))]
    outputs = list(model.graph.output)
    expected = [load_pb(os.path.join(data_dir, f"output_{k}.pb")) for k in range(len(outputs))]
    kept = []
    for i, info in enumerate(inputs):
        if variant == "folded":
            model.graph.initializer.append(make_initializer(info.name, values[i][2]))
        else:
            kept.append(i)
    del model.graph.input[:]
    model.graph.input.extend([inputs[i] for i in kept])
    expects = [(info.name, expected[k][1]) for k, info in enumerate(outputs)]
    os.makedirs(work, exist_ok=True)
    model_path = os.path.join(work, "model.onnx")
    onnx.save(model, model_path)
    art = os.path.join(work, "art")
    proc = subprocess.run(["sqz-compile", model_path, "-o", art], capture_output=True, text=True)
    if proc.returncode != 0:
        return "compile: " + (proc.stderr.strip().splitlines() or ["?"])[0]
    args = ["sqz-run", art, "--output-dir", os.path.join(work, "out"), "--rtol", "1e-6",
            "--atol", "1e-6"]
    for i in kept:
        path = os.path.join(work, f"in{i}.npy")
        np.save(path, values[i][1])
        args += ["--input", f"{inputs[i].name}={path}"]
    for k, (out_name, array) in enumerate(expects):
        path = os.path.join(work, f"out{k}.npy")
        np.save(path, array)
        args += ["--expect", f"{out_name}={path}"]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [l for l in (proc.stdout + proc.stderr).splitlines()
                 if "FAIL" in l or "error" in l.lower() or "mismatch" in l]
        return "run: " + (lines[0] if lines else str(proc.returncode))
    return None


def main():
    work_dir, node_dirs = sys.argv[1], sys.argv[2:]
    passed = failed = 0
    for node_dir in node_dirs:
        suite = os.path.basename(os.path.dirname(node_dir.rstrip("/")))
        for name in sorted(os.listdir(node_dir)):
            if not re.match(r"^test_(de)?quantizelinear", name):
                continue
            test_dir = os.path.join(node_dir, name)
            for variant in ("runtime", "folded"):
                error = run_variant(test_dir, os.path.join(work_dir, suite, variant, name), name,
                                    variant)
                if error:
                    print(f"FAIL {variant} {name}: {error}")
                    failed += 1
                else:
                    print(f"PASS {variant} {name}")
                    passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
