// Hands out transaction nonces to concurrent senders sharing one account.
#pragma once

#include <map>
#include <mutex>
#include <set>

#include "eth/rpc.hpp"

namespace dgrid::eth {

// Thread-safe. The first reservation for an address reads the chain's pending count;
// later ones count up locally, so concurrent senders never reuse a nonce. A reservation
// that was never broadcast must be released, or the account stalls at that gap; released
// nonces are handed out again (lowest first) before new ones.
class NonceManager {
 public:
  explicit NonceManager(RpcClient& rpc) : rpc_(rpc) {}

  Result<uint64_t> reserve(const Address& who);
  // The transaction with this nonce was never broadcast (signing or sending failed for good).
  void release(const Address& who, uint64_t nonce);
  // Forget the local count so the next reservation re-reads the chain: call after an
  // external sender may have used the account, with no reservations outstanding.
  void resync(const Address& who);

 private:
  RpcClient& rpc_;
  std::mutex mu_;
  struct Account {
    uint64_t next = 0;
    std::set<uint64_t> released;
  };
  std::map<Address, Account> accounts_;
};

}  // namespace dgrid::eth
