#include "crypto/address.hpp"

#include <algorithm>
#include <cctype>

#include "crypto/keccak.hpp"

namespace dgrid::crypto {

bool Address::is_zero() const noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

std::string Address::checksummed() const {
  std::string lower = to_hex(bytes, false);
  Hash32 h = keccak256(lower);
  std::string out = "0x";
  for (size_t i = 0; i < lower.size(); ++i) {
    uint8_t nibble = (i % 2 == 0) ? (h[i / 2] >> 4) : (h[i / 2] & 0x0f);
    char c = lower[i];
    out += (c >= 'a' && nibble >= 8) ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return out;
}

Result<Address> parse_address(std::string_view text) {
  std::string_view digits = text;
  if (digits.size() >= 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) digits.remove_prefix(2);
  if (digits.size() != 40)
    return fail(Errc::malformed, "address must be 40 hex digits, got " + std::to_string(digits.size()));
  auto raw = fixed_from_hex<20>(digits);
  if (!raw) return std::unexpected(raw.error().context("address"));
  Address a{*raw};
  bool has_lower = std::any_of(digits.begin(), digits.end(), [](char c) { return c >= 'a' && c <= 'f'; });
  bool has_upper = std::any_of(digits.begin(), digits.end(), [](char c) { return c >= 'A' && c <= 'F'; });
  if (has_lower && has_upper && a.checksummed().substr(2) != digits)
    return fail(Errc::malformed, "address " + std::string(text) + " has an invalid EIP-55 checksum");
  return a;
}

Address address_from_pubkey(ByteView pubkey64) noexcept {
  Hash32 h = keccak256(pubkey64);
  Address a;
  std::copy(h.begin() + 12, h.end(), a.bytes.begin());
  return a;
}

}  // namespace dgrid::crypto
