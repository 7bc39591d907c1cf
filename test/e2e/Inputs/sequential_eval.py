"""Compiles stories260K with recipes/sparsegpt-50.yaml in both calibration modes and compares
their perplexity, for e2e/calib-sequential-stories260K.test.

    sequential_eval.py BUILD_DIR WORK_DIR

Uses python/compression_eval.py's protocol at a smaller size: 64 positions, calibration and
evaluation tokens are the dense model's own temperature-1 samples (seeds 1..8 and 1001..1008).
Writes WORK/{dense,one-shot,sequential}/ (each compiled artifact keeps its
calibration.safetensors), WORK/{one-shot,sequential}.json (reports) and WORK/calib.npy, and
prints each mode's perplexity, KL and top-1 agreement, then whether sequential's perplexity is
not above one-shot's.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "python"))
import numpy as np  # noqa: E402
import compression_eval as ce  # noqa: E402

build, work = sys.argv[1], sys.argv[2]
tools = {"compile": os.path.join(build, "bin", "sqz-compile"),
         "run": os.path.join(build, "bin", "sqz-run")}
os.makedirs(work, exist_ok=True)
shape = "input_ids=1x%d" % ce.LENGTH
dense = os.path.join(work, "dense")
ce.run([tools["compile"], ce.MODEL, "--input-shape", shape, "-o", dense])
calib, evalp = os.path.join(work, "calib.npy"), os.path.join(work, "eval.npy")
np.save(calib, ce.samples(tools, dense, work, range(1, 9)))
np.save(evalp, ce.samples(tools, dense, work, range(1001, 1009)))
ppl = {}
for mode in ("one-shot", "sequential"):
    art = os.path.join(work, mode)
    ce.run([tools["compile"], ce.MODEL, "--input-shape", shape, "--recipe",
            os.path.join(ce.ROOT, "recipes", "sparsegpt-50.yaml"), "--calib-data", calib,
            "--calib-mode=" + mode, "--report", os.path.join(work, mode + ".json"), "-o", art])
    ppl[mode], kl, top1 = ce.evaluate(tools, art, dense, evalp)
    print("%s: perplexity %.4f kl %.4f top1 %.4f" % (mode, ppl[mode], kl, top1))
print(("ok" if ppl["sequential"] <= ppl["one-shot"] else "FAILED") +
      ": sequential perplexity <= one-shot")
