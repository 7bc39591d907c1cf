"""Builds small models with the com.microsoft attention ops that LLM exporters emit
(GroupQueryAttention, RotaryEmbedding, MultiHeadAttention, Attention), runs each in
onnxruntime-node (test/realmodels/ort_run.js), compiles it with sqz-compile and checks that
sqz-run reproduces onnxruntime's outputs (--rtol 1e-4 --atol 1e-5).

MultiHeadAttention's packed QKV/KV forms, which onnxruntime's CPU kernel does not implement, are
compared with onnxruntime on the equivalent unpacked model.

Usage: ms_attention.py OUT_DIR --ort NODE_SCRIPT [--only CASE ...]  (sqz-compile, sqz-run on PATH)
Prints "<case>: OK (N outputs)" or "<case>: FAIL ..." per case; exits 1 if any failed.
Odd sizes on purpose: batch 2, sequence 5, 4 query heads over 2 kv heads, head size 8 (16/32
where onnxruntime's rotary needs it), with past state, ragged seqlens_k and padding masks.
"""

import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def rng_for(name):
    """A generator seeded from the case name (stable across runs)."""
    return np.random.default_rng(sum(map(ord, name)))


def randn(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def vinfo(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, list(shape))


def np_vinfo(name, array):
    return vinfo(name, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[array.dtype], array.shape)


def make_model(node, feeds, outputs, inits=()):
    """One com.microsoft node; `feeds` name -> array are the graph inputs; `outputs` are
    (name, shape) float outputs."""
    graph = helper.make_graph([node], "g", [np_vinfo(k, v) for k, v in feeds.items()],
                              [vinfo(n, TensorProto.FLOAT, s) for n, s in outputs],
                              [numpy_helper.from_array(v, k) for k, v in inits])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21),
                                                helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


def rope_cache(rng, max_pos, half):
    theta = rng.uniform(0.05, 1.0, half)
    angles = np.arange(max_pos)[:, None] * theta[None, :]
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


# --- GroupQueryAttention -------------------------------------------------------------------------

def gqa(name, batch, seq, past, total, seqlens, heads=4, kv_heads=2, head=8, rotary=None,
        interleaved=0, window=None, softcap=None, scale=None, packed=False, total_const=False,
        attn_bias=False):
    rng = rng_for(name)
    feeds = {}
    if packed:
        feeds["query"] = randn(rng, batch, seq, (heads + 2 * kv_heads) * head)
    else:
        feeds["query"] = randn(rng, batch, seq, heads * head)
        feeds["key"] = randn(rng, batch, seq, kv_heads * head)
        feeds["value"] = randn(rng, batch, seq, kv_heads * head)
    if past:
        feeds["past_key"] = randn(rng, batch, kv_heads, past, head)
        feeds["past_value"] = randn(rng, batch, kv_heads, past, head)
    feeds["seqlens_k"] = np.array(seqlens, dtype=np.int32)
    inits = []
    if total_const:
        inits.append(("total_sequence_length", np.array(total, dtype=np.int32)))
    else:
        feeds["total_sequence_length"] = np.array(total, dtype=np.int32)
    attrs = dict(num_heads=heads, kv_num_heads=kv_heads)
    if rotary:
        cos, sin = rope_cache(rng, 16, rotary // 2)
        inits += [("cos_cache", cos), ("sin_cache", sin)]
        attrs.update(do_rotary=1, rotary_interleaved=interleaved)
    if window is not None:
        attrs["local_window_size"] = window
    if softcap is not None:
        attrs["softcap"] = softcap
    if scale is not None:
        attrs["scale"] = scale
    inputs = ["query", "" if packed else "key", "" if packed else "value",
              "past_key" if past else "", "past_value" if past else "", "seqlens_k",
              "total_sequence_length"]
    present = max(past, total)
    if rotary or attn_bias:
        inputs += ["cos_cache", "sin_cache"] if rotary else ["", ""]
    if attn_bias:
        feeds["attention_bias"] = randn(rng, batch, 1, seq, present, scale=2.0)
        inputs += ["", "attention_bias"]
    node = helper.make_node("GroupQueryAttention", inputs, ["output", "present_key", "present_value"],
                            domain="com.microsoft", **attrs)
    outputs = [("output", [batch, seq, heads * head]),
               ("present_key", [batch, kv_heads, present, head]),
               ("present_value", [batch, kv_heads, present, head])]
    return make_model(node, feeds, outputs, inits), feeds


@case
def gqa_prompt():
    return gqa("gqa_prompt", 2, 5, 0, 5, [4, 4])


@case
def gqa_decode_ragged_past():
    # Batch 1 has only 4 valid tokens in its 6-long past buffer (3 past + the new one).
    return gqa("gqa_decode_ragged_past", 2, 1, 6, 7, [6, 3])


@case
def gqa_decode_window_softcap():
    return gqa("gqa_decode_window_softcap", 2, 1, 6, 7, [6, 3], window=3, softcap=1.5)


@case
def gqa_prompt_attention_bias_softcap():
    return gqa("gqa_prompt_attention_bias_softcap", 2, 5, 0, 5, [4, 4], softcap=1.5,
               attn_bias=True)


@case
def gqa_decode_attention_bias():
    return gqa("gqa_decode_attention_bias", 2, 1, 6, 7, [6, 3], attn_bias=True)


@case
def gqa_subsequent_prompt():
    return gqa("gqa_subsequent_prompt", 1, 5, 3, 8, [7], scale=0.3)


@case
def gqa_prompt_packed_window_softcap():
    return gqa("gqa_prompt_packed_window_softcap", 2, 5, 0, 5, [4, 4], packed=True, window=2,
               softcap=2.5, total_const=True)


@case
def gqa_rotary_decode():
    return gqa("gqa_rotary_decode", 2, 1, 6, 7, [6, 4], head=16, rotary=16)


@case
def gqa_rotary_interleaved_prompt():
    return gqa("gqa_rotary_interleaved_prompt", 2, 5, 0, 5, [4, 4], head=16, rotary=16,
               interleaved=1)


@case
def gqa_rotary_partial_subsequent():
    return gqa("gqa_rotary_partial_subsequent", 1, 5, 3, 8, [7], heads=2, kv_heads=1, head=32,
               rotary=16)


# --- RotaryEmbedding -----------------------------------------------------------------------------

def rotary(name, x_shape, pos, interleaved=0, num_heads=None, rotary_dim=None, half=None):
    rng = rng_for(name)
    feeds = {"input": randn(rng, *x_shape), "position_ids": pos}
    cos, sin = rope_cache(rng, 16, half)
    attrs = dict(interleaved=interleaved)
    if num_heads is not None:
        attrs["num_heads"] = num_heads
    if rotary_dim is not None:
        attrs["rotary_embedding_dim"] = rotary_dim
    node = helper.make_node("RotaryEmbedding", ["input", "position_ids", "cos_cache", "sin_cache"],
                            ["output"], domain="com.microsoft", **attrs)
    return make_model(node, feeds, [("output", list(x_shape))],
                      [("cos_cache", cos), ("sin_cache", sin)]), feeds


@case
def rotary_3d_positions():
    pos = np.array([[0, 1, 2, 3, 4], [7, 8, 9, 10, 11]], dtype=np.int64)
    return rotary("rotary_3d_positions", (2, 5, 32), pos, num_heads=4, half=4)


@case
def rotary_3d_interleaved_offset():
    return rotary("rotary_3d_interleaved_offset", (2, 5, 32), np.array([3], dtype=np.int64),
                  interleaved=1, half=4)


@case
def rotary_4d_partial():
    pos = np.array([[2, 3, 4, 5, 6], [0, 1, 2, 3, 4]], dtype=np.int64)
    return rotary("rotary_4d_partial", (2, 4, 5, 8), pos, rotary_dim=4, num_heads=4, half=2)


@case
def rotary_3d_partial_interleaved():
    pos = np.array([[2, 3, 4, 5, 6], [0, 1, 2, 3, 4]], dtype=np.int64)
    return rotary("rotary_3d_partial_interleaved", (2, 5, 32), pos, interleaved=1,
                  rotary_dim=4, num_heads=4, half=2)


# --- MultiHeadAttention --------------------------------------------------------------------------

def mha(name, batch=2, seq=5, kv_seq=5, heads=4, head=8, v_head=8, past=0, bias=True, mask=None,
        attn_bias=False, unidirectional=0, scale=None):
    rng = rng_for(name)
    d, dv = heads * head, heads * v_head
    feeds = {"query": randn(rng, batch, seq, d), "key": randn(rng, batch, kv_seq, d),
             "value": randn(rng, batch, kv_seq, dv)}
    total = past + kv_seq
    inputs = ["query", "key", "value", "", "", "", "", ""]
    if bias:
        feeds["bias"] = randn(rng, 2 * d + dv, scale=0.5)
        inputs[3] = "bias"
    if mask == "2d":
        m = np.ones((batch, total), dtype=np.int32)
        m[1, :2] = 0
        m[0, -1] = 0
        feeds["key_padding_mask"] = m
        inputs[4] = "key_padding_mask"
    elif mask == "1d":
        feeds["key_padding_mask"] = np.array([total, total - 2], dtype=np.int32)
        inputs[4] = "key_padding_mask"
    if attn_bias:
        feeds["attention_bias"] = randn(rng, 1, heads, seq, total)
        inputs[5] = "attention_bias"
    if past:
        feeds["past_key"] = randn(rng, batch, heads, past, head)
        feeds["past_value"] = randn(rng, batch, heads, past, v_head)
        inputs[6:8] = ["past_key", "past_value"]
    while inputs and not inputs[-1]:
        inputs.pop()
    attrs = dict(num_heads=heads, unidirectional=unidirectional)
    if scale is not None:
        attrs["scale"] = scale
    outs = ["output"] + (["present_key", "present_value"] if past else [])
    node = helper.make_node("MultiHeadAttention", inputs, outs, domain="com.microsoft", **attrs)
    outputs = [("output", [batch, seq, dv])]
    if past:
        outputs += [("present_key", [batch, heads, total, head]),
                    ("present_value", [batch, heads, total, v_head])]
    return make_model(node, feeds, outputs), feeds


@case
def mha_past_mask_bias():
    return mha("mha_past_mask_bias", past=3, mask="2d", attn_bias=True)


@case
def mha_cross_dv():
    return mha("mha_cross_dv", kv_seq=7, v_head=4, mask="1d", scale=0.25)


@case
def mha_causal_past():
    return mha("mha_causal_past", past=3, unidirectional=1, bias=False)


def mha_packed(name, kind, batch=2, seq=5, kv_seq=5, heads=4, head=8):
    rng = rng_for(name)
    if kind == "qkv":
        feeds = {"query": randn(rng, batch, seq, heads, 3, head)}
        inputs = ["query"]
    else:
        feeds = {"query": randn(rng, batch, seq, heads * head),
                 "key": randn(rng, batch, kv_seq, heads, 2, head)}
        inputs = ["query", "key"]
    node = helper.make_node("MultiHeadAttention", inputs, ["output"], domain="com.microsoft",
                            num_heads=heads)
    outputs = [("output", [batch, seq, heads * head])]
    # onnxruntime's CPU kernel has no packed forms: the reference is the unpacked model.
    if kind == "qkv":
        p = feeds["query"]
        parts = [p[:, :, :, i, :].reshape(batch, seq, heads * head) for i in range(3)]
    else:
        p = feeds["key"]
        parts = [feeds["query"]] + [p[:, :, :, i, :].reshape(batch, kv_seq, heads * head)
                                    for i in range(2)]
    ref_feeds = dict(zip(["query", "key", "value"], (np.ascontiguousarray(a) for a in parts)))
    ref_node = helper.make_node("MultiHeadAttention", ["query", "key", "value"], ["output"],
                                domain="com.microsoft", num_heads=heads)
    return (make_model(node, feeds, outputs), feeds, make_model(ref_node, ref_feeds, outputs),
            ref_feeds)


@case
def mha_packed_qkv():
    return mha_packed("mha_packed_qkv", "qkv")


@case
def mha_packed_kv():
    return mha_packed("mha_packed_kv", "kv", kv_seq=7)


# --- Attention -----------------------------------------------------------------------------------

def attention(name, batch=2, seq=5, hidden_in=24, heads=4, sizes=(32, 32, 32), past=0, mask=None,
              unidirectional=0, attn_bias=False, with_present=None):
    rng = rng_for(name)
    width = sum(sizes)
    feeds = {"input": randn(rng, batch, seq, hidden_in)}
    inits = [("weights", randn(rng, hidden_in, width, scale=hidden_in ** -0.5)),
             ("bias", randn(rng, width, scale=0.2))]
    total = past + seq
    inputs = ["input", "weights", "bias", "", "", ""]
    if mask == "2d":
        m = np.ones((batch, total), dtype=np.int32)
        m[1, :3] = 0
        feeds["mask_index"] = m
        inputs[3] = "mask_index"
    if past:
        feeds["past"] = randn(rng, 2, batch, heads, past, sizes[1] // heads)
        inputs[4] = "past"
    if attn_bias:
        feeds["attention_bias"] = randn(rng, batch, 1, seq, total)
        inputs[5] = "attention_bias"
    while not inputs[-1]:
        inputs.pop()
    attrs = dict(num_heads=heads, unidirectional=unidirectional)
    if list(sizes) != [width // 3] * 3:
        attrs["qkv_hidden_sizes"] = list(sizes)
    want_present = past > 0 if with_present is None else with_present
    outs = ["output"] + (["present"] if want_present else [])
    node = helper.make_node("Attention", inputs, outs, domain="com.microsoft", **attrs)
    outputs = [("output", [batch, seq, sizes[2]])]
    if want_present:
        outputs.append(("present", [2, batch, heads, total, sizes[1] // heads]))
    return make_model(node, feeds, outputs, inits), feeds


@case
def attention_past_mask_causal():
    return attention("attention_past_mask_causal", past=3, mask="2d", unidirectional=1)


@case
def attention_qkv_sizes_bias():
    return attention("attention_qkv_sizes_bias", sizes=(32, 32, 16), attn_bias=True)


@case
def attention_mask_present():
    return attention("attention_mask_present", mask="2d", with_present=True)


def run(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main():
    out_dir = sys.argv[1]
    ort = sys.argv[sys.argv.index("--ort") + 1]
    only = sys.argv[sys.argv.index("--only") + 1:] if "--only" in sys.argv else None
    failed = False
    for name, fn in CASES.items():
        if only and name not in only:
            continue
        m, feeds, *ref = fn()
        work = os.path.join(out_dir, name)
        os.makedirs(work, exist_ok=True)
        path = os.path.join(work, "model.onnx")
        onnx.save(m, path)

        def save_inputs(prefix, arrays):
            args = []
            for k, v in arrays.items():
                f = os.path.join(work, prefix + k + ".npy")
                np.save(f, v)
                args += ["--input", f"{k}={f}"]
            return args

        inputs = save_inputs("", feeds)
        ort_path, ort_inputs = path, inputs
        if ref:  # a model onnxruntime's CPU kernels can run, with the same semantics
            ort_path = os.path.join(work, "reference.onnx")
            onnx.save(ref[0], ort_path)
            ort_inputs = save_inputs("ref_", ref[1])
        ort_dir = os.path.join(work, "ort")
        proc = run(["node", ort, ort_path, *ort_inputs, "--output-dir", ort_dir])
        if proc.returncode != 0:
            print(f"{name}: FAIL onnxruntime\n{proc.stdout}")
            failed = True
            continue
        art = os.path.join(work, "art")
        proc = run(["sqz-compile", path, "-o", art])
        if proc.returncode != 0:
            print(f"{name}: FAIL compile\n{proc.stdout}")
            failed = True
            continue
        outs = [o.name for o in m.graph.output]
        expect = []
        for o in outs:
            expect += ["--expect", f"{o}={os.path.join(ort_dir, o + '.npy')}"]
        proc = run(["sqz-run", art, *inputs, *expect, "--rtol", "1e-4", "--atol", "1e-5",
                    "--output-dir", os.path.join(work, "out")])
        if proc.returncode != 0:
            print(f"{name}: FAIL run\n{proc.stdout}")
            failed = True
            continue
        print(f"{name}: OK ({len(outs)} outputs)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
