"""Writes a calibration statistics file (safetensors) for the compression pass tests.

The contract (docs/Compression.md): for each linear named L,
  L/sumsq  F64 [in]      sum over tokens of x_j^2
  L/absmax F32 [in]      max over tokens of |x_j|
  L/xtx    F64 [in, in]  sum over tokens of x x^T
  L/tokens I64 [1]       number of tokens

Usage:
  make_calib_stats.py OUT.safetensors [--layer NAME:IN]... [--diag NAME=v0,v1,...]...
      [--tokens T] [--seed S] [--scale J=C]... [--dead J]... [--omit KEY]...
      [--tokens-override N] [--x-dir DIR]

--layer NAME:IN   random activations X [T, IN] (standard normal, seed S; then column J
                  multiplied by C for every --scale J=C, zeroed for every --dead J)
--diag NAME=v...  statistics of activations with orthogonal columns: sumsq = v,
                  xtx = diag(v), absmax = sqrt(v), tokens = T
--omit KEY        leave out one entry (e.g. "layers.0/q/xtx"), for the negative tests
--tokens-override N  write N as every layer's token count
--sumsq-dtype F32 write sumsq as F32 instead (a contract violation, for the negative tests)
--x-dir DIR       also save each random X as DIR/<NAME with / -> _>.npy
"""
import argparse
import json
import os
import struct

import numpy as np


def activations(cols, tokens, seed, scales=(), dead=()):
    """The random activations of a --layer (also imported by the e2e references)."""
    x = np.random.default_rng(seed).standard_normal((tokens, cols))
    for j, c in scales:
        if j < cols:
            x[:, j] *= c
    for j in dead:
        if j < cols:
            x[:, j] = 0.0
    return x


def statistics(x):
    return {
        "sumsq": (x * x).sum(axis=0).astype(np.float64),
        "absmax": np.abs(x).max(axis=0).astype(np.float32),
        "xtx": (x.T @ x).astype(np.float64),
        "tokens": np.array([x.shape[0]], dtype=np.int64),
    }


DTYPES = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": DTYPES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for chunk in chunks:
            f.write(chunk)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("out")
    p.add_argument("--layer", action="append", default=[])
    p.add_argument("--diag", action="append", default=[])
    p.add_argument("--tokens", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", action="append", default=[])
    p.add_argument("--dead", action="append", type=int, default=[])
    p.add_argument("--omit", action="append", default=[])
    p.add_argument("--tokens-override", type=int)
    p.add_argument("--sumsq-dtype", choices=["F64", "F32"], default="F64")
    p.add_argument("--x-dir")
    a = p.parse_args()
    scales = [(int(s.split("=")[0]), float(s.split("=")[1])) for s in a.scale]
    tensors = {}
    for spec in a.layer:
        name, cols = spec.rsplit(":", 1)
        x = activations(int(cols), a.tokens, a.seed, scales, a.dead)
        if a.x_dir:
            os.makedirs(a.x_dir, exist_ok=True)
            np.save(os.path.join(a.x_dir, name.replace("/", "_") + ".npy"), x)
        for stat, value in statistics(x).items():
            tensors[f"{name}/{stat}"] = value
    for spec in a.diag:
        name, values = spec.split("=", 1)
        v = np.array([float(t) for t in values.split(",")], dtype=np.float64)
        tensors[f"{name}/sumsq"] = v
        tensors[f"{name}/absmax"] = np.sqrt(v).astype(np.float32)
        tensors[f"{name}/xtx"] = np.diag(v)
        tensors[f"{name}/tokens"] = np.array([a.tokens], dtype=np.int64)
    for key in list(tensors):
        if a.tokens_override is not None and key.endswith("/tokens"):
            tensors[key] = np.array([a.tokens_override], dtype=np.int64)
        if a.sumsq_dtype == "F32" and key.endswith("/sumsq"):
            tensors[key] = tensors[key].astype(np.float32)
    for key in a.omit:
        del tensors[key]
    write_safetensors(a.out, tensors)


if __name__ == "__main__":
    main()
