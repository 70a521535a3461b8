// A fresh anvil with dgrid's contracts deployed and dev accounts funded, per test.
#pragma once

#include <deque>

#include "eth/bindings.hpp"
#include "eth/deploy.hpp"
#include "support/chain.hpp"

namespace dgrid::test {

class DgridChainTest : public ChainTest {
 protected:
  static constexpr uint64_t kDelay = 10;  // unlock, freeze, commit, reveal and epoch windows (blocks)
  // Longer than a whole dispute, as deploy_contracts requires: a juror cannot unbond and
  // leave before its penalty applies.
  static constexpr uint64_t kUnbondingDelay = 3 * kDelay;

  void SetUp() override {
    ChainTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    nonces_ = std::make_unique<eth::NonceManager>(*rpc_);
    for (const auto& k : anvil_->dev_keys()) wallets_.emplace_back(*rpc_, *nonces_, k, anvil_->chain_id());
    eth::DeployParams p;
    p.unlock_period = p.reserve_freeze_period = kDelay;
    p.unbonding_delay = kUnbondingDelay;
    p.commit_window = p.reveal_window = kDelay;
    p.epoch_length = kDelay;
    params_ = p;
    auto d = eth::deploy_contracts(wallet(0), p);
    ASSERT_TRUE(d) << d.error().to_string();
    deployment_ = *d;
    auto c = eth::DgridContracts::at(*rpc_, deployment_);
    ASSERT_TRUE(c) << c.error().to_string();
    contracts_ = std::make_unique<eth::DgridContracts>(*c);
    for (size_t i = 1; i < wallets_.size(); ++i) {
      auto r = token().mint(wallet(0), wallet(i).address(), dusd(100'000));
      ASSERT_TRUE(r) << r.error().to_string();
    }
  }

  static u256 dusd(uint64_t whole) { return u256(whole) * 1'000'000; }
  eth::Wallet& wallet(size_t i) { return wallets_.at(i); }
  const eth::TokenClient& token() { return contracts_->token; }
  const eth::RegistryClient& registry() { return contracts_->registry; }
  const eth::BrokerClient& broker() { return contracts_->broker; }
  u256 balance(size_t i) { return *token().balance_of(wallet(i).address()); }
  uint64_t block() { return *rpc_->block_number(); }

  // Asserts a result failed with a revert whose decoded message contains `needle`.
  template <class T>
  static void expect_revert(const Result<T>& r, std::string_view needle) {
    ASSERT_FALSE(r) << "expected a revert containing " << needle;
    EXPECT_EQ(r.error().code, Errc::reverted) << r.error().to_string();
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  }

  std::unique_ptr<eth::NonceManager> nonces_;
  std::deque<eth::Wallet> wallets_;
  eth::DeployParams params_;
  eth::Deployment deployment_;
  std::unique_ptr<eth::DgridContracts> contracts_;
};

}  // namespace dgrid::test
