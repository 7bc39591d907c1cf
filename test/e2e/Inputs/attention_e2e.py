"""Writes a small opset-23 model built with onnx.helper that chains RotaryEmbedding and
Attention the way LLaMA-style exports do (3-D activations, GQA, causal, a KV cache and a per-head
float mask), plus random inputs and a float64 NumPy reference of every output, into OUT_DIR.

usage: attention_e2e.py OUT_DIR
Writes OUT_DIR/model.onnx, OUT_DIR/<name>.npy for inputs and OUT_DIR/<name>.ref.npy for outputs.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

B, S, P, HQ, HKV, D, MAXPOS = 2, 5, 3, 4, 2, 8, 16
T = P + S


def rope(x, cos, sin, pos, heads):
    """Interleaved rotary embedding of x [B, S, heads*D] at positions pos [B, S]."""
    b, s, _ = x.shape
    x = x.reshape(b, s, heads, D).astype(np.float64)
    c = cos[pos][:, :, None, :]  # [B, S, 1, D/2]
    n = sin[pos][:, :, None, :]
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = c * even - n * odd
    out[..., 1::2] = n * even + c * odd
    return out.reshape(b, s, heads * D)


def attention(q, k, v, mask, past_k, past_v):
    """Causal GQA attention with a KV cache; q [B,S,HQ*D], k/v [B,S,HKV*D]."""
    q = q.reshape(B, S, HQ, D).transpose(0, 2, 1, 3)
    k = k.reshape(B, S, HKV, D).transpose(0, 2, 1, 3)
    v = v.reshape(B, S, HKV, D).transpose(0, 2, 1, 3)
    k = np.concatenate([past_k, k], axis=2)
    v = np.concatenate([past_v, v], axis=2)
    present_k, present_v = k.copy(), v.copy()
    group = HQ // HKV
    y = np.zeros((B, HQ, S, D))
    for h in range(HQ):
        kh, vh = k[:, h // group], v[:, h // group]
        scores = q[:, h] @ kh.transpose(0, 2, 1) / np.sqrt(D) + mask[:, h]
        for i in range(S):
            scores[:, i, i + P + 1:] = -np.inf
        scores -= scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        y[:, h] = probs @ vh
    return y.transpose(0, 2, 1, 3).reshape(B, S, HQ * D), present_k, present_v


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)
    inputs = {
        "q": f32(B, S, HQ * D),
        "k": f32(B, S, HKV * D),
        "v": f32(B, S, HKV * D),
        "pos": (np.arange(S)[None, :] + P + np.array([[0], [2]])).astype(np.int64),
        "mask": np.where(rng.random((B, HQ, S, T)) < 0.2, -np.inf, 0).astype(np.float32),
        "past_k": f32(B, HKV, P, D),
        "past_v": f32(B, HKV, P, D),
    }
    inputs["mask"][..., 0] = 0  # every query keeps at least key 0
    angles = np.arange(MAXPOS)[:, None] / 10000 ** (np.arange(D // 2)[None, :] * 2 / D)
    cos = np.cos(angles).astype(np.float32)
    sin = np.sin(angles).astype(np.float32)

    nodes = [
        helper.make_node("RotaryEmbedding", ["q", "cos", "sin", "pos"], ["q_rope"],
                         interleaved=1, num_heads=HQ),
        helper.make_node("RotaryEmbedding", ["k", "cos", "sin", "pos"], ["k_rope"],
                         interleaved=1, num_heads=HKV),
        helper.make_node("Attention", ["q_rope", "k_rope", "v", "mask", "past_k", "past_v"],
                         ["y", "present_k", "present_v"], is_causal=1, q_num_heads=HQ,
                         kv_num_heads=HKV),
    ]
    def info(name, dtype, shape):
        return helper.make_tensor_value_info(name, dtype, list(shape))
    graph = helper.make_graph(
        nodes, "rope_attention",
        [info(n, TensorProto.INT64 if n == "pos" else TensorProto.FLOAT, a.shape)
         for n, a in inputs.items()],
        [info("y", TensorProto.FLOAT, (B, S, HQ * D)),
         info("present_k", TensorProto.FLOAT, (B, HKV, T, D)),
         info("present_v", TensorProto.FLOAT, (B, HKV, T, D))],
        initializer=[helper.make_tensor("cos", TensorProto.FLOAT, cos.shape, cos.ravel()),
                     helper.make_tensor("sin", TensorProto.FLOAT, sin.shape, sin.ravel())])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    model.ir_version = 10
    onnx.save(model, os.path.join(out, "model.onnx"))

    q_rope = rope(inputs["q"], cos, sin, inputs["pos"], HQ)
    k_rope = rope(inputs["k"], cos, sin, inputs["pos"], HKV)
    y, pk, pv = attention(q_rope, k_rope, inputs["v"].astype(np.float64), inputs["mask"],
                          inputs["past_k"], inputs["past_v"])
    for name, array in inputs.items():
        np.save(os.path.join(out, name + ".npy"), array)
    for name, array in (("y", y), ("present_k", pk), ("present_v", pv)):
        np.save(os.path.join(out, name + ".ref.npy"), array.astype(np.float32))


if __name__ == "__main__":
    main()
