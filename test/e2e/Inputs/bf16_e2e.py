"""bfloat16 LLM blocks end to end: writes two small opset-23 models built with onnx.helper whose
activations, weights and results are all bfloat16, plus inputs and NumPy references, and checks
sqz-run's outputs against them.

  * llama.onnx: a LLaMA-style block. RMSNormalization, MatMul with bf16 weight initializers,
    RotaryEmbedding (half split, position_ids, bf16 cos/sin caches), causal softmax attention from
    plain ops (Reshape/Transpose/MatMul/Mul/Where/Softmax), a residual Add,
    SimplifiedLayerNormalization and a SwiGLU MLP (Sigmoid, Mul); extra results ReduceMean and
    ReduceSum of the block output.
  * gpt2.onnx: a GPT-2-style block. LayerNormalization, Gemm (2-D, bias), Slice of the fused qkv,
    the ONNX Attention op (causal, 3-D), com.microsoft SkipLayerNormalization (its
    input+skip sum result too), MatMul + com.microsoft FastGelu with bias, a residual Add; extra
    results ReduceMax, LogSoftmax, Gelu (tanh) and CumSum of the block output, Concat + Expand.

The reference computes every op in float64 from bf16 inputs and rounds its result to bfloat16
(round to nearest even), as onnxruntime's bf16 kernels do (they compute in f32 and round each
result). bf16 values cross the files as uint16 bit patterns (the sqz ABI and the .npy files).

usage: bf16_e2e.py make OUT_DIR      writes OUT_DIR/{llama,gpt2}.onnx, inputs and references
       bf16_e2e.py ms OUT_DIR   com.microsoft attention ops in bf16 against their f32 import
       bf16_e2e.py check REF_DIR OUT_DIR ULPS
            compares every OUT_DIR/<name>.npy with REF_DIR/<name>.ref.npy: |got - ref| must be at
            most ULPS bf16 ulps of |ref| plus ULPS ulps of the largest |ref| of that result (an
            absolute floor where residual adds and softmax cancel); prints one line per result
            and exits 1 on any failure.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

BF16 = TensorProto.BFLOAT16
S, D, H, F, MAXPOS = 6, 32, 4, 64, 16
HD = D // H


def to_bits(x):
    """float -> bf16 bit patterns (uint16), round to nearest even."""
    bits = np.atleast_1d(np.asarray(x, np.float32)).view(np.uint32).astype(np.uint64)
    sh = np.uint64(16)
    bits = (bits + np.uint64(0x7FFF) + ((bits >> sh) & np.uint64(1))) >> sh
    return bits.astype(np.uint16).reshape(np.shape(x))


def from_bits(bits):
    wide = np.atleast_1d(np.asarray(bits, np.uint16)).astype(np.uint32) << np.uint32(16)
    return wide.view(np.float32).reshape(np.shape(bits))


def r(x):
    """The bf16 rounding of an op result, as float64."""
    return from_bits(to_bits(np.asarray(x, np.float64).astype(np.float32))).astype(np.float64)


def ulp(x):
    """The bf16 ulp at |x| (normal range)."""
    e = np.floor(np.log2(np.maximum(np.abs(x), 2.0**-126)))
    return 2.0 ** (e - 7)


def bf16_tensor(name, array):
    return helper.make_tensor(name, BF16, array.shape, to_bits(array).tobytes(), raw=True)


def info(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, list(shape))


def save_model(nodes, name, inputs, outputs, inits, out, ms=False):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    opsets = [helper.make_opsetid("", 23)]
    if ms:
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 10
    onnx.save(model, os.path.join(out, name + ".onnx"))


def rmsnorm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def layernorm(x, g, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def rope(x, cos, sin, pos):
    """Half-split rotary embedding of x [1, S, H*HD] at positions pos [1, S]."""
    x = x.reshape(1, S, H, HD)
    c, s = cos[pos][:, :, None, :], sin[pos][:, :, None, :]
    x1, x2 = x[..., : HD // 2], x[..., HD // 2:]
    return np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], -1).reshape(1, S, D)


def heads(x):  # [1, S, D] -> [1, H, S, HD]
    return x.reshape(1, S, H, HD).transpose(0, 2, 1, 3)


def unheads(x):
    return x.transpose(0, 2, 1, 3).reshape(1, S, D)


def make(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    w = lambda *shape, scale=1.0: r(rng.standard_normal(shape) * scale)
    refs, ins = {}, {}

    # --- LLaMA block ---------------------------------------------------------------------------
    x = w(1, S, D)
    pos = np.array([[0, 1, 2, 3, 5, 8]], np.int64)
    wts = {"w_norm1": w(D, scale=0.3) + 1, "wq": w(D, D, scale=D**-0.5),
           "wk": w(D, D, scale=D**-0.5), "wv": w(D, D, scale=D**-0.5),
           "wo": w(D, D, scale=D**-0.5), "w_norm2": w(D, scale=0.3) + 1,
           "wg": w(D, F, scale=D**-0.5), "wu": w(D, F, scale=D**-0.5),
           "wd": w(F, D, scale=F**-0.5)}
    wts = {k: r(v) for k, v in wts.items()}
    angles = np.arange(MAXPOS)[:, None] / 10000 ** (np.arange(HD // 2)[None, :] * 2 / HD)
    cos, sin = r(np.cos(angles)), r(np.sin(angles))
    scale = r(HD**-0.5)
    causal = np.tril(np.ones((S, S), bool))
    neg = r(-1e30)

    h = r(rmsnorm(x, wts["w_norm1"], 1e-5))
    q, k, v = (r(h @ wts[n]) for n in ("wq", "wk", "wv"))
    q, k = r(rope(q, cos, sin, pos)), r(rope(k, cos, sin, pos))
    sc = r(heads(q) @ heads(k).transpose(0, 1, 3, 2))
    sc = r(sc * scale)
    sc = np.where(causal, sc, neg)
    p = r(softmax(sc))
    o = r(p @ heads(v))
    a = r(unheads(o) @ wts["wo"])
    x1 = r(x + a)
    h2 = r(rmsnorm(x1, wts["w_norm2"], 1e-6))
    g, u = r(h2 @ wts["wg"]), r(h2 @ wts["wu"])
    sg = r(1 / (1 + np.exp(-g)))
    m = r(r(g * sg) * u)
    y = r(x1 + r(m @ wts["wd"]))
    refs["llama"] = {"y": y, "y_mean": r(y.mean(-1)), "y_sum": r(y.sum(1))}
    ins["llama"] = {"x": x}

    nodes = [
        helper.make_node("RMSNormalization", ["x", "w_norm1"], ["h"], epsilon=1e-5, axis=-1),
        helper.make_node("MatMul", ["h", "wq"], ["q"]),
        helper.make_node("MatMul", ["h", "wk"], ["k"]),
        helper.make_node("MatMul", ["h", "wv"], ["v"]),
        helper.make_node("RotaryEmbedding", ["q", "cos", "sin", "pos"], ["q_r"], num_heads=H),
        helper.make_node("RotaryEmbedding", ["k", "cos", "sin", "pos"], ["k_r"], num_heads=H),
        helper.make_node("Reshape", ["q_r", "heads_shape"], ["q4"]),
        helper.make_node("Transpose", ["q4"], ["qh"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["k_r", "heads_shape"], ["k4"]),
        helper.make_node("Transpose", ["k4"], ["kt"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["v", "heads_shape"], ["v4"]),
        helper.make_node("Transpose", ["v4"], ["vh"], perm=[0, 2, 1, 3]),
        helper.make_node("MatMul", ["qh", "kt"], ["sc0"]),
        helper.make_node("Mul", ["sc0", "scale"], ["sc1"]),
        helper.make_node("Where", ["causal", "sc1", "neg"], ["sc2"]),
        helper.make_node("Softmax", ["sc2"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "vh"], ["o"]),
        helper.make_node("Transpose", ["o"], ["o4"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["o4", "model_shape"], ["o3"]),
        helper.make_node("MatMul", ["o3", "wo"], ["a"]),
        helper.make_node("Add", ["x", "a"], ["x1"]),
        helper.make_node("SimplifiedLayerNormalization", ["x1", "w_norm2"], ["h2"],
                         epsilon=1e-6, axis=-1),
        helper.make_node("MatMul", ["h2", "wg"], ["g"]),
        helper.make_node("MatMul", ["h2", "wu"], ["u"]),
        helper.make_node("Sigmoid", ["g"], ["sg"]),
        helper.make_node("Mul", ["g", "sg"], ["silu"]),
        helper.make_node("Mul", ["silu", "u"], ["m"]),
        helper.make_node("MatMul", ["m", "wd"], ["dn"]),
        helper.make_node("Add", ["x1", "dn"], ["y"]),
        helper.make_node("ReduceMean", ["y", "axis_last"], ["y_mean"], keepdims=0),
        helper.make_node("ReduceSum", ["y", "axis_seq"], ["y_sum"], keepdims=0),
    ]
    inits = [bf16_tensor(n, a) for n, a in wts.items()] + [
        bf16_tensor("cos", cos), bf16_tensor("sin", sin), bf16_tensor("scale", np.array(scale)),
        bf16_tensor("neg", np.array(neg)),
        helper.make_tensor("pos", TensorProto.INT64, pos.shape, pos.ravel()),
        helper.make_tensor("causal", TensorProto.BOOL, causal.shape, causal.ravel().tolist()),
        helper.make_tensor("heads_shape", TensorProto.INT64, [4], [1, S, H, HD]),
        helper.make_tensor("model_shape", TensorProto.INT64, [3], [1, S, D]),
        helper.make_tensor("axis_last", TensorProto.INT64, [1], [-1]),
        helper.make_tensor("axis_seq", TensorProto.INT64, [1], [1]),
    ]
    save_model(nodes, "llama", [info("x", BF16, x.shape)],
               [info(n, BF16, a.shape) for n, a in refs["llama"].items()], inits, out)

    # --- GPT-2 block ---------------------------------------------------------------------------
    x = w(1, S, D)
    wts = {"ln1_g": w(D, scale=0.3) + 1, "ln1_b": w(D, scale=0.1),
           "wqkv": w(D, 3 * D, scale=D**-0.5), "bqkv": w(3 * D, scale=0.1),
           "wo": w(D, D, scale=D**-0.5), "bo": w(D, scale=0.1),
           "ln2_g": w(D, scale=0.3) + 1, "ln2_b": w(D, scale=0.1),
           "w1": w(D, F, scale=D**-0.5), "b1": w(F, scale=0.1), "w2": w(F, D, scale=F**-0.5),
           "pad": w(1, 1, D)}
    wts = {k: r(v) for k, v in wts.items()}

    h = r(layernorm(x, wts["ln1_g"], wts["ln1_b"], 1e-5))
    qkv = r(h.reshape(S, D) @ wts["wqkv"] + wts["bqkv"]).reshape(1, S, 3 * D)
    q, k, v = qkv[..., :D], qkv[..., D:2 * D], qkv[..., 2 * D:]
    sc = heads(q) @ heads(k).transpose(0, 1, 3, 2) * HD**-0.5
    sc = np.where(causal, sc, -np.inf)
    att = r(unheads(softmax(sc) @ heads(v)))
    o = r(r(att @ wts["wo"]) + wts["bo"])
    s = x + o
    x1 = r(s)
    h2 = r(layernorm(s, wts["ln2_g"], wts["ln2_b"], 1e-5))
    f = r(h2 @ wts["w1"])
    fb = f + wts["b1"]
    gl = r(0.5 * fb * (1 + np.tanh(0.7978845608028654 * (fb + 0.044715 * fb**3))))
    y = r(x1 + r(gl @ wts["w2"]))
    yt = 0.5 * y * (1 + np.tanh(np.sqrt(2 / np.pi) * (y + 0.044715 * y**3)))
    refs["gpt2"] = {"y": y, "x1": x1, "y_max": r(y.max(-1)),
                    "y_logsm": r(np.log(softmax(y))), "y_gelu": r(yt),
                    "y_cum": r(np.cumsum(y, 1)),
                    "y_cat": np.concatenate([np.broadcast_to(wts["pad"], (1, 2, D)), y], 1)}
    ins["gpt2"] = {"x": x}

    nodes = [
        helper.make_node("LayerNormalization", ["x", "ln1_g", "ln1_b"], ["h"], epsilon=1e-5,
                         axis=-1),
        helper.make_node("Reshape", ["h", "flat_shape"], ["h2d"]),
        helper.make_node("Gemm", ["h2d", "wqkv", "bqkv"], ["qkv2d"]),
        helper.make_node("Reshape", ["qkv2d", "qkv_shape"], ["qkv"]),
        helper.make_node("Slice", ["qkv", "s0", "s1", "s_axis"], ["q"]),
        helper.make_node("Slice", ["qkv", "s1", "s2", "s_axis"], ["k"]),
        helper.make_node("Slice", ["qkv", "s2", "s3", "s_axis"], ["v"]),
        helper.make_node("Attention", ["q", "k", "v"], ["att"], is_causal=1, q_num_heads=H,
                         kv_num_heads=H),
        helper.make_node("MatMul", ["att", "wo"], ["o0"]),
        helper.make_node("Add", ["o0", "bo"], ["o"]),
        helper.make_node("SkipLayerNormalization", ["x", "o", "ln2_g", "ln2_b"],
                         ["h2", "", "", "x1"], domain="com.microsoft", epsilon=1e-5),
        helper.make_node("MatMul", ["h2", "w1"], ["f"]),
        helper.make_node("FastGelu", ["f", "b1"], ["gl"], domain="com.microsoft"),
        helper.make_node("MatMul", ["gl", "w2"], ["dn"]),
        helper.make_node("Add", ["x1", "dn"], ["y"]),
        helper.make_node("ReduceMax", ["y", "axis_last"], ["y_max"], keepdims=0),
        helper.make_node("LogSoftmax", ["y"], ["y_logsm"], axis=-1),
        helper.make_node("Gelu", ["y"], ["y_gelu"], approximate="tanh"),
        helper.make_node("CumSum", ["y", "axis_seq"], ["y_cum"]),
        helper.make_node("Expand", ["pad", "pad_shape"], ["pad2"]),
        helper.make_node("Concat", ["pad2", "y"], ["y_cat"], axis=1),
    ]
    inits = [bf16_tensor(n, a) for n, a in wts.items()] + [
        helper.make_tensor("flat_shape", TensorProto.INT64, [2], [S, D]),
        helper.make_tensor("qkv_shape", TensorProto.INT64, [3], [1, S, 3 * D]),
        helper.make_tensor("s0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("s1", TensorProto.INT64, [1], [D]),
        helper.make_tensor("s2", TensorProto.INT64, [1], [2 * D]),
        helper.make_tensor("s3", TensorProto.INT64, [1], [3 * D]),
        helper.make_tensor("s_axis", TensorProto.INT64, [1], [2]),
        helper.make_tensor("axis_last", TensorProto.INT64, [1], [-1]),
        helper.make_tensor("axis_seq", TensorProto.INT64, [], [1]),
        helper.make_tensor("pad_shape", TensorProto.INT64, [3], [1, 2, D]),
    ]
    save_model(nodes, "gpt2", [info("x", BF16, x.shape)],
               [info(n, BF16, a.shape) for n, a in refs["gpt2"].items()], inits, out, ms=True)

    for model in ("llama", "gpt2"):
        d = os.path.join(out, model)
        os.makedirs(d, exist_ok=True)
        for name, array in ins[model].items():
            np.save(os.path.join(d, name + ".npy"), to_bits(array))
        for name, array in refs[model].items():
            np.save(os.path.join(d, name + ".ref.npy"), to_bits(array))


def check(ref_dir, out_dir, ulps):
    ok = True
    for fname in sorted(os.listdir(ref_dir)):
        if not fname.endswith(".ref.npy"):
            continue
        name = fname[: -len(".ref.npy")]
        ref_bits = np.load(os.path.join(ref_dir, fname))
        got_bits = np.load(os.path.join(out_dir, name + ".npy"))
        if got_bits.dtype != np.uint16 or got_bits.shape != ref_bits.shape:
            print(f"{name}: FAIL got {got_bits.dtype}{list(got_bits.shape)}, expected "
                  f"uint16{list(ref_bits.shape)}")
            ok = False
            continue
        ref = from_bits(ref_bits).astype(np.float64)
        got = from_bits(got_bits).astype(np.float64)
        err = np.abs(got - ref)
        tol = ulps * (ulp(ref) + ulp(np.abs(ref).max()))
        bad = int((err > tol).sum())
        worst = float((err / ulp(ref)).max())
        exact = int((got_bits == ref_bits).sum())
        print(f"{name}: {'OK' if bad == 0 else 'FAIL'} bad={bad}/{ref.size} "
              f"exact={exact}/{ref.size} max_err_ulps={worst:.1f}")
        ok = ok and bad == 0
    return ok


MS_CASES = ["gqa_prompt", "gqa_rotary_decode", "gqa_decode_window_softcap", "rotary_3d_positions",
            "mha_past_mask_bias", "attention_past_mask_causal"]


def to_bf16_model(model):
    """The model with every float tensor (graph inputs/outputs, initializers) made bfloat16."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = BF16
    for i, t in enumerate(m.graph.initializer):
        if t.data_type == TensorProto.FLOAT:
            a = onnx.numpy_helper.to_array(t)
            m.graph.initializer[i].CopyFrom(bf16_tensor(t.name, a))
    return m


def ms(out):
    """com.microsoft GroupQueryAttention, RotaryEmbedding, MultiHeadAttention and Attention in
    bf16 (cases of ms_attention.py): each is compiled twice, in f32 with bf16-representable
    inputs and in bf16; the bf16 results must be the f32 results rounded to bf16 (the op computes
    in f32 and rounds once), within ULPS ulps. sqz-compile and sqz-run must be on PATH."""
    import subprocess
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ms_attention
    ok = True
    for name in MS_CASES:
        model, feeds = ms_attention.CASES[name]()[:2]
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        args = {"f32": [], "bf16": []}
        for k, v in feeds.items():
            if v.dtype == np.float32:
                np.save(os.path.join(d, k + ".f32.npy"), r(v).astype(np.float32))
                np.save(os.path.join(d, k + ".bf16.npy"), to_bits(v))
                args["f32"] += ["--input", f"{k}={d}/{k}.f32.npy"]
                args["bf16"] += ["--input", f"{k}={d}/{k}.bf16.npy"]
            else:
                np.save(os.path.join(d, k + ".npy"), v)
                for kind in args:
                    args[kind] += ["--input", f"{k}={d}/{k}.npy"]
        for i, t in enumerate(model.graph.initializer):  # bf16-representable weights too
            if t.data_type == TensorProto.FLOAT:
                a = r(onnx.numpy_helper.to_array(t)).astype(np.float32)
                model.graph.initializer[i].CopyFrom(onnx.numpy_helper.from_array(a, t.name))
        onnx.save(model, os.path.join(d, "f32.onnx"))
        onnx.save(to_bf16_model(model), os.path.join(d, "bf16.onnx"))
        for kind in args:
            for cmd in (["sqz-compile", f"{d}/{kind}.onnx", "-o", f"{d}/{kind}-art"],
                        ["sqz-run", f"{d}/{kind}-art", *args[kind], "--output-dir",
                         f"{d}/{kind}-out"]):
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"{name}: FAIL {' '.join(cmd[:2])}: {proc.stderr.strip()}")
                    ok = False
                    break
            else:
                continue
            break
        else:
            for o in model.graph.output:
                f = np.load(os.path.join(d, "f32-out", o.name + ".npy"))
                np.save(os.path.join(d, o.name + ".ref.npy"), to_bits(f))
            print(f"{name}: compiled and ran")
            ok = check(d, os.path.join(d, "bf16-out"), 1) and ok
    return ok


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "ms":
        sys.exit(0 if ms(sys.argv[2]) else 1)
    elif sys.argv[1] == "check":
        sys.exit(0 if check(sys.argv[2], sys.argv[3], float(sys.argv[4])) else 1)
    else:
        sys.exit(__doc__)
