"""Independent numpy reference of the bundled MLP with quantized weights, for quantize.test.

    quant_reference.py MODEL.onnx X.npy OUT.npy METHOD BITS GROUP

METHOD: rtn-sym (GPTQ's symmetric grid: scale = 2·absmax/(2^b − 1), zero 2^(b−1)), rtn-asym
(min/max extended to 0, zero = round(−min/scale)), nf4 (QLoRA table, absmax blocks of GROUP).
`quantize` and `llm_int8` (LLM.int8's weight side) are also imported by other e2e references.
All in float32 with round-half-to-even, as the float32 torch references. Writes the model's
output (Gemm -> GELU -> Gemm -> Softmax) with both weights quantized.
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
                0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                0.7229568362236023, 1.0], np.float32)


def quantize(w, method, bits, group):
    rows, cols = w.shape
    g = cols if group < 0 else group
    out = np.empty_like(w)
    maxq = np.float32(2 ** bits - 1)
    for c0 in range(0, cols, g):
        blk = w[:, c0:c0 + g].astype(np.float32)
        if method == "nf4":
            absmax = np.abs(blk).max(1, keepdims=True).astype(np.float32)
            safe = np.where(absmax == 0, np.float32(1), absmax)
            codes = np.abs((blk * (np.float32(1) / safe))[..., None] - NF4).argmin(-1)
            out[:, c0:c0 + g] = NF4[codes] * absmax
            continue
        if method == "rtn-sym":
            amax = np.abs(blk).max(1, keepdims=True)
            scale = (np.float32(2) * amax / maxq).astype(np.float32)
            zero = np.float32(2 ** (bits - 1))
        else:
            lo = np.minimum(blk.min(1, keepdims=True), 0)
            hi = np.maximum(blk.max(1, keepdims=True), 0)
            scale = ((hi - lo) / maxq).astype(np.float32)
            zero = np.round(-lo / np.where(scale == 0, 1, scale)).astype(np.float32)
        safe = np.where(scale == 0, np.float32(1), scale)
        q = np.clip(np.round(blk / safe) + zero, 0, maxq)
        out[:, c0:c0 + g] = np.where(scale == 0, 0, scale * (q - zero))
    return out


def llm_int8(w, absmax, threshold):
    """LLM.int8() weight side (paper semantics): input columns whose calibration absmax is
    >= threshold stay float; the others are int8 with one scale absmax/127 per row over them
    (codes within ±127). Returns the dequantized weight and the outlier columns."""
    w = w.astype(np.float32)
    outlier = np.asarray(absmax) >= threshold
    rest = np.where(outlier[None, :], np.float32(0), w)
    scale = (np.abs(rest).max(1, keepdims=True) / np.float32(127)).astype(np.float32)
    safe = np.where(scale == 0, np.float32(1), scale)
    q = np.clip(np.round(rest / safe), -127, 127)
    out = np.where(scale == 0, np.float32(0), scale * q.astype(np.float32))
    out[:, outlier] = w[:, outlier]
    return out, np.nonzero(outlier)[0]


def main():
    model, x, out, method, bits, group = sys.argv[1:7]
    w = {t.name: numpy_helper.to_array(t) for t in onnx.load(model).graph.initializer}
    x = np.load(x).astype(np.float32)
    w1 = quantize(w["fc1.weight"], method, int(bits), int(group))
    w2 = quantize(w["fc2.weight"], method, int(bits), int(group))
    h = x @ w1.T + w["fc1.bias"]
    from math import erf
    h = 0.5 * h * (1 + np.vectorize(erf)(h / np.sqrt(2)).astype(np.float32))
    y = h @ w2.T + w["fc2.bias"]
    e = np.exp(y - y.max(-1, keepdims=True))
    np.save(out, (e / e.sum(-1, keepdims=True)).astype(np.float32))


if __name__ == "__main__":
    main()
