"""Input and float64 NumPy reference of onnxruntime's layer_norm_t5.onnx test model (the T5
RMS norm written out: Pow, ReduceMean, Add, Sqrt, Div, Mul with gamma = [1, 2, 3, 4])."""
import sys

import numpy as np

out = sys.argv[1]
a = np.random.default_rng(0).standard_normal((16, 32, 4)).astype(np.float32)
a64 = a.astype(np.float64)
c = np.array([1, 2, 3, 4]) * (a64 / np.sqrt((a64 ** 2).mean(-1, keepdims=True) + 1e-12))
np.save(f"{out}/A.npy", a)
np.save(f"{out}/C.npy", c.astype(np.float32))
