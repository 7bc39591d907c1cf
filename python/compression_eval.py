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
layers are exactly n:m, structured pruning shrinks the weights file).
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
        "ffn-structured-25", "rtn-8bit-g32", "rtn-4bit-g32", "gptq-4bit-g32", "awq-4bit-g32",
        "rtn-3bit-g32", "gptq-3bit-g32", "awq-3bit-g32", "nf4", "ternary"])
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
    results = [("dense", "-") + evaluate(tools, dense, dense, evalp) + (size(dense), None)]
    reports = {}
    for name in args.recipes:
        recipe = os.path.join(ROOT, "recipes", name + ".yaml")
        if not os.path.exists(recipe):
            print("skip %s: no recipes/%s.yaml" % (name, name))
            continue
        art = os.path.join(args.work, name)
        report = os.path.join(args.work, name + ".report.json")
        run([tools["compile"], MODEL, "--input-shape", "input_ids=1x%d" % LENGTH, "--recipe",
             recipe, "--calib-data", calib, "--report", report, "-o", art])
        reports[name] = json.load(open(report))
        sparsity = reports[name]["totals"]["sparsity"]
        results.append((name, "%.1f%%" % (100 * sparsity)) + evaluate(tools, art, dense, evalp) +
                       (size(art), reports[name]))
    lines = ["| Variant | Sparsity (linears) | Perplexity | KL vs dense | Top-1 agreement | Weights file (bytes) |",
             "|---|---|---|---|---|---|"]
    for name, sp, ppl, kl, top1, nbytes, _ in results:
        print("%-18s sparsity %-7s perplexity %8.4f  kl %.4f  top1 %.4f  weights %d bytes"
              % (name, sp, ppl, kl, top1, nbytes))
        lines.append("| %s | %s | %.4f | %.4f | %.4f | %d |" % (name, sp, ppl, kl, top1, nbytes))
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
                    "model.safetensors (n:m layers are stored compressed: kept values + 2-bit "
                    "(2:4) or 3-bit (4:8) indices; quantized layers (sqz.quant_linear) store one byte per "
                    "code, unpacked, plus f32 scales and, asymmetric, 1-byte zero points per group of "
                    "32, so their file size is not yet their packed size: 4-bit codes packed would "
                    "take half a byte). Quantization keeps the exact zeros of rounding, which the "
                    "sparsity column counts.\n\n"
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
        if "ffn-structured-25" in by:
            expect(by["ffn-structured-25"][5] < by["dense"][5],
                   "ffn-structured-25 weights smaller than dense")
        if not ok:
            sys.exit(1)


if __name__ == "__main__":
    main()
