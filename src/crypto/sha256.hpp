// SHA-256 (FIPS 180-4) through OpenSSL's EVP interface: content ids (CIDv1 sha2-256) and
// anything that must interoperate with non-Ethereum tooling.
#pragma once

#include <openssl/evp.h>

#include "core/bytes.hpp"

namespace dgrid::crypto {

// Incremental hasher. Owns its EVP context; movable, not copyable; not thread-safe.
class Sha256 {
 public:
  Sha256() noexcept;
  ~Sha256();
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(ByteView data) noexcept;
  // The digest of everything updated so far; the hasher is reset afterwards for reuse.
  Hash32 finalize() noexcept;

 private:
  EVP_MD_CTX* ctx_ = nullptr;
};

Hash32 sha256(ByteView data) noexcept;
inline Hash32 sha256(std::string_view text) noexcept { return sha256(as_bytes(text)); }

}  // namespace dgrid::crypto
