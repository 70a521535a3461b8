// Llama weights: hyperparameters and shapes from the real model, and clear errors for
// models that do not fit the architecture (rewritten copies of the real model).
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "infer/engine.hpp"
#include "infer/gguf_writer.hpp"
#include "infer/llama.hpp"
#include "support/test_env.hpp"

namespace dgrid::infer {
namespace {

struct Edit {
  std::function<void(GgufWriter&)> metadata = {};  // after the original metadata is copied
  std::string drop = {};                      // a tensor to leave out
  std::string reshape = {};                   // a tensor to replace by `shape` F32 zeros
  std::vector<uint64_t> shape = {};
  std::string as_f16 = {};                    // a tensor to store as F16
};

// A rewritten copy of `f` in memory.
Result<std::unique_ptr<GgufFile>> rewrite(const GgufFile& f, const Edit& e) {
  GgufWriter w;
  for (const auto& [key, value] : f.metadata())
    if (key != "general.alignment") (void)w.set(key, value);
  if (e.metadata) e.metadata(w);
  for (const TensorInfo& t : f.tensors()) {
    if (t.name == e.drop) continue;
    if (t.name == e.reshape) {
      uint64_t n = 1;
      for (uint64_t d : e.shape) n *= d;
      (void)w.add_tensor(t.name, e.shape, GgmlType::F32, Bytes(n * 4, 0));
    } else if (t.name == e.as_f16) {
      (void)w.add_tensor(t.name, t.shape, GgmlType::F16, Bytes(t.elements() * 2, 0));
    } else {
      (void)w.add_tensor(t.name, t.shape, t.type, Bytes(t.data, t.data + t.size_bytes));
    }
  }
  auto bytes = w.to_bytes();
  if (!bytes) return std::unexpected(bytes.error());
  static std::vector<Bytes> keep;  // open_memory borrows the bytes
  keep.push_back(std::move(*bytes));
  return GgufFile::open_memory(keep.back());
}

class LlamaRealModel : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto p = dgrid::test::shared_file("models/stories260K.gguf");
    if (p.empty()) {
      if (dgrid::test::shared_required()) FAIL() << "missing ../shared/models/stories260K.gguf";
      GTEST_SKIP() << "stories260K.gguf not found";
    }
    auto f = GgufFile::open(p);
    ASSERT_TRUE(f.has_value()) << f.error().to_string();
    file_ = std::move(*f);
  }

  Error load_error(const Edit& e) {
    auto f = rewrite(*file_, e);
    EXPECT_TRUE(f.has_value()) << (f ? "" : f.error().to_string());
    if (!f) return {};
    auto w = LlamaWeights::from_gguf(**f);
    EXPECT_FALSE(w.has_value());
    return w ? Error{} : w.error();
  }

  std::unique_ptr<GgufFile> file_;
};

TEST_F(LlamaRealModel, ReadsTheHyperparameters) {
  auto w = LlamaWeights::from_gguf(*file_);
  ASSERT_TRUE(w.has_value()) << w.error().to_string();
  const LlamaConfig& c = w->config();
  EXPECT_EQ(c.dim, 64u);
  EXPECT_EQ(c.n_layers, 5u);
  EXPECT_EQ(c.n_heads, 8u);
  EXPECT_EQ(c.n_kv_heads, 4u);
  EXPECT_EQ(c.head_dim, 8u);
  EXPECT_EQ(c.ffn_dim, 172u);
  EXPECT_EQ(c.vocab, 512u);
  EXPECT_FLOAT_EQ(c.rms_eps, 1e-5f);
  ASSERT_EQ(w->rope_inv_freq().size(), 4u);
  EXPECT_EQ(w->rope_inv_freq()[0], 1.0);
  EXPECT_NEAR(w->rope_inv_freq()[1], 0.1, 1e-15);  // 10000^(-2/8)
  // Weights are viewed in place inside the mapping, not copied.
  EXPECT_EQ(w->token_embd().data, file_->tensor("token_embd.weight")->data);
}

TEST_F(LlamaRealModel, WrongArchitectureIsUnsupported) {
  auto e = load_error({.metadata = [](GgufWriter& w) { (void)w.set("general.architecture", GgufValue::string("gpt2")); }});
  EXPECT_EQ(e.code, Errc::unsupported);
  EXPECT_NE(e.message.find("gpt2"), std::string::npos) << e.message;
}

TEST_F(LlamaRealModel, MissingTensorIsNamed) {
  auto e = load_error({.drop = "blk.3.ffn_up.weight"});
  EXPECT_EQ(e.code, Errc::malformed);
  EXPECT_NE(e.message.find("missing tensor blk.3.ffn_up.weight"), std::string::npos) << e.message;
}

TEST_F(LlamaRealModel, ShapeMismatchSaysWhatWasExpected) {
  auto e = load_error({.reshape = "blk.0.attn_k.weight", .shape = {64, 64}});
  EXPECT_EQ(e.code, Errc::malformed);
  EXPECT_NE(e.message.find("blk.0.attn_k.weight has shape [64, 64], expected [64, 32]"), std::string::npos)
      << e.message;
}

TEST_F(LlamaRealModel, InconsistentHeadCounts) {
  auto e = load_error({.metadata = [](GgufWriter& w) { (void)w.set("llama.attention.head_count_kv", GgufValue::u32(3)); }});
  EXPECT_EQ(e.code, Errc::malformed);
  EXPECT_NE(e.message.find("KV head count"), std::string::npos) << e.message;
  e = load_error({.metadata = [](GgufWriter& w) { (void)w.set("llama.attention.head_count", GgufValue::u32(64)); }});
  EXPECT_NE(e.message.find("head dimension 1 is odd"), std::string::npos) << e.message;
  e = load_error({.metadata = [](GgufWriter& w) { (void)w.set("llama.embedding_length", GgufValue::u32(60)); }});
  EXPECT_NE(e.message.find("not a multiple of the head count"), std::string::npos) << e.message;
}

TEST_F(LlamaRealModel, NormsMustBeF32) {
  auto e = load_error({.as_f16 = "blk.1.ffn_norm.weight"});
  EXPECT_EQ(e.code, Errc::unsupported);
  EXPECT_NE(e.message.find("norms must be F32"), std::string::npos) << e.message;
}

TEST_F(LlamaRealModel, MissingOutputWeightMeansTiedEmbeddings) {
  auto tied = rewrite(*file_, {.drop = "output.weight"});
  ASSERT_TRUE(tied.has_value());
  auto wt = LlamaWeights::from_gguf(**tied);
  auto wo = LlamaWeights::from_gguf(*file_);
  ASSERT_TRUE(wt.has_value() && wo.has_value());
  EXPECT_EQ(wt->output().data, wt->token_embd().data);
  // stories260K's output.weight equals its embedding, so the logits agree bit for bit.
  auto be = kernels::make_reference_backend();
  LlamaContext a(*wt, *be, 16, 4), b(*wo, *be, 16, 4);
  const std::vector<uint32_t> prompt = {1, 403, 407, 261};
  ASSERT_TRUE(a.eval(prompt).has_value());
  ASSERT_TRUE(b.eval(prompt).has_value());
  EXPECT_EQ(std::memcmp(a.logits().data(), b.logits().data(), 512 * 4), 0);
}

TEST_F(LlamaRealModel, ContextLimitsAndTokenRange) {
  auto w = LlamaWeights::from_gguf(*file_);
  ASSERT_TRUE(w.has_value());
  auto be = kernels::make_reference_backend();
  LlamaContext ctx(*w, *be, 8, 4);
  const std::vector<uint32_t> six = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(ctx.eval(six).has_value());
  auto e = ctx.eval(std::vector<uint32_t>{7, 8, 9});
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, Errc::invalid_argument);
  EXPECT_NE(e.error().message.find("context full"), std::string::npos) << e.error().message;
  EXPECT_EQ(ctx.n_past(), 6u);  // nothing was evaluated
  auto bad = ctx.eval(std::vector<uint32_t>{512});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("outside the vocabulary"), std::string::npos);
}

}  // namespace
}  // namespace dgrid::infer
