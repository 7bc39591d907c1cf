#!/usr/bin/env bash
# Sets up, builds, compiles the bundled default model and runs it against its reference.
#
# The default model is stories260K (models/stories260K/: a real, pretrained Llama-2-architecture
# TinyStories model, exported to ONNX opset 17). The demo compiles it with its batch and sequence
# dims dynamic, runs it with sqz-run on the golden 33-token prompt, checks the logits against the
# reference and shows the model's guess for the next token; then it exports the same checkpoint
# with a KV cache (scripts/make_llama_onnx.py) and generates the reference story token by token.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SQZ_BUILD_DIR:-$root/build}"
out="${SQZ_DEMO_OUT:-$build/demo}"
model="$root/models/stories260K"

echo "== setup";   "$root/scripts/setup.sh"
echo "== build";   "$root/scripts/build.sh"
echo "== compile $model/stories260K_opset17.onnx (batch and seq dynamic) -> $out/stories260K"
"$build/bin/sqz-compile" "$model/stories260K_opset17.onnx" -o "$out/stories260K"
echo "== run on the golden prompt; compare with the reference logits (atol 1e-4); time 20 runs"
"$build/bin/sqz-run" "$out/stories260K" --input "input_ids=$model/golden/prompt_ids.npy" \
  --expect "logits=$model/golden/prompt_logits.npy" --rtol 0 --atol 1e-4 --bench 20 \
  --output-dir "$out/stories260K/outputs"
echo "== what the model says"
/usr/bin/python3 "$root/python/llama2c_tokens.py" "$model/tok512.bin" \
  "$model/golden/prompt_ids.npy" "$out/stories260K/outputs/logits.npy"
echo "== export with a KV cache, compile, and let it tell a story (greedy, token by token)"
/usr/bin/python3 "$root/scripts/make_llama_onnx.py" --checkpoint "$model/stories260K.bin" \
  --form kv -o "$out/stories260K-kv-onnx" > /dev/null
"$build/bin/sqz-compile" "$out/stories260K-kv-onnx/model_kv.onnx" -o "$out/stories260K-kv"
"$build/bin/sqz-run" "$out/stories260K-kv" --generate 119 --prompt "" \
  --tokenizer "$model/tok512.bin"
echo "== done: stories260K compiled by Squeeze matches its reference logits"
