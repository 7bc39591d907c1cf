"""Writes sqz graph-IR MoE cases and their float64 NumPy references for e2e/moe.test.

    moe_e2e.py OUTDIR   ->  OUTDIR/<case>.mlir, OUTDIR/<case>_{x,logits,y}.npy

The reference follows sqz.moe's definition: softmax over experts, top-k (ties to the higher
index), optional renormalization, capacity by token order, act(fc1) [* fc3], fc2, gated sum.
"""
import math
import sys

import numpy as np

ACTS = {
    "identity": lambda v: v,
    "relu": lambda v: np.maximum(v, 0),
    "gelu": lambda v: 0.5 * v * (1 + np.vectorize(math.erf)(v / math.sqrt(2))),
    "gelu_tanh": lambda v: 0.5 * v * (1 + np.tanh(0.7978845608028654 * (v + 0.044715 * v ** 3))),
    "silu": lambda v: v / (1 + np.exp(-v)),
}


def reference(x, logits, w1, w2, w3, b1, b2, b3, k, act, normalize, cf):
    T, E = logits.shape
    xs = x.reshape(T, -1)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    gate = np.zeros_like(p)
    for t in range(T):
        order = sorted(range(E), key=lambda e: (-p[t, e], -e))
        for e in order[:k]:
            gate[t, e] = p[t, e]
    if normalize:
        gate /= gate.sum(1, keepdims=True)
    if cf > 0:
        cap = math.ceil(cf * T * k / E)
        sel = gate > 0
        for e in range(E):
            seen = 0
            for t in range(T):
                if sel[t, e]:
                    if seen >= cap:
                        gate[t, e] = 0
                    seen += 1
    y = np.zeros_like(xs)
    for e in range(E):
        h = xs @ w1[e].T + (b1[e] if b1 is not None else 0)
        h = ACTS[act](h)
        if w3 is not None:
            h = h * (xs @ w3[e].T + (b3[e] if b3 is not None else 0))
        o = h @ w2[e].T + (b2[e] if b2 is not None else 0)
        y += gate[:, e:e + 1] * o
    return y.reshape(x.shape)


def lit(a):
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 0:
        return repr(float(a))
    return "[" + ", ".join(lit(v) for v in a) + "]"


def ty(a):
    return "tensor<" + "x".join(str(d) for d in a.shape) + "xf32>"


def write_case(out, name, xshape, E, I, k, act, normalize, cf, fc3, bias, seed):
    rng = np.random.default_rng(seed)
    H = xshape[-1]
    T = int(np.prod(xshape[:-1]))
    x = rng.standard_normal(xshape).astype(np.float32)
    logits = rng.standard_normal((T, E)).astype(np.float32)
    w1 = (rng.standard_normal((E, I, H)) * 0.5).astype(np.float32)
    w2 = (rng.standard_normal((E, H, I)) * 0.5).astype(np.float32)
    w3 = (rng.standard_normal((E, I, H)) * 0.5).astype(np.float32) if fc3 else None
    b1 = (rng.standard_normal((E, I)) * 0.1).astype(np.float32) if bias else None
    b2 = (rng.standard_normal((E, H)) * 0.1).astype(np.float32) if bias else None
    b3 = (rng.standard_normal((E, I)) * 0.1).astype(np.float32) if (bias and fc3) else None
    f64 = lambda a: None if a is None else a.astype(np.float64)
    y = reference(f64(x), f64(logits), f64(w1), f64(w2), f64(w3), f64(b1), f64(b2), f64(b3),
                  k, act, normalize, cf)
    operands = [("fc3", w3), ("fc1_bias", b1), ("fc2_bias", b2), ("fc3_bias", b3)]
    consts, opnds, types = [], [], [ty(x), ty(logits), ty(w1), ty(w2)]
    for i, (kw, a) in enumerate([("w1", w1), ("w2", w2)] + operands):
        if a is None:
            continue
        consts.append(f"  %c{i} = arith.constant dense<{lit(a)}> : {ty(a)}")
    extra = ""
    idx = 2
    for kw, a in operands:
        idx += 1
        if a is not None:
            extra += f" {kw} %c{idx - 1}"
            types.append(ty(a))
    attrs = [f"top_k = {k}", f"activation = #sqz<moe_activation {act}>"]
    if normalize:
        attrs.append("normalize_routing")
    if cf > 0:
        attrs.append(f"capacity_factor = {cf}")
    body = "\n".join(consts)
    text = f"""func.func @main(%x: {ty(x)} {{sqz.name = "x"}}, %logits: {ty(logits)} {{sqz.name = "logits"}}) -> ({ty(x)} {{sqz.name = "y"}}) {{
{body}
  %y = sqz.moe %x, %logits, %c0, %c1{extra} {{{", ".join(attrs)}}} : ({", ".join(types)}) -> {ty(x)}
  return %y : {ty(x)}
}}
"""
    with open(f"{out}/{name}.mlir", "w") as f:
        f.write(text)
    np.save(f"{out}/{name}_x.npy", x)
    np.save(f"{out}/{name}_logits.npy", logits)
    np.save(f"{out}/{name}_y.npy", y.astype(np.float32))


def main():
    out = sys.argv[1]
    write_case(out, "mixtral", (2, 3, 8), E=4, I=6, k=2, act="silu", normalize=True, cf=0,
               fc3=True, bias=False, seed=1)
    write_case(out, "switch", (7, 8), E=3, I=5, k=1, act="gelu_tanh", normalize=False, cf=0.5,
               fc3=False, bias=True, seed=2)
    write_case(out, "relu_top3", (5, 4), E=5, I=3, k=3, act="relu", normalize=False, cf=0,
               fc3=False, bias=True, seed=3)
    write_case(out, "geglu", (4, 6), E=2, I=4, k=2, act="gelu", normalize=True, cf=0,
               fc3=True, bias=True, seed=4)


if __name__ == "__main__":
    main()
