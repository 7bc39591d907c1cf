#!/usr/bin/env python3
"""Writes a big MLP (a stack of MatMul + Relu layers with random float32 weights) for measuring
the importer's memory, in two layouts:

  OUT/inline/model.onnx                           weights inside the protobuf (raw_data)
  OUT/external/model.onnx + model.onnx.data       weights in one external data file

Default: 16 layers alternating [2048, 8192] / [8192, 2048] weights, 16 x 64 MiB = 1 GiB. The
inline variant must stay under protobuf's 2 GiB limit. Writes OUT/weight_bytes (the total).

    /usr/bin/python3 bench/make_big_model.py "$TMPDIR/sqz-big" [--layers 16 --dim 2048 --ffn 8192]

Do not point OUT into the repository: the files are multi-GB.
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--ffn", type=int, default=8192)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["inline", "external"], default=None)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    nodes, weights = [], []
    x = "x"
    width = args.dim
    total = 0
    for i in range(args.layers):
        out_width = args.ffn if i % 2 == 0 else args.dim
        if i == args.layers - 1:
            out_width = args.dim
        w = rng.standard_normal((width, out_width), dtype=np.float32)
        w *= np.float32(1.0 / np.sqrt(width))
        total += w.nbytes
        weights.append(numpy_helper.from_array(w, f"layer{i}.weight"))
        del w
        h = f"h{i}"
        nodes.append(helper.make_node("MatMul", [x, f"layer{i}.weight"], [h], name=f"/layer{i}/MatMul"))
        y = "y" if i == args.layers - 1 else f"r{i}"
        nodes.append(helper.make_node("Relu", [h], [y], name=f"/layer{i}/Relu"))
        x = y
        width = out_width
    graph = helper.make_graph(
        nodes, "big_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [args.batch, args.dim])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [args.batch, width])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "weight_bytes"), "w") as f:
        f.write(f"{total}\n")
    if args.only in (None, "inline"):
        os.makedirs(os.path.join(args.out, "inline"), exist_ok=True)
        path = os.path.join(args.out, "inline", "model.onnx")
        onnx.save_model(model, path)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    if args.only in (None, "external"):
        os.makedirs(os.path.join(args.out, "external"), exist_ok=True)
        path = os.path.join(args.out, "external", "model.onnx")
        # save_model converts `model` in place (raw_data moves to the data file).
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data", size_threshold=1024)
        print(f"wrote {path} ({os.path.getsize(path)} bytes) + model.onnx.data "
              f"({os.path.getsize(path + '.data')} bytes)")
    print(f"weights: {total} bytes")


if __name__ == "__main__":
    main()
