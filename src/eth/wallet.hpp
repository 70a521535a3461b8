// An account that sends transactions: fees, nonces, signing, idempotent broadcast and
// receipt polling in one place.
#pragma once

#include <chrono>
#include <optional>

#include "crypto/secp256k1.hpp"
#include "eth/nonce_manager.hpp"
#include "eth/rpc.hpp"

namespace dgrid::eth {

struct TxRequest {
  std::optional<Address> to;  // empty: contract creation
  Bytes data;
  u256 value = 0;
  std::optional<uint64_t> gas_limit;  // empty: estimate (+20% headroom)
};

struct SendOptions {
  bool wait = true;  // wait for the receipt
  std::chrono::milliseconds receipt_timeout{60'000};
};

// Thread-safe: concurrent send() calls get distinct nonces from the shared NonceManager.
// `rpc` and `nonces` must outlive the wallet.
class Wallet {
 public:
  Wallet(RpcClient& rpc, NonceManager& nonces, crypto::PrivateKey key, uint64_t chain_id)
      : rpc_(rpc), nonces_(nonces), key_(std::move(key)), chain_id_(chain_id) {}

  const Address& address() const noexcept { return key_.address(); }
  const crypto::PrivateKey& key() const noexcept { return key_; }
  uint64_t chain_id() const noexcept { return chain_id_; }
  RpcClient& rpc() const noexcept { return rpc_; }

  // Estimates gas first, so a call that would revert fails here with Errc::reverted and
  // the revert data in Error::payload, before any nonce is used or anything is broadcast.
  // The signed bytes are broadcast with retries; resending identical bytes cannot create
  // a second transaction. A mined but failed transaction is Errc::reverted too.
  Result<Receipt> send(const TxRequest& req, const SendOptions& options = {});

 private:
  RpcClient& rpc_;
  NonceManager& nonces_;
  crypto::PrivateKey key_;
  uint64_t chain_id_;
};

}  // namespace dgrid::eth
