// Ethereum account addresses and EIP-55 checksums.
#pragma once

#include <compare>
#include <cstring>
#include <string>
#include <string_view>

#include "core/bytes.hpp"

namespace dgrid::crypto {

struct Address {
  FixedBytes<20> bytes{};
  bool operator==(const Address&) const = default;
  // Byte order, for use as a map key (spelled out: libc++ 16 lacks std::array's <=>).
  std::strong_ordering operator<=>(const Address& other) const noexcept {
    int c = std::memcmp(bytes.data(), other.bytes.data(), bytes.size());
    return c <=> 0;
  }
  bool is_zero() const noexcept;
  // EIP-55 mixed-case hex with 0x prefix.
  std::string checksummed() const;
  // All lower-case hex with 0x prefix.
  std::string hex() const { return to_hex(bytes); }
};

// Parses 40 hex digits (0x optional). All-lower and all-upper forms are accepted as they
// carry no checksum; mixed case must be a valid EIP-55 checksum, else malformed.
Result<Address> parse_address(std::string_view text);

// The address of an uncompressed public key (64 bytes X||Y, without the 0x04 prefix).
Address address_from_pubkey(ByteView pubkey64) noexcept;

}  // namespace dgrid::crypto
