#!/usr/bin/python3
"""Compresses stories260K with recipes and measures quality against the dense model.

    /usr/bin/python3 python/compression_eval.py --build-dir build --work DIR \
        [--recipes magnitude-50 wanda-50 ...] [--markdown docs/results.md] [--check]

Steps (all through the Squeeze tools, nothing else):
1. compile the dense model for 64 positions (--input-shape input_ids=1x64);
2. make two disjoint token sets from text the model knows: its own temperature-1 samples
   (`sqz-run --generate 63 --temperature 1 --seed S` from BOS), seeds 1..C for calibration and
   1001..1000+E for evaluation, each sample 64 tokens;
3. compile each recipe (recipes/<name>.yaml) with --calib-data calib.npy --report;
4. `sqz-run --eval-tokens eval.npy --window 64 --compare-to dense/`: perplexity, mean KL and
   top-1 agreement against the dense model; sizes of model.safetensors.
Prints one line per variant; --markdown writes the table; --check asserts the Compression I
acceptance relations (SparseGPT and Wanda 50% beat magnitude 50% on perplexity and KL, n:m
layers are exactly n:m (quantized ones too), structured pruning shrinks the weights file,
GPTQ beats RTN, 8-bit RTN and LLM.int8 are near lossless).
"""

import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models", "stories260K", "stories260K_opset17.onnx")
LENGTH = 64


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode != 0:
        sys.exit("command failed: %s\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
    return p.stdout


def samples(tools, art, work, seeds):
    bos = os.path.join(work, "bos.npy")
    np.save(bos, np.array([[1]], np.int64))
    rows = []
    for s in seeds:
        out = run([tools["run"], art, "--generate", str(LENGTH - 1), "--prompt-ids", bos,
                   "--temperature", "1", "--seed", str(s)])
        ids = [int(x) for x in re.search(r"^prompt: (.*)$", out, re.M).group(1).split()]
        ids += [int(x) for x in re.search(r"^generated: (.*)$", out, re.M).group(1).split()]
        if len(ids) != LENGTH:
            sys.exit("sample of seed %d has %d tokens" % (s, len(ids)))
        rows.append(ids)
    return np.array(rows, np.int64)


def evaluate(tools, art, dense, tokens):
    out = run([tools["run"], art, "--eval-tokens", tokens, "--window", str(LENGTH),
               "--compare-to", dense])
    value = lambda key: float(re.search(r"^%s: (\S+)$" % key, out, re.M).group(1))
    return value("perplexity"), value("kl-divergence"), value("top1-agreement")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--work", required=True)
    ap.add_argument("--recipes", nargs="*", default=[
        "magnitude-50", "wanda-50", "sparsegpt-50", "magnitude-70", "wanda-70",
        "sparsegpt-70", "wanda-2of4", "sparsegpt-2of4", "sparsegpt-4of8",
        "ffn-structured-25", "heads-25", "sparsegpt-50:sequential", "rtn-8bit-g32",
        "rtn-4bit-g32", "gptq-4bit-g32", "awq-4bit-g32",
        "rtn-3bit-g32", "gptq-3bit-g32", "awq-3bit-g32", "nf4", "ternary", "llm-int8",
        "2of4-int4"])
    ap.add_argument("--calib-samples", type=int, default=16)
    ap.add_argument("--eval-samples", type=int, default=16)
    ap.add_argument("--markdown")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    tools = {"compile": os.path.join(args.build_dir, "bin", "sqz-compile"),
             "run": os.path.join(args.build_dir, "bin", "sqz-run")}
    os.makedirs(args.work, exist_ok=True)
    dense = os.path.join(args.work, "dense")
    run([tools["compile"], MODEL, "--input-shape", "input_ids=1x%d" % LENGTH, "-o", dense])
    calib = os.path.join(args.work, "calib.npy")
    evalp = os.path.join(args.work, "eval.npy")
    np.save(calib, samples(tools, dense, args.work, range(1, 1 + args.calib_samples)))
    np.save(evalp, samples(tools, dense, args.work, range(1001, 1001 + args.eval_samples)))
    size = lambda art: os.path.getsize(os.path.join(art, "model.safetensors"))

    def bits_per_weight(report):
        """Stored bits per weight of the linears a recipe changed (the report's packed sizes:
        codes at their bits, scales, zero points, n:m indices, float outlier columns)."""
        changed = [l for l in report["layers"] if l["method"] != "-"]
        numel = sum(l["numel"] for l in changed)
        return 8.0 * sum(l["bytes_after"] for l in changed) / numel if numel else 32.0

    results = [("dense", "-") + evaluate(tools, dense, dense, evalp) + (size(dense), None)]
    reports = {}
    for name in args.recipes:
        # "<recipe>:sequential" compiles the recipe with --calib-mode=sequential.
        base, _, mode = name.partition(":")
        recipe = os.path.join(ROOT, "recipes", base + ".yaml")
        if not os.path.exists(recipe):
            print("skip %s: no recipes/%s.yaml" % (name, base))
            continue
        art = os.path.join(args.work, name.replace(":", "-"))
        report = art + ".report.json"
        run([tools["compile"], MODEL, "--input-shape", "input_ids=1x%d" % LENGTH, "--recipe",
             recipe, "--calib-data", calib, "--report", report, "-o", art] +
            (["--calib-mode=" + mode] if mode else []))
        reports[name] = json.load(open(report))
        sparsity = reports[name]["totals"]["sparsity"]
        results.append((name, "%.1f%%" % (100 * sparsity)) + evaluate(tools, art, dense, evalp) +
                       (size(art), reports[name]))
    lines = ["| Variant | Sparsity (linears) | Perplexity | KL vs dense | Top-1 agreement | "
             "Bits/weight (compressed linears) | Weights file (bytes) |",
             "|---|---|---|---|---|---|---|"]
    for name, sp, ppl, kl, top1, nbytes, rep in results:
        bits = bits_per_weight(rep) if rep else 32.0
        print("%-18s sparsity %-7s perplexity %8.4f  kl %.4f  top1 %.4f  bits/weight %6.3f  "
              "weights %d bytes" % (name, sp, ppl, kl, top1, bits, nbytes))
        lines.append("| %s | %s | %.4f | %.4f | %.4f | %.3f | %d |"
                     % (name, sp, ppl, kl, top1, bits, nbytes))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("# Compression results on stories260K\n\n"
                    "<!-- Generated by python/compression_eval.py --markdown; do not edit. -->\n\n"
                    "stories260K (models/stories260K, opset 17) compiled for 64 positions. "
                    "Calibration: %d of the model's own temperature-1 samples (seeds 1..%d, 64 "
                    "tokens each); evaluation: %d other samples (seeds 1001..%d), windows of 64 "
                    "tokens (63 predictions each). KL is the mean KL(P_dense || P) of the "
                    "next-token distributions; top-1 agreement compares argmaxes with the dense "
                    "model. Sparsity counts exact zeros over all linears, the LM head (never "
                    "pruned, 13%% of the linear weights) included. The weights file is the artifact's "
                    "model.safetensors: compressed linears that have a CPU microkernel are stored as "
                    "its packed blob (sqz-materialize; the layouts are the kernels', docs/Kernels.md), "
                    "the others keep their logical constants (n:m kept values + 2-bit (2:4) or 3-bit "
                    "(4:8) indices; one byte per quantization code, f32 scales, 1-byte zero points; "
                    "LLM.int8's float columns), so the file is not the packed size; the bits/weight "
                    "column is. Quantization keeps the exact zeros of rounding, which the "
                    "sparsity column counts. Bits/weight is the compression report's stored size "
                    "of the linears the recipe changed (codes packed at their bits, f32 scales, "
                    "1-byte zero points, n:m indices, float outlier columns) per weight; dense "
                    "f32 is 32. llm-int8 is LLM.int8()'s weight side (input channels with "
                    "calibration absmax >= 6 keep float columns, the rest int8 per output row; "
                    "activations stay float); 2of4-int4 is SparseGPT 2:4 then GPTQ int4 g32 "
                    "with the mask fixed (the n:m form with int4 kept values); heads-25 removes one "
                    "of the four GQA groups (a KV head and its two query heads) per block; "
                    "`:sequential` rows calibrate block by block on the already-compressed "
                    "prefix (`--calib-mode=sequential`).\n\n"
                    % (args.calib_samples, args.calib_samples, args.eval_samples,
                       1000 + args.eval_samples))
            f.write("\n".join(lines) + "\n\n"
                    "Regenerate: `/usr/bin/python3 python/compression_eval.py --work $TMPDIR/sqz-cmp "
                    "--markdown docs/results.md` (after `scripts/build.sh`).\n")
    if args.check:
        by = {r[0]: r for r in results}
        ok = True
        def expect(cond, what):
            nonlocal ok
            print(("ok: " if cond else "FAILED: ") + what)
            ok = ok and cond
        for m in ("wanda-50", "sparsegpt-50"):
            if m in by and "magnitude-50" in by:
                expect(by[m][2] < by["magnitude-50"][2], "%s perplexity < magnitude-50" % m)
                expect(by[m][3] < by["magnitude-50"][3], "%s KL < magnitude-50" % m)
        for name, rep in reports.items():
            for layer in rep["layers"]:
                m = re.match(r"(\d+):(\d+) sparse", layer["form"])
                if m:
                    # Every full group of g input columns has at most n nonzeros (a tail of
                    # fewer than g columns may stay dense).
                    n, g = int(m.group(1)), int(m.group(2))
                    out, cols = layer["shape"]
                    expect(layer["zeros"] >= out * (cols // g) * (g - n),
                           "%s %s is %d:%d (%d zeros of %d)" % (name, layer["name"], n, g,
                                                                layer["zeros"], layer["numel"]))
        for bits in ("4", "3"):
            rtn, gptq = "rtn-%sbit-g32" % bits, "gptq-%sbit-g32" % bits
            if rtn in by and gptq in by:
                expect(by[gptq][2] < by[rtn][2], "%s perplexity < %s" % (gptq, rtn))
                expect(by[gptq][3] < by[rtn][3], "%s KL < %s" % (gptq, rtn))
        if "rtn-8bit-g32" in by:
            expect(by["rtn-8bit-g32"][3] < 0.01, "rtn-8bit-g32 KL < 0.01")
        if "llm-int8" in by:
            expect(by["llm-int8"][3] < 0.01, "llm-int8 KL < 0.01")
        for name in ("ffn-structured-25", "heads-25"):
            if name in by:
                expect(by[name][5] < by["dense"][5], "%s weights smaller than dense" % name)
        if not ok:
            sys.exit(1)


if __name__ == "__main__":
    main()
