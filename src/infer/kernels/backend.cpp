// One CPU backend over a kernel table: the reference table on one thread, or the SIMD table
// over a thread pool. Work is split only where each output value stays computed wholly by
// one task in the canonical order (matmul rows, attention (token, head) pairs), so the
// thread count never changes a bit.
#include "infer/kernels/backend.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "infer/thread_pool.hpp"

namespace dgrid::infer::kernels {

namespace {

// Below this many multiply-adds a matmul runs on the calling thread (waking workers
// costs more than it saves); the split never changes results.
constexpr size_t kMinParallelWork = 1 << 15;

// Runs fn(begin, end) over [0, n) split into about `chunks` ranges whose bounds are multiples
// of `align` (except the last end) on the pool.
template <class Fn>
void parallel_ranges(ThreadPool& pool, size_t n, size_t chunks, size_t align, const Fn& fn) {
  const size_t per = ((n + chunks - 1) / chunks + align - 1) / align * align;
  pool.run((n + per - 1) / per, [&](size_t c) { fn(c * per, std::min(n, c * per + per)); });
}

class TableBackend final : public Backend {
 public:
  TableBackend(const KernelTable& table, ThreadPool* pool, bool pack)
      : k_(table), pool_(pool), pack_(pack) {}

  std::string_view name() const noexcept override { return k_.name; }

  WeightFormat layout_for(WeightFormat f) const noexcept override { return pack_ ? packed_format(f) : f; }

  void matmul(const WeightView& w, const float* x, size_t n_tokens, float* y) const override {
    const void* input = x;
    // ActGroup is over-aligned: a vector of it keeps every group on a 64-byte boundary.
    thread_local std::vector<ActGroup> act;
    if (is_quantized(w.format)) {
      const size_t groups = (act_bytes(w.format, n_tokens, w.cols) + sizeof(ActGroup) - 1) / sizeof(ActGroup);
      if (act.size() < groups) act.resize(groups);
      quantize_input(w.format, x, n_tokens, w.cols, act.data(), k_.quantize_packed);
      input = act.data();
    }
    const size_t threads = pool_ ? pool_->size() : 1;
    if (threads == 1 || w.rows * w.cols * n_tokens < kMinParallelWork) {
      k_.matmul_rows(w, input, n_tokens, y, w.rows, 0, w.rows);
      return;
    }
    // Several chunks per thread balance uneven progress; chunk bounds never affect bits.
    // Chunks are whole tiles of 4 rows (the packed kernels' tile).
    parallel_ranges(*pool_, w.rows, threads * 4, kPackTileRows,
                    [&](size_t begin, size_t end) { k_.matmul_rows(w, input, n_tokens, y, w.rows, begin, end); });
  }

  void rmsnorm(const float* x, const float* weight, size_t n, size_t n_tokens, float eps,
               float* out) const override {
    for (size_t t = 0; t < n_tokens; ++t) {
      const float* xt = x + t * n;
      float* ot = out + t * n;
      const float mean = k_.dot_f32(xt, xt, n) / static_cast<float>(n);
      const float scale = 1.0f / std::sqrt(mean + eps);  // sqrt is correctly rounded (IEEE)
      for (size_t i = 0; i < n; ++i) ot[i] = (xt[i] * scale) * weight[i];
    }
  }

  void rope(float* x, size_t n_tokens, size_t n_heads, size_t head_dim,
            const float* cos_sin) const override {
    const size_t half = head_dim / 2;
    for (size_t t = 0; t < n_tokens; ++t) {
      const float* cs = cos_sin + t * half * 2;
      for (size_t h = 0; h < n_heads; ++h) {
        float* v = x + (t * n_heads + h) * head_dim;
        for (size_t i = 0; i < half; ++i) {
          const float c = cs[2 * i];
          const float s = cs[2 * i + 1];
          const float x0 = v[2 * i];
          const float x1 = v[2 * i + 1];
          v[2 * i] = x0 * c - x1 * s;
          v[2 * i + 1] = x0 * s + x1 * c;
        }
      }
    }
  }

  void attention(const AttentionArgs& a) const override {
    const size_t tasks = a.n_tokens * a.n_heads;
    auto one = [&](size_t task) { attend(a, task / a.n_heads, task % a.n_heads); };
    if (pool_ && pool_->size() > 1 && tasks > 1) {
      pool_->run(tasks, one);
    } else {
      for (size_t i = 0; i < tasks; ++i) one(i);
    }
  }

  void silu_mul(float* g, const float* u, size_t n) const override {
    if (pool_ && pool_->size() > 1 && n >= kMinParallelWork) {
      // Elementwise: any split gives the same bits.
      parallel_ranges(*pool_, n, pool_->size() * 2, 16,
                      [&](size_t b, size_t e) { k_.silu_mul(g + b, u + b, e - b); });
    } else {
      k_.silu_mul(g, u, n);
    }
  }

  void add(float* x, const float* y, size_t n) const override {
    for (size_t i = 0; i < n; ++i) x[i] = x[i] + y[i];
  }

 private:
  void attend(const AttentionArgs& a, size_t t, size_t h) const {
    const size_t hd = a.head_dim;
    const size_t kv_stride = a.n_kv_heads * hd;
    const size_t g = h / (a.n_heads / a.n_kv_heads);
    const size_t n_pos = a.pos0 + t + 1;
    thread_local std::vector<float> scores;
    if (scores.size() < n_pos) scores.resize(n_pos);
    k_.attend_one(a.q + (t * a.n_heads + h) * hd, a.k_cache + g * hd, a.v_cache + g * hd, kv_stride, n_pos, hd,
                  a.out + (t * a.n_heads + h) * hd, scores.data());
  }

  const KernelTable& k_;
  ThreadPool* pool_;
  bool pack_;
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend() {
  return std::make_unique<TableBackend>(reference_kernels(), nullptr, false);
}

std::unique_ptr<Backend> make_cpu_backend(ThreadPool* pool) {
  return std::make_unique<TableBackend>(simd_kernels(), pool, true);
}

}  // namespace dgrid::infer::kernels
