// Multiformats by hand: varints, multibase base32/base58btc, CIDs. Debian ships no C/C++
// multiformats library, and each piece is a few lines whose strictness (minimal varints,
// canonical base32 tails) we want to control ourselves.
#include "store/cid.hpp"

#include <algorithm>
#include <array>

#include "crypto/sha256.hpp"

namespace dgrid::store {

namespace {

constexpr char kBase32Alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
constexpr char kBase58Alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr size_t kMaxVarintBytes = 9;
// Text longer than this is never a CID we accept (a v1 sha2-256 CID is ~59 characters).
constexpr size_t kMaxCidText = 256;

std::string codec_name(uint64_t code) {
  switch (code) {
    case 0x55: return "raw";
    case 0x70: return "dag-pb";
    case 0x71: return "dag-cbor";
    default: {
      static constexpr char hex[] = "0123456789abcdef";
      std::string s;
      for (uint64_t v = code; v; v >>= 4) s.insert(s.begin(), hex[v & 15]);
      return "0x" + (s.empty() ? std::string("0") : s);
    }
  }
}

int base32_value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

int base58_value(char c) {
  static const auto table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 58; ++i) t[static_cast<uint8_t>(kBase58Alphabet[i])] = static_cast<int8_t>(i);
    return t;
  }();
  return table[static_cast<uint8_t>(c)];
}

std::string printable(char c) {
  if (c >= 0x21 && c < 0x7f) return std::string("'") + c + "'";
  static constexpr char hex[] = "0123456789abcdef";
  const auto u = static_cast<uint8_t>(c);
  return std::string("byte 0x") + hex[u >> 4] + hex[u & 15];
}

}  // namespace

void put_uvarint(Bytes& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

Result<std::pair<uint64_t, size_t>> read_uvarint(ByteView in) {
  uint64_t v = 0;
  for (size_t i = 0; i < kMaxVarintBytes; ++i) {
    if (i >= in.size()) return fail(Errc::malformed, "varint truncated");
    const uint8_t b = in[i];
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      if (b == 0 && i > 0) return fail(Errc::malformed, "varint not minimally encoded");
      return std::pair{v, i + 1};
    }
  }
  return fail(Errc::malformed, "varint longer than 9 bytes");
}

// ------------------------------------------------------------------ multibase

std::string base32_lower(ByteView data) {
  std::string out;
  out.reserve((data.size() * 8 + 4) / 5);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : data) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32Alphabet[(acc >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(acc << (5 - bits)) & 31]);
  return out;
}

Result<Bytes> base32_decode(std::string_view text) {
  Bytes out;
  out.reserve(text.size() * 5 / 8);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const int v = base32_value(text[i]);
    if (v < 0) {
      if (text[i] == '=') return fail(Errc::malformed, "base32: padding '=' is not allowed");
      return fail(Errc::malformed, "base32: bad character " + printable(text[i]) + " at " + std::to_string(i));
    }
    acc = (acc << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<uint8_t>(acc >> (bits - 8)));
      bits -= 8;
    }
    acc &= (1u << bits) - 1;
  }
  // RFC 4648 without padding leaves 0, 2, 4, 5 or 7 characters in the last group; the
  // leftover bits must be zero, so every byte string has exactly one spelling.
  const size_t tail = text.size() % 8;
  if (tail == 1 || tail == 3 || tail == 6) return fail(Errc::malformed, "base32: impossible length " + std::to_string(text.size()));
  if (acc != 0) return fail(Errc::malformed, "base32: non-zero trailing bits");
  return out;
}

std::string base58btc(ByteView data) {
  size_t zeros = 0;
  while (zeros < data.size() && data[zeros] == 0) ++zeros;
  // Big-number base conversion, digits little-endian; quadratic, fine for CID-sized input.
  std::vector<uint8_t> digits;
  digits.reserve(data.size() * 138 / 100 + 1);
  for (size_t i = zeros; i < data.size(); ++i) {
    uint32_t carry = data[i];
    for (auto& d : digits) {
      carry += static_cast<uint32_t>(d) << 8;
      d = static_cast<uint8_t>(carry % 58);
      carry /= 58;
    }
    while (carry) {
      digits.push_back(static_cast<uint8_t>(carry % 58));
      carry /= 58;
    }
  }
  std::string out(zeros, '1');
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) out.push_back(kBase58Alphabet[*it]);
  return out;
}

Result<Bytes> base58btc_decode(std::string_view text) {
  size_t ones = 0;
  while (ones < text.size() && text[ones] == '1') ++ones;
  std::vector<uint8_t> bytes;  // little-endian
  bytes.reserve(text.size());
  for (size_t i = ones; i < text.size(); ++i) {
    const int v = base58_value(text[i]);
    if (v < 0) return fail(Errc::malformed, "base58btc: bad character " + printable(text[i]) + " at " + std::to_string(i));
    uint32_t carry = static_cast<uint32_t>(v);
    for (auto& b : bytes) {
      carry += static_cast<uint32_t>(b) * 58;
      b = static_cast<uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    while (carry) {
      bytes.push_back(static_cast<uint8_t>(carry & 0xff));
      carry >>= 8;
    }
  }
  Bytes out(ones, 0);
  out.insert(out.end(), bytes.rbegin(), bytes.rend());
  return out;
}

// ------------------------------------------------------------------ Cid

Cid Cid::v1(Codec codec, const Hash32& sha256_digest) noexcept {
  Cid c;
  c.version_ = 1;
  c.codec_ = codec;
  c.digest_ = sha256_digest;
  c.valid_ = true;
  return c;
}

Cid Cid::v0(const Hash32& sha256_digest) noexcept {
  Cid c;
  c.version_ = 0;
  c.codec_ = Codec::dag_pb;
  c.digest_ = sha256_digest;
  c.valid_ = true;
  return c;
}

Cid Cid::of(Codec codec, ByteView block) noexcept { return v1(codec, crypto::sha256(block)); }

Result<std::pair<Cid, size_t>> Cid::read_prefix(ByteView bytes) {
  if (bytes.empty()) return fail(Errc::malformed, "cid: empty");
  // CIDv0 is a bare multihash; 0x12 can never start a v1 CID (version 18 does not exist).
  if (bytes[0] == kSha256Multihash) {
    if (bytes.size() < 2) return fail(Errc::malformed, "cid v0: truncated multihash");
    if (bytes[1] != 32) return fail(Errc::malformed, "cid v0: sha2-256 digest length " + std::to_string(bytes[1]) + ", expected 32");
    if (bytes.size() < 34) return fail(Errc::malformed, "cid v0: digest truncated");
    Hash32 d;
    std::copy_n(bytes.begin() + 2, 32, d.begin());
    return std::pair{v0(d), size_t{34}};
  }
  size_t pos = 0;
  auto version = read_uvarint(bytes);
  if (!version) return fail(Errc::malformed, "cid: version " + version.error().message);
  pos += version->second;
  if (version->first != 1) return fail(Errc::unsupported, "cid: version " + std::to_string(version->first) + " is not supported");
  auto codec = read_uvarint(bytes.subspan(pos));
  if (!codec) return fail(Errc::malformed, "cid: codec " + codec.error().message);
  pos += codec->second;
  if (codec->first != static_cast<uint64_t>(Codec::raw) && codec->first != static_cast<uint64_t>(Codec::dag_pb) &&
      codec->first != static_cast<uint64_t>(Codec::dag_cbor))
    return fail(Errc::unsupported, "cid: codec " + codec_name(codec->first) + " is not supported (raw, dag-pb, dag-cbor)");
  auto mh = read_uvarint(bytes.subspan(pos));
  if (!mh) return fail(Errc::malformed, "cid: multihash code " + mh.error().message);
  pos += mh->second;
  if (mh->first != kSha256Multihash)
    return fail(Errc::unsupported, "cid: multihash " + codec_name(mh->first) + " is not supported (only sha2-256)");
  auto len = read_uvarint(bytes.subspan(pos));
  if (!len) return fail(Errc::malformed, "cid: digest length " + len.error().message);
  pos += len->second;
  if (len->first != 32)
    return fail(Errc::malformed, "cid: sha2-256 digest length " + std::to_string(len->first) + ", expected 32");
  if (bytes.size() - pos < 32) return fail(Errc::malformed, "cid: digest truncated");
  Hash32 d;
  std::copy_n(bytes.begin() + static_cast<ptrdiff_t>(pos), 32, d.begin());
  return std::pair{v1(static_cast<Codec>(codec->first), d), pos + 32};
}

Result<Cid> Cid::from_bytes(ByteView bytes) {
  auto r = read_prefix(bytes);
  if (!r) return std::unexpected(r.error());
  if (r->second != bytes.size())
    return fail(Errc::malformed, "cid: " + std::to_string(bytes.size() - r->second) + " trailing bytes");
  return r->first;
}

Result<Cid> Cid::parse(std::string_view text) {
  if (text.empty()) return fail(Errc::malformed, "cid: empty string");
  if (text.size() > kMaxCidText) return fail(Errc::malformed, "cid: text too long (" + std::to_string(text.size()) + " characters)");
  if (text.starts_with("Qm")) {
    if (text.size() != 46) return fail(Errc::malformed, "cid v0: " + std::to_string(text.size()) + " characters, expected 46");
    auto raw = base58btc_decode(text);
    if (!raw) return fail(Errc::malformed, "cid v0: " + raw.error().message);
    if (raw->size() != 34 || (*raw)[0] != kSha256Multihash || (*raw)[1] != 32)
      return fail(Errc::malformed, "cid v0: not a sha2-256 multihash");
    return from_bytes(*raw);
  }
  Result<Bytes> raw;
  switch (text[0]) {
    case 'b':
    case 'B': {
      // One case throughout: 'b' is lower-case base32, 'B' upper-case.
      const bool upper = text[0] == 'B';
      for (char c : text.substr(1))
        if (upper ? (c >= 'a' && c <= 'z') : (c >= 'A' && c <= 'Z'))
          return fail(Errc::malformed, std::string("cid: mixed-case base32 (prefix '") + text[0] + "')");
      raw = base32_decode(text.substr(1));
      break;
    }
    case 'z':
      raw = base58btc_decode(text.substr(1));
      break;
    default:
      return fail(Errc::malformed, "cid: unknown multibase prefix " + printable(text[0]) +
                                       " (expected 'b' base32, 'z' base58btc or a \"Qm\" CIDv0)");
  }
  if (!raw) return fail(Errc::malformed, "cid: " + raw.error().message);
  // A v0 multihash under a multibase prefix is not a CID: v0 has only the bare "Qm" form.
  if (!raw->empty() && (*raw)[0] == kSha256Multihash) return fail(Errc::malformed, "cid: multibase-prefixed CIDv0");
  return from_bytes(*raw);
}

Bytes Cid::bytes() const {
  Bytes out;
  out.reserve(36);
  if (version_ == 1) {
    put_uvarint(out, 1);
    put_uvarint(out, static_cast<uint64_t>(codec_));
  }
  out.push_back(static_cast<uint8_t>(kSha256Multihash));
  out.push_back(32);
  out.insert(out.end(), digest_.begin(), digest_.end());
  return out;
}

std::string Cid::to_string() const {
  if (version_ == 0) return base58btc(bytes());
  return "b" + base32_lower(bytes());
}

Cid Cid::to_v1() const noexcept {
  if (version_ == 1) return *this;
  Cid c = v1(Codec::dag_pb, digest_);
  c.valid_ = valid_;
  return c;
}

bool Cid::matches(ByteView block) const noexcept { return crypto::sha256(block) == digest_; }

}  // namespace dgrid::store
