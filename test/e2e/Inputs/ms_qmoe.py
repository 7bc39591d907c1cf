"""Builds com.microsoft QMoE models (onnx.helper), compiles them with sqz-compile, runs them with
sqz-run and compares with a float64 NumPy reference and, with --ort, with onnxruntime-node.

    ms_qmoe.py OUT_DIR [--ort ORT_RUN_JS]      (sqz-compile and sqz-run on PATH)

Prints "<case>: OK|FAIL" (vs the NumPy reference) and "<case> vs onnxruntime: OK|FAIL" per case;
exits 1 if any failed. Layout (onnxruntime 1.30): weights uint8 [E, N, K / (8 / bits)], codes
packed low bits first along K; scales [E, N] (per output channel) or [E, N, K / block_size];
zero points default 2^(bits-1), packed uint8 [E, N / pack] per channel or [E, N, blocks / pack].
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def pack(codes, bits):
    """codes [..., n] -> uint8 [..., ceil(n·bits/8)], low bits first."""
    per = 8 // bits
    n = codes.shape[-1]
    padded = np.zeros(codes.shape[:-1] + (-(-n // per) * per,), np.uint8)
    padded[..., :n] = codes
    c = padded.reshape(codes.shape[:-1] + (-1, per))
    out = np.zeros(c.shape[:-1], np.uint8)
    for j in range(per):
        out |= (c[..., j] << (j * bits)).astype(np.uint8)
    return out


def quantize(rng, E, N, K, bits, block, zp):
    """Random codes/scales/zero points for one weight; returns (inits dict, float64 W [E, N, K])."""
    codes = rng.integers(0, 1 << bits, (E, N, K)).astype(np.uint8)
    blocks = K // block if block else 1
    scales = ((rng.random((E, N, blocks)) * 0.05 + 0.02) / (1 << (bits - 2))).astype(np.float32)
    out = {"w": pack(codes, bits), "s": scales if block else scales[:, :, 0].copy()}
    if zp:
        zps = rng.integers(0, 1 << bits, (E, N, blocks)).astype(np.uint8)
        if bits == 8:
            out["zp"] = zps if block else zps[:, :, 0].copy()
        elif block:
            out["zp"] = pack(zps, bits)
        else:
            out["zp"] = pack(zps[:, :, 0], bits)  # per channel: packed along N
    else:
        zps = np.full((E, N, blocks), 1 << (bits - 1), np.uint8)
    rep = block if block else K
    s = np.repeat(scales.astype(np.float64), rep, axis=2)
    z = np.repeat(zps.astype(np.float64), rep, axis=2)
    return out, (codes.astype(np.float64) - z) * s


def act_fn(name, h):
    if name == "relu":
        return np.maximum(h, 0)
    if name == "gelu":
        return 0.5 * h * (1 + np.tanh(0.7978845608028654 * (h + 0.044715 * h ** 3)))
    if name == "silu":
        return h / (1 + np.exp(-h))
    return h


def reference(x, router, w1, b1, w2, b2, w3, b3, k, act, fusion, alpha, beta, limit):
    """onnxruntime 1.30's CPU QMoE: the top-k experts are weighed by the softmax of their logits
    whatever normalize_routing_weights says (it only matters with router_weights)."""
    xs = x.reshape(-1, x.shape[-1])
    p = np.exp(router - router.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    y = np.zeros_like(xs)
    for t in range(xs.shape[0]):
        order = sorted(range(p.shape[1]), key=lambda e: (-p[t, e], -e))[:k]
        g = p[t, order] / p[t, order].sum()
        for e, ge in zip(order, g):
            h = w1[e] @ xs[t] + (b1[e] if b1 is not None else 0)
            if act == "swiglu":
                inter = w2.shape[2]
                if fusion == 0:
                    gate, lin = h, w3[e] @ xs[t] + (b3[e] if b3 is not None else 0)
                elif fusion == 1:
                    gate, lin = h[0::2], h[1::2]
                else:
                    gate, lin = h[:inter], h[inter:]
                if limit is not None:
                    gate = np.minimum(gate, limit)
                    lin = np.clip(lin, -limit, limit)
                a = gate / (1 + np.exp(-alpha * gate)) * (lin + beta)
            else:
                a = act_fn(act, h)
                if w3 is not None:
                    a = a * (w3[e] @ xs[t] + (b3[e] if b3 is not None else 0))
            y[t] += ge * (w2[e] @ a + (b2[e] if b2 is not None else 0))
    return y.reshape(x.shape)


CASES = []


def case(name, xshape, E, I, bits, k=1, block=0, zp=False, bias=False, act="relu", normalize=0,
         fusion=None, fc3=False, alpha=None, beta=None, limit=None, ort=True, seed=0):
    CASES.append(dict(name=name, xshape=xshape, E=E, I=I, bits=bits, k=k, block=block, zp=zp,
                      bias=bias, act=act, normalize=normalize, fusion=fusion, fc3=fc3, alpha=alpha,
                      beta=beta, limit=limit, ort=ort, seed=seed))


# onnxruntime-node 1.30's CPU kernel runs every case marked ort=True (it has no fc3 and only the
# interleaved swiglu_fusion=1); the others are checked against the NumPy reference only.
case("q4_top1_relu", (5, 16), E=3, I=12, bits=4, seed=1)
case("q8_top2_silu_bias", (2, 3, 16), E=4, I=20, bits=8, k=2, bias=True, act="silu", normalize=1,
     seed=2)
case("q4_top2_gelu_zp_bias", (7, 32), E=4, I=24, bits=4, k=2, zp=True, bias=True, act="gelu",
     seed=3)
case("q8_top1_zp_identity", (3, 16), E=2, I=8, bits=8, zp=True, act="identity", seed=4)
case("q4_block16_zp", (4, 32), E=3, I=48, bits=4, k=2, block=16, zp=True, bias=True, seed=5)
case("q8_block32", (6, 64), E=4, I=32, bits=8, k=2, block=32, act="silu", normalize=1, seed=6)
case("q4_swiglu_interleaved", (5, 16), E=4, I=10, bits=4, k=2, bias=True, act="swiglu", fusion=1,
     alpha=1.702, beta=1.0, normalize=1, seed=7)
case("q8_swiglu_defaults", (3, 32), E=3, I=16, bits=8, k=1, act="swiglu", fusion=1, seed=8)
case("q2_top2_zp_bias", (4, 16), E=3, I=8, bits=2, k=2, zp=True, bias=True, seed=11)
case("q4_odd_sizes", (3, 10), E=3, I=6, bits=4, k=2, bias=True, act="silu", seed=12)
case("q8_odd_zp", (5, 7), E=2, I=9, bits=8, zp=True, act="gelu", seed=13)
case("q4_swiglu_concat", (4, 16), E=3, I=8, bits=4, k=2, bias=True, act="swiglu", fusion=2,
     alpha=1.5, beta=0.5, ort=False, seed=9)
case("q4_fc3_silu", (4, 16), E=3, I=12, bits=4, k=2, bias=True, act="silu", fc3=True, ort=False,
     seed=10)


def build(c, out):
    rng = np.random.default_rng(c["seed"])
    E, I, bits, block = c["E"], c["I"], c["bits"], c["block"]
    H = c["xshape"][-1]
    T = int(np.prod(c["xshape"][:-1]))
    swiglu = c["act"] == "swiglu"
    n1 = 2 * I if swiglu and c["fusion"] in (1, 2) else I
    has3 = c["fc3"] or (swiglu and c["fusion"] == 0)
    x = rng.standard_normal(c["xshape"]).astype(np.float32)
    router = rng.standard_normal((T, E)).astype(np.float32)
    q1, w1 = quantize(rng, E, n1, H, bits, block, c["zp"])
    q2, w2 = quantize(rng, E, H, I, bits, block, c["zp"])
    q3, w3 = quantize(rng, E, I, H, bits, block, c["zp"]) if has3 else ({}, None)
    b1 = (rng.standard_normal((E, n1)) * 0.1).astype(np.float32) if c["bias"] else None
    b2 = (rng.standard_normal((E, H)) * 0.1).astype(np.float32) if c["bias"] else None
    b3 = (rng.standard_normal((E, I)) * 0.1).astype(np.float32) if c["bias"] and has3 else None
    inits, names = [], []

    def add(name, a):
        if a is None:
            names.append("")
        else:
            inits.append(numpy_helper.from_array(a, name))
            names.append(name)

    add("fc1_w", q1["w"]); add("fc1_s", q1["s"]); add("fc1_b", b1)
    add("fc2_w", q2["w"]); add("fc2_s", q2["s"]); add("fc2_b", b2)
    add("fc3_w", q3.get("w")); add("fc3_s", q3.get("s")); add("fc3_b", b3)
    add("fc1_zp", q1.get("zp")); add("fc2_zp", q2.get("zp")); add("fc3_zp", q3.get("zp"))
    attrs = dict(k=c["k"], activation_type=c["act"], normalize_routing_weights=c["normalize"],
                 expert_weight_bits=bits)
    if block:
        attrs["block_size"] = block
    if c["fusion"] is not None:
        attrs["swiglu_fusion"] = c["fusion"]
    for a in ("alpha", "beta"):
        if c[a] is not None:
            attrs["activation_" + a] = c[a]
    if c["limit"] is not None:
        attrs["swiglu_limit"] = c["limit"]
    node = helper.make_node("QMoE", ["input", "router"] + names, ["y"], name="/moe/QMoE",
                            domain="com.microsoft", **attrs)
    while node.input and node.input[-1] == "":
        node.input.pop()
    graph = helper.make_graph(
        [node], c["name"],
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(c["xshape"])),
         helper.make_tensor_value_info("router", TensorProto.FLOAT, [T, E])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(c["xshape"]))], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    f64 = lambda a: None if a is None else a.astype(np.float64)
    # onnxruntime 1.30's defaults for absent swiglu attributes: alpha 1, beta 0, no clamp
    alpha = 1.0 if c["alpha"] is None else c["alpha"]
    beta = 0.0 if c["beta"] is None else c["beta"]
    y = reference(f64(x), f64(router), w1, f64(b1), w2, f64(b2), w3, f64(b3), c["k"], c["act"],
                  c["fusion"], alpha, beta, c["limit"])
    return model, {"input": x, "router": router}, y.astype(np.float32)


def main():
    out_dir = sys.argv[1]
    ort = sys.argv[sys.argv.index("--ort") + 1] if "--ort" in sys.argv else None
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    failed = False
    for c in CASES:
        name = c["name"]
        if only and only not in name:
            continue
        model, feeds, want = build(c, out_dir)
        work = os.path.join(out_dir, name)
        os.makedirs(work, exist_ok=True)
        path = os.path.join(work, "model.onnx")
        onnx.save(model, path)
        inputs = []
        for k, v in feeds.items():
            np.save(os.path.join(work, k + ".npy"), v)
            inputs += ["--input", f"{k}={os.path.join(work, k + '.npy')}"]
        np.save(os.path.join(work, "want_y.npy"), want)
        art = os.path.join(work, "art")
        proc = subprocess.run(["sqz-compile", path, "-o", art], capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name}: FAIL compile\n{proc.stderr}")
            failed = True
            continue
        args = ["sqz-run", art, "--output-dir", os.path.join(work, "out"), "--rtol", "1e-4",
                "--atol", "1e-5", "--expect", f"y={os.path.join(work, 'want_y.npy')}"] + inputs
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name}: FAIL run\n{proc.stdout}{proc.stderr}")
            failed = True
            continue
        print(f"{name}: OK")
        if not ort or not c["ort"]:
            continue
        ort_dir = os.path.join(work, "ort")
        proc = subprocess.run(["node", ort, path, "--output-dir", ort_dir] + inputs,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name} vs onnxruntime: FAIL ort\n{proc.stdout}{proc.stderr}")
            failed = True
            continue
        got = np.load(os.path.join(work, "out", "y.npy"))
        ref = np.load(os.path.join(ort_dir, "y.npy"))
        err = float(np.max(np.abs(got - ref)))
        ok = np.allclose(got, ref, rtol=1e-4, atol=1e-5)
        print(f"{name} vs onnxruntime: {'OK' if ok else 'FAIL'} max_abs_err={err:.2e}")
        failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
