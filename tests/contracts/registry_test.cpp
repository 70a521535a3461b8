#include <gtest/gtest.h>

#include "crypto/keccak.hpp"
#include "support/dgrid_chain.hpp"

namespace dgrid::eth {

using abi::Value;

class RegistryTest : public test::DgridChainTest {};

TEST_F(RegistryTest, RegisterStakeUnbondWithdrawAcrossBlocks) {
  auto& p = wallet(1);
  Hash32 model = crypto::keccak256(std::string_view("stories260K"));
  expect_revert(registry().stake(p, token(), 1), "NotRegistered");
  ASSERT_TRUE(registry().register_provider(p, "http://127.0.0.1:9001", "{\"gpu\":\"none\"}"));
  expect_revert(registry().register_provider(p, "http://x", ""), "AlreadyRegistered");

  u256 min = *registry().min_stake();
  u256 before = balance(1);
  ASSERT_TRUE(registry().stake(p, token(), min - 1));
  EXPECT_FALSE(*registry().is_active(p.address())) << "below the minimum stake a provider is not active";
  expect_revert(registry().add_model(p, model), "NotActive");
  ASSERT_TRUE(registry().stake(p, token(), 1));
  EXPECT_TRUE(*registry().is_active(p.address()));
  ASSERT_TRUE(registry().add_model(p, model));
  EXPECT_EQ(*registry().stake_of(p.address()), min);
  EXPECT_EQ(balance(1), before - min);
  auto providers = registry().providers_for_model(model);
  ASSERT_TRUE(providers);
  ASSERT_EQ(providers->size(), 1u);
  EXPECT_EQ((*providers)[0], p.address());

  expect_revert(registry().request_unbond(p, min + 1), "InsufficientStake");
  auto unbond = registry().request_unbond(p, min);
  ASSERT_TRUE(unbond) << unbond.error().to_string();
  EXPECT_FALSE(*registry().is_active(p.address()));
  auto info = registry().provider(p.address());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->unbonding, min);
  EXPECT_EQ(info->unbond_ready_block, unbond->block_number + kUnbondingDelay);
  ASSERT_EQ(info->models.size(), 1u);

  expect_revert(registry().withdraw(p), "UnbondingNotReady");
  mine(kUnbondingDelay - 2);  // the withdraw transaction itself mines the next block
  expect_revert(registry().withdraw(p), "UnbondingNotReady");
  mine(1);
  auto w = registry().withdraw(p);
  ASSERT_TRUE(w) << w.error().to_string();
  EXPECT_EQ(w->block_number, info->unbond_ready_block);
  EXPECT_EQ(balance(1), before);
  expect_revert(registry().withdraw(p), "NothingToWithdraw");

  // Every state change left an event, in order.
  auto events = registry().contract().query_events("", deployment_.block, block());
  ASSERT_TRUE(events) << events.error().to_string();
  std::vector<std::string> names;
  for (const auto& e : *events)
    if (e.values.get("provider") && *e.values.get("provider")->as_address() == p.address()) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"ProviderRegistered", "Staked", "Staked", "ModelAdded", "UnbondRequested",
                                             "Withdrawn"}));
}

TEST_F(RegistryTest, OnlyDisputesAndStorageMarketCanSlash) {
  auto& p = wallet(1);
  ASSERT_TRUE(registry().register_provider(p, "http://127.0.0.1:9001", ""));
  ASSERT_TRUE(registry().stake(p, token(), dusd(500)));
  const Contract& c = registry().contract();
  for (size_t who : {0, 1, 2}) {
    auto r = c.send(wallet(who), "slash", {Value::address(p.address()), Value::uint(dusd(100)), Value::address(wallet(2).address()),
                                           Value::uint(5000), Value::bytes(Hash32{})});
    expect_revert(r, "NotSlasher");
  }
  EXPECT_EQ(*registry().stake_of(p.address()), dusd(500));
  // The slashers were wired once at deployment and cannot be replaced.
  expect_revert(c.send(wallet(0), "setSlashers", {Value::address(wallet(3).address()), Value::address(wallet(3).address())}),
                "SlashersAlreadySet");
  auto disputes = c.call("disputes", {});
  ASSERT_TRUE(disputes);
  EXPECT_EQ(*disputes->values[0].as_address(), deployment_.disputes);
}

TEST_F(RegistryTest, RejectsBadInput) {
  auto& p = wallet(1);
  expect_revert(registry().add_model(p, Hash32{}), "NotRegistered");
  expect_revert(registry().register_provider(p, std::string(300, 'x'), ""), "StringTooLong");
  ASSERT_TRUE(registry().register_provider(p, "http://127.0.0.1:9001", ""));
  expect_revert(registry().stake(p, token(), 0), "ZeroAmount");
  // Staking more than the balance fails in the token, and nothing changes.
  u256 bal = balance(1);
  auto r = registry().stake(p, token(), bal + 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::reverted);
  EXPECT_EQ(balance(1), bal);
}

}  // namespace dgrid::eth
