// Ethereum JSON-RPC client over HTTP: typed eth_* calls with strict response validation,
// retries with backoff for reads, receipt polling and bounded eth_getLogs.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "core/u256.hpp"
#include "crypto/address.hpp"
#include "eth/http_client.hpp"
#include "eth/rpc_json.hpp"

namespace dgrid::eth {

using crypto::Address;

struct CallRequest {
  std::optional<Address> from;
  std::optional<Address> to;  // empty: contract creation (for estimates)
  Bytes data;
  u256 value = 0;
  std::optional<uint64_t> gas;
};

struct LogFilter {
  std::vector<Address> addresses;               // empty: any
  std::vector<std::optional<Hash32>> topics;    // positional; nullopt matches anything
  uint64_t from_block = 0;
  uint64_t to_block = 0;                        // inclusive
};

struct FeeSuggestion {
  u256 base_fee = 0;
  u256 max_priority_fee_per_gas = 0;
  u256 max_fee_per_gas = 0;  // 2 * base_fee + priority: survives several full blocks
};

struct RpcOptions {
  std::chrono::milliseconds timeout{10'000};
  int max_attempts = 5;                      // for requests that are safe to repeat
  std::chrono::milliseconds backoff{100};    // doubled after each failed attempt
  uint64_t max_log_range = 2'000;            // blocks per eth_getLogs request
};

// Thread-safe: calls are serialized on one keep-alive connection.
class RpcClient {
 public:
  static Result<std::unique_ptr<RpcClient>> connect(std::string_view url, RpcOptions options = {});

  const std::string& url() const noexcept { return url_; }

  // Raw call. Transport failures are retried with backoff (all eth_* methods used here are
  // idempotent, including eth_sendRawTransaction: resending the same bytes cannot create a
  // second transaction). A JSON-RPC error object is returned as Errc::rpc (not retried), or
  // Errc::reverted with the revert data in Error::payload when the node reports a revert.
  Result<nlohmann::json> call(std::string_view method, nlohmann::json params);

  Result<uint64_t> chain_id();
  Result<uint64_t> block_number();
  Result<BlockHeader> block(std::optional<uint64_t> number);  // nullopt: latest
  Result<u256> balance(const Address& who);
  Result<uint64_t> nonce(const Address& who, std::string_view block_tag = "pending");
  Result<Bytes> code(const Address& who);
  // eth_call at latest; a revert is Errc::reverted with the raw revert data in Error::payload.
  Result<Bytes> eth_call(const CallRequest& req);
  Result<uint64_t> estimate_gas(const CallRequest& req);
  Result<FeeSuggestion> suggest_fees();
  Result<Hash32> send_raw_transaction(ByteView raw);
  Result<std::optional<Receipt>> receipt(const Hash32& tx_hash);
  // Polls until mined or timeout (Errc::timeout with the hash in the message).
  Result<Receipt> wait_for_receipt(const Hash32& tx_hash, std::chrono::milliseconds timeout,
                                   std::chrono::milliseconds poll = std::chrono::milliseconds(50));
  // Splits [from, to] into chunks of options.max_log_range blocks.
  Result<std::vector<Log>> logs(const LogFilter& filter);

 private:
  RpcClient(std::string url, HttpUrl parsed, RpcOptions options);
  Result<nlohmann::json> call_once(const std::string& body);

  std::string url_;
  RpcOptions options_;
  HttpClient http_;
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace dgrid::eth
