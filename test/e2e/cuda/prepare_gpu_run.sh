#!/usr/bin/env bash
# Prepares a bundle to run a model on a GPU machine that has only the NVIDIA driver (no
# compiler, no CUDA toolkit): the CUDA artifact, the same model compiled for the CPU, the
# inputs, the CPU artifact's outputs as the reference, a copy of sqz-run and run_on_gpu.sh.
# See docs/Runtime.md ("Taking an artifact to a GPU machine").
#
# usage: prepare_gpu_run.sh BUILD_DIR MODEL ARCH OUT_DIR NAME=INPUT.npy... [-- COMPILE_FLAGS...]
#   BUILD_DIR  a build tree with bin/sqz-compile and bin/sqz-run
#   MODEL      what sqz-compile takes (.onnx, .mlir)
#   ARCH       sm_80, sm_90 or sm_90a
# Then copy OUT_DIR to the GPU machine and run OUT_DIR/run_on_gpu.sh there.
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
build="$1" model="$2" arch="$3" out="$4"
shift 4
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bindings=() flags=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then
    shift
    flags=("$@")
    break
  fi
  bindings+=("$1")
  shift
done

rm -rf "$out"
mkdir -p "$out/inputs" "$out/expected" "$out/bin"
"$build/bin/sqz-compile" "$model" --target "cuda:$arch" -o "$out/cuda" ${flags[@]+"${flags[@]}"}
"$build/bin/sqz-compile" "$model" -o "$out/cpu" ${flags[@]+"${flags[@]}"}
if [ -x /usr/local/cuda/bin/ptxas ] && [ -f "$out/cuda/model.ptx" ]; then
  /usr/local/cuda/bin/ptxas -arch="$arch" "$out/cuda/model.ptx" -o /dev/null
  echo "ptxas -arch=$arch: model.ptx assembles"
fi

: > "$out/inputs.txt"
cpu_args=()
i=0
for binding in "${bindings[@]}"; do
  name="${binding%%=*}" file="${binding#*=}"
  cp "$file" "$out/inputs/$i.npy"
  printf '%s=inputs/%s.npy\n' "$name" "$i" >> "$out/inputs.txt"
  cpu_args+=(--input "$name=$file")
  i=$((i + 1))
done
# The CPU outputs are the reference: "wrote NAME TYPE -> PATH" names each one.
"$build/bin/sqz-run" "$out/cpu" ${cpu_args[@]+"${cpu_args[@]}"} --output-dir "$out/expected" |
  tee "$out/cpu-run.txt"
sed -n 's|^wrote \(.*\) [^ ]* -> .*/\([^/]*\)$|\1=expected/\2|p' "$out/cpu-run.txt" > "$out/expected.txt"
rm "$out/cpu-run.txt"

cp "$build/bin/sqz-run" "$out/bin/sqz-run"
# Libraries the model library needs beyond the C runtime (libomp.so.5 from the LLVM
# installation: the GPU machine has no LLVM) go to lib/, which run_on_gpu.sh puts on
# LD_LIBRARY_PATH (searched before the library's RUNPATH).
mkdir -p "$out/lib"
ldd "$out/cuda/model.so" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' |
  while read -r lib; do
    case "$lib" in
      /lib/*|/lib64/*|/usr/lib/x86_64-linux-gnu/*) ;;
      *) cp -L "$lib" "$out/lib/" && echo "bundled $lib" ;;
    esac
  done
cp "$here/run_on_gpu.sh" "$out/run_on_gpu.sh"
echo "sqz-run needs: $(ldd "$out/bin/sqz-run" | awk '{print $1}' | tr '\n' ' ')"
echo "bundle ready: $out (copy it to the GPU machine and run $out/run_on_gpu.sh there)"
