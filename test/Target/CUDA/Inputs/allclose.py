"""Compares two printMemref outputs (mlir-runner) number by number.

Usage: allclose.py ACTUAL EXPECTED [--rtol R] [--atol A]
Lines naming a memref's address ("Unranked Memref base@ = 0x...") must match apart from the
address; every other token must be equal, numbers within atol + rtol * |expected| (NaN equal
to NaN; integers, e.g. printed bit patterns, compared exactly as integers, so atol 2 with rtol 0
on f64 bits means 2 units in the last place). Prints the largest difference found. Prints the first mismatch and exits 1, or prints how many numbers matched.
"""
import argparse
import math
import re
import sys

p = argparse.ArgumentParser()
p.add_argument("actual")
p.add_argument("expected")
p.add_argument("--rtol", type=float, default=1e-5)
p.add_argument("--atol", type=float, default=1e-6)
args = p.parse_args()

TOKEN = re.compile(r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf)|[^\s\d]+", re.I)


def tokens(path):
    out = []
    for line_no, line in enumerate(open(path), 1):
        line = re.sub(r"base@ = 0x[0-9a-f]+", "base@", line)
        out += [(line_no, t) for t in TOKEN.findall(line)]
    return out


def number(t):
    """An int (compared exactly: printed bit patterns) or a float, or None."""
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return None


a, e = tokens(args.actual), tokens(args.expected)
if len(a) != len(e):
    sys.exit(f"allclose: {len(a)} tokens in {args.actual}, {len(e)} in {args.expected}")
numbers = 0
largest = 0
for (la, ta), (le, te) in zip(a, e):
    x, y = number(ta), number(te)
    if x is None or y is None:
        if ta != te:
            sys.exit(f"allclose: line {la}: '{ta}' where the reference (line {le}) has '{te}'")
        continue
    numbers += 1
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        continue
    largest = max(largest, abs(x - y))
    if not abs(x - y) <= args.atol + args.rtol * abs(y):
        sys.exit(f"allclose: line {la}: {x} where the reference (line {le}) has {y} "
                 f"(rtol {args.rtol}, atol {args.atol})")
if numbers == 0:
    sys.exit("allclose: no numbers to compare")
print(f"allclose: {numbers} numbers match (largest difference {largest:g})")
