#include "crypto/scrypt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <new>
#include <vector>

namespace dgrid::crypto {

namespace {

inline uint32_t rotl32(uint32_t x, unsigned n) noexcept { return (x << n) | (x >> (32 - n)); }

void salsa20_8(uint32_t b[16]) noexcept {
  uint32_t x[16];
  std::memcpy(x, b, sizeof(x));
  for (int i = 0; i < 8; i += 2) {
    // Columns.
    x[4] ^= rotl32(x[0] + x[12], 7), x[8] ^= rotl32(x[4] + x[0], 9);
    x[12] ^= rotl32(x[8] + x[4], 13), x[0] ^= rotl32(x[12] + x[8], 18);
    x[9] ^= rotl32(x[5] + x[1], 7), x[13] ^= rotl32(x[9] + x[5], 9);
    x[1] ^= rotl32(x[13] + x[9], 13), x[5] ^= rotl32(x[1] + x[13], 18);
    x[14] ^= rotl32(x[10] + x[6], 7), x[2] ^= rotl32(x[14] + x[10], 9);
    x[6] ^= rotl32(x[2] + x[14], 13), x[10] ^= rotl32(x[6] + x[2], 18);
    x[3] ^= rotl32(x[15] + x[11], 7), x[7] ^= rotl32(x[3] + x[15], 9);
    x[11] ^= rotl32(x[7] + x[3], 13), x[15] ^= rotl32(x[11] + x[7], 18);
    // Rows.
    x[1] ^= rotl32(x[0] + x[3], 7), x[2] ^= rotl32(x[1] + x[0], 9);
    x[3] ^= rotl32(x[2] + x[1], 13), x[0] ^= rotl32(x[3] + x[2], 18);
    x[6] ^= rotl32(x[5] + x[4], 7), x[7] ^= rotl32(x[6] + x[5], 9);
    x[4] ^= rotl32(x[7] + x[6], 13), x[5] ^= rotl32(x[4] + x[7], 18);
    x[11] ^= rotl32(x[10] + x[9], 7), x[8] ^= rotl32(x[11] + x[10], 9);
    x[9] ^= rotl32(x[8] + x[11], 13), x[10] ^= rotl32(x[9] + x[8], 18);
    x[12] ^= rotl32(x[15] + x[14], 7), x[13] ^= rotl32(x[12] + x[15], 9);
    x[14] ^= rotl32(x[13] + x[12], 13), x[15] ^= rotl32(x[14] + x[13], 18);
  }
  for (int i = 0; i < 16; ++i) b[i] += x[i];
}

// BlockMix over 2r 64-byte blocks (as 16-word groups): `in` -> `out`, even outputs first.
void block_mix(const uint32_t* in, uint32_t* out, uint32_t r) noexcept {
  uint32_t x[16];
  std::memcpy(x, in + (2 * r - 1) * 16, 64);
  for (uint32_t i = 0; i < 2 * r; ++i) {
    for (int k = 0; k < 16; ++k) x[k] ^= in[i * 16 + k];
    salsa20_8(x);
    std::memcpy(out + ((i % 2) * r + i / 2) * 16, x, 64);
  }
}

// Words are little-endian in RFC 7914, as on every platform dgrid builds for.
void ro_mix(uint8_t* block, uint64_t n, uint32_t r, std::vector<uint32_t>& v, std::vector<uint32_t>& x,
            std::vector<uint32_t>& y) {
  const size_t words = 32 * size_t{r};
  std::memcpy(x.data(), block, words * 4);
  for (uint64_t i = 0; i < n; ++i) {
    std::memcpy(v.data() + i * words, x.data(), words * 4);
    block_mix(x.data(), y.data(), r);
    x.swap(y);
  }
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t* last = x.data() + (2 * r - 1) * 16;
    uint64_t j = ((uint64_t{last[1]} << 32) | last[0]) & (n - 1);
    const uint32_t* vj = v.data() + j * words;
    for (size_t k = 0; k < words; ++k) x[k] ^= vj[k];
    block_mix(x.data(), y.data(), r);
    x.swap(y);
  }
  std::memcpy(block, x.data(), words * 4);
}

Result<void> check(uint64_t n, uint32_t r, uint32_t p) {
  if (n < 2 || (n & (n - 1)) != 0) return fail(Errc::invalid_argument, "scrypt n must be a power of two above 1");
  if (r == 0 || p == 0) return fail(Errc::invalid_argument, "scrypt r and p must be positive");
  if (uint64_t{r} * p >= (uint64_t{1} << 30)) return fail(Errc::invalid_argument, "scrypt r * p must be below 2^30");
  return {};
}

}  // namespace

Result<void> scrypt_portable(std::string_view password, ByteView salt, uint64_t n, uint32_t r, uint32_t p,
                             std::span<uint8_t> out) {
  if (auto ok = check(n, r, p); !ok) return ok;
  const size_t block_bytes = 128 * size_t{r};
  try {
    std::vector<uint8_t> b(block_bytes * p);
    std::vector<uint32_t> v(n * 32 * r), x(32 * size_t{r}), y(32 * size_t{r});
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                          static_cast<int>(salt.size()), 1, EVP_sha256(), static_cast<int>(b.size()), b.data()) != 1)
      return fail(Errc::crypto, "scrypt: pbkdf2 failed");
    for (uint32_t i = 0; i < p; ++i) ro_mix(b.data() + i * block_bytes, n, r, v, x, y);
    int ok = PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), b.data(),
                               static_cast<int>(b.size()), 1, EVP_sha256(), static_cast<int>(out.size()), out.data());
    OPENSSL_cleanse(b.data(), b.size());
    OPENSSL_cleanse(v.data(), v.size() * 4);
    if (ok != 1) return fail(Errc::crypto, "scrypt: pbkdf2 failed");
  } catch (const std::bad_alloc&) {
    return fail(Errc::unsupported, "scrypt: cannot allocate " + std::to_string(n * block_bytes >> 20) + " MiB");
  }
  return {};
}

Result<void> scrypt(std::string_view password, ByteView salt, uint64_t n, uint32_t r, uint32_t p,
                    std::span<uint8_t> out) {
  if (auto ok = check(n, r, p); !ok) return ok;
  // OpenSSL requires N < 2^(16r) (RFC 7914 §2); outside it, use the portable version.
  if (16 * uint64_t{r} < 64 && n >= (uint64_t{1} << (16 * r))) return scrypt_portable(password, salt, n, r, p, out);
  // maxmem must cover OpenSSL's B and V arrays, 128*r*(p + n + 2) bytes, plus slack.
  uint64_t maxmem = 128 * uint64_t{r} * (n + 2) + 128 * uint64_t{r} * p + (1 << 20);
  if (EVP_PBE_scrypt(password.data(), password.size(), salt.data(), salt.size(), n, r, p, maxmem, out.data(),
                     out.size()) != 1)
    return fail(Errc::crypto, "scrypt key derivation failed");
  return {};
}

}  // namespace dgrid::crypto
