#include "eth/nonce_manager.hpp"

namespace dgrid::eth {

Result<uint64_t> NonceManager::reserve(const Address& who) {
  std::lock_guard lock(mu_);
  auto it = accounts_.find(who);
  if (it == accounts_.end()) {
    auto n = rpc_.nonce(who, "pending");
    if (!n) return std::unexpected(n.error().context("reading account nonce"));
    it = accounts_.emplace(who, Account{*n, {}}).first;
  }
  Account& acc = it->second;
  if (!acc.released.empty()) {
    uint64_t n = *acc.released.begin();
    acc.released.erase(acc.released.begin());
    return n;
  }
  return acc.next++;
}

void NonceManager::release(const Address& who, uint64_t nonce) {
  std::lock_guard lock(mu_);
  auto it = accounts_.find(who);
  if (it == accounts_.end() || nonce >= it->second.next) return;
  it->second.released.insert(nonce);
}

void NonceManager::resync(const Address& who) {
  std::lock_guard lock(mu_);
  accounts_.erase(who);
}

}  // namespace dgrid::eth
