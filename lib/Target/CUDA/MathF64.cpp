//===- MathF64.cpp - f64 math functions without libdevice -----------------===//
//
// sqz-cuda-expand-math's f64 code: exp and log (range reduction and series), and from them
// and a few series of their own expm1, log1p, tanh, cbrt, sin, cos, atan, atan2, asin, acos,
// erf and erfc. Only arithmetic, fma, sqrt, floor, copysign and bit operations: what the NVPTX
// backend has instructions for. The series are Taylor series truncated below the f64
// rounding error on their reduced ranges.
//
//===----------------------------------------------------------------------===//

#include "MathF64.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <limits>

using namespace mlir;

// The constants computed here (atan(k/4) in two parts, the erfcx series) need a long double
// wider than double.
static_assert(std::numeric_limits<long double>::digits >= 64,
              "MathF64.cpp needs an 80- or 128-bit long double");

namespace {

/// f64 constants, arithmetic and bit casts.
struct F64Builder {
  OpBuilder &b;
  Location loc;
  Value c(double v) { return arith::ConstantOp::create(b, loc, b.getF64FloatAttr(v)); }
  Value ci(int64_t v) { return arith::ConstantIntOp::create(b, loc, b.getI64Type(), v); }
  Value bits(Value x) { return arith::BitcastOp::create(b, loc, b.getI64Type(), x); }
  Value fromBits(Value i) { return arith::BitcastOp::create(b, loc, b.getF64Type(), i); }
  Value fma(Value x, Value y, Value z) { return math::FmaOp::create(b, loc, x, y, z); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value neg(Value x) { return arith::NegFOp::create(b, loc, x); }
  Value abs(Value x) { return math::AbsFOp::create(b, loc, x); }
  Value sqrt(Value x) { return math::SqrtOp::create(b, loc, x); }
  Value floor(Value x) { return math::FloorOp::create(b, loc, x); }
  Value copysign(Value x, Value y) { return math::CopySignOp::create(b, loc, x, y); }
  Value min(Value x, Value y) { return arith::MinimumFOp::create(b, loc, x, y); }
  Value max(Value x, Value y) { return arith::MaximumFOp::create(b, loc, x, y); }
  Value cmp(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, loc, p, x, y);
  }
  Value lt(Value x, double y) { return cmp(arith::CmpFPredicate::OLT, x, c(y)); }
  Value gt(Value x, double y) { return cmp(arith::CmpFPredicate::OGT, x, c(y)); }
  Value eq(Value x, double y) { return cmp(arith::CmpFPredicate::OEQ, x, c(y)); }
  Value isNaN(Value x) { return cmp(arith::CmpFPredicate::UNO, x, x); }
  Value orI(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value andI(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  /// Whether the sign bit of x is set (also for -0 and NaNs).
  Value signBit(Value x) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, bits(x), ci(0));
  }
  Value select(Value c, Value x, Value y) { return arith::SelectOp::create(b, loc, c, x, y); }
  Value select(Value c, double x, Value y) { return select(c, this->c(x), y); }
  /// 2^k for an i64 k in the normal range [-1022, 1023].
  Value pow2(Value k) {
    return fromBits(arith::ShLIOp::create(b, loc, arith::AddIOp::create(b, loc, k, ci(1023)),
                                          ci(52)));
  }
  /// Horner: coeffs[0] + x * (coeffs[1] + x * (...)).
  Value poly(Value x, ArrayRef<double> coeffs) {
    Value p = c(coeffs.back());
    for (double k : llvm::reverse(coeffs.drop_back()))
      p = fma(p, x, c(k));
    return p;
  }
  /// hi - y + lo for a constant hi + lo (y small next to hi).
  Value minus(double hi, double lo, Value y) { return add(sub(c(hi), y), c(lo)); }
};

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// ln 2 split for Cody-Waite reduction (the high part has 32 trailing zero bits).
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
// pi / 2, pi and pi / 4 as the nearest double plus the rest.
constexpr double kPio2Hi = 1.57079632679489655800e+00, kPio2Lo = 6.12323399573676603587e-17;
constexpr double kPiHi = 3.14159265358979311600e+00, kPiLo = 1.22464679914735317720e-16;
// pi / 2 in four parts for sin/cos: the first two have 33 significant bits, so k times them
// is exact for |k| < 2^20.
constexpr double kPio2P1 = 1.57079632673412561417e+00;
constexpr double kPio2P2 = 6.07710050630396597660e-11;
constexpr double kPio2P3 = 2.02226624871116645580e-21;
constexpr double kPio2P4 = 8.47842766036889956997e-32;

/// Taylor coefficients s_k / (first + step k)! for k = 0 .. n-1, with s_0 = 1, or -1 when
/// `negativeFirst`, and the sign alternating from term to term when `alternate`.
SmallVector<double> factorialSeries(int first, int step, int n, bool negativeFirst = false,
                                    bool alternate = false) {
  SmallVector<double> out;
  long double sign = negativeFirst ? -1 : 1;
  for (int k = 0; k < n; ++k) {
    long double f = 1;
    for (int i = 2; i <= first + step * k; ++i)
      f *= i;
    out.push_back(static_cast<double>(sign / f));
    if (alternate)
      sign = -sign;
  }
  return out;
}

/// exp(x): x = k ln2 + r with |r| <= ln2 / 2, exp(r) by its Taylor series to r^13
/// (truncation below 1e-17 relative), times 2^k as two normal powers of two (so that
/// subnormal results and overflow to inf come out of the multiplication). x is clamped to
/// [-746, 710] first (exp is 0 / inf beyond); NaN stays NaN.
Value expF64(F64Builder &f, Value x) {
  Value xc = f.min(f.max(x, f.c(-746.0)), f.c(710.0));
  Value kf = f.floor(f.fma(xc, f.c(1.44269504088896338700e+00), f.c(0.5)));
  Value r = f.fma(kf, f.c(-kLn2Hi), xc);
  r = f.fma(kf, f.c(-kLn2Lo), r);
  Value p = f.poly(r, factorialSeries(0, 1, 14));
  Value k = arith::FPToSIOp::create(f.b, f.loc, f.b.getI64Type(), kf);
  Value k1 = arith::ShRSIOp::create(f.b, f.loc, k, f.ci(1));
  Value k2 = arith::SubIOp::create(f.b, f.loc, k, k1);
  Value y = f.mul(f.mul(p, f.pow2(k1)), f.pow2(k2));
  return f.select(f.isNaN(x), x, y);
}

/// log(x): x = m 2^e with m in [sqrt(1/2), sqrt(2)) (subnormals scaled by 2^54 first),
/// log(m) = 2 atanh(s) with s = (m - 1) / (m + 1), |s| <= 0.1716, by its series to s^21
/// (truncation below 1e-18 relative), plus e ln2 in two parts. log(0) = -inf, log(x < 0) =
/// NaN, log(inf) = inf, NaN stays NaN.
Value logF64(F64Builder &f, Value x) {
  OpBuilder &ob = f.b;
  Location loc = f.loc;
  Value tiny = f.lt(x, 0x1p-1022);
  Value xs = f.select(tiny, f.mul(x, f.c(0x1p54)), x);
  Value bits = f.bits(xs);
  Value e = arith::SubIOp::create(ob, loc, arith::ShRUIOp::create(ob, loc, bits, f.ci(52)),
                                  f.ci(1023));
  e = arith::SubIOp::create(ob, loc, e,
                            arith::SelectOp::create(ob, loc, tiny, f.ci(54), f.ci(0)));
  Value m = f.fromBits(
      f.orI(f.andI(bits, f.ci(0x000FFFFFFFFFFFFFll)), f.ci(0x3FF0000000000000ll)));
  Value big = f.gt(m, 1.41421356237309504880);
  m = f.select(big, f.mul(m, f.c(0.5)), m);
  e = arith::AddIOp::create(ob, loc, e, arith::SelectOp::create(ob, loc, big, f.ci(1), f.ci(0)));
  Value s = f.div(f.sub(m, f.c(1.0)), f.add(m, f.c(1.0)));
  Value s2 = f.mul(s, s);
  SmallVector<double> series; // 1/3, 1/5, ..., 1/21 (the s^1 term is added separately)
  for (int n = 3; n <= 21; n += 2)
    series.push_back(1.0 / n);
  Value tail = f.mul(f.mul(s, s2), f.poly(s2, series)); // s^3/3 + s^5/5 + ...
  Value logm = f.mul(f.c(2.0), f.add(s, tail));
  Value ef = arith::SIToFPOp::create(ob, loc, ob.getF64Type(), e);
  Value y = f.fma(ef, f.c(kLn2Hi), f.fma(ef, f.c(kLn2Lo), logm));
  y = f.select(f.eq(x, kInf), kInf, y);
  y = f.select(f.eq(x, 0.0), -kInf, y);
  y = f.select(f.lt(x, 0.0), kNaN, y);
  return f.select(f.isNaN(x), x, y);
}

/// expm1(x): for |x| < 1/2 x times the Taylor series of (e^x - 1) / x to x^17 (truncation
/// below 1e-21 relative); else exp(x) - 1 (no cancellation beyond a bit there).
Value expm1F64(F64Builder &f, Value x) {
  Value small = f.mul(x, f.poly(x, factorialSeries(1, 1, 18)));
  return f.select(f.lt(f.abs(x), 0.5), small, f.sub(expF64(f, x), f.c(1.0)));
}

/// log1p(x) = log(u) * x / (u - 1) with u = 1 + x (the rounding of u cancels), x when u
/// rounds to 1; log1p(inf) = inf.
Value log1pF64(F64Builder &f, Value x) {
  Value u = f.add(f.c(1.0), x);
  Value d = f.sub(u, f.c(1.0));
  Value y = f.mul(logF64(f, u), f.div(x, d));
  y = f.select(f.eq(d, 0.0), x, y);
  return f.select(f.eq(x, kInf), kInf, y);
}

/// tanh(x) = t / (t + 2) with t = expm1(2|x|), the sign of x; 1 beyond |x| = 22.
Value tanhF64(F64Builder &f, Value x) {
  Value a = f.abs(x);
  Value t = expm1F64(f, f.add(a, a));
  Value y = f.select(f.gt(a, 22.0), 1.0, f.div(t, f.add(t, f.c(2.0))));
  return f.copysign(y, x);
}

/// cbrt(x): y = exp(log|x| / 3), then one Newton step y - (y^3 - |x|) / (3 y^2) with the
/// residual y^3 - |x| from fma (y^2 in two parts), so only the last rounding is left; |x|
/// below 2^-500 is scaled by 2^600 first (and y by 2^-200 after). The sign of x; 0, inf and
/// NaN stay.
Value cbrtF64(F64Builder &f, Value x) {
  Value a = f.abs(x);
  Value tiny = f.lt(a, 0x1p-500);
  Value as = f.select(tiny, f.mul(a, f.c(0x1p600)), a);
  Value y = expF64(f, f.mul(logF64(f, as), f.c(1.0 / 3.0)));
  Value y2 = f.mul(y, y);
  Value y2lo = f.fma(y, y, f.neg(y2));
  Value residual = f.fma(y2lo, y, f.fma(y2, y, f.neg(as)));
  y = f.sub(y, f.div(residual, f.mul(f.c(3.0), y2)));
  y = f.select(tiny, f.mul(y, f.c(0x1p-200)), y);
  Value keep = f.orI(f.orI(f.eq(a, 0.0), f.eq(a, kInf)), f.isNaN(x));
  return f.select(keep, x, f.copysign(y, x));
}

/// sin(x) or cos(x): x = k pi/2 + r (Cody-Waite, pi/2 in four parts), sin(r) and cos(r) by
/// Taylor series to r^21 and r^22 on |r| <= pi/4 (truncation below 1e-22), chosen and
/// negated by k mod 4. NaN for |x| > 2^40 (about 1.1e12), where this reduction's error
/// starts to show (libdevice reduces exactly at any size), and for non-finite x.
Value sinCosF64(F64Builder &f, Value x, bool cosine) {
  Value finite = f.cmp(arith::CmpFPredicate::OLE, f.abs(x), f.c(0x1p40));
  Value xs = f.select(finite, x, f.c(0.0));
  Value kf = f.floor(f.fma(xs, f.c(0.63661977236758134308), f.c(0.5)));
  Value nk = f.neg(kf);
  Value r = f.fma(nk, f.c(kPio2P1), xs);
  r = f.fma(nk, f.c(kPio2P2), r);
  r = f.fma(nk, f.c(kPio2P3), r);
  r = f.fma(nk, f.c(kPio2P4), r);
  Value r2 = f.mul(r, r);
  // sin r = r + r^3 (-1/3! + r^2/5! - ...), cos r = 1 + r^2 (-1/2! + r^2/4! - ...).
  SmallVector<double> sinTail = factorialSeries(3, 2, 10, /*negativeFirst=*/true, true);
  SmallVector<double> cosTail = factorialSeries(2, 2, 11, /*negativeFirst=*/true, true);
  Value s = f.fma(f.mul(r, r2), f.poly(r2, sinTail), r);
  s = f.select(f.eq(r, 0.0), r, s); // sin(-0) = -0
  Value c = f.fma(r2, f.poly(r2, cosTail), f.c(1.0));
  // q = k mod 4 in f64 (exact), then its bits: odd q swaps sin and cos, and the sign flips
  // for sin at q = 2, 3 and for cos at q = 1, 2.
  Value q = f.sub(kf, f.mul(f.c(4.0), f.floor(f.mul(kf, f.c(0.25)))));
  Value odd = f.orI(f.eq(q, 1.0), f.eq(q, 3.0));
  Value negate = cosine ? f.orI(f.eq(q, 1.0), f.eq(q, 2.0)) : f.orI(f.eq(q, 2.0), f.eq(q, 3.0));
  Value y = cosine ? f.select(odd, s, c) : f.select(odd, c, s);
  y = f.select(negate, f.neg(y), y);
  return f.select(finite, y, f.c(kNaN));
}

/// atan(t) for t in [0, 1] (or NaN): t = c + d with c = k/4 the nearest quarter, atan(t) =
/// atan(c) + atan(v), v = (t - c) / (1 + t c), |v| <= 1/8, atan(v) by its Taylor series to
/// v^23 (truncation below 1e-23); atan(c) in two parts.
Value atanUnitF64(F64Builder &f, Value t) {
  Value k = f.floor(f.fma(t, f.c(4.0), f.c(0.5)));
  Value c = f.mul(k, f.c(0.25));
  Value v = f.div(f.sub(t, c), f.fma(t, c, f.c(1.0)));
  Value v2 = f.mul(v, v);
  SmallVector<double> tail; // -1/3, 1/5, -1/7, ... (the v^1 term is added separately)
  for (int n = 1; n <= 11; ++n)
    tail.push_back((n % 2 ? -1.0 : 1.0) / (2 * n + 1));
  Value atanV = f.fma(f.mul(v, v2), f.poly(v2, tail), v);
  Value hi = f.c(0.0), lo = f.c(0.0);
  for (int i = 1; i <= 4; ++i) {
    long double exact = std::atan(static_cast<long double>(i) / 4);
    double h = static_cast<double>(exact);
    double l = static_cast<double>(exact - h);
    Value is = f.eq(k, static_cast<double>(i));
    hi = f.select(is, h, hi);
    lo = f.select(is, l, lo);
  }
  return f.add(hi, f.add(atanV, lo));
}

/// atan(x): atan(|x|), or pi/2 - atan(1 / |x|) beyond 1, with the sign of x.
Value atanF64(F64Builder &f, Value x) {
  Value a = f.abs(x);
  Value inv = f.gt(a, 1.0);
  Value y = atanUnitF64(f, f.select(inv, f.div(f.c(1.0), a), a));
  y = f.select(inv, f.minus(kPio2Hi, kPio2Lo, y), y);
  return f.copysign(y, x);
}

/// atan2(y, x): r = atan(min / max) of |x| and |y|, then with one rounding r, pi/2 - r,
/// pi - r or pi/2 + r as |y| > |x| and x is negative (or -0), with the sign of y; the C99
/// special values (both zero: 0 or pi; both infinite: pi/4 or 3pi/4; NaN).
Value atan2F64(F64Builder &f, Value y, Value x) {
  Value ax = f.abs(x), ay = f.abs(y);
  Value mx = f.max(ax, ay), mn = f.min(ax, ay);
  Value r = atanUnitF64(f, f.div(mn, mx));
  r = f.select(f.eq(mx, 0.0), 0.0, r);
  r = f.select(f.andI(f.eq(ax, kInf), f.eq(ay, kInf)), 0.78539816339744827900, r);
  Value swap = f.cmp(arith::CmpFPredicate::OGT, ay, ax);
  Value negative = f.signBit(x);
  // base: 0 (neither), pi/2 (swapped, either sign of x), pi (x negative only); r is
  // subtracted when exactly one of the two holds.
  Value baseHi = f.select(swap, kPio2Hi, f.select(negative, kPiHi, f.c(0.0)));
  Value baseLo = f.select(swap, kPio2Lo, f.select(negative, kPiLo, f.c(0.0)));
  Value subtract = arith::XOrIOp::create(f.b, f.loc, swap, negative);
  r = f.add(baseHi, f.add(f.select(subtract, f.neg(r), r), baseLo));
  r = f.copysign(r, y);
  return f.select(f.orI(f.isNaN(x), f.isNaN(y)), kNaN, r);
}

/// asin(x) = atan2(x, sqrt((1 - x)(1 + x))); NaN beyond |x| = 1.
Value asinF64(F64Builder &f, Value x) {
  Value one = f.c(1.0);
  return atan2F64(f, x, f.sqrt(f.mul(f.sub(one, x), f.add(one, x))));
}

/// acos(x) = 2 atan2(sqrt(1 - x), sqrt(1 + x)); NaN beyond |x| = 1.
Value acosF64(F64Builder &f, Value x) {
  Value one = f.c(1.0);
  Value h = atan2F64(f, f.sqrt(f.sub(one, x)), f.sqrt(f.add(one, x)));
  return f.add(h, h);
}

// erfc(x) for x in [0, 6) as exp(-x^2) g(x), g = erfcx by its Taylor series around the
// nearest of the centers 0.25, 0.75, ..., 5.75 (|h| <= 1/4) to h^(kErfcTerms - 1).
constexpr int kErfcCenters = 12, kErfcTerms = 27;

/// The Taylor coefficients of erfcx(c + h) in h: a0 = erfc(c) e^(c^2), then from
/// erfcx' = 2 x erfcx - 2 / sqrt(pi): (n + 1) a(n+1) = 2 c a(n) + 2 a(n-1) - [n = 0] 2/sqrt(pi),
/// in long double (the recurrence's growing solution amplifies a0's error by at most
/// e^(2 c h + h^2) < 30 on |h| <= 1/4).
SmallVector<double> erfcxSeries(long double c) {
  const long double twoOverSqrtPi = 1.128379167095512573896158903121545172L;
  SmallVector<long double> a = {std::erfc(c) * std::exp(c * c)};
  a.push_back(2 * c * a[0] - twoOverSqrtPi);
  for (int n = 1; n + 1 < kErfcTerms; ++n)
    a.push_back((2 * c * a[n] + 2 * a[n - 1]) / (n + 1));
  return SmallVector<double>(llvm::map_range(a, [](long double v) { return double(v); }));
}

/// erf(x) for |x| < 1/2: x times its Taylor series in x^2 to x^27 (truncation below 1e-19).
Value erfSmallF64(F64Builder &f, Value x) {
  SmallVector<double> series;
  long double factorial = 1;
  for (int n = 0; n < 14; ++n) {
    if (n)
      factorial *= n;
    series.push_back(static_cast<double>((n % 2 ? -1.0L : 1.0L) *
                                         1.128379167095512573896158903121545172L /
                                         (factorial * (2 * n + 1))));
  }
  return f.mul(x, f.poly(f.mul(x, x), series));
}

/// erfc(a) for a >= 0 (or NaN): exp(-a^2) with a^2 in two parts (fma), times erfcx(a) from
/// the centered series below 6 and from 6 on from the continued fraction
/// 1 / sqrt(pi) / (a + (1/2) / (a + 1 / (a + (3/2) / (a + ...)))) to 18 levels (truncation
/// below 1e-19 there); 0 beyond 28 (a subnormal from 26.6, 0 from 27.3; also for a = inf).
Value erfcNonNegF64(F64Builder &f, Value a) {
  Value hi = f.mul(a, a);
  Value lo = f.fma(a, a, f.neg(hi));
  Value e = expF64(f, f.neg(hi));
  e = f.fma(f.neg(e), lo, e); // e^(-hi - lo) = e^(-hi) (1 - lo), |lo| <= 2^-44
  // The centered series: j = min(floor(2 a), 11), h = a - (j + 1/2) / 2.
  Value j = f.min(f.floor(f.mul(a, f.c(2.0))), f.c(kErfcCenters - 1));
  Value h = f.sub(a, f.fma(j, f.c(0.5), f.c(0.25)));
  static const SmallVector<SmallVector<double>> series = [] {
    SmallVector<SmallVector<double>> table;
    for (int i = 0; i < kErfcCenters; ++i)
      table.push_back(erfcxSeries(0.25L + 0.5L * i));
    return table;
  }();
  Value p;
  for (int n = kErfcTerms - 1; n >= 0; --n) {
    Value coeff = f.c(series[0][n]);
    for (int i = 1; i < kErfcCenters; ++i)
      coeff = f.select(f.eq(j, static_cast<double>(i)), series[i][n], coeff);
    p = p ? f.fma(p, h, coeff) : coeff;
  }
  Value near = f.mul(e, p);
  // The continued fraction, from its 18th level up.
  Value cf = a;
  for (int n = 18; n >= 1; --n)
    cf = f.add(a, f.div(f.c(n * 0.5), cf));
  Value far = f.mul(e, f.div(f.c(0.56418958354775628695), cf));
  Value y = f.select(f.lt(a, 6.0), near, far);
  return f.select(f.gt(a, 28.0), 0.0, y);
}

/// erf(x): the series below |x| = 1/2, else 1 - erfc(|x|) with the sign of x.
Value erfF64(F64Builder &f, Value x) {
  Value a = f.abs(x);
  Value big = f.copysign(f.sub(f.c(1.0), erfcNonNegF64(f, a)), x);
  return f.select(f.lt(a, 0.5), erfSmallF64(f, x), big);
}

/// erfc(x): 1 - erf(x) below |x| = 1/2, erfc(x) for x >= 1/2, 2 - erfc(-x) for x <= -1/2.
Value erfcF64(F64Builder &f, Value x) {
  Value a = f.abs(x);
  Value pos = erfcNonNegF64(f, a);
  Value y = f.select(f.lt(x, 0.0), f.sub(f.c(2.0), pos), pos);
  return f.select(f.lt(a, 0.5), f.sub(f.c(1.0), erfSmallF64(f, x)), y);
}

} // namespace

bool mlir::sqz::cuda::expandsMathF64(Operation *op, bool libdevice) {
  if (op->getNumResults() != 1 || !op->getResult(0).getType().isF64())
    return false;
  if (isa<math::ExpOp, math::LogOp, math::Log2Op>(op))
    return true;
  return !libdevice && isa<math::ExpM1Op, math::Log1pOp, math::TanhOp, math::CbrtOp,
                           math::SinOp, math::CosOp, math::AtanOp, math::Atan2Op,
                           math::AsinOp, math::AcosOp, math::ErfOp, math::ErfcOp>(op);
}

Value mlir::sqz::cuda::expandMathF64(OpBuilder &b, Operation *op) {
  F64Builder f{b, op->getLoc()};
  Value x = op->getOperand(0);
  return llvm::TypeSwitch<Operation *, Value>(op)
      .Case([&](math::ExpOp) { return expF64(f, x); })
      .Case([&](math::LogOp) { return logF64(f, x); })
      .Case([&](math::Log2Op) { return f.mul(logF64(f, x), f.c(1.44269504088896340736)); })
      .Case([&](math::ExpM1Op) { return expm1F64(f, x); })
      .Case([&](math::Log1pOp) { return log1pF64(f, x); })
      .Case([&](math::TanhOp) { return tanhF64(f, x); })
      .Case([&](math::CbrtOp) { return cbrtF64(f, x); })
      .Case([&](math::SinOp) { return sinCosF64(f, x, false); })
      .Case([&](math::CosOp) { return sinCosF64(f, x, true); })
      .Case([&](math::AtanOp) { return atanF64(f, x); })
      .Case([&](math::Atan2Op) { return atan2F64(f, x, op->getOperand(1)); })
      .Case([&](math::AsinOp) { return asinF64(f, x); })
      .Case([&](math::AcosOp) { return acosF64(f, x); })
      .Case([&](math::ErfOp) { return erfF64(f, x); })
      .Case([&](math::ErfcOp) { return erfcF64(f, x); })
      .Default([](Operation *) { return Value(); });
}
