// Ethereum JSON-RPC result types and their strict decoders: every field of a response is
// checked (hex quantities, hash lengths, address checksums) before it is used. Pure: no I/O,
// thread-safe. Kept apart from the client so decoders can be fuzzed without the network.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "core/u256.hpp"
#include "crypto/address.hpp"

namespace dgrid::eth {

using crypto::Address;

struct Log {
  Address address;
  std::vector<Hash32> topics;
  Bytes data;
  uint64_t block_number = 0;
  Hash32 block_hash{};
  Hash32 tx_hash{};
  uint64_t log_index = 0;
  bool removed = false;
};

struct Receipt {
  Hash32 tx_hash{};
  uint64_t block_number = 0;
  bool success = false;
  uint64_t gas_used = 0;
  u256 effective_gas_price = 0;
  std::optional<Address> contract_address;
  std::vector<Log> logs;
};

struct BlockHeader {
  uint64_t number = 0;
  Hash32 hash{};
  uint64_t timestamp = 0;
  std::optional<u256> base_fee;
};

Result<u256> json_quantity(const nlohmann::json& j, std::string_view field);
Result<uint64_t> json_u64(const nlohmann::json& j, std::string_view field);
Result<Bytes> json_data(const nlohmann::json& j, std::string_view field);
Result<Hash32> json_hash(const nlohmann::json& j, std::string_view field);
Result<Address> json_address(const nlohmann::json& j, std::string_view field);
Result<Log> parse_log(const nlohmann::json& j);
Result<Receipt> parse_receipt(const nlohmann::json& j);
// An eth_getBlockByNumber result (header fields only).
Result<BlockHeader> parse_block_header(const nlohmann::json& j);

}  // namespace dgrid::eth
