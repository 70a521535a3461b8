// Model-level determinism (docs/determinism.md): the logits are bit-identical across
// backends (scalar reference vs SIMD), thread counts, batch splits, repeated runs and
// concurrent sessions, on the real model and on synthetic Q8_0 / Q4_0 / F16 models.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "infer/engine.hpp"
#include "infer/synth.hpp"
#include "support/test_env.hpp"

namespace dgrid::infer {
namespace {

std::vector<float> logits_of(const std::filesystem::path& path, LoadOptions opt, std::span<const uint32_t> prompt,
                             bool token_by_token = false) {
  auto m = Model::load(path, opt);
  EXPECT_TRUE(m.has_value()) << (m ? "" : m.error().to_string());
  if (!m) return {};
  auto s = (*m)->new_session();
  if (token_by_token) {
    for (uint32_t t : prompt) EXPECT_TRUE(s->eval(std::span<const uint32_t>(&t, 1)).has_value());
  } else {
    EXPECT_TRUE(s->eval(prompt).has_value());
  }
  auto l = s->logits();
  return {l.begin(), l.end()};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return !a.empty() && a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

std::vector<uint32_t> test_prompt(uint32_t vocab, size_t n) {
  std::vector<uint32_t> p{1};
  for (size_t i = 1; i < n; ++i) p.push_back(static_cast<uint32_t>((i * 2654435761u) % vocab));
  return p;
}

void check_model(const std::filesystem::path& path, uint32_t vocab) {
  const auto prompt = test_prompt(vocab, 37);
  const auto base = logits_of(path, {.threads = 1, .batch = 64, .backend = BackendKind::reference}, prompt);
  ASSERT_FALSE(base.empty());
  bool any_nonzero = false;
  for (float v : base) any_nonzero |= v != 0.0f;
  ASSERT_TRUE(any_nonzero);
  for (uint32_t threads : {1u, 2u, 3u, 4u}) {
    for (uint32_t batch : {64u, 1u, 3u}) {
      SCOPED_TRACE("threads " + std::to_string(threads) + " batch " + std::to_string(batch));
      EXPECT_TRUE(same_bits(base, logits_of(path, {.threads = threads, .batch = batch}, prompt)));
    }
    EXPECT_TRUE(same_bits(base, logits_of(path, {.threads = threads, .batch = 64}, prompt, true)))
        << "token by token, threads " << threads;
  }
  // The reference backend is batch invariant too.
  EXPECT_TRUE(same_bits(base, logits_of(path, {.batch = 3, .backend = BackendKind::reference}, prompt)));
}

TEST(Determinism, RealModelLogitsAcrossBackendsThreadsAndBatches) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  check_model(path, 512);
}

class SynthModel : public ::testing::TestWithParam<GgmlType> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dgrid_det_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            std::to_string(static_cast<int>(GetParam())) + "_" + std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(dir_);
    path_ = dir_ / "model.gguf";
    SynthSpec spec;
    spec.dim = 512;  // 16 blocks per row: the SIMD 16-block path runs, not just the tail
    spec.n_layers = 2;
    spec.n_heads = 4;
    spec.n_kv_heads = 2;
    spec.ffn_dim = 608;  // 19 blocks: 16 plus a tail
    spec.context = 128;
    spec.weight_type = GetParam();
    spec.seed = 7;
    auto ok = write_synthetic_model(spec, nullptr, path_);
    ASSERT_TRUE(ok.has_value()) << ok.error().to_string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_, path_;
};

TEST_P(SynthModel, LogitsAcrossBackendsThreadsAndBatches) {
  auto m = Model::load(path_);
  ASSERT_TRUE(m.has_value()) << m.error().to_string();
  check_model(path_, (*m)->config().vocab);
}

INSTANTIATE_TEST_SUITE_P(Types, SynthModel, ::testing::Values(GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::F16),
                         [](const auto& p) { return std::string(ggml_type_name(p.param)); });

TEST(Determinism, RepeatedAndConcurrentSessionsGiveTheSameTokens) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  auto m = Model::load(path, {.threads = 3, .batch = 5});
  ASSERT_TRUE(m.has_value());
  const auto& model = *m;
  std::vector<GenerateRequest> reqs(4);
  for (size_t i = 0; i < reqs.size(); ++i) {
    reqs[i].prompt = test_prompt(512, 3 + 4 * i);
    reqs[i].max_tokens = 40;
    reqs[i].temperature = i == 0 ? 0.0f : 0.9f;
    reqs[i].top_k = i == 2 ? 40 : 0;
    reqs[i].top_p = i == 3 ? 0.9f : 1.0f;
    reqs[i].seed = 100 + i;
  }
  std::vector<GenerateResult> alone;
  for (const auto& r : reqs) {
    auto res = model->new_session()->generate(r);
    ASSERT_TRUE(res.has_value());
    alone.push_back(*res);
  }
  // Repeated in one session.
  auto s = model->new_session();
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(s->generate(reqs[i])->tokens, alone[i].tokens);
  // Concurrently, several times each.
  std::vector<std::thread> threads;
  std::vector<std::vector<std::vector<uint32_t>>> got(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i)
    threads.emplace_back([&, i] {
      auto sess = model->new_session();
      for (int rep = 0; rep < 3; ++rep) got[i].push_back(sess->generate(reqs[i])->tokens);
    });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < reqs.size(); ++i)
    for (const auto& toks : got[i]) EXPECT_EQ(toks, alone[i].tokens) << "request " << i;
  // The reference backend agrees token for token, sampling included.
  auto ref = Model::load(path, {.backend = BackendKind::reference});
  ASSERT_TRUE(ref.has_value());
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto res = (*ref)->new_session()->generate(reqs[i]);
    EXPECT_EQ(res->tokens, alone[i].tokens);
    EXPECT_EQ(res->output_hash, alone[i].output_hash);
  }
}

}  // namespace
}  // namespace dgrid::infer
