// Llama forward pass in the canonical order of docs/determinism.md: every reduction happens
// inside a backend kernel, so batching, threads and SIMD targets cannot change a bit.
#include "infer/llama.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "infer/math.hpp"

namespace dgrid::infer {

namespace {

using kernels::WeightFormat;
using kernels::WeightView;

std::string shape_str(const std::vector<uint64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

WeightFormat format_of(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return WeightFormat::f32;
    case GgmlType::F16: return WeightFormat::f16;
    case GgmlType::Q8_0: return WeightFormat::q8_0;
    case GgmlType::Q4_0: return WeightFormat::q4_0;
  }
  return WeightFormat::f32;
}

class Loader {
 public:
  explicit Loader(const GgufFile& f) : f_(f) {}

  // A 2-D matrix of `cols` elements per row and `rows` rows, any supported type.
  Result<WeightView> matrix(const std::string& name, uint64_t cols, uint64_t rows) {
    auto t = find(name, {cols, rows});
    if (!t) return std::unexpected(t.error());
    const TensorInfo& ti = **t;
    if ((ti.type == GgmlType::F32 || ti.type == GgmlType::F16) &&
        reinterpret_cast<uintptr_t>(ti.data) % 4 != 0)
      return fail(Errc::unsupported, "tensor " + name + " is not 4-byte aligned in the file");
    bytes_ += ti.size_bytes;
    return WeightView{format_of(ti.type), ti.data, static_cast<size_t>(rows), static_cast<size_t>(cols)};
  }

  // A 1-D F32 vector of n elements (norm weights), copied out of the file.
  Result<std::vector<float>> vector(const std::string& name, uint64_t n) {
    auto t = find(name, {n});
    if (!t) return std::unexpected(t.error());
    if ((*t)->type != GgmlType::F32)
      return fail(Errc::unsupported, "tensor " + name + " has type " +
                                         std::string(ggml_type_name((*t)->type)) + "; norms must be F32");
    std::vector<float> v(n);
    std::memcpy(v.data(), (*t)->data, n * sizeof(float));
    bytes_ += n * sizeof(float);
    return v;
  }

  bool has(const std::string& name) const { return f_.tensor(name) != nullptr; }
  uint64_t bytes() const { return bytes_; }

 private:
  Result<const TensorInfo*> find(const std::string& name, std::vector<uint64_t> want) {
    const TensorInfo* t = f_.tensor(name);
    if (t == nullptr) return fail(Errc::malformed, "missing tensor " + name);
    std::vector<uint64_t> got = t->shape;
    while (got.size() > want.size() && got.back() == 1) got.pop_back();  // trailing 1s
    if (got != want)
      return fail(Errc::malformed, "tensor " + name + " has shape " + shape_str(t->shape) +
                                       ", expected " + shape_str(want));
    return t;
  }

  const GgufFile& f_;
  uint64_t bytes_ = 0;
};

Result<uint32_t> hparam(const GgufFile& f, const std::string& key) {
  auto v = f.get_uint(key);
  if (!v) return std::unexpected(v.error().context(key));
  if (*v == 0 || *v > (1u << 30)) return fail(Errc::malformed, key + " = " + std::to_string(*v) + " is out of range");
  return static_cast<uint32_t>(*v);
}

}  // namespace

Result<LlamaWeights> LlamaWeights::from_gguf(const GgufFile& f) {
  auto arch = f.get_string("general.architecture");
  if (!arch) return std::unexpected(arch.error().context("general.architecture"));
  if (*arch != "llama")
    return fail(Errc::unsupported, "model architecture \"" + *arch + "\" is not supported (only \"llama\")");
  if (f.find("llama.rope.scaling.type") != nullptr) {
    auto s = f.get_string("llama.rope.scaling.type");
    if (!s || (*s != "none" && !s->empty()))
      return fail(Errc::unsupported, "RoPE scaling \"" + (s ? *s : std::string("?")) + "\" is not supported");
  }
  LlamaWeights w;
  LlamaConfig& c = w.config_;
  for (auto [key, dst] : {std::pair{"llama.embedding_length", &c.dim}, {"llama.block_count", &c.n_layers},
                          {"llama.attention.head_count", &c.n_heads}, {"llama.feed_forward_length", &c.ffn_dim},
                          {"llama.context_length", &c.context_train}}) {
    auto v = hparam(f, key);
    if (!v) return std::unexpected(v.error());
    *dst = *v;
  }
  c.n_kv_heads = c.n_heads;
  if (f.find("llama.attention.head_count_kv") != nullptr) {
    auto v = hparam(f, "llama.attention.head_count_kv");
    if (!v) return std::unexpected(v.error());
    c.n_kv_heads = *v;
  }
  if (c.dim % c.n_heads != 0)
    return fail(Errc::malformed, "embedding length " + std::to_string(c.dim) + " is not a multiple of the head count " +
                                     std::to_string(c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    return fail(Errc::malformed, "head count " + std::to_string(c.n_heads) + " is not a multiple of the KV head count " +
                                     std::to_string(c.n_kv_heads));
  c.head_dim = c.dim / c.n_heads;
  if (c.head_dim % 2 != 0) return fail(Errc::malformed, "head dimension " + std::to_string(c.head_dim) + " is odd");
  for (const char* key : {"llama.rope.dimension_count", "llama.attention.key_length", "llama.attention.value_length"}) {
    if (f.find(key) == nullptr) continue;
    auto v = hparam(f, key);
    if (!v) return std::unexpected(v.error());
    if (*v != c.head_dim)
      return fail(Errc::unsupported, std::string(key) + " = " + std::to_string(*v) + " differs from the head dimension " +
                                         std::to_string(c.head_dim));
  }
  if (f.find("llama.attention.layer_norm_rms_epsilon") != nullptr) {
    auto v = f.get_float("llama.attention.layer_norm_rms_epsilon");
    if (!v || !(*v >= 0.0f && *v < 1.0f)) return fail(Errc::malformed, "llama.attention.layer_norm_rms_epsilon is invalid");
    c.rms_eps = *v;
  }
  if (f.find("llama.rope.freq_base") != nullptr) {
    auto v = f.get_float("llama.rope.freq_base");
    if (!v || !(*v > 1.0f && *v < 1e12f)) return fail(Errc::malformed, "llama.rope.freq_base is invalid");
    c.rope_base = *v;
  }
  const TensorInfo* embd = f.tensor("token_embd.weight");
  if (embd == nullptr) return fail(Errc::malformed, "missing tensor token_embd.weight");
  if (embd->shape.size() < 2 || embd->shape[1] == 0 || embd->shape[1] > (1u << 24))
    return fail(Errc::malformed, "tensor token_embd.weight has shape " + shape_str(embd->shape));
  c.vocab = static_cast<uint32_t>(embd->shape[1]);

  Loader ld(f);
  auto check = [](auto r, auto& dst) -> Result<void> {
    if (!r) return std::unexpected(r.error());
    dst = std::move(*r);
    return {};
  };
  Result<void> ok;
  if (!(ok = check(ld.matrix("token_embd.weight", c.dim, c.vocab), w.token_embd_))) return std::unexpected(ok.error());
  if (!(ok = check(ld.vector("output_norm.weight", c.dim), w.output_norm_))) return std::unexpected(ok.error());
  if (ld.has("output.weight")) {
    if (!(ok = check(ld.matrix("output.weight", c.dim, c.vocab), w.output_))) return std::unexpected(ok.error());
  } else {
    w.output_ = w.token_embd_;  // tied embeddings
  }
  const uint32_t kv = c.kv_dim();
  w.layers_.resize(c.n_layers);
  for (uint32_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LlamaLayer& L = w.layers_[l];
    for (auto r : {check(ld.vector(p + "attn_norm.weight", c.dim), L.attn_norm),
                   check(ld.vector(p + "ffn_norm.weight", c.dim), L.ffn_norm),
                   check(ld.matrix(p + "attn_q.weight", c.dim, c.dim), L.wq),
                   check(ld.matrix(p + "attn_k.weight", c.dim, kv), L.wk),
                   check(ld.matrix(p + "attn_v.weight", c.dim, kv), L.wv),
                   check(ld.matrix(p + "attn_output.weight", c.dim, c.dim), L.wo),
                   check(ld.matrix(p + "ffn_gate.weight", c.dim, c.ffn_dim), L.w_gate),
                   check(ld.matrix(p + "ffn_up.weight", c.dim, c.ffn_dim), L.w_up),
                   check(ld.matrix(p + "ffn_down.weight", c.ffn_dim, c.dim), L.w_down)}) {
      if (!r) return std::unexpected(r.error());
    }
  }
  w.weight_bytes_ = ld.bytes();
  // inv_freq_i = base^(-2i/d) = exp(-(2i/d) ln base), in double with the engine's functions.
  const double ln_base = math::log_f64(static_cast<double>(c.rope_base));
  for (uint32_t i = 0; i < c.head_dim / 2; ++i)
    w.inv_freq_.push_back(math::exp_f64(-(static_cast<double>(2 * i) / static_cast<double>(c.head_dim)) * ln_base));
  return w;
}

Result<void> LlamaWeights::pack_for(const kernels::Backend& backend, const GgufFile& file) {
  std::vector<WeightView*> mats{&output_};
  for (LlamaLayer& L : layers_)
    for (WeightView* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) mats.push_back(m);
  auto aligned = [](size_t n) { return (n + 63) / 64 * 64; };
  size_t total = 0;
  for (const WeightView* m : mats) {
    const WeightFormat to = backend.layout_for(m->format);
    if (to != m->format) total += aligned(kernels::matrix_bytes(to, m->rows, m->cols));
  }
  if (total == 0) return {};
  void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED)
    return fail(Errc::io, "cannot allocate " + std::to_string(total >> 20) + " MiB for the packed weights: " +
                              std::strerror(errno));
  madvise(mem, total, MADV_HUGEPAGE);  // fewer TLB misses while streaming the weights; a hint
  packed_ = std::shared_ptr<uint8_t>(static_cast<uint8_t*>(mem), [total](uint8_t* p) { munmap(p, total); });
  const bool tied = token_embd_.data == output_.data;
  uint8_t* dst = packed_.get();
  for (WeightView* m : mats) {
    const WeightFormat to = backend.layout_for(m->format);
    if (to == m->format) continue;
    const size_t from_bytes = kernels::matrix_bytes(m->format, m->rows, m->cols);
    const size_t to_bytes = kernels::matrix_bytes(to, m->rows, m->cols);
    const WeightView packed = kernels::pack_weights(*m, dst);
    file.release(m->data, from_bytes);
    weight_bytes_ = weight_bytes_ - from_bytes + to_bytes;
    *m = packed;
    dst += aligned(to_bytes);
  }
  if (tied) token_embd_ = output_;  // the embedding rows are read from the packed copy
  return {};
}

void LlamaWeights::embed(uint32_t token, float* out) const noexcept {
  kernels::dequantize_row(token_embd_, token, out);
}

LlamaContext::LlamaContext(const LlamaWeights& weights, const kernels::Backend& backend, uint32_t context,
                           uint32_t max_batch)
    : w_(weights), be_(backend), context_(context == 0 ? 1 : context), max_batch_(max_batch == 0 ? 1 : max_batch) {
  const LlamaConfig& c = w_.config();
  const size_t cache = static_cast<size_t>(c.n_layers) * context_ * c.kv_dim();
  k_cache_.assign(cache, 0.0f);
  v_cache_.assign(cache, 0.0f);
  const size_t b = max_batch_;
  x_.resize(b * c.dim);
  xb_.resize(b * c.dim);
  q_.resize(b * c.dim);
  att_.resize(b * c.dim);
  k_.resize(b * c.kv_dim());
  v_.resize(b * c.kv_dim());
  gate_.resize(b * c.ffn_dim);
  up_.resize(b * c.ffn_dim);
  cos_sin_.resize(b * c.head_dim);
  logits_.resize(c.vocab);
}

Result<void> LlamaContext::eval(std::span<const uint32_t> tokens) {
  const LlamaConfig& c = w_.config();
  for (uint32_t t : tokens)
    if (t >= c.vocab)
      return fail(Errc::invalid_argument, "token id " + std::to_string(t) + " is outside the vocabulary (" +
                                              std::to_string(c.vocab) + " tokens)");
  if (tokens.size() > context_ - n_past_)
    return fail(Errc::invalid_argument, "context full: " + std::to_string(n_past_) + " + " +
                                            std::to_string(tokens.size()) + " tokens exceed the context of " +
                                            std::to_string(context_));
  for (size_t i = 0; i < tokens.size(); i += max_batch_)
    forward(tokens.subspan(i, std::min<size_t>(max_batch_, tokens.size() - i)));
  return {};
}

void LlamaContext::forward(std::span<const uint32_t> tokens) {
  const LlamaConfig& c = w_.config();
  const size_t n = tokens.size();
  const size_t dim = c.dim, kv = c.kv_dim(), hd = c.head_dim;
  for (size_t t = 0; t < n; ++t) w_.embed(tokens[t], x_.data() + t * dim);
  // cos/sin of position * inv_freq, in double, rounded to float once.
  const auto& inv_freq = w_.rope_inv_freq();
  for (size_t t = 0; t < n; ++t) {
    const double pos = static_cast<double>(n_past_ + t);
    for (size_t i = 0; i < hd / 2; ++i) {
      double s = 0, co = 0;
      math::sincos_f64(pos * inv_freq[i], &s, &co);
      cos_sin_[t * hd + 2 * i] = static_cast<float>(co);
      cos_sin_[t * hd + 2 * i + 1] = static_cast<float>(s);
    }
  }
  for (size_t l = 0; l < c.n_layers; ++l) {
    const LlamaLayer& L = w_.layers()[l];
    float* kc = k_cache_.data() + l * context_ * kv;
    float* vc = v_cache_.data() + l * context_ * kv;
    be_.rmsnorm(x_.data(), L.attn_norm.data(), dim, n, c.rms_eps, xb_.data());
    be_.matmul(L.wq, xb_.data(), n, q_.data());
    be_.matmul(L.wk, xb_.data(), n, k_.data());
    be_.matmul(L.wv, xb_.data(), n, v_.data());
    be_.rope(q_.data(), n, c.n_heads, hd, cos_sin_.data());
    be_.rope(k_.data(), n, c.n_kv_heads, hd, cos_sin_.data());
    std::memcpy(kc + n_past_ * kv, k_.data(), n * kv * sizeof(float));
    std::memcpy(vc + n_past_ * kv, v_.data(), n * kv * sizeof(float));
    be_.attention({q_.data(), kc, vc, att_.data(), n, c.n_heads, c.n_kv_heads, hd, n_past_});
    be_.matmul(L.wo, att_.data(), n, xb_.data());
    be_.add(x_.data(), xb_.data(), n * dim);
    be_.rmsnorm(x_.data(), L.ffn_norm.data(), dim, n, c.rms_eps, xb_.data());
    be_.matmul(L.w_gate, xb_.data(), n, gate_.data());
    be_.matmul(L.w_up, xb_.data(), n, up_.data());
    be_.silu_mul(gate_.data(), up_.data(), n * c.ffn_dim);
    be_.matmul(L.w_down, gate_.data(), n, xb_.data());
    be_.add(x_.data(), xb_.data(), n * dim);
  }
  // Only the last token's logits are needed (sampling); each is its own canonical dot.
  const float* last = x_.data() + (n - 1) * dim;
  be_.rmsnorm(last, w_.output_norm().data(), dim, 1, c.rms_eps, xb_.data());
  be_.matmul(w_.output(), xb_.data(), 1, logits_.data());
  n_past_ += static_cast<uint32_t>(n);
}

}  // namespace dgrid::infer
