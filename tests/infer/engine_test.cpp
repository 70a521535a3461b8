// The library API on the real model: greedy story, streaming, stop sequences, cancellation,
// concurrent sessions, bad requests.
#include <gtest/gtest.h>

#include <thread>

#include "infer/engine.hpp"
#include "infer/output_hash.hpp"
#include "support/test_env.hpp"

namespace dgrid::infer {
namespace {

std::shared_ptr<const Model> load(const std::filesystem::path& p, LoadOptions o = {}) {
  auto m = Model::load(p, o);
  EXPECT_TRUE(m.has_value()) << (m ? "" : m.error().to_string());
  return m ? *m : nullptr;
}

// The first 30 greedy tokens from BOS on stories260K. They equal llama.cpp's (the 64-token
// cross-check with its provenance lives in llamacpp_vectors_test.cpp).
const std::vector<uint32_t> kGreedyFromBos = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298,
                                              315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
                                              410, 408, 419, 292, 411, 322, 265, 282, 295, 433};

TEST(Engine, GreedyFromBosTellsAStory) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  auto model = load(path, {.threads = 2});
  ASSERT_TRUE(model);
  auto s = model->new_session();
  GenerateRequest req;
  req.max_tokens = 30;
  auto r = s->generate(req);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  std::printf("[ greedy   ] %s\n[ ids      ]", r->text.c_str());
  for (uint32_t t : r->tokens) std::printf(" %u", t);
  std::printf("\n");
  EXPECT_TRUE(r->text.starts_with("Once upon a time")) << r->text;
  EXPECT_EQ(r->prompt_tokens, 1u);
  EXPECT_EQ(r->completion_tokens, r->tokens.size());
  EXPECT_EQ(r->output_hash, output_hash(r->tokens));
  EXPECT_EQ(r->tokens, kGreedyFromBos);
}

}  // namespace
}  // namespace dgrid::infer
