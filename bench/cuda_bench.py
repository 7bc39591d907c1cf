#!/usr/bin/env python3
"""CUDA kernel benchmark (issue 6): every lib/Kernels/CUDA weight format against cuBLAS fp16 and
against the HBM bandwidth, all measured in the same run on the same GPU.

For the device machine (CUDA driver, PyTorch with cuBLAS, NumPy; no LLVM needed). It loads the
PREBUILT PTX of the kernel test module (unittests/Kernels/CUDA: TestWrappers.cu's __global__
wrappers linked with the kernels' bitcode, built here by the default target as
<build>/unittests/Kernels/CUDA/sqz_cuk_test.sm80.ptx and .sm90.ptx, and .sm90a.ptx with the
wgmma kernels) through the driver API (ctypes on libcuda.so.1, in PyTorch's primary context) and
launches the kernels on PyTorch's stream. On compute capability 9.0 the sm_90a wgmma kernels
are measured too, at M >= 128, as extra rows named "<format>+wgmma".

    python3 bench/cuda_bench.py [--build build] [--ptx FILE] [--formats int4,sp24_int4]
        [--shapes 4096x4096,14336x4096,4096x14336] [--batches 1,2,4,8,16,32,64,128,256,512]
        [--iters 50] [--no-check] [--markdown FILE]

Per shape (N x K: W is [N, K], y = x W^T), format and batch M:
  ours      median time of one kernel launch (us); weights are cold: enough copies of the
            packed blob are rotated that they exceed the L2 cache (>= 256 MiB in all)
  cublas    torch.nn.functional.linear in fp16 (x [M, K] fp16, W [N, K] fp16), same rotation
  speedup   cublas / ours (> 1: ours is faster)
  GB/s      bytes the kernel must read (the whole blob + x) / time; %BW: of the measured HBM
            bandwidth
HBM bandwidth: the better of a 1 GiB device-to-device copy (2 x bytes / time) and a 1 GiB
read-only reduction (torch.sum over fp16), best of 10 each, measured before and after the kernels.

Formats: f16, int8, int4, nf4, ternary2, sp24_f16, sp24_int4. Blobs are random but valid
(CudaLayout.h: header, fragment-ordered codes/values, fp16 scales, ordered 2:4 metadata, the nf4
lookup table). With --check (default) every format is also checked once per shape at
M = 1 and M = 16 against torch (fp32) on the blob decoded here in NumPy (an independent reader of
the layout), tolerance 2e-3 * sum |x w| (fp16 activations and weights); the wgmma rows at their
largest M.

Without a GPU (no torch, no CUDA device, no libcuda) it prints why and exits 0 (a message, no
table). Numbers belong in docs/performance.md only from a real run.
"""
import argparse
import ctypes
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# ---- Mirror of lib/Kernels/CUDA/CudaLayout.h and sqz_cuk_plan (keep in sync) ----
MAGIC = 0x43515A53
VERSION = 1
FORMATS = {  # name: (format number, code bits (0: fp16 values), sparse)
    "f16": (1, 0, False),
    "int8": (2, 8, False),
    "int4": (3, 4, False),
    "nf4": (4, 4, False),
    "ternary2": (5, 2, False),
    "sp24_f16": (7, 0, True),
    "sp24_int4": (8, 4, True),
}
WARPS, XPAD, GEMV_MAX_M, GEMM64_MIN_M = 4, 8, 8, 128
# m-tiles per block, window K, stages, n-tiles per block, row padding (halves) of the staged x
VARIANTS = {"gemv": (1, 1024, 8, 1, XPAD), "gemm": (4, 512, 4, 1, XPAD),
            "gemm64": (8, 256, 4, 4, XPAD), "wgmma": (8, 256, 4, 4, 0)}


def step_cols(fmt):
    return 32 if FORMATS[fmt][2] else 16


def steps_per_chunk(fmt):
    bits = FORMATS[fmt][1]
    return 1 if bits == 0 else 16 // bits


def chunk_cols(fmt):
    return step_cols(fmt) * steps_per_chunk(fmt)


def align(v, a):
    return (v + a - 1) // a * a


def layout(fmt, N, K, group, asym):
    _, bits, sparse = FORMATS[fmt]
    quant = bits != 0
    kc = chunk_cols(fmt)
    kpad = align(K, 64 if sparse and kc < 64 else kc)
    lay = {"nTiles": (N + 15) // 16, "nChunks": kpad // kc, "kPad": kpad,
           "groups": (K + group - 1) // group if quant else 0}
    off = 256
    lay["data"] = off
    off = align(off + lay["nTiles"] * lay["nChunks"] * 512, 256)
    if sparse:
        lay["meta"] = off
        off = align(off + lay["nTiles"] * (kpad // 64) * 128, 256)
    if quant:
        lay["scales"] = off
        off = align(off + lay["nTiles"] * lay["groups"] * 32, 256)
        if asym:
            lay["zeros"] = off
            off = align(off + lay["nTiles"] * lay["groups"] * 32, 256)
        if fmt == "nf4":  # the 32-byte lookup table (8 words)
            lay["lut"] = off
            off = align(off + 32, 256)
    lay["total"] = off
    return lay


def plan(fmt, N, M, sm, wgmma=False):
    """sqz_cuk_plan; wgmma: the target is sm_90a (the wgmma kernels for M >= 128)."""
    variant = "gemv" if M <= GEMV_MAX_M else "gemm" if M < GEMM64_MIN_M else "gemm64"
    if variant == "gemm64" and wgmma:
        variant = "wgmma"
    mt, kw, stages, tiles, pad = VARIANTS[variant]
    grid = (max(1, (M + 8 * mt - 1) // (8 * mt)), (N + 16 * tiles - 1) // (16 * tiles), 1)
    smem = 8 * mt * (kw + pad) * 2 + WARPS * stages * 512
    suffix = "sm90a" if variant == "wgmma" else "sm%d" % sm
    return "sqz_cuk_%s_%s_%s_kernel" % (fmt, variant, suffix), grid, (WARPS * 32, 1, 1), smem


# ---- Random valid blobs and an independent NumPy decoder ----
NIBBLES = (0x4, 0x8, 0x9, 0xC, 0xD, 0xE)
NF4 = (-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
       -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
       0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
       0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0)  # kNF4Table


def nf4_codebook(np):
    """(alpha, slot of each NF4 code, the 8 lookup-table words) as Pack.cpp derives them: the
    first alpha = 1 + k/1024 (zero entry +0, then -0) whose fp16(NF4 * alpha) split into even
    classes (bit 7, bit 15); pairs of a class take slots j and j + 8."""
    for k in range(1025):
        alpha = np.float32(1) + np.float32(k) / np.float32(1024)
        for zero_sign in (0, 1):
            h = [(0x8000 if zero_sign else 0) if v == 0.0 else
                 int((np.float32(v) * alpha).astype(np.float16).view(np.uint16)) for v in NF4]
            members = [[], [], [], []]
            for c in range(16):
                members[((h[c] >> 7) & 1) | ((h[c] >> 14) & 2)].append(c)
            if any(len(m) % 2 for m in members):
                continue
            slot, lut, j = [0] * 16, [0] * 8, 0
            for m in members:
                for i in range(0, len(m), 2):
                    a, b = m[i], m[i + 1]
                    slot[a], slot[b] = j, j + 8
                    for plane in range(2):
                        X, Y = (h[a] >> (8 * plane)) & 0xFF, (h[b] >> (8 * plane)) & 0xFF
                        x = (~X & 0xFF) if X & 0x80 else X
                        lut[4 * plane + j // 4] |= x << (8 * (j % 4))
                        lut[4 * plane + 2 + j // 4] |= Y << (8 * (j % 4))
                    j += 1
            return float(alpha), slot, lut
    raise RuntimeError("no nf4 lookup-table arrangement")


def prmt(a, b, c):
    """PTX prmt.b32 (default mode): byte i = byte (sel & 7) of {a, b}, or its msb replicated when
    sel & 8, with sel = (c >> 4i) & 15."""
    src = [(a >> (8 * i)) & 0xFF for i in range(4)] + [(b >> (8 * i)) & 0xFF for i in range(4)]
    out = 0
    for i in range(4):
        sel = (c >> (4 * i)) & 15
        v = src[sel & 7]
        if sel & 8:
            v = 0xFF if v & 0x80 else 0
        out |= v << (8 * i)
    return out


def nf4_table(np, lut):
    """The 16 fp16 values (as float32) of an nf4 lookup table (8 words), read the kernels' way."""
    w = [int(v) for v in lut]
    bits = []
    for s in range(16):
        lo = (prmt(w[0], w[1], s) ^ prmt(w[2], w[3], s ^ 8)) & 0xFF
        hi = (prmt(w[4], w[5], s) ^ prmt(w[6], w[7], s ^ 8)) & 0xFF
        bits.append(lo | hi << 8)
    return np.array(bits, dtype=np.uint16).view(np.float16).astype(np.float32)


def make_blob(np, rng, fmt, N, K, group, asym):
    num, bits, sparse = FORMATS[fmt]
    quant = bits != 0
    lay = layout(fmt, N, K, group, asym)
    blob = np.zeros(lay["total"], dtype=np.uint8)
    hdr = struct.pack("<IHHqqqII3q", MAGIC, VERSION, num, N, K, group if quant else 0,
                      1 if (quant and asym) else 0, 0, lay["data"], lay.get("scales", 0),
                      lay["lut"] if fmt == "nf4" else lay.get("zeros", 0))
    blob[:64] = np.frombuffer(hdr, dtype=np.uint8)
    nbytes = lay["nTiles"] * lay["nChunks"] * 512
    if quant:
        data = rng.integers(0, 256, size=nbytes, dtype=np.uint8)
        if bits == 2:  # ternary codes are 0..2: map the 2-bit fields 3 -> 1
            d = data.copy()
            for sh in (0, 2, 4, 6):
                f = (d >> sh) & 3
                d = np.where(f == 3, d ^ np.uint8(2 << sh), d)
            data = d
    else:
        data = rng.uniform(-1, 1, size=nbytes // 2).astype(np.float16).view(np.uint8)
    blob[lay["data"]:lay["data"] + nbytes] = data
    if sparse:
        nm = lay["nTiles"] * (lay["kPad"] // 64) * 32 * 8
        nib = np.array(NIBBLES, dtype=np.uint32)[rng.integers(0, 6, size=nm)].reshape(-1, 8)
        words = np.zeros(nib.shape[0], dtype=np.uint32)
        for j in range(8):
            words |= nib[:, j] << np.uint32(4 * j)
        blob[lay["meta"]:lay["meta"] + words.size * 4] = words.view(np.uint8)
    if quant:
        ns = lay["nTiles"] * lay["groups"] * 16
        sc = rng.uniform(0.002, 0.02, size=ns).astype(np.float16)
        blob[lay["scales"]:lay["scales"] + ns * 2] = sc.view(np.uint8)
        if asym:
            z = (0x6400 + rng.integers(0, (1 << bits) - (1 if bits != 2 else 2), size=ns)).astype(
                np.uint16)
            blob[lay["zeros"]:lay["zeros"] + ns * 2] = z.view(np.uint8)
    if fmt == "nf4":  # every nibble of the random data is a valid slot
        lut = np.array(nf4_codebook(np)[2], dtype=np.uint32)
        blob[lay["lut"]:lay["lut"] + 32] = lut.view(np.uint8)
    return blob


def decode_dense(np, blob, fmt, N, K, group, asym):
    """Dense W [N, K] (float32) from a blob, from the layout's definition."""
    _, bits, sparse = FORMATS[fmt]
    quant = bits != 0
    lay = layout(fmt, N, K, group, asym)
    nT, nC, kpad = lay["nTiles"], lay["nChunks"], lay["kPad"]
    words = blob[lay["data"]:lay["data"] + nT * nC * 512].view(np.uint32).reshape(nT, nC, 32, 4)
    lane = np.arange(32)
    g, t = lane // 4, lane % 4
    W = np.zeros((nT * 16, kpad), dtype=np.float32)
    tiles = np.arange(nT)[:, None, None]
    chunks = np.arange(nC)[None, :, None]
    kc, sc_cols = chunk_cols(fmt), step_cols(fmt)
    if quant:
        G = lay["groups"]
        scales = blob[lay["scales"]:lay["scales"] + nT * G * 32].view(np.float16).astype(
            np.float32).reshape(nT, G, 8, 2)
        if asym:
            zeros = (blob[lay["zeros"]:lay["zeros"] + nT * G * 32].view(np.uint16).astype(
                np.int32) - 0x6400).reshape(nT, G, 8, 2)
        else:
            zeros = np.full((nT, G, 8, 2), {8: 128, 4: 8, 2: 1}[bits], dtype=np.int32)
        if fmt == "nf4":
            table = nf4_table(np, blob[lay["lut"]:lay["lut"] + 32].view(np.uint32))
    if sparse:
        pairs = kpad // 64
        meta = blob[lay["meta"]:lay["meta"] + nT * pairs * 128].view(np.uint32).reshape(
            nT, pairs, 32)
        nib = np.zeros((nT * 16, kpad // 4), dtype=np.int32)
        for ln in range(32):
            gg, tt = ln // 4, ln % 4
            for p in range(pairs):
                step = 2 * p + tt // 2
                for half in range(2):
                    for j in range(4):
                        grp = step * 8 + 4 * (tt % 2) + j
                        nib[np.arange(nT) * 16 + gg + 8 * half, grp] = (
                            meta[:, p, ln] >> np.uint32(16 * half + 4 * j)) & 15
    for st in range(steps_per_chunk(fmt)):
        kstep = chunks * kc + st * sc_cols  # [1, nC, 1]
        for r in range(4):
            for h in range(2):
                row = tiles * 16 + (g + 8 * (r & 1))[None, None, :]
                col16 = (2 * t + h + 8 * (r >> 1))[None, None, :]
                if quant:
                    P = st * 4 + r
                    gi = np.minimum(kstep // group, lay["groups"] - 1)  # [1, nC, 1]
                    s = scales[tiles, gi, g[None, None, :], r & 1]
                    if fmt == "nf4":  # byte P, h = 0 slot in the low nibble
                        slot = (words[..., P // 4] >> np.uint32(8 * (P % 4) + 4 * h)) & 15
                        val = table[slot.astype(np.int64)] * s
                    else:
                        ppw = 16 // bits
                        w = words[..., P // ppw]
                        code = ((w >> np.uint32(bits * (P % ppw) + 16 * h)) &
                                ((1 << bits) - 1)).astype(np.int32)
                        z = zeros[tiles, gi, g[None, None, :], r & 1]
                        val = (code - z) * s
                else:
                    val = ((words[..., r] >> np.uint32(16 * h)) & 0xFFFF).astype(np.uint16).view(
                        np.float16).astype(np.float32)
                if sparse:
                    grp = kstep // 4 + col16 // 2
                    nb = nib[np.broadcast_to(row, val.shape), np.broadcast_to(grp, val.shape)]
                    col = kstep + 4 * (col16 // 2) + ((nb >> (2 * (col16 % 2))) & 3)
                else:
                    col = kstep + col16
                W[np.broadcast_to(row, val.shape), np.broadcast_to(col, val.shape)] = val
    return W[:N, :K]


# ---- The driver (ctypes) ----
class Driver:
    def __init__(self):
        self.cu = ctypes.CDLL(os.environ.get("SQZ_CUDA_DRIVER", "libcuda.so.1"))
        self.cu.cuGetErrorString.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]
        self.mods = []

    def check(self, rc, what):
        if rc != 0:
            s = ctypes.c_char_p()
            self.cu.cuGetErrorString(rc, ctypes.byref(s))
            raise RuntimeError("%s failed: %s (%d)" % (what, s.value.decode() if s.value else "?",
                                                       rc))

    def load(self, ptx_text):
        mod = ctypes.c_void_p()
        log = ctypes.create_string_buffer(1 << 16)
        opts = (ctypes.c_int * 2)(5, 6)  # CU_JIT_ERROR_LOG_BUFFER, _SIZE_BYTES
        vals = (ctypes.c_void_p * 2)(ctypes.cast(log, ctypes.c_void_p).value, len(log))
        rc = self.cu.cuModuleLoadDataEx(ctypes.byref(mod), ctypes.c_char_p(ptx_text), 2, opts,
                                        vals)
        if rc != 0:
            raise RuntimeError("cuModuleLoadDataEx failed (%d): %s" % (rc, log.value.decode(
                errors="replace")))
        self.mods.append(mod)
        return mod

    def function(self, name):
        """The kernel `name` from the first loaded module that has it."""
        f = ctypes.c_void_p()
        rc = 0
        for mod in self.mods:
            rc = self.cu.cuModuleGetFunction(ctypes.byref(f), mod, name.encode())
            if rc == 0:
                return f
        self.check(rc or 500, "cuModuleGetFunction(%s)" % name)  # 500: CUDA_ERROR_NOT_FOUND
        return f

    def launch(self, f, grid, block, smem, stream, args):
        holders = []
        for a in args:
            holders.append(ctypes.c_int64(a[1]) if a[0] == "i" else ctypes.c_void_p(a[1]))
        params = (ctypes.c_void_p * len(holders))(
            *[ctypes.cast(ctypes.byref(h), ctypes.c_void_p) for h in holders])
        self.check(self.cu.cuLaunchKernel(f, grid[0], grid[1], grid[2], block[0], block[1],
                                          block[2], smem, ctypes.c_void_p(stream), params, None),
                   "cuLaunchKernel")


def find_ptx(build, sm):
    for b in ([build] if build else []) + ["build", "build-kd"]:
        p = os.path.join(ROOT, b, "unittests", "Kernels", "CUDA", "sqz_cuk_test.sm%s.ptx" % sm)
        if os.path.isfile(p):
            return p
    return None


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=None)
    ap.add_argument("--ptx", default=None)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--shapes", default="4096x4096,14336x4096,4096x14336")
    ap.add_argument("--batches", default="1,2,4,8,16,32,64,128,256,512")
    ap.add_argument("--group", type=int, default=128)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()

    try:
        import torch
    except Exception as e:  # noqa: BLE001
        print("cuda_bench: no GPU benchmark: PyTorch is not available (%s)" % e)
        return 0
    if not torch.cuda.is_available():
        print("cuda_bench: no GPU benchmark: torch.cuda.is_available() is False (no CUDA device "
              "or driver)")
        return 0
    import numpy as np
    try:
        drv = Driver()
    except OSError as e:
        print("cuda_bench: no GPU benchmark: cannot load the CUDA driver library (%s)" % e)
        return 0

    dev = torch.device("cuda")
    torch.zeros(1, device=dev)  # creates and binds the primary context
    cap = torch.cuda.get_device_capability()
    sm = 90 if cap[0] >= 9 else 80
    if cap[0] < 8:
        print("cuda_bench: sm_%d%d has no kernels (sm_80 or newer needed)" % cap)
        return 0
    ptx = args.ptx or find_ptx(args.build, sm) or find_ptx(args.build, 80)
    if not ptx:
        print("cuda_bench: no sqz_cuk_test.sm%d.ptx; build the default target (or pass --ptx)" % sm)
        return 1
    sm = 90 if ptx.endswith("sm90.ptx") else 80
    with open(ptx, "rb") as f:
        drv.load(f.read() + b"\0")
    name = torch.cuda.get_device_name()
    print("device: %s (sm_%d%d), kernels: %s" % (name, cap[0], cap[1], os.path.relpath(ptx, ROOT)))
    # Compute capability 9.0: also the sm_90a wgmma kernels (M >= 128), measured
    # as extra rows "<format>+wgmma" next to gemm64's.
    wgmma = False
    ptx90a = find_ptx(args.build, "90a") if tuple(cap) == (9, 0) and not args.ptx else None
    if ptx90a:
        with open(ptx90a, "rb") as f:
            drv.load(f.read() + b"\0")
        wgmma = True
        print("wgmma kernels: %s" % os.path.relpath(ptx90a, ROOT))
    stream = torch.cuda.current_stream().cuda_stream
    rng = np.random.default_rng(0)

    def time_fn(fn, iters):
        for _ in range(3):
            fn(0)
        torch.cuda.synchronize()
        times = []
        for rep in range(5):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            for i in range(iters):
                fn(i)
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b) * 1e3 / iters)  # us
        return median(times)

    def hbm():
        nbytes = 1 << 30
        src = torch.empty(nbytes, dtype=torch.uint8, device=dev)
        dst = torch.empty_like(src)
        half = src.view(torch.float16)
        best_copy = best_read = 0.0
        for _ in range(10):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            dst.copy_(src)
            b.record()
            b.synchronize()
            best_copy = max(best_copy, 2 * nbytes / (a.elapsed_time(b) * 1e-3) / 1e9)
            a.record()
            half.sum()
            b.record()
            b.synchronize()
            best_read = max(best_read, nbytes / (a.elapsed_time(b) * 1e-3) / 1e9)
        del src, dst
        torch.cuda.empty_cache()
        return best_copy, best_read

    bw_copy, bw_read = hbm()
    print("HBM: copy %.0f GB/s, read %.0f GB/s" % (bw_copy, bw_read))

    rows = []
    failures = 0
    formats = [f for f in args.formats.split(",") if f]
    batches = [int(b) for b in args.batches.split(",")]
    for shape in args.shapes.split(","):
        N, K = (int(v) for v in shape.split("x"))
        w16 = torch.randn(N, K, device=dev, dtype=torch.float16) * 0.02
        copies_cublas = max(1, min(64, (256 << 20) // (N * K * 2) + 1))
        wcub = [w16.clone() for _ in range(copies_cublas)]
        cub = {}
        for M in batches:
            x16 = torch.randn(M, K, device=dev, dtype=torch.float16)
            cub[M] = time_fn(lambda i: torch.nn.functional.linear(x16, wcub[i % copies_cublas]),
                             args.iters)
        del wcub
        for fmt in formats:
            asym = False
            blob = make_blob(np, rng, fmt, N, K, args.group, asym)
            nbytes = blob.size
            copies = max(1, min(64, (256 << 20) // nbytes + 1))
            dblob = torch.from_numpy(blob).to(dev)
            blobs = [dblob] + [dblob.clone() for _ in range(copies - 1)]
            if not args.no_check:
                W = torch.from_numpy(decode_dense(np, blob, fmt, N, K, args.group, asym)).to(dev)
            runs = [(M, False) for M in batches]
            if wgmma:
                runs += [(M, True) for M in batches if M >= GEMM64_MIN_M]
            for M, use_wgmma in runs:
                kname, grid, block, smem = plan(fmt, N, M, sm, wgmma=use_wgmma)
                label = fmt + "+wgmma" if use_wgmma else fmt
                fn = drv.function(kname)
                x = torch.randn(M, K, device=dev, dtype=torch.float32)
                y = torch.empty(M, N, device=dev, dtype=torch.float32)

                def run(i, x=x, y=y, fn=fn, grid=grid, block=block, smem=smem, M=M):
                    drv.launch(fn, grid, block, smem, stream,
                               [("p", blobs[i % copies].data_ptr()), ("p", x.data_ptr()),
                                ("i", M), ("i", K), ("p", 0), ("p", y.data_ptr()), ("i", N)])

                if not args.no_check and (M in (1, 16) or (use_wgmma and M == runs[-1][0])):
                    y.fill_(float("nan"))
                    run(0)
                    torch.cuda.synchronize()
                    xr = x.half().float()
                    ref = xr @ W.t()
                    mag = xr.abs() @ W.abs().t()
                    bad = int(((y - ref).abs() > 2e-3 * mag + 1e-5).sum().item() +
                              torch.isnan(y).sum().item())
                    if bad:
                        failures += 1
                        print("CHECK FAILED: %s %dx%d M=%d: %d outputs off (max err %.3g)" % (
                            label, N, K, M, bad, float((y - ref).abs().max())))
                t = time_fn(run, args.iters)
                moved = nbytes + M * K * 4 + M * N * 4
                gbs = moved / (t * 1e-6) / 1e9
                rows.append((shape, label, M, t, cub[M], cub[M] / t, gbs,
                             100.0 * gbs / max(bw_copy, bw_read)))
                # Each row as soon as it is measured (a run cut off by a time limit keeps them).
                print("row: | %s | %s | %d | %.1f | %.1f | %.2fx | %.0f | %.0f%% |" % rows[-1],
                      flush=True)
            del blobs, dblob
            torch.cuda.empty_cache()

    head = "| shape NxK | format | M | ours us | cuBLAS fp16 us | speedup | GB/s | %BW |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %s | %d | %.1f | %.1f | %.2fx | %.0f | %.0f%% |" % r)
    table = "\n".join(lines)
    print(table)
    bw_copy2, bw_read2 = hbm()
    print("HBM after: copy %.0f GB/s, read %.0f GB/s" % (bw_copy2, bw_read2))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("Device: %s; HBM copy %.0f GB/s, read %.0f GB/s\n\n%s\n" % (
                name, max(bw_copy, bw_copy2), max(bw_read, bw_read2), table))
    if failures:
        print("cuda_bench: %d correctness checks failed" % failures)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
