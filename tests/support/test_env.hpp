// Where tests find ../shared (the real model and vectors) and the npm tools (anvil).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace dgrid::test {

// Path of a file under ../shared, or empty when it is absent.
std::filesystem::path shared_file(std::string_view relative);
// True under .ci/run (DGRID_REQUIRE_SHARED=1): a missing shared file is then a failure.
bool shared_required();
// The pinned anvil from scripts/setup, or `anvil` on PATH; empty when neither exists.
std::filesystem::path anvil_binary();

// A fresh directory under the system temp dir (mkdtemp), removed with its contents when the
// object dies.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "dgrid");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Writes `text` to path()/name and returns that path.
  std::filesystem::path write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

// Polls `done` every 100 ms until it holds or the deadline passes; its value at the end. For
// what background threads or the chain bring about: nothing depends on how fast that
// happens, the deadline only turns a hang into a failure.
bool wait_for(const std::function<bool()>& done, std::chrono::seconds deadline = std::chrono::seconds(60));

}  // namespace dgrid::test

// Binds `var` to ../shared/<relative>, or skips the test (fails under .ci/run) when absent.
#define DGRID_SHARED_OR_SKIP(var, relative)                                                  \
  const auto var = ::dgrid::test::shared_file(relative);                                     \
  if (var.empty()) {                                                                          \
    if (::dgrid::test::shared_required()) FAIL() << "missing ../shared/" << (relative)       \
                                                 << " (required under .ci/run)";             \
    GTEST_SKIP() << "../shared/" << (relative) << " not found: skipping (repo-only checkout)"; \
  }
