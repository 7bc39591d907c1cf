"""Writes ONNX node-test style cases (model.onnx + test_data_set_0) of the scatter/gather ops
with NumPy reference outputs into the directory given as argv[1]: ScatterElements (every
reduction, duplicate and negative indices, uint8/int64/bool), the deprecated Scatter, ScatterND
(scalar updates, opsets 11/16/18), GatherND (batch_dims, negative indices, constants folded),
TensorScatter (no write_indices, circular wrap-around, last axis), DepthToSpace opset 1, and
SpaceToDepth/Compress of constants. test/e2e/scatter.test runs them through the conformance
harness. The references apply the updates in order, so duplicate indices keep the last one."""
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = sys.argv[1]
RNG = np.random.default_rng(0)
DTYPES = {np.float32: TensorProto.FLOAT, np.int64: TensorProto.INT64,
          np.int32: TensorProto.INT32, np.bool_: TensorProto.BOOL, np.uint8: TensorProto.UINT8}


def value_info(name, array):
    return helper.make_tensor_value_info(name, DTYPES[array.dtype.type], array.shape)


def save(name, node, inputs, outputs, opset, inits=(), extra_nodes=()):
    """One test: `inputs`/`outputs`/`inits` are [(name, array)]."""
    test_dir = os.path.join(ROOT, "test_x_" + name)
    os.makedirs(os.path.join(test_dir, "test_data_set_0"))
    graph = helper.make_graph(
        list(extra_nodes) + [node], name, [value_info(n, a) for n, a in inputs],
        [value_info(n, a) for n, a in outputs],
        initializer=[numpy_helper.from_array(a, n) for n, a in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset < 21 else 10
    onnx.save(model, os.path.join(test_dir, "model.onnx"))
    for kind, values in (("input", inputs), ("output", outputs)):
        for i, (n, a) in enumerate(values):
            path = os.path.join(test_dir, "test_data_set_0", "%s_%d.pb" % (kind, i))
            with open(path, "wb") as f:
                f.write(numpy_helper.from_array(a, n).SerializeToString())


def combine(kind, old, update):
    return {"none": lambda: update, "add": lambda: old + update, "mul": lambda: old * update,
            "max": lambda: max(old, update), "min": lambda: min(old, update)}[kind]()


def scatter_elements(data, indices, updates, axis, kind):
    out = data.copy()
    for pos in np.ndindex(*indices.shape):
        target = list(pos)
        target[axis] = indices[pos] % data.shape[axis]
        out[tuple(target)] = combine(kind, out[tuple(target)], updates[pos])
    return out


def scatter_nd(data, indices, updates, kind):
    out = data.copy()
    k = indices.shape[-1]
    for pos in np.ndindex(*indices.shape[:-1]):
        start = tuple(int(v) % data.shape[d] for d, v in enumerate(indices[pos]))
        for rest in np.ndindex(*data.shape[k:]):
            out[start + rest] = combine(kind, out[start + rest], updates[pos + rest])
    return out


def gather_nd(data, indices, batch_dims):
    k = indices.shape[-1]
    out = np.zeros(indices.shape[:-1] + data.shape[batch_dims + k:], data.dtype)
    for pos in np.ndindex(*indices.shape[:-1]):
        at = tuple(int(v) % data.shape[batch_dims + d] for d, v in enumerate(indices[pos]))
        out[pos] = data[pos[:batch_dims] + at]
    return out


def tensor_scatter(cache, update, write_indices, axis, mode):
    out = cache.copy()
    for prefix in np.ndindex(*cache.shape[:axis]):
        for s in range(update.shape[axis]):
            at = write_indices[prefix[0]] + s
            if mode == "circular":
                at %= cache.shape[axis]
            out[prefix + (at,)] = update[prefix + (s,)]
    return out


def depth_to_space_dcr(x, b):
    n, c, h, w = x.shape
    t = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    return t.reshape(n, c // (b * b), h * b, w * b)


def space_to_depth(x, b):
    n, c, h, w = x.shape
    t = x.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
    return t.reshape(n, c * b * b, h // b, w // b)


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    # ScatterElements, opset 18: every reduction on a 3-D tensor with random (duplicate,
    # negative) indices.
    for kind, axis in (("max", 0), ("min", 2), ("mul", 1), ("none", -1)):
        data = RNG.standard_normal((3, 4, 5)).astype(np.float32)
        dim = data.shape[axis]
        indices = RNG.integers(-dim, dim, size=(2, 3, 4)).astype(np.int64)
        updates = RNG.standard_normal((2, 3, 4)).astype(np.float32)
        node = helper.make_node("ScatterElements", ["d", "i", "u"], ["y"], axis=axis,
                                reduction=kind)
        save("scatter_elements_" + kind, node, [("d", data), ("i", indices), ("u", updates)],
             [("y", scatter_elements(data, indices, updates, axis % 3, kind))], 18)
    data = RNG.integers(0, 200, (4, 6)).astype(np.uint8)
    indices = RNG.integers(0, 6, (4, 3)).astype(np.int32)
    updates = RNG.integers(0, 255, (4, 3)).astype(np.uint8)
    save("scatter_elements_uint8_max",
         helper.make_node("ScatterElements", ["d", "i", "u"], ["y"], axis=1, reduction="max"),
         [("d", data), ("i", indices), ("u", updates)],
         [("y", scatter_elements(data, indices, updates, 1, "max"))], 18)
    data = RNG.integers(-50, 50, (4, 6)).astype(np.int64)
    indices = RNG.integers(-4, 4, (3, 6)).astype(np.int64)
    updates = RNG.integers(-50, 50, (3, 6)).astype(np.int64)
    save("scatter_elements_int64_add",
         helper.make_node("ScatterElements", ["d", "i", "u"], ["y"], axis=0, reduction="add"),
         [("d", data), ("i", indices), ("u", updates)],
         [("y", scatter_elements(data, indices, updates, 0, "add"))], 16)
    data = RNG.standard_normal((5,)).astype(np.float32)
    indices = np.array([4, -5, 2], np.int64)
    updates = RNG.standard_normal((3,)).astype(np.float32)
    save("scatter_elements_opset11_1d", helper.make_node("ScatterElements", ["d", "i", "u"], ["y"]),
         [("d", data), ("i", indices), ("u", updates)],
         [("y", scatter_elements(data, indices, updates, 0, "none"))], 11)
    # The deprecated Scatter on bool data (opset 9).
    data = RNG.integers(0, 2, (3, 4)).astype(bool)
    indices = RNG.integers(0, 3, (2, 4)).astype(np.int64)
    updates = RNG.integers(0, 2, (2, 4)).astype(bool)
    save("scatter_opset9_bool", helper.make_node("Scatter", ["d", "i", "u"], ["y"]),
         [("d", data), ("i", indices), ("u", updates)],
         [("y", scatter_elements(data, indices, updates, 0, "none"))], 9)
    # ScatterND: full index tuples (scalar updates, duplicates added), k = 2 of rank 3 with min
    # (opset 18), opset 11 rows.
    data = RNG.standard_normal((3, 4)).astype(np.float32)
    indices = np.array([[0, 1], [2, 3], [0, 1], [-1, -4]], np.int64)
    updates = RNG.standard_normal((4,)).astype(np.float32)
    save("scatternd_scalar_add",
         helper.make_node("ScatterND", ["d", "i", "u"], ["y"], reduction="add"),
         [("d", data), ("i", indices), ("u", updates)],
         [("y", scatter_nd(data, indices, updates, "add"))], 16)
    data = RNG.integers(-9, 9, (3, 4, 5)).astype(np.int32)
    indices = np.array([[[0, 1], [2, 3]], [[1, 1], [0, 1]]], np.int64)
    updates = RNG.integers(-9, 9, (2, 2, 5)).astype(np.int32)
    save("scatternd_int32_min",
         helper.make_node("ScatterND", ["d", "i", "u"], ["y"], reduction="min"),
         [("d", data), ("i", indices), ("u", updates)],
         [("y", scatter_nd(data, indices, updates, "min"))], 18)
    data = RNG.standard_normal((3, 4)).astype(np.float32)
    indices = np.array([[1], [2]], np.int64)
    updates = RNG.standard_normal((2, 4)).astype(np.float32)
    save("scatternd_opset11", helper.make_node("ScatterND", ["d", "i", "u"], ["y"]),
         [("d", data), ("i", indices), ("u", updates)],
         [("y", scatter_nd(data, indices, updates, "none"))], 11)
    # GatherND: k = 2 with negative indices, batch_dims 2 and 1, constants folded at import.
    data = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    indices = np.array([[[0, 1], [2, -1]], [[1, 3], [-3, 0]]], np.int64)
    save("gathernd_k2_negative", helper.make_node("GatherND", ["d", "i"], ["y"]),
         [("d", data), ("i", indices)], [("y", gather_nd(data, indices, 0))], 11)
    data = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    indices = RNG.integers(0, 4, (2, 3, 2, 1)).astype(np.int64)
    save("gathernd_batch_dims2", helper.make_node("GatherND", ["d", "i"], ["y"], batch_dims=2),
         [("d", data), ("i", indices)], [("y", gather_nd(data, indices, 2))], 12)
    data = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    indices = np.stack([RNG.integers(0, 3, 2), RNG.integers(0, 4, 2)], axis=1).astype(np.int64)
    save("gathernd_batch_dims1_k2", helper.make_node("GatherND", ["d", "i"], ["y"], batch_dims=1),
         [("d", data), ("i", indices)], [("y", gather_nd(data, indices, 1))], 13)
    data = RNG.standard_normal((3, 4)).astype(np.float32)
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    save("gathernd_constant", helper.make_node("Add", ["g", "x"], ["y"]), [("x", x)],
         [("y", data[[2, 0]] + x)], 13,
         inits=[("d", data), ("i", np.array([[2], [0]], np.int64))],
         extra_nodes=[helper.make_node("GatherND", ["d", "i"], ["g"])])
    # TensorScatter (opset 24).
    cache = RNG.standard_normal((2, 3, 6, 4)).astype(np.float32)
    update = RNG.standard_normal((2, 3, 3, 4)).astype(np.float32)
    save("tensorscatter_no_write_indices", helper.make_node("TensorScatter", ["c", "u"], ["y"]),
         [("c", cache), ("u", update)],
         [("y", tensor_scatter(cache, update, np.zeros(2, np.int64), 2, "linear"))], 24)
    write = np.array([5, 1], np.int64)
    save("tensorscatter_circular_wrap",
         helper.make_node("TensorScatter", ["c", "u", "w"], ["y"], mode="circular", axis=2),
         [("c", cache), ("u", update), ("w", write)],
         [("y", tensor_scatter(cache, update, write, 2, "circular"))], 24)
    cache = RNG.standard_normal((2, 6, 4)).astype(np.float32)
    update = RNG.standard_normal((2, 6, 2)).astype(np.float32)
    write = np.array([2, 0], np.int64)
    save("tensorscatter_last_axis",
         helper.make_node("TensorScatter", ["c", "u", "w"], ["y"], axis=-1),
         [("c", cache), ("u", update), ("w", write)],
         [("y", tensor_scatter(cache, update, write, 2, "linear"))], 24)
    # DepthToSpace opset 1 (no mode: DCR); SpaceToDepth and Compress of constants fold.
    x = RNG.standard_normal((2, 12, 2, 3)).astype(np.float32)
    save("depthtospace_opset1", helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2),
         [("x", x)], [("y", depth_to_space_dcr(x, 2))], 1)
    x = RNG.standard_normal((1, 2, 6, 9)).astype(np.float32)
    z = RNG.standard_normal((1, 18, 2, 3)).astype(np.float32)
    save("spacetodepth_constant", helper.make_node("Add", ["s", "z"], ["y"]), [("z", z)],
         [("y", space_to_depth(x, 3) + z)], 13, inits=[("x", x)],
         extra_nodes=[helper.make_node("SpaceToDepth", ["x"], ["s"], blocksize=3)])
    x = RNG.integers(-5, 5, (2, 5, 3)).astype(np.int64)
    cond = np.array([1, 0, 1, 1], bool)
    save("compress_int64_axis1", helper.make_node("Compress", ["x", "c"], ["y"], axis=1),
         [("x", x)], [("y", np.compress(cond, x, axis=1))], 11, inits=[("c", cond)])
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    z = RNG.standard_normal((3,)).astype(np.float32)
    cond = np.array([0, 1, 0, 1, 1, 0], bool)
    save("compress_constant_flat", helper.make_node("Add", ["s", "z"], ["y"]), [("z", z)],
         [("y", np.compress(cond, x) + z)], 11, inits=[("x", x), ("c", cond)],
         extra_nodes=[helper.make_node("Compress", ["x", "c"], ["s"])])


if __name__ == "__main__":
    main()
