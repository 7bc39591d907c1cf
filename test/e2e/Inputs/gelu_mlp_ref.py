"""Writes x.npy and the NumPy reference outputs of Inputs/gelu_mlp.mlir into argv[1]."""
import math
import sys

import numpy as np

out = sys.argv[1]
w1 = np.array([[0.1, -0.2, 0.3, 0.4], [0.5, 0.6, -0.7, 0.8], [-0.9, 1.0, 1.1, -1.2],
               [0.05, 0.15, -0.25, 0.35], [0.45, -0.55, 0.65, 0.75]], dtype=np.float64)
b1 = np.array([0.01, -0.02, 0.03, -0.04, 0.05])
w2 = np.array([[0.3, -0.1, 0.2, 0.7, -0.5], [-0.4, 0.9, 0.6, -0.8, 0.1]])
x = np.random.default_rng(7).standard_normal((2, 3, 4)).astype(np.float32)
h = x.astype(np.float64) @ w1.T + b1
g = np.vectorize(math.erf)(h)
l = g @ w2.T
e = np.exp(l)
p = e / e.sum(axis=-1, keepdims=True)
np.save(f"{out}/x.npy", x)
np.save(f"{out}/probs.npy", p.astype(np.float32))
np.save(f"{out}/hidden.npy", h.astype(np.float32))
