// The embedded default chain: anvil on loopback with dgrid's contracts deployed and the
// dev accounts funded, described by DIR/devnet.json (docs/formats/devnet.md).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "eth/anvil.hpp"
#include "eth/deploy.hpp"

namespace dgrid::eth {

struct DevnetAccount {
  std::string role;  // "deployer", "provider-1", ..., "gateway", "user", "storer-1", ...
  crypto::Address address;
  std::string private_key;  // hex; anvil's public test keys, never real funds
};

struct DevnetInfo {
  std::string rpc_url;
  uint64_t chain_id = 0;
  pid_t anvil_pid = -1;
  Deployment contracts;
  std::vector<DevnetAccount> accounts;

  nlohmann::json to_json() const;
  static Result<DevnetInfo> from_json(const nlohmann::json& j);
  static Result<DevnetInfo> load(const std::filesystem::path& dir);
  Result<void> save(const std::filesystem::path& dir) const;
  // The account with this role, or not_found.
  Result<const DevnetAccount*> account(std::string_view role) const;
};

struct DevnetOptions {
  std::filesystem::path dir = ".devnet";
  uint16_t port = 0;  // 0: a free port
  bool detach = false;
  // Seconds between blocks; empty: a block per transaction. Disputes and storage epochs
  // count blocks, so a live network (the demo) needs blocks to keep coming.
  std::optional<unsigned> block_time_s;
  u256 fund_amount = u256(1'000'000) * 1'000'000;  // 1,000,000 dUSD per dev account
  DeployParams params = DeployParams::devnet();
};

// A running devnet. Destroying it stops anvil unless release()d (detached devnets).
class Devnet {
 public:
  // Fails when DIR already holds a running devnet.
  static Result<std::unique_ptr<Devnet>> up(const DevnetOptions& options, const ProgressFn& progress = {});
  const DevnetInfo& info() const noexcept { return info_; }
  Anvil& anvil() noexcept { return *anvil_; }
  void release() noexcept { anvil_->release(); }

 private:
  Devnet() = default;
  std::unique_ptr<Anvil> anvil_;
  DevnetInfo info_;
};

// Stops the devnet recorded in DIR/devnet.json. not_found when none is running.
Result<void> devnet_down(const std::filesystem::path& dir);

// The role of dev account i (anvil has 10).
std::string devnet_role(size_t index);

}  // namespace dgrid::eth
