// The kernel layer's vocabulary: weight formats, the quantized activation block, and a
// table of the reduction kernels whose bits docs/determinism.md defines. Two tables exist:
// the scalar reference (defines the bits) and the Highway SIMD one (must equal it).
// Everything here is pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dgrid::infer::kernels {

// Canonical accumulator lanes of every reduction (docs/determinism.md §Dot products).
inline constexpr size_t kLanes = 16;
// Elements per quantization block (Q8_0, Q4_0 and the activation blocks).
inline constexpr size_t kBlock = 32;
inline constexpr size_t kQ8_0Bytes = 34;  // fp16 d + 32 int8
inline constexpr size_t kQ4_0Bytes = 18;  // fp16 d + 16 bytes of nibbles

enum class WeightFormat : uint8_t { f32, f16, q8_0, q4_0 };

// An activation row quantized for the integer dot: x_i ~ d * qs[i]. Unlike GGUF's Q8_0
// the scale stays f32 (it never touches the disk).
struct ActBlock {
  float d;
  int8_t qs[kBlock];
};

// A row-major weight matrix in place (e.g. inside the mmap); rows are `row_bytes` apart.
struct WeightView {
  WeightFormat format = WeightFormat::f32;
  const uint8_t* data = nullptr;
  size_t rows = 0;
  size_t cols = 0;
};

size_t row_bytes(WeightFormat format, size_t cols) noexcept;
inline bool is_quantized(WeightFormat f) noexcept {
  return f == WeightFormat::q8_0 || f == WeightFormat::q4_0;
}

// Quantizes n floats (n % 32 == 0) into n / 32 activation blocks: amax = max |x_i|,
// d = amax / 127, q_i = round_half_away(x_i * (1 / d)) clamped to [-127, 127].
void quantize_act(const float* x, size_t n, ActBlock* out) noexcept;

// The canonical 16-lane tree: lane l += lane l + s for s = 8, 4, 2, 1; returns lane 0.
inline float lane_tree(float* lanes) noexcept {
  for (size_t s = kLanes / 2; s > 0; s /= 2)
    for (size_t l = 0; l < s; ++l) lanes[l] = lanes[l] + lanes[l + s];
  return lanes[0];
}

struct KernelTable {
  const char* name;
  // Canonical dot product of two f32 vectors.
  float (*dot_f32)(const float* a, const float* b, size_t n) noexcept;
  // Canonical sum (the dot with all-ones weights, without the multiplications).
  float (*sum_f32)(const float* a, size_t n) noexcept;
  // y[t * y_stride + r] = W_r . x_t for r in [row_begin, row_end), t < n_tokens. x is
  // f32 [n_tokens][cols] for f32/f16 weights and ActBlock [n_tokens][cols/32] for
  // quantized ones.
  void (*matmul_rows)(const WeightView& w, const void* x, size_t n_tokens, float* y,
                      size_t y_stride, size_t row_begin, size_t row_end) noexcept;
};

const KernelTable& reference_kernels() noexcept;
// SIMD kernels through Highway's dynamic dispatch (the best target this CPU supports).
const KernelTable& simd_kernels() noexcept;

// For tests: the Highway targets compiled into simd_kernels() and supported by this CPU,
// restricting dispatch to one of them (0 restores normal dispatch), and the current one.
std::vector<int64_t> simd_targets();
void force_simd_target(int64_t target);
std::string simd_target_name();

}  // namespace dgrid::infer::kernels
