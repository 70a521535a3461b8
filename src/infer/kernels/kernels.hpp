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

// f32 .. q4_0 are GGUF's layouts. q8_0x16 and q4_0x16 are the CPU backend's repacked forms
// of the same numbers (pack_weights), interleaved so that one integer multiply-add
// instruction works on 16 blocks at once and yields each block's sum in its own lane:
//
//   tensor = [rows][G][QS bytes] then [rows][G][16] fp16 scales, G = ceil(blocks/16)
//   q8_0x16: QS = 512; byte s*64 + k*4 + i (s < 8, k < 16, i < 4) = element 4s+i of block
//            16g+k, stored as w + 128 (uint8)
//   q4_0x16: QS = 256; byte t*64 + k*4 + i (t < 4): low nibble = element 8t+i, high nibble
//            = element 8t+4+i of block 16g+k (the GGUF nibble q, weight q - 8)
//
// A row's missing blocks past the last 16 are zero (scale 0, weight 0). Groups of 16 blocks
// are exactly the 16 canonical lanes: block 16g+k adds into lane k.
enum class WeightFormat : uint8_t { f32, f16, q8_0, q4_0, q8_0x16, q4_0x16 };

// An activation row quantized for the integer dot: x_i ~ d * qs[i]. Unlike GGUF's Q8_0
// the scale stays f32 (it never touches the disk).
struct ActBlock {
  float d;
  int8_t qs[kBlock];
};

// An activation row quantized for the packed formats: 16 blocks interleaved as the weights
// (qs byte s*64 + k*4 + i = element 4s+i of block k), their scales and the sums of their
// quantized values (the packed kernels multiply unsigned weights and subtract 128 or 8 times
// the sum). Blocks past the row's end are zero.
struct alignas(64) ActGroup {
  int8_t qs[kLanes * kBlock];
  float d[kLanes];
  int32_t sum[kLanes];
};

// A weight matrix in place (inside the mmap, or packed); GGUF layouts are row-major with
// rows `row_bytes` apart, packed layouts as described at WeightFormat.
struct WeightView {
  WeightFormat format = WeightFormat::f32;
  const uint8_t* data = nullptr;
  size_t rows = 0;
  size_t cols = 0;
};

// Bytes per row of a GGUF layout (f32 .. q4_0); for packed layouts the quantized bytes plus
// scales one row occupies in total.
size_t row_bytes(WeightFormat format, size_t cols) noexcept;
inline bool is_quantized(WeightFormat f) noexcept {
  return f != WeightFormat::f32 && f != WeightFormat::f16;
}
inline bool is_packed(WeightFormat f) noexcept {
  return f == WeightFormat::q8_0x16 || f == WeightFormat::q4_0x16;
}
// Groups of 16 blocks per row of `cols` elements (packed layouts).
inline size_t packed_groups(size_t cols) noexcept { return (cols / kBlock + kLanes - 1) / kLanes; }
// The packed form of a GGUF format (itself for f32 / f16 and packed ones).
WeightFormat packed_format(WeightFormat f) noexcept;
// Bytes of `w` in format `to` (its own format or packed_format of it).
size_t matrix_bytes(WeightFormat to, size_t rows, size_t cols) noexcept;
// Writes w in packed_format(w.format) to dst (matrix_bytes of that format; 64-byte aligned
// for the fast kernels) and returns the view of it. Exact: every weight and scale keeps its
// value.
WeightView pack_weights(const WeightView& w, uint8_t* dst) noexcept;
// Row r of w dequantized exactly (d * q per element, f16 and f32 as they are), any layout.
void dequantize_row(const WeightView& w, size_t r, float* out) noexcept;

// Quantizes n floats (n % 32 == 0) into n / 32 activation blocks: amax = max |x_i|,
// d = amax / 127, q_i = round_half_away(x_i * (1 / d)) clamped to [-127, 127].
void quantize_act(const float* x, size_t n, ActBlock* out) noexcept;
// The same quantization into packed_groups(n) groups (the activation of the packed formats).
void quantize_act_packed(const float* x, size_t n, ActGroup* out) noexcept;
// The matmul input for quantized weights of format f: ActBlock per 32 elements for GGUF
// layouts, ActGroup per 512 for packed ones.
size_t act_bytes(WeightFormat f, size_t n_tokens, size_t cols) noexcept;
void quantize_input(WeightFormat f, const float* x, size_t n_tokens, size_t cols, void* out) noexcept;

// The exact canonical dot of row r of a quantized weight (any layout) with the quantized
// activation of token t in `x` (laid out for w.format). The scalar definition: the
// reference backend and SIMD targets without a fast path use it.
float dot_quant_scalar(const WeightView& w, size_t r, const void* x, size_t t) noexcept;

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
  // f32 [n_tokens][cols] for f32/f16 weights and quantize_input's layout for quantized ones.
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
