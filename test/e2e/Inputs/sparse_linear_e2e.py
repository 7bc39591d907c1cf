"""Writes a small model in sqz graph IR with three linears, its input, calibration statistics
for its second linear and the NumPy reference of the model after
  sqz-sparsify-nm{n=2 m=4 targets=fc1$}                                 (magnitude 2:4)
  sqz-sparsify-nm{n=4 m=8 method=wanda stats=stats.safetensors tail=dense targets=fc2$}
into argv[1] (model.mlir, x.npy, stats.safetensors, y.npy). Used by e2e/sparse-linear.test.

fc2 has 12 inputs: one 4:8 group and a dense tail of 4 columns. lm_head is never pruned.
"""
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "Transforms", "Inputs"))
import make_calib_stats  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(11)
w1 = rng.standard_normal((12, 8)).astype(np.float32)
b1 = rng.standard_normal(12).astype(np.float32)
w2 = rng.standard_normal((4, 12)).astype(np.float32)
w3 = rng.standard_normal((3, 4)).astype(np.float32)
x = rng.standard_normal((2, 3, 8)).astype(np.float32)

# fc2's statistics: random activations with two loud columns, so Wanda's mask differs from
# the magnitude mask.
calib = make_calib_stats.activations(12, 64, 5, scales=[(1, 30.0), (6, 10.0)])
stats = make_calib_stats.statistics(calib)
make_calib_stats.write_safetensors(
    os.path.join(out, "stats.safetensors"),
    {f"layers.0/fc2/{k}": v for k, v in stats.items()})


def prune_nm(w, scores, n, m):
    """Keeps the n highest scores of each aligned group of m columns; a tail stays dense."""
    w = w.copy()
    groups = w.shape[1] // m
    for r in range(w.shape[0]):
        for g in range(groups):
            s = scores[r, g * m:(g + 1) * m]
            drop = np.argsort(s, kind="stable")[:m - n]
            w[r, g * m + drop] = 0.0
    return w


w1p = prune_nm(w1, np.abs(w1), 2, 4)
w2p = prune_nm(w2, np.abs(w2) * np.sqrt(stats["sumsq"])[None, :], 4, 8)
assert (w2p[:, 8:] == w2[:, 8:]).all()
assert not np.array_equal(w2p != 0, prune_nm(w2, np.abs(w2), 4, 8) != 0), "wanda == magnitude"

h = np.tanh(x.astype(np.float64) @ w1p.T.astype(np.float64) + b1)
g = h @ w2p.T.astype(np.float64)
y = g @ w3.T.astype(np.float64)
np.save(os.path.join(out, "x.npy"), x)
np.save(os.path.join(out, "y.npy"), y.astype(np.float32))
# The dense model's output, which the pruned model must not match.
hd = np.tanh(x.astype(np.float64) @ w1.T + b1)
np.save(os.path.join(out, "y_dense.npy"), ((hd @ w2.T) @ w3.T).astype(np.float32))


def dense(a):
    return "dense<" + np.array2string(a, separator=", ", threshold=10**6, floatmode="unique",
                                      max_line_width=10**6) + ">"


with open(os.path.join(out, "model.mlir"), "w") as f:
    f.write(f"""func.func @main(%x: tensor<2x3x8xf32> {{sqz.name = "x"}}) -> (tensor<2x3x3xf32> {{sqz.name = "y"}}) {{
  %w1 = arith.constant {dense(w1)} : tensor<12x8xf32>
  %b1 = arith.constant {dense(b1)} : tensor<12xf32>
  %h = sqz.linear %x, %w1, %b1 : tensor<2x3x8xf32>, tensor<12x8xf32>, tensor<12xf32> -> tensor<2x3x12xf32> loc("layers.0/fc1")
  %t = math.tanh %h : tensor<2x3x12xf32>
  %w2 = arith.constant {dense(w2)} : tensor<4x12xf32>
  %g = sqz.linear %t, %w2 : tensor<2x3x12xf32>, tensor<4x12xf32> -> tensor<2x3x4xf32> loc("layers.0/fc2")
  %w3 = arith.constant {dense(w3)} : tensor<3x4xf32>
  %y = sqz.linear %g, %w3 : tensor<2x3x4xf32>, tensor<3x4xf32> -> tensor<2x3x3xf32> loc("lm_head")
  return %y : tensor<2x3x3xf32>
}}
""")
