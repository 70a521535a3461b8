// Canonical request encoding over the project's ABI codec, plus its validation rules.
#include "market/canonical.hpp"

#include <bit>
#include <cassert>
#include <cmath>

#include "crypto/keccak.hpp"
#include "eth/abi.hpp"

namespace dgrid::market {

namespace {

using eth::abi::Type;
using eth::abi::Value;

const std::vector<Type>& canonical_types() {
  static const std::vector<Type> types = {
      Type::fixed_bytes(32), Type::array(Type::uint(32)), Type::uint(32), Type::uint(32),
      Type::uint(32),        Type::uint(32),              Type::uint(64), Type::array(Type::string()),
  };
  return types;
}

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. Stop strings are
// matched against detokenized text and shown to users, and other ABI decoders (ethers)
// reject invalid UTF-8 in `string`, so the canonical form must not carry it.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) n = 1, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) n = 2, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) n = 3, cp = c & 0x07;
    else return false;
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinForLength[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

Result<void> invalid(std::string message) { return fail(Errc::invalid_argument, "canonical request: " + message); }

Result<uint32_t> as_u32(const Value& v, std::string_view field) {
  auto x = v.as_u64();
  if (!x || *x > UINT32_MAX) return fail(Errc::malformed, "canonical request: " + std::string(field) + " is not a uint32");
  return static_cast<uint32_t>(*x);
}

}  // namespace

bool CanonicalRequest::operator==(const CanonicalRequest& other) const noexcept {
  return model == other.model && prompt == other.prompt && max_tokens == other.max_tokens &&
         std::bit_cast<uint32_t>(temperature) == std::bit_cast<uint32_t>(other.temperature) &&
         top_k == other.top_k && std::bit_cast<uint32_t>(top_p) == std::bit_cast<uint32_t>(other.top_p) &&
         seed == other.seed && stop == other.stop;
}

Result<void> validate_canonical(const CanonicalRequest& r) {
  if (r.prompt.empty()) return invalid("prompt has no tokens");
  if (r.prompt.size() > kMaxPromptTokens)
    return invalid("prompt has " + std::to_string(r.prompt.size()) + " tokens, more than the limit of " +
                   std::to_string(kMaxPromptTokens));
  if (!std::isfinite(r.temperature) || r.temperature < 0.0f)
    return invalid("temperature must be a finite number >= 0, got " + std::to_string(r.temperature));
  if (!std::isfinite(r.top_p) || r.top_p < 0.0f || r.top_p > 1.0f)
    return invalid("top_p must be a finite number in [0, 1], got " + std::to_string(r.top_p));
  if (r.stop.size() > kMaxStopStrings)
    return invalid(std::to_string(r.stop.size()) + " stop strings, more than the limit of " +
                   std::to_string(kMaxStopStrings));
  for (size_t i = 0; i < r.stop.size(); ++i) {
    const auto& s = r.stop[i];
    std::string where = "stop[" + std::to_string(i) + "]";
    if (s.empty()) return invalid(where + " is empty");
    if (s.size() > kMaxStopBytes)
      return invalid(where + " is " + std::to_string(s.size()) + " bytes, more than the limit of " +
                     std::to_string(kMaxStopBytes));
    if (!valid_utf8(s)) return invalid(where + " is not valid UTF-8");
  }
  return {};
}

Bytes encode_canonical(const CanonicalRequest& r) {
  std::vector<Value> prompt, stop;
  prompt.reserve(r.prompt.size());
  for (uint32_t t : r.prompt) prompt.push_back(Value::uint(t));
  stop.reserve(r.stop.size());
  for (const auto& s : r.stop) stop.push_back(Value::string(s));
  std::vector<Value> values = {
      Value::bytes(r.model),
      Value::array(std::move(prompt)),
      Value::uint(r.max_tokens),
      Value::uint(std::bit_cast<uint32_t>(r.temperature)),
      Value::uint(r.top_k),
      Value::uint(std::bit_cast<uint32_t>(r.top_p)),
      Value::uint(r.seed),
      Value::array(std::move(stop)),
  };
  auto enc = eth::abi::encode(canonical_types(), values);
  // Every value above has its declared type by construction, so encoding cannot fail.
  assert(enc.has_value());
  return std::move(*enc);
}

Result<CanonicalRequest> decode_canonical(ByteView data) {
  if (data.size() > kMaxCanonicalBytes)
    return fail(Errc::malformed, "canonical request: " + std::to_string(data.size()) +
                                     " bytes, more than the limit of " + std::to_string(kMaxCanonicalBytes));
  auto values = eth::abi::decode(canonical_types(), data, eth::abi::Mode::strict);
  if (!values) return std::unexpected(values.error().context("canonical request"));
  const auto& v = *values;

  CanonicalRequest r;
  auto model = v[0].as_fixed<32>();
  if (!model) return std::unexpected(model.error().context("canonical request: model"));
  r.model = *model;
  const auto* prompt = v[1].items();
  const auto* stop = v[7].items();
  if (!prompt || !stop) return fail(Errc::internal, "canonical request: ABI decoder returned a non-list for an array");
  // Checked before copying so that an oversized prompt is refused without building it.
  if (prompt->size() > kMaxPromptTokens)
    return fail(Errc::invalid_argument, "canonical request: prompt has " + std::to_string(prompt->size()) +
                                            " tokens, more than the limit of " + std::to_string(kMaxPromptTokens));
  r.prompt.reserve(prompt->size());
  for (const auto& t : *prompt) {
    auto id = as_u32(t, "prompt token");
    if (!id) return std::unexpected(id.error());
    r.prompt.push_back(*id);
  }
  auto max_tokens = as_u32(v[2], "maxTokens");
  auto temperature = as_u32(v[3], "temperatureBits");
  auto top_k = as_u32(v[4], "topK");
  auto top_p = as_u32(v[5], "topPBits");
  auto seed = v[6].as_u64();
  if (!max_tokens) return std::unexpected(max_tokens.error());
  if (!temperature) return std::unexpected(temperature.error());
  if (!top_k) return std::unexpected(top_k.error());
  if (!top_p) return std::unexpected(top_p.error());
  if (!seed) return std::unexpected(seed.error().context("canonical request: seed"));
  r.max_tokens = *max_tokens;
  r.temperature = std::bit_cast<float>(*temperature);
  r.top_k = *top_k;
  r.top_p = std::bit_cast<float>(*top_p);
  r.seed = *seed;
  for (const auto& s : *stop) {
    auto text = s.as_string();
    if (!text) return std::unexpected(text.error().context("canonical request: stop"));
    r.stop.push_back(std::move(*text));
  }
  if (auto ok = validate_canonical(r); !ok) return std::unexpected(ok.error());
  return r;
}

Hash32 input_hash(const CanonicalRequest& r) { return crypto::keccak256(encode_canonical(r)); }

}  // namespace dgrid::market
