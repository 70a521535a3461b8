// An independent float64 forward pass of stories260K, written from the Llama equations with
// libm (no engine code beyond reading the tensors), bounds the error of the f32 engine.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "infer/engine.hpp"
#include "infer/gguf.hpp"
#include "support/test_env.hpp"

namespace dgrid::infer {
namespace {

using Vec = std::vector<double>;

struct F64Model {
  const GgufFile& f;
  uint32_t dim, layers, heads, kv_heads, ffn, vocab;
  double eps, base;

  Vec tensor(const std::string& name) const {
    const TensorInfo* t = f.tensor(name);
    EXPECT_NE(t, nullptr) << name;
    EXPECT_EQ(t->type, GgmlType::F32);
    std::vector<float> v(t->elements());
    std::memcpy(v.data(), t->data, v.size() * 4);
    return Vec(v.begin(), v.end());
  }
  // y = W x, W stored with `cols` elements per row.
  static Vec matvec(const Vec& w, const Vec& x, size_t rows) {
    const size_t cols = x.size();
    Vec y(rows, 0.0);
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) y[r] += w[r * cols + c] * x[c];
    return y;
  }
  Vec rmsnorm(const Vec& x, const Vec& w) const {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double s = 1.0 / std::sqrt(ss / x.size() + eps);
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * w[i];
    return y;
  }
  void rope(Vec& v, size_t n_heads, size_t hd, size_t pos) const {
    for (size_t h = 0; h < n_heads; ++h)
      for (size_t i = 0; i < hd / 2; ++i) {
        const double theta = pos * std::pow(base, -2.0 * i / hd);
        const double c = std::cos(theta), s = std::sin(theta);
        double& a = v[h * hd + 2 * i];
        double& b = v[h * hd + 2 * i + 1];
        const double a0 = a, b0 = b;
        a = a0 * c - b0 * s;
        b = a0 * s + b0 * c;
      }
  }

  // Logits after the whole sequence.
  Vec run(const std::vector<uint32_t>& tokens) const {
    const size_t hd = dim / heads, kvd = kv_heads * hd;
    const Vec embd = tensor("token_embd.weight");
    std::vector<std::vector<Vec>> kc(layers), vc(layers);
    Vec x;
    for (size_t pos = 0; pos < tokens.size(); ++pos) {
      x.assign(embd.begin() + tokens[pos] * dim, embd.begin() + (tokens[pos] + 1) * dim);
      for (uint32_t l = 0; l < layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        Vec xb = rmsnorm(x, tensor(p + "attn_norm.weight"));
        Vec q = matvec(tensor(p + "attn_q.weight"), xb, dim);
        Vec k = matvec(tensor(p + "attn_k.weight"), xb, kvd);
        Vec v = matvec(tensor(p + "attn_v.weight"), xb, kvd);
        rope(q, heads, hd, pos);
        rope(k, kv_heads, hd, pos);
        kc[l].push_back(k);
        vc[l].push_back(v);
        Vec att(dim, 0.0);
        for (size_t h = 0; h < heads; ++h) {
          const size_t g = h / (heads / kv_heads);
          Vec sc(pos + 1);
          double m = -1e300;
          for (size_t j = 0; j <= pos; ++j) {
            double s = 0;
            for (size_t i = 0; i < hd; ++i) s += q[h * hd + i] * kc[l][j][g * hd + i];
            sc[j] = s / std::sqrt(static_cast<double>(hd));
            m = std::max(m, sc[j]);
          }
          double sum = 0;
          for (auto& s : sc) sum += (s = std::exp(s - m));
          for (size_t j = 0; j <= pos; ++j)
            for (size_t i = 0; i < hd; ++i) att[h * hd + i] += sc[j] / sum * vc[l][j][g * hd + i];
        }
        Vec o = matvec(tensor(p + "attn_output.weight"), att, dim);
        for (size_t i = 0; i < dim; ++i) x[i] += o[i];
        xb = rmsnorm(x, tensor(p + "ffn_norm.weight"));
        Vec g = matvec(tensor(p + "ffn_gate.weight"), xb, ffn);
        Vec u = matvec(tensor(p + "ffn_up.weight"), xb, ffn);
        for (size_t i = 0; i < ffn; ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
        Vec d = matvec(tensor(p + "ffn_down.weight"), g, dim);
        for (size_t i = 0; i < dim; ++i) x[i] += d[i];
      }
    }
    const std::string out = f.tensor("output.weight") ? "output.weight" : "token_embd.weight";
    return matvec(tensor(out), rmsnorm(x, tensor("output_norm.weight")), vocab);
  }
};

TEST(ReferenceF64, EngineLogitsWithinFloatErrorOfAFloat64ForwardPass) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  auto m = Model::load(path, {.threads = 2, .batch = 4});
  ASSERT_TRUE(m.has_value()) << m.error().to_string();
  const Model& model = **m;
  const LlamaConfig& c = model.config();
  F64Model ref{model.file(), c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.ffn_dim, c.vocab, c.rms_eps, c.rope_base};
  auto prompt = model.encode("Once upon a time, a little dog named Max found a shiny red ball in the garden.");
  ASSERT_TRUE(prompt.has_value());
  auto s = model.new_session();
  ASSERT_TRUE(s->eval(*prompt).has_value());
  const Vec want = ref.run(*prompt);
  double max_abs = 0, max_diff = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(want[i]));
    max_diff = std::max(max_diff, std::fabs(want[i] - static_cast<double>(s->logits()[i])));
  }
  std::printf("[ f64 ref  ] %zu prompt tokens: max |logit| %.3f, max |f32 - f64| %.3g (%.3g relative)\n",
              prompt->size(), max_abs, max_diff, max_diff / max_abs);
  EXPECT_LT(max_diff, 1e-4 * max_abs);
  // Same argmax.
  size_t a = 0, b = 0;
  for (size_t i = 1; i < want.size(); ++i) {
    if (want[i] > want[a]) a = i;
    if (s->logits()[i] > s->logits()[b]) b = i;
  }
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace dgrid::infer
