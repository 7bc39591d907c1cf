"""KV-cache decode against full recompute, and one dynamic artifact at several sizes.

    kv_check.py kv KV_ARTIFACT FULL_ARTIFACT SQZ_RUN WORKDIR
        prefill 5 prompt tokens with an empty past (past = 0), then 3 decode steps of one
        token each feeding the previous present.* as past_key_values.*; each step's logits
        must match the full-recompute artifact's logits at the same positions (atol 1e-4).
    kv_check.py sizes FULL_ARTIFACT SQZ_RUN WORKDIR PROMPT_IDS GOLDEN_LOGITS
        the full-recompute artifact at [1, 33] (the golden prompt), [1, 5] (a prefix: a causal
        LM's logits of a prefix are the golden rows) and [2, 33] (the prompt twice).
"""
import json
import os
import subprocess
import sys

import numpy as np


def run(sqz_run, artifact, work, tag, inputs):
    out = os.path.join(work, tag)
    os.makedirs(out, exist_ok=True)
    args = [sqz_run, artifact, "--output-dir", out]
    for name, value in inputs.items():
        path = os.path.join(out, "in." + name + ".npy")
        np.save(path, value)
        args += ["--input", f"{name}={path}"]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{tag}: sqz-run failed: {proc.stderr.strip()}")
    return lambda name: np.load(os.path.join(out, name + ".npy"))


def kv(kv_art, full_art, sqz_run, work):
    with open(os.path.join(kv_art, "manifest.json")) as f:
        manifest = json.load(f)
    pasts = [t for t in manifest["inputs"] if t["name"].startswith("past_key_values.")]
    ids = np.array([[1, 403, 407, 261, 378, 300, 270, 290]], np.int64)
    full = run(sqz_run, full_art, work, "full", {"input_ids": ids})("logits")
    feeds = {t["name"]: np.zeros([1, t["shape"][1], 0, t["shape"][3]], np.float32) for t in pasts}
    worst, start = 0.0, 0
    for step, end in enumerate([5, 6, 7, 8]):
        feeds["input_ids"] = ids[:, start:end]
        result = run(sqz_run, kv_art, work, f"kv{step}", feeds)
        logits = result("logits")
        err = float(np.abs(logits - full[:, start:end]).max())
        worst = max(worst, err)
        past = end
        for t in pasts:
            present = result(t["name"].replace("past_key_values.", "present."))
            if present.shape[2] != past:
                sys.exit(f"step {step}: {t['name']} grew to {present.shape[2]}, expected {past}")
            feeds[t["name"]] = present
        print(f"step {step}: tokens {start}..{end - 1} past {start} max_abs_err "
              f"{'OK' if err <= 1e-4 else err}")
        start = end
    print("kv vs full:", "OK" if worst <= 1e-4 else f"FAIL ({worst})")


def sizes(full_art, sqz_run, work, prompt_path, golden_path):
    ids, golden = np.load(prompt_path), np.load(golden_path)
    cases = {"1x33": (ids, golden), "1x5": (ids[:, :5], golden[:, :5]),
             "2x33": (np.concatenate([ids, ids]), np.concatenate([golden, golden]))}
    for tag, (x, want) in cases.items():
        got = run(sqz_run, full_art, work, tag, {"input_ids": x})("logits")
        err = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
        print(f"{tag}: {'OK' if err <= 1e-4 else f'FAIL shape {got.shape} err {err}'}")


if __name__ == "__main__":
    if sys.argv[1] == "kv":
        kv(*sys.argv[2:6])
    else:
        sizes(*sys.argv[2:7])
