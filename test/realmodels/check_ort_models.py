#!/usr/bin/python3
"""Runs the onnxruntime test-data models of ../shared/realmodels/ort-testdata through Squeeze and
checks them against onnxruntime-node.

For each model: pin its dynamic dims (batch 2, seq 8, past 4, ...), generate seeded random inputs
of the right dtype and range (token ids below the vocabulary size, masks 0/1), run the model in
onnxruntime-node (test/realmodels/ort_run.js, one intra-op thread), compile it with `sqz-compile
--input-shape ...` and run it with `sqz-run --expect <ORT outputs> --rtol 1e-4 --atol <small>`.
Models that hold an op Squeeze does not support (tiny_gpt2_beamsearch: com.microsoft BeamSearch)
must fail to compile with one diagnostic naming the node and the op.

One line per model, then a summary:
  PASS bert_toy_optimized: max_abs_err=3.1e-06 max_rel_err=2.2e-05 (2 outputs) [compile 2.1s, run 0.1s]
  UNSUPPORTED tiny_gpt2_beamsearch: error: ... unsupported ONNX op 'BeamSearch' ...
  FAIL ...
  summary: 10 passed, 1 unsupported, 0 failed of 11 models (31.2s)

Usage: check_ort_models.py [--models DIR] [--work DIR] [--bin DIR] [--only NAME ...] [--keep]
                           [--compile-arg ARG ...] [--ptxas PTXAS [--ptxas-arch sm_XY]]
With --ptxas (and a CUDA target in --compile-arg) each model is only compiled and its PTX
assembled by ptxas: no onnxruntime, no run.
Exit 0 when every selected model passes (or fails as expected), 1 otherwise, 2 on setup errors.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DEFAULT_MODELS = os.path.normpath(os.path.join(SRC_ROOT, "..", "shared", "realmodels", "ort-testdata"))

RTOL = 1e-4

NP_DTYPES = {
    onnx.TensorProto.FLOAT: np.float32,
    onnx.TensorProto.FLOAT16: np.float16,
    onnx.TensorProto.DOUBLE: np.float64,
    onnx.TensorProto.INT64: np.int64,
    onnx.TensorProto.INT32: np.int32,
    onnx.TensorProto.INT8: np.int8,
    onnx.TensorProto.UINT8: np.uint8,
    onnx.TensorProto.BOOL: np.bool_,
}


def randn(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def padding_mask(batch, length, dtype):
    """1 for real tokens, 0 for left padding: row b has b*2 padded positions (at most length-1)."""
    mask = np.ones((batch, length), dtype=dtype)
    for b in range(batch):
        mask[b, : min(2 * b, length - 1)] = 0
    return mask


# Per model: the dims of every runtime input, a generator of specific inputs (the rest are drawn
# from the dtype: floats ~ N(0, 1), integers uniform over their range), atol, and for models Squeeze
# cannot run the expected diagnostic.
def gen_attention_mask1d(rng):
    b, s = 2, 8
    return {
        "input": randn(rng, (b, s, 768)),
        "weight": randn(rng, (768, 2304), 768 ** -0.5),
        "bias": randn(rng, (2304,), 0.1),
        "mask_index": np.array([s, 5], dtype=np.int32),
    }


def gen_attention_past(rng):
    b, s, p = 2, 8, 4
    return {
        "input": randn(rng, (b, s, 768)),
        "weight": randn(rng, (768, 2304), 768 ** -0.5),
        "bias": randn(rng, (2304,), 0.1),
        "past": randn(rng, (2, b, 12, p, 64)),
    }


def gen_attention_past_u8s8(rng):
    b, s, p, c = 2, 8, 4, 2304
    return {
        "input": rng.integers(0, 256, (b, s, 768)).astype(np.uint8),
        "weight": rng.integers(-127, 128, (768, c)).astype(np.int8),
        "bias": randn(rng, (c,), 0.1),
        "input_scale": np.array([0.02], dtype=np.float32),
        "weight_scale": rng.uniform(2e-4, 4e-4, (c,)).astype(np.float32),
        "input_zero_point": np.array([128], dtype=np.uint8),
        "weight_zero_point": rng.integers(-4, 5, (c,)).astype(np.int8),
        "past": randn(rng, (2, b, 12, p, 64)),
    }


def gen_bert_toy(rng):
    b, s = 2, 8
    return {
        "input_ids": rng.integers(0, 99, (b, s)).astype(np.int64),
        "token_type_ids": np.concatenate(
            [np.zeros((b, s // 2), np.int64), np.ones((b, s - s // 2), np.int64)], axis=1),
        "input_mask": padding_mask(b, s, np.int64)[:, ::-1].copy(),  # right padding
    }


def gen_gpt2(past, mask):
    def gen(rng):
        b, s, p = 2, (4 if past else 8), 3
        ins = {"input_ids": rng.integers(0, 20, (b, s)).astype(np.int64)}
        if past:
            ins["past_0"] = randn(rng, (2, b, 2, p, 2))
        if mask:
            m = padding_mask(b, p + s, np.float32)
            ins["attention_mask"] = m
            pos = np.cumsum(m, axis=1).astype(np.int64) - 1
            ins["position_ids"] = np.maximum(pos[:, p:], 0)
        return ins
    return gen


def gen_dynamic_quantize_bias(rng):
    return {
        "input": randn(rng, (3, 2)),
        "b_quantized": rng.integers(0, 256, (2, 3)).astype(np.uint8),
        "b_scale": np.array([0.05], dtype=np.float32),
    }


def gen_matmul_integer_to_float(rng):
    return {
        "input": randn(rng, (3, 2)),
        "b_quantized_2": rng.integers(0, 256, (2, 3)).astype(np.uint8),
        "b_zp_2": np.array([120], dtype=np.uint8),
        "b_scale_2": np.array([0.05], dtype=np.float32),
    }


MODELS = [
    dict(name="attention_mask1d_fp32", gen=gen_attention_mask1d, atol=1e-5),
    dict(name="attention_past_state", gen=gen_attention_past, atol=1e-5),
    dict(name="attention_past_state.u8s8", gen=gen_attention_past_u8s8, atol=1e-5),
    dict(name="bert_toy_optimized", gen=gen_bert_toy, atol=1e-5),
    dict(name="dynamic_quantize_matmul_bias_ND", gen=gen_dynamic_quantize_bias, atol=1e-5),
    dict(name="gpt2_one_layer", gen=gen_gpt2(False, False), atol=1e-5),
    dict(name="gpt2_past_one_layer", gen=gen_gpt2(True, False), atol=1e-5),
    dict(name="gpt2_past_mask_one_layer", gen=gen_gpt2(True, True), atol=1e-5),
    dict(name="layer_norm_t5", gen=lambda rng: {"A": randn(rng, (16, 32, 4))}, atol=1e-5),
    dict(name="matmul_integer_to_float", gen=gen_matmul_integer_to_float, atol=1e-5),
    dict(name="tiny_gpt2_beamsearch",
         gen=lambda rng: {"input_ids": rng.integers(0, 1000, (2, 8)).astype(np.int32)},
         unsupported=r"unsupported ONNX op 'BeamSearch' \(domain 'com.microsoft'.*\) at node 'BeamSearch_gpt2'"),
]


def sanitize(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def runtime_inputs(model):
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def complete_inputs(model, given, rng):
    """`given` plus random values for the runtime inputs it lacks; checks dtypes and ranks."""
    inputs = {}
    for vi in runtime_inputs(model):
        t = vi.type.tensor_type
        dtype = NP_DTYPES.get(t.elem_type)
        if vi.name in given:
            arr = given[vi.name]
        else:
            shape = [d.dim_value if d.HasField("dim_value") else 1 for d in t.shape.dim]
            if dtype is None:
                raise RuntimeError(f"input '{vi.name}': unsupported dtype {t.elem_type}")
            if np.issubdtype(dtype, np.floating):
                arr = randn(rng, shape).astype(dtype)
            elif dtype == np.bool_:
                arr = rng.integers(0, 2, shape).astype(np.bool_)
            else:
                info = np.iinfo(dtype)
                arr = rng.integers(max(info.min, -100), min(info.max, 100) + 1, shape).astype(dtype)
        if dtype is not None and arr.dtype != dtype:
            raise RuntimeError(f"input '{vi.name}': generated {arr.dtype}, model wants {np.dtype(dtype)}")
        if len(arr.shape) != len(t.shape.dim):
            raise RuntimeError(f"input '{vi.name}': generated rank {arr.ndim}, model has {len(t.shape.dim)}")
        inputs[vi.name] = arr
    return inputs


def compare(got, want):
    """(max_abs_err, max_rel_err) of got vs want; the relative error is taken over the elements
    with |want| >= 1e-3 * max|want| (near-zero elements are covered by atol)."""
    if got.shape != want.shape:
        return float("inf"), float("inf")
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    if g.size == 0:
        return 0.0, 0.0
    diff = np.abs(g - w)
    max_abs = float(diff.max())
    scale = np.abs(w)
    significant = scale >= 1e-3 * max(float(scale.max()), 1e-30)
    max_rel = float((diff[significant] / scale[significant]).max()) if significant.any() else 0.0
    return max_abs, max_rel


def check_model(spec, args, tools):
    name = spec["name"]
    path = os.path.join(args.models, name + ".onnx")
    work = os.path.join(args.work, name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "inputs"))
    model = onnx.load(path, load_external_data=False)
    rng = np.random.default_rng(1234)
    inputs = complete_inputs(model, spec["gen"](rng), rng)
    input_args, shape_args = [], []
    for iname, arr in inputs.items():
        f = os.path.join(work, "inputs", sanitize(iname) + ".npy")
        np.save(f, arr)
        input_args += ["--input", f"{iname}={f}"]
        shape_args += ["--input-shape", f"{iname}=" + "x".join(str(d) for d in arr.shape)]

    t0 = time.time()
    art = os.path.join(work, "art")
    comp = run([tools["sqz-compile"], path, *shape_args, *args.compile_arg, "-o", art])
    compile_s = time.time() - t0
    errors = [l for l in comp.stdout.splitlines()
              if "error:" in l and not l.startswith("sqz-compile: error:")]

    if "unsupported" in spec:
        if comp.returncode == 0:
            return "FAIL", "compiled, but an unsupported-op diagnostic was expected"
        if len(errors) != 1 or not re.search(spec["unsupported"], errors[0]):
            return "FAIL", "expected one diagnostic matching /%s/, got:\n%s" % (
                spec["unsupported"], comp.stdout.strip())
        return "UNSUPPORTED", errors[0].strip()
    if comp.returncode != 0:
        return "FAIL", "sqz-compile failed:\n" + comp.stdout.strip()
    if args.ptxas:
        # Compile-only mode: the CUDA artifact's PTX through ptxas, no run.
        ptx = os.path.join(art, "model.ptx")
        if not os.path.isfile(ptx):
            return "FAIL", "no model.ptx in the artifact (not a CUDA target?)"
        asm = run([args.ptxas, "-arch=" + args.ptxas_arch, ptx,
                   "-o", os.path.join(work, "m.cubin")])
        if asm.returncode != 0:
            return "FAIL", "ptxas -arch=%s failed:\n%s" % (args.ptxas_arch, asm.stdout.strip())
        size = os.path.getsize(ptx)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        return "PASS", "ptxas -arch=%s assembled %d bytes of PTX [compile %.1fs]" % (
            args.ptxas_arch, size, compile_s)

    # Reference: onnxruntime-node.
    ort_dir = os.path.join(work, "ort")
    t0 = time.time()
    ref = run([tools["node"], os.path.join(HERE, "ort_run.js"), path, *input_args,
               "--output-dir", ort_dir])
    ort_s = time.time() - t0
    if ref.returncode != 0:
        return "FAIL", "onnxruntime-node failed:\n" + ref.stdout.strip()

    with open(os.path.join(art, "manifest.json")) as f:
        outputs = [o["name"] for o in json.load(f)["outputs"]]
    expect_args = []
    for oname in outputs:
        expect_args += ["--expect", f"{oname}={os.path.join(ort_dir, sanitize(oname) + '.npy')}"]
    sqz_dir = os.path.join(work, "sqz")
    t0 = time.time()
    res = run([tools["sqz-run"], art, *input_args, *expect_args, "--rtol", str(RTOL),
               "--atol", str(spec["atol"]), "--output-dir", sqz_dir])
    run_s = time.time() - t0
    if res.returncode != 0:
        return "FAIL", "sqz-run --expect failed:\n" + res.stdout.strip()

    max_abs = max_rel = 0.0
    for oname in outputs:
        got = np.load(os.path.join(sqz_dir, sanitize(oname) + ".npy"))
        want = np.load(os.path.join(ort_dir, sanitize(oname) + ".npy"))
        a, r = compare(got, want)
        max_abs, max_rel = max(max_abs, a), max(max_rel, r)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return "PASS", "max_abs_err=%.2g max_rel_err=%.2g (%d outputs) [compile %.1fs, ort %.1fs, run %.1fs]" % (
        max_abs, max_rel, len(outputs), compile_s, ort_s, run_s)


def find_tool(name, bin_dir):
    if bin_dir:
        p = os.path.join(bin_dir, name)
        return p if os.access(p, os.X_OK) else None
    p = shutil.which(name)
    if p:
        return p
    p = os.path.join(SRC_ROOT, "build", "bin", name)
    return p if os.access(p, os.X_OK) else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=DEFAULT_MODELS, help="folder of the ort-testdata models")
    ap.add_argument("--work", help="scratch folder (default: a temporary one)")
    ap.add_argument("--bin", help="folder of sqz-compile and sqz-run (default: PATH, then build/bin)")
    ap.add_argument("--only", nargs="+", help="model names (without .onnx) to check")
    ap.add_argument("--keep", action="store_true", help="keep inputs, artifacts and outputs")
    ap.add_argument("--compile-arg", action="append", default=[],
                    help="an extra sqz-compile argument (repeatable), e.g. --compile-arg="
                         "--target=cuda:sm_80 --compile-arg=--emulate-gpu")
    ap.add_argument("--ptxas", help="compile only (a CUDA target via --compile-arg) and assemble "
                    "each artifact's model.ptx with this ptxas; no onnxruntime, no run")
    ap.add_argument("--ptxas-arch", default="sm_80", help="ptxas -arch (default sm_80)")
    args = ap.parse_args()

    tools = {t: find_tool(t, args.bin) for t in ("sqz-compile", "sqz-run")}
    if not args.ptxas:
        tools["node"] = shutil.which("node")
    for t, p in tools.items():
        if not p:
            print(f"check_ort_models: error: {t} not found", file=sys.stderr)
            return 2
    specs = MODELS
    if args.only:
        known = {s["name"] for s in MODELS}
        for n in args.only:
            if n not in known:
                print(f"check_ort_models: error: unknown model '{n}' (known: {', '.join(sorted(known))})",
                      file=sys.stderr)
                return 2
        specs = [s for s in MODELS if s["name"] in args.only]
    cleanup = None
    if not args.work:
        cleanup = args.work = tempfile.mkdtemp(prefix="sqz-ort-")
    os.makedirs(args.work, exist_ok=True)

    start = time.time()
    counts = {"PASS": 0, "UNSUPPORTED": 0, "FAIL": 0}
    for spec in specs:
        try:
            status, msg = check_model(spec, args, tools)
        except Exception as e:  # a broken driver/model setup is a failure of that model
            status, msg = "FAIL", f"{type(e).__name__}: {e}"
        counts[status] += 1
        print(f"{status} {spec['name']}: {msg}", flush=True)
    print("summary: %d passed, %d unsupported, %d failed of %d models (%.1fs)" % (
        counts["PASS"], counts["UNSUPPORTED"], counts["FAIL"], len(specs), time.time() - start))
    if cleanup and not args.keep:
        shutil.rmtree(cleanup, ignore_errors=True)
    return 0 if counts["FAIL"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
