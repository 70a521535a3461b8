// dgrid model info|synth and dgrid infer, driven as a user would.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/process.hpp"
#include "support/test_env.hpp"

namespace dgrid {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

test::ProcessResult dgrid(std::vector<std::string> args) {
  args.insert(args.begin(), DGRID_BINARY);
  return test::run_process(args);
}

}  // namespace

TEST(InferCli, RealModelInfoAndGreedyStory) {
  DGRID_SHARED_OR_SKIP(model, "models/stories260K.gguf");
  auto info = dgrid({"model", "info", model.string(), "--json"});
  ASSERT_EQ(info.exit_code, 0);
  auto ij = json::parse(info.out);
  EXPECT_EQ(ij.dump().find("270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d") != std::string::npos, true);

  auto text = dgrid({"infer", "--model", model.string(), "--prompt", "", "--max-tokens", "12"});
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_TRUE(text.out.starts_with("Once upon a time")) << text.out;

  // --json: same text, ids, and an output_hash that changes with the tokens; 1 vs 2 threads agree.
  auto j1 = json::parse(dgrid({"infer", "--model", model.string(), "--prompt", "Once upon a time", "--max-tokens", "16",
                               "--threads", "1", "--json"}).out);
  auto j2 = json::parse(dgrid({"infer", "--model", model.string(), "--prompt", "Once upon a time", "--max-tokens", "16",
                               "--threads", "2", "--json"}).out);
  EXPECT_EQ(j1["tokens"], j2["tokens"]);
  EXPECT_EQ(j1["output_hash"], j2["output_hash"]);
  EXPECT_EQ(j1["completion_tokens"], 16);
  EXPECT_EQ(j1["tokens"].size(), 16u);
  // Sampling with a seed is reproducible; another seed gives another story.
  auto s1 = json::parse(dgrid({"infer", "--model", model.string(), "--prompt", "", "--temperature", "1", "--seed", "7",
                               "--max-tokens", "24", "--json"}).out);
  auto s2 = json::parse(dgrid({"infer", "--model", model.string(), "--prompt", "", "--temperature", "1", "--seed", "7",
                               "--max-tokens", "24", "--json"}).out);
  auto s3 = json::parse(dgrid({"infer", "--model", model.string(), "--prompt", "", "--temperature", "1", "--seed", "8",
                               "--max-tokens", "24", "--json"}).out);
  EXPECT_EQ(s1["output_hash"], s2["output_hash"]);
  EXPECT_NE(s1["output_hash"], s3["output_hash"]);
}

TEST(InferCli, BadInputIsRejected) {
  EXPECT_NE(dgrid({"infer", "--model", "/nonexistent.gguf", "--prompt", "x"}).exit_code, 0);
  EXPECT_NE(dgrid({"model", "info", "/nonexistent.gguf"}).exit_code, 0);
  char tmpl[] = "/tmp/dgrid-infer-cli-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  fs::path dir = tmpl;
  // A file that is not GGUF.
  test::run_process({"sh", "-c", "echo 'not a model' > " + (dir / "bad.gguf").string()});
  EXPECT_NE(dgrid({"model", "info", (dir / "bad.gguf").string()}).exit_code, 0);
  EXPECT_NE(dgrid({"infer", "--model", (dir / "bad.gguf").string(), "--prompt", "x"}).exit_code, 0);
  fs::remove_all(dir);
}

TEST(InferCli, SynthesizedModelServesWithoutShared) {
  // The repo-only path: a synthetic model with the built-in byte-level vocabulary.
  char tmpl[] = "/tmp/dgrid-synth-cli-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  fs::path dir = tmpl;
  std::string out = (dir / "tiny.gguf").string();
  auto synth = dgrid({"model", "synth", "--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ffn", "128",
                      "--type", "q8_0", "--seed", "3", "--out", out});
  ASSERT_EQ(synth.exit_code, 0) << synth.out;
  auto info = json::parse(dgrid({"model", "info", out, "--json"}).out);
  EXPECT_FALSE(info.empty());
  auto a = dgrid({"infer", "--model", out, "--prompt", "hello", "--max-tokens", "8", "--json"});
  ASSERT_EQ(a.exit_code, 0) << a.out;
  auto b = dgrid({"infer", "--model", out, "--prompt", "hello", "--max-tokens", "8", "--json", "--threads", "2"});
  EXPECT_EQ(json::parse(a.out)["output_hash"], json::parse(b.out)["output_hash"]);
  EXPECT_EQ(json::parse(a.out)["completion_tokens"].get<int>() + 0 <= 8, true);
  fs::remove_all(dir);
}

}  // namespace dgrid
