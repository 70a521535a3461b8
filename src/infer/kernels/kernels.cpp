#include "infer/kernels/kernels.hpp"

#include "infer/math.hpp"

namespace dgrid::infer::kernels {

size_t row_bytes(WeightFormat format, size_t cols) noexcept {
  switch (format) {
    case WeightFormat::f32: return cols * 4;
    case WeightFormat::f16: return cols * 2;
    case WeightFormat::q8_0: return cols / kBlock * kQ8_0Bytes;
    case WeightFormat::q4_0: return cols / kBlock * kQ4_0Bytes;
  }
  return 0;
}

void quantize_act(const float* x, size_t n, ActBlock* out) noexcept {
  for (size_t b = 0; b < n / kBlock; ++b) {
    const float* xb = x + b * kBlock;
    float amax = 0.0f;
    for (size_t i = 0; i < kBlock; ++i) {
      const float a = xb[i] < 0.0f ? -xb[i] : xb[i];
      if (a > amax) amax = a;  // max is exact: any order gives the same value
    }
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = d;
    for (size_t i = 0; i < kBlock; ++i) {
      float v = xb[i] * id;
      // Clamp first (NaN and inf included) so the conversion is always defined.
      if (!(v >= -127.0f)) v = v != v ? 0.0f : -127.0f;
      if (v > 127.0f) v = 127.0f;
      out[b].qs[i] = static_cast<int8_t>(math::round_half_away(v));
    }
  }
}

}  // namespace dgrid::infer::kernels
