"""Builds small ONNX models of the math, comparison, reduction and normalization ops with
runtime inputs, compiles each with sqz-compile, runs it with sqz-run and compares every output
with a NumPy (float64) reference.

Usage: math_ops_e2e.py OUT_DIR PREFIX...   (sqz-compile and sqz-run must be on PATH)
Runs the cases whose names start with one of the prefixes; prints "<case>: OK" or
"<case>: FAIL ..." (then the tool output) per case, and exits 1 if any failed.
"""

import math
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


def dtype_of(array):
    return onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[array.dtype]


def make(nodes, inputs, outputs, inits=(), opset=17, ir_version=8, rtol=1e-5, atol=1e-6,
         extra_opsets=()):
    """inputs/outputs: dicts name -> array (outputs: the reference); inits: name -> array."""
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(n, dtype_of(a), a.shape) for n, a in inputs.items()],
        [helper.make_tensor_value_info(n, dtype_of(a), a.shape) for n, a in outputs.items()],
        [numpy_helper.from_array(a, n) for n, a in dict(inits).items()])
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = ir_version
    return model, inputs, outputs, rtol, atol


rng = np.random.default_rng(0)


def randf(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def node(op, ins, outs, domain=None, **attrs):
    return helper.make_node(op, ins, outs, domain=domain, **attrs)


def f32(a):
    return np.asarray(a, np.float32)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


#--- Elementwise math -------------------------------------------------------------------------

@case
def math_unary_f32():
    x = randf(3, 5)
    p = np.abs(randf(3, 5)) + 0.1
    x64, p64 = x.astype(np.float64), p.astype(np.float64)
    ops = {
        "Sqrt": (p, np.sqrt(p64)), "Reciprocal": (p, 1 / p64), "Neg": (x, -x64),
        "Abs": (x, np.abs(x64)), "Exp": (x, np.exp(x64)), "Log": (p, np.log(p64)),
        "Tanh": (x, np.tanh(x64)), "Sigmoid": (x, sigmoid(x64)), "Floor": (x, np.floor(x64)),
        "Ceil": (x, np.ceil(x64)), "Sin": (x, np.sin(x64)), "Cos": (x, np.cos(x64)),
        "Softplus": (x, np.log1p(np.exp(x64))), "Softsign": (x, x64 / (1 + np.abs(x64))),
        "Sign": (x, np.sign(x64)), "Round": (x * 3, np.round(x64 * 3)),
    }
    inputs = {"x": x, "p": p}
    nodes, outputs = [], {}
    for op, (arg, ref) in ops.items():
        name = "x" if arg is x else "p"
        if op == "Round":
            nodes.append(node("Constant", [], ["three"], value_float=3.0))
            nodes.append(node("Mul", ["x", "three"], ["x3"]))
            name = "x3"
        nodes.append(node(op, [name], [op.lower()]))
        outputs[op.lower()] = f32(ref)
    return make(nodes, inputs, outputs, rtol=1e-5, atol=1e-6)


@case
def math_activations():
    x = randf(4, 6) * 3
    x64 = x.astype(np.float64)
    outputs = {
        "leaky": f32(np.where(x64 < 0, 0.1 * x64, x64)),
        "elu": f32(np.where(x64 < 0, 2.0 * np.expm1(x64), x64)),
        "selu": f32(1.0507009873554805 * np.where(x64 < 0, 1.6732632423543772 * np.expm1(x64), x64)),
        "hsig": f32(np.clip(0.2 * x64 + 0.5, 0, 1)),
        "hswish": f32(x64 * np.clip(x64 / 6 + 0.5, 0, 1)),
        "thr": f32(np.where(x64 > 1.0, x64, 0)),
        "prelu": f32(np.where(x64 < 0, np.linspace(0, 1, 6) * x64, x64)),
    }
    nodes = [
        node("LeakyRelu", ["x"], ["leaky"], alpha=0.1),
        node("Elu", ["x"], ["elu"], alpha=2.0),
        node("Selu", ["x"], ["selu"]),
        node("HardSigmoid", ["x"], ["hsig"]),
        node("HardSwish", ["x"], ["hswish"]),
        node("ThresholdedRelu", ["x"], ["thr"]),
        node("PRelu", ["x", "slope"], ["prelu"]),
    ]
    return make(nodes, {"x": x}, outputs, {"slope": f32(np.linspace(0, 1, 6))}, rtol=1e-5,
                atol=1e-6)


@case
def math_trig_misc():
    x = randf(3, 4) * 0.9
    x64 = x.astype(np.float64)
    special = f32([[np.nan, np.inf, -np.inf, 1.0]])
    outputs = {"tan": f32(np.tan(x64)), "atan": f32(np.arctan(x64)),
               "asin": f32(np.arcsin(x64 / 2)), "acos": f32(np.arccos(x64 / 2)),
               "sinh": f32(np.sinh(x64)), "cosh": f32(np.cosh(x64)),
               "asinh": f32(np.arcsinh(x64)), "atanh": f32(np.arctanh(x64 / 2)),
               "celu": f32(np.maximum(0, x64) + np.minimum(0, 0.5 * np.expm1(x64 / 0.5))),
               "shrink": f32(np.where(x64 < -0.3, x64 + 0.1, np.where(x64 > 0.3, x64 - 0.1, 0))),
               "isnan": np.isnan(special), "isinf": np.isinf(special),
               "isposinf": np.isposinf(special), "drop": x}
    nodes = [node("Tan", ["x"], ["tan"]), node("Atan", ["x"], ["atan"]),
             node("Div", ["x", "two"], ["half"]), node("Asin", ["half"], ["asin"]),
             node("Acos", ["half"], ["acos"]), node("Sinh", ["x"], ["sinh"]),
             node("Cosh", ["x"], ["cosh"]), node("Asinh", ["x"], ["asinh"]),
             node("Atanh", ["half"], ["atanh"]), node("Celu", ["x"], ["celu"], alpha=0.5),
             node("Shrink", ["x"], ["shrink"], bias=0.1, lambd=0.3),
             node("IsNaN", ["special"], ["isnan"]), node("IsInf", ["special"], ["isinf"]),
             node("IsInf", ["special"], ["isposinf"], detect_negative=0),
             node("Dropout", ["x"], ["drop"])]
    return make(nodes, {"x": x, "special": special}, outputs, {"two": f32(2.0)}, atol=1e-6)


@case
def math_f16():
    # f16 transcendental ops compute in f32 and round once.
    x = randf(2, 8, dtype=np.float16)
    x32 = x.astype(np.float32)
    outputs = {"t": np.tanh(x32).astype(np.float16), "e": np.exp(x32).astype(np.float16),
               "s": sigmoid(x32).astype(np.float16)}
    nodes = [node("Tanh", ["x"], ["t"]), node("Exp", ["x"], ["e"]), node("Sigmoid", ["x"], ["s"])]
    return make(nodes, {"x": x}, outputs, rtol=1e-3, atol=1e-3)


@case
def math_pow():
    x = randf(3, 4)
    p = np.abs(x) + 0.5
    n = np.array([0, 1, 2, 3], np.int64)
    i = np.array([[2, -3, 4, 1]], np.int32)
    x64, p64 = x.astype(np.float64), p.astype(np.float64)
    outputs = {"sq": f32(x64 ** 2), "rt": f32(np.sqrt(p64)), "gen": f32(p64 ** 1.7),
               "vec": f32(x64 ** n), "rt_pow": f32(p64 ** x64),
               "ipow": np.array([[4, -27, 16, 1]], np.int32)}
    nodes = [node("Pow", ["x", "two"], ["sq"]), node("Pow", ["p", "half"], ["rt"]),
             node("Pow", ["p", "e17"], ["gen"]), node("Pow", ["x", "n"], ["vec"]),
             node("Pow", ["p", "x"], ["rt_pow"]), node("Pow", ["i", "ie"], ["ipow"])]
    inits = {"two": f32(2.0), "half": f32(0.5), "e17": f32(1.7), "ie": np.array([2, 3, 2, 5], np.int32)}
    return make(nodes, {"x": x, "p": p, "n": n, "i": i}, outputs, inits, rtol=1e-5, atol=1e-5)


@case
def math_minmax_clip():
    a, b, c = randf(2, 3), randf(3), randf(1, 1)
    i = np.array([-7, 0, 3, 12], np.int64)
    a64, b64, c64 = (v.astype(np.float64) for v in (a, b, c))
    outputs = {"max": f32(np.maximum(np.maximum(a64, b64), c64)),
               "min": f32(np.minimum(a64, b64)), "sum": f32(a64 + b64 + c64),
               "mean": f32((a64 + b64 + c64) / 3), "clip": f32(np.clip(a64, -0.5, 0.5)),
               "clipmax": f32(np.minimum(a64, 0.25)),
               "iclip": np.clip(i, 0, 5).astype(np.int64)}
    nodes = [node("Max", ["a", "b", "c"], ["max"]), node("Min", ["a", "b"], ["min"]),
             node("Sum", ["a", "b", "c"], ["sum"]), node("Mean", ["a", "b", "c"], ["mean"]),
             node("Clip", ["a", "lo", "hi"], ["clip"]), node("Clip", ["a", "", "q"], ["clipmax"]),
             node("Clip", ["i", "ilo", "ihi"], ["iclip"])]
    inits = {"lo": f32(-0.5), "hi": f32(0.5), "q": f32(0.25), "ilo": np.array(0, np.int64),
             "ihi": np.array(5, np.int64)}
    return make(nodes, {"a": a, "b": b, "c": c, "i": i}, outputs, inits, opset=13)


@case
def math_mod():
    a = np.array([-7, -3, 5, 7, 9, -9], np.int64)
    b = np.array([3, -2, -3, 2, 4, 4], np.int64)
    x = f32([-7.5, 3.25, 5.0, -1.0])
    y = f32([2.0, -1.5, 3.0, 0.75])
    outputs = {"m": np.mod(a, b), "fm": np.fmod(a, b), "ff": f32(np.fmod(x, y))}
    nodes = [node("Mod", ["a", "b"], ["m"]), node("Mod", ["a", "b"], ["fm"], fmod=1),
             node("Mod", ["x", "y"], ["ff"], fmod=1)]
    return make(nodes, {"a": a, "b": b, "x": x, "y": y}, outputs)


@case
def math_compare_logical():
    x, y = randf(2, 4), randf(4)
    y[1] = x[0, 1]
    u = np.array([1, 200, 7, 255], np.uint8)
    v = np.array([2, 100, 7, 0], np.uint8)
    outputs = {"eq": x == y, "lt": x < y, "le": x <= y, "gt": x > y, "ge": x >= y,
               "ult": u < v, "and": (x < y) & (x > 0), "or": (x < y) | (x > 0),
               "xor": (x < y) ^ (x > 0), "not": ~(x < y)}
    nodes = [node("Equal", ["x", "y"], ["eq"]), node("Less", ["x", "y"], ["lt"]),
             node("LessOrEqual", ["x", "y"], ["le"]), node("Greater", ["x", "y"], ["gt"]),
             node("GreaterOrEqual", ["x", "y"], ["ge"]), node("Less", ["u", "v"], ["ult"]),
             node("Greater", ["x", "zero"], ["pos"]), node("And", ["lt", "pos"], ["and"]),
             node("Or", ["lt", "pos"], ["or"]), node("Xor", ["lt", "pos"], ["xor"]),
             node("Not", ["lt"], ["not"])]
    return make(nodes, {"x": x, "y": y, "u": u, "v": v}, outputs, {"zero": f32(0.0)})


@case
def math_ms_gelu():
    x, b = randf(2, 3, 8), randf(8)
    s = (x + b).astype(np.float64)
    fast = 0.5 * s * (1 + np.tanh(math.sqrt(2 / math.pi) * (s + 0.044715 * s ** 3)))
    exact = 0.5 * s * (1 + np.vectorize(math.erf)(s / math.sqrt(2)))
    x64 = x.astype(np.float64)
    gelu = 0.5 * x64 * (1 + np.vectorize(math.erf)(x64 / math.sqrt(2)))
    quick = x64 * sigmoid(1.702 * x64)
    nodes = [node("FastGelu", ["x", "b"], ["fast"], domain="com.microsoft"),
             node("BiasGelu", ["x", "b"], ["exact"], domain="com.microsoft"),
             node("Gelu", ["x"], ["gelu"], domain="com.microsoft"),
             node("QuickGelu", ["x"], ["quick"], domain="com.microsoft")]
    return make(nodes, {"x": x, "b": b}, {"fast": f32(fast), "exact": f32(exact),
                                          "gelu": f32(gelu), "quick": f32(quick)},
                extra_opsets=[("com.microsoft", 1)], atol=1e-5)


#--- Reductions ----------------------------------------------------------------------------

@case
def reduce_opset13():
    x = randf(2, 3, 4)
    p = np.abs(x) + 0.1
    x64, p64 = x.astype(np.float64), p.astype(np.float64)
    outputs = {
        "mean": f32(x64.mean(axis=-1, keepdims=True)),
        "sum": f32(x64.sum(axis=(0, 2))),
        "max": f32(x64.max(axis=1, keepdims=True)),
        "min": f32(x64.min()).reshape(1, 1, 1),
        "prod": f32(p64.prod(axis=2)),
        "l1": f32(np.abs(x64).sum(axis=2, keepdims=True)),
        "l2": f32(np.sqrt((x64 ** 2).sum(axis=2))),
        "ss": f32((x64 ** 2).sum(axis=(1, 2), keepdims=True)),
        "ls": f32(np.log(p64.sum(axis=0))),
        "lse": f32(np.log(np.exp(x64 * 40).sum(axis=1))),
    }
    nodes = [
        node("ReduceMean", ["x"], ["mean"], axes=[-1]),
        node("ReduceSum", ["x", "ax02"], ["sum"], keepdims=0),
        node("ReduceMax", ["x"], ["max"], axes=[1]),
        node("ReduceMin", ["x"], ["min"]),
        node("ReduceProd", ["p"], ["prod"], axes=[2], keepdims=0),
        node("ReduceL1", ["x"], ["l1"], axes=[2]),
        node("ReduceL2", ["x"], ["l2"], axes=[2], keepdims=0),
        node("ReduceSumSquare", ["x"], ["ss"], axes=[1, 2]),
        node("ReduceLogSum", ["p"], ["ls"], axes=[0], keepdims=0),
        node("Constant", [], ["forty"], value_float=40.0),
        node("Mul", ["x", "forty"], ["x40"]),
        node("ReduceLogSumExp", ["x40"], ["lse"], axes=[1], keepdims=0),
    ]
    return make(nodes, {"x": x, "p": p}, outputs, {"ax02": np.array([0, 2], np.int64)},
                opset=13, rtol=1e-5, atol=1e-5)


@case
def reduce_opset18():
    x = randf(3, 4, 5)
    i = rng.integers(-50, 50, size=(3, 4)).astype(np.int64)
    x64 = x.astype(np.float64)
    outputs = {"mean": f32(x64.mean(axis=(0, 2))), "max": f32(x64.max(axis=-1, keepdims=True)),
               "all": f32(x64.mean()).reshape(1, 1, 1), "noop": x, "isum": i.sum(axis=1),
               "imean": (i.sum(axis=0) / 3).astype(np.int64)}
    # ONNX integer mean truncates like C (NumPy // floors): fix up negative quotients.
    s = i.sum(axis=0)
    outputs["imean"] = np.where(s < 0, -((-s) // 3), s // 3).astype(np.int64)
    nodes = [node("ReduceMean", ["x", "a02"], ["mean"], keepdims=0),
             node("ReduceMax", ["x", "am1"], ["max"]),
             node("ReduceMean", ["x"], ["all"]),
             node("ReduceMin", ["x", ""], ["noop"], noop_with_empty_axes=1),
             node("ReduceSum", ["i", "a1"], ["isum"], keepdims=0),
             node("ReduceMean", ["i", "a0"], ["imean"], keepdims=0)]
    inits = {"a02": np.array([0, 2], np.int64), "am1": np.array([-1], np.int64),
             "a1": np.array([1], np.int64), "a0": np.array([0], np.int64)}
    return make(nodes, {"x": x, "i": i}, outputs, inits, opset=18, rtol=1e-5, atol=1e-6)


@case
def reduce_f16():
    x = (randf(4, 64) * 4).astype(np.float16)
    x64 = x.astype(np.float64)
    outputs = {"sum": x64.sum(axis=1).astype(np.float16),
               "mean": x64.mean(axis=1, keepdims=True).astype(np.float16),
               "max": x.max(axis=0)}
    nodes = [node("ReduceSum", ["x", "a1"], ["sum"], keepdims=0),
             node("ReduceMean", ["x"], ["mean"], axes=[1]),
             node("ReduceMax", ["x"], ["max"], axes=[0], keepdims=0)]
    return make(nodes, {"x": x}, outputs, {"a1": np.array([1], np.int64)}, opset=13, rtol=2e-3,
                atol=1e-3)


@case
def reduce_argmax():
    x = np.round(randf(4, 6) * 2).astype(np.float32)  # ties
    i = rng.integers(0, 4, size=(3, 5)).astype(np.int32)

    def last(a, fn, axis):
        flipped = np.flip(a, axis)
        return a.shape[axis] - 1 - fn(flipped, axis=axis)

    outputs = {"amax": np.argmax(x, axis=1).reshape(4, 1).astype(np.int64),
               "amax_last": last(x, np.argmax, 0).astype(np.int64),
               "amin": np.argmin(i, axis=0).reshape(1, 5).astype(np.int64),
               "amin_last": last(i, np.argmin, 1).astype(np.int64)}
    nodes = [node("ArgMax", ["x"], ["amax"], axis=1),
             node("ArgMax", ["x"], ["amax_last"], axis=0, keepdims=0, select_last_index=1),
             node("ArgMin", ["i"], ["amin"]),
             node("ArgMin", ["i"], ["amin_last"], axis=-1, keepdims=0, select_last_index=1)]
    return make(nodes, {"x": x, "i": i}, outputs, opset=13)


@case
def reduce_logsoftmax():
    x = randf(2, 3, 7) * 10
    x64 = x.astype(np.float64)

    def logsoftmax(a, axes):
        m = a.max(axis=axes, keepdims=True)
        return a - m - np.log(np.exp(a - m).sum(axis=axes, keepdims=True))

    outputs = {"y13": f32(logsoftmax(x64, (2,))), "y11": f32(logsoftmax(x64, (1, 2)))}
    m13 = make([node("LogSoftmax", ["x"], ["y13"])], {"x": x}, {"y13": outputs["y13"]}, opset=13,
               atol=1e-5)
    return m13


@case
def reduce_logsoftmax_opset11():
    x = randf(2, 3, 7) * 10
    x64 = x.astype(np.float64)
    m = x64.max(axis=(1, 2), keepdims=True)
    y = x64 - m - np.log(np.exp(x64 - m).sum(axis=(1, 2), keepdims=True))
    return make([node("LogSoftmax", ["x"], ["y"])], {"x": x}, {"y": f32(y)}, opset=11, atol=1e-5)


@case
def reduce_softmax_f16():
    # A long f16 row: the sum of exponentials is accumulated in f32.
    x = (randf(2, 2048) * 3).astype(np.float16)
    x64 = x.astype(np.float64)
    m = x64.max(axis=1, keepdims=True)
    e = np.exp(x64 - m)
    outputs = {"sm": (e / e.sum(axis=1, keepdims=True)).astype(np.float16),
               "lsm": (x64 - m - np.log(e.sum(axis=1, keepdims=True))).astype(np.float16)}
    nodes = [node("Softmax", ["x"], ["sm"]), node("LogSoftmax", ["x"], ["lsm"])]
    return make(nodes, {"x": x}, outputs, opset=13, rtol=2e-3, atol=1e-5)


#--- Normalization -------------------------------------------------------------------------

def layer_norm_ref(x, scale, bias, axis, eps):
    x = x.astype(np.float64)
    axes = tuple(range(axis, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    inv = 1 / np.sqrt(var + eps)
    y = (x - mean) * inv * scale
    if bias is not None:
        y = y + bias
    return y, mean, inv


def rms_norm_ref(x, scale, axis, eps):
    x = x.astype(np.float64)
    axes = tuple(range(axis, x.ndim))
    inv = 1 / np.sqrt((x ** 2).mean(axis=axes, keepdims=True) + eps)
    return x * inv * scale, inv


@case
def norm_layer_norm():
    # An offset of 1000 checks that the variance is not E[x²] - E[x]² (which loses ~all
    # digits of a unit variance in f32); what is left is the f32 rounding of x - mean (ulp(1000)
    # = 6e-5), hence atol 1e-3.
    x = randf(2, 5, 32) + 1000.0
    s, b = randf(32), randf(32)
    y, mean, inv = layer_norm_ref(x, s, b, 2, 1e-5)
    y1, _, _ = layer_norm_ref(x, randf(5, 32) * 0 + s, None, 1, 1e-3)
    nodes = [node("LayerNormalization", ["x", "s", "b"], ["y", "mean", "inv"]),
             node("LayerNormalization", ["x", "s"], ["y1"], axis=1, epsilon=1e-3)]
    return make(nodes, {"x": x, "s": s, "b": b},
                {"y": f32(y), "mean": f32(mean), "inv": f32(inv), "y1": f32(y1)},
                rtol=1e-4, atol=1e-3)


@case
def norm_layer_norm_f16():
    x = randf(4, 64, dtype=np.float16)
    s, b = randf(64, dtype=np.float16), randf(64, dtype=np.float16)
    y, _, _ = layer_norm_ref(x, s.astype(np.float64), b.astype(np.float64), 1, 1e-5)
    return make([node("LayerNormalization", ["x", "s", "b"], ["y"])], {"x": x, "s": s, "b": b},
                {"y": y.astype(np.float16)}, rtol=2e-3, atol=2e-3)


@case
def norm_layer_norm_contrib():
    # onnxruntime's ONNX-domain LayerNormalization contrib op in an opset-12 model.
    x, s, b = randf(3, 16), randf(16), randf(16)
    y, _, _ = layer_norm_ref(x, s, b, 1, 1e-12)
    return make([node("LayerNormalization", ["x", "s", "b"], ["y"], epsilon=1e-12)],
                {"x": x, "s": s, "b": b}, {"y": f32(y)}, opset=12, ir_version=7, rtol=1e-4,
                atol=1e-5)


@case
def norm_rms_norm():
    x, s = randf(2, 3, 16), randf(16)
    y, _ = rms_norm_ref(x, s, 2, 1e-5)
    y0, _ = rms_norm_ref(x, randf(3, 16) * 0 + 2.0, 1, 1e-2)
    nodes = [node("RMSNormalization", ["x", "s"], ["y"]),
             node("RMSNormalization", ["x", "two"], ["y0"], axis=-2, epsilon=1e-2)]
    return make(nodes, {"x": x, "s": s}, {"y": f32(y), "y0": f32(y0)},
                {"two": np.full((3, 16), 2.0, np.float32)}, opset=23, ir_version=10, rtol=1e-4,
                atol=1e-5)


@case
def norm_simplified():
    x, s = randf(2, 4, 16), randf(16)
    y, inv = rms_norm_ref(x, s, 2, 1e-6)
    return make([node("SimplifiedLayerNormalization", ["x", "s"], ["y", "inv"], epsilon=1e-6)],
                {"x": x, "s": s}, {"y": f32(y), "inv": f32(inv)}, opset=17, rtol=1e-4,
                atol=1e-5)


@case
def norm_skip():
    x, skip, g, beta, bias = randf(2, 4, 16), randf(2, 4, 16), randf(16), randf(16), randf(16)
    total = x.astype(np.float64) + skip + bias
    y, mean, inv = layer_norm_ref(total, g, beta, 2, 1e-12)
    z, _ = rms_norm_ref(x.astype(np.float64) + skip, g, 2, 1e-6)
    nodes = [node("SkipLayerNormalization", ["x", "skip", "g", "beta", "bias"],
                  ["y", "mean", "inv", "sum"], domain="com.microsoft"),
             node("SkipSimplifiedLayerNormalization", ["x", "skip", "g"], ["z"],
                  domain="com.microsoft", epsilon=1e-6)]
    return make(nodes, {"x": x, "skip": skip, "g": g, "beta": beta, "bias": bias},
                {"y": f32(y), "mean": f32(mean), "inv": f32(inv), "sum": f32(total),
                 "z": f32(z)}, extra_opsets=[("com.microsoft", 1)], rtol=1e-4, atol=1e-5)


def run(out_dir, name):
    model, inputs, outputs, rtol, atol = CASES[name]()
    work = os.path.join(out_dir, name)
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "model.onnx")
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
