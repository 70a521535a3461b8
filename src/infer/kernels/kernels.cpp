// Layouts (GGUF and packed), activation quantization and the scalar quantized dot that
// defines the bits of every quantized kernel (docs/determinism.md).
#include "infer/kernels/kernels.hpp"

#include <algorithm>
#include <cstring>

#include "infer/fp16.hpp"
#include "infer/math.hpp"

namespace dgrid::infer::kernels {

namespace {

uint16_t load_u16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));  // GGUF is little-endian
}

// Byte offset from a row's step 0 in a packed group, steps `stride` bytes apart, of element
// i of lane k (q8_0x16, and the activation with stride 64), or of the byte whose low
// (i % 8 < 4) or high nibble holds it (q4_0x16).
size_t packed_q8_offset(size_t k, size_t i, size_t stride = 64) noexcept { return (i / 4) * stride + k * 4 + i % 4; }
size_t packed_q4_offset(size_t k, size_t i, size_t stride) noexcept { return (i / 8) * stride + k * 4 + i % 4; }

// Scale bits and weights of block b of row r, whatever the quantized layout.
struct QuantRow {
  QuantRow(const WeightView& view, size_t index) noexcept
      : w(view), r(index), p(view.format, view.rows, view.cols), row(view.data + index * row_bytes(view.format, view.cols)) {}

  const WeightView& w;
  size_t r;
  PackedLayout p;      // meaningful for the packed formats only
  const uint8_t* row;  // the row's start in GGUF layouts

  uint16_t scale(size_t b) const noexcept {
    switch (w.format) {
      case WeightFormat::q8_0: return load_u16(row + b * kQ8_0Bytes);
      case WeightFormat::q4_0: return load_u16(row + b * kQ4_0Bytes);
      default: return load_u16(w.data + p.row_scales(r, b / kLanes) + (b % kLanes) * 2);
    }
  }

  // The 32 weights of block b as integers.
  void weights(size_t b, int32_t* out) const noexcept {
    switch (w.format) {
      case WeightFormat::q8_0: {
        const uint8_t* q = row + b * kQ8_0Bytes + 2;
        for (size_t i = 0; i < kBlock; ++i) out[i] = static_cast<int8_t>(q[i]);
        break;
      }
      case WeightFormat::q4_0: {
        const uint8_t* q = row + b * kQ4_0Bytes + 2;
        for (size_t i = 0; i < kBlock / 2; ++i) {
          out[i] = (q[i] & 0x0F) - 8;
          out[i + kBlock / 2] = (q[i] >> 4) - 8;
        }
        break;
      }
      case WeightFormat::q8_0x16: {
        const uint8_t* q = w.data + p.row_qs(r, b / kLanes);
        const size_t stride = p.row_step_stride(r, b / kLanes);
        for (size_t i = 0; i < kBlock; ++i) out[i] = q[packed_q8_offset(b % kLanes, i, stride)] - 128;
        break;
      }
      case WeightFormat::q4_0x16: {
        const uint8_t* q = w.data + p.row_qs(r, b / kLanes);
        const size_t stride = p.row_step_stride(r, b / kLanes);
        for (size_t i = 0; i < kBlock; ++i) {
          const uint8_t byte = q[packed_q4_offset(b % kLanes, i, stride)];
          out[i] = ((i % 8) < 4 ? (byte & 0x0F) : (byte >> 4)) - 8;
        }
        break;
      }
      default: break;
    }
  }
};

// Quantizes one block of 32 (docs/determinism.md §Quantized weights); returns the scale.
float quantize_block(const float* xb, int8_t* q) noexcept {
  float amax = 0.0f;
  for (size_t i = 0; i < kBlock; ++i) {
    const float a = xb[i] < 0.0f ? -xb[i] : xb[i];
    if (a > amax) amax = a;  // max is exact: any order gives the same value
  }
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (size_t i = 0; i < kBlock; ++i) {
    float v = xb[i] * id;
    // Clamp first (NaN and inf included) so the conversion is always defined.
    if (!(v >= -127.0f)) v = v != v ? 0.0f : -127.0f;
    if (v > 127.0f) v = 127.0f;
    q[i] = static_cast<int8_t>(math::round_half_away(v));
  }
  return d;
}

}  // namespace

size_t row_bytes(WeightFormat format, size_t cols) noexcept {
  switch (format) {
    case WeightFormat::f32: return cols * 4;
    case WeightFormat::f16: return cols * 2;
    case WeightFormat::q8_0: return cols / kBlock * kQ8_0Bytes;
    case WeightFormat::q4_0: return cols / kBlock * kQ4_0Bytes;
    case WeightFormat::q8_0x16:
    case WeightFormat::q4_0x16: return PackedLayout(format, 1, cols).row_span;
  }
  return 0;
}

WeightFormat packed_format(WeightFormat f) noexcept {
  if (f == WeightFormat::q8_0) return WeightFormat::q8_0x16;
  if (f == WeightFormat::q4_0) return WeightFormat::q4_0x16;
  return f;
}

size_t matrix_bytes(WeightFormat to, size_t rows, size_t cols) noexcept { return rows * row_bytes(to, cols); }

WeightView pack_weights(const WeightView& w, uint8_t* dst) noexcept {
  const WeightFormat to = packed_format(w.format);
  const WeightView out{to, dst, w.rows, w.cols};
  if (to == w.format) {
    std::memcpy(dst, w.data, matrix_bytes(to, w.rows, w.cols));
    return out;
  }
  const size_t nb = w.cols / kBlock;
  const PackedLayout p(to, w.rows, w.cols);
  const bool q8 = to == WeightFormat::q8_0x16;
  std::memset(dst, 0, matrix_bytes(to, w.rows, w.cols));
  const size_t src_bytes = q8 ? kQ8_0Bytes : kQ4_0Bytes;
  const size_t src_row = row_bytes(w.format, w.cols);
  uint8_t e[kBlock];  // one block's weights + offset (128 or 8), as stored packed
  for (size_t r = 0; r < w.rows; ++r) {
    const uint8_t* row = w.data + r * src_row;
    for (size_t g = 0; g < p.groups(); ++g) {
      const size_t stride = p.row_step_stride(r, g);
      uint8_t* q = dst + p.row_qs(r, g);
      uint8_t* sc = dst + p.row_scales(r, g);
      for (size_t k = 0; k < p.lanes(g); ++k) {
        const size_t b = g * kLanes + k;
        if (b >= nb) {  // zero block: scale 0 (already), weights 0
          std::fill(e, e + kBlock, static_cast<uint8_t>(q8 ? 128 : 8));
        } else {
          const uint8_t* blk = row + b * src_bytes;
          std::memcpy(sc + 2 * k, blk, 2);
          for (size_t i = 0; i < kBlock; ++i)
            e[i] = q8 ? static_cast<uint8_t>(blk[2 + i] ^ 0x80)  // w + 128 for int8 w
                      : static_cast<uint8_t>(i < kBlock / 2 ? blk[2 + i] & 0x0F : blk[2 + i - kBlock / 2] >> 4);
        }
        // Each step holds 4 consecutive elements of the block (q4: two nibble halves).
        for (size_t st = 0; st < (q8 ? 8 : 4); ++st) {
          uint8_t* out4 = q + st * stride + k * 4;
          for (size_t i = 0; i < 4; ++i)
            out4[i] = q8 ? e[4 * st + i] : static_cast<uint8_t>(e[8 * st + i] | e[8 * st + 4 + i] << 4);
        }
      }
    }
  }
  return out;
}

void dequantize_row(const WeightView& w, size_t r, float* out) noexcept {
  const size_t n = w.cols;
  const uint8_t* row = w.data + r * row_bytes(w.format, n);
  switch (w.format) {
    case WeightFormat::f32: std::memcpy(out, row, n * sizeof(float)); return;
    case WeightFormat::f16:
      for (size_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(load_u16(row + 2 * i));
      return;
    default: break;
  }
  const QuantRow src(w, r);
  int32_t v[kBlock];
  for (size_t b = 0; b < n / kBlock; ++b) {
    const float d = fp16_to_fp32(src.scale(b));
    src.weights(b, v);
    for (size_t i = 0; i < kBlock; ++i) out[b * kBlock + i] = d * static_cast<float>(v[i]);
  }
}

void quantize_act(const float* x, size_t n, ActBlock* out) noexcept {
  for (size_t b = 0; b < n / kBlock; ++b) out[b].d = quantize_block(x + b * kBlock, out[b].qs);
}

void quantize_act_packed(const float* x, size_t n, ActGroup* out) noexcept {
  const size_t nb = n / kBlock;
  for (size_t g = 0; g < packed_groups(n); ++g) {
    ActGroup& a = out[g];
    std::memset(&a, 0, sizeof a);
    for (size_t k = 0; k < kLanes && g * kLanes + k < nb; ++k) {
      int8_t q[kBlock];
      a.d[k] = quantize_block(x + (g * kLanes + k) * kBlock, q);
      int32_t sum = 0;
      for (size_t i = 0; i < kBlock; ++i) {
        a.qs[packed_q8_offset(k, i)] = q[i];
        sum += q[i];
      }
      a.sum[k] = sum;
    }
  }
}

size_t act_bytes(WeightFormat f, size_t n_tokens, size_t cols) noexcept {
  if (is_packed(f)) return n_tokens * packed_groups(cols) * sizeof(ActGroup);
  return n_tokens * (cols / kBlock) * sizeof(ActBlock);
}

void quantize_input(WeightFormat f, const float* x, size_t n_tokens, size_t cols, void* out,
                    void (*quantize_packed)(const float*, size_t, ActGroup*) noexcept) noexcept {
  if (quantize_packed == nullptr) quantize_packed = quantize_act_packed;
  for (size_t t = 0; t < n_tokens; ++t) {
    if (is_packed(f))
      quantize_packed(x + t * cols, cols, static_cast<ActGroup*>(out) + t * packed_groups(cols));
    else
      quantize_act(x + t * cols, cols, static_cast<ActBlock*>(out) + t * (cols / kBlock));
  }
}

float dot_quant_scalar(const WeightView& w, size_t r, const void* x, size_t t) noexcept {
  const size_t nb = w.cols / kBlock;
  const QuantRow row(w, r);
  float lanes[kLanes] = {};
  int32_t v[kBlock];
  for (size_t b = 0; b < nb; ++b) {
    row.weights(b, v);
    int32_t isum = 0;
    float dx = 0.0f;
    if (is_packed(w.format)) {
      const ActGroup& a = static_cast<const ActGroup*>(x)[t * packed_groups(w.cols) + b / kLanes];
      for (size_t i = 0; i < kBlock; ++i) isum += v[i] * a.qs[packed_q8_offset(b % kLanes, i)];
      dx = a.d[b % kLanes];
    } else {
      const ActBlock& a = static_cast<const ActBlock*>(x)[t * nb + b];
      for (size_t i = 0; i < kBlock; ++i) isum += v[i] * a.qs[i];
      dx = a.d;
    }
    const float c = (fp16_to_fp32(row.scale(b)) * dx) * static_cast<float>(isum);
    lanes[b % kLanes] = lanes[b % kLanes] + c;
  }
  return lane_tree(lanes);
}

}  // namespace dgrid::infer::kernels
