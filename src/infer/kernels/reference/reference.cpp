// The scalar reference kernels: plain loops that spell out the canonical order of
// docs/determinism.md. They define the bits every other backend must reproduce.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "infer/fp16.hpp"
#include "infer/kernels/kernels.hpp"
#include "infer/math.hpp"

namespace dgrid::infer::kernels {

namespace {

float ref_dot_f32(const float* a, const float* b, size_t n) noexcept {
  float lanes[kLanes] = {};
  for (size_t i = 0; i < n; ++i) lanes[i % kLanes] = lanes[i % kLanes] + a[i] * b[i];
  return lane_tree(lanes);
}

float ref_sum_f32(const float* a, size_t n) noexcept {
  float lanes[kLanes] = {};
  for (size_t i = 0; i < n; ++i) lanes[i % kLanes] = lanes[i % kLanes] + a[i];
  return lane_tree(lanes);
}

uint16_t load_u16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));  // GGUF is little-endian
}

float ref_dot_f16(const uint8_t* w, const float* x, size_t n) noexcept {
  float lanes[kLanes] = {};
  for (size_t i = 0; i < n; ++i) {
    const float wi = fp16_to_fp32(load_u16(w + 2 * i));
    lanes[i % kLanes] = lanes[i % kLanes] + wi * x[i];
  }
  return lane_tree(lanes);
}

void ref_matmul_rows(const WeightView& w, const void* x, size_t n_tokens, float* y,
                     size_t y_stride, size_t row_begin, size_t row_end) noexcept {
  const size_t rb = row_bytes(w.format, w.cols);
  for (size_t r = row_begin; r < row_end; ++r) {
    const uint8_t* row = w.data + r * rb;
    for (size_t t = 0; t < n_tokens; ++t) {
      float v = 0.0f;
      switch (w.format) {
        case WeightFormat::f32: {
          float wr[1];  // rows in a mmap may be unaligned for float: copy through memcpy
          float lanes[kLanes] = {};
          const float* xt = static_cast<const float*>(x) + t * w.cols;
          for (size_t i = 0; i < w.cols; ++i) {
            std::memcpy(wr, row + 4 * i, 4);
            lanes[i % kLanes] = lanes[i % kLanes] + wr[0] * xt[i];
          }
          v = lane_tree(lanes);
          break;
        }
        case WeightFormat::f16:
          v = ref_dot_f16(row, static_cast<const float*>(x) + t * w.cols, w.cols);
          break;
        default:  // quantized, any layout: an exact int32 sum per block, then
                  // (d_w * d_x) * float(isum) into lane (block index mod 16), then the tree
          v = dot_quant_scalar(w, r, x, t);
          break;
      }
      y[t * y_stride + r] = v;
    }
  }
}

void ref_silu_mul(float* g, const float* u, size_t n) noexcept {
  for (size_t i = 0; i < n; ++i) g[i] = math::silu_f32(g[i]) * u[i];
}

// Scores in canonical dot order times 1/sqrt(head_dim), softmax with the engine's exp and
// the canonical sum, then the V rows accumulated in position order.
void ref_attend_one(const float* q, const float* k, const float* v, size_t kv_stride, size_t n_pos, size_t hd,
                    float* out, float* scores) noexcept {
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));  // sqrt is correctly rounded
  float m = -INFINITY;
  for (size_t j = 0; j < n_pos; ++j) {
    const float s = ref_dot_f32(q, k + j * kv_stride, hd) * scale;
    scores[j] = s;
    if (s > m) m = s;
  }
  for (size_t j = 0; j < n_pos; ++j) scores[j] = math::exp_f32(scores[j] - m);
  const float sum = ref_sum_f32(scores, n_pos);
  std::fill(out, out + hd, 0.0f);
  for (size_t j = 0; j < n_pos; ++j) {
    const float p = scores[j] / sum;
    const float* vj = v + j * kv_stride;
    for (size_t i = 0; i < hd; ++i) out[i] = out[i] + p * vj[i];
  }
}

constexpr KernelTable kReference{"reference",  ref_dot_f32,         ref_sum_f32,   ref_matmul_rows,
                                 ref_silu_mul, quantize_act_packed, ref_attend_one};

}  // namespace

const KernelTable& reference_kernels() noexcept { return kReference; }

}  // namespace dgrid::infer::kernels
