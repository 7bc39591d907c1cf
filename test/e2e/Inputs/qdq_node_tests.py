"""Runs the ONNX backend node tests of QuantizeLinear/DequantizeLinear through sqz-compile and
sqz-run (on PATH), in two variants:

  runtime  the test's inputs stay graph inputs (Q/DQ become a linalg.generic); 4-bit inputs,
           which cannot cross the artifact boundary, are frozen to initializers
  folded   every input is frozen to an initializer, so the importer quantizes/dequantizes on the
           host (how a quantized weight is imported)

Integer outputs are compared exactly. int4/uint4 results (which cannot cross the boundary either)
are read back through an appended DequantizeLinear(y, 1.0) as float. ONNX 1.12 (Debian) cannot
decode int4/uint4 tensors, so this script unpacks them itself (two per byte, low nibble first).
Tests of the newer suite import opset 25; they are run as opset 21 (the Q/DQ semantics of the
integer codes did not change since). Float8/float4/int2 tests are expected to be rejected with a
diagnostic (SKIP lines).

usage: qdq_node_tests.py WORK_DIR NODE_DIR...
Prints 'PASS <variant> <test>', 'FAIL <variant> <test>: ...' or 'SKIP <test>: ...' lines and a
summary.
"""

import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

INT4, UINT4 = 22, 21
UNSUPPORTED = {17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2", 20: "float8e5m2fnuz",
               23: "float4e2m1", 24: "float8e8m0", 25: "uint2", 26: "int2"}


def unpack4(tensor):
    n = int(np.prod(tensor.dims)) if len(tensor.dims) else 1
    packed = (np.frombuffer(tensor.raw_data, dtype=np.uint8) if tensor.raw_data
              else np.array(tensor.int32_data, dtype=np.uint8))
    values = np.stack([packed & 0xF, packed >> 4], axis=-1).reshape(-1)[:n].astype(np.int8)
    if tensor.data_type == INT4:
        values = np.where(values >= 8, values - 16, values).astype(np.int8)
    return values.reshape(tuple(tensor.dims))


def load_pb(path):
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    if tensor.data_type in (INT4, UINT4):
        return tensor.data_type, unpack4(tensor)
    return tensor.data_type, numpy_helper.to_array(tensor)


def make_initializer(name, dtype, array):
    if dtype in (INT4, UINT4):
        flat = (array.reshape(-1).astype(np.int64) & 0xF).astype(np.uint8)
        if flat.size % 2:
            flat = np.append(flat, np.uint8(0))
        packed = (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8)
        tensor = onnx.TensorProto()
        tensor.name = name
        tensor.data_type = dtype
        tensor.dims.extend(array.shape)
        tensor.raw_data = packed.tobytes()
        return tensor
    return numpy_helper.from_array(array, name)


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
        dtype, array = values[i]
        if variant == "folded" or dtype in (INT4, UINT4):
            model.graph.initializer.append(make_initializer(info.name, dtype, array))
        else:
            kept.append(i)
    del model.graph.input[:]
    model.graph.input.extend([inputs[i] for i in kept])
    # 4-bit outputs: read back through DequantizeLinear(y, 1.0).
    expects = []
    for k, info in enumerate(outputs):
        dtype, array = expected[k]
        if dtype in (INT4, UINT4):
            one = helper.make_tensor(info.name + "_one", onnx.TensorProto.FLOAT, [], [1.0])
            model.graph.initializer.append(one)
            model.graph.node.append(helper.make_node(
                "DequantizeLinear", [info.name, one.name], [info.name + "_f"]))
            model.graph.output.remove(info)
            model.graph.output.append(helper.make_tensor_value_info(
                info.name + "_f", onnx.TensorProto.FLOAT, list(array.shape)))
            expects.append((info.name + "_f", array.astype(np.float32)))
        else:
            expects.append((info.name, array))
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
    passed = failed = skipped = 0
    for node_dir in node_dirs:
        suite = os.path.basename(os.path.dirname(node_dir.rstrip("/")))
        for name in sorted(os.listdir(node_dir)):
            if not re.match(r"^test_(de)?quantizelinear", name):
                continue
            test_dir = os.path.join(node_dir, name)
            model = onnx.load(os.path.join(test_dir, "model.onnx"))
            types = {i.type.tensor_type.elem_type for i in model.graph.input}
            types |= {o.type.tensor_type.elem_type for o in model.graph.output}
            bad = sorted(UNSUPPORTED[t] for t in types if t in UNSUPPORTED)
            if bad:
                # Must be rejected with a diagnostic naming the dtype.
                work = os.path.join(work_dir, suite, name)
                os.makedirs(work, exist_ok=True)
                proc = subprocess.run(["sqz-compile", os.path.join(test_dir, "model.onnx"), "-o",
                                       os.path.join(work, "art")], capture_output=True, text=True)
                if proc.returncode == 1 and "unsupported ONNX" in proc.stderr:
                    print(f"SKIP {name}: {', '.join(bad)} (rejected with a diagnostic)")
                    skipped += 1
                else:
                    print(f"FAIL {name}: {', '.join(bad)} not rejected cleanly: {proc.stderr}")
                    failed += 1
                continue
            for variant in ("runtime", "folded"):
                error = run_variant(test_dir, os.path.join(work_dir, suite, variant, name), name,
                                    variant)
                if error:
                    print(f"FAIL {variant} {name}: {error}")
                    failed += 1
                else:
                    print(f"PASS {variant} {name}")
                    passed += 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
