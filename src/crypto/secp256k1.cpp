#include "crypto/secp256k1.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <cstring>

#include "crypto/keccak.hpp"

namespace dgrid::crypto {

namespace {

// One context for the process: libsecp256k1 contexts are safe for concurrent use once
// created and randomized.
const secp256k1_context* context() {
  static secp256k1_context* ctx = [] {
    secp256k1_context* c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    uint8_t seed[32];
    if (RAND_bytes(seed, sizeof(seed)) == 1) {
      if (secp256k1_context_randomize(c, seed) != 1) std::abort();
    }
    OPENSSL_cleanse(seed, sizeof(seed));
    return c;
  }();
  return ctx;
}

// n / 2 for the low-s rule.
constexpr uint8_t kHalfOrder[32] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4,
                                    0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

bool is_zero(const Hash32& h) {
  for (uint8_t b : h)
    if (b) return false;
  return true;
}

}  // namespace

FixedBytes<65> Signature::to_rsv() const noexcept {
  FixedBytes<65> out;
  std::memcpy(out.data(), r.data(), 32);
  std::memcpy(out.data() + 32, s.data(), 32);
  out[64] = static_cast<uint8_t>(27 + recid);
  return out;
}

std::string Signature::hex() const { return to_hex(to_rsv()); }

Result<Signature> Signature::from_rsv(ByteView sig65) {
  if (sig65.size() != 65)
    return fail(Errc::malformed, "signature must be 65 bytes (r||s||v), got " + std::to_string(sig65.size()));
  Signature sig;
  std::memcpy(sig.r.data(), sig65.data(), 32);
  std::memcpy(sig.s.data(), sig65.data() + 32, 32);
  uint8_t v = sig65[64];
  if (v == 27 || v == 28) v -= 27;
  if (v > 1) return fail(Errc::malformed, "signature v must be 0, 1, 27 or 28, got " + std::to_string(sig65[64]));
  sig.recid = v;
  if (is_zero(sig.r) || is_zero(sig.s)) return fail(Errc::crypto, "signature r or s is zero");
  if (std::memcmp(sig.s.data(), kHalfOrder, 32) > 0)
    return fail(Errc::crypto, "signature s is in the upper half of the curve order (not low-s, EIP-2)");
  return sig;
}

PrivateKey::~PrivateKey() { OPENSSL_cleanse(secret_.data(), secret_.size()); }

Result<PrivateKey> PrivateKey::from_bytes(ByteView secret) {
  if (secret.size() != 32)
    return fail(Errc::crypto, "private key must be 32 bytes, got " + std::to_string(secret.size()));
  PrivateKey k;
  std::memcpy(k.secret_.data(), secret.data(), 32);
  if (secp256k1_ec_seckey_verify(context(), k.secret_.data()) != 1)
    return fail(Errc::crypto, "private key is zero or not below the curve order");
  secp256k1_pubkey pub;
  if (secp256k1_ec_pubkey_create(context(), &pub, k.secret_.data()) != 1)
    return fail(Errc::crypto, "cannot derive public key");
  uint8_t ser[65];
  size_t len = sizeof(ser);
  secp256k1_ec_pubkey_serialize(context(), ser, &len, &pub, SECP256K1_EC_UNCOMPRESSED);
  std::memcpy(k.pubkey_.data(), ser + 1, 64);
  k.address_ = address_from_pubkey(k.pubkey_);
  return k;
}

Result<PrivateKey> PrivateKey::from_hex(std::string_view hex) {
  auto raw = dgrid::from_hex(hex);
  if (!raw) return std::unexpected(raw.error().context("private key"));
  auto k = from_bytes(*raw);
  OPENSSL_cleanse(raw->data(), raw->size());
  return k;
}

PrivateKey PrivateKey::generate() {
  for (;;) {
    uint8_t secret[32];
    if (RAND_bytes(secret, sizeof(secret)) != 1) std::abort();  // no entropy: cannot continue safely
    auto k = from_bytes(ByteView(secret, 32));
    OPENSSL_cleanse(secret, sizeof(secret));
    if (k) return *k;
  }
}

Signature PrivateKey::sign(const Hash32& digest) const noexcept {
  secp256k1_ecdsa_recoverable_signature rsig;
  // The key was validated at construction, so signing cannot fail.
  secp256k1_ecdsa_sign_recoverable(context(), &rsig, digest.data(), secret_.data(), nullptr, nullptr);
  uint8_t compact[64];
  int recid = 0;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(context(), compact, &recid, &rsig);
  Signature sig;
  std::memcpy(sig.r.data(), compact, 32);
  std::memcpy(sig.s.data(), compact + 32, 32);
  sig.recid = static_cast<uint8_t>(recid);
  return sig;
}

Result<FixedBytes<64>> recover_pubkey(const Hash32& digest, const Signature& sig, bool allow_high_s) {
  if (sig.recid > 1) return fail(Errc::crypto, "recovery id must be 0 or 1");
  if (!allow_high_s && std::memcmp(sig.s.data(), kHalfOrder, 32) > 0)
    return fail(Errc::crypto, "signature s is not low-s (EIP-2)");
  uint8_t compact[64];
  std::memcpy(compact, sig.r.data(), 32);
  std::memcpy(compact + 32, sig.s.data(), 32);
  secp256k1_ecdsa_recoverable_signature rsig;
  if (secp256k1_ecdsa_recoverable_signature_parse_compact(context(), &rsig, compact, sig.recid) != 1)
    return fail(Errc::crypto, "signature r or s is out of range");
  secp256k1_pubkey pub;
  if (secp256k1_ecdsa_recover(context(), &pub, &rsig, digest.data()) != 1)
    return fail(Errc::crypto, "signature does not recover to a public key");
  uint8_t ser[65];
  size_t len = sizeof(ser);
  secp256k1_ec_pubkey_serialize(context(), ser, &len, &pub, SECP256K1_EC_UNCOMPRESSED);
  FixedBytes<64> out;
  std::memcpy(out.data(), ser + 1, 64);
  return out;
}

Result<Address> recover_address(const Hash32& digest, const Signature& sig, bool allow_high_s) {
  auto pub = recover_pubkey(digest, sig, allow_high_s);
  if (!pub) return std::unexpected(pub.error());
  return address_from_pubkey(*pub);
}

Hash32 personal_message_digest(ByteView message) {
  std::string prefix = "\x19" "Ethereum Signed Message:\n" + std::to_string(message.size());
  Keccak256 h;
  h.update(as_bytes(prefix));
  h.update(message);
  return h.finalize();
}

}  // namespace dgrid::crypto
