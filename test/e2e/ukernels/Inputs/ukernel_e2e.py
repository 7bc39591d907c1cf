"""Writes a small model in sqz graph IR whose seven linears take every microkernel format
once the recipe below has run, plus its inputs and an independent NumPy reference, into
argv[1]. Used by e2e/ukernels/formats.test.

    l1 160->192  rtn int4 g32 asymmetric          (kernel int4)
    l2 192->136  rtn int4 g128 asymmetric, ragged (int4; K = 128 + 64, N not a multiple of 64)
    l3 136->128  rtn int8 g32 symmetric, ragged   (int8)
    l4 128->100  nf4 g64                          (nf4)
    l5 100->96   ternary per row                  (ternary2)
    l6 96->80    2:4 magnitude, f32 values        (sp24_f32)
    l7 80->64    2:4 magnitude, then rtn int4 g32 (sp24_int4; K = 80: groups 32, 32, 16)

Each linear has a bias and is followed by tanh. The input is x[rows, 160] with a dynamic row
count (ABI 3), so one artifact runs the GEMV (1 row) and small GEMMs (7 and 40 rows).

Files: model.mlir, recipe.yaml, x{1,7,40}.npy, ref{1,7,40}.npy.
"""
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "Inputs"))
from quant_reference import quantize  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(2024)
dims = [160, 192, 136, 128, 100, 96, 80, 64]
weights, biases = [], []
for i in range(7):
    k, n = dims[i], dims[i + 1]
    weights.append((rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32))
    biases.append((0.1 * rng.standard_normal(n)).astype(np.float32))


def prune24(w):
    """Keeps the 2 largest |w| of every aligned group of 4 columns (ties: lower column pruned)."""
    w = w.copy()
    for r in range(w.shape[0]):
        for g in range(0, w.shape[1], 4):
            drop = np.argsort(np.abs(w[r, g:g + 4]), kind="stable")[:2]
            w[r, g + drop] = 0.0
    return w


def ternary(w):
    """Per-row absmean gamma (at least 1e-5), codes round-half-even(w / gamma) clipped to ±1."""
    gamma = np.maximum(np.abs(w.astype(np.float64)).mean(1, keepdims=True), 1e-5).astype(np.float32)
    return (np.clip(np.round(w * (np.float32(1) / gamma)), -1, 1) * gamma).astype(np.float32)


p7 = prune24(weights[6])
ref_w = [
    quantize(weights[0], "rtn-asym", 4, 32),
    quantize(weights[1], "rtn-asym", 4, 128),
    quantize(weights[2], "rtn-sym", 8, 32),
    quantize(weights[3], "nf4", 4, 64),
    ternary(weights[4]),
    prune24(weights[5]),
    np.where(p7 != 0, quantize(p7, "rtn-sym", 4, 32), np.float32(0)),
]


def reference(x):
    h = x.astype(np.float64)
    for w, b in zip(ref_w, biases):
        h = np.tanh(h @ w.T.astype(np.float64) + b)
    return h.astype(np.float32)


for rows in (1, 7, 40):
    x = rng.standard_normal((rows, dims[0])).astype(np.float32)
    np.save(os.path.join(out, f"x{rows}.npy"), x)
    np.save(os.path.join(out, f"ref{rows}.npy"), reference(x))


def dense(a):
    return "dense<" + np.array2string(a, separator=", ", threshold=10**7, floatmode="unique",
                                      max_line_width=10**7) + ">"


lines = []
value = "%x"
for i, (w, b) in enumerate(zip(weights, biases)):
    n, k = w.shape
    lines.append(f"  %w{i} = arith.constant {dense(w)} : tensor<{n}x{k}xf32>")
    lines.append(f"  %b{i} = arith.constant {dense(b)} : tensor<{n}xf32>")
    lines.append(f"  %l{i} = sqz.linear {value}, %w{i}, %b{i} : tensor<?x{k}xf32>, tensor<{n}x{k}xf32>, "
                 f"tensor<{n}xf32> -> tensor<?x{n}xf32> loc(\"l{i + 1}\")")
    lines.append(f"  %t{i} = math.tanh %l{i} : tensor<?x{n}xf32>")
    value = f"%t{i}"
body = "\n".join(lines)
with open(os.path.join(out, "model.mlir"), "w") as f:
    f.write(f"""func.func @main(%x: tensor<?x{dims[0]}xf32> {{sqz.name = "x", sqz.dim_names = ["rows", ""], sqz.max_shape = array<i64: 64, {dims[0]}>}}) -> (tensor<?x{dims[-1]}xf32> {{sqz.name = "y", sqz.dim_names = ["rows", ""]}}) {{
{body}
  return {value} : tensor<?x{dims[-1]}xf32>
}}
""")

with open(os.path.join(out, "recipe.yaml"), "w") as f:
    f.write("""- quantize: {method: rtn, bits: 4, group: 32, symmetric: false, targets: 'l1$'}
- quantize: {method: rtn, bits: 4, group: 128, symmetric: false, targets: 'l2$'}
- quantize: {method: rtn, bits: 8, group: 32, targets: 'l3$'}
- quantize: {method: nf4, group: 64, targets: 'l4$'}
- quantize: {method: ternary, group: -1, targets: 'l5$'}
- sparsify-nm: {n: 2, m: 4, targets: 'l[67]$'}
- quantize: {method: rtn, bits: 4, group: 32, targets: 'l7$'}
""")
