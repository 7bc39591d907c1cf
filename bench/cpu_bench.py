#!/usr/bin/env python3
"""CPU benchmark of Squeeze against onnxruntime (issue 5, item 6), in one run:

  membw    the machine's read bandwidth: sqz-bench-membw (a summing loop over 1 GiB on the
           bench's threads, best of 10 passes; run before and after the other cases, the higher
           one counts), the roof of the memory-bound cases
  gemv     fp32 x[1, 4096] @ W[4096, 4096]
  gemm     fp32 x[128, 4096] @ W[4096, 4096]
  prefill  a LLaMA-style decoder with random fp32 weights (scripts/make_llama_onnx.py: d 2048,
           ffn 5632, 4 layers, 32 heads, 8 kv heads, vocab 32000, 1.2 GB), full form, 128 tokens
  decode   the same decoder, KV-cache form: one token after a past of 127

Weights are cold: the GEMV/GEMM model holds --matrices (default 8, 512 MiB) independent
4096x4096 MatMuls of the same x, one graph output each, and its time is divided by their count;
the decoder reads 1 GB of weights per step. Squeeze: `sqz-compile` from --build (with every input
pinned by --input-shape), checked once against NumPy (`sqz-run --expect`), timed by `sqz-run
--bench N --threads T` (median). onnxruntime-node (bench/ort_bench.js, CPU provider, intra-op
threads = T): the same .onnx file, same inputs, median of N runs; its columns are left empty when
node or the package is missing. The two alternate for --rounds rounds (default 2) and each keeps
its best median, so a burst of load from other work on the machine hits both about alike.

    /usr/bin/python3 bench/cpu_bench.py [--build build] [--runs 10] [--rounds 2] [--threads 2]
        [--only gemv,decode] [--markdown FILE] [--work DIR] [--matrices 8]

Table: ours and ORT's median (ms; per MatMul for gemv/gemm), ORT/ours (> 1: we are faster),
effective weight GB/s (weight bytes read / median; for the decoder every MatMul weight and norm
weight, not the embedding table) and that as % of the measured bandwidth, and GFLOP/s.
Models, artifacts and reference outputs go to --work (default $TMPDIR/sqz-cpu-bench: 1.8 GB of
models kept, plus one artifact of up to 1.3 GB at a time); generated models are reused by later
runs with the same parameters. Results: docs/performance.md.
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
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import make_llama_onnx as llama  # noqa: E402

CASES = ["membw", "gemv", "gemm", "prefill", "decode"]
LLAMA = dict(dim=2048, hidden=5632, layers=4, heads=32, kv_heads=8, vocab=32000)
PREFILL, PAST = 128, 127


def log(msg):
    print(msg, flush=True)


def parse_bench(text):
    out = {}
    for line in text.splitlines():
        m = re.match(r"(min|median|max|load) ([0-9.]+) (us|ms|s)$", line.strip())
        if m:
            out[m.group(1)] = float(m.group(2)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[m.group(3)]
    return out


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError("%s failed (exit %d):\n%s%s" % (" ".join(cmd[:2]), r.returncode,
                                                          r.stdout[-3000:], r.stderr[-3000:]))
    return r.stdout


def cached(work, key, make):
    """Runs make(dir) unless work/key holds a finished result for the same parameters."""
    path = os.path.join(work, key)
    stamp = os.path.join(path, ".done")
    if os.path.exists(stamp):
        return path
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    make(path)
    open(stamp, "w").close()
    return path


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.join(args.build, "bin")
        self.work = args.work
        self.env = dict(os.environ)
        self.node = shutil.which("node")
        self.ort_error = self.find_ort()
        self.failed = False

    def find_ort(self):
        if not self.node:
            return "node not found"
        dirs = [self.args.ort_dir, os.environ.get("SQZ_ORT_DIR"),
                os.path.join(ROOT, "third_party", "ort"), os.path.join(ROOT, "build-bench-node")]
        for d in dirs:
            if d and os.path.exists(os.path.join(d, "node_modules", "onnxruntime-node")):
                self.ort_dir = d
                return None
        return "onnxruntime-node not found (scripts/setup.sh installs it into third_party/ort)"

    # -- the two runtimes ------------------------------------------------------------------------

    def compare(self, name, model, inputs, expect, atol):
        """Compiles `model` with our sqz-compile, checks our outputs against `expect` once, then
        times ours and ORT's alternately for --rounds rounds; returns the best median of each
        (None where a runtime failed or is missing)."""
        feeds = {k: self.npy(name, k, v) for k, v in inputs.items()}
        art = self.compile(name, model, inputs)
        ours = theirs = None
        for r in range(self.args.rounds):
            if art:
                t = self.sqz_run(name, art, feeds, expect if r == 0 else {}, atol)
                if t is None:
                    shutil.rmtree(art, ignore_errors=True)
                    art = None
                else:
                    ours = t if ours is None else min(ours, t)
            t = self.ort(model, feeds)
            if t is not None:
                theirs = t if theirs is None else min(theirs, t)
        if art:
            shutil.rmtree(art, ignore_errors=True)  # GBs of weights
        return ours, theirs

    def compile(self, name, model, inputs):
        art = os.path.join(self.work, "art-" + name)
        shutil.rmtree(art, ignore_errors=True)
        cmd = [os.path.join(self.bin, "sqz-compile"), model, "-o", art]
        for k, v in inputs.items():
            cmd += ["--input-shape", "%s=%s" % (k, "x".join(map(str, v.shape)))]
        t0 = time.time()
        try:
            run(cmd)
        except RuntimeError as e:
            log("  ours: FAILED: %s" % e)
            self.failed = True
            return None
        log("  ours: compiled in %.1f s" % (time.time() - t0))
        return art

    def sqz_run(self, name, art, feeds, expect, atol):
        cmd = [os.path.join(self.bin, "sqz-run"), art, "--bench", str(self.args.runs),
               "--threads", str(self.args.threads), "--output-dir", os.path.join(art, "out"),
               "--rtol", "0", "--atol", str(atol)]
        for k, path in feeds.items():
            cmd += ["--input", "%s=%s" % (k, path)]
        for k in expect:
            cmd += ["--expect", "%s=%s" % (k, self.npy(name, "expect." + k, expect[k]))]
        r = subprocess.run(cmd, capture_output=True, text=True, env=self.env)
        if r.returncode != 0:
            log("  ours: FAILED: sqz-run %s (exit %d%s):\n%s%s" % (
                name, r.returncode, ", outputs differ from the reference" if r.returncode == 1 else "",
                r.stdout[-3000:], r.stderr[-3000:]))
            self.failed = True
            return None
        t = parse_bench(r.stdout)
        check = ""
        if expect:
            errs = re.findall(r"expect (\S+): max_abs_err=(\S+)", r.stdout)
            check = ", outputs match the reference (max abs err %.2g over %d outputs)" % (
                max(float(e) for _, e in errs), len(errs))
        log("  ours: median %.3f ms (min %.3f), artifact load %.1f ms%s" % (
            t["median"] * 1e3, t["min"] * 1e3, t["load"] * 1e3, check))
        return t["median"]

    def ort(self, model, feeds):
        if self.ort_error:
            return None
        cmd = [self.node, os.path.join(HERE, "ort_bench.js"), model, "--threads",
               str(self.args.threads), "--runs", str(self.args.runs), "--ort", self.ort_dir]
        for k, path in feeds.items():
            cmd += ["--input", "%s=%s" % (k, path)]
        try:
            t = parse_bench(run(cmd))
        except RuntimeError as e:
            log("  ORT:  FAILED: %s" % str(e).strip().splitlines()[-1])
            return None
        log("  ORT:  median %.3f ms (min %.3f), session load %.1f s" % (
            t["median"] * 1e3, t["min"] * 1e3, t["load"]))
        return t["median"]

    def npy(self, case, name, a):
        path = os.path.join(self.work, "io-" + case, re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".npy")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, a)
        return path

    # -- the cases ---------------------------------------------------------------------------------

    def membw(self):
        out = run([os.path.join(self.bin, "sqz-bench-membw"), "--threads", str(self.args.threads),
                   "--bytes", "1G", "--passes", "10"])
        bw = float(re.search(r"bandwidth ([0-9.]+) GB/s", out).group(1))
        log("  read bandwidth %.2f GB/s (1 GiB, %d threads, best of 10 passes)" % (bw, self.args.threads))
        return bw

    def matmul_model(self, n):
        count, k = self.args.matrices, 4096
        key = "matmul-%d-seed%d" % (count, self.args.seed)

        def make(path):
            rng = np.random.default_rng(self.args.seed)
            ws = [rng.standard_normal((k, k), dtype=np.float32) * np.float32(1 / 64.0)
                  for _ in range(count)]
            for m in (1, 128):
                # Both models read one external data file (the weights once, 4 KiB aligned).
                inits = []
                for i in range(count):
                    t = TensorProto(name="w%d" % i, data_type=TensorProto.FLOAT, dims=[k, k])
                    t.data_location = TensorProto.EXTERNAL
                    for key_, value in (("location", "weights.data"), ("offset", str(i * k * k * 4)),
                                        ("length", str(k * k * 4))):
                        e = t.external_data.add()
                        e.key, e.value = key_, value
                    inits.append(t)
                graph = helper.make_graph(
                    [helper.make_node("MatMul", ["x", "w%d" % i], ["y%d" % i], name="mm%d" % i)
                     for i in range(count)], "matmuls",
                    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
                    [helper.make_tensor_value_info("y%d" % i, TensorProto.FLOAT, [m, k])
                     for i in range(count)], inits)
                model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
                model.ir_version = 8
                onnx.save(model, os.path.join(path, "m%d.onnx" % m))
            with open(os.path.join(path, "weights.data"), "wb") as f:
                for w in ws:
                    f.write(w.tobytes())
        path = cached(self.work, key, make)
        return os.path.join(path, "m%d.onnx" % n), path

    def matmul_case(self, name, m):
        count, k = self.args.matrices, 4096
        model, path = self.matmul_model(m)
        rng = np.random.default_rng(self.args.seed + m)
        x = rng.standard_normal((m, k), dtype=np.float32)
        ws = np.memmap(os.path.join(path, "weights.data"), dtype=np.float32, mode="r",
                       shape=(count, k, k))
        expect = {"y%d" % i: x @ ws[i] for i in range(count)}
        log("  %d x MatMul %dx%dx%d, %d MiB of weights" % (count, m, k, k, count * k * k * 4 >> 20))
        ours, theirs = self.compare(name, model, {"x": x}, expect, 1e-3)
        per = lambda t: None if t is None else t / count
        return per(ours), per(theirs), k * k * 4, 2.0 * m * k * k

    def llama_models(self):
        key = "llama-%s-seed%d" % ("-".join(str(v) for v in LLAMA.values()), self.args.seed)

        def make(path):
            cfg = llama.Config(LLAMA["dim"], LLAMA["hidden"], LLAMA["layers"], LLAMA["heads"],
                               LLAMA["kv_heads"], LLAMA["vocab"], 2048, False)
            weights = llama.random_weights(cfg, self.args.seed)
            llama.write_models(cfg, weights, ["full", "kv"], 2048, path, external=True)
            # The reference: one float64 forward over 128 tokens gives the prefill logits, the
            # decode step's past (the first 127 positions of the caches) and its logits.
            rng = np.random.default_rng(self.args.seed + 7)
            ids = rng.integers(0, cfg.vocab, size=(1, PREFILL), dtype=np.int64)
            logits, present = llama.reference_forward(cfg, weights, ids)
            np.save(os.path.join(path, "ids.npy"), ids)
            np.save(os.path.join(path, "logits.npy"), logits.astype(np.float32))
            for i, (k, v) in enumerate(present):
                np.save(os.path.join(path, "k%d.npy" % i), k.astype(np.float32))
                np.save(os.path.join(path, "v%d.npy" % i), v.astype(np.float32))
            nbytes = sum(a.nbytes for n, a in weights.items() if n != "tok_embeddings")
            with open(os.path.join(path, "info.json"), "w") as f:
                json.dump({"weight_bytes": nbytes,
                           "flops_per_token": 2 * sum(a.size for n, a in weights.items()
                                                      if a.ndim == 2 and n != "tok_embeddings")}, f)
        t0 = time.time()
        path = cached(self.work, key, make)
        if time.time() - t0 > 1:
            log("  generated the model and its NumPy reference in %.0f s" % (time.time() - t0))
        with open(os.path.join(path, "info.json")) as f:
            return path, json.load(f)

    def prefill(self):
        path, info = self.llama_models()
        ids = np.load(os.path.join(path, "ids.npy"))
        expect = {"logits": np.load(os.path.join(path, "logits.npy"))}
        log("  full form, input_ids 1x%d, %d MB of weights" % (PREFILL, info["weight_bytes"] // 10**6))
        model = os.path.join(path, "model_full.onnx")
        ours, theirs = self.compare("prefill", model, {"input_ids": ids}, expect, 2e-3)
        return ours, theirs, info["weight_bytes"], info["flops_per_token"] * PREFILL

    def decode(self):
        path, info = self.llama_models()
        ids = np.load(os.path.join(path, "ids.npy"))
        inputs = {"input_ids": ids[:, PAST:PAST + 1]}
        expect = {"logits": np.load(os.path.join(path, "logits.npy"))[:, PAST:PAST + 1]}
        for i in range(LLAMA["layers"]):
            for kind, f in (("key", "k"), ("value", "v")):
                full = np.load(os.path.join(path, "%s%d.npy" % (f, i)))
                inputs["past_key_values.%d.%s" % (i, kind)] = np.ascontiguousarray(full[:, :, :PAST])
                expect["present.%d.%s" % (i, kind)] = full
        log("  KV form, input_ids 1x1 after a past of %d" % PAST)
        model = os.path.join(path, "model_kv.onnx")
        ours, theirs = self.compare("decode", model, inputs, expect, 2e-3)
        return ours, theirs, info["weight_bytes"], info["flops_per_token"]


def cpu_info():
    info, flags = {}, set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "flags":
                    flags = set(value.split())
                elif key in ("model name", "cpu family", "model", "cpu MHz"):
                    info.setdefault(key, value.strip())
    except OSError:
        pass
    have = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags]
    return "%s (family %s model %s, %s MHz), %d logical CPUs, %s" % (
        info.get("model name", "unknown CPU"), info.get("cpu family", "?"), info.get("model", "?"),
        info.get("cpu MHz", "?").split(".")[0], os.cpu_count(), " ".join(have) or "no AVX2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"),
                        help="build directory with bin/sqz-compile, sqz-run, sqz-bench-membw")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per case and runtime")
    parser.add_argument("--threads", type=int, default=2, help="threads of both runtimes")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternate ours and ORT this many times per case; the best median counts")
    parser.add_argument("--only", default=None,
                        help="comma-separated cases among " + ",".join(CASES) + " (membw always runs)")
    parser.add_argument("--markdown", default=None, help="also write the table as markdown")
    parser.add_argument("--matrices", type=int, default=8,
                        help="independent 4096x4096 weights of the gemv/gemm model (64 MiB each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "sqz-cpu-bench"))
    parser.add_argument("--ort-dir", default=None, help="directory with node_modules/onnxruntime-node")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else set(CASES)
    if only - set(CASES):
        parser.error("unknown case(s) %s; choose among %s" % (",".join(sorted(only - set(CASES))),
                                                             ",".join(CASES)))
    for tool in ("sqz-compile", "sqz-run", "sqz-bench-membw"):
        if not os.path.exists(os.path.join(args.build, "bin", tool)):
            parser.error("%s/bin/%s not found (ninja -C %s sqz-compile sqz-run sqz-bench-membw)"
                         % (args.build, tool, args.build))
    os.makedirs(args.work, exist_ok=True)

    bench = Bench(args)
    machine = cpu_info()
    log("machine: %s; %d threads, %d rounds of %d runs per case and runtime" % (
        machine, args.threads, args.rounds, args.runs))
    log("onnxruntime-node: %s" % (("in " + bench.ort_dir) if not bench.ort_error
                                  else "skipped (%s)" % bench.ort_error))
    start = time.time()
    log("== membw")
    bws = [bench.membw()]
    rows, status = [], 0
    labels = {"gemv": "GEMV 1x4096x4096 (per MatMul)", "gemm": "GEMM 128x4096x4096 (per MatMul)",
              "prefill": "LLaMA prefill, 128 tokens", "decode": "LLaMA decode, 1 token, past 127"}
    for case in CASES[1:]:
        if case not in only:
            continue
        log("== " + case)
        try:
            if case in ("gemv", "gemm"):
                res = bench.matmul_case(case, 1 if case == "gemv" else 128)
            else:
                res = getattr(bench, case)()
        except RuntimeError as e:
            log("  FAILED: %s" % e)
            status = 1
            continue
        rows.append((labels[case],) + res)
    if rows:
        # Again at the end: on a machine shared with other work the roof moves; the best counts.
        log("== membw (again)")
        bws.append(bench.membw())
    bw = max(bws)

    header = ["case", "ours ms", "ORT ms", "ORT/ours", "ours GB/s", "ORT GB/s", "ours % BW",
              "ORT % BW", "ours GFLOP/s", "ORT GFLOP/s"]
    table = []
    for label, ours, theirs, nbytes, flops in rows:
        def cols(t):
            if t is None:
                return ["-", "-", "-", "-"]
            return ["%.3f" % (t * 1e3), "%.1f" % (nbytes / t / 1e9), "%.0f%%" % (100 * nbytes / t / 1e9 / bw),
                    "%.1f" % (flops / t / 1e9)]
        o, r = cols(ours), cols(theirs)
        ratio = "%.2fx" % (theirs / ours) if ours and theirs else "-"
        table.append([label, o[0], r[0], ratio, o[1], r[1], o[2], r[2], o[3], r[3]])
    widths = [max(len(str(row[i])) for row in [header] + table) for i in range(len(header))]
    log("")
    log("read bandwidth: %.2f GB/s (sqz-bench-membw, %d threads, best of %s); %s" % (
        bw, args.threads, " and ".join("%.2f" % b for b in bws), machine))
    for row in [header] + table:
        log("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in
                      enumerate(zip(row, widths))))
    log("(%.0f s; ORT/ours > 1: Squeeze is faster; GB/s: weight bytes read per second)" % (time.time() - start))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("Read bandwidth: %.2f GB/s (`sqz-bench-membw`, %d threads). Machine: %s. "
                    "Both runtimes on %d threads; best of %d alternating rounds of a median of %d runs.%s\n\n" % (
                        bw, args.threads, machine, args.threads, args.rounds, args.runs,
                        " onnxruntime skipped: %s." % bench.ort_error if bench.ort_error else ""))
            f.write("| " + " | ".join(header) + " |\n")
            f.write("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|\n")
            for row in table:
                f.write("| " + " | ".join(row) + " |\n")
        log("wrote %s" % args.markdown)
    return 1 if status or bench.failed else 0


if __name__ == "__main__":
    sys.exit(main())
