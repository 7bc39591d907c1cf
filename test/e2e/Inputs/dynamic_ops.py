"""Dynamic shapes end to end: an ONNX graph whose inputs keep their dim_params (B, S) runs the
ops LLM exports use on dynamic dims, including shape arithmetic (Shape -> Gather -> Concat ->
Reshape / ConstantOfShape / Range / Expand), and one artifact is checked against numpy at
several sizes, one of them empty (S = 0).

    dynamic_ops.py make MODEL.onnx
    dynamic_ops.py check ARTIFACT SQZ_RUN WORKDIR
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

RNG = np.random.default_rng(0)
WEIGHTS = {
    "sc": RNG.standard_normal(16).astype(np.float32),
    "bi": RNG.standard_normal(16).astype(np.float32),
    "gw": RNG.standard_normal((16, 4)).astype(np.float32),
    "gb": RNG.standard_normal(4).astype(np.float32),
}
OUTPUTS = ["y", "r", "ln", "gm", "tri", "w", "c", "t", "rs", "rmax", "ls", "rsum", "cc", "sp0",
           "sp1", "ex", "rg"]


def make(path):
    consts = {"one": np.array(1, np.int64), "zero": np.array([0], np.int64),
              "two": np.array([2], np.int64), "tail": np.array([2, 8], np.int64),
              "axes1": np.array([1], np.int64), "zero_s": np.array(0, np.int64)}
    inits = [nh.from_array(v, k) for k, v in {**WEIGHTS, **consts}.items()]
    n = h.make_node
    nodes = [
        n("Softmax", ["x"], ["y"], axis=-1),
        n("ReduceMean", ["x"], ["r"], axes=[2], keepdims=0),
        n("LayerNormalization", ["x", "sc", "bi"], ["ln"], axis=-1),
        n("MatMul", ["x", "gw"], ["gm0"]), n("Add", ["gm0", "gb"], ["gm"]),
        n("Shape", ["m"], ["sh"]), n("Gather", ["sh", "one"], ["s1"], axis=0),
        n("Unsqueeze", ["s1", "zero"], ["s1u"]), n("Concat", ["s1u", "s1u"], ["s2"], axis=0),
        n("ConstantOfShape", ["s2"], ["ones"], value=nh.from_array(np.array([1], np.float32))),
        n("Trilu", ["ones"], ["tri"], upper=0),
        n("Unsqueeze", ["m", "two"], ["mx"]), n("Greater", ["x", "mx"], ["cond"]),
        n("Where", ["cond", "x", "mx"], ["w"]),
        n("Cast", ["m"], ["c"], to=T.INT64), n("Transpose", ["x"], ["t"], perm=[0, 2, 1]),
        n("Shape", ["x"], ["shx"]), n("Slice", ["shx", "zero", "two"], ["hd"]),
        n("Concat", ["hd", "tail"], ["tshape"], axis=0), n("Reshape", ["x", "tshape"], ["rs"]),
        n("ReduceMax", ["m"], ["rmax"], axes=[1], keepdims=0),
        n("LogSoftmax", ["x"], ["ls"], axis=-1),
        n("ReduceSum", ["x", "axes1"], ["rsum"], keepdims=1),
        n("Concat", ["x", "x"], ["cc"], axis=1),
        n("Split", ["x"], ["sp0", "sp1"], axis=2),
        n("Expand", ["mx", "shx"], ["ex"]),
        n("Range", ["zero_s", "s1", "one"], ["rg"]),
    ]
    graph = h.make_graph(
        nodes, "dynamic_ops",
        [h.make_tensor_value_info("x", T.FLOAT, ["B", "S", 16]),
         h.make_tensor_value_info("m", T.FLOAT, ["B", "S"])],
        [h.make_empty_tensor_value_info(o) for o in OUTPUTS], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def reference(x, m):
    b, s, _ = x.shape
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    ref = {
        "y": softmax(x), "r": x.mean(2),
        "ln": (x - mu) / np.sqrt(var + 1e-5) * WEIGHTS["sc"] + WEIGHTS["bi"],
        "gm": x @ WEIGHTS["gw"] + WEIGHTS["gb"], "tri": np.tril(np.ones((s, s), np.float32)),
        "w": np.where(x > m[..., None], x, m[..., None]), "c": m.astype(np.int64),
        "t": x.transpose(0, 2, 1), "rs": x.reshape(b, s, 2, 8),
        "ls": np.log(softmax(x)) if s else x, "rsum": x.sum(1, keepdims=True),
        "cc": np.concatenate([x, x], 1), "sp0": x[..., :8], "sp1": x[..., 8:],
        "ex": np.broadcast_to(m[..., None], (b, s, 16)), "rg": np.arange(0, s),
    }
    if s:
        ref["rmax"] = m.max(1)
    return ref


def check(artifact, sqz_run, work):
    failures = 0
    for b, s in [(1, 1), (2, 5), (3, 17), (2, 0)]:
        x = RNG.standard_normal((b, s, 16)).astype(np.float32)
        m = RNG.standard_normal((b, s)).astype(np.float32)
        out = os.path.join(work, f"{b}x{s}")
        os.makedirs(out, exist_ok=True)
        np.save(os.path.join(out, "x.npy"), x)
        np.save(os.path.join(out, "m.npy"), m)
        run = subprocess.run([sqz_run, artifact, "--input", f"x={out}/x.npy", "--input",
                              f"m={out}/m.npy", "--output-dir", out],
                             capture_output=True, text=True)
        if run.returncode:
            print(f"B={b} S={s}: sqz-run failed: {run.stderr.strip()}")
            failures += 1
            continue
        bad = []
        for name, want in reference(x, m).items():
            got = np.load(os.path.join(out, name + ".npy"))
            if got.shape != want.shape or not np.allclose(got, want, rtol=1e-5, atol=1e-5):
                bad.append(f"{name} {got.shape} vs {want.shape}")
        print(f"B={b} S={s}: " + ("OK" if not bad else "MISMATCH " + ", ".join(bad)))
        failures += bool(bad)
    return failures


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        sys.exit(1 if check(sys.argv[2], sys.argv[3], sys.argv[4]) else 0)
