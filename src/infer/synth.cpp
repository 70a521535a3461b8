#include "infer/synth.hpp"

#include <bit>
#include <string>
#include <vector>

#include "infer/gguf_quant.hpp"
#include "infer/gguf_writer.hpp"

namespace dgrid::infer {

namespace {

constexpr uint64_t kChunk = 1 << 16;  // elements generated per step (a multiple of 32)

uint64_t splitmix64(uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(std::string_view s) noexcept {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// SentencePiece-style (`llama`) vocabulary that works without a real model: <unk> <s> </s>,
// the 256 byte-fallback tokens, the word-start marker and printable ASCII; padded with
// unused tokens up to `size`.
void builtin_tokenizer(GgufWriter& w, uint32_t size) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};  // unknown, control, control
  static const char* kHex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
    types.push_back(6);  // byte
  }
  tokens.push_back("\xe2\x96\x81");  // U+2581, SentencePiece's word-start marker
  types.push_back(1);
  for (char c = 0x21; c < 0x7f; ++c) {
    tokens.emplace_back(1, c);
    types.push_back(1);
  }
  for (uint32_t i = 0; tokens.size() < size; ++i) {
    tokens.push_back("<extra_" + std::to_string(i) + ">");
    types.push_back(5);  // unused
  }
  std::vector<float> scores(tokens.size(), 0.0f);
  for (size_t i = 259; i < scores.size(); ++i) scores[i] = -static_cast<float>(i - 259);
  (void)w.set("tokenizer.ggml.model", GgufValue::string("llama"));
  (void)w.set("tokenizer.ggml.tokens", GgufValue::string_array(std::move(tokens)));
  (void)w.set("tokenizer.ggml.scores", GgufValue::f32_array(scores));
  (void)w.set("tokenizer.ggml.token_type", GgufValue::i32_array(types));
  (void)w.set("tokenizer.ggml.unknown_token_id", GgufValue::u32(0));
  (void)w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(1));
  (void)w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(2));
  (void)w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(true));
}
constexpr uint32_t kBuiltinVocab = 3 + 256 + 1 + 94;

uint32_t file_type_of(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    case GgmlType::Q8_0: return 7;
  }
  return 0;
}

GgufWriter::Fill random_fill(uint64_t seed, std::string name, GgmlType type, uint64_t elements) {
  return [seed, name = std::move(name), type, elements](TensorSink& sink) -> Result<void> {
    std::vector<float> values(kChunk);
    std::vector<uint8_t> bytes(kChunk * 4);
    for (uint64_t first = 0; first < elements; first += kChunk) {
      const uint64_t n = elements - first < kChunk ? elements - first : kChunk;
      synth_values(seed, name, first, std::span<float>(values.data(), n));
      if (auto r = quantize_row(type, values.data(), bytes.data(), n); !r) return r;
      auto size = ggml_tensor_bytes(type, n);
      if (!size) return std::unexpected(size.error());
      if (auto r = sink.write(ByteView(bytes.data(), *size)); !r) return r;
    }
    return {};
  };
}

GgufWriter::Fill ones_fill(uint64_t elements) {
  return [elements](TensorSink& sink) -> Result<void> {
    Bytes one(4);
    const uint32_t bits = std::bit_cast<uint32_t>(1.0f);
    for (int i = 0; i < 4; ++i) one[i] = static_cast<uint8_t>(bits >> (8 * i));
    for (uint64_t i = 0; i < elements; ++i)
      if (auto r = sink.write(one); !r) return r;
    return {};
  };
}

}  // namespace

Result<SynthSpec> synth_preset(std::string_view name) {
  SynthSpec s;
  if (name == "tiny") {
    s.dim = 64, s.n_layers = 2, s.n_heads = 4, s.n_kv_heads = 2, s.ffn_dim = 128, s.context = 256;
  } else if (name == "100m") {
    s.dim = 768, s.n_layers = 12, s.n_heads = 12, s.n_kv_heads = 12, s.ffn_dim = 2048;
  } else if (name == "1b") {
    s.dim = 2048, s.n_layers = 22, s.n_heads = 32, s.n_kv_heads = 4, s.ffn_dim = 5632;
  } else {
    return fail(Errc::invalid_argument, "unknown preset \"" + std::string(name) + "\" (tiny, 100m, 1b)");
  }
  return s;
}

Result<void> validate_synth_spec(const SynthSpec& s) {
  auto bad = [](std::string m) { return fail(Errc::invalid_argument, std::move(m)); };
  if (s.dim == 0 || s.n_layers == 0 || s.n_heads == 0 || s.n_kv_heads == 0 || s.ffn_dim == 0 || s.context == 0)
    return bad("dim, layers, heads, kv heads, ffn and context must all be > 0");
  if (s.dim % s.n_heads != 0)
    return bad("dim " + std::to_string(s.dim) + " is not a multiple of the head count " + std::to_string(s.n_heads));
  if (s.n_heads % s.n_kv_heads != 0)
    return bad("head count " + std::to_string(s.n_heads) + " is not a multiple of the kv head count " +
               std::to_string(s.n_kv_heads));
  if ((s.dim / s.n_heads) % 2 != 0) return bad("the head dimension must be even (RoPE rotates pairs)");
  const uint64_t block = ggml_block_elements(s.weight_type);
  if (s.dim % block != 0 || s.ffn_dim % block != 0)
    return bad("dim and ffn must be multiples of " + std::to_string(block) + " for " +
               std::string(ggml_type_name(s.weight_type)) + " weights");
  if (!(s.rope_base > 0.0f)) return bad("rope base must be > 0");
  return {};
}

uint64_t synth_param_count(const SynthSpec& s, uint64_t vocab) {
  const uint64_t d = s.dim, kv = static_cast<uint64_t>(s.dim) / s.n_heads * s.n_kv_heads, f = s.ffn_dim;
  const uint64_t layer = d + d * d + 2 * d * kv + d * d + d + 3 * d * f;
  return 2 * d * vocab + d + s.n_layers * layer;
}

void synth_values(uint64_t seed, std::string_view name, uint64_t first, std::span<float> out) noexcept {
  // Irwin-Hall: the sum of four 16-bit uniforms, centred, has variance 4/12 of one unit;
  // scaled so the standard deviation is 0.02. Integer sums keep it exact everywhere.
  constexpr float kScale = 0.0346410162f / 65536.0f;  // 0.02 * sqrt(3) / 2^16
  const uint64_t key = splitmix64(seed ^ fnv1a(name));
  for (size_t i = 0; i < out.size(); ++i) {
    const uint64_t r = splitmix64(key + (first + i) * 0xd1b54a32d192ed03ull);
    const int64_t sum = static_cast<int64_t>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48));
    out[i] = static_cast<float>(2 * sum + 4 - 2 * 131072) * (kScale / 2.0f);
  }
}

Result<void> write_synthetic_model(const SynthSpec& spec, const GgufFile* tokenizer_source,
                                   const std::filesystem::path& path,
                                   const std::function<void(uint64_t, uint64_t)>& progress) {
  if (auto r = validate_synth_spec(spec); !r) return r;
  GgufWriter w;
  uint64_t vocab = 0;
  if (tokenizer_source) {
    auto tokens = tokenizer_source->find("tokenizer.ggml.tokens");
    if (!tokens || tokens->type() != GgufType::ARRAY || tokens->array_type() != GgufType::STRING)
      return fail(Errc::invalid_argument, "the tokenizer source has no tokenizer.ggml.tokens string array");
    vocab = tokens->array_size();
    if (spec.vocab != 0 && spec.vocab != vocab)
      return fail(Errc::invalid_argument, "vocab " + std::to_string(spec.vocab) + " differs from the tokenizer source's " +
                                              std::to_string(vocab) + " tokens");
  } else {
    vocab = spec.vocab == 0 ? kBuiltinVocab : spec.vocab;
    if (vocab < kBuiltinVocab)
      return fail(Errc::invalid_argument, "vocab must be at least " + std::to_string(kBuiltinVocab) +
                                              " without a tokenizer source (the built-in vocabulary's size)");
  }
  const uint64_t head_dim = spec.dim / spec.n_heads;
  const uint64_t kv_dim = head_dim * spec.n_kv_heads;
  (void)w.set("general.architecture", GgufValue::string("llama"));
  (void)w.set("general.name", GgufValue::string("dgrid-synth"));
  (void)w.set("general.file_type", GgufValue::u32(file_type_of(spec.weight_type)));
  (void)w.set("llama.context_length", GgufValue::u32(spec.context));
  (void)w.set("llama.embedding_length", GgufValue::u32(spec.dim));
  (void)w.set("llama.block_count", GgufValue::u32(spec.n_layers));
  (void)w.set("llama.feed_forward_length", GgufValue::u32(spec.ffn_dim));
  (void)w.set("llama.attention.head_count", GgufValue::u32(spec.n_heads));
  (void)w.set("llama.attention.head_count_kv", GgufValue::u32(spec.n_kv_heads));
  (void)w.set("llama.rope.dimension_count", GgufValue::u32(static_cast<uint32_t>(head_dim)));
  (void)w.set("llama.rope.freq_base", GgufValue::f32(spec.rope_base));
  (void)w.set("llama.attention.layer_norm_rms_epsilon", GgufValue::f32(1e-5f));
  (void)w.set("llama.vocab_size", GgufValue::u32(static_cast<uint32_t>(vocab)));
  (void)w.set("dgrid.synth.seed", GgufValue::u64(spec.seed));
  if (tokenizer_source) {
    for (const auto& [key, value] : tokenizer_source->metadata())
      if (key.starts_with("tokenizer.")) (void)w.set(key, value);
  } else {
    builtin_tokenizer(w, static_cast<uint32_t>(vocab));
  }

  const GgmlType t = spec.weight_type;
  auto matrix = [&](const std::string& name, uint64_t cols, uint64_t rows) {
    return w.add_tensor(name, {cols, rows}, t, random_fill(spec.seed, name, t, cols * rows));
  };
  auto norm = [&](const std::string& name) {
    return w.add_tensor(name, {spec.dim}, GgmlType::F32, ones_fill(spec.dim));
  };
  Result<void> r = matrix("token_embd.weight", spec.dim, vocab);
  for (uint32_t l = 0; r && l < spec.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    if (r) r = norm(p + "attn_norm.weight");
    if (r) r = matrix(p + "attn_q.weight", spec.dim, spec.dim);
    if (r) r = matrix(p + "attn_k.weight", spec.dim, kv_dim);
    if (r) r = matrix(p + "attn_v.weight", spec.dim, kv_dim);
    if (r) r = matrix(p + "attn_output.weight", spec.dim, spec.dim);
    if (r) r = norm(p + "ffn_norm.weight");
    if (r) r = matrix(p + "ffn_gate.weight", spec.dim, spec.ffn_dim);
    if (r) r = matrix(p + "ffn_up.weight", spec.dim, spec.ffn_dim);
    if (r) r = matrix(p + "ffn_down.weight", spec.ffn_dim, spec.dim);
  }
  if (r) r = norm("output_norm.weight");
  if (r) r = matrix("output.weight", spec.dim, vocab);
  if (!r) return r;
  return w.write(path, progress);
}

}  // namespace dgrid::infer
