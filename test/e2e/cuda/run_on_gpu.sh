#!/usr/bin/env bash
# Runs a bundle made by prepare_gpu_run.sh on a GPU machine: the CUDA artifact on the bundled
# inputs, every output compared with the CPU artifact's (--expect), then --bench. Needs only
# the NVIDIA driver (libcuda.so.1; $SQZ_CUDA_DRIVER names another file).
#
# usage: run_on_gpu.sh [RTOL [ATOL [BENCH_RUNS]]]   (defaults 1e-3 1e-4 20)
# Environment: SQZ_RUN (default: the bundle's bin/sqz-run), SQZ_GPU_DEVICE (default cuda).
# Exit status: sqz-run's (0 every output within tolerance, 1 a mismatch, 2 an error).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rtol="${1:-1e-3}" atol="${2:-1e-4}" bench="${3:-20}"
sqz_run="${SQZ_RUN:-$here/bin/sqz-run}"
# Libraries prepare_gpu_run.sh bundled (libomp.so.5) for the model library.
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi
args=()
while IFS= read -r line; do
  [ -n "$line" ] && args+=(--input "${line%%=*}=$here/${line#*=}")
done < "$here/inputs.txt"
while IFS= read -r line; do
  [ -n "$line" ] && args+=(--expect "${line%%=*}=$here/${line#*=}")
done < "$here/expected.txt"
exec "$sqz_run" "$here/cuda" --device "${SQZ_GPU_DEVICE:-cuda}" ${args[@]+"${args[@]}"} \
  --output-dir "$here/gpu-out" --rtol "$rtol" --atol "$atol" --bench "$bench"
