// Strict readers for the fields of dgrid's market JSON (receipts, tickets, /info params):
// each names the field and says what was expected and what was found.
// Pure functions; thread-safe.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/u256.hpp"
#include "crypto/secp256k1.hpp"

namespace dgrid::market::json_fields {

// `j` must be an object holding exactly `keys`: a missing or an unknown key is an error
// naming it, so a misspelt field is never silently ignored.
Result<void> expect_keys(const nlohmann::json& j, std::initializer_list<std::string_view> keys,
                         std::string_view what);

Result<Hash32> hash32(const nlohmann::json& j, std::string_view key);          // "0x" + 64 hex
Result<crypto::Address> address(const nlohmann::json& j, std::string_view key);  // EIP-55 or one case
// A decimal string without sign or leading zeros ("0", "1500"), at most 2^256 - 1.
Result<u256> decimal(const nlohmann::json& j, std::string_view key);
// decimal() that must also fit 64 bits (block numbers, nonces kept as strings on the wire).
Result<uint64_t> decimal_u64(const nlohmann::json& j, std::string_view key);
// "0x" followed by 1..64 hex digits.
Result<u256> hex_u256(const nlohmann::json& j, std::string_view key);
// A JSON non-negative integer (not a string, not a float).
Result<uint64_t> u64(const nlohmann::json& j, std::string_view key);
// 65 bytes r||s||v with v 27 or 28 and low s (EIP-2).
Result<crypto::Signature> signature(const nlohmann::json& j, std::string_view key);

// The JSON spelling of a value's kind for messages: "number 12", "string \"x\"", "null".
std::string describe(const nlohmann::json& v);

}  // namespace dgrid::market::json_fields
