// Greedy outputs of stories260K recorded from llama.cpp, an independent implementation of the
// same model: dgrid's tokenizer and engine must agree with them token for token.
//
// How the vectors were produced (nothing of llama.cpp is in this repository):
//   llama.cpp as vendored in github.com/openresearchtools/engine at commit
//   4496605624dd0b3cd2560450f8af88c780f52068 (third_party/llama.cpp, ggml 0.9.7), built beside
//   the project with
//     cmake -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_CUDA=OFF -DGGML_BLAS=OFF
//           -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF   (g++ 12.2, x86-64 AVX-512 host)
//   and a 60-line program linked against libllama (bench/README.md describes it) that does
//     llama_tokenize(vocab, prompt, add_special=true, parse_special=false)   (or BOS alone),
//     llama_decode(whole prompt as one batch), then 64 times: argmax over llama_get_logits_ith
//     (first index on ties, i.e. llama_sampler_init_greedy), llama_decode(that token),
//   with n_ctx 512 and otherwise llama_context_default_params() (f16 KV cache, flash attention
//   auto). The ids were identical with 1 and 2 threads, with the prompt fed one token per
//   decode, with an f32 KV cache and with flash attention off, so they do not hinge on
//   llama.cpp's own rounding choices. Neither run reached EOS within 64 tokens.
//   Smallest top-1/top-2 logit gap along the way (llama.cpp f32 logits): 0.0702 at generated
//   position 61 from BOS (57 after the prompt) — far above float32 rounding noise (~1e-5), so
//   any disagreement is a real difference, not a near-tie.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "infer/engine.hpp"
#include "infer/gguf.hpp"
#include "infer/tokenizer.hpp"
#include "support/test_env.hpp"

namespace dgrid::infer {
namespace {

// llama_tokenize("Once upon a time", add_special=true): BOS, "▁Once", "▁upon", "▁a", "▁time".
const std::vector<uint32_t> kPromptTokens = {1, 403, 407, 261, 378};

// 64 greedy tokens after BOS alone: " Once upon a time, there was a little girl named Lily.
// She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play
// with it, but it was too high.\nLily"
const std::vector<uint32_t> kFromBos = {
    403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338,
    401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385,
    328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267,
    337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13,  438, 310};

// 64 greedy tokens after kPromptTokens (the same story, 4 tokens further on: "...Lily's mom said").
const std::vector<uint32_t> kFromPrompt = {
    432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
    410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394,
    261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267, 337, 335, 312, 432,
    398, 312, 286, 267, 414, 270, 333, 415, 426, 13,  438, 310, 439, 419, 357, 336};

// On a mismatch, says where and how close dgrid's own top two logits were there (a near-tie
// would show a gap near float rounding; a real bug shows a clear gap for the wrong token).
std::string explain_mismatch(const std::shared_ptr<const Model>& model, std::span<const uint32_t> prompt,
                             std::span<const uint32_t> expected, std::span<const uint32_t> got) {
  size_t pos = 0;
  while (pos < expected.size() && pos < got.size() && expected[pos] == got[pos]) ++pos;
  std::ostringstream s;
  s << "first difference at generated position " << pos << " (llama.cpp "
    << (pos < expected.size() ? std::to_string(expected[pos]) : "end") << ", dgrid "
    << (pos < got.size() ? std::to_string(got[pos]) : "end") << ")";
  if (pos >= expected.size() || pos >= got.size()) return s.str();
  auto session = model->new_session();
  std::vector<uint32_t> ctx(prompt.begin(), prompt.end());
  if (ctx.empty()) ctx.push_back(model->tokenizer().bos());
  ctx.insert(ctx.end(), expected.begin(), expected.begin() + static_cast<std::ptrdiff_t>(pos));
  if (!session->eval(ctx)) return s.str();
  auto logits = session->logits();
  s << "; dgrid logits there: llama.cpp's token " << logits[expected[pos]] << ", dgrid's token "
    << logits[got[pos]] << ", gap " << (logits[got[pos]] - logits[expected[pos]]);
  return s.str();
}

void expect_greedy(BackendKind backend, uint32_t threads, const std::vector<uint32_t>& prompt,
                   const std::vector<uint32_t>& expected) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  LoadOptions opt;
  opt.backend = backend;
  opt.threads = threads;
  auto model = Model::load(path, opt);
  ASSERT_TRUE(model) << model.error().message;
  GenerateRequest req;
  req.prompt = prompt;
  req.max_tokens = static_cast<uint32_t>(expected.size());
  req.temperature = 0.0f;
  auto result = (*model)->new_session()->generate(req);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->finish_reason, FinishReason::length);
  EXPECT_EQ(result->tokens, expected) << explain_mismatch(*model, prompt, expected, result->tokens);
}

TEST(LlamacppVectors, PromptTokenization) {
  DGRID_SHARED_OR_SKIP(path, "models/stories260K.gguf");
  auto file = GgufFile::open(path);
  ASSERT_TRUE(file) << file.error().message;
  auto tok = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tok) << tok.error().message;
  auto ids = tok->encode("Once upon a time", true);
  ASSERT_TRUE(ids) << ids.error().message;
  EXPECT_EQ(*ids, kPromptTokens);
  // The greedy continuation from BOS is this very text, as llama.cpp tokenizes it.
  auto again = tok->encode("Once upon a time", false);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, std::vector<uint32_t>(kFromBos.begin(), kFromBos.begin() + 4));
}

TEST(LlamacppVectors, GreedyFromBosReference) { expect_greedy(BackendKind::reference, 1, {}, kFromBos); }
TEST(LlamacppVectors, GreedyFromBosCpuTwoThreads) { expect_greedy(BackendKind::cpu, 2, {}, kFromBos); }
TEST(LlamacppVectors, GreedyFromPromptReference) {
  expect_greedy(BackendKind::reference, 1, kPromptTokens, kFromPrompt);
}
TEST(LlamacppVectors, GreedyFromPromptCpuTwoThreads) {
  expect_greedy(BackendKind::cpu, 2, kPromptTokens, kFromPrompt);
}

}  // namespace
}  // namespace dgrid::infer
