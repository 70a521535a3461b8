// 256-bit unsigned integers for token amounts, ABI words and transaction fields.
// Boost.Multiprecision does the arithmetic; this file adds the codecs Ethereum needs.
#pragma once

#include <boost/multiprecision/cpp_int.hpp>
#include <string>
#include <string_view>

#include "core/bytes.hpp"

namespace dgrid {

using u256 = boost::multiprecision::uint256_t;
// Signed 256-bit (two's complement on the wire, for ABI intN).
using i256 = boost::multiprecision::int256_t;

// Decimal ("1000") or 0x-hex ("0x3e8"); rejects signs, empty strings and overflow.
Result<u256> parse_u256(std::string_view text);

std::string to_dec(const u256& v);
// Minimal 0x-hex as JSON-RPC quantities use: 0 -> "0x0", 255 -> "0xff".
std::string to_quantity(const u256& v);

// 32-byte big-endian word.
Hash32 to_be32(const u256& v) noexcept;
// Big-endian bytes without leading zeros (0 -> empty), as RLP encodes integers.
Bytes to_be_min(const u256& v);
// Big-endian, at most 32 bytes (leading zeros allowed).
Result<u256> from_be(ByteView be);

}  // namespace dgrid

namespace dgrid {

// 1500000 with 6 decimals -> "1.5"; trailing zeros trimmed, "0" for zero.
std::string format_units(const u256& v, unsigned decimals);
// "1.5" with 6 decimals -> 1500000; rejects more fractional digits than decimals.
Result<u256> parse_units(std::string_view text, unsigned decimals);

}  // namespace dgrid
