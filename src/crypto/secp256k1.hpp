// secp256k1 keys and recoverable ECDSA signatures (libsecp256k1), Ethereum conventions.
#pragma once

#include <optional>

#include "core/bytes.hpp"
#include "crypto/address.hpp"

namespace dgrid::crypto {

// r || s || recovery id (0 or 1). Always low-s when produced by sign().
struct Signature {
  Hash32 r{};
  Hash32 s{};
  uint8_t recid = 0;

  // 65 bytes r||s||v with v = 27 + recid (eth_sign / EIP-191 / EIP-712 convention).
  FixedBytes<65> to_rsv() const noexcept;
  std::string hex() const;  // 0x-hex of to_rsv()
  // Accepts v in {0, 1, 27, 28}; rejects s above n/2 (EIP-2) and r or s of zero.
  static Result<Signature> from_rsv(ByteView sig65);
  bool operator==(const Signature&) const = default;
};

// A private key. Zeroed on destruction. Thread-safe for concurrent const use.
class PrivateKey {
 public:
  // 32 bytes in [1, n-1], else crypto error.
  static Result<PrivateKey> from_bytes(ByteView secret);
  static Result<PrivateKey> from_hex(std::string_view hex);
  // From the OS random source (getrandom via OpenSSL's DRBG).
  static PrivateKey generate();

  PrivateKey(const PrivateKey&) = default;
  PrivateKey& operator=(const PrivateKey&) = default;
  ~PrivateKey();

  const Hash32& secret() const noexcept { return secret_; }
  // Uncompressed public key without the 0x04 prefix: X || Y.
  const FixedBytes<64>& public_key() const noexcept { return pubkey_; }
  const Address& address() const noexcept { return address_; }

  // Deterministic (RFC 6979) low-s recoverable signature of a 32-byte digest.
  Signature sign(const Hash32& digest) const noexcept;

 private:
  PrivateKey() = default;
  Hash32 secret_{};
  FixedBytes<64> pubkey_{};
  Address address_{};
};

// The signer's address, or a crypto error when the signature does not recover.
// High-s signatures are rejected unless allow_high_s (the EVM's ecrecover accepts them).
Result<Address> recover_address(const Hash32& digest, const Signature& sig, bool allow_high_s = false);

// The uncompressed public key (X || Y) of the signer.
Result<FixedBytes<64>> recover_pubkey(const Hash32& digest, const Signature& sig, bool allow_high_s = false);

// EIP-191 version 0x45 ("\x19Ethereum Signed Message:\n" + len + message) digest.
Hash32 personal_message_digest(ByteView message);

}  // namespace dgrid::crypto
