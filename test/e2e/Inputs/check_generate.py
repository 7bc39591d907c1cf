"""Checks `sqz-run --generate` output against a golden continuation.

usage: check_generate.py SQZ_RUN_OUTPUT GOLDEN_TOKENS.json [GOLDEN_TEXT.txt]
Prints 'ids: OK (N tokens)' and 'text: OK' (or what differs) and exits non-zero on a mismatch.
"""
import json
import sys

out = open(sys.argv[1]).read()
lines = out.splitlines()
prompt = next(l for l in lines if l.startswith("prompt: "))[len("prompt: "):]
generated = next(l for l in lines if l.startswith("generated: "))[len("generated: "):]
ids = [int(x) for x in prompt.split()] + [int(x) for x in generated.split()]
golden = json.load(open(sys.argv[2]))
ok = ids == golden
if ok:
    print("ids: OK (%d tokens)" % len(ids))
else:
    first = next((i for i, (a, b) in enumerate(zip(ids, golden)) if a != b), min(len(ids), len(golden)))
    print("ids: MISMATCH at %d: got %s, want %s" % (first, ids[first:first + 5], golden[first:first + 5]))
if len(sys.argv) > 3:
    text = out[out.index("text: ") + len("text: "):out.index("\nprefill: ")]
    want = open(sys.argv[3]).read().rstrip("\n")
    print("text: OK" if text == want else "text: MISMATCH")
    ok = ok and text == want
sys.exit(0 if ok else 1)
