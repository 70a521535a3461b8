// Content identifiers as IPFS defines them (multiformats): CIDv1 <version><codec><multihash>
// and the legacy CIDv0 (a bare base58btc sha2-256 multihash of a dag-pb node). dgrid only
// creates CIDv1 with sha2-256 (DESIGN §9) but reads both forms, since CAR files and other
// tools may carry v0. Only the sha2-256 multihash (0x12, 32 bytes) is accepted: any other
// hash function is a clear Errc::unsupported, never a CID we cannot verify.
// Text form: multibase 'b' (RFC 4648 base32, lower case, no padding) for v1, "Qm..." base58btc
// for v0. docs/formats/storage.md has the byte layouts.
#pragma once

#include <compare>
#include <cstring>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace dgrid::store {

// Multicodec codes used here.
enum class Codec : uint64_t {
  raw = 0x55,       // a raw leaf: the block is file bytes
  dag_pb = 0x70,    // a UnixFS node in DAG-PB
  dag_cbor = 0x71,  // only for reading foreign CIDs (e.g. in CAR headers); never created here
};

inline constexpr uint64_t kSha256Multihash = 0x12;

// Unsigned LEB128 varints as multiformats use them: at most 9 bytes (63 bits), minimal
// encoding required (a redundant 0x80 continuation is malformed).
void put_uvarint(Bytes& out, uint64_t v);
// The value and the bytes it took; Errc::malformed on truncation, overlong or non-minimal input.
Result<std::pair<uint64_t, size_t>> read_uvarint(ByteView in);

class Cid {
 public:
  Cid() = default;  // an empty CIDv1 raw with an all-zero digest; valid() is false
  static Cid v1(Codec codec, const Hash32& sha256_digest) noexcept;
  static Cid v0(const Hash32& sha256_digest) noexcept;  // dag-pb only
  // CIDv1 of `block` under `codec` (hashes it).
  static Cid of(Codec codec, ByteView block) noexcept;

  // Text: "b..." (base32 lower; upper-case 'B' base32 also accepted) or "Qm..." (v0). Errors
  // name what is wrong (unknown multibase prefix, bad base32 character, unsupported hash ...).
  static Result<Cid> parse(std::string_view text);
  // Exactly one binary CID, nothing after it.
  static Result<Cid> from_bytes(ByteView bytes);
  // A binary CID at the start of `bytes` (CAR sections, DAG-PB links): the CID and its length.
  static Result<std::pair<Cid, size_t>> read_prefix(ByteView bytes);

  bool valid() const noexcept { return valid_; }
  int version() const noexcept { return version_; }
  Codec codec() const noexcept { return codec_; }
  const Hash32& digest() const noexcept { return digest_; }

  // Binary form: v1 = varint(1) varint(codec) 0x12 0x20 digest; v0 = 0x12 0x20 digest.
  Bytes bytes() const;
  // Canonical text (v1 base32 "b...", v0 base58btc "Qm...").
  std::string to_string() const;
  // The same content as CIDv1 (v0 -> v1 dag-pb); v1 unchanged.
  Cid to_v1() const noexcept;

  // True when sha256(block) equals the digest (the codec is not checked here).
  bool matches(ByteView block) const noexcept;

  friend bool operator==(const Cid&, const Cid&) = default;
  friend auto operator<=>(const Cid& a, const Cid& b) noexcept {
    return std::tie(a.version_, a.codec_, a.digest_) <=> std::tie(b.version_, b.codec_, b.digest_);
  }

 private:
  int version_ = 1;
  Codec codec_ = Codec::raw;
  Hash32 digest_{};
  bool valid_ = false;
};

// RFC 4648 base32, lower case, no padding (multibase 'b' without the prefix).
std::string base32_lower(ByteView data);
Result<Bytes> base32_decode(std::string_view text);  // either case, no padding
std::string base58btc(ByteView data);
Result<Bytes> base58btc_decode(std::string_view text);

}  // namespace dgrid::store

template <>
struct std::hash<dgrid::store::Cid> {
  size_t operator()(const dgrid::store::Cid& c) const noexcept {
    size_t h;
    static_assert(sizeof(h) <= 32);
    std::memcpy(&h, c.digest().data(), sizeof(h));
    return h ^ static_cast<size_t>(c.codec());
  }
};
