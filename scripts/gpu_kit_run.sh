#!/usr/bin/env bash
# run_all.sh of the GPU kit (scripts/gpu_kit.sh copies this file into the kit): every GPU check
# of issue 6, in order of importance, each under a time limit, on a machine with the NVIDIA
# driver (and PyTorch for the benchmark). Prints one "RESULT <step> <PASS|FAIL|SKIP> ..." line per
# step and a summary; logs go to OUT_DIR (default: $OUT when set, else <kit>/results).
#
# usage: run_all.sh [OUT_DIR]
# Environment: SQZ_KIT_BENCH=0 skips the benchmark; SQZ_KIT_BENCH_ARGS replaces its default
# arguments ("--iters 20 --batches 1,16,64,128": every format, the three default shapes);
# SQZ_KIT_BENCH_TIMEOUT (default 420 s) limits it; SQZ_KIT_STEP_TIMEOUT (seconds, default 240)
# limits each correctness step.
# Exit status: 0 if no step failed (skips allowed), 1 otherwise.
set -uo pipefail
kit="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-${OUT:-$kit/results}}"
mkdir -p "$out"
limit="${SQZ_KIT_STEP_TIMEOUT:-240}"
export SQZ_RUNTIME_LIB="$kit/lib/libsqz_runtime.so"
export SQZ_RUN="$kit/bin/sqz-run"
summary="$out/summary.txt"
: > "$summary"
failed=0
result() { # STEP STATUS DETAIL
  echo "RESULT $1 $2 $3" | tee -a "$summary"
  [ "$2" = FAIL ] && failed=1
  return 0
}
t0=$(date +%s)
{
  echo "kit: $kit"
  date -u
  command -v nvidia-smi > /dev/null &&
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
} 2>&1 | tee "$out/machine.txt"

step() { # NAME COMMAND...: runs under the time limit; 77 = skip (no driver / GPU)
  local name="$1"
  shift
  local s rc
  s=$(date +%s)
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  rc=$?
  local took=$(( $(date +%s) - s ))
  case $rc in
    0) result "$name" PASS "${took}s" ;;
    77) result "$name" SKIP "$(tail -n 1 "$out/$name.log")" ;;
    124) result "$name" FAIL "timed out after ${limit}s (log: $name.log)" ;;
    *) result "$name" FAIL "rc=$rc ${took}s (log: $name.log)"; tail -n 20 "$out/$name.log" ;;
  esac
  return $rc
}

# 1. The driver table (hand-written PTX): if this skips there is no usable GPU.
step device-test "$kit/unittests/CudaDeviceTest"
gpu=$?
if [ $gpu -eq 77 ]; then
  echo "no usable CUDA driver/GPU: skipping the rest"
  for s in kernel-tests bundles bench; do result "$s" SKIP "no GPU"; done
  echo "summary: $summary"
  exit 0
fi
# 2. Every kernel x variant x sm on odd shapes against the double reference.
step kernel-tests "$kit/unittests/CudaKernelGpuTests"
# 3. Whole models against the CPU build of the same model and recipe.
for b in "$kit"/bundles/*/; do
  name="$(basename "$b")"
  read -r rtol atol < "$b/tolerance"
  if ! step "model-$name" bash "$b/run_on_gpu.sh" "$rtol" "$atol" 20; then
    # Diagnosis: the same with synchronous allocation (cuMemAlloc/cuMemFree instead of the
    # stream-ordered pool).
    SQZ_CUDA_SYNC_ALLOC=1 step "model-$name-syncalloc" bash "$b/run_on_gpu.sh" "$rtol" "$atol" 1
  fi
  grep -E "expect|gpu compute|gpu total|median" "$out/model-$name.log" | sed "s/^/  $name: /"
done
# 4. The kernel benchmark (needs torch with CUDA): ours vs cuBLAS fp16 vs measured HBM bandwidth.
if [ "${SQZ_KIT_BENCH:-1}" != 0 ]; then
  args=${SQZ_KIT_BENCH_ARGS:-"--iters 20 --batches 1,16,64,128"}
  # --build: the bench picks sqz_cuk_test.sm90.ptx on sm_90+, else .sm80.ptx, under
  # <build>/unittests/Kernels/CUDA (the kit keeps that layout).
  # shellcheck disable=SC2086
  if timeout "${SQZ_KIT_BENCH_TIMEOUT:-420}" python3 "$kit/bench/cuda_bench.py" --build "$kit" \
       $args --markdown "$out/cuda_bench.md" > "$out/bench.log" 2>&1; then
    result bench PASS "table: cuda_bench.md"
  else
    result bench FAIL "rc=$? (log: bench.log)"
    tail -n 20 "$out/bench.log"
  fi
  cat "$out/bench.log"
fi
echo "total $(( $(date +%s) - t0 ))s; summary: $summary"
cat "$summary"
exit $failed
