"""Checks bench/cuda_bench.py's NumPy mirror of the CUDA layout against the C++ packer.

    bench_layout_check.py <sqz-cuk-pack-dump> <work dir>

For each case: packs with sqz_cuk_pack (through the dump tool), decodes the blob with
cuda_bench.decode_dense and compares with the logical weights (2e-3 relative: fp16 values and
scales), compares cuda_bench.layout()'s size with the blob's, and cuda_bench.plan() with
sqz_cuk_plan. Prints one OK line per case.
"""
import importlib.util
import os
import subprocess
import sys

import numpy as np

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))
spec = importlib.util.spec_from_file_location("cuda_bench",
                                              os.path.join(root, "bench", "cuda_bench.py"))
cb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cb)

dump, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
UK = {"f16": 1, "int8": 2, "int4": 3, "nf4": 4, "ternary2": 5, "sp24_f16": 7, "sp24_int4": 8}
cases = [("f16", 37, 200, 0, 0), ("int8", 37, 200, 32, 1), ("int4", 45, 1331, 128, 0),
         ("int4", 37, 200, 32, 1), ("ternary2", 37, 200, 64, 0), ("sp24_f16", 37, 200, 0, 0),
         ("sp24_int4", 77, 1000, 128, 0), ("sp24_int4", 37, 200, 32, 1),
         ("nf4", 45, 1331, 64, 0), ("nf4", 37, 200, 200, 0)]
failed = False
for name, N, K, group, asym in cases:
    out = subprocess.run([dump, str(UK[name]), str(N), str(K), str(group), str(asym), work],
                         check=True, capture_output=True, text=True).stdout
    blob = np.fromfile(os.path.join(work, "blob.bin"), dtype=np.uint8)
    ref = np.fromfile(os.path.join(work, "dense.bin"), dtype=np.float64).reshape(N, K)
    g = group if group else 1
    W = cb.decode_dense(np, blob, name, N, K, g, bool(asym))
    err = float(np.abs(W - ref).max())
    ok = err <= 2e-3 * float(np.abs(ref).max()) + 1e-6
    ok = ok and cb.layout(name, N, K, g, bool(asym))["total"] == blob.size
    for line in out.splitlines():
        _, M, sym, gx, gy, bx, smem, sm = line.split()
        ksym, grid, block, psmem = cb.plan(name, N, int(M), 90 if sm == "90a" else 80,
                                           wgmma=sm == "90a")
        if (ksym != sym + "_kernel" or grid[0] != int(gx) or grid[1] != int(gy)
                or block[0] != int(bx) or psmem != int(smem)):
            ok = False
            print("plan mismatch:", line, (ksym, grid, block, psmem))
    print("%s %s N=%d K=%d group=%d asym=%d (max err %.3g)" % ("OK" if ok else "FAIL", name, N, K,
                                                             group, asym, err))
    failed = failed or not ok
sys.exit(1 if failed else 0)
