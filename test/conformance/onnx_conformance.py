#!/usr/bin/python3
"""ONNX backend node-test conformance harness for Squeeze.

Runs every ONNX backend node test (a directory with model.onnx and
test_data_set_*/{input,output}_*.pb) through import -> compile -> run -> compare:

    sqz-compile <test>/model.onnx -o <tmp>/art
    sqz-run <tmp>/art --input NAME=in.npy ... --expect NAME=out.npy --rtol R --atol A

and prints one line per test (`PASS name`, `FAIL name: reason`, `SKIP name: why`) and
a final line `N passed, N failed, N skipped`. See docs/SupportedOps.md for the
results and how to regenerate them.

Suites:
  debian  /usr/share/libonnx-testdata/data/node (Debian package libonnx-testdata, onnx 1.12)
  shared  <repo>/../shared/onnx-node-tests-main/node (newer LLM ops; optional)
A suite whose directory is missing is reported as skipped and contributes no tests.

Must run under Debian's /usr/bin/python3 (numpy + onnx); stdlib otherwise.
"""

import argparse
import collections
import concurrent.futures
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import onnx
from onnx import numpy_helper

REPO_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SUITES = collections.OrderedDict([
    ("debian", "/usr/share/libonnx-testdata/data/node"),
    ("shared", os.path.normpath(os.path.join(REPO_ROOT, "..", "shared", "onnx-node-tests-main", "node"))),
])
# Display-name prefix per suite (test names repeat across suites).
SUITE_PREFIX = {"debian": "", "shared": "shared/"}

# The ONNX backend test defaults (onnx/backend/test/runner: rtol=1e-3, atol=1e-7).
DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-7
# Per-test tolerance overrides: [(regex searched in the test name, rtol, atol)], first match
# wins. The fp16 LLM tests (test_attention_4d_fp16, ..._gqa_with_past_and_present_fp16 and
# their _expanded forms, flexattention/linear_attention fp16) compare at atol 1e-3 as ONNX's own
# reference-evaluator backend test does (fp16_atol): a float16 result is only good to ~1e-3.
TOLERANCE_OVERRIDES = [
    (r"_fp16(_|$)", DEFAULT_RTOL, 1e-3),
]

# TensorProto element types the artifact ABI (manifest dtypes) can carry.
CARRIABLE_DTYPES = {
    onnx.TensorProto.FLOAT, onnx.TensorProto.UINT8, onnx.TensorProto.INT8,
    onnx.TensorProto.UINT16, onnx.TensorProto.INT16, onnx.TensorProto.INT32,
    onnx.TensorProto.INT64, onnx.TensorProto.BOOL, onnx.TensorProto.FLOAT16,
    onnx.TensorProto.DOUBLE, onnx.TensorProto.UINT32, onnx.TensorProto.UINT64,
}
# Element types the ABI carries widened or as bit patterns (docs/Runtime.md, "onnx_dtype"):
# TensorProto type -> (numpy dtype of the .npy file, bits per element in a packed TensorProto,
# signed). bfloat16 is uint16 bits; float8/float4 are uint8 bit patterns; int4/int2 one int8
# (uint4/uint2 one uint8) per element.
WIDENED_DTYPES = {
    16: (np.uint16, 16, False),                        # BFLOAT16
    17: (np.uint8, 8, False), 18: (np.uint8, 8, False),  # FLOAT8E4M3FN(UZ)
    19: (np.uint8, 8, False), 20: (np.uint8, 8, False),  # FLOAT8E5M2(FNUZ)
    21: (np.uint8, 4, False), 22: (np.int8, 4, True),    # UINT4, INT4
    23: (np.uint8, 4, False),                          # FLOAT4E2M1
    25: (np.uint8, 2, False), 26: (np.int8, 2, True),    # UINT2, INT2
}
# Names of TensorProto element types (onnx 1.12 does not know the newest ones).
DTYPE_NAMES = {
    0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32",
    7: "INT64", 8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32",
    13: "UINT64", 14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16", 17: "FLOAT8E4M3FN",
    18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4",
    23: "FLOAT4E2M1", 24: "FLOAT8E8M0", 25: "UINT2", 26: "INT2",
}

TRAINING_OPS = {"Adagrad", "Adam", "Momentum", "Gradient"}
TRAINING_DOMAINS = {"ai.onnx.preview.training"}
RANDOM_OPS = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
              "Bernoulli", "Multinomial"}
SEQUENCE_OPS = {"SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase",
                "SequenceInsert", "SequenceLength", "SequenceMap", "SplitToSequence",
                "ConcatFromSequence"}
OPTIONAL_OPS = {"Optional", "OptionalGetElement", "OptionalHasElement"}
STRING_OPS = {"StringNormalizer", "StringConcat", "StringSplit", "RegexFullMatch"}
MAP_OPS = {"ZipMap", "CastMap", "DictVectorizer"}

# Test-name stems that do not spell their op (used to attribute multi-node tests).
NAME_ALIASES = {
    "basic_conv": "Conv", "conv": "Conv", "batchnorm": "BatchNormalization",
    "sce": "SoftmaxCrossEntropyLoss", "nllloss": "NegativeLogLikelihoodLoss",
    "simple_rnn": "RNN", "rnn": "RNN", "gru": "GRU", "lstm": "LSTM", "logsoftmax": "LogSoftmax",
    "layer_norm": "LayerNormalization", "group_norm": "GroupNormalization",
    "maxpool": "MaxPool", "averagepool": "AveragePool", "globalaveragepool": "GlobalAveragePool",
    "globalmaxpool": "GlobalMaxPool", "lppool": "LpPool", "shrink": "Shrink",
    "instancenorm": "InstanceNormalization", "mvn": "MeanVarianceNormalization",
    "strnorm": "StringNormalizer", "quantizelinear": "QuantizeLinear",
    "dequantizelinear": "DequantizeLinear", "rms_normalization": "RMSNormalization",
    "rotary_embedding": "RotaryEmbedding", "sequence_map": "SequenceMap",
    "greater_equal": "GreaterOrEqual", "less_equal": "LessOrEqual",
    "optional": "Optional", "resize": "Resize", "training_dropout": "Dropout",
}


# The ops the ONNX-coverage issue lists by name (its scorecard: >= 95% of these tests on the
# Debian suite), and the LLM op groups it scores on the shared suite (>= 90% each).
LISTED_OPS = frozenset("""
    Add Sub Mul Div Pow Sqrt Reciprocal Neg Abs Exp Log Erf Tanh Sigmoid Relu Gelu Softmax
    LogSoftmax Clip Min Max Where Equal Less Greater Not And Cast ReduceMean ReduceSum ReduceMax
    ArgMax MatMul Gemm Einsum LayerNormalization RMSNormalization RotaryEmbedding Attention
    Reshape Transpose Squeeze Unsqueeze Flatten Concat Split Slice Gather GatherElements Expand
    Tile Trilu CumSum TopK Range Shape Constant ConstantOfShape Identity Conv MaxPool AveragePool
    GlobalAveragePool GlobalMaxPool QuantizeLinear DequantizeLinear MatMulInteger
    DynamicQuantizeLinear""".split())
FOCUS_GROUPS = [("Attention", {"Attention"}), ("RMSNormalization", {"RMSNormalization"}),
                ("RotaryEmbedding", {"RotaryEmbedding"}), ("Gelu", {"Gelu"}),
                ("Q/DQ", {"QuantizeLinear", "DequantizeLinear"})]


def scorecard(results, suites):
    """[(label, passed, counted)]: per suite, the listed-op tests and all in-scope tests (both
    of the tests not skipped), and on the shared suite the LLM op groups (of all their tests:
    a skipped test counts as not passed)."""
    rows = []
    for s in suites:
        rs = [r for r in results if r.suite == s]
        if not rs:
            continue
        listed = [r for r in rs if r.primary and r.primary[0] == "ai.onnx"
                  and r.primary[1] in LISTED_OPS and r.status != "SKIP"]
        rows.append(("%s: listed ops" % s, sum(r.status == "PASS" for r in listed), len(listed)))
        run = [r for r in rs if r.status != "SKIP"]
        rows.append(("%s: all in-scope" % s, sum(r.status == "PASS" for r in run), len(run)))
        if s == "shared":
            for label, names in FOCUS_GROUPS:
                g = [r for r in rs if r.primary and r.primary[0] == "ai.onnx"
                     and r.primary[1] in names]
                if g:
                    rows.append(("shared: %s (skips count as not passed)" % label,
                                 sum(r.status == "PASS" for r in g), len(g)))
    return rows


class Result:
    __slots__ = ("name", "short", "suite", "status", "reason", "ops", "top", "opsets", "primary",
                 "errors", "seconds")

    def __init__(self, name, suite):
        self.name = name
        self.suite = suite
        self.status = "FAIL"
        self.reason = ""
        self.short = name.rsplit("/", 1)[-1]
        self.ops = []          # [(domain, op_type)] of all nodes, sorted, unique
        self.top = []          # the same for the main graph's nodes only
        self.opsets = {}       # domain -> version
        self.primary = None    # (domain, op_type) the test is attributed to
        self.errors = []       # every error line of the failing step
        self.seconds = 0.0

    def line(self):
        if self.status == "PASS":
            return "PASS %s" % self.name
        return "%s %s: %s" % (self.status, self.name, self.reason)


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def iter_nodes(graph):
    """All nodes of a graph, including those of subgraph attributes (If/Loop/Scan bodies)."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from iter_nodes(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from iter_nodes(g)


def type_kind(type_proto):
    return type_proto.WhichOneof("value")


def dtype_name(elem_type):
    return DTYPE_NAMES.get(elem_type, "dtype %d" % elem_type)


# Inputs that are shape operands: (op type, input positions), integer, bool (Compress's
# condition decides its result length) or (Range, Resize scales) float. A static-shape compiler
# takes these as compile-time values.
SHAPE_OPERANDS = {
    "Reshape": (1,), "Slice": (1, 2, 3, 4), "Unsqueeze": (1,), "Squeeze": (1,),
    "Expand": (1,), "Tile": (1,), "Range": (0, 1, 2), "ConstantOfShape": (0,), "Split": (1,),
    "CumSum": (1,), "Trilu": (1,), "TopK": (1,), "Pad": (1, 2, 3), "Resize": (1, 2, 3),
    "Upsample": (1,), "OneHot": (1,), "ReduceSum": (1,), "ReduceMean": (1,), "ReduceMax": (1,),
    "ReduceMin": (1,), "ReduceProd": (1,), "ReduceL1": (1,), "ReduceL2": (1,),
    "ReduceLogSum": (1,), "ReduceLogSumExp": (1,), "ReduceSumSquare": (1,), "Compress": (1,),
}


def frozen_shape_inputs(model, inputs, converted):
    """{name: value} of the graph inputs used only as shape operands, equal in every data set."""
    uses = {}
    for node in model.graph.node:
        positions = SHAPE_OPERANDS.get(node.op_type, ()) if node.domain in ("", "ai.onnx") else ()
        for i, name in enumerate(node.input):
            uses.setdefault(name, []).append(i in positions)
    frozen = {}
    for k, vi in enumerate(inputs):
        if not uses.get(vi.name) or not all(uses[vi.name]):
            continue
        values = [ins[k][2] for _, ins, _ in converted]
        if all(v.shape == values[0].shape and (v == values[0]).all() for v in values[1:]):
            frozen[vi.name] = values[0]
    return frozen


def skip_reason(short_name, model):
    """Why a test is out of scope by category, or None."""
    if "training" in short_name:
        return "training-mode test (out of scope)"
    for node in iter_nodes(model.graph):
        domain = node.domain or "ai.onnx"
        if node.op_type in TRAINING_OPS or domain in TRAINING_DOMAINS:
            return "training op %s (out of scope)" % node.op_type
        if node.op_type in RANDOM_OPS:
            return "random op %s (out of scope)" % node.op_type
        if node.op_type in SEQUENCE_OPS:
            return "sequence op %s (sequence types are out of scope)" % node.op_type
        if node.op_type in OPTIONAL_OPS:
            return "optional op %s (optional types are out of scope)" % node.op_type
        if node.op_type in STRING_OPS:
            return "string op %s (string types are out of scope)" % node.op_type
        if node.op_type in MAP_OPS:
            return "map op %s (map types are out of scope)" % node.op_type
    for kind, values in (("input", model.graph.input), ("output", model.graph.output)):
        for vi in values:
            k = type_kind(vi.type)
            if k in ("sequence_type", "optional_type", "map_type", "sparse_tensor_type"):
                what = {"sequence_type": "a sequence", "optional_type": "an optional",
                        "map_type": "a map", "sparse_tensor_type": "a sparse tensor"}[k]
                return "%s '%s' has %s type (out of scope)" % (kind, vi.name, what)
            if (k == "tensor_type" and vi.type.tensor_type.elem_type not in CARRIABLE_DTYPES
                    and vi.type.tensor_type.elem_type not in WIDENED_DTYPES):
                return "%s '%s' has dtype %s, which the artifact cannot carry" % (
                    kind, vi.name, dtype_name(vi.type.tensor_type.elem_type))
    return None


def find_tool(build_dir, tool):
    path = os.path.join(build_dir, "bin", tool)
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def load_tensor(path):
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return tensor


def widened_array(tensor):
    """A tensor of a WIDENED_DTYPES type as the array the artifact ABI takes: its bit patterns
    (bfloat16, float8, float4) or values (int4, int2), one element per npy element."""
    np_dtype, bits, signed = WIDENED_DTYPES[tensor.data_type]
    shape = tuple(tensor.dims)
    count = int(np.prod(shape, dtype=np.int64))
    if tensor.HasField("raw_data"):
        raw = np.frombuffer(tensor.raw_data, dtype="<u2" if bits == 16 else np.uint8)
    else:  # the typed field: bit patterns / packed bytes in int32_data
        raw = np.asarray(tensor.int32_data, dtype=np.int64).astype(
            np.uint16 if bits == 16 else np.uint8)
    if bits >= 8:
        codes = raw.astype(np.uint16 if bits == 16 else np.uint8)
    else:
        per_byte = 8 // bits
        shifts = np.arange(per_byte, dtype=np.uint8) * bits
        codes = ((raw[:, None] >> shifts[None, :]) & ((1 << bits) - 1)).reshape(-1)
        codes = codes.astype(np.int16)
        if signed:
            codes = np.where(codes >= (1 << (bits - 1)), codes - (1 << bits), codes)
    codes = codes[:count]
    if codes.size != count:
        raise ValueError("tensor '%s' has %d elements, its shape needs %d" %
                         (tensor.name, codes.size, count))
    return codes.astype(np_dtype).reshape(shape)


def save_npy(tensor, path):
    if tensor.data_type in WIDENED_DTYPES:
        arr = widened_array(tensor)
    else:
        arr = numpy_helper.to_array(tensor)
    if not arr.flags["C_CONTIGUOUS"]:
        arr = arr.copy(order="C")  # (np.ascontiguousarray would make a 0-d array 1-d)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    np.save(path, arr, allow_pickle=False)
    return arr


def first_error(text, tmp, test_dir):
    """The error lines of a tool's output, with temporary paths made stable."""
    lines = []
    for raw in text.splitlines():
        line = raw.replace(tmp, "<tmp>").replace(test_dir, "<test>").strip()
        m = re.search(r"\berror: (.*)", line)
        if m:
            lines.append(re.sub(r"^loc\((\"[^\"]*\"|[^)]*)\): ", "", m.group(1)))
    return lines


class Harness:
    def __init__(self, args):
        self.args = args
        self.compile = find_tool(args.build_dir, "sqz-compile")
        self.run = find_tool(args.build_dir, "sqz-run")
        self.tmp_root = None
        self.procs = set()
        self.lock = threading.Lock()
        self.stopping = False

    # -- subprocesses ---------------------------------------------------------------------
    def call(self, cmd, timeout):
        """Runs cmd; returns (rc or None on timeout, combined output)."""
        with self.lock:
            if self.stopping:
                return None, "interrupted"
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            self.procs.add(p)
        try:
            out, _ = p.communicate(timeout=max(timeout, 0.1))
            return p.returncode, out.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.communicate()
            return None, ""
        finally:
            with self.lock:
                self.procs.discard(p)

    def stop_all(self):
        with self.lock:
            self.stopping = True
            for p in list(self.procs):
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass

    # -- one test -------------------------------------------------------------------------
    def run_test(self, suite, test_dir, name):
        start = time.monotonic()
        r = Result(name, suite)
        try:
            self._run_test(r, test_dir)
        except Exception as e:  # a harness problem must not abort the whole run
            r.status = "FAIL"
            r.reason = "harness: %s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        r.seconds = time.monotonic() - start
        return r

    def _run_test(self, r, test_dir):
        short = os.path.basename(test_dir)
        model_path = os.path.join(test_dir, "model.onnx")
        if not os.path.isfile(model_path):
            r.status, r.reason = "FAIL", "no model.onnx"
            return
        model = onnx.load(model_path, load_external_data=False)
        r.opsets = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
        r.ops = sorted({((n.domain or "ai.onnx"), n.op_type) for n in iter_nodes(model.graph)})
        r.top = sorted({((n.domain or "ai.onnx"), n.op_type) for n in model.graph.node})

        why = skip_reason(short, model)
        if why:
            r.status, r.reason = "SKIP", why
            return

        init_names = {t.name for t in model.graph.initializer}
        inputs = [vi for vi in model.graph.input if vi.name not in init_names]
        outputs = list(model.graph.output)
        data_sets = sorted(d for d in os.listdir(test_dir)
                           if d.startswith("test_data_set_")
                           and os.path.isdir(os.path.join(test_dir, d)))
        if not data_sets:
            r.status, r.reason = "FAIL", "no test_data_set_* directory"
            return

        tmp = tempfile.mkdtemp(prefix=short + ".", dir=self.tmp_root)
        deadline = time.monotonic() + self.args.timeout

        # Convert every data set first (the input shapes pin dynamic dims at compile time).
        converted = []
        for ds in data_sets:
            ds_dir = os.path.join(test_dir, ds)
            files = os.listdir(ds_dir)
            n_in = len([f for f in files if re.fullmatch(r"input_\d+\.pb", f)])
            n_out = len([f for f in files if re.fullmatch(r"output_\d+\.pb", f)])
            if n_in != len(inputs) or n_out != len(outputs):
                r.status, r.reason = "FAIL", (
                    "%s has %d inputs/%d outputs, the model %d/%d" %
                    (ds, n_in, n_out, len(inputs), len(outputs)))
                return
            npy_dir = os.path.join(tmp, ds)
            os.makedirs(npy_dir)
            ins, outs = [], []
            for kind, values, acc in (("input", inputs, ins), ("output", outputs, outs)):
                for i, vi in enumerate(values):
                    tensor = load_tensor(os.path.join(ds_dir, "%s_%d.pb" % (kind, i)))
                    if (tensor.data_type not in CARRIABLE_DTYPES
                            and tensor.data_type not in WIDENED_DTYPES):
                        r.status, r.reason = "SKIP", (
                            "%s '%s' has dtype %s, which the artifact cannot carry" %
                            (kind, vi.name, dtype_name(tensor.data_type)))
                        return
                    path = os.path.join(npy_dir, "%s_%d.npy" % (kind, i))
                    arr = save_npy(tensor, path)
                    acc.append((vi.name, path, arr))
            converted.append((ds, ins, outs))

        # Squeeze compiles for static shapes: an input that only feeds shape operands (a
        # Reshape's shape, Slice bounds, reduction axes, ...) is a compile-time value, so it is
        # frozen into an initializer when every data set gives it the same value.
        frozen = frozen_shape_inputs(model, inputs, converted)
        if frozen:
            for vi in list(model.graph.input):
                if vi.name in frozen:
                    model.graph.input.remove(vi)
            for name, arr in frozen.items():
                model.graph.initializer.append(numpy_helper.from_array(arr, name))
            model_path = os.path.join(tmp, "model.onnx")
            onnx.save(model, model_path)
            keep = [i for i, vi in enumerate(inputs) if vi.name not in frozen]
            inputs = [inputs[i] for i in keep]
            converted = [(ds, [ins[i] for i in keep], outs) for ds, ins, outs in converted]

        # The artifact's C ABI passes one non-empty buffer per input and output.
        for _, ins, outs in converted:
            for kind, values in (("input", ins), ("output", outs)):
                for name, _, arr in values:
                    if arr.size == 0:
                        r.status, r.reason = "SKIP", (
                            "%s '%s' is empty, which the artifact ABI cannot carry" % (kind, name))
                        return

        # Compile once; pin the shape of every input whose declared shape is not static.
        art = os.path.join(tmp, "art")
        cmd = [self.compile, model_path, "-o", art] + self.args.compile_arg
        for vi, (_, _, arr) in zip(inputs, converted[0][1]):
            tt = vi.type.tensor_type
            static = tt.HasField("shape") and all(
                d.HasField("dim_value") for d in tt.shape.dim)
            if not static:
                cmd.append("--input-shape=%s=%s" % (vi.name, "x".join(str(d) for d in arr.shape)))
        rc, out = self.call(cmd, deadline - time.monotonic())
        if rc is None:
            r.status, r.reason = "FAIL", "timeout: sqz-compile ran past %gs" % self.args.timeout
            return
        if rc != 0:
            r.errors = first_error(out, tmp, test_dir)
            if rc < 0:
                msg = "sqz-compile crashed (signal %d)" % -rc
            elif r.errors:
                msg = "compile: " + r.errors[0]
            else:
                lines = [l for l in out.splitlines() if l.strip()]
                msg = "sqz-compile exited with %d%s" % (rc, (": " + lines[-1].strip()) if lines else "")
            r.status, r.reason = "FAIL", msg
            return

        rtol, atol = self.args.rtol, self.args.atol
        for rx, o_rtol, o_atol in TOLERANCE_OVERRIDES:
            if re.search(rx, r.name):
                rtol, atol = max(rtol, o_rtol), max(atol, o_atol)
                break
        for ds, ins, outs in converted:
            cmd = [self.run, art, "--output-dir", os.path.join(tmp, ds, "got")]
            for name, path, _ in ins:
                cmd += ["--input", "%s=%s" % (name, path)]
            for name, path, _ in outs:
                cmd += ["--expect", "%s=%s" % (name, path)]
            # Integer/bool outputs compare exactly unless a float output needs a tolerance.
            if any(arr.dtype.kind == "f" for _, _, arr in outs):
                cmd += ["--rtol", repr(rtol), "--atol", repr(atol)]
            rc, out = self.call(cmd, deadline - time.monotonic())
            where = "" if len(converted) == 1 else " (%s)" % ds
            if rc is None:
                r.status, r.reason = "FAIL", "timeout: sqz-run ran past %gs%s" % (self.args.timeout, where)
                return
            if rc == 0:
                continue
            if rc < 0:
                r.status, r.reason = "FAIL", "sqz-run crashed (signal %d)%s" % (-rc, where)
                return
            bad = [l.strip() for l in out.splitlines()
                   if l.startswith("expect ") and l.rstrip().endswith("MISMATCH")]
            r.errors = first_error(out, tmp, test_dir)
            if rc == 1 and bad:
                r.status, r.reason = "FAIL", bad[0] + where
            elif r.errors:
                r.status, r.reason = "FAIL", "run: " + r.errors[0] + where
            else:
                lines = [l for l in out.splitlines() if l.strip()]
                r.status, r.reason = "FAIL", "sqz-run exited with %d%s%s" % (
                    rc, (": " + lines[-1].strip()) if lines else "", where)
            return
        r.status, r.reason = "PASS", ""

    # -- op attribution -------------------------------------------------------------------
    def attribute(self, r):
        """The (domain, op) a test exercises: its only op, else the op its name spells."""
        real = [op for op in r.top if op[1] != "Constant"] or r.top
        if len(real) == 1:
            return real[0]
        short = r.short
        stem = short[len("test_"):] if short.startswith("test_") else short
        best = None
        for key, op in self.name_index:
            if (stem == key or stem.startswith(key + "_")) and (best is None or len(key) > len(best[0])):
                best = (key, op)
        if best:
            return best[1]
        return ("ai.onnx", "(multi-op: %s)" % stem)

    def build_name_index(self, known_ops):
        index = {}
        for domain, op in known_ops:
            for key in (snake(op), op.lower()):
                index.setdefault(key, (domain, op))
        for key, op in NAME_ALIASES.items():
            index[key] = ("ai.onnx", op)
        self.name_index = sorted(index.items())


def discover(args):
    """[(suite, test_dir, display name)] and the per-suite notes."""
    suites = ["debian", "shared"] if args.suite == "all" else [args.suite]
    tests, notes = [], {}
    for suite in suites:
        root = args.debian_dir if suite == "debian" else args.shared_dir
        if not os.path.isdir(root):
            notes[suite] = "missing (%s)" % root
            continue
        names = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        notes[suite] = "%d tests (%s)" % (len(names), root)
        for d in names:
            tests.append((suite, os.path.join(root, d), SUITE_PREFIX[suite] + d))
    return tests, notes


def known_ops():
    ops = set()
    try:
        for s in onnx.defs.get_all_schemas_with_history():
            ops.add(((s.domain or "ai.onnx"), s.name))
    except Exception:
        pass
    return ops


def group_reason(r):
    """A coarse failure category for the summaries."""
    text = re.sub(r"^(compile|run): ", "", r.reason)
    m = re.search(r"unsupported ONNX op '([^']+)'", text)
    if m:
        return "unsupported op %s" % m.group(1)
    m = re.search(r"unsupported ONNX dtype '([^']+)'", text)
    if m:
        return "unsupported dtype %s" % m.group(1)
    m = re.search(r"unsupported ONNX opset (\d+) of the (.*?) domain", text)
    if m:
        return "unsupported opset %s of the %s domain" % (m.group(1), m.group(2))
    m = re.search(r"ONNX node '.*' \(([^)]+)\): (.*)", text)
    if m:
        msg = re.sub(r"'[^']*'", "'…'", m.group(2))
        msg = re.sub(r"\d+", "N", msg)
        return "%s: %s" % (m.group(1), msg[:120])
    if text.startswith("expect ") and "MISMATCH" in text:
        return "output mismatch"
    if text.startswith("timeout"):
        return "timeout"
    if "crashed" in text:
        return "crash"
    t = re.sub(r"loc\([^)]*\): ", "", text)
    t = re.sub(r"'[^']*'", "'…'", t)
    t = re.sub(r"\d+", "N", t)
    return t[:120]


def op_label(op):
    domain, name = op
    return name if domain == "ai.onnx" else "%s:%s" % (domain, name)


def write_docs(path, results, notes, suites, args):
    by_op = collections.OrderedDict()
    for r in results:
        op = r.primary or ("ai.onnx", "(unknown)")
        e = by_op.setdefault(op_label(op), {"opsets": set(), "PASS": 0, "FAIL": 0, "SKIP": 0,
                                              "tests": 0, "expanded": 0})
        domain = op[0]
        if domain in r.opsets:
            e["opsets"].add(r.opsets[domain])
        e[r.status] += 1
        e["tests"] += 1
    totals = collections.Counter(r.status for r in results)
    per_suite = collections.OrderedDict()
    for s in suites:
        c = collections.Counter(r.status for r in results if r.suite == s)
        per_suite[s] = c
    ran = totals["PASS"] + totals["FAIL"]
    rate = 100.0 * totals["PASS"] / ran if ran else 0.0

    def status(e):
        if e["PASS"] and not e["FAIL"]:
            return "yes" if not e["SKIP"] else "yes (some skipped)"
        if e["PASS"]:
            return "partial"
        if e["FAIL"]:
            return "no"
        return "skipped"

    lines = []
    lines.append("# ONNX operator conformance")
    lines.append("")
    lines.append("<!-- Generated by test/conformance/onnx_conformance.py --write-docs; do not edit. -->")
    lines.append("")
    lines.append("Results of the ONNX backend node tests run through Squeeze end to end "
                 "(`sqz-compile` then `sqz-run --expect`, rtol %g, atol %g for float outputs, "
                 "integer and bool outputs exact; the `*_fp16*` tests at atol 1e-3 as in "
                 "ONNX's reference-evaluator backend test)." % (args.rtol, args.atol))
    lines.append("")
    lines.append("- Date: %s" % datetime.date.today().isoformat())
    lines.append("- Totals: **%d passed, %d failed, %d skipped** of %d tests; pass rate of the "
                 "tests run: %.1f%%" % (totals["PASS"], totals["FAIL"], totals["SKIP"],
                                        len(results), rate))
    lines.append("")
    lines.append("| Suite | Source | Tests | Passed | Failed | Skipped | Pass rate (of run) |")
    lines.append("|---|---|---|---|---|---|---|")
    for s in suites:
        c = per_suite[s]
        src = "`/usr/share/libonnx-testdata/data/node` (Debian `libonnx-testdata`, onnx 1.12)" \
            if s == "debian" else "`../shared/onnx-node-tests-main/node` (onnx 1.23 snapshot, LLM ops)"
        if notes.get(s, "").startswith("missing"):
            lines.append("| %s | %s | missing | | | | |" % (s, src))
        else:
            n = c["PASS"] + c["FAIL"]
            lines.append("| %s | %s | %d | %d | %d | %d | %.1f%% |" % (
                s, src, sum(c.values()), c["PASS"], c["FAIL"], c["SKIP"],
                100.0 * c["PASS"] / n if n else 0.0))
    lines.append("")
    lines.append("Scorecard (the ONNX-coverage issue's targets: listed ops >= 95% and all in-scope "
                 ">= 80% on the Debian suite, each LLM op group >= 90% on the shared suite; "
                 "`listed ops` are the ops the issue names, LISTED_OPS in the harness):")
    lines.append("")
    lines.append("| Measure | Passed | Counted | Rate |")
    lines.append("|---|---|---|---|")
    for label, passed, counted in scorecard(results, suites):
        lines.append("| %s | %d | %d | %.1f%% |" % (label, passed, counted,
                                                     100.0 * passed / counted if counted else 0.0))
    lines.append("")
    lines.append("Squeeze compiles for static shapes, so graph inputs that only feed shape "
                 "operands (a Reshape's shape, Slice bounds, reduction axes, TopK's k, Pad's pads, "
                 "Resize scales, Range bounds...; see SHAPE_OPERANDS in the harness) are frozen "
                 "into initializers with the "
                 "test's value, as `--input-shape` pins dynamic dims; every other input stays a "
                 "run-time input.")
    lines.append("")
    lines.append("Each test is counted under one op: the op of its model when the model has a "
                 "single op type (besides Constant), else the op its name spells (so the "
                 "`_expanded` variants, which inline a function op's body, count under the "
                 "function op). Opsets are the model's opset imports of the op's domain. "
                 "Skips are out of scope by category (training, random, sequence/optional/"
                 "string/map types, dtypes an artifact cannot carry); everything else that "
                 "does not match counts as failed. Supported: `yes` when every test of the "
                 "op that ran passed, `partial` when some did, `no` when none did, `skipped` "
                 "when none ran.")
    lines.append("")
    lines.append("## Per op")
    lines.append("")
    lines.append("| Op | Opsets | Tests | Pass | Fail | Skip | Supported |")
    lines.append("|---|---|---|---|---|---|---|")
    for name in sorted(by_op, key=lambda k: (k.rsplit(":", 1)[-1].lower(), k)):
        e = by_op[name]
        lines.append("| %s | %s | %d | %d | %d | %d | %s |" % (
            name, ", ".join(str(v) for v in sorted(e["opsets"])), e["tests"], e["PASS"],
            e["FAIL"], e["SKIP"], status(e)))
    lines.append("")
    lines.append("## Failure reasons")
    lines.append("")
    lines.append("| Reason | Tests |")
    lines.append("|---|---|")
    groups = collections.Counter(group_reason(r) for r in results if r.status == "FAIL")
    for reason, n in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append("| %s | %d |" % (reason.replace("|", "\\|"), n))
    lines.append("")
    lines.append("## Unsupported ops")
    lines.append("")
    lines.append("Every op an importer diagnostic of a failing test calls unsupported, with the "
                 "number of tests it blocks (a test can name several).")
    lines.append("")
    lines.append("| Op | Tests |")
    lines.append("|---|---|")
    blocked = collections.Counter()
    for r in results:
        if r.status == "FAIL":
            blocked.update({m for e in r.errors
                            for m in re.findall(r"unsupported ONNX op '([^']+)'", e)})
    for op, n in sorted(blocked.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append("| %s | %d |" % (op, n))
    lines.append("")
    lines.append("## Skip reasons")
    lines.append("")
    lines.append("| Reason | Tests |")
    lines.append("|---|---|")
    skips = collections.Counter(re.sub(r"'[^']*'", "'…'", r.reason) for r in results
                                if r.status == "SKIP")
    for reason, n in sorted(skips.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append("| %s | %d |" % (reason.replace("|", "\\|"), n))
    lines.append("")
    lines.append("## Regenerating this file")
    lines.append("")
    lines.append("```sh")
    lines.append("sudo apt-get install -y libonnx-testdata   # the Debian suite")
    lines.append("ninja -C build sqz-compile sqz-run")
    lines.append("/usr/bin/python3 test/conformance/onnx_conformance.py --build-dir build \\")
    lines.append("    --suite all --write-docs docs/SupportedOps.md")
    lines.append("```")
    lines.append("")
    lines.append("`--filter REGEX` runs a subset (the regex is searched in the test name; the "
                 "shared suite's tests are named `shared/test_*`), `--jobs N` sets the "
                 "parallelism (default: the number of CPUs), `--timeout S` the per-test limit, "
                 "`--keep` keeps the temporary artifacts, `--json FILE` writes every result "
                 "with all error lines, and `--fail-under PCT` makes the exit status non-zero "
                 "when the pass rate of the tests that ran is below PCT (ctest: "
                 "`ctest -L conformance`). The harness needs Debian's `/usr/bin/python3` "
                 "(numpy, onnx).")
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(REPO_ROOT, "build"),
                    help="build directory holding bin/sqz-compile and bin/sqz-run (default: build)")
    ap.add_argument("--suite", choices=["debian", "shared", "all"], default="all")
    ap.add_argument("--filter", default=None, help="regex searched in the test name")
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="per-test limit in seconds (compile + run; default 120)")
    ap.add_argument("--rtol", type=float, default=DEFAULT_RTOL)
    ap.add_argument("--atol", type=float, default=DEFAULT_ATOL)
    ap.add_argument("--write-docs", metavar="FILE", help="write the per-op summary (Markdown)")
    ap.add_argument("--json", metavar="FILE", help="write every result as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--compile-arg", action="append", default=[], metavar="ARG",
                    help="an extra sqz-compile argument (repeatable), e.g. "
                         "--compile-arg=--target=cuda:sm_80 --compile-arg=--emulate-gpu")
    ap.add_argument("--fail-under", type=float, metavar="PCT",
                    help="exit 1 when the pass rate of the non-skipped tests is below PCT")
    ap.add_argument("--debian-dir", default=SUITES["debian"], metavar="DIR",
                    help="the debian suite's node/ directory (default: %(default)s)")
    ap.add_argument("--shared-dir", default=SUITES["shared"], metavar="DIR",
                    help="the shared suite's node/ directory (default: %(default)s)")
    args = ap.parse_args(argv)
    args.build_dir = os.path.abspath(args.build_dir)

    h = Harness(args)
    if not h.compile or not h.run:
        print("error: no bin/sqz-compile and bin/sqz-run in %s (use --build-dir)" % args.build_dir,
              file=sys.stderr)
        return 2

    tests, notes = discover(args)
    suites = ["debian", "shared"] if args.suite == "all" else [args.suite]
    missing = [s for s in suites if notes.get(s, "").startswith("missing")]
    for s in missing:
        print("SKIP %s: test suite %s" % (s, notes[s]))
    if args.filter:
        rx = re.compile(args.filter)
        tests = [t for t in tests if rx.search(t[2])]

    h.tmp_root = tempfile.mkdtemp(prefix="sqz-conformance.")
    start = time.monotonic()
    results = [None] * len(tests)
    printed = 0
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs))
    try:
        futures = {pool.submit(h.run_test, s, d, n): i for i, (s, d, n) in enumerate(tests)}
        for fut in concurrent.futures.as_completed(futures):
            results[futures[fut]] = fut.result()
            # Print in test order: flush the finished prefix.
            while printed < len(results) and results[printed] is not None:
                print(results[printed].line(), flush=True)
                printed += 1
        pool.shutdown()
    except KeyboardInterrupt:
        h.stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print("kept temporary directories in %s" % h.tmp_root, file=sys.stderr)
        else:
            shutil.rmtree(h.tmp_root, ignore_errors=True)
    elapsed = time.monotonic() - start

    # Attribute each test to one op; multi-node tests by name, from every op ONNX or the
    # tests know.
    ops = known_ops()
    for r in results:
        ops.update(r.top)
    h.build_name_index(ops)
    for r in results:
        r.primary = h.attribute(r)

    counts = collections.Counter(r.status for r in results)
    if args.write_docs:
        write_docs(args.write_docs, results, notes, suites, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({
                "suites": notes, "seconds": round(elapsed, 1),
                "results": [{"name": r.name, "suite": r.suite, "status": r.status,
                             "reason": r.reason, "group": group_reason(r) if r.status == "FAIL" else "",
                             "op": op_label(r.primary) if r.primary else None,
                             "ops": [op_label(o) for o in r.ops], "opsets": r.opsets,
                             "errors": r.errors, "seconds": round(r.seconds, 2)}
                            for r in results]}, f, indent=1, sort_keys=True)
    for label, passed, counted in scorecard(results, suites):
        print("score %s: %d/%d = %.1f%%" % (label, passed, counted,
                                            100.0 * passed / counted if counted else 0.0))
    print("(%d tests in %.1fs with %d jobs)" % (len(results), elapsed, args.jobs),
          file=sys.stderr, flush=True)
    # A missing suite counts as one skip (its SKIP line above).
    print("%d passed, %d failed, %d skipped" % (
        counts["PASS"], counts["FAIL"], counts["SKIP"] + len(missing)), flush=True)
    if args.fail_under is not None:
        ran = counts["PASS"] + counts["FAIL"]
        rate = 100.0 * counts["PASS"] / ran if ran else 100.0
        if rate < args.fail_under:
            print("pass rate %.1f%% is below --fail-under %g%%" % (rate, args.fail_under),
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
