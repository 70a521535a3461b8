// A fresh anvil chain per test (gtest_discover_tests runs each test in its own process).
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "eth/anvil.hpp"
#include "eth/rpc.hpp"
#include "support/test_env.hpp"

namespace dgrid::test {

class ChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (anvil_binary().empty()) {
      if (shared_required()) FAIL() << "anvil missing: run scripts/setup";
      GTEST_SKIP() << "anvil not installed: run scripts/setup";
    }
    auto a = eth::Anvil::start({});
    ASSERT_TRUE(a) << a.error().to_string();
    anvil_ = std::move(*a);
    auto r = eth::RpcClient::connect(anvil_->rpc_url());
    ASSERT_TRUE(r) << r.error().to_string();
    rpc_ = std::move(*r);
  }

  // Mines n empty blocks (anvil_mine).
  void mine(uint64_t n) {
    auto r = rpc_->call("anvil_mine", nlohmann::json::array({to_quantity(n)}));
    ASSERT_TRUE(r) << r.error().to_string();
  }

  std::unique_ptr<eth::Anvil> anvil_;
  std::unique_ptr<eth::RpcClient> rpc_;
};

}  // namespace dgrid::test
