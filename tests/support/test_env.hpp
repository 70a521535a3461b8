// Where tests find ../shared (the real model and vectors) and the npm tools (anvil).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace dgrid::test {

// Path of a file under ../shared, or empty when it is absent.
std::filesystem::path shared_file(std::string_view relative);
// True under .ci/run (DGRID_REQUIRE_SHARED=1): a missing shared file is then a failure.
bool shared_required();
// The pinned anvil from scripts/setup, or `anvil` on PATH; empty when neither exists.
std::filesystem::path anvil_binary();

}  // namespace dgrid::test

// Binds `var` to ../shared/<relative>, or skips the test (fails under .ci/run) when absent.
#define DGRID_SHARED_OR_SKIP(var, relative)                                                  \
  const auto var = ::dgrid::test::shared_file(relative);                                     \
  if (var.empty()) {                                                                          \
    if (::dgrid::test::shared_required()) FAIL() << "missing ../shared/" << (relative)       \
                                                 << " (required under .ci/run)";             \
    GTEST_SKIP() << "../shared/" << (relative) << " not found: skipping (repo-only checkout)"; \
  }
