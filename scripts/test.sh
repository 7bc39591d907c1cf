#!/usr/bin/env bash
# Sets up, builds and runs every test: the lit suite (its sqz-opt tests once more with
# --verify-roundtrip) and the gtest unit tests, all through ctest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SQZ_BUILD_DIR:-$root/build}"
start=$(date +%s)
"$root/scripts/setup.sh"
t_setup=$(date +%s)
"$root/scripts/build.sh"
t_build=$(date +%s)
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
t_test=$(date +%s)
echo "test.sh: setup $((t_setup - start)) s, build $((t_build - t_setup)) s, tests $((t_test - t_build)) s"
