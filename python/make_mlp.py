#!/usr/bin/python3
"""Builds Squeeze's bundled default model, models/mlp/: a 2-layer MLP exported to ONNX.

    y = softmax(fc2(gelu(fc1(x))))    x: float32[4, 16], fc1: 16 -> 32, fc2: 32 -> 8, y: float32[4, 8]

Writes mlp.onnx (torch.onnx.export, opset 17: Gemm for the linears, GELU decomposed into
Div/Erf/Add/Mul, Softmax), x.npy (a seeded input) and y.npy (the reference output, computed
in float64 with numpy from the float32 weights, then cast to float32).

Run with Debian's interpreter (it has torch, onnx and numpy):
    /usr/bin/python3 python/make_mlp.py [--out models/mlp]
Everything is seeded, so reruns give the same weights, input and output.
"""

import argparse
import math
import os

import numpy as np
import onnx
import torch


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(16, 32)
        self.act = torch.nn.GELU()
        self.fc2 = torch.nn.Linear(32, 8)

    def forward(self, x):
        return torch.softmax(self.fc2(self.act(self.fc1(x))), dim=-1)


def reference(model, x):
    """The model in float64 numpy (exact erf GELU, stable softmax)."""
    w1 = model.fc1.weight.detach().numpy().astype(np.float64)
    b1 = model.fc1.bias.detach().numpy().astype(np.float64)
    w2 = model.fc2.weight.detach().numpy().astype(np.float64)
    b2 = model.fc2.bias.detach().numpy().astype(np.float64)
    h = x.astype(np.float64) @ w1.T + b1
    erf = np.vectorize(math.erf)
    h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
    z = h @ w2.T + b2
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def main():
    default_out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "mlp")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=default_out, help="output directory")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    torch.manual_seed(0)
    model = Mlp().eval()
    x = np.random.default_rng(0).standard_normal((4, 16)).astype(np.float32)

    path = os.path.join(args.out, "mlp.onnx")
    torch.onnx.export(model, torch.from_numpy(x), path, input_names=["x"], output_names=["y"],
                      opset_version=17, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))

    y = reference(model, x).astype(np.float32)
    with torch.no_grad():
        y_torch = model(torch.from_numpy(x)).numpy()
    assert np.allclose(y, y_torch, atol=1e-6), "torch and the float64 reference disagree"
    np.save(os.path.join(args.out, "x.npy"), x)
    np.save(os.path.join(args.out, "y.npy"), y)
    print(f"wrote {path}, x.npy {x.shape}, y.npy {y.shape}")


if __name__ == "__main__":
    main()
