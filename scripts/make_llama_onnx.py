#!/usr/bin/env python3
"""Writes a LLaMA-style decoder as an ONNX model (opset 23, float32), from a llama2.c checkpoint
or with random weights, in one or both of two forms:

  full  input_ids int64[batch, seq]  ->  logits float32[batch, seq, vocab]      (full recompute)
  kv    input_ids int64[batch, seq], past_key_values.{i}.key/.value float32[batch, kv_heads,
        past, head_dim]  ->  logits, present.{i}.key/.value float32[batch, kv_heads, total,
        head_dim]                                                                 (KV cache)

The graph uses only standard opset-23 ops: Gather (embedding), RMSNormalization, MatMul (weights
stored [in, out]), RotaryEmbedding (interleaved pairs, as llama2.c rotates (x[2i], x[2i+1])),
Attention (GQA through q_num_heads/kv_num_heads; the KV cache through past_key/past_value ->
present_key/present_value), Sigmoid/Mul (SiLU), Add (residuals). Positions are computed inside
the graph: past = Shape(past_key_values.0.key)[2] (0 in the full form), position ids = past +
Range(0, seq), and the causal mask is an explicit boolean attn_mask[seq, past + seq] with
mask[i, j] = (j <= past + i), so a query after a past sees exactly the keys up to its position.
Every size that depends on batch/seq/past comes from Shape ops: one model serves any size.

    # the bundled llama2.c model (stories260K), both forms:
    /usr/bin/python3 scripts/make_llama_onnx.py --checkpoint ../shared/realmodels/stories260K/stories260K.bin \\
        --form both -o out/stories260K
    # a realistic-width random model (1.2 GB of fp32 weights), weights in one shared file:
    /usr/bin/python3 scripts/make_llama_onnx.py --random --dim 2048 --ffn 5632 --layers 4 \\
        --heads 32 --kv-heads 8 --vocab 32000 --seed 0 --form both --external-data -o out/llama
    # check the exporter (NumPy reference vs onnxruntime, KV vs full, golden logits):
    /usr/bin/python3 scripts/make_llama_onnx.py --checkpoint ... --check

Output: OUT/model_full.onnx and/or OUT/model_kv.onnx; with --external-data the weights go to
OUT/weights.data (shared by both forms, each tensor 4 KiB aligned), otherwise inside each model
(which must stay under protobuf's 2 GiB limit). The checkpoint format is llama2.c's version 0:
seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative: the
classifier is not shared with the embedding), seq_len), then float32 token_embedding, rms_att,
wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq_cis_real/imag (skipped), [wcls]. Matrices
there are [out, in]; the model stores them transposed.

--check (needs node and onnxruntime-node, see test/realmodels/ort_run.js) runs, on the model
given by the other options:
  1. a NumPy float64 reference forward (written from llama2.c's definition, independent of the
     graph) against onnxruntime for the full form (a 9-token prompt) and for the KV form
     (prefill 5 tokens with an empty past, then 3 one-token decode steps feeding present back as
     past), logits and present caches;
  2. the KV form's logits against the full form's logits of the same prefix (onnxruntime);
  3. for a checkpoint with ../golden/prompt_ids.npy next to it (stories260K), the full form on
     the golden prompt against golden/prompt_logits.npy.
Every comparison prints its max abs error and must be within --check-atol (1e-4).
"""
import argparse
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OPSET = 23
RMS_EPS = 1e-5
ROPE_THETA = 10000.0


class Config:
    def __init__(self, dim, hidden, layers, heads, kv_heads, vocab, seq_len, shared):
        self.dim, self.hidden, self.layers = dim, hidden, layers
        self.heads, self.kv_heads, self.vocab = heads, kv_heads, vocab
        self.seq_len, self.shared = seq_len, shared
        if dim % heads or heads % kv_heads or (dim // heads) % 2:
            raise ValueError(f"dim {dim}, heads {heads}, kv heads {kv_heads}: need dim % heads == 0, "
                             "heads % kv_heads == 0 and an even head size")
        self.head_dim = dim // heads

    def __str__(self):
        return (f"dim {self.dim}, ffn {self.hidden}, {self.layers} layers, {self.heads} heads, "
                f"{self.kv_heads} kv heads, head dim {self.head_dim}, vocab {self.vocab}")


# ----------------------------------------------------------------------------------------------
# Weights: a dict of float32 arrays, matrices [in, out].

def read_checkpoint(path):
    with open(path, "rb") as f:
        data = f.read()
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack("<7i", data[:28])
    cfg = Config(dim, hidden, layers, heads, kv_heads, abs(vocab), seq_len, vocab > 0)
    flat = np.frombuffer(data, dtype="<f4", offset=28)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        if pos + n > flat.size:
            raise ValueError(f"{path}: truncated checkpoint (needs more than {flat.size} floats)")
        a = flat[pos:pos + n].reshape(shape)
        pos += n
        return a

    hd, L = cfg.head_dim, layers
    emb = take(cfg.vocab, dim)
    rms_att = take(L, dim)
    wq = take(L, heads * hd, dim)
    wk = take(L, kv_heads * hd, dim)
    wv = take(L, kv_heads * hd, dim)
    wo = take(L, dim, heads * hd)
    rms_ffn = take(L, dim)
    w1 = take(L, hidden, dim)
    w2 = take(L, dim, hidden)
    w3 = take(L, hidden, dim)
    rms_final = take(dim)
    take(seq_len, hd // 2)  # freq_cis_real (recomputed)
    take(seq_len, hd // 2)  # freq_cis_imag
    wcls = emb if cfg.shared else take(cfg.vocab, dim)
    if pos != flat.size:
        raise ValueError(f"{path}: {flat.size - pos} trailing floats after the weights")
    w = {"tok_embeddings": emb, "norm": rms_final, "output": wcls.T}
    for i in range(L):
        w[f"layers.{i}.attention_norm"] = rms_att[i]
        w[f"layers.{i}.wq"] = wq[i].T
        w[f"layers.{i}.wk"] = wk[i].T
        w[f"layers.{i}.wv"] = wv[i].T
        w[f"layers.{i}.wo"] = wo[i].T
        w[f"layers.{i}.ffn_norm"] = rms_ffn[i]
        w[f"layers.{i}.w1"] = w1[i].T
        w[f"layers.{i}.w2"] = w2[i].T
        w[f"layers.{i}.w3"] = w3[i].T
    return cfg, {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in w.items()}


def random_weights(cfg, seed):
    rng = np.random.default_rng(seed)

    def mat(n_in, n_out):
        a = rng.standard_normal((n_in, n_out), dtype=np.float32)
        a *= np.float32(1.0 / math.sqrt(n_in))
        return a

    def norm():
        return (1.0 + 0.1 * rng.standard_normal(cfg.dim)).astype(np.float32)

    d, hd = cfg.dim, cfg.head_dim
    w = {"tok_embeddings": rng.standard_normal((cfg.vocab, d), dtype=np.float32)}
    for i in range(cfg.layers):
        w[f"layers.{i}.attention_norm"] = norm()
        w[f"layers.{i}.wq"] = mat(d, cfg.heads * hd)
        w[f"layers.{i}.wk"] = mat(d, cfg.kv_heads * hd)
        w[f"layers.{i}.wv"] = mat(d, cfg.kv_heads * hd)
        w[f"layers.{i}.wo"] = mat(cfg.heads * hd, d)
        w[f"layers.{i}.ffn_norm"] = norm()
        w[f"layers.{i}.w1"] = mat(d, cfg.hidden)
        w[f"layers.{i}.w2"] = mat(cfg.hidden, d)
        w[f"layers.{i}.w3"] = mat(d, cfg.hidden)
    w["norm"] = norm()
    w["output"] = mat(d, cfg.vocab)
    return w


def rope_tables(cfg, max_positions):
    """cos/sin [max_positions, head_dim/2] as llama2.c's PyTorch model computes them (float32)."""
    hd = cfg.head_dim
    exponents = np.arange(0, hd, 2, dtype=np.float32) / np.float32(hd)
    freqs = (1.0 / (np.float32(ROPE_THETA) ** exponents)).astype(np.float32)
    angles = np.outer(np.arange(max_positions, dtype=np.float32), freqs).astype(np.float32)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# The ONNX graph.

def build_graph(cfg, weights, form, max_positions):
    """Returns (nodes, graph inputs, graph outputs, initializers as (name, array) pairs)."""
    assert form in ("full", "kv")
    hd, nh, nkv = cfg.head_dim, cfg.heads, cfg.kv_heads
    nodes, inits = [], []
    for name, a in weights.items():
        inits.append((name, a))
    cos, sin = rope_tables(cfg, max_positions)
    inits += [("rope.cos", cos), ("rope.sin", sin)]
    consts = {"c.zero": np.array(0, np.int64), "c.one": np.array(1, np.int64),
              "c.axes0": np.array([0], np.int64), "c.axes1": np.array([1], np.int64)}
    inits += list(consts.items())

    def node(op, inputs, name, **attrs):
        """Appends a one-output node whose output is named like the node; returns the name."""
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", cfg.vocab])]

    # Positions: past (0 without a cache), query positions past + [0, seq), key positions
    # [0, past + seq), the causal mask key <= query position.
    ids_shape = node("Shape", ["input_ids"], "pos/ids_shape")
    seq = node("Squeeze", [node("Shape", ["input_ids"], "pos/seq_1d", start=1, end=2), "c.axes0"],
               "pos/seq")
    if form == "kv":
        for i in range(cfg.layers):
            for kind in ("key", "value"):
                inputs.append(helper.make_tensor_value_info(
                    f"past_key_values.{i}.{kind}", TensorProto.FLOAT, ["batch", nkv, "past", hd]))
                outputs.append(helper.make_tensor_value_info(
                    f"present.{i}.{kind}", TensorProto.FLOAT, ["batch", nkv, "total", hd]))
        past = node("Squeeze", [node("Shape", ["past_key_values.0.key"], "pos/past_1d", start=2, end=3),
                                "c.axes0"], "pos/past")
        total = node("Add", [past, seq], "pos/total")
        qpos = node("Range", [past, total, "c.one"], "pos/query_positions")
    else:
        total = seq
        qpos = node("Range", ["c.zero", seq, "c.one"], "pos/query_positions")
    kpos = node("Range", ["c.zero", total, "c.one"], "pos/key_positions")
    position_ids = node("Expand", [node("Unsqueeze", [qpos, "c.axes0"], "pos/qpos_row"), ids_shape],
                        "pos/position_ids")
    mask = node("LessOrEqual", [node("Unsqueeze", [kpos, "c.axes0"], "pos/kpos_row"),
                                node("Unsqueeze", [qpos, "c.axes1"], "pos/qpos_col")], "pos/causal_mask")

    h = node("Gather", ["tok_embeddings", "input_ids"], "embed", axis=0)
    for i in range(cfg.layers):
        p = f"layers.{i}"
        x = node("RMSNormalization", [h, f"{p}.attention_norm"], f"{p}/attention_norm",
                 axis=-1, epsilon=RMS_EPS)
        q = node("MatMul", [x, f"{p}.wq"], f"{p}/q")
        k = node("MatMul", [x, f"{p}.wk"], f"{p}/k")
        v = node("MatMul", [x, f"{p}.wv"], f"{p}/v")
        q = node("RotaryEmbedding", [q, "rope.cos", "rope.sin", position_ids], f"{p}/q_rope",
                 interleaved=1, num_heads=nh)
        k = node("RotaryEmbedding", [k, "rope.cos", "rope.sin", position_ids], f"{p}/k_rope",
                 interleaved=1, num_heads=nkv)
        attn_in = [q, k, v, mask]
        if form == "kv":
            attn_in += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
            nodes.append(helper.make_node(
                "Attention", attn_in, [f"{p}/attn", f"present.{i}.key", f"present.{i}.value"],
                name=f"{p}/attn", q_num_heads=nh, kv_num_heads=nkv, scale=1.0 / math.sqrt(hd)))
            attn = f"{p}/attn"
        else:
            attn = node("Attention", attn_in, f"{p}/attn", q_num_heads=nh, kv_num_heads=nkv,
                        scale=1.0 / math.sqrt(hd))
        h = node("Add", [h, node("MatMul", [attn, f"{p}.wo"], f"{p}/o")], f"{p}/resid1")
        x = node("RMSNormalization", [h, f"{p}.ffn_norm"], f"{p}/ffn_norm", axis=-1, epsilon=RMS_EPS)
        gate = node("MatMul", [x, f"{p}.w1"], f"{p}/w1")
        silu = node("Mul", [gate, node("Sigmoid", [gate], f"{p}/sigmoid")], f"{p}/silu")
        up = node("MatMul", [x, f"{p}.w3"], f"{p}/w3")
        down = node("MatMul", [node("Mul", [silu, up], f"{p}/swiglu"), f"{p}.w2"], f"{p}/w2")
        h = node("Add", [h, down], f"{p}/resid2")
    x = node("RMSNormalization", [h, "norm"], "final_norm", axis=-1, epsilon=RMS_EPS)
    nodes.append(helper.make_node("MatMul", [x, "output"], ["logits"], name="lm_head"))
    return nodes, inputs, outputs, inits


def write_models(cfg, weights, forms, max_positions, out_dir, external):
    os.makedirs(out_dir, exist_ok=True)
    offsets = {}
    if external:
        # One data file for every form: each tensor once, 4 KiB aligned (mmap friendly).
        data_path = os.path.join(out_dir, "weights.data")
        _, _, _, inits = build_graph(cfg, weights, forms[0], max_positions)
        with open(data_path + ".tmp", "wb") as f:
            for name, a in inits:
                if a.nbytes < 1024:
                    continue
                pad = (-f.tell()) % 4096
                f.write(b"\0" * pad)
                offsets[name] = (f.tell(), a.nbytes)
                f.write(np.ascontiguousarray(a).tobytes())
        os.replace(data_path + ".tmp", data_path)
    paths = []
    for form in forms:
        nodes, inputs, outputs, inits = build_graph(cfg, weights, form, max_positions)
        tensors = []
        for name, a in inits:
            if name in offsets:
                t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(a.shape))
                t.data_location = TensorProto.EXTERNAL
                off, length = offsets[name]
                for key, value in (("location", "weights.data"), ("offset", str(off)),
                                   ("length", str(length))):
                    e = t.external_data.add()
                    e.key, e.value = key, value
                tensors.append(t)
            else:
                tensors.append(numpy_helper.from_array(a, name))
        graph = helper.make_graph(nodes, f"llama_{form}", inputs, outputs, tensors)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="sqz make_llama_onnx.py")
        model.ir_version = 10
        path = os.path.join(out_dir, f"model_{form}.onnx")
        data = model.SerializeToString()
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------------------------
# NumPy reference (float64), written from llama2.c's forward(), not from the graph above.

def reference_forward(cfg, weights, ids, past=None):
    """ids int64 [B, S]; past: list per layer of (k, v) [B, kv_heads, P, hd] or None.
    Returns logits [B, S, vocab] and the present caches (float64)."""
    f64 = {k: v.astype(np.float64) for k, v in weights.items()}
    B, S = ids.shape
    hd, nh, nkv = cfg.head_dim, cfg.heads, cfg.kv_heads
    P = 0 if past is None else past[0][0].shape[2]
    T = P + S

    def rmsnorm(x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + RMS_EPS) * w

    # RoPE through complex numbers on consecutive pairs, as llama2.c's model.py does.
    cos, sin = rope_tables(cfg, T)
    rot = (cos + 1j * sin).astype(np.complex128)[P:T]  # [S, hd/2]

    def rope(x, heads):  # x [B, S, heads*hd]
        xc = x.reshape(B, S, heads, hd // 2, 2)
        z = (xc[..., 0] + 1j * xc[..., 1]) * rot[None, :, None, :]
        return np.stack([z.real, z.imag], axis=-1).reshape(B, S, heads, hd)

    h = f64["tok_embeddings"][ids]
    present = []
    for i in range(cfg.layers):
        p = f"layers.{i}"
        x = rmsnorm(h, f64[f"{p}.attention_norm"])
        q = rope(x @ f64[f"{p}.wq"], nh).transpose(0, 2, 1, 3)     # [B, nh, S, hd]
        k = rope(x @ f64[f"{p}.wk"], nkv).transpose(0, 2, 1, 3)    # [B, nkv, S, hd]
        v = (x @ f64[f"{p}.wv"]).reshape(B, S, nkv, hd).transpose(0, 2, 1, 3)
        if past is not None:
            k = np.concatenate([past[i][0].astype(np.float64), k], axis=2)
            v = np.concatenate([past[i][1].astype(np.float64), v], axis=2)
        present.append((k, v))
        out = np.empty((B, nh, S, hd))
        for head in range(nh):
            kvh = head // (nh // nkv)
            scores = q[:, head] @ k[:, kvh].transpose(0, 2, 1) / math.sqrt(hd)  # [B, S, T]
            for s in range(S):
                scores[:, s, P + s + 1:] = -np.inf
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            out[:, head] = (scores / scores.sum(axis=-1, keepdims=True)) @ v[:, kvh]
        h = h + out.transpose(0, 2, 1, 3).reshape(B, S, nh * hd) @ f64[f"{p}.wo"]
        x = rmsnorm(h, f64[f"{p}.ffn_norm"])
        a = x @ f64[f"{p}.w1"]
        h = h + ((a / (1.0 + np.exp(-a))) * (x @ f64[f"{p}.w3"])) @ f64[f"{p}.w2"]
    logits = rmsnorm(h, f64["norm"]) @ f64["output"]
    return logits, present


# ----------------------------------------------------------------------------------------------
# --check: onnxruntime-node through test/realmodels/ort_run.js.

def run_ort(model, feeds, work):
    node = shutil.which("node")
    script = os.path.join(ROOT, "test", "realmodels", "ort_run.js")
    if not node:
        raise RuntimeError("node not found (--check runs onnxruntime-node through "
                           "test/realmodels/ort_run.js; scripts/setup.sh installs it)")
    os.makedirs(work, exist_ok=True)
    args = [node, script, model, "--output-dir", work]
    for name, a in feeds.items():
        path = os.path.join(work, "in_" + name + ".npy")
        np.save(path, a)
        args += ["--input", f"{name}={path}"]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("onnxruntime failed on %s:\n%s%s" % (model, r.stdout, r.stderr))
    outs = {}
    for line in r.stdout.splitlines():
        if line.startswith("wrote "):
            name, path = line.split()[1], line.split(" -> ")[1]
            outs[name] = np.load(path)
    return outs


def check(cfg, weights, paths, work, atol, golden_dir):
    results = []

    def compare(what, got, want):
        err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
        ok = err <= atol
        results.append(ok)
        print(f"  {what:<58} max_abs_err {err:.3g}  {'OK' if ok else 'FAIL'}")

    rng = np.random.default_rng(1)
    n_prefill, n_decode = 5, 3
    ids = rng.integers(0, cfg.vocab, size=(1, n_prefill + n_decode + 1), dtype=np.int64)
    full, kv = paths.get("full"), paths.get("kv")
    print(f"check ({cfg}), tolerance {atol}")
    ref_logits, _ = reference_forward(cfg, weights, ids)
    if full:
        got = run_ort(full, {"input_ids": ids}, os.path.join(work, "full"))["logits"]
        compare(f"full form, {ids.shape[1]} tokens: ORT vs NumPy reference", got, ref_logits)
        full_logits = got
        ids2 = rng.integers(0, cfg.vocab, size=(2, 4), dtype=np.int64)
        got2 = run_ort(full, {"input_ids": ids2}, os.path.join(work, "full2"))["logits"]
        compare("full form, batch 2 x 4 tokens: ORT vs NumPy reference", got2,
                reference_forward(cfg, weights, ids2)[0])
    if kv:
        past = [(np.zeros((1, cfg.kv_heads, 0, cfg.head_dim), np.float32),) * 2
                for _ in range(cfg.layers)]
        pos = 0
        steps = [n_prefill] + [1] * n_decode
        for step, n in enumerate(steps):
            chunk = ids[:, pos:pos + n]
            feeds = {"input_ids": chunk}
            for i, (k, v) in enumerate(past):
                feeds[f"past_key_values.{i}.key"] = k
                feeds[f"past_key_values.{i}.value"] = v
            outs = run_ort(kv, feeds, os.path.join(work, f"kv{step}"))
            label = f"kv form, {'prefill' if step == 0 else 'decode'} {n} at past {pos}"
            ref_step, ref_present = reference_forward(
                cfg, weights, chunk, past if pos > 0 else None)
            compare(label + ": ORT vs NumPy", outs["logits"], ref_step)
            compare(label + ": present.*: ORT vs NumPy",
                    np.concatenate([outs[f"present.{i}.{kind}"].ravel() for i in range(cfg.layers)
                                    for kind in ("key", "value")]),
                    np.concatenate([ref_present[i][j].ravel() for i in range(cfg.layers)
                                    for j in range(2)]))
            if full:
                compare(label + ": ORT kv vs ORT full", outs["logits"],
                        full_logits[:, pos:pos + n])
            past = [(outs[f"present.{i}.key"], outs[f"present.{i}.value"])
                    for i in range(cfg.layers)]
            pos += n
    if full and golden_dir:
        prompt = np.load(os.path.join(golden_dir, "prompt_ids.npy")).astype(np.int64)
        want = np.load(os.path.join(golden_dir, "prompt_logits.npy"))
        got = run_ort(full, {"input_ids": prompt}, os.path.join(work, "golden"))["logits"]
        compare(f"full form, golden prompt {list(prompt.shape)}: ORT vs golden logits", got, want)
        compare("golden prompt: NumPy reference vs golden logits",
                reference_forward(cfg, weights, prompt)[0], want)
    ok = all(results)
    print(f"check: {sum(results)}/{len(results)} comparisons within {atol}: {'OK' if ok else 'FAIL'}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="llama2.c checkpoint (version 0 format)")
    src.add_argument("--random", action="store_true", help="random weights (see --dim ...)")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--ffn", type=int, default=5632)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--kv-heads", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-positions", type=int, default=None,
                        help="rows of the RoPE tables (default: the checkpoint's seq_len, or 2048)")
    parser.add_argument("--form", choices=["full", "kv", "both"], default="both")
    parser.add_argument("--external-data", action="store_true",
                        help="weights in OUT/weights.data (needed at >= 2 GiB)")
    parser.add_argument("-o", "--out", help="output directory (default: a temporary one with --check)")
    parser.add_argument("--check", action="store_true", help="check against a NumPy reference in onnxruntime")
    parser.add_argument("--check-atol", type=float, default=1e-4)
    args = parser.parse_args()

    if args.checkpoint:
        cfg, weights = read_checkpoint(args.checkpoint)
    else:
        cfg = Config(args.dim, args.ffn, args.layers, args.heads, args.kv_heads, args.vocab,
                     2048, False)
        weights = random_weights(cfg, args.seed)
    max_positions = args.max_positions or cfg.seq_len
    nbytes = sum(a.nbytes for a in weights.values())
    if nbytes >= (2 << 30) - (16 << 20) and not args.external_data:
        parser.error(f"{nbytes} bytes of weights: a model of 2 GiB or more needs --external-data")
    out = args.out
    tmp = None
    if not out:
        if not args.check:
            parser.error("-o/--out is required (without --check)")
        tmp = tempfile.mkdtemp(prefix="sqz-llama-")
        out = tmp
    forms = ["full", "kv"] if args.form == "both" else [args.form]
    paths = write_models(cfg, weights, forms, max_positions, out, args.external_data)
    for p in paths:
        print(f"wrote {p} ({os.path.getsize(p)} bytes)")
    if args.external_data:
        data = os.path.join(out, "weights.data")
        print(f"wrote {data} ({os.path.getsize(data)} bytes)")
    print(f"model: {cfg}; {nbytes} bytes of weights; RoPE tables for {max_positions} positions")
    status = 0
    if args.check:
        golden = None
        if args.checkpoint:
            g = os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "golden")
            if os.path.exists(os.path.join(g, "prompt_logits.npy")):
                golden = g
        try:
            if not check(cfg, weights, dict(zip(forms, paths)), os.path.join(out, "check"),
                         args.check_atol, golden):
                status = 1
        except RuntimeError as e:
            print(f"check: error: {e}", file=sys.stderr)
            status = 2
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
