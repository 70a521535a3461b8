#include "infer/engine.hpp"

#include <algorithm>
#include <chrono>

#include "infer/output_hash.hpp"
#include "infer/sampler.hpp"
#include "infer/thread_pool.hpp"

namespace dgrid::infer {

std::string_view finish_reason_name(FinishReason r) noexcept {
  switch (r) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::cancelled: return "cancelled";
  }
  return "?";
}

Model::~Model() = default;

Result<std::shared_ptr<const Model>> Model::load(const std::filesystem::path& path, const LoadOptions& options) {
  if (options.threads == 0 || options.threads > 1024)
    return fail(Errc::invalid_argument, "threads must be in [1, 1024], got " + std::to_string(options.threads));
  if (options.batch == 0 || options.batch > 65536)
    return fail(Errc::invalid_argument, "batch must be in [1, 65536], got " + std::to_string(options.batch));
  std::shared_ptr<Model> m(new Model());
  auto file = GgufFile::open(path);
  if (!file) return std::unexpected(file.error());  // GgufFile::open names the file already
  m->file_ = std::move(*file);
  auto weights = LlamaWeights::from_gguf(*m->file_);
  if (!weights) return std::unexpected(weights.error().context(path.string()));
  m->weights_ = std::move(*weights);
  auto tok = Tokenizer::from_gguf(*m->file_);
  if (!tok) return std::unexpected(tok.error().context(path.string()));
  m->tokenizer_ = std::make_unique<Tokenizer>(std::move(*tok));
  if (m->tokenizer_->vocab_size() != m->weights_.config().vocab)
    return fail(Errc::malformed, path.string() + ": the tokenizer has " + std::to_string(m->tokenizer_->vocab_size()) +
                                     " tokens but the embedding has " + std::to_string(m->weights_.config().vocab) + " rows");
  m->options_ = options;
  m->context_ = options.context == 0 ? m->weights_.config().context_train : options.context;
  if (options.backend == BackendKind::reference) {
    m->backend_ = kernels::make_reference_backend();
  } else {
    m->pool_ = std::make_unique<ThreadPool>(options.threads);
    m->backend_ = kernels::make_cpu_backend(m->pool_.get());
  }
  if (auto packed = m->weights_.pack_for(*m->backend_, *m->file_); !packed)
    return std::unexpected(packed.error().context(path.string()));
  return std::shared_ptr<const Model>(std::move(m));
}

Result<std::vector<uint32_t>> Model::encode(std::string_view text) const {
  return tokenizer_->encode(text, tokenizer_->wants_bos());
}

std::unique_ptr<Session> Model::new_session() const { return std::make_unique<Session>(shared_from_this()); }

Session::Session(std::shared_ptr<const Model> model)
    : model_(std::move(model)),
      ctx_(model_->weights(), model_->backend(), model_->context(), model_->options().batch) {}

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Bytes at the end of `text` that could begin one of the stop sequences: held back from
// streaming until the next token decides.
size_t held_suffix(std::string_view text, const std::vector<std::string>& stop) {
  size_t held = 0;
  for (const auto& s : stop)
    for (size_t len = std::min(s.size() - 1, text.size()); len > held; --len)
      if (text.substr(text.size() - len) == std::string_view(s).substr(0, len)) {
        held = len;
        break;
      }
  return held;
}

}  // namespace

Result<GenerateResult> Session::generate(const GenerateRequest& req, const TokenCallback& on_token,
                                         const CancelToken* cancel) {
  const Tokenizer& tok = model_->tokenizer();
  const SamplerParams sp{req.temperature, req.top_k, req.top_p, req.seed};
  if (auto ok = validate_sampler_params(sp, model_->config().vocab); !ok) return std::unexpected(ok.error());
  for (const auto& s : req.stop)
    if (s.empty()) return fail(Errc::invalid_argument, "a stop sequence is empty");
  std::vector<uint32_t> prompt = req.prompt;
  if (prompt.empty()) {
    if (!tok.has_bos()) return fail(Errc::invalid_argument, "the prompt is empty and the model has no BOS token");
    prompt.push_back(tok.bos());
  }
  if (prompt.size() > ctx_.context())
    return fail(Errc::invalid_argument, "the prompt has " + std::to_string(prompt.size()) +
                                            " tokens, more than the context of " + std::to_string(ctx_.context()));
  GenerateResult out;
  out.prompt_tokens = static_cast<uint32_t>(prompt.size());
  ctx_.reset();
  const auto t0 = Clock::now();
  if (auto ok = ctx_.eval(prompt); !ok) return std::unexpected(ok.error());
  out.timings.prompt_ms = ms_since(t0);

  const auto t1 = Clock::now();
  Sampler sampler(sp);
  StreamDecoder decoder(tok, prompt.back() == tok.bos());
  std::string text;      // decoded so far
  size_t streamed = 0;   // bytes of `text` already passed to on_token
  bool stopped_by_text = false;
  bool callback_stopped = false;
  auto emit = [&](uint32_t id, size_t upto) {
    std::string_view piece(text.data() + streamed, upto - streamed);
    streamed = upto;
    return !on_token || on_token(id, piece);
  };
  out.finish_reason = FinishReason::length;
  for (uint32_t i = 0; i < req.max_tokens; ++i) {
    if (cancel && cancel->cancelled()) {
      out.finish_reason = FinishReason::cancelled;
      break;
    }
    const uint32_t id = sampler.sample(ctx_.logits(), ctx_.n_past());
    if (tok.is_eog(id)) {
      out.finish_reason = FinishReason::stop;
      break;
    }
    out.tokens.push_back(id);
    const size_t from = text.size();
    text += decoder.push(id);
    // A stop sequence may end inside this token's text (and begin in earlier ones).
    size_t found = std::string::npos;
    for (const auto& s : req.stop) {
      const size_t start = from >= s.size() ? from - s.size() + 1 : 0;
      const size_t at = text.find(s, start);
      if (at != std::string::npos && at < found) found = at;
    }
    if (found != std::string::npos) {
      text.resize(found);
      stopped_by_text = true;
      out.finish_reason = FinishReason::stop;
      emit(id, text.size());  // held-back text never reaches past a stop's start
      break;
    }
    if (!emit(id, text.size() - held_suffix(text, req.stop))) {
      callback_stopped = true;
      out.finish_reason = FinishReason::cancelled;
      break;
    }
    if (i + 1 == req.max_tokens) break;  // the last token needs no forward pass
    if (ctx_.n_past() == ctx_.context()) break;  // context full: finish with "length"
    if (auto ok = ctx_.eval(std::span<const uint32_t>(&id, 1)); !ok) return std::unexpected(ok.error());
  }
  if (!stopped_by_text) {
    text += decoder.finish();
    if (streamed < text.size() && on_token && !callback_stopped) on_token(kNoToken, std::string_view(text).substr(streamed));
  }
  out.timings.generation_ms = ms_since(t1);
  out.completion_tokens = static_cast<uint32_t>(out.tokens.size());
  if (out.timings.prompt_ms > 0) out.timings.prompt_tokens_per_s = out.prompt_tokens / (out.timings.prompt_ms / 1000.0);
  if (out.timings.generation_ms > 0)
    out.timings.generation_tokens_per_s = out.completion_tokens / (out.timings.generation_ms / 1000.0);
  out.text = std::move(text);
  out.output_hash = output_hash(out.tokens);
  return out;
}

}  // namespace dgrid::infer
