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
// instruction works on 16 blocks at once and yields each block's sum in its own lane, and
// so that a matrix-vector product reads the matrix as one sequential stream:
//
//   - a row's blocks form groups of L = 16 lanes (block 16g + k is lane k: exactly the
//     canonical lanes); a tail of 1..8 blocks forms one last group of L = 8 lanes, a tail of
//     9..15 a group of 16; missing blocks are zero (scale 0, weight 0);
//   - rows come in tiles of 4 (the last tile may have fewer, n); a tile stores its rows
//     group by group: for each group, the n rows' quantized bytes step by step (step 0 of
//     rows 0..n-1, then step 1, ...: the order a 4-row kernel reads them), then their n x L
//     fp16 scales; tiles follow one another;
//   - a step is 4L bytes of one row: q8_0x16 has 8 steps, byte k*4 + i of step s is element
//     4s+i of lane k's block, stored as w + 128 (uint8); q4_0x16 has 4 steps, byte k*4 + i
//     of step t holds element 8t+i in its low nibble and 8t+4+i in its high nibble (the
//     GGUF nibble q, weight q - 8).
//
// PackedLayout computes these offsets. With 16-lane groups and full tiles every group
// starts on a 64-byte boundary.
enum class WeightFormat : uint8_t { f32, f16, q8_0, q4_0, q8_0x16, q4_0x16 };

// An activation row quantized for the integer dot: x_i ~ d * qs[i]. Unlike GGUF's Q8_0
// the scale stays f32 (it never touches the disk).
struct ActBlock {
  float d;
  int8_t qs[kBlock];
};

inline constexpr size_t kPackTileRows = 4;

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
// Activation groups (ActGroup) per row of `cols` elements for the packed layouts.
inline size_t packed_groups(size_t cols) noexcept { return (cols / kBlock + kLanes - 1) / kLanes; }

// Offsets inside a packed matrix (see WeightFormat).
struct PackedLayout {
  size_t rows = 0;
  size_t qs = 0;      // quantized bytes of one row's 16-lane group: 512 (q8_0x16) or 256
  size_t full = 0;    // 16-lane groups per row
  bool half = false;  // a last 8-lane group
  size_t row_span = 0;  // bytes per row, scales included

  PackedLayout(WeightFormat f, size_t rows_, size_t cols) noexcept
      : rows(rows_), qs(f == WeightFormat::q8_0x16 ? kLanes * kBlock : kLanes * kBlock / 2) {
    const size_t nb = cols / kBlock;
    const size_t tail = nb % kLanes;
    full = nb / kLanes + (tail > kLanes / 2 ? 1 : 0);
    half = tail != 0 && tail <= kLanes / 2;
    row_span = full * (qs + 2 * kLanes) + (half ? qs / 2 + kLanes : 0);
  }
  size_t groups() const noexcept { return full + (half ? 1 : 0); }
  size_t lanes(size_t g) const noexcept { return g < full ? kLanes : kLanes / 2; }
  size_t tile_rows(size_t tile) const noexcept {
    return rows - tile * kPackTileRows < kPackTileRows ? rows - tile * kPackTileRows : kPackTileRows;
  }
  // From the matrix start to tile `tile`.
  size_t tile_offset(size_t tile) const noexcept { return tile * kPackTileRows * row_span; }
  // Bytes of one row's step in group g, and between a row's consecutive steps in a tile
  // of n rows.
  size_t step_bytes(size_t g) const noexcept { return 4 * lanes(g); }
  size_t step_stride(size_t n, size_t g) const noexcept { return n * step_bytes(g); }
  // Within a tile of n rows: row j's step 0 and scales of group g.
  size_t qs_offset(size_t n, size_t j, size_t g) const noexcept {
    return g * n * (qs + 2 * kLanes) + j * step_bytes(g);
  }
  size_t scale_offset(size_t n, size_t j, size_t g) const noexcept {
    return g * n * (qs + 2 * kLanes) + n * qs * lanes(g) / kLanes + j * 2 * lanes(g);
  }
  // Row r's step 0 and scales of group g from the matrix start, and its step stride.
  size_t row_step_stride(size_t r, size_t g) const noexcept {
    return step_stride(tile_rows(r / kPackTileRows), g);
  }
  size_t row_qs(size_t r, size_t g) const noexcept {
    const size_t t = r / kPackTileRows;
    return tile_offset(t) + qs_offset(tile_rows(t), r % kPackTileRows, g);
  }
  size_t row_scales(size_t r, size_t g) const noexcept {
    const size_t t = r / kPackTileRows;
    return tile_offset(t) + scale_offset(tile_rows(t), r % kPackTileRows, g);
  }
};
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
// `quantize_packed` does the packed layouts' quantization (a KernelTable's; nullptr: the
// scalar quantize_act_packed).
void quantize_input(WeightFormat f, const float* x, size_t n_tokens, size_t cols, void* out,
                    void (*quantize_packed)(const float*, size_t, ActGroup*) noexcept = nullptr) noexcept;

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
  // g[i] = silu_f32(g[i]) * u[i].
  void (*silu_mul)(float* g, const float* u, size_t n) noexcept;
  // quantize_act_packed.
  void (*quantize_packed)(const float* x, size_t n, ActGroup* out) noexcept;
  // One (token, head) of attention over positions [0, n_pos): q[hd]; K/V rows of this head
  // kv_stride floats apart; out[hd]; scores: scratch of n_pos floats (docs/determinism.md).
  void (*attend_one)(const float* q, const float* k, const float* v, size_t kv_stride, size_t n_pos,
                     size_t hd, float* out, float* scores) noexcept;
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
