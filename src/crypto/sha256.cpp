#include "crypto/sha256.hpp"

#include <cstdlib>
#include <utility>

namespace dgrid::crypto {

namespace {

// EVP failures here mean allocation failure or a broken OpenSSL build; neither can be
// reported through a hash value, and continuing would yield wrong digests.
void check(int ok) noexcept {
  if (ok != 1) std::abort();
}

}  // namespace

Sha256::Sha256() noexcept : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) std::abort();
  check(EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr));
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

Sha256::Sha256(Sha256&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  if (this != &other) {
    EVP_MD_CTX_free(ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

void Sha256::update(ByteView data) noexcept {
  if (!data.empty()) check(EVP_DigestUpdate(ctx_, data.data(), data.size()));
}

Hash32 Sha256::finalize() noexcept {
  Hash32 out{};
  unsigned len = 0;
  check(EVP_DigestFinal_ex(ctx_, out.data(), &len));
  check(EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr));
  return out;
}

Hash32 sha256(ByteView data) noexcept {
  Hash32 out{};
  unsigned len = 0;
  check(EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr));
  return out;
}

}  // namespace dgrid::crypto
