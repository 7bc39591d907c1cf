"""Builds small ONNX RNN/GRU/LSTM models that exercise what the ONNX backend node tests do not
(bidirectional, reverse, run-time sequence_lens, initial states, layout 1, clip, parameterised
activations, GRU linear_before_reset 0/1, LSTM peepholes and input_forget, constant weights,
float64), compiles each with sqz-compile, runs it with sqz-run and compares every output with a
NumPy (float64) reference that follows onnxruntime's semantics: a row b processes only its first
sequence_lens[b] steps (the reverse direction from step sequence_lens[b] - 1 down to 0), Y is 0
past the row's length, and Y_h/Y_c hold the state after the row's last processed step.

Usage: recurrent_e2e.py OUT_DIR PREFIX...   (sqz-compile and sqz-run must be on PATH)
Prints "<case>: OK" or "<case>: FAIL ..." (then the tool output) per case; exits 1 on failure.
"""

import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


rng = np.random.default_rng(0)


def randf(*shape, dtype=np.float32, scale=0.5):
    return (scale * rng.standard_normal(shape)).astype(dtype)


#--- Reference --------------------------------------------------------------------------------

def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# name -> (fn(x, alpha, beta), takes alpha, takes beta, default alpha, default beta)
ACTIVATIONS = {
    "Relu": (lambda x, a, b: np.maximum(x, 0), False, False, 0, 0),
    "Tanh": (lambda x, a, b: np.tanh(x), False, False, 0, 0),
    "Sigmoid": (lambda x, a, b: sigmoid(x), False, False, 0, 0),
    "Affine": (lambda x, a, b: a * x + b, True, True, 1.0, 0.0),
    "LeakyRelu": (lambda x, a, b: np.where(x < 0, a * x, x), True, False, 0.01, 0),
    "ThresholdedRelu": (lambda x, a, b: np.where(x > a, x, 0), True, False, 1.0, 0),
    "ScaledTanh": (lambda x, a, b: a * np.tanh(b * x), True, True, 1.0, 1.0),
    "HardSigmoid": (lambda x, a, b: np.clip(a * x + b, 0, 1), True, True, 0.2, 0.5),
    "Elu": (lambda x, a, b: np.where(x < 0, a * np.expm1(x), x), True, False, 1.0, 0),
    "Softsign": (lambda x, a, b: x / (1 + np.abs(x)), False, False, 0, 0),
    "Softplus": (lambda x, a, b: np.log1p(np.exp(x)), False, False, 0, 0),
}

DEFAULT_ACTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def resolve_activations(kind, num_dirs, names, alphas, betas):
    per = len(DEFAULT_ACTS[kind])
    names = list(names) if names else DEFAULT_ACTS[kind] * num_dirs
    if len(names) == per and num_dirs == 2:
        names = names * 2
    alphas, betas = list(alphas or []), list(betas or [])
    fns = []
    for name in names:
        fn, has_a, has_b, a, b = ACTIVATIONS[name]
        if has_a and alphas:
            a = alphas.pop(0)
        if has_b and betas:
            b = betas.pop(0)
        fns.append(lambda x, fn=fn, a=a, b=b: fn(x, a, b))
    return [fns[d * per:(d + 1) * per] for d in range(num_dirs)]


def reference(kind, X, W, R, B=None, seq=None, h0=None, c0=None, P=None, direction="forward",
              activations=None, alphas=None, betas=None, clip=None, lbr=0, input_forget=0,
              layout=0):
    X, W, R = (np.asarray(a, np.float64) for a in (X, W, R))
    if layout:
        X = X.swapaxes(0, 1)
        h0 = None if h0 is None else h0.swapaxes(0, 1)
        c0 = None if c0 is None else c0.swapaxes(0, 1)
    T, N, _ = X.shape
    D, H, G = W.shape[0], R.shape[2], GATES[kind]
    B = np.zeros((D, 2 * G * H)) if B is None else np.asarray(B, np.float64)
    seq = [T] * N if seq is None else list(seq)
    h0 = np.zeros((D, N, H)) if h0 is None else np.asarray(h0, np.float64)
    c0 = np.zeros((D, N, H)) if c0 is None else np.asarray(c0, np.float64)
    P = np.zeros((D, 3 * H)) if P is None else np.asarray(P, np.float64)
    acts = resolve_activations(kind, D, activations, alphas, betas)
    cl = (lambda v: np.clip(v, -clip, clip)) if clip is not None else (lambda v: v)
    Y = np.zeros((T, D, N, H))
    Yh = np.zeros((D, N, H))
    Yc = np.zeros((D, N, H))
    for d in range(D):
        rev = direction == "reverse" or d == 1
        w, r = W[d], R[d]
        wb, rb = np.split(B[d], 2)
        a = acts[d]
        for n in range(N):
            h, c = h0[d, n].copy(), c0[d, n].copy()
            steps = range(seq[n] - 1, -1, -1) if rev else range(seq[n])
            for t in steps:
                x = X[t, n]
                xw = w @ x + wb
                hr = r @ h + rb
                if kind == "RNN":
                    h = a[0](cl(xw + hr))
                elif kind == "GRU":
                    z = a[0](cl(xw[:H] + hr[:H]))
                    rr = a[0](cl(xw[H:2 * H] + hr[H:2 * H]))
                    if lbr:
                        hh = a[1](cl(xw[2 * H:] + rr * hr[2 * H:]))
                    else:
                        hh = a[1](cl(xw[2 * H:] + r[2 * H:] @ (rr * h) + rb[2 * H:]))
                    h = (1 - z) * hh + z * h
                else:
                    g = xw + hr
                    pi, po, pf = np.split(P[d], 3)
                    i = a[0](cl(g[:H] + pi * c))
                    f = 1 - i if input_forget else a[0](cl(g[2 * H:3 * H] + pf * c))
                    cc = a[1](cl(g[3 * H:]))
                    c = f * c + i * cc
                    o = a[0](cl(g[H:2 * H] + po * c))
                    h = o * a[2](c)
                Y[t, d, n] = h
            Yh[d, n], Yc[d, n] = h, c
    if layout:
        Y = Y.transpose(2, 0, 1, 3)
        Yh, Yc = Yh.swapaxes(0, 1), Yc.swapaxes(0, 1)
    return Y, Yh, Yc


#--- Model building ---------------------------------------------------------------------------

def build(kind, T, N, I, H, direction="forward", dtype=np.float32, with_bias=True, seq=None,
          with_h0=False, with_c0=False, with_p=False, const_weights=False, outputs=("Y", "Y_h"),
          opset=14, rtol=1e-4, atol=1e-5, **attrs):
    D = 2 if direction == "bidirectional" else 1
    G = GATES[kind]
    layout = attrs.get("layout", 0)
    X = randf(*((T, N, I) if layout == 0 else (N, T, I)), dtype=dtype, scale=1.0)
    W, R = randf(D, G * H, I, dtype=dtype), randf(D, G * H, H, dtype=dtype)
    state_shape = (D, N, H) if layout == 0 else (N, D, H)
    operands = {"X": X, "W": W, "R": R,
                "B": randf(D, 2 * G * H, dtype=dtype) if with_bias else None,
                "sequence_lens": None if seq is None else np.asarray(seq, np.int32),
                "initial_h": randf(*state_shape, dtype=dtype) if with_h0 else None,
                "initial_c": randf(*state_shape, dtype=dtype) if with_c0 else None,
                "P": randf(D, 3 * H, dtype=dtype) if with_p else None}
    names = ["X", "W", "R", "B", "sequence_lens", "initial_h"]
    if kind == "LSTM":
        names += ["initial_c", "P"]
    node_inputs = [n if operands[n] is not None else "" for n in names]
    while node_inputs and not node_inputs[-1]:
        node_inputs.pop()
    all_outputs = ["Y", "Y_h", "Y_c"][:3 if kind == "LSTM" else 2]
    node_outputs = [o if o in outputs else "" for o in all_outputs]
    while not node_outputs[-1]:
        node_outputs.pop()
    node = helper.make_node(kind, node_inputs, node_outputs, hidden_size=H, direction=direction,
                            **attrs)
    Y, Yh, Yc = reference(kind, X, W, R, operands["B"], seq, operands["initial_h"],
                          operands["initial_c"], operands["P"], direction,
                          attrs.get("activations"), attrs.get("activation_alpha"),
                          attrs.get("activation_beta"), attrs.get("clip"),
                          attrs.get("linear_before_reset", 0), attrs.get("input_forget", 0),
                          layout)
    refs = {"Y": Y.astype(dtype), "Y_h": Yh.astype(dtype), "Y_c": Yc.astype(dtype)}
    elem = onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[np.dtype(dtype)]
    inits = {"W": W, "R": R} if const_weights else {}
    inputs = {n: operands[n] for n in names if operands[n] is not None and n not in inits}
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype], a.shape)
         for n, a in inputs.items()],
        [helper.make_tensor_value_info(o, elem, refs[o].shape) for o in outputs],
        [numpy_helper.from_array(a, n) for n, a in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model, inputs, {o: refs[o] for o in outputs}, rtol, atol


#--- Cases ------------------------------------------------------------------------------------

@case
def rnn_bidirectional_seq_lens():
    return build("RNN", 4, 3, 2, 5, "bidirectional", seq=[4, 1, 2], with_h0=True)


@case
def rnn_reverse_activations_clip():
    return build("RNN", 3, 2, 3, 4, "reverse", activations=["LeakyRelu"],
                 activation_alpha=[0.2], clip=1.5, const_weights=True)


@case
def rnn_bidirectional_scaled_tanh_layout1():
    return build("RNN", 3, 2, 3, 4, "bidirectional", activations=["ScaledTanh", "Elu"],
                 activation_alpha=[0.8, 0.6], activation_beta=[1.3], layout=1, seq=[2, 3],
                 with_h0=True)


@case
def rnn_opset7_constant_weights():
    return build("RNN", 3, 2, 3, 4, const_weights=True, opset=7, outputs=("Y",))


@case
def gru_bidirectional_linear_before_reset():
    return build("GRU", 4, 3, 3, 4, "bidirectional", linear_before_reset=1, seq=[3, 4, 1],
                 with_h0=True)


@case
def gru_linear_before_reset_no_bias_no_h0():
    return build("GRU", 3, 2, 3, 4, "reverse", linear_before_reset=1, with_bias=False)


@case
def gru_reverse_constant_weights():
    return build("GRU", 3, 2, 3, 4, "reverse", const_weights=True, with_h0=True)


@case
def gru_activations_layout1():
    return build("GRU", 3, 2, 2, 3, "bidirectional", layout=1, clip=2.0,
                 activations=["HardSigmoid", "Softsign", "Sigmoid", "Affine"],
                 activation_alpha=[0.3, 0.9], activation_beta=[0.4, 0.1], seq=[1, 3])


@case
def gru_f64():
    return build("GRU", 3, 2, 3, 4, dtype=np.float64, with_h0=True, rtol=1e-9, atol=1e-10)


@case
def lstm_bidirectional_peepholes_seq_lens():
    return build("LSTM", 4, 3, 3, 4, "bidirectional", seq=[2, 4, 3], with_h0=True, with_c0=True,
                 with_p=True, outputs=("Y", "Y_h", "Y_c"))


@case
def lstm_input_forget_activations_layout1():
    return build("LSTM", 3, 2, 3, 4, layout=1, input_forget=1, clip=1.0, const_weights=True,
                 activations=["HardSigmoid", "Softplus", "ThresholdedRelu"],
                 activation_alpha=[0.25, 0.1], activation_beta=[0.45], with_c0=True,
                 outputs=("Y", "Y_h", "Y_c"))


@case
def lstm_reverse_relu_no_bias():
    return build("LSTM", 3, 2, 2, 3, "reverse", with_bias=False, seq=[3, 2],
                 activations=["Sigmoid", "Relu", "Tanh"], outputs=("Y_c",))


#--- Driver -----------------------------------------------------------------------------------

def run(out_dir, name):
    model, inputs, outputs, rtol, atol = CASES[name]()
    work = os.path.join(out_dir, name)
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "model.onnx")
    onnx.checker.check_model(model)
    onnx.save(model, path)
    args = ["sqz-run", os.path.join(work, "art"), "--output-dir", os.path.join(work, "out"),
            "--rtol", str(rtol), "--atol", str(atol)]
    for key, value in inputs.items():
        np.save(os.path.join(work, "in_" + key + ".npy"), value)
        args += ["--input", f"{key}={os.path.join(work, 'in_' + key + '.npy')}"]
    for key, value in outputs.items():
        np.save(os.path.join(work, "ref_" + key + ".npy"), value)
        args += ["--expect", f"{key}={os.path.join(work, 'ref_' + key + '.npy')}"]
    compile_ = subprocess.run(["sqz-compile", path, "-o", os.path.join(work, "art")],
                              capture_output=True, text=True)
    if compile_.returncode != 0:
        return False, compile_.stdout + compile_.stderr
    result = subprocess.run(args, capture_output=True, text=True)
    return result.returncode == 0, result.stdout + result.stderr


def main():
    out_dir, prefixes = sys.argv[1], sys.argv[2:]
    failed = False
    for name in CASES:
        if not any(name.startswith(p) for p in prefixes):
            continue
        ok, log = run(out_dir, name)
        print(f"{name}: {'OK' if ok else 'FAIL'}")
        if not ok:
            print(log)
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
