"""Builds small ONNX models of the shape/indexing ops with runtime (non-constant) inputs,
compiles each with sqz-compile, runs it with sqz-run and compares against NumPy.

Usage: shape_ops_e2e.py OUT_DIR [CASE...]   (sqz-compile and sqz-run must be on PATH)
Prints one line per case: "<case>: OK" or "<case>: FAIL ..." (then the tool output).
"""

import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INT_MAX = np.iinfo(np.int64).max
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def dtype_of(array):
    return onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[array.dtype]


def make(nodes, inputs, outputs, inits=(), opset=17):
    """inputs/outputs: dicts name -> array; inits: dict name -> array."""
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(n, dtype_of(a), a.shape) for n, a in inputs.items()],
        [helper.make_tensor_value_info(n, dtype_of(a), a.shape) for n, a in outputs.items()],
        [numpy_helper.from_array(a, n) for n, a in dict(inits).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, inputs, outputs


rng = np.random.default_rng(0)


def randf(*shape):
    return rng.standard_normal(shape).astype(np.float32)


@case
def gather_embedding():
    table = randf(10, 4)
    ids = np.array([[1, -1, 3, 0, 9]], np.int64)
    return make([helper.make_node("Gather", ["table", "ids"], ["y"])], {"ids": ids},
                {"y": table[ids]}, {"table": table})


@case
def gather_axis1():
    x = randf(2, 5, 3)
    idx = np.array([[4, 0], [-2, 1]], np.int32)
    return make([helper.make_node("Gather", ["x", "i"], ["y"], axis=1)], {"x": x, "i": idx},
                {"y": np.take(x, idx, axis=1)})


@case
def gather_elements():
    x = randf(3, 4)
    idx = np.array([[0, -1], [3, 2], [1, 1]], np.int64)
    ref = np.take_along_axis(x, np.where(idx < 0, idx + 4, idx), axis=1)
    return make([helper.make_node("GatherElements", ["x", "i"], ["y"], axis=1)],
                {"x": x, "i": idx}, {"y": ref})


@case
def slice_steps():
    x = randf(4, 10)
    inits = {"st": np.array([1, -9], np.int64), "en": np.array([3, INT_MAX], np.int64),
             "ax": np.array([0, -1], np.int64), "sp": np.array([1, 3], np.int64)}
    return make([helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])], {"x": x},
                {"y": x[1:3, 1::3]}, inits)


@case
def slice_negative_steps():
    x = randf(3, 7)
    inits = {"st": np.array([-1, 100], np.int64), "en": np.array([-INT_MAX, -6], np.int64),
             "sp": np.array([-2, -3], np.int64)}
    return make([helper.make_node("Slice", ["x", "st", "en", "", "sp"], ["y"])], {"x": x},
                {"y": x[::-2, 6:0:-3]}, inits)


@case
def slice_opset9():
    x = randf(4, 6)
    return make([helper.make_node("Slice", ["x"], ["y"], starts=[1, -4], ends=[1000, -1],
                                  axes=[0, 1])], {"x": x}, {"y": x[1:, -4:-1]}, opset=9)


@case
def concat_split():
    a, b = randf(2, 3), randf(2, 1)
    c = randf(2, 2)
    cat = np.concatenate([a, b, c], axis=1)
    nodes = [helper.make_node("Concat", ["a", "b", "c"], ["cat"], axis=-1),
             helper.make_node("Split", ["cat", "sp"], ["s0", "s1"], axis=1),
             helper.make_node("Split", ["a"], ["t0", "t1"], axis=0)]
    return make(nodes, {"a": a, "b": b},
                {"cat": cat, "s0": cat[:, :4], "s1": cat[:, 4:], "t0": a[:1], "t1": a[1:]},
                {"c": c, "sp": np.array([4, 2], np.int64)})


@case
def concat_mixed():
    """Concat of int64 with an empty constant part, of bool, and of three float parts on a middle axis."""
    a = np.array([[1, 2]], np.int64)
    e = np.zeros((0, 2), np.int64)
    b = np.array([[3, 4], [5, 6]], np.int64)
    p, q = np.array([[True, False]]), np.array([[False], [True]]).reshape(1, 2)
    x, y, z = randf(2, 1, 3), randf(2, 2, 3), randf(2, 3, 3)
    nodes = [helper.make_node("Concat", ["a", "e", "b"], ["i"], axis=0),
             helper.make_node("Concat", ["p", "q"], ["bb"], axis=1),
             helper.make_node("Concat", ["x", "y", "z"], ["f"], axis=1)]
    return make(nodes, {"a": a, "b": b, "p": p, "q": q, "x": x, "y": y, "z": z},
                {"i": np.concatenate([a, e, b]), "bb": np.concatenate([p, q], axis=1),
                 "f": np.concatenate([x, y, z], axis=1)}, {"e": e})


@case
def kv_cache_concat():
    """The KV-cache update of a decoder: present = Concat(past, Transpose(Reshape(x))), returned
    and also consumed (a transposed copy)."""
    past = randf(1, 2, 4, 2)
    x = randf(1, 3, 4)
    new = x.reshape(1, 3, 2, 2).transpose(0, 2, 1, 3)
    present = np.concatenate([past, new], axis=2)
    nodes = [helper.make_node("Reshape", ["x", "shp"], ["r"]),
             helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3]),
             helper.make_node("Concat", ["past", "t"], ["present"], axis=2),
             helper.make_node("Transpose", ["present"], ["pt"], perm=[0, 1, 3, 2]),
             helper.make_node("Unsqueeze", ["pt", "ax"], ["stack"])]
    return make(nodes, {"past": past, "x": x},
                {"present": present, "stack": present.transpose(0, 1, 3, 2)[None]},
                {"shp": np.array([1, 3, 2, 2], np.int64), "ax": np.array([0], np.int64)})


@case
def split_opset11():
    x = randf(6, 2)
    return make([helper.make_node("Split", ["x"], ["a", "b"], axis=0, split=[1, 5])], {"x": x},
                {"a": x[:1], "b": x[1:]}, opset=11)


@case
def squeeze_unsqueeze_flatten():
    x = randf(1, 3, 1, 4)
    nodes = [helper.make_node("Squeeze", ["x", "a0"], ["s"]),
             helper.make_node("Unsqueeze", ["s", "a1"], ["u"]),
             helper.make_node("Flatten", ["x"], ["f"], axis=-1),
             helper.make_node("Squeeze", ["x"], ["all"])]
    return make(nodes, {"x": x},
                {"s": x.reshape(3, 1, 4), "u": x.reshape(3, 1, 4)[:, :, :, None],
                 "f": x.reshape(3, 4), "all": x.reshape(3, 4)},
                {"a0": np.array([0], np.int64), "a1": np.array([-1], np.int64)})


@case
def expand_tile():
    x = randf(3, 1)
    y = rng.integers(-5, 5, (2, 3)).astype(np.int64)
    nodes = [helper.make_node("Expand", ["x", "shp"], ["e"]),
             helper.make_node("Tile", ["y", "rep"], ["t"])]
    return make(nodes, {"x": x, "y": y},
                {"e": np.broadcast_to(x, (2, 3, 4)).copy(), "t": np.tile(y, (2, 3))},
                {"shp": np.array([2, 1, 4], np.int64), "rep": np.array([2, 3], np.int64)})


@case
def where_bool():
    c = np.array([[True], [False]])
    x = randf(2, 3)
    y = np.array(7.5, np.float32)
    return make([helper.make_node("Where", ["c", "x", "y"], ["z"])], {"c": c, "x": x, "y": y},
                {"z": np.where(c, x, y)})


@case
def cast_conversions():
    x = np.array([-2.7, -0.5, 0.0, 1.5, 3.9, 100.2], np.float32)
    i = np.array([-300, -1, 0, 1, 127, 300], np.int64)
    u = np.array([0, 1, 127, 128, 200, 255], np.uint8)
    b = np.array([True, False, True, True, False, False])
    h = np.array([0.5, -1.25, 2.0, 65504.0, -0.0, 3.140625], np.float16)
    T = TensorProto
    nodes = [helper.make_node("Cast", ["x"], ["x_i32"], to=T.INT32),
             helper.make_node("Cast", ["x"], ["x_bool"], to=T.BOOL),
             helper.make_node("Cast", ["x"], ["x_f16"], to=T.FLOAT16),
             helper.make_node("Cast", ["x"], ["x_f64"], to=T.DOUBLE),
             helper.make_node("Cast", ["i"], ["i_f32"], to=T.FLOAT),
             helper.make_node("Cast", ["i"], ["i_i8"], to=T.INT8),
             helper.make_node("Cast", ["i"], ["i_i32"], to=T.INT32),
             helper.make_node("Cast", ["u"], ["u_f32"], to=T.FLOAT),
             helper.make_node("Cast", ["u"], ["u_i64"], to=T.INT64),
             helper.make_node("Cast", ["b"], ["b_f32"], to=T.FLOAT),
             helper.make_node("Cast", ["b"], ["b_i64"], to=T.INT64),
             helper.make_node("Cast", ["h"], ["h_f32"], to=T.FLOAT),
             helper.make_node("Cast", ["h"], ["h_i64"], to=T.INT64)]
    return make(nodes, {"x": x, "i": i, "u": u, "b": b, "h": h},
                {"x_i32": x.astype(np.int32), "x_bool": x.astype(bool),
                 "x_f16": x.astype(np.float16), "x_f64": x.astype(np.float64),
                 "i_f32": i.astype(np.float32), "i_i8": i.astype(np.int8),
                 "i_i32": i.astype(np.int32), "u_f32": u.astype(np.float32),
                 "u_i64": u.astype(np.int64), "b_f32": b.astype(np.float32),
                 "b_i64": b.astype(np.int64), "h_f32": h.astype(np.float32),
                 "h_i64": h.astype(np.int64)})


@case
def trilu():
    x = randf(2, 3, 4)
    nodes = [helper.make_node("Trilu", ["x", "k1"], ["up"], upper=1),
             helper.make_node("Trilu", ["x", "km1"], ["lo"], upper=0),
             helper.make_node("Trilu", ["x"], ["up0"])]
    return make(nodes, {"x": x},
                {"up": np.triu(x, 1), "lo": np.tril(x, -1), "up0": np.triu(x)},
                {"k1": np.array(1, np.int64), "km1": np.array(-1, np.int64)})


@case
def cumsum():
    x = randf(2, 4)
    n = rng.integers(-9, 9, (3, 2)).astype(np.int64)
    r = x[:, ::-1].cumsum(axis=1)[:, ::-1]
    nodes = [helper.make_node("CumSum", ["x", "a1"], ["inc"]),
             helper.make_node("CumSum", ["x", "a1"], ["exc"], exclusive=1),
             helper.make_node("CumSum", ["x", "a1"], ["rev"], reverse=1),
             helper.make_node("CumSum", ["x", "a1"], ["revexc"], reverse=1, exclusive=1),
             helper.make_node("CumSum", ["n", "a0"], ["ints"])]
    return make(nodes, {"x": x, "n": n},
                {"inc": x.cumsum(axis=1), "exc": x.cumsum(axis=1) - x, "rev": r,
                 "revexc": r - x, "ints": n.cumsum(axis=0)},
                {"a1": np.array(-1, np.int32), "a0": np.array(0, np.int64)})


@case
def position_ids():
    """The int64 plumbing of a decoder: positions = CumSum(mask) - 1 masked with Where, then a
    Gather of a position table and an Add; Range and the shape chain fold."""
    mask = np.array([[0, 1, 1, 1, 1]], np.int64)
    table = randf(8, 3)
    pos = np.cumsum(mask, axis=1) - 1
    pos = np.where(mask == 0, np.int64(1), pos)
    ar = np.arange(5, dtype=np.int64)
    nodes = [helper.make_node("CumSum", ["mask", "a1"], ["cs"]),
             helper.make_node("Sub", ["cs", "one"], ["p0"]),
             helper.make_node("Cast", ["mask"], ["mb"], to=TensorProto.BOOL),
             helper.make_node("Where", ["mb", "p0", "one"], ["pos"]),
             helper.make_node("Gather", ["table", "pos"], ["emb"]),
             helper.make_node("Shape", ["mask"], ["shp"]),
             helper.make_node("Gather", ["shp", "one"], ["len"]),
             helper.make_node("Range", ["zero", "len", "one"], ["ar"]),
             helper.make_node("Add", ["pos", "ar"], ["sum"])]
    return make(nodes, {"mask": mask},
                {"pos": pos, "emb": table[pos], "sum": pos + ar},
                {"a1": np.array(1, np.int64), "one": np.array(1, np.int64),
                 "zero": np.array(0, np.int64), "table": table})


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or list(CASES)
    failures = 0
    for name in names:
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        model, inputs, outputs = CASES[name]()
        onnx.save(model, os.path.join(d, "model.onnx"))
        args = ["sqz-run", os.path.join(d, "art"), "--output-dir", os.path.join(d, "out"),
                "--rtol", "1e-6", "--atol", "1e-6"]
        for n, a in inputs.items():
            np.save(os.path.join(d, "in_" + n + ".npy"), a)
            args += ["--input", f"{n}={d}/in_{n}.npy"]
        for n, a in outputs.items():
            np.save(os.path.join(d, "ref_" + n + ".npy"), a)
            args += ["--expect", f"{n}={d}/ref_{n}.npy"]
        log = ""
        ok = True
        for cmd in (["sqz-compile", os.path.join(d, "model.onnx"), "-o", os.path.join(d, "art")],
                    args):
            proc = subprocess.run(cmd, capture_output=True, text=True)
            log += proc.stdout + proc.stderr
            if proc.returncode != 0:
                ok = False
                break
        if ok:
            print(f"{name}: OK")
        else:
            failures += 1
            print(f"{name}: FAIL\n{log}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
