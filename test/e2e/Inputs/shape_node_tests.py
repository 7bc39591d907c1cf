"""Runs the ONNX backend node tests of the shape/indexing ops (Debian's libonnx-testdata)
through sqz-compile and sqz-run (on PATH), with their shape operands frozen.

Squeeze compiles static shapes only, so operands that decide a result shape (Slice starts/ends/
axes/steps, Split sizes, (Un)Squeeze axes, Expand/ConstantOfShape shapes, Tile repeats, Range
bounds, Trilu k, CumSum axis) must be import-time constants. The node tests pass them as graph
inputs; this script turns those inputs into initializers with the test's values (what an export
with pinned shapes contains) and feeds the rest at run time.

usage: shape_node_tests.py NODE_DIR WORK_DIR

Prints 'PASS <test>', 'FAIL <test>: ...' or 'SKIP <test>: ...' (an empty tensor at the artifact
boundary, which the runtime ABI cannot carry; the model must still import) per test.
"""

import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

# test name pattern -> indices of the inputs to freeze ("all": every input)
FROZEN = [
    (r"^test_slice", [1, 2, 3, 4]),
    (r"^test_split", [1]),
    (r"^test_(un)?squeeze", [1]),
    (r"^test_expand", [1]),
    (r"^test_tile", [1]),
    (r"^test_tri[lu]", [1]),
    (r"^test_cumsum", [1]),
    (r"^test_constantofshape", "all"),
    (r"^test_range_(float|int32)_type_(positive|negative)_delta$", "all"),
    (r"^test_(shape|gather|gather_elements|concat|flatten|where|cast)", []),
]
TESTS = r"^test_(shape|gather_[0-9]|gather_2d|gather_negative|gather_elements|slice|unsqueeze|" \
        r"squeeze|concat|split|constantofshape|expand|range_(float|int32)_type_[a-z_]*delta$|" \
        r"where|cast(like)?_(FLOAT|DOUBLE|FLOAT16)_to_(FLOAT|DOUBLE|FLOAT16)$|tril|triu|tile|" \
        r"flatten|cumsum)"


def load_pb(path):
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return numpy_helper.to_array(tensor)


def run(node_dir, work_dir, name):
    test_dir = os.path.join(node_dir, name)
    model = onnx.load(os.path.join(test_dir, "model.onnx"))
    data_dir = os.path.join(test_dir, "test_data_set_0")
    inputs = [i.name for i in model.graph.input]
    values = [load_pb(os.path.join(data_dir, f"input_{i}.pb")) for i in range(len(inputs))]
    freeze = next(f for pattern, f in FROZEN if re.search(pattern, name))
    if freeze == "all":
        freeze = list(range(len(inputs)))
    kept = [i for i in range(len(inputs)) if i not in freeze]
    for i in freeze:
        if i < len(inputs):
            model.graph.initializer.append(numpy_helper.from_array(values[i], inputs[i]))
    graph_inputs = [model.graph.input[i] for i in kept]
    del model.graph.input[:]
    model.graph.input.extend(graph_inputs)
    work = os.path.join(work_dir, name)
    os.makedirs(work, exist_ok=True)
    model_path = os.path.join(work, "model.onnx")
    onnx.save(model, model_path)
    run_args = ["sqz-run", os.path.join(work, "art"), "--output-dir", os.path.join(work, "out"),
                "--rtol", "1e-5", "--atol", "1e-6"]
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
        if proc.returncode != 0 and "empty inputs and outputs are not supported" in proc.stderr:
            # The artifact ABI has no empty tensors; the import itself must still succeed.
            imported = subprocess.run(["sqz-translate", "--import-onnx", model_path, "-o",
                                       os.devnull], capture_output=True, text=True)
            if imported.returncode == 0:
                return f"SKIP {name}: empty tensor at the artifact boundary (imports fine)"
        if proc.returncode != 0:
            lines = [l for l in (proc.stdout + proc.stderr).splitlines() if "error" in l]
            return f"FAIL {name}: {os.path.basename(cmd[0])}: {(lines or ['?'])[0]}"
    return f"PASS {name}"


def main():
    node_dir, work_dir = sys.argv[1], sys.argv[2]
    names = sorted(n for n in os.listdir(node_dir) if re.search(TESTS, n))
    results = [run(node_dir, work_dir, name) for name in names]
    print("\n".join(results))
    failed = sum(r.startswith("FAIL") for r in results)
    skipped = sum(r.startswith("SKIP") for r in results)
    print(f"{len(results) - failed - skipped} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
