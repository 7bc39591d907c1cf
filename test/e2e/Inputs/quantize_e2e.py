"""Builds small ONNX models with QuantizeLinear/DequantizeLinear and com.microsoft MatMulNBits,
compiles each with sqz-compile, runs it with sqz-run and compares the outputs with a NumPy
reference of the ONNX / onnxruntime semantics (written here from the specs).

Usage: quantize_e2e.py OUT_DIR [--ort NODE_SCRIPT]   (sqz-compile and sqz-run on PATH)
Prints "<case>: OK" or "<case>: FAIL ..." per case; exits 1 if any failed. With --ort (the path
of test/realmodels/ort_run.js), the MatMulNBits models are also run by onnxruntime-node and its
outputs compared with Squeeze's ("<case> vs onnxruntime: OK").
"""

import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

INT4, UINT4 = 22, 21
rng = np.random.default_rng(7)
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def tensor(name, array):
    return numpy_helper.from_array(np.array(array, order="C"), name)


def tensor4(name, codes, signed):
    """An int4/uint4 initializer: two codes per byte, low nibble first."""
    flat = (codes.reshape(-1).astype(np.int64) & 0xF).astype(np.uint8)
    if flat.size % 2:
        flat = np.append(flat, np.uint8(0))
    t = onnx.TensorProto()
    t.name = name
    t.data_type = INT4 if signed else UINT4
    t.dims.extend(codes.shape)
    t.raw_data = (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8).tobytes()
    return t


def vinfo(name, array):
    return helper.make_tensor_value_info(
        name, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[array.dtype], list(array.shape))


def model(nodes, inputs, outputs, inits, opset=21, ms=False):
    opsets = [helper.make_opsetid("", opset)]
    if ms:
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    graph = helper.make_graph(nodes, "g", [vinfo(n, a) for n, a in inputs],
                              [vinfo(n, a) for n, a in outputs], inits)
    m = helper.make_model(graph, opset_imports=opsets)
    m.ir_version = 8
    return m


# --- NumPy references -------------------------------------------------------------------------

def expand_params(p, x_shape, axis, block):
    """scale/zero point broadcast to x's shape (per-tensor, per-axis or blocked)."""
    if p.size == 1 and block == 0:
        return np.broadcast_to(p.reshape(()), x_shape)
    if block == 0:
        shape = [1] * len(x_shape)
        shape[axis] = x_shape[axis]
        return np.broadcast_to(p.reshape(shape), x_shape)
    return np.repeat(p, block, axis=axis)[tuple(slice(0, d) for d in x_shape)]


def ref_quantize(x, scale, zp, lo, hi, axis=1, block=0):
    s = expand_params(scale, x.shape, axis, block).astype(np.float32)
    z = expand_params(zp, x.shape, axis, block).astype(np.float32)
    return np.clip(np.rint(x.astype(np.float32) / s) + z, lo, hi)


def ref_dequantize(q, scale, zp, axis=1, block=0):
    s = expand_params(scale, q.shape, axis, block).astype(np.float32)
    z = expand_params(zp, q.shape, axis, block).astype(np.float32)
    return ((q.astype(np.float32) - z) * s).astype(np.float32)


# --- Cases --------------------------------------------------------------------------------------

@case
def qdq_runtime():
    """Runtime Q → DQ, per-tensor uint8 and per-axis int8 (axis 1), int16 blocked on axis 2."""
    x = (rng.standard_normal((2, 3, 8)) * 3).astype(np.float32)
    x[0, 0, :4] = [0.5, 1.5, 2.5, -2.5]  # ties: round half to even with scale 1
    s0, z0 = np.array(1.0, np.float32), np.array(128, np.uint8)
    s1, z1 = np.array([0.02, 0.05, 0.1], np.float32), np.array([-3, 0, 5], np.int8)
    s2 = (rng.random((2, 3, 2)) * 0.01 + 0.001).astype(np.float32)
    z2 = rng.integers(-100, 100, (2, 3, 2)).astype(np.int16)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s0", "z0"], ["q0"]),
        helper.make_node("DequantizeLinear", ["q0", "s0", "z0"], ["y0"]),
        helper.make_node("QuantizeLinear", ["x", "s1", "z1"], ["q1"], axis=1),
        helper.make_node("DequantizeLinear", ["q1", "s1", "z1"], ["y1"], axis=1),
        helper.make_node("QuantizeLinear", ["x", "s2", "z2"], ["q2"], axis=-1, block_size=4),
        helper.make_node("DequantizeLinear", ["q2", "s2", "z2"], ["y2"], axis=2, block_size=4),
    ]
    q0 = ref_quantize(x, s0, z0, 0, 255).astype(np.uint8)
    q1 = ref_quantize(x, s1, z1, -128, 127, axis=1).astype(np.int8)
    q2 = ref_quantize(x, s2, z2, -32768, 32767, axis=2, block=4).astype(np.int16)
    outs = [("q0", q0), ("y0", ref_dequantize(q0, s0, z0)), ("q1", q1),
            ("y1", ref_dequantize(q1, s1, z1, axis=1)), ("q2", q2),
            ("y2", ref_dequantize(q2, s2, z2, axis=2, block=4))]
    inits = [tensor("s0", s0), tensor("z0", z0), tensor("z1", z1), tensor("s2", s2),
             tensor("z2", z2)]
    # s1 is a runtime input: per-axis parameters computed at run time.
    return model(nodes, [("x", x), ("s1", s1)], outs, inits), {"x": x, "s1": s1}, outs


@case
def dq_weight_linear():
    """Quantized weights (folded on the host) feeding MatMul/Gemm: int8 per-axis, uint4 and
    int4 block-wise (odd element count), uint8 per-tensor without zero point."""
    x = rng.standard_normal((3, 16)).astype(np.float32)
    w8 = rng.integers(-128, 128, (16, 8)).astype(np.int8)
    s8 = (rng.random(8) * 0.05 + 0.01).astype(np.float32)
    z8 = rng.integers(-10, 10, 8).astype(np.int8)
    w4 = rng.integers(0, 16, (16, 5)).astype(np.uint8)  # 80 codes
    s4 = (rng.random((4, 5)) * 0.1 + 0.01).astype(np.float32)
    z4 = rng.integers(0, 16, (4, 5)).astype(np.uint8)
    wi4 = rng.integers(-8, 8, (7, 16)).astype(np.int8)  # 112 codes, Gemm transB
    si4 = (rng.random((7, 3)) * 0.1 + 0.01).astype(np.float32)
    wu = rng.integers(0, 256, (16, 4)).astype(np.uint8)
    su = np.array(0.01, np.float32)
    nodes = [
        helper.make_node("DequantizeLinear", ["w8", "s8", "z8"], ["dw8"], axis=1),
        helper.make_node("MatMul", ["x", "dw8"], ["y8"]),
        helper.make_node("DequantizeLinear", ["w4", "s4", "z4"], ["dw4"], axis=0, block_size=4),
        helper.make_node("MatMul", ["x", "dw4"], ["y4"]),
        helper.make_node("DequantizeLinear", ["wi4", "si4"], ["dwi4"], axis=1, block_size=6),
        helper.make_node("Gemm", ["x", "dwi4"], ["yi4"], transB=1),
        helper.make_node("DequantizeLinear", ["wu", "su"], ["dwu"]),
        helper.make_node("MatMul", ["x", "dwu"], ["yu"]),
    ]
    zero = np.zeros((7, 3), np.int8)
    outs = [("y8", x @ ref_dequantize(w8, s8, z8, axis=1)),
            ("y4", x @ ref_dequantize(w4, s4, z4, axis=0, block=4)),
            ("yi4", x @ ref_dequantize(wi4, si4, zero, axis=1, block=6).T),
            ("yu", x @ ref_dequantize(wu, su, np.zeros((), np.uint8)))]
    outs = [(n, a.astype(np.float32)) for n, a in outs]
    inits = [tensor("w8", w8), tensor("s8", s8), tensor("z8", z8), tensor4("w4", w4, False),
             tensor("s4", s4), tensor4("z4", z4, False), tensor4("wi4", wi4, True),
             tensor("si4", si4), tensor("wu", wu), tensor("su", su)]
    return model(nodes, [("x", x)], outs, inits), {"x": x}, outs


@case
def q4_runtime():
    """Runtime QuantizeLinear to int4/uint4 (saturating) read back through DequantizeLinear."""
    x = (rng.standard_normal((4, 6)) * 4).astype(np.float32)
    s = np.array([0.5, 1.0, 0.25, 2.0], np.float32)
    z = np.array([0, 1, -2, 3], np.int8)
    zu = np.array(8, np.uint8)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=0),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=0),
        helper.make_node("QuantizeLinear", ["x", "su", "zu"], ["qu"]),
        helper.make_node("DequantizeLinear", ["qu", "su", "zu"], ["yu"]),
    ]
    q = ref_quantize(x, s, z, -8, 7, axis=0)
    qu = ref_quantize(x, np.array(0.5, np.float32), zu, 0, 15)
    outs = [("y", ref_dequantize(q, s, z, axis=0)),
            ("yu", ref_dequantize(qu, np.array(0.5, np.float32), zu))]
    inits = [tensor("s", s), tensor4("z", z, True), tensor("su", np.array(0.5, np.float32)),
             tensor4("zu", np.array(8, np.uint8), False)]
    return model(nodes, [("x", x)], outs, inits), {"x": x}, outs


def pack_bits(codes, bits):
    """codes [..., n] (n a multiple of 8 / bits) → uint8 [..., n·bits/8], low bits first."""
    per = 8 // bits
    c = codes.reshape(codes.shape[:-1] + (-1, per)).astype(np.uint8)
    out = np.zeros(c.shape[:-1], np.uint8)
    for j in range(per):
        out |= c[..., j] << (j * bits)
    return out


def matmul_nbits_case(bits, k, n, block, zp_kind, bias, scales_2d, batch, accuracy=0):
    blocks = (k + block - 1) // block
    codes = rng.integers(0, 1 << bits, (n, blocks * block)).astype(np.uint8)
    codes[:, k:] = 0  # padding past K
    b = pack_bits(codes.reshape(n, blocks, block), bits)
    scales = (rng.random((n, blocks)) * 0.05 + 0.01).astype(np.float32)
    inits = [tensor("B", b), tensor("scales", scales if scales_2d else scales.reshape(-1))]
    inputs = ["A", "B", "scales"]
    if zp_kind == "packed":
        zp = rng.integers(0, 1 << bits, (n, blocks)).astype(np.uint8)
        per = 8 // bits
        padded = np.zeros((n, -(-blocks // per) * per), np.uint8)
        padded[:, :blocks] = zp
        inits.append(tensor("zp", pack_bits(padded, bits).reshape(-1)))
        inputs.append("zp")
        zpf = zp.astype(np.float32)
    elif zp_kind == "float":
        zpf = (rng.random((n, blocks)) * (1 << bits)).astype(np.float32)
        inits.append(tensor("zp", zpf))
        inputs.append("zp")
    else:
        zpf = np.full((n, blocks), float(1 << (bits - 1)), np.float32)
        inputs.append("")
    if bias:
        bv = rng.standard_normal(n).astype(np.float32)
        inits.append(tensor("bias", bv))
        inputs += ["", "bias"]
    w = (codes.reshape(n, blocks, block).astype(np.float32) - zpf[:, :, None]) * \
        scales[:, :, None]
    w = w.reshape(n, -1)[:, :k]
    a = rng.standard_normal(batch + (k,)).astype(np.float32)
    y = a @ w.T + (bv if bias else 0)
    while inputs and inputs[-1] == "":
        inputs.pop()
    node = helper.make_node("MatMulNBits", inputs, ["Y"], domain="com.microsoft", K=k, N=n,
                            bits=bits, block_size=block, accuracy_level=accuracy)
    outs = [("Y", y.astype(np.float32))]
    return model([node], [("A", a)], outs, inits, opset=17, ms=True), {"A": a}, outs


@case
def nbits4_packed_zp_bias():
    return matmul_nbits_case(4, 40, 12, 16, "packed", True, False, (2, 3))


@case
def nbits4_no_zp():
    return matmul_nbits_case(4, 64, 8, 32, None, False, True, (5,))


@case
def nbits2_packed_zp():
    # accuracy_level only tells onnxruntime how precisely it may compute: ignored
    return matmul_nbits_case(2, 48, 6, 16, "packed", False, False, (4,), accuracy=4)


@case
def nbits8_packed_zp():
    return matmul_nbits_case(8, 32, 10, 16, "packed", True, True, (1, 2, 3))


@case
def nbits4_float_zp():
    return matmul_nbits_case(4, 32, 10, 16, "float", True, True, (3,))


def main():
    out_dir = sys.argv[1]
    ort = sys.argv[sys.argv.index("--ort") + 1] if "--ort" in sys.argv else None
    failed = False
    # The microkernels with f32 activations (where sqz-compile has the option): their int8
    # activations are ~1e-2 off the ONNX semantics that these checks are about.
    help_text = subprocess.run(["sqz-compile", "--help"], capture_output=True, text=True).stdout
    exact = ["--ukernel-act=f32"] if "--ukernel-act" in help_text else []
    for name, fn in CASES.items():
        m, feeds, outs = fn()
        work = os.path.join(out_dir, name)
        os.makedirs(work, exist_ok=True)
        path = os.path.join(work, "model.onnx")
        onnx.save(m, path)
        art = os.path.join(work, "art")
        proc = subprocess.run(["sqz-compile", path, *exact, "-o", art], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            print(f"{name}: FAIL compile\n{proc.stderr}")
            failed = True
            continue
        args = ["sqz-run", art, "--output-dir", os.path.join(work, "out"), "--rtol", "1e-4",
                "--atol", "1e-5"]
        for k, v in feeds.items():
            np.save(os.path.join(work, k + ".npy"), v)
            args += ["--input", f"{k}={os.path.join(work, k + '.npy')}"]
        for k, v in outs:
            np.save(os.path.join(work, "want_" + k + ".npy"), v)
            args += ["--expect", f"{k}={os.path.join(work, 'want_' + k + '.npy')}"]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name}: FAIL run\n{proc.stdout}{proc.stderr}")
            failed = True
            continue
        print(f"{name}: OK")
        if ort and name.startswith("nbits"):
            ort_dir = os.path.join(work, "ort")
            cmd = ["node", ort, path, "--output-dir", ort_dir]
            for k in feeds:
                cmd += ["--input", f"{k}={os.path.join(work, k + '.npy')}"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{name} vs onnxruntime: FAIL ort\n{proc.stdout}{proc.stderr}")
                failed = True
                continue
            for k, _ in outs:
                got = np.load(os.path.join(work, "out", k + ".npy"))
                want = np.load(os.path.join(ort_dir, k + ".npy"))
                err = float(np.max(np.abs(got - want)))
                ok = np.allclose(got, want, rtol=1e-4, atol=1e-4)
                print(f"{name} vs onnxruntime: {'OK' if ok else 'FAIL'} max_abs_err={err:.2e}")
                failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
