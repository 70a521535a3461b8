// The inference library API: load a model once, run many sessions on it concurrently.
// A Model is immutable and thread-safe (sessions share its weights, thread pool and
// backend); a Session is used by one thread at a time and keeps the Model alive.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "infer/llama.hpp"
#include "infer/tokenizer.hpp"

namespace dgrid::infer {

class ThreadPool;

enum class BackendKind : uint8_t { reference, cpu };

struct LoadOptions {
  uint32_t threads = 1;  // worker threads of the cpu backend (the reference uses one)
  uint32_t batch = 64;   // most prompt tokens per forward call
  BackendKind backend = BackendKind::cpu;
  uint32_t context = 0;  // KV cache tokens per session; 0: the model's context length
};

enum class FinishReason : uint8_t { stop, length, cancelled };
std::string_view finish_reason_name(FinishReason r) noexcept;

struct GenerateRequest {
  std::vector<uint32_t> prompt = {};  // token ids; empty: BOS alone
  uint32_t max_tokens = 256;
  float temperature = 0.0f;
  uint32_t top_k = 0;
  float top_p = 1.0f;
  uint64_t seed = 0;
  std::vector<std::string> stop = {};  // stop sequences, matched on the decoded text
};

struct Timings {
  double prompt_ms = 0;
  double generation_ms = 0;
  double prompt_tokens_per_s = 0;
  double generation_tokens_per_s = 0;
};

struct GenerateResult {
  std::vector<uint32_t> tokens;  // generated ids (an end-of-generation token is not included)
  std::string text;              // decoded, up to (not including) a matched stop sequence
  Hash32 output_hash{};          // output_hash(tokens)
  uint32_t prompt_tokens = 0;
  uint32_t completion_tokens = 0;
  FinishReason finish_reason = FinishReason::length;
  Timings timings;
};

// Streaming: called as tokens are generated with the text they complete (possibly empty
// while UTF-8 or a possible stop sequence is held back). A final call with token
// kNoToken flushes held-back text. Return false to stop (finish_reason cancelled).
inline constexpr uint32_t kNoToken = UINT32_MAX;
using TokenCallback = std::function<bool(uint32_t token, std::string_view text)>;

// Cancels a generation from any thread.
class CancelToken {
 public:
  void cancel() noexcept { flag_.store(true, std::memory_order_relaxed); }
  bool cancelled() const noexcept { return flag_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> flag_{false};
};

class Session;

class Model : public std::enable_shared_from_this<Model> {
 public:
  // Maps the GGUF file, validates the weights and tokenizer, starts the thread pool.
  static Result<std::shared_ptr<const Model>> load(const std::filesystem::path& path,
                                                   const LoadOptions& options = {});
  ~Model();

  const LlamaConfig& config() const noexcept { return weights_.config(); }
  const Tokenizer& tokenizer() const noexcept { return *tokenizer_; }
  const LoadOptions& options() const noexcept { return options_; }
  const GgufFile& file() const noexcept { return *file_; }
  const LlamaWeights& weights() const noexcept { return weights_; }
  const kernels::Backend& backend() const noexcept { return *backend_; }
  uint32_t context() const noexcept { return context_; }
  // Tokenizes text, with BOS first when the model asks for it.
  Result<std::vector<uint32_t>> encode(std::string_view text) const;

  std::unique_ptr<Session> new_session() const;

 private:
  Model() = default;
  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<Tokenizer> tokenizer_;
  LlamaWeights weights_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<kernels::Backend> backend_;
  LoadOptions options_;
  uint32_t context_ = 0;
};

class Session {
 public:
  explicit Session(std::shared_ptr<const Model> model);

  // Starts from an empty cache, evaluates the prompt in batches and generates. Errors:
  // invalid_argument (sampling parameters, token ids, prompt longer than the context).
  Result<GenerateResult> generate(const GenerateRequest& request, const TokenCallback& on_token = {},
                                  const CancelToken* cancel = nullptr);

  // Low level (tests, scoring): append tokens to the cache; logits of the last one.
  Result<void> eval(std::span<const uint32_t> tokens) { return ctx_.eval(tokens); }
  std::span<const float> logits() const noexcept { return ctx_.logits(); }
  uint32_t n_past() const noexcept { return ctx_.n_past(); }
  void reset() noexcept { ctx_.reset(); }
  const Model& model() const noexcept { return *model_; }

 private:
  std::shared_ptr<const Model> model_;
  LlamaContext ctx_;
};

}  // namespace dgrid::infer
