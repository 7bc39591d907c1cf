#!/usr/bin/env bash
# ctest CudaCopyArtifact (label gpu): sqz-run runs the CUDA artifact BindRuntimeTest makes from
# Inputs/host-launch.ll on GPU 0 (y = x through a device buffer and a kernel) and checks y.
# Exit 77 (skipped) when CudaDeviceTest --probe finds no usable GPU.
# usage: run-copy-artifact.sh CUDABindRuntimeTests CudaDeviceTest sqz-run ARTIFACT_DIR
set -euo pipefail
tests="$1" probe="$2" sqz_run="$3" art="$4"
"$probe" --probe || exit 77
"$tests" --gtest_filter=BindRuntimeTest.WritesRunnableCudaArtifact
"$sqz_run" "$art" --input x="$art/x.npy" --expect y="$art/y.npy" --output-dir "$art/out" \
  --rtol 0 --atol 0 --bench 10
# The ABI 2 variant: y is its weights file's tensor, uploaded to the GPU at load.
"$sqz_run" "$art/weighted" --input x="$art/weighted/x.npy" --expect y="$art/weighted/y.npy" \
  --output-dir "$art/weighted/out" --rtol 0 --atol 0
