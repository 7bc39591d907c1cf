#!/usr/bin/env bash
# Installs every dependency of Squeeze from Debian's packages. Idempotent: when everything is
# already present it only checks and returns in about a second.
set -euo pipefail

PKGS=(
  cmake ninja-build pkg-config git
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22 libomp-22-dev
  libonnx-dev libprotobuf-dev protobuf-compiler libonnx-testdata
  python3-onnx python3-numpy python3-torch python3-yaml python3-pytest
  libgtest-dev libgmock-dev libbenchmark-dev libeigen3-dev pybind11-dev python3-dev zlib1g-dev libzstd-dev
  time
)

# onnxruntime-node (npm), the reference runtime of test/realmodels, into third_party/ort/
# (gitignored). Optional: without node/npm or a reachable registry setup only warns, and the
# tests that need it skip (lit feature `ort`).
ORT_VERSION=1.30.0
install_ort() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/third_party/ort"
  if grep -qs "\"version\": \"$ORT_VERSION\"" "$dir/node_modules/onnxruntime-node/package.json"; then
    return 0
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup: warning: node/npm not found; onnxruntime-node not installed (test/realmodels ORT checks will skip)"
    return 0
  fi
  echo "setup: installing onnxruntime-node@$ORT_VERSION into $dir"
  mkdir -p "$dir"
  # --ignore-scripts: the postinstall script downloads extra binaries (fails offline); the CPU
  # binding for linux-x64 is part of the package.
  if ! (cd "$dir" && timeout 600 npm install --ignore-scripts --save-exact --no-audit --no-fund \
        --loglevel=error "onnxruntime-node@$ORT_VERSION" >/dev/null 2>&1); then
    echo "setup: warning: npm install onnxruntime-node@$ORT_VERSION failed (registry unreachable?); test/realmodels ORT checks will skip"
  fi
  return 0
}

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages present"
  install_ort
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_ort
echo "setup: done"
