// Each function below is a fixed sequence of IEEE basic operations; the build forbids
// contraction (-ffp-contract=off), so a * b + c is always two roundings, as the canonical
// definition in docs/determinism.md requires.
#include "infer/math.hpp"

#include <bit>
#include <limits>

namespace dgrid::infer::math {

namespace {

// 2^n as a float for n in [-126, 127] (normal range), built from bits.
float pow2_f32(int32_t n) noexcept {
  return std::bit_cast<float>(static_cast<uint32_t>(n + 127) << 23);
}

double pow2_f64(int64_t n) noexcept {  // n in [-1022, 1023]
  return std::bit_cast<double>(static_cast<uint64_t>(n + 1023) << 52);
}

}  // namespace

float exp_f32(float x) noexcept {
  if (x != x) return x;
  // Outside this range the result is +inf or rounds to +0; clamping keeps n in [-150, 128].
  if (x > 89.0f) x = 89.0f;
  if (x < -104.0f) x = -104.0f;
  // n = round(x / ln 2) with the 1.5 * 2^23 trick (round to nearest even, exact).
  const float t = x * 1.44269504088896341f;
  const float n = (t + 12582912.0f) - 12582912.0f;
  // r = x - n ln2 in two steps (Cody-Waite); n * kC1 is exact (kC1 has 9 significant bits).
  constexpr float kC1 = 0.693359375f;
  constexpr float kC2 = -2.12194440e-4f;
  float r = x - n * kC1;
  r = r - n * kC2;
  // Cephes expf minimax polynomial on [-ln2/2, ln2/2].
  const float z = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * z + r;
  y = y + 1.0f;
  // Scale by 2^n in two exact-range steps so that overflow gives inf and underflow a
  // single correctly rounded subnormal.
  const auto ni = static_cast<int32_t>(n);
  const int32_t n1 = ni / 2;
  const int32_t n2 = ni - n1;
  return (y * pow2_f32(n1)) * pow2_f32(n2);
}

float silu_f32(float x) noexcept { return x / (1.0f + exp_f32(-x)); }

double exp_f64(double x) noexcept {
  if (x != x) return x;
  if (x > 710.0) x = 710.0;
  if (x < -746.0) x = -746.0;
  const double t = x * 1.44269504088896338700e+00;
  const double n = (t + 6755399441055744.0) - 6755399441055744.0;
  // fdlibm's split of ln 2: n * kLn2Hi is exact for |n| < 2^20.
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  double r = x - n * kLn2Hi;
  r = r - n * kLn2Lo;
  // Taylor series to r^13/13!: |r| <= 0.347, the next term is below 2^-56.
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const auto ni = static_cast<int64_t>(n);
  const int64_t n1 = ni / 2;
  const int64_t n2 = ni - n1;
  return (p * pow2_f64(n1)) * pow2_f64(n2);
}

double log_f64(double x) noexcept {
  if (x != x || x < 0.0) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0.0) return -std::numeric_limits<double>::infinity();
  if (x == std::numeric_limits<double>::infinity()) return x;
  int64_t e = 0;
  if (x < 2.2250738585072014e-308) {  // subnormal: scale into the normal range (exact)
    x = x * 18014398509481984.0;       // 2^54
    e = -54;
  }
  const auto bits = std::bit_cast<uint64_t>(x);
  e += static_cast<int64_t>((bits >> 52) & 0x7ff) - 1023;
  double m = std::bit_cast<double>((bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
  if (m > 1.4142135623730951) {  // keep m in [sqrt(2)/2, sqrt(2)) so |s| <= 0.1716
    m = m * 0.5;                 // exact
    e += 1;
  }
  // log(m) = 2 atanh(s), s = (m - 1) / (m + 1): odd series to s^25 (next term < 2^-60).
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double p = 1.0 / 25.0;
  for (int k = 23; k >= 1; k -= 2) p = p * s2 + 1.0 / static_cast<double>(k);
  const double log_m = 2.0 * (s * p);
  const auto ed = static_cast<double>(e);
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  return ed * kLn2Hi + (log_m + ed * kLn2Lo);
}

void sincos_f64(double x, double* sin_out, double* cos_out) noexcept {
  // k = round(x * 2/pi); r = x - k pi/2 with fdlibm's three-part pi/2 (k * kPio2_1 exact
  // for |k| < 2^20).
  const double t = x * 6.36619772367581382433e-01;
  const double k = (t + 6755399441055744.0) - 6755399441055744.0;
  constexpr double kPio2_1 = 1.57079632673412561417e+00;
  constexpr double kPio2_2 = 6.07710050630396597660e-11;
  constexpr double kPio2_3 = 2.02226624871116645580e-21;
  double r = x - k * kPio2_1;
  r = r - k * kPio2_2;
  r = r - k * kPio2_3;
  // Taylor series on |r| <= pi/4: sin to r^19, cos to r^20 (next terms < 2^-60).
  const double r2 = r * r;
  double sp = -1.0 / 121645100408832000.0;           // -1/19!
  sp = sp * r2 + 1.0 / 355687428096000.0;            // 1/17!
  sp = sp * r2 - 1.0 / 1307674368000.0;              // -1/15!
  sp = sp * r2 + 1.0 / 6227020800.0;                 // 1/13!
  sp = sp * r2 - 1.0 / 39916800.0;                   // -1/11!
  sp = sp * r2 + 1.0 / 362880.0;                     // 1/9!
  sp = sp * r2 - 1.0 / 5040.0;                       // -1/7!
  sp = sp * r2 + 1.0 / 120.0;                        // 1/5!
  sp = sp * r2 - 1.0 / 6.0;                          // -1/3!
  const double s = r + r * (r2 * sp);
  double cp = 1.0 / 2432902008176640000.0;           // 1/20!
  cp = cp * r2 - 1.0 / 6402373705728000.0;           // -1/18!
  cp = cp * r2 + 1.0 / 20922789888000.0;             // 1/16!
  cp = cp * r2 - 1.0 / 87178291200.0;                // -1/14!
  cp = cp * r2 + 1.0 / 479001600.0;                  // 1/12!
  cp = cp * r2 - 1.0 / 3628800.0;                    // -1/10!
  cp = cp * r2 + 1.0 / 40320.0;                      // 1/8!
  cp = cp * r2 - 1.0 / 720.0;                        // -1/6!
  cp = cp * r2 + 1.0 / 24.0;                         // 1/4!
  cp = cp * r2 - 0.5;                                // -1/2!
  const double c = 1.0 + r2 * cp;
  const auto q = static_cast<int64_t>(k) & 3;
  switch (q) {
    case 0: *sin_out = s; *cos_out = c; break;
    case 1: *sin_out = c; *cos_out = -s; break;
    case 2: *sin_out = -s; *cos_out = -c; break;
    default: *sin_out = -c; *cos_out = s; break;
  }
}

int32_t round_half_away(float x) noexcept {
  auto i = static_cast<int32_t>(x);  // truncates toward zero
  const float frac = x - static_cast<float>(i);  // exact for |x| < 2^23
  if (frac >= 0.5f) ++i;
  else if (frac <= -0.5f) --i;
  return i;
}

}  // namespace dgrid::infer::math
