#!/usr/bin/env bash
# Builds the GPU kit: everything a session with a GPU machine (the device tool: CUDA driver,
# PyTorch, no compiler, no LLVM, no network) needs to run every GPU check of issue 6 in one
# command, in one folder small enough to carry (about 45 MB; the device tool carries 64 MiB).
#
# usage: scripts/gpu_kit.sh [BUILD_DIR [KIT_DIR]]     (defaults: build, BUILD_DIR/gpu-kit)
# Environment: SQZ_KIT_ARCH (default sm_90: the H100/H200 of the device tool; sm_80 for an
# A100), SQZ_KIT_ONLY (a regex: only the bundles whose whole name matches). About 4 minutes
# on 2 cores.
#
# Here (a build tree with sqz-compile, sqz-run, the CUDA tests; /usr/bin/python3 with onnx and
# numpy for the random LLaMA model):
#   scripts/gpu_kit.sh build            # -> build/gpu-kit
# There (carry build/gpu-kit; any working directory), as two commands of at most 10 minutes:
#   SQZ_KIT_STEPS=tests,models bash build/gpu-kit/run_all.sh
#   SQZ_KIT_STEPS=bench bash build/gpu-kit/run_all.sh
#
# The kit holds:
#   unittests/CudaDeviceTest, unittests/CudaKernelGpuTests (+ Kernels/CUDA/sqz_cuk_test.sm*.ptx
#   next to it, as in the build tree), lib/libsqz_runtime.so, bin/sqz-run;
#   bundles/<name>/  one prepare_gpu_run.sh bundle per model build (the CUDA artifact, inputs,
#   the CPU artifact's outputs as the reference; the CPU artifact itself is dropped), and
#   bundles/<name>/tolerance ("RTOL ATOL"):
#     stories260K-generic  --no-ukernels (generated code only)            1e-3 1e-4
#     stories260K-f16      dense linears on the f16 tensor-core kernel     3e-2 3e-2
#     stories260K-int4     rtn-4bit-g32 (int4 kernel, M = 33: gemm)        3e-2 3e-2
#     stories260K-nf4      nf4 recipe (nf4 kernel)                         3e-2 3e-2
#     stories260K-int8     rtn-8bit-g32 (int8 kernel)                      3e-2 3e-2
#     stories260K-ternary  ternary recipe (ternary2 kernel)                3e-2 3e-2
#     stories260K-sp24     sqz-sparsify-nm 2:4, f32 values (sp24_f16)      3e-2 3e-2
#     stories260K-sp24int4 2:4 magnitude + RTN int4 g32 (sp24_int4)        3e-2 3e-2
#     llama-*-m130         random LLaMA (dim 256, ffn 688, 2 layers, GQA 8/2 heads, vocab 512),
#                          130 tokens: every linear on the gemm64 variant (f16, int4, nf4)
#     llama-*-m5           the same at 5 tokens: the gemv variant
#     llama-*-m130-sm90a   (SQZ_KIT_ARCH=sm_90 only) the m130 builds for sm_90a (f16, int4, nf4,
#                          2:4 + int4): the wgmma kernels
#   bench/cuda_bench.py and run_all.sh.
# The tolerances of the kernel builds are first guesses (fp16 activations and weights against
# the fp32 CPU build); the GPU run settles them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
kit="${2:-$build/gpu-kit}"
arch="${SQZ_KIT_ARCH:-sm_90}"
py=/usr/bin/python3
for f in bin/sqz-compile bin/sqz-run bin/sqz-opt bin/sqz-translate lib/libsqz_runtime.so \
         unittests/CudaDeviceTest unittests/CudaKernelGpuTests unittests/Kernels/CUDA/sqz_cuk_test.sm80.ptx \
         unittests/Kernels/CUDA/sqz_cuk_test.sm90.ptx unittests/Kernels/CUDA/sqz_cuk_test.sm90a.ptx; do
  if [ ! -e "$build/$f" ]; then
    echo "gpu_kit.sh: $build/$f is missing; build first (scripts/build.sh)" >&2
    exit 2
  fi
done
rm -rf "$kit"
mkdir -p "$kit/bin" "$kit/lib" "$kit/unittests/Kernels/CUDA" "$kit/bundles" "$kit/bench" \
         "$kit/work"
cp "$build/bin/sqz-run" "$kit/bin/"
cp "$build/lib/libsqz_runtime.so" "$kit/lib/"
cp "$build/unittests/CudaDeviceTest" "$build/unittests/CudaKernelGpuTests" "$kit/unittests/"
cp "$build/unittests/Kernels/CUDA/sqz_cuk_test.sm80.ptx" \
   "$build/unittests/Kernels/CUDA/sqz_cuk_test.sm90.ptx" \
   "$build/unittests/Kernels/CUDA/sqz_cuk_test.sm90a.ptx" "$kit/unittests/Kernels/CUDA/"
cp "$root/bench/cuda_bench.py" "$kit/bench/"
cp "$root/scripts/gpu_kit_run.sh" "$kit/run_all.sh"

work="$kit/work"
stories="$root/models/stories260K/stories260K_opset17.onnx"
prompt="$root/models/stories260K/golden/prompt_ids.npy"
"$build/bin/sqz-translate" --import-onnx "$stories" --input-shape input_ids=1x33 -o "$work/dense.mlir"
"$build/bin/sqz-opt" "$work/dense.mlir" --sqz-sparsify-nm -o "$work/sparse.mlir"
"$py" "$root/scripts/make_llama_onnx.py" --random --dim 256 --ffn 688 --layers 2 --heads 8 \
  --kv-heads 2 --vocab 512 --seed 1 --form full -o "$work/llama" > /dev/null
"$py" -c "
import numpy as np
rng = np.random.default_rng(7)
for m in (130, 5):
    np.save('$work/llama_ids_%d.npy' % m, rng.integers(0, 512, size=(1, m), dtype=np.int64))
"

bundle() { # NAME RTOL ATOL MODEL INPUT_BINDING [COMPILE_FLAGS...]
  local name="$1" rtol="$2" atol="$3" model="$4" binding="$5"
  shift 5
  if [ -n "${SQZ_KIT_ONLY:-}" ] && ! [[ "$name" =~ ^(${SQZ_KIT_ONLY})$ ]]; then
    return 0
  fi
  echo "== bundle $name"
  "$root/test/e2e/cuda/prepare_gpu_run.sh" "$build" "$model" "$arch" "$kit/bundles/$name" \
    "$binding" -- "$@" > "$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; exit 1; }
  rm -rf "$kit/bundles/$name/cpu" "$kit/bundles/$name/bin" # run_all.sh uses the kit's sqz-run
  echo "$rtol $atol" > "$kit/bundles/$name/tolerance"
}
ids="input_ids=$prompt"
bundle stories260K-generic 1e-3 1e-4 "$stories" "$ids" --input-shape input_ids=1x33 --no-ukernels
bundle stories260K-f16 3e-2 3e-2 "$stories" "$ids" --input-shape input_ids=1x33
# Its batch and seq dims dynamic (ABI 3: sizes read on the host; the linears' kernel variant
# chosen at run time from M), and the same on generated code only.
bundle stories260K-dynamic 3e-2 3e-2 "$stories" "$ids"
bundle stories260K-dynamic-generic 1e-3 1e-4 "$stories" "$ids" --no-ukernels
bundle stories260K-int4 3e-2 3e-2 "$stories" "$ids" --input-shape input_ids=1x33 \
  --recipe "$root/recipes/rtn-4bit-g32.yaml"
bundle stories260K-nf4 3e-2 3e-2 "$stories" "$ids" --input-shape input_ids=1x33 \
  --recipe "$root/recipes/nf4.yaml"
bundle stories260K-int8 3e-2 3e-2 "$stories" "$ids" --input-shape input_ids=1x33 \
  --recipe "$root/recipes/rtn-8bit-g32.yaml"
bundle stories260K-ternary 3e-2 3e-2 "$stories" "$ids" --input-shape input_ids=1x33 \
  --recipe "$root/recipes/ternary.yaml"
bundle stories260K-sp24 3e-2 3e-2 "$work/sparse.mlir" "$ids"
# 2:4 by magnitude, then RTN int4 g32 on the kept values (recipes/2of4-int4.yaml needs
# calibration data; the kernel path is the same).
printf -- '- sparsify-nm: {method: magnitude, n: 2, m: 4}\n- quantize: {method: rtn, bits: 4, group: 32}\n' \
  > "$work/sp24int4.yaml"
bundle stories260K-sp24int4 3e-2 3e-2 "$stories" "$ids" --input-shape input_ids=1x33 \
  --recipe "$work/sp24int4.yaml"
for m in 130 5; do
  lids="input_ids=$work/llama_ids_$m.npy"
  shape="input_ids=1x$m"
  bundle "llama-f16-m$m" 3e-2 3e-2 "$work/llama/model_full.onnx" "$lids" --input-shape "$shape"
  bundle "llama-int4-m$m" 3e-2 3e-2 "$work/llama/model_full.onnx" "$lids" --input-shape "$shape" \
    --recipe "$root/recipes/rtn-4bit-g32.yaml"
  bundle "llama-nf4-m$m" 3e-2 3e-2 "$work/llama/model_full.onnx" "$lids" --input-shape "$shape" \
    --recipe "$root/recipes/nf4.yaml"
done
# Hopper: the same 130-token builds for sm_90a, whose linears run the wgmma kernels (and a 2:4 +
# int4 one: wgmma.sp).
if [ "$arch" = sm_90 ]; then
  lids="input_ids=$work/llama_ids_130.npy"
  arch=sm_90a bundle llama-f16-m130-sm90a 3e-2 3e-2 "$work/llama/model_full.onnx" "$lids" \
    --input-shape input_ids=1x130
  arch=sm_90a bundle llama-int4-m130-sm90a 3e-2 3e-2 "$work/llama/model_full.onnx" "$lids" \
    --input-shape input_ids=1x130 --recipe "$root/recipes/rtn-4bit-g32.yaml"
  arch=sm_90a bundle llama-nf4-m130-sm90a 3e-2 3e-2 "$work/llama/model_full.onnx" "$lids" \
    --input-shape input_ids=1x130 --recipe "$root/recipes/nf4.yaml"
  arch=sm_90a bundle llama-sp24int4-m130-sm90a 3e-2 3e-2 "$work/llama/model_full.onnx" "$lids" \
    --input-shape input_ids=1x130 --recipe "$work/sp24int4.yaml"
fi
# Greedy generation with the KV-cache export (dynamic past length: ABI 3) on the GPU, checked
# against the golden 120 tokens (run_all.sh's models step).
if [ -z "${SQZ_KIT_ONLY:-}" ] || [[ "generate" =~ ^(${SQZ_KIT_ONLY})$ ]]; then
  echo "== generate"
  gen="$kit/generate"
  mkdir -p "$gen"
  "$py" "$root/scripts/make_llama_onnx.py" --checkpoint "$root/models/stories260K/stories260K.bin" \
    --form kv -o "$work/kv" > /dev/null
  "$build/bin/sqz-compile" "$work/kv/model_kv.onnx" --target "cuda:$arch" -o "$gen/kv" > /dev/null
  "$py" -c "import numpy as np; np.save('$gen/bos.npy', np.array([[1]], np.int64))"
  cp "$root/models/stories260K/tok512.bin" "$root/models/stories260K/golden/greedy_120.txt" \
     "$root/models/stories260K/golden/greedy_120_tokens.json" \
     "$root/test/e2e/Inputs/check_generate.py" "$gen/"
fi
rm -rf "$work"
if [ "$(du -sm "$kit" | cut -f1)" -gt 60 ]; then
  echo "gpu_kit.sh: warning: $kit is over 60 MiB; the device tool carries at most 64 MiB" >&2
fi
echo "gpu kit ready: $kit ($(du -sh "$kit" | cut -f1), arch $arch); on the GPU machine: bash $kit/run_all.sh [OUT_DIR]"
