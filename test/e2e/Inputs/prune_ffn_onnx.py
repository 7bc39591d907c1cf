"""Structurally prunes a llama2.c-style ONNX model (the stories260K export): argv[1] -> argv[2],
removing the fraction argv[3] of the units of each block; argv[4] is the unit, `ffn-neuron`
(default) or `attention-head`.

ffn-neuron: MatMul nodes named <block>/w1, <block>/w3 (gate, up: B [H, I]) and <block>/w2
(down: B [I, H]); floor(I * ratio) neurons per block go. The NumPy twin of
sqz-prune-structured{unit=ffn-neuron score=l2} with the default selection: the score of neuron i
is the sum of squares of its w1 and w3 rows and its w2 column (W = Bᵀ, [out, in]), accumulated
in float64; the lowest go, ties to the lower index.

attention-head: MatMul nodes <block>/q, <block>/k, <block>/v (B [H, heads·hd], [H, kv·hd]) and
<block>/o (B [heads·hd, H]); the unit is a GQA group (one KV head and the heads/kv query heads
that share it), floor(kv * ratio) groups per block go. The twin of
sqz-prune-structured{unit=attention-head score=l2}: a group's score is the sum of squares of
its q, k and v rows and its o columns (float64). The head counts live in the export's shape
constants (kvh, shape_qh, shape_kh, shape_q4, shape_k4, shape_bhth, shape_btd), shared by every
block, so every block must lose the same number of groups (it does: the ratio is uniform).

The dense compile of the result is the reference for the structurally pruned compile
(e2e/prune-structured-stories260K.test).
"""
import math
import re
import sys

import numpy as np
import onnx
from onnx import numpy_helper

model = onnx.load(sys.argv[1])
ratio = float(sys.argv[3])
unit = sys.argv[4] if len(sys.argv) > 4 else "ffn-neuron"
inits = {t.name: t for t in model.graph.initializer}
nodes = {n.name: n for n in model.graph.node if n.op_type == "MatMul"}


def weight(node):
    return numpy_helper.to_array(inits[node.input[1]])


def store(node, array):
    t = inits[node.input[1]]
    t.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array), t.name))


def drop_lowest(score, count):
    drop = np.sort(np.argsort(score, kind="stable")[:count])
    return drop, np.setdiff1d(np.arange(len(score)), drop)


def prune_ffn():
    blocks = 0
    for name, down in nodes.items():
        match = re.fullmatch(r"(.*(?:^|[/.])layers\.\d+)/w2", name)
        if not match:
            continue
        gate, up = nodes[match.group(1) + "/w1"], nodes[match.group(1) + "/w3"]
        b1, b3, b2 = (weight(n) for n in (gate, up, down))
        units = b2.shape[0]
        score = np.zeros(units)
        for b in (b1, b3):  # B [H, I]: neuron i is column i (row i of W)
            score += (b.astype(np.float64) ** 2).sum(axis=0)
        score += (b2.astype(np.float64) ** 2).sum(axis=1)  # B [I, H]: row i (column i of W)
        drop, keep = drop_lowest(score, math.floor(units * ratio))
        for node, b, axis in ((gate, b1, 1), (up, b3, 1), (down, b2, 0)):
            store(node, np.take(b, keep, axis=axis))
        blocks += 1
        print(f"{name}: {units} -> {len(keep)} neurons, removed {drop[:4].tolist()}...")
    print(f"pruned {blocks} FFN blocks")


def prune_heads():
    consts = {n: numpy_helper.to_array(inits[n]).copy() for n in
              ("kvh", "shape_qh", "shape_kh", "shape_q4", "shape_k4", "shape_bhth", "shape_btd")}
    heads, kv = int(consts["shape_qh"][2]), int(consts["kvh"][0])
    count = math.floor(kv * ratio)
    kept_kv = kv - count
    blocks = 0
    for name, o in nodes.items():
        match = re.fullmatch(r"(.*(?:^|[/.])layers\.\d+)/o", name)
        if not match:
            continue
        q, k, v = (nodes[match.group(1) + s] for s in ("/q", "/k", "/v"))
        bq, bk, bv, bo = (weight(n) for n in (q, k, v, o))
        score = np.zeros(kv)
        for b in (bq, bk, bv):  # B [H, G·width]: group g is columns [g·width, (g+1)·width)
            width = b.shape[1] // kv
            score += (b.astype(np.float64) ** 2).reshape(b.shape[0], kv, width).sum(axis=(0, 2))
        width = bo.shape[0] // kv  # B [G·width, H]: group g is rows [g·width, (g+1)·width)
        score += (bo.astype(np.float64) ** 2).reshape(kv, width, bo.shape[1]).sum(axis=(1, 2))
        drop, keep = drop_lowest(score, count)
        for node, b, axis in ((q, bq, 1), (k, bk, 1), (v, bv, 1), (o, bo, 0)):
            width = b.shape[axis] // kv
            features = (keep[:, None] * width + np.arange(width)[None, :]).reshape(-1)
            store(node, np.take(b, features, axis=axis))
        blocks += 1
        print(f"{name}: {kv} -> {kept_kv} GQA groups ({heads} -> {heads // kv * kept_kv} "
              f"query heads), removed {drop.tolist()}")
    new_heads = heads // kv * kept_kv
    consts["kvh"][0] = kept_kv
    consts["shape_qh"][2] = new_heads
    consts["shape_kh"][2] = kept_kv
    consts["shape_q4"][2] = new_heads
    consts["shape_k4"][2] = kept_kv
    consts["shape_bhth"][1] = new_heads
    consts["shape_btd"][2] = consts["shape_btd"][2] // heads * new_heads
    for n, a in consts.items():
        inits[n].CopyFrom(numpy_helper.from_array(a, n))
    print(f"pruned {blocks} attention blocks")


if unit == "attention-head":
    prune_heads()
else:
    prune_ffn()
onnx.save(model, sys.argv[2])
