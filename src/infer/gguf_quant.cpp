#include "infer/gguf_quant.hpp"

#include <bit>
#include <cstring>

namespace dgrid::infer {

namespace {

constexpr size_t kQk = 32;

float abs_f(float v) noexcept { return std::bit_cast<float>(std::bit_cast<uint32_t>(v) & 0x7fffffffu); }

void store_u16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
uint16_t load_u16(const uint8_t* p) noexcept { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

}  // namespace

float round_half_away(float v) noexcept {
  const float a = abs_f(v);
  if (!(a < 8388608.0f)) return v;  // >= 2^23 (already integral), inf or NaN
  const float t = static_cast<float>(static_cast<int32_t>(a));  // trunc
  const float r = (a - t >= 0.5f) ? t + 1.0f : t;                // a - t is exact here
  return v < 0 ? -r : r;
}

void quantize_row_q8_0(const float* src, uint8_t* dst, size_t n) noexcept {
  for (size_t b = 0; b < n / kQk; ++b, src += kQk, dst += sizeof(BlockQ8_0)) {
    float amax = 0.0f;
    for (size_t j = 0; j < kQk; ++j) {
      const float a = abs_f(src[j]);
      amax = amax > a ? amax : a;  // ggml's MAX(amax, fabsf(x))
    }
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(dst, fp32_to_fp16(d));
    for (size_t j = 0; j < kQk; ++j) {
      const float x = src[j] * id;
      dst[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(round_half_away(x)));
    }
  }
}

void quantize_row_q4_0(const float* src, uint8_t* dst, size_t n) noexcept {
  for (size_t b = 0; b < n / kQk; ++b, src += kQk, dst += sizeof(BlockQ4_0)) {
    // The signed value of largest magnitude (the first one on ties) maps to -8 exactly.
    float amax = 0.0f, max = 0.0f;
    for (size_t j = 0; j < kQk; ++j) {
      const float a = abs_f(src[j]);
      if (amax < a) {
        amax = a;
        max = src[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(dst, fp32_to_fp16(d));
    for (size_t j = 0; j < kQk / 2; ++j) {
      const float x0 = src[j] * id;
      const float x1 = src[kQk / 2 + j] * id;
      const float y0 = x0 + 8.5f;
      const float y1 = x1 + 8.5f;
      // (int8_t) truncation of a value in [0.5, 16.5], then MIN(15, .), as ggml does.
      int q0 = y0 >= 0.0f ? static_cast<int>(y0) : 0;
      int q1 = y1 >= 0.0f ? static_cast<int>(y1) : 0;
      q0 = q0 < 15 ? q0 : 15;
      q1 = q1 < 15 ? q1 : 15;
      dst[2 + j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void dequantize_row_q8_0(const uint8_t* src, float* dst, size_t n) noexcept {
  for (size_t b = 0; b < n / kQk; ++b, src += sizeof(BlockQ8_0), dst += kQk) {
    const float d = fp16_to_fp32(load_u16(src));
    for (size_t j = 0; j < kQk; ++j) dst[j] = static_cast<float>(static_cast<int8_t>(src[2 + j])) * d;
  }
}

void dequantize_row_q4_0(const uint8_t* src, float* dst, size_t n) noexcept {
  for (size_t b = 0; b < n / kQk; ++b, src += sizeof(BlockQ4_0), dst += kQk) {
    const float d = fp16_to_fp32(load_u16(src));
    for (size_t j = 0; j < kQk / 2; ++j) {
      dst[j] = static_cast<float>((src[2 + j] & 0x0f) - 8) * d;
      dst[j + kQk / 2] = static_cast<float>((src[2 + j] >> 4) - 8) * d;
    }
  }
}

Result<void> dequantize_row(GgmlType t, const uint8_t* src, float* dst, size_t n) {
  if (n % ggml_block_elements(t) != 0)
    return fail(Errc::invalid_argument, std::to_string(n) + " elements are not whole " + std::string(ggml_type_name(t)) + " blocks");
  switch (t) {
    case GgmlType::F32: std::memcpy(dst, src, n * 4); break;
    case GgmlType::F16:
      for (size_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(load_u16(src + 2 * i));
      break;
    case GgmlType::Q8_0: dequantize_row_q8_0(src, dst, n); break;
    case GgmlType::Q4_0: dequantize_row_q4_0(src, dst, n); break;
  }
  return {};
}

Result<void> quantize_row(GgmlType t, const float* src, uint8_t* dst, size_t n) {
  if (n % ggml_block_elements(t) != 0)
    return fail(Errc::invalid_argument, std::to_string(n) + " elements are not whole " + std::string(ggml_type_name(t)) + " blocks");
  switch (t) {
    case GgmlType::F32: std::memcpy(dst, src, n * 4); break;
    case GgmlType::F16:
      for (size_t i = 0; i < n; ++i) store_u16(dst + 2 * i, fp32_to_fp16(src[i]));
      break;
    case GgmlType::Q8_0: quantize_row_q8_0(src, dst, n); break;
    case GgmlType::Q4_0: quantize_row_q4_0(src, dst, n); break;
  }
  return {};
}

}  // namespace dgrid::infer
