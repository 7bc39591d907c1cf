#!/usr/bin/env bash
# Peak memory of the ONNX importer on a big model (bench/make_big_model.py): runs
#   sqz-translate --import-onnx MODEL -o /dev/null                       (prints the blobs as hex)
#   sqz-translate --import-onnx MODEL --mlir-elide-resource-strings-if-larger=16 -o /dev/null
#   sqz-compile MODEL --compile-to=import --mlir-elide-resource-strings-if-larger=16 >/dev/null
# on the inline and the external-data variant under /usr/bin/time -v and prints the weight bytes,
# the peak RSS and their ratio. sqz-translate (mlir-translate's driver) holds a heap copy of the
# whole input file while it imports; sqz-compile maps the file instead.
#
#   bench/import_memory.sh [DIR] [BUILD]   DIR: where the models are (made when missing;
#                                          default $TMPDIR/sqz-big), BUILD: build dir (default build)
# Generating the 1 GiB models takes a few minutes and needs ~4 GiB of memory and 2 GiB of disk.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-${TMPDIR:-/tmp}/sqz-big}"
BUILD="${2:-$ROOT/build}"
TRANSLATE="$BUILD/bin/sqz-translate"
COMPILE="$BUILD/bin/sqz-compile"
for tool in "$TRANSLATE" "$COMPILE"; do
  [ -x "$tool" ] || { echo "no $tool: build first (scripts/build.sh)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "no /usr/bin/time: apt-get install time (scripts/setup.sh)" >&2; exit 1; }

if [ ! -f "$DIR/inline/model.onnx" ] || [ ! -f "$DIR/external/model.onnx" ]; then
  /usr/bin/python3 "$ROOT/bench/make_big_model.py" "$DIR"
fi
WEIGHTS=$(cat "$DIR/weight_bytes")
echo "weights: $WEIGHTS bytes ($(awk -v b="$WEIGHTS" 'BEGIN{printf "%.2f", b/2^30}') GiB)"

measure() { # label, command...
  local label="$1"; shift
  local log
  log=$(mktemp)
  if ! /usr/bin/time -v "$@" >/dev/null 2>"$log"; then
    cat "$log" >&2; rm -f "$log"; return 1
  fi
  local kb secs
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
  rm -f "$log"
  awk -v l="$label" -v kb="$kb" -v w="$WEIGHTS" -v t="$secs" \
    'BEGIN{printf "%-40s peak RSS %8.0f MiB  ratio %.2f  (wall %s)\n", l, kb/1024, kb*1024/w, t}'
}

for variant in inline external; do
  model="$DIR/$variant/model.onnx"
  measure "$variant, sqz-translate, printed" "$TRANSLATE" --import-onnx "$model" -o /dev/null
  measure "$variant, sqz-translate, elided" "$TRANSLATE" --import-onnx "$model" \
    --mlir-elide-resource-strings-if-larger=16 -o /dev/null
  measure "$variant, sqz-compile import, elided" "$COMPILE" "$model" --compile-to=import \
    --mlir-elide-resource-strings-if-larger=16
done
