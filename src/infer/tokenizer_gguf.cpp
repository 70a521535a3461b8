// Tokenizer::from_gguf: reads the tokenizer.* metadata llama.cpp's converters write.
#include "infer/gguf.hpp"
#include "infer/tokenizer.hpp"

namespace dgrid::infer {
namespace {

// Optional special-token id: absent, or outside the vocabulary (converters write
// 0xFFFFFFFF for "none"), reads as none, as llama.cpp does.
Result<std::optional<uint32_t>> special_id(const GgufFile& f, std::string_view key, size_t n) {
  if (!f.find(key)) return std::optional<uint32_t>{};
  auto v = f.get_uint(key);
  if (!v) return std::unexpected(v.error());
  if (*v >= n) return std::optional<uint32_t>{};
  return std::optional<uint32_t>{static_cast<uint32_t>(*v)};
}

Result<std::optional<bool>> flag(const GgufFile& f, std::string_view key) {
  const GgufValue* v = f.find(key);
  if (!v) return std::optional<bool>{};
  auto b = v->as_bool();
  if (!b) return fail(Errc::malformed, std::string(key) + " is not a bool");
  return std::optional<bool>{*b};
}

Result<VocabSpec> read_spec(const GgufFile& f) {
  VocabSpec s;
  auto model = f.get_string("tokenizer.ggml.model");
  if (!model) return std::unexpected(model.error());
  if (*model == "llama")
    s.model = TokenizerModel::spm;
  else if (*model == "gpt2")
    s.model = TokenizerModel::bpe;
  else
    return fail(Errc::unsupported, "tokenizer model \"" + *model + "\" (dgrid reads llama and gpt2)");

  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (!tokens) return std::unexpected(tokens.error());
  s.tokens = std::move(*tokens);
  if (f.find("tokenizer.ggml.scores")) {
    auto v = f.get_float_array("tokenizer.ggml.scores");
    if (!v) return std::unexpected(v.error());
    s.scores = std::move(*v);
  }
  if (f.find("tokenizer.ggml.token_type")) {
    auto v = f.get_int_array("tokenizer.ggml.token_type");
    if (!v) return std::unexpected(v.error());
    s.token_types = std::move(*v);
  }
  if (s.model == TokenizerModel::bpe) {
    auto v = f.get_string_array("tokenizer.ggml.merges");
    if (!v) return std::unexpected(v.error());
    s.merges = std::move(*v);
  }
  const size_t n = s.tokens.size();
  for (auto [key, dst] : {std::pair{"tokenizer.ggml.bos_token_id", &s.bos},
                          {"tokenizer.ggml.eos_token_id", &s.eos},
                          {"tokenizer.ggml.unknown_token_id", &s.unk},
                          {"tokenizer.ggml.padding_token_id", &s.pad},
                          {"tokenizer.ggml.eot_token_id", &s.eot},
                          {"tokenizer.ggml.eom_token_id", &s.eom}}) {
    auto id = special_id(f, key, n);
    if (!id) return std::unexpected(id.error());
    *dst = *id;
  }
  // Defaults as llama.cpp: SPM adds BOS and a space prefix, GPT-2 BPE neither.
  const bool spm = s.model == TokenizerModel::spm;
  auto add_bos = flag(f, "tokenizer.ggml.add_bos_token");
  if (!add_bos) return std::unexpected(add_bos.error());
  s.add_bos = add_bos->value_or(spm);
  auto add_prefix = flag(f, "tokenizer.ggml.add_space_prefix");
  if (!add_prefix) return std::unexpected(add_prefix.error());
  s.add_space_prefix = add_prefix->value_or(spm);
  if (f.find("tokenizer.chat_template")) {
    auto t = f.get_string("tokenizer.chat_template");
    if (!t) return std::unexpected(t.error());
    s.chat_template = std::move(*t);
  }
  return s;
}

}  // namespace

Result<Tokenizer> Tokenizer::from_gguf(const GgufFile& f) {
  auto spec = read_spec(f);
  if (!spec) return std::unexpected(spec.error().context("tokenizer"));
  return from_vocab(std::move(*spec));
}

}  // namespace dgrid::infer
