// Deploys and wires dgrid's contracts; the resulting addresses as a JSON-serializable record.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "eth/wallet.hpp"

namespace dgrid::eth {

// Protocol parameters fixed at deployment (docs/contracts.md explains each).
struct DeployParams {
  std::optional<Address> token;          // an existing ERC-20; empty: deploy the dUSD Token
  u256 min_stake = 100'000'000;          // 100 dUSD (6 decimals)
  uint64_t unbonding_delay = 100;         // blocks
  uint64_t unlock_period = 100;          // blocks, TicketBroker deposit unlock
  uint64_t reserve_freeze_period = 50;   // blocks
  // Disputes
  u256 dispute_bond = 10'000'000;        // 10 dUSD posted by a challenger
  u256 provider_slash = 100'000'000;     // 100 dUSD taken from a provider found at fault
  u256 juror_penalty = 5'000'000;        // 5 dUSD for a juror who does not reveal or votes in the minority
  uint64_t commit_window = 20;           // blocks
  uint64_t reveal_window = 20;           // blocks
  uint64_t juror_count = 3;
  uint64_t max_receipt_age = 24 * 3600;  // seconds a receipt stays disputable
  // StorageMarket
  uint64_t epoch_length = 20;            // blocks per storage challenge epoch
  uint64_t claim_grace_epochs = 1;       // epochs a new storer has before its first proof
  uint64_t payout_rate_ppb = 1'000'000;  // share of a slot's pool paid per proven epoch (1e-9 units)
  uint64_t collateral_bps = 1'000;       // slot collateral as a share of the slot's endowment
  u256 min_slot_collateral = 10'000'000; // 10 dUSD
  uint64_t reporter_reward_bps = 2'000;  // share of slashed collateral paid to whoever reports a miss

  static DeployParams devnet() { return {}; }
};

struct Deployment {
  uint64_t chain_id = 0;
  uint64_t block = 0;  // first block holding dgrid contracts: event scans start here
  Address token, registry, broker, disputes, storage;

  nlohmann::json to_json() const;
  static Result<Deployment> from_json(const nlohmann::json& j);
};

using ProgressFn = std::function<void(const std::string&)>;

// Deploys Token (unless params.token), ProviderRegistry, TicketBroker, Disputes and
// StorageMarket from `deployer`, then wires the slashers. Reports each step to `progress`.
// Rejects parameters whose unbonding delay does not exceed commit + reveal windows.
Result<Deployment> deploy_contracts(Wallet& deployer, const DeployParams& params, const ProgressFn& progress = {});

}  // namespace dgrid::eth
