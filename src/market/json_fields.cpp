// Strict JSON field readers shared by the market codecs.
#include "market/json_fields.hpp"

#include <algorithm>
#include <limits>

namespace dgrid::market::json_fields {

namespace {

std::unexpected<Error> field_error(std::string_view key, std::string_view expected, const nlohmann::json& got) {
  return fail(Errc::malformed, std::string(key) + ": expected " + std::string(expected) + ", got " + describe(got));
}

// The string at `key`, or an error naming what the field should have been.
Result<std::string_view> string_field(const nlohmann::json& j, std::string_view key, std::string_view expected) {
  auto it = j.find(key);
  if (it == j.end()) return fail(Errc::malformed, "missing field " + std::string(key));
  if (!it->is_string()) return field_error(key, expected, *it);
  return std::string_view(it->get_ref<const std::string&>());
}

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

std::string describe(const nlohmann::json& v) {
  constexpr size_t kMaxShown = 80;  // keeps hostile input from flooding logs
  std::string text = v.dump();
  if (text.size() > kMaxShown) text = text.substr(0, kMaxShown) + "...";
  switch (v.type()) {
    case nlohmann::json::value_t::string: return "string " + text;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: return "number " + text;
    case nlohmann::json::value_t::object: return "object " + text;
    case nlohmann::json::value_t::array: return "array " + text;
    case nlohmann::json::value_t::boolean: return "boolean " + text;
    default: return text;
  }
}

Result<void> expect_keys(const nlohmann::json& j, std::initializer_list<std::string_view> keys, std::string_view what) {
  if (!j.is_object()) return fail(Errc::malformed, std::string(what) + ": expected a JSON object, got " + describe(j));
  for (auto key : keys)
    if (!j.contains(key)) return fail(Errc::malformed, std::string(what) + ": missing field " + std::string(key));
  for (const auto& item : j.items())
    if (std::find(keys.begin(), keys.end(), item.key()) == keys.end())
      return fail(Errc::malformed, std::string(what) + ": unknown field " + item.key());
  return {};
}

Result<Hash32> hash32(const nlohmann::json& j, std::string_view key) {
  constexpr std::string_view kExpected = "0x followed by 64 hex digits";
  auto s = string_field(j, key, kExpected);
  if (!s) return std::unexpected(s.error());
  if (s->size() != 66 || !s->starts_with("0x") || !std::all_of(s->begin() + 2, s->end(), is_hex_digit))
    return field_error(key, kExpected, j.at(key));
  return *fixed_from_hex<32>(*s);
}

Result<crypto::Address> address(const nlohmann::json& j, std::string_view key) {
  auto s = string_field(j, key, "an address (0x + 40 hex digits)");
  if (!s) return std::unexpected(s.error());
  if (!s->starts_with("0x")) return field_error(key, "an address (0x + 40 hex digits)", j.at(key));
  auto a = crypto::parse_address(*s);
  if (!a) return std::unexpected(a.error().context(key));
  return a;
}

Result<u256> decimal(const nlohmann::json& j, std::string_view key) {
  constexpr std::string_view kExpected = "a decimal string such as \"1000\"";
  auto s = string_field(j, key, kExpected);
  if (!s) return std::unexpected(s.error());
  bool digits = !s->empty() && std::all_of(s->begin(), s->end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || (s->size() > 1 && (*s)[0] == '0')) return field_error(key, kExpected, j.at(key));
  auto v = parse_u256(*s);
  if (!v) return std::unexpected(v.error().context(key));
  return v;
}

Result<uint64_t> decimal_u64(const nlohmann::json& j, std::string_view key) {
  auto v = decimal(j, key);
  if (!v) return std::unexpected(v.error());
  if (*v > std::numeric_limits<uint64_t>::max())
    return fail(Errc::malformed, std::string(key) + ": " + to_dec(*v) + " does not fit 64 bits");
  return static_cast<uint64_t>(*v);
}

Result<u256> hex_u256(const nlohmann::json& j, std::string_view key) {
  constexpr std::string_view kExpected = "0x followed by 1 to 64 hex digits";
  auto s = string_field(j, key, kExpected);
  if (!s) return std::unexpected(s.error());
  if (s->size() < 3 || s->size() > 66 || !s->starts_with("0x") || !std::all_of(s->begin() + 2, s->end(), is_hex_digit))
    return field_error(key, kExpected, j.at(key));
  return parse_u256(*s);
}

Result<uint64_t> u64(const nlohmann::json& j, std::string_view key) {
  auto it = j.find(key);
  if (it == j.end()) return fail(Errc::malformed, "missing field " + std::string(key));
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer() && it->get<int64_t>() >= 0) return static_cast<uint64_t>(it->get<int64_t>());
  return field_error(key, "a non-negative integer", *it);
}

Result<crypto::Signature> signature(const nlohmann::json& j, std::string_view key) {
  constexpr std::string_view kExpected = "0x followed by 130 hex digits (r||s||v)";
  auto s = string_field(j, key, kExpected);
  if (!s) return std::unexpected(s.error());
  if (s->size() != 132 || !s->starts_with("0x") || !std::all_of(s->begin() + 2, s->end(), is_hex_digit))
    return field_error(key, kExpected, j.at(key));
  auto raw = *from_hex(*s);
  if (raw[64] != 27 && raw[64] != 28)
    return fail(Errc::malformed, std::string(key) + ": v must be 27 or 28, got " + std::to_string(raw[64]));
  auto sig = crypto::Signature::from_rsv(raw);
  // A field that cannot be a valid signature (high s, zero r) is a malformed document.
  if (!sig) return fail(Errc::malformed, std::string(key) + ": " + sig.error().message);
  return sig;
}

}  // namespace dgrid::market::json_fields
