// The Llama architecture: weights validated and viewed in place inside a GgufFile (no
// copies beyond the small norm vectors), and a per-session context holding the f32 KV cache
// and the forward pass over a compute backend. LlamaWeights is immutable and thread-safe;
// a LlamaContext is used by one thread at a time and borrows its weights and backend.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/error.hpp"
#include "infer/gguf.hpp"
#include "infer/kernels/backend.hpp"

namespace dgrid::infer {

struct LlamaConfig {
  uint32_t dim = 0;
  uint32_t n_layers = 0;
  uint32_t n_heads = 0;
  uint32_t n_kv_heads = 0;
  uint32_t head_dim = 0;
  uint32_t ffn_dim = 0;
  uint32_t vocab = 0;
  uint32_t context_train = 0;  // llama.context_length
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  uint32_t kv_dim() const noexcept { return n_kv_heads * head_dim; }
};

struct LlamaLayer {
  std::vector<float> attn_norm, ffn_norm;
  kernels::WeightView wq, wk, wv, wo, w_gate, w_up, w_down;
};

class LlamaWeights {
 public:
  // Reads the hyperparameters and checks every tensor's presence, type and shape against
  // them. Errors: unsupported (architecture, rope scaling), malformed (missing tensor,
  // shape mismatch, inconsistent hyperparameters). `file` must outlive the weights.
  static Result<LlamaWeights> from_gguf(const GgufFile& file);

  // Repacks every matrix the forward pass multiplies by into the layout `backend` computes
  // on (Backend::layout_for), in memory of its own, and gives the file pages they came
  // from back to the kernel, so the weights are held once. Values are unchanged (the
  // packing is exact). Nothing happens when the backend takes the file's layouts.
  // Errors: io when the memory cannot be had.
  Result<void> pack_for(const kernels::Backend& backend, const GgufFile& file);

  const LlamaConfig& config() const noexcept { return config_; }
  // Bytes of the weight tensors the forward pass reads, in their current layout (for the
  // bandwidth bound).
  uint64_t weight_bytes() const noexcept { return weight_bytes_; }

  // Writes the embedding row of `token` (dequantized exactly: d * q in f32) to out[dim],
  // from the file or from the packed matrix when the embedding is tied to the output.
  void embed(uint32_t token, float* out) const noexcept;

  const kernels::WeightView& token_embd() const noexcept { return token_embd_; }
  const kernels::WeightView& output() const noexcept { return output_; }
  const std::vector<float>& output_norm() const noexcept { return output_norm_; }
  const std::vector<LlamaLayer>& layers() const noexcept { return layers_; }
  // RoPE inverse frequencies base^(-2i/head_dim), i < head_dim/2 (docs/determinism.md).
  const std::vector<double>& rope_inv_freq() const noexcept { return inv_freq_; }

 private:
  LlamaConfig config_;
  kernels::WeightView token_embd_, output_;
  std::vector<float> output_norm_;
  std::vector<LlamaLayer> layers_;
  std::vector<double> inv_freq_;
  uint64_t weight_bytes_ = 0;
  std::shared_ptr<uint8_t> packed_;  // anonymous mapping holding the packed matrices
};

// One sequence's KV cache and scratch buffers. eval() appends tokens (any batch split gives
// the same bits) and leaves the logits of the last one.
class LlamaContext {
 public:
  // context: KV cache capacity in tokens (>= 1); max_batch: most tokens per forward call.
  LlamaContext(const LlamaWeights& weights, const kernels::Backend& backend, uint32_t context,
               uint32_t max_batch);

  // Runs the tokens through the model in chunks of at most max_batch. invalid_argument when
  // a token id is out of range or the cache would overflow (nothing is evaluated then).
  Result<void> eval(std::span<const uint32_t> tokens);
  std::span<const float> logits() const noexcept { return logits_; }
  uint32_t n_past() const noexcept { return n_past_; }
  uint32_t context() const noexcept { return context_; }
  void reset() noexcept { n_past_ = 0; }
  // Bytes held by the KV cache.
  uint64_t kv_bytes() const noexcept { return (k_cache_.size() + v_cache_.size()) * sizeof(float); }

 private:
  void forward(std::span<const uint32_t> tokens);

  const LlamaWeights& w_;
  const kernels::Backend& be_;
  uint32_t context_;
  uint32_t max_batch_;
  uint32_t n_past_ = 0;
  std::vector<float> k_cache_, v_cache_;  // [layer][context][kv_dim]
  std::vector<float> x_, xb_, q_, k_, v_, att_, gate_, up_, cos_sin_, logits_;
};

}  // namespace dgrid::infer
