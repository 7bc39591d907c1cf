"""Writes a small model in sqz graph IR (two block linears and an LM head), calibration
statistics with two loud input channels of fc1, and NumPy references of the model after
  int8:    sqz-quantize-outliers{threshold=6}            (fc1 keeps columns 2 and 9 in float,
                                                          fc2 has no outlier: plain int8 rows)
  sp4:     sqz-sparsify-nm{n=2 m=4} then sqz-quantize{method=rtn bits=4 group=8}
  sp3asym: sqz-sparsify-nm{n=2 m=4} then sqz-quantize{method=rtn bits=3 group=-1 symmetric=false}
into argv[1] (model.mlir, x.npy, stats.safetensors, calib.npy, y_<case>.npy, y_dense.npy). fc2 has 12
inputs, so groups of 8 dense columns end with a ragged group of 4. Used by
e2e/quantize-outliers-sparse.test.
"""
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
here = os.path.dirname(__file__)
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "..", "Transforms", "Inputs"))
import make_calib_stats  # noqa: E402
from quant_reference import llm_int8, quantize  # noqa: E402



def prune_nm(w, scores, n, m):
    """Keeps the n highest scores of each aligned group of m columns (ties: the lower column
    is pruned), as sqz-sparsify-nm."""
    w = w.copy()
    for r in range(w.shape[0]):
        for g in range(w.shape[1] // m):
            drop = np.argsort(scores[r, g * m:(g + 1) * m], kind="stable")[:m - n]
            w[r, g * m + drop] = 0.0
    return w


out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(23)
w1 = rng.standard_normal((12, 16)).astype(np.float32)
b1 = rng.standard_normal(12).astype(np.float32)
w2 = rng.standard_normal((8, 12)).astype(np.float32)
w3 = rng.standard_normal((3, 8)).astype(np.float32)
x = rng.standard_normal((2, 3, 16)).astype(np.float32)

# Calibration: fc1's channels 2 and 9 are loud (absmax well above 6), the rest are not.
x1 = make_calib_stats.activations(16, 60, 5, scales=[(2, 10.0), (9, 8.0)])
x2 = make_calib_stats.activations(12, 64, 6)
s1, s2 = make_calib_stats.statistics(x1), make_calib_stats.statistics(x2)
assert set(np.nonzero(s1["absmax"] >= 6)[0]) == {2, 9} and (s2["absmax"] < 6).all()
tensors = {f"layers.0/fc1/{k}": v for k, v in s1.items()}
tensors.update({f"layers.0/fc2/{k}": v for k, v in s2.items()})
make_calib_stats.write_safetensors(os.path.join(out, "stats.safetensors"), tensors)
# The same fc1 activations as calibration samples of the model input (10 samples of [2, 3, 16]),
# for sqz-compile --recipe --calib-data (fc2's input is then tanh(...), below 6 as well).
np.save(os.path.join(out, "calib.npy"), x1.astype(np.float32).reshape(10, 2, 3, 16))


def model(a, b):
    h = np.tanh(x.astype(np.float64) @ a.T.astype(np.float64) + b1)
    return (h @ b.T.astype(np.float64)) @ w3.T.astype(np.float64)


np.save(os.path.join(out, "x.npy"), x)
np.save(os.path.join(out, "y_dense.npy"), model(w1, w2).astype(np.float32))
q1, cols1 = llm_int8(w1, s1["absmax"], 6.0)
q2, cols2 = llm_int8(w2, s2["absmax"], 6.0)
assert list(cols1) == [2, 9] and len(cols2) == 0
np.save(os.path.join(out, "y_int8.npy"), model(q1, q2).astype(np.float32))
p1, p2 = prune_nm(w1, np.abs(w1), 2, 4), prune_nm(w2, np.abs(w2), 2, 4)
np.save(os.path.join(out, "y_sp4.npy"),
        model(quantize(p1, "rtn-sym", 4, 8), quantize(p2, "rtn-sym", 4, 8)).astype(np.float32))
np.save(os.path.join(out, "y_sp3asym.npy"),
        model(quantize(p1, "rtn-asym", 3, -1), quantize(p2, "rtn-asym", 3, -1)).astype(np.float32))
# The pruned but unquantized model, which the quantized ones must not match.
np.save(os.path.join(out, "y_sparse.npy"), model(p1, p2).astype(np.float32))


def dense(a):
    return "dense<" + np.array2string(a, separator=", ", threshold=10**6, floatmode="unique",
                                      max_line_width=10**6) + ">"


with open(os.path.join(out, "model.mlir"), "w") as f:
    f.write(f"""func.func @main(%x: tensor<2x3x16xf32> {{sqz.name = "x"}}) -> (tensor<2x3x3xf32> {{sqz.name = "y"}}) {{
  %w1 = arith.constant {dense(w1)} : tensor<12x16xf32>
  %b1 = arith.constant {dense(b1)} : tensor<12xf32>
  %h = sqz.linear %x, %w1, %b1 : tensor<2x3x16xf32>, tensor<12x16xf32>, tensor<12xf32> -> tensor<2x3x12xf32> loc("layers.0/fc1")
  %t = math.tanh %h : tensor<2x3x12xf32>
  %w2 = arith.constant {dense(w2)} : tensor<8x12xf32>
  %g = sqz.linear %t, %w2 : tensor<2x3x12xf32>, tensor<8x12xf32> -> tensor<2x3x8xf32> loc("layers.0/fc2")
  %w3 = arith.constant {dense(w3)} : tensor<3x8xf32>
  %y = sqz.linear %g, %w3 : tensor<2x3x8xf32>, tensor<3x8xf32> -> tensor<2x3x3xf32> loc("lm_head")
  return %y : tensor<2x3x3xf32>
}}
""")
