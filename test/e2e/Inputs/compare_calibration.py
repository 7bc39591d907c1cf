"""Compares two calibration statistics files (sqz-compile's calibration.safetensors): for every
layer of the first, prints `<layer>: same` when its statistics (sumsq, absmax, xtx, tokens) are
bit-identical in the second, else `<layer>: differs (max rel xtx diff R)`. Used by
e2e/calib-sequential-stories260K.test to show that sequential calibration sees the dense model
for the first block and the already-compressed prefix for the later ones."""
import json
import struct
import sys

import numpy as np

DTYPES = {"F64": np.float64, "F32": np.float32, "I64": np.int64}


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        tensors[name] = np.frombuffer(data[base + b:base + end], DTYPES[e["dtype"]]).reshape(e["shape"])
    return tensors, header.get("__metadata__", {})


a, meta_a = load(sys.argv[1])
b, meta_b = load(sys.argv[2])
print("modes:", meta_a.get("mode", "one-shot"), meta_b.get("mode", "one-shot"))
layers = sorted({name.rsplit("/", 1)[0] for name in a})
for layer in layers:
    names = [n for n in a if n.rsplit("/", 1)[0] == layer]
    same = all(n in b and a[n].shape == b[n].shape and a[n].tobytes() == b[n].tobytes()
               for n in names)
    if same:
        print(f"{layer}: same")
    else:
        x, y = a[layer + "/xtx"], b[layer + "/xtx"]
        print(f"{layer}: differs (max rel xtx diff {np.abs(x - y).max() / np.abs(x).max():.2e})")
