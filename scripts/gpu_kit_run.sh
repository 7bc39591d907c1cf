#!/usr/bin/env bash
# run_all.sh of the GPU kit (scripts/gpu_kit.sh copies this file into the kit): the GPU checks
# of issue 6, in order of importance, on a machine with the NVIDIA driver (and PyTorch for the
# benchmark). Prints one "RESULT <step> <PASS|FAIL|SKIP> ..." line per step and a summary; logs
# go to OUT_DIR (default: $OUT when set, else <kit>/results).
#
# usage: run_all.sh [OUT_DIR]
# Environment:
#   SQZ_KIT_STEPS     which steps, comma-separated (default tests,models,bench): tests =
#                     CudaDeviceTest + CudaKernelGpuTests, models = the bundles, bench =
#                     bench/cuda_bench.py. With the device tool's 10-minute commands, run
#                     "tests,models" in one command and "bench" in the next.
#   SQZ_KIT_DEADLINE  seconds for the whole run (default 540): no step starts after it, and each
#                     step's limit is cut to the time left.
#   SQZ_KIT_STEP_TIMEOUT  seconds per correctness step (default 180).
#   SQZ_KIT_BENCH_ARGS    the benchmark's arguments (default: every format, 4096x4096 and
#                     4096x14336, batches 1,16,64,128,256, --iters 20); its output is unbuffered, so
#                     a cut-off run still leaves the rows it finished in bench.log.
# Exit status: 0 if no step failed (skips allowed), 1 otherwise.
set -uo pipefail
kit="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-${OUT:-$kit/results}}"
mkdir -p "$out"
steps=",${SQZ_KIT_STEPS:-tests,models,bench},"
deadline=$(( $(date +%s) + ${SQZ_KIT_DEADLINE:-540} ))
limit="${SQZ_KIT_STEP_TIMEOUT:-180}"
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
wants() { [[ "$steps" == *",$1,"* ]]; }
t0=$(date +%s)
{
  echo "kit: $kit"
  date -u
  command -v nvidia-smi > /dev/null &&
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
} 2>&1 | tee "$out/machine.txt"

step() { # NAME MAX_SECONDS COMMAND...: rc 77 = skip (no driver / GPU); returns the rc
  local name="$1" max="$2"
  shift 2
  local s left rc
  s=$(date +%s)
  left=$(( deadline - s ))
  if [ "$left" -le 5 ]; then
    result "$name" SKIP "no time left (SQZ_KIT_DEADLINE)"
    return 124
  fi
  [ "$max" -gt "$left" ] && max=$left
  timeout "$max" "$@" > "$out/$name.log" 2>&1
  rc=$?
  local took=$(( $(date +%s) - s ))
  case $rc in
    0) result "$name" PASS "${took}s" ;;
    77) result "$name" SKIP "$(tail -n 1 "$out/$name.log")" ;;
    124) result "$name" FAIL "timed out after ${max}s (log: $name.log)" ;;
    *) result "$name" FAIL "rc=$rc ${took}s (log: $name.log)"; tail -n 20 "$out/$name.log" ;;
  esac
  return $rc
}

# The driver table (hand-written PTX): if this skips there is no usable GPU.
step device-test 60 "$kit/unittests/CudaDeviceTest"
if [ $? -eq 77 ]; then
  echo "no usable CUDA driver/GPU: skipping the rest"
  for s in kernel-tests bundles bench; do result "$s" SKIP "no GPU"; done
  echo "summary: $summary"
  exit 0
fi
# Every kernel x variant x sm on odd shapes against the double reference.
wants tests && step kernel-tests "$limit" "$kit/unittests/CudaKernelGpuTests"
# Whole models against the CPU build of the same model and recipe.
if wants models; then
  for b in "$kit"/bundles/*/; do
    name="$(basename "$b")"
    read -r rtol atol < "$b/tolerance"
    step "model-$name" "$limit" bash "$b/run_on_gpu.sh" "$rtol" "$atol" 20
    rc=$?
    if [ $rc -ge 2 ] && [ $rc -ne 77 ] && [ $rc -ne 124 ]; then
      # An error (not a tolerance miss): the same with synchronous allocation (cuMemAlloc /
      # cuMemFree instead of the stream-ordered pool), to tell the two apart.
      SQZ_CUDA_SYNC_ALLOC=1 step "model-$name-syncalloc" 60 bash "$b/run_on_gpu.sh" "$rtol" "$atol" 1
    fi
    grep -E "expect|gpu compute|gpu total|median" "$out/model-$name.log" | sed "s/^/  $name: /"
  done
  # Greedy decoding with the KV-cache artifact (dynamic shapes) against the golden tokens.
  if [ -d "$kit/generate" ]; then
    g="$kit/generate"
    step generate "$limit" bash -c "'$kit/bin/sqz-run' '$g/kv' --device cuda --generate 119 \
      --prompt-ids '$g/bos.npy' --tokenizer '$g/tok512.bin' > '$out/greedy.txt' &&
      python3 '$g/check_generate.py' '$out/greedy.txt' '$g/greedy_120_tokens.json' \
      '$g/greedy_120.txt' && grep -E 'prefill|decode|mode' '$out/greedy.txt'"
  fi
fi
# The kernel benchmark (needs torch with CUDA): ours vs cuBLAS fp16 vs measured HBM bandwidth.
if wants bench; then
  args=${SQZ_KIT_BENCH_ARGS:-"--iters 20 --shapes 4096x4096,4096x14336 --batches 1,16,64,128,256"}
  # --build: the bench picks sqz_cuk_test.sm90.ptx on sm_90+, else .sm80.ptx, under
  # <build>/unittests/Kernels/CUDA (the kit keeps that layout).
  # shellcheck disable=SC2086
  step bench 600 python3 -u "$kit/bench/cuda_bench.py" --build "$kit" $args \
    --markdown "$out/cuda_bench.md"
  cat "$out/bench.log"
fi
echo "total $(( $(date +%s) - t0 ))s; summary: $summary"
cat "$summary"
exit $failed
