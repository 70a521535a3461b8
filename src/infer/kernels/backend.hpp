// The compute backend interface of the forward pass. Every backend must produce exactly the
// bits of the reference backend (docs/determinism.md). A CUDA backend implements the same
// interface with device pointers; the CPU backends below share one implementation over a
// kernel table. Backends are stateless apart from the pool they borrow: thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "infer/kernels/kernels.hpp"

namespace dgrid::infer {
class ThreadPool;
}

namespace dgrid::infer::kernels {

struct AttentionArgs {
  const float* q = nullptr;        // [n_tokens][n_heads * head_dim], RoPE applied
  const float* k_cache = nullptr;  // this layer: [context][n_kv_heads * head_dim]
  const float* v_cache = nullptr;
  float* out = nullptr;            // [n_tokens][n_heads * head_dim]
  size_t n_tokens = 0;
  size_t n_heads = 0;
  size_t n_kv_heads = 0;
  size_t head_dim = 0;
  size_t pos0 = 0;  // position of token 0; token t attends to positions [0, pos0 + t]
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const noexcept = 0;
  // The weight layout this backend computes fastest on for weights stored as f (the model
  // repacks its matrices once at load, pack_weights); every backend accepts every layout.
  virtual WeightFormat layout_for(WeightFormat f) const noexcept { return f; }

  // y[t][r] = W_r . x_t (x: [n_tokens][w.cols] f32, y: [n_tokens][w.rows]).
  virtual void matmul(const WeightView& w, const float* x, size_t n_tokens, float* y) const = 0;
  // out[t] = (x[t] * (1 / sqrt(dot(x[t], x[t]) / n + eps))) * weight, per token.
  virtual void rmsnorm(const float* x, const float* weight, size_t n, size_t n_tokens, float eps,
                       float* out) const = 0;
  // Rotates adjacent pairs (x[2i], x[2i+1]) of every head of every token by the angle whose
  // cos/sin are cos_sin[t][i][0..1].
  virtual void rope(float* x, size_t n_tokens, size_t n_heads, size_t head_dim,
                    const float* cos_sin) const = 0;
  virtual void attention(const AttentionArgs& args) const = 0;
  // g[i] = silu(g[i]) * u[i].
  virtual void silu_mul(float* g, const float* u, size_t n) const = 0;
  // x[i] = x[i] + y[i].
  virtual void add(float* x, const float* y, size_t n) const = 0;
};

// The reference backend: scalar kernels, one thread. Defines the bits.
std::unique_ptr<Backend> make_reference_backend();
// The optimized CPU backend: SIMD kernels, work split over `pool` (borrowed; must outlive
// the backend) by output rows and (token, head) pairs.
std::unique_ptr<Backend> make_cpu_backend(ThreadPool* pool);

}  // namespace dgrid::infer::kernels
