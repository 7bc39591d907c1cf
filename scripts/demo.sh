#!/usr/bin/env bash
# Sets up, builds, compiles the bundled default model and runs it against its reference.
#
# The default model is stories260K (models/stories260K/: a real, pretrained Llama-2-architecture
# TinyStories model, exported to ONNX opset 17). The demo compiles it for a 33-token prompt, runs
# it with sqz-run, checks the logits against the golden reference and shows the model's guess
# for the next token.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SQZ_BUILD_DIR:-$root/build}"
out="${SQZ_DEMO_OUT:-$build/demo}"
model="$root/models/stories260K"

echo "== setup";   "$root/scripts/setup.sh"
echo "== build";   "$root/scripts/build.sh"
echo "== compile $model/stories260K_opset17.onnx (input_ids pinned to 1x33) -> $out/stories260K"
"$build/bin/sqz-compile" "$model/stories260K_opset17.onnx" --input-shape input_ids=1x33 \
  -o "$out/stories260K"
echo "== run on the golden prompt; compare with the reference logits (atol 1e-4); time 20 runs"
"$build/bin/sqz-run" "$out/stories260K" --input "input_ids=$model/golden/prompt_ids.npy" \
  --expect "logits=$model/golden/prompt_logits.npy" --rtol 0 --atol 1e-4 --bench 20 \
  --output-dir "$out/stories260K/outputs"
echo "== what the model says"
/usr/bin/python3 "$root/python/llama2c_tokens.py" "$model/tok512.bin" \
  "$model/golden/prompt_ids.npy" "$out/stories260K/outputs/logits.npy"
echo "== compile for 120 positions and let it tell a story (greedy, token by token)"
"$build/bin/sqz-compile" "$model/stories260K_opset17.onnx" --input-shape input_ids=1x120 \
  -o "$out/stories260K-120"
"$build/bin/sqz-run" "$out/stories260K-120" --generate 119 --prompt "" \
  --tokenizer "$model/tok512.bin"
echo "== done: stories260K compiled by Squeeze matches its reference logits"
