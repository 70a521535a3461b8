#include "core/u256.hpp"

namespace dgrid {

Result<u256> parse_u256(std::string_view text) {
  if (text.empty()) return fail(Errc::malformed, "empty number");
  bool hex = text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  if (hex) {
    text.remove_prefix(2);
    if (text.empty()) return fail(Errc::malformed, "empty hex number");
    if (text.size() > 64) return fail(Errc::malformed, "hex number exceeds 256 bits");
  }
  u256 v = 0;
  const u256 max = ~u256(0);
  for (char c : text) {
    unsigned d;
    if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
    else if (hex && c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
    else if (hex && c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
    else return fail(Errc::malformed, std::string("invalid digit '") + c + "' in number");
    if (hex) {
      v = (v << 4) | d;
    } else {
      if (v > (max - d) / 10) return fail(Errc::malformed, "decimal number exceeds 256 bits");
      v = v * 10 + d;
    }
  }
  return v;
}

std::string to_dec(const u256& v) { return v.str(); }

std::string to_quantity(const u256& v) {
  if (v == 0) return "0x0";
  Bytes be = to_be_min(v);
  std::string h = to_hex(be, false);
  size_t nz = h.find_first_not_of('0');
  return "0x" + h.substr(nz);
}

Hash32 to_be32(const u256& v) noexcept {
  Hash32 out{};
  u256 x = v;
  for (int i = 31; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<uint8_t>(x & 0xff);
    x >>= 8;
  }
  return out;
}

Bytes to_be_min(const u256& v) {
  Hash32 full = to_be32(v);
  size_t i = 0;
  while (i < 32 && full[i] == 0) ++i;
  return Bytes(full.begin() + static_cast<long>(i), full.end());
}

Result<u256> from_be(ByteView be) {
  if (be.size() > 32) return fail(Errc::malformed, "integer longer than 32 bytes");
  u256 v = 0;
  for (uint8_t b : be) v = (v << 8) | b;
  return v;
}

}  // namespace dgrid

namespace dgrid {

std::string format_units(const u256& v, unsigned decimals) {
  std::string digits = v.str();
  if (decimals == 0) return digits;
  if (digits.size() <= decimals) digits.insert(0, decimals - digits.size() + 1, '0');
  std::string whole = digits.substr(0, digits.size() - decimals);
  std::string frac = digits.substr(digits.size() - decimals);
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return frac.empty() ? whole : whole + "." + frac;
}

Result<u256> parse_units(std::string_view text, unsigned decimals) {
  auto dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (whole.empty() && frac.empty()) return fail(Errc::malformed, "empty amount");
  if (frac.size() > decimals)
    return fail(Errc::malformed, "amount " + std::string(text) + " has more than " + std::to_string(decimals) + " decimals");
  if (whole.starts_with("0x") || frac.find_first_not_of("0123456789") != std::string_view::npos)
    return fail(Errc::malformed, "amount " + std::string(text) + " is not a decimal number");
  std::string digits = std::string(whole.empty() ? "0" : whole) + std::string(frac) + std::string(decimals - frac.size(), '0');
  auto v = parse_u256(digits);
  if (!v) return std::unexpected(v.error().context("amount " + std::string(text)));
  return v;
}

}  // namespace dgrid
