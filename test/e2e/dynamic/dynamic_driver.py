"""Runs an ABI 3 (dynamic shapes) artifact directly through its C ABI with ctypes, at several
input shapes, and checks the outputs against NumPy references computed here.

  dynamic_driver.py ARTIFACT_DIR MODEL

MODEL names the test model (Inputs/MODEL.mlir); its reference and the shapes it runs at are
below. For each case the driver checks sqz_model_output_shapes against the reference shapes,
then calls sqz_model_invoke(buffers, shapes) (NULL buffers for empty tensors) and compares.
Prints one line per case and exits non-zero on the first mismatch.
"""
import ctypes
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "Inputs"))


def ref_elementwise(x, b):
    return [np.tanh(x + b) * x]


def ref_linear(x):
    import gen_linear
    w1, b1, w2 = gen_linear.weights()
    h = np.maximum(x.astype(np.float64) @ w1.T.astype(np.float64) + b1, 0)
    return [h @ w2.T.astype(np.float64)]


def ref_onnx_linear(x):
    import gen_onnx_linear
    return [np.maximum(x.astype(np.float64) @ gen_onnx_linear.weight().astype(np.float64), 0)]


def ref_sparse(x):
    w = np.array([[1, 2, 0, 0, 3, 0, 4, 0], [0, 5, 0, 6, 0, 0, 7, 8]], dtype=np.float64)
    return [x.astype(np.float64) @ w.T + np.array([0.5, -0.5])]


def ref_softmax(x):
    x = x.astype(np.float64)
    if x.shape[1] == 0:
        return [x, np.zeros((x.shape[0],))]
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return [e / e.sum(axis=1, keepdims=True), x.sum(axis=1)]


def ref_kv_concat(past, new):
    return [np.concatenate([past, new], axis=2), new * 2.0]


GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "models",
                      "stories260K", "golden")


def stories_ids(shape):
    """The first shape[1] tokens of the golden prompt, repeated over the batch."""
    ids = np.load(os.path.join(GOLDEN, "prompt_ids.npy"))
    return np.repeat(ids[:, :shape[1]], shape[0], axis=0)


def ref_stories(ids):
    # A causal LM: the logits of a prefix are the first rows of the full prompt's logits.
    logits = np.load(os.path.join(GOLDEN, "prompt_logits.npy"))
    return [np.repeat(logits[:, :ids.shape[1]], ids.shape[0], axis=0)]


def rng_f32(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


# Per model: the list of input shapes to run at, and the reference.
MODELS = {
    "elementwise": ([[(0, 4), (4,)], [(1, 4), (4,)], [(7, 4), (4,)], [(130, 4), (4,)]],
                    ref_elementwise),
    # Rows M = batch * seq: 0, 1, 14 (mr blocks + single rows), 99 (mb, mr and single-row
    # blocks), 128 (mb blocks only).
    "linear": ([[(0, 5, 64)], [(1, 1, 64)], [(2, 7, 64)], [(3, 33, 64)], [(1, 128, 64)]],
               ref_linear),
    # An ONNX model compiled with --dynamic-dim x:0:100.
    "onnx_linear": ([[(0, 64)], [(1, 64)], [(5, 64)], [(100, 64)]], ref_onnx_linear),
    # stories260K imported with its dynamic [batch, seq] input: prompt prefixes (decode-like
    # single token, 10 tokens, the whole 33-token prompt) and a batch of 2.
    "stories": ([[(1, 0)], [(1, 1)], [(1, 10)], [(1, 33)], [(2, 33)]], ref_stories),
    "sparse": ([[(0, 3, 8)], [(1, 1, 8)], [(2, 5, 8)], [(4, 20, 8)]], ref_sparse),
    # The same model at every row count from 1 to 16 and at 47, 48, 53 and 128 rows.
    "sparse_rows": ([[(1, m, 8)] for m in list(range(1, 17)) + [47, 48, 53, 128]], ref_sparse),
    "softmax": ([[(0, 3)], [(2, 0)], [(1, 1)], [(3, 10)], [(5, 37)]], ref_softmax),
    # [batch, heads, past, head_dim] ++ [batch, heads, seq, head_dim]: prefill (past = 0),
    # decode (seq = 1), both empty.
    "kv_concat": ([[(1, 2, 0, 8), (1, 2, 5, 8)], [(1, 2, 5, 8), (1, 2, 1, 8)],
                   [(1, 2, 6, 8), (1, 2, 1, 8)], [(1, 2, 0, 8), (1, 2, 0, 8)],
                   [(1, 2, 40, 8), (1, 2, 3, 8)]], ref_kv_concat),
}

DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "int32": np.int32}


def load_weights(art, manifest):
    """The weights file's data section (ABI 2/3 artifacts with "weights"), as a NumPy array
    that owns the memory, or None."""
    if "weights" not in manifest:
        return None
    with open(os.path.join(art, manifest["weights"]["file"]), "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    # 64-byte aligned, like the runtime's mapping of the file (page-aligned, data section at a
    # multiple of 64): the microkernels' packed weights rely on it (docs/Runtime.md).
    raw = np.frombuffer(data[8 + header_len:], dtype=np.uint8)
    storage = np.zeros(raw.size + 64, dtype=np.uint8)
    start = (-storage.ctypes.data) % 64
    buf = storage[start:start + raw.size]
    buf[:] = raw
    assert buf.size == manifest["weights"]["bytes"], (buf.size, manifest["weights"]["bytes"])
    return buf


def main():
    art, model = sys.argv[1], sys.argv[2]
    shapes_list, reference = MODELS[model]
    with open(os.path.join(art, "manifest.json")) as f:
        manifest = json.load(f)
    lib = ctypes.CDLL(os.path.join(art, manifest["library"]))
    lib.sqz_abi_version.restype = ctypes.c_uint32
    version = lib.sqz_abi_version()
    if version != 3 or manifest["abi_version"] != 3:
        sys.exit(f"{model}: expected ABI 3, the library says {version}, the manifest "
                 f"{manifest['abi_version']}")
    i64p = ctypes.POINTER(ctypes.c_int64)
    lib.sqz_model_output_shapes.argtypes = [i64p, i64p]
    invoke = getattr(lib, manifest["entry"])
    invoke.argtypes = [ctypes.POINTER(ctypes.c_void_p), i64p]
    weights = load_weights(art, manifest)
    ins, outs = manifest["inputs"], manifest["outputs"]
    rng = np.random.default_rng(0)
    for shapes in shapes_list:
        assert len(shapes) == len(ins)
        inputs = []
        for spec, shape in zip(ins, shapes):
            assert len(shape) == len(spec["shape"])
            assert all(d == s or d == -1 for s, d in zip(shape, spec["shape"])), (shape, spec)
            if model == "stories":
                inputs.append(stories_ids(shape))
            else:
                inputs.append(rng_f32(rng, shape).astype(DTYPES[spec["dtype"]]))
        expected = reference(*inputs)
        flat_in = [d for x in inputs for d in x.shape]
        in_arr = (ctypes.c_int64 * max(len(flat_in), 1))(*flat_in)
        n_out = sum(len(o["shape"]) for o in outs)
        out_arr = (ctypes.c_int64 * max(n_out, 1))()
        lib.sqz_model_output_shapes(in_arr, out_arr)
        got_shapes, at = [], 0
        for o in outs:
            got_shapes.append(tuple(out_arr[at:at + len(o["shape"])]))
            at += len(o["shape"])
        want_shapes = [tuple(e.shape) for e in expected]
        if got_shapes != want_shapes:
            sys.exit(f"{model} {shapes}: output shapes {got_shapes}, expected {want_shapes}")
        outputs = [np.full(s, np.nan, dtype=DTYPES[o["dtype"]]) for s, o in zip(got_shapes, outs)]
        tensors = inputs + outputs
        ptrs = [t.ctypes.data if t.size else None for t in tensors]
        if weights is not None:
            ptrs.append(weights.ctypes.data)
        buffers = (ctypes.c_void_p * len(ptrs))(*ptrs)
        flat = flat_in + [d for s in got_shapes for d in s]
        shape_arr = (ctypes.c_int64 * max(len(flat), 1))(*flat)
        invoke(buffers, shape_arr)
        for o, got, want in zip(outs, outputs, expected):
            err = float(np.max(np.abs(got - want))) if got.size else 0.0
            if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
                sys.exit(f"{model} {shapes}: output '{o['name']}' max_abs_err={err}")
        print(f"{model} {[list(s) for s in shapes]} -> {[list(s) for s in got_shapes]}: OK")


if __name__ == "__main__":
    main()
