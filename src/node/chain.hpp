// A node's connection to the settlement chain: JSON-RPC client, its own account, the dgrid
// contract clients and cached chain facts the hot path needs without an RPC round trip.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "eth/bindings.hpp"
#include "eth/deploy.hpp"
#include "eth/nonce_manager.hpp"
#include "eth/rpc.hpp"
#include "eth/wallet.hpp"

namespace dgrid::node {

// Reads a deployment record: either a devnet.json (DIR/devnet.json or the file itself,
// docs/formats/devnet.md) or a bare Deployment json written by `dgrid chain deploy --out`.
Result<eth::Deployment> load_deployment(const std::filesystem::path& path);

class ChainContext {
 public:
  // Connects, checks the chain id against the deployment and that the contracts exist.
  static Result<std::unique_ptr<ChainContext>> connect(const std::string& rpc_url,
                                                       const eth::Deployment& deployment,
                                                       const crypto::PrivateKey& key);

  eth::RpcClient& rpc() noexcept { return *rpc_; }
  eth::Wallet& wallet() noexcept { return *wallet_; }
  const eth::DgridContracts& contracts() const noexcept { return *contracts_; }
  const eth::Deployment& deployment() const noexcept { return deployment_; }
  uint64_t chain_id() const noexcept { return deployment_.chain_id; }
  const crypto::Address& address() const noexcept { return wallet_->address(); }
  const crypto::PrivateKey& key() const noexcept { return wallet_->key(); }
  // EIP-712 domain separators of the contracts that verify signatures.
  const Hash32& broker_domain() const noexcept { return broker_domain_; }
  const Hash32& disputes_domain() const noexcept { return disputes_domain_; }

  // The latest block number seen by refresh_head() (0 before the first success). The hot
  // path reads this; a background loop refreshes it, so a slow or dead RPC never blocks work.
  uint64_t head() const noexcept { return head_.load(std::memory_order_relaxed); }
  Result<uint64_t> refresh_head();

 private:
  ChainContext() = default;
  std::unique_ptr<eth::RpcClient> rpc_;
  std::unique_ptr<eth::NonceManager> nonces_;
  std::unique_ptr<eth::Wallet> wallet_;
  std::unique_ptr<eth::DgridContracts> contracts_;
  eth::Deployment deployment_;
  Hash32 broker_domain_{};
  Hash32 disputes_domain_{};
  std::atomic<uint64_t> head_{0};
};

}  // namespace dgrid::node
