#!/usr/bin/env python3
"""The CPU microkernels of every weight format against onnxruntime's MatMulNBits (issue 7,
item 4), in one command:

  ours  sqz-bench-kernels (bench/KernelBench.cpp, Google Benchmark): every format of the
        microkernel registry (f32, int8, int4 g128 sym/asym and g32, nf4 g64, ternary 2-bit and
        1.6-bit, 2:4 fp32 and 2:4 + int4 when built) at N x K = 4096x4096, 14336x4096 and
        4096x14336, batch 1, 8, 32, on --threads threads, cycling through >= --copies-mb MB of
        distinct packed weight copies (cold weights); the read bandwidth is measured in the same
        process (bench/MemBandwidth.cpp's loop, 1 GiB, best of 5 passes)
  ORT   onnxruntime-node (bench/ort_bench.js, CPU provider, intra-op threads = --threads):
        com.microsoft MatMulNBits, bits 4, block 32 and 128, accuracy_level 4, on the same shapes
        and batches; the model holds as many independent MatMulNBits (distinct random weights)
        as needed to read >= --copies-mb MB per run, and its median is divided by their count.
        Skipped when node or the package is missing (found as bench/cpu_bench.py finds it).

    /usr/bin/python3 bench/kernel_bench.py [--build build] [--threads 2] [--copies-mb 640]
        [--formats int4_g128,nf4_g64] [--shapes 4096x4096] [--batches 1,8,32] [--runs 10]
        [--no-ort] [--ort-dir DIR] [--markdown FILE] [--work DIR]

Table: format, activation path (f32: weights dequantized to fp32; int8: activations quantized
to int8 per 32 columns, the "<format>_a8" cases of sqz-bench-kernels), shape (N x K), batch,
our time per call (us), effective weight GB/s (packed bytes
including scales / time), that as % of the measured bandwidth, ORT's time for the matching
MatMulNBits (int4 g128 <-> block 128, int4 g32 <-> block 32; other formats: block 128 for
reference) and ORT us / ours (> 1: Squeeze is faster). ORT's own rows follow (its bytes: 4-bit
codes + fp32 scales). Results: docs/performance.md.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from cpu_bench import Bench, cpu_info, log  # noqa: E402  (the ORT runner and the machine line)

# Our format -> the ORT block size it is compared with ("<format>_a8": the same weight on the
# int8-activation path).
ORT_MATCH = {"int4_g128": 128, "int4_g128_asym": 128, "int4_g32": 32}


def base_format(fmt):
    """(format without the _a8 suffix, activation path: 'f32' or 'int8')."""
    return (fmt[:-3], "int8") if fmt.endswith("_a8") else (fmt, "f32")


def run_ours(args):
    exe = os.path.join(args.build, "bin", "sqz-bench-kernels")
    cmd = [exe, "--threads=%d" % args.threads, "--copies-mb=%d" % args.copies_mb,
           "--shapes=" + args.shapes, "--batches=" + args.batches, "--benchmark_format=json"]
    if args.formats:
        cmd.append("--formats=" + args.formats)
    log("ours: " + " ".join(cmd))
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("sqz-bench-kernels failed (exit %d):\n%s" % (r.returncode, r.stderr[-3000:]))
    for line in r.stderr.splitlines():
        if line.startswith("bandwidth"):
            log("  " + line)
    data = json.loads(r.stdout)
    bw = float(data["context"]["membw_GBps"])
    rows = []
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            log("  %s: %s" % (b["name"], b.get("error_message")))
            continue
        fmt, shape, batch = b["name"].split("/")[:3]
        rows.append(dict(format=fmt, shape=shape, batch=int(batch[1:]), us=b["us"], gbps=b["GBps"],
                         roof=b["roof_pct"], bpw=b["bpw"]))
    log("  %d cases, isa %s, bandwidth %.2f GB/s" % (len(rows), data["context"]["isa"], bw))
    return rows, bw


def ort_model(work, n, k, block, copies_mb, seed=0):
    """A model of C MatMulNBits y_i = x W_i^T (W_i [n, k], 4-bit, `block`), x [M, k] with M
    symbolic, weights in one external data file; returns (path, C, bytes per matrix)."""
    blocks = (k + block - 1) // block
    b_bytes = n * blocks * block // 2
    s_bytes = n * blocks * 4
    per = b_bytes + s_bytes
    count = max(2, int(math.ceil(copies_mb * 1e6 / per)))
    d = os.path.join(work, "mnb-%dx%d-b%d-c%d" % (n, k, block, count))
    path = os.path.join(d, "model.onnx")
    if os.path.exists(os.path.join(d, ".done")):
        return path, count, per
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    rng = np.random.default_rng(seed)
    inits, nodes, outputs, offset = [], [], [], 0

    def external(name, dtype, dims, nbytes):
        nonlocal offset
        t = TensorProto(name=name, data_type=dtype, dims=dims)
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", "weights.data"), ("offset", str(offset)), ("length", str(nbytes))):
            e = t.external_data.add()
            e.key, e.value = key, value
        offset += nbytes
        return t

    with open(os.path.join(d, "weights.data"), "wb") as f:
        for i in range(count):
            b = rng.integers(0, 256, size=(n, blocks, block // 2), dtype=np.uint8)
            s = (rng.random(n * blocks, dtype=np.float32) * np.float32(0.01)) + np.float32(0.001)
            f.write(b.tobytes())
            inits.append(external("B%d" % i, TensorProto.UINT8, [n, blocks, block // 2], b_bytes))
            f.write(s.tobytes())
            inits.append(external("S%d" % i, TensorProto.FLOAT, [n * blocks], s_bytes))
            nodes.append(helper.make_node("MatMulNBits", ["x", "B%d" % i, "S%d" % i], ["y%d" % i],
                                          name="mnb%d" % i, domain="com.microsoft", K=k, N=n, bits=4,
                                          block_size=block, accuracy_level=4))
            outputs.append(helper.make_tensor_value_info("y%d" % i, TensorProto.FLOAT, ["M", n]))
    graph = helper.make_graph(nodes, "matmulnbits",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["M", k])],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    onnx.save(model, path)
    open(os.path.join(d, ".done"), "w").close()
    return path, count, per


def run_ort(args, bench, shapes, batches):
    """{(block, shape, batch): (us per MatMulNBits, GB/s)}"""
    out = {}
    for shape in shapes:
        n, k = map(int, shape.split("x"))
        for block in (32, 128):
            t0 = time.time()
            model, count, per = ort_model(args.work, n, k, block, args.copies_mb)
            log("ORT: MatMulNBits %s block %d: %d matrices of %.1f MB (model ready in %.0f s)" % (
                shape, block, count, per / 1e6, time.time() - t0))
            for m in batches:
                x = np.random.default_rng(m).standard_normal((m, k), dtype=np.float32)
                t = bench.ort(model, {"x": bench.npy("mnb-%s-M%d" % (shape, m), "x", x)})
                if t is not None:
                    out[(block, shape, m)] = (t / count * 1e6, per / (t / count) / 1e9)
            if not args.keep:
                shutil.rmtree(os.path.dirname(model), ignore_errors=True)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"),
                        help="build directory with bin/sqz-bench-kernels")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--copies-mb", type=int, default=640,
                        help="distinct weight copies cycled through per case (MB, >= 300)")
    parser.add_argument("--formats", default=None, help="comma-separated formats (default: all)")
    parser.add_argument("--shapes", default="4096x4096,14336x4096,4096x14336", help="NxK list")
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--runs", type=int, default=10, help="timed ORT runs per case (median)")
    parser.add_argument("--no-ort", action="store_true", help="skip onnxruntime")
    parser.add_argument("--ort-dir", default=None, help="directory with node_modules/onnxruntime-node")
    parser.add_argument("--keep", action="store_true", help="keep the generated ORT models in --work")
    parser.add_argument("--markdown", default=None, help="also write the table as markdown")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "sqz-kernel-bench"))
    args = parser.parse_args()
    if not os.path.exists(os.path.join(args.build, "bin", "sqz-bench-kernels")):
        parser.error("%s/bin/sqz-bench-kernels not found (ninja -C %s sqz-bench-kernels)"
                     % (args.build, args.build))
    os.makedirs(args.work, exist_ok=True)
    start = time.time()
    machine = cpu_info()
    log("machine: %s; %d threads; load average %s" % (machine, args.threads,
                                                      " ".join("%.1f" % v for v in os.getloadavg())))
    rows, bw = run_ours(args)
    shapes = args.shapes.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    ort, ort_note = {}, ""
    if args.no_ort:
        ort_note = "onnxruntime skipped (--no-ort)"
    else:
        bench = Bench(argparse.Namespace(build=args.build, work=args.work, ort_dir=args.ort_dir,
                                         threads=args.threads, runs=args.runs))
        if bench.ort_error:
            ort_note = "onnxruntime skipped: " + bench.ort_error
        else:
            ort = run_ort(args, bench, shapes, batches)
            ort_note = "onnxruntime-node from " + bench.ort_dir
    log(ort_note)

    header = ["format", "act", "N x K", "batch", "us", "GB/s", "% roof", "bits/w", "ORT us",
              "ORT/ours"]
    table = []
    best = {}  # (format, shape, batch) -> (us, act) of the faster path
    for r in rows:
        fmt, act = base_format(r["format"])
        block = ORT_MATCH.get(fmt, 128)
        o = ort.get((block, r["shape"], r["batch"]))
        ref = "" if fmt in ORT_MATCH else " (b128)"
        table.append([fmt, act, r["shape"], str(r["batch"]), "%.1f" % r["us"], "%.1f" % r["gbps"],
                      "%.0f%%" % r["roof"], "%.2f" % r["bpw"],
                      ("%.1f%s" % (o[0], ref)) if o else "-",
                      "%.2fx" % (o[0] / r["us"]) if o else "-"])
        key = (fmt, r["shape"], r["batch"])
        if key not in best or r["us"] < best[key][0]:
            best[key] = (r["us"], act)
    for (block, shape, m), (us, gbps) in sorted(ort.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2])):
        table.append(["ORT MatMulNBits b%d" % block, "int8", shape, str(m), "%.1f" % us,
                      "%.1f" % gbps, "%.0f%%" % (100 * gbps / bw), "%.2f" % (4 + 32.0 / block), "",
                      ""])
    widths = [max(len(row[i]) for row in [header] + table) for i in range(len(header))]
    log("")
    log("read bandwidth %.2f GB/s (same run, %d threads); %s" % (bw, args.threads, machine))
    for row in [header] + table:
        log("  ".join(c.rjust(w) if i > 3 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    faster = {}
    for (fmt, shape, m), (us, act) in best.items():
        faster.setdefault((fmt, m), []).append(act)
    both = sorted(k for k in faster if any(base_format(r["format"])[0] == k[0] and
                                           base_format(r["format"])[1] == "int8" for r in rows))
    if both:
        log("faster path (per format and batch, over the shapes): " + ", ".join(
            "%s M%d %s" % (f, m, "/".join(sorted(set(faster[(f, m)])))) for f, m in both))
    log("(%.0f s; GB/s = packed weight bytes incl. scales / time; ORT/ours > 1: Squeeze is faster)"
        % (time.time() - start))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("Read bandwidth %.2f GB/s (measured in the same run, %d threads). Machine: %s. "
                    "Cold weights (>= %d MB of distinct copies per case). %s.\n\n" % (
                        bw, args.threads, machine, args.copies_mb, ort_note))
            f.write("| " + " | ".join(header) + " |\n")
            f.write("|" + "|".join(["---"] * 4 + ["---:"] * (len(header) - 4)) + "|\n")
            for row in table:
                f.write("| " + " | ".join(row) + " |\n")
        log("wrote %s" % args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
