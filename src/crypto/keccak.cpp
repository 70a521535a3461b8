// Written here rather than taken from OpenSSL: Debian 12 ships OpenSSL 3.0, whose EVP
// interface exposes only NIST SHA3 padding (KECCAK-256 arrived in 3.2).
#include "crypto/keccak.hpp"

#include <cstring>

namespace dgrid::crypto {

namespace {

constexpr size_t kRate = 136;  // (1600 - 2*256) / 8

inline uint64_t rotl(uint64_t x, unsigned n) noexcept { return (x << n) | (x >> ((64 - n) & 63)); }

inline uint64_t load_le(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);  // x86-64 and aarch64 Linux are little-endian
  return v;
}

inline void absorb_block(uint64_t state[25], const uint8_t* block) noexcept {
  for (size_t i = 0; i < kRate / 8; ++i) state[i] ^= load_le(block + 8 * i);
  keccak_f1600(state);
}

}  // namespace

// Lanes are kept in 25 locals and every step is written out so the compiler keeps the whole
// state in registers; the naming follows the Keccak team's "a[x][y]" with y-major lanes.
void keccak_f1600(uint64_t s[25]) noexcept {
  uint64_t a00 = s[0], a01 = s[1], a02 = s[2], a03 = s[3], a04 = s[4];
  uint64_t a05 = s[5], a06 = s[6], a07 = s[7], a08 = s[8], a09 = s[9];
  uint64_t a10 = s[10], a11 = s[11], a12 = s[12], a13 = s[13], a14 = s[14];
  uint64_t a15 = s[15], a16 = s[16], a17 = s[17], a18 = s[18], a19 = s[19];
  uint64_t a20 = s[20], a21 = s[21], a22 = s[22], a23 = s[23], a24 = s[24];
  for (int round = 0; round < 24; ++round) {
    // theta
    uint64_t c0 = a00 ^ a05 ^ a10 ^ a15 ^ a20;
    uint64_t c1 = a01 ^ a06 ^ a11 ^ a16 ^ a21;
    uint64_t c2 = a02 ^ a07 ^ a12 ^ a17 ^ a22;
    uint64_t c3 = a03 ^ a08 ^ a13 ^ a18 ^ a23;
    uint64_t c4 = a04 ^ a09 ^ a14 ^ a19 ^ a24;
    uint64_t d0 = c4 ^ rotl(c1, 1), d1 = c0 ^ rotl(c2, 1), d2 = c1 ^ rotl(c3, 1);
    uint64_t d3 = c2 ^ rotl(c4, 1), d4 = c3 ^ rotl(c0, 1);
    // rho + pi: b[y][2x+3y] = rotl(a[x][y], r[x][y])
    uint64_t b00 = a00 ^ d0;
    uint64_t b10 = rotl(a01 ^ d1, 1);
    uint64_t b20 = rotl(a02 ^ d2, 62);
    uint64_t b05 = rotl(a03 ^ d3, 28);
    uint64_t b15 = rotl(a04 ^ d4, 27);
    uint64_t b16 = rotl(a05 ^ d0, 36);
    uint64_t b01 = rotl(a06 ^ d1, 44);
    uint64_t b11 = rotl(a07 ^ d2, 6);
    uint64_t b21 = rotl(a08 ^ d3, 55);
    uint64_t b06 = rotl(a09 ^ d4, 20);
    uint64_t b07 = rotl(a10 ^ d0, 3);
    uint64_t b17 = rotl(a11 ^ d1, 10);
    uint64_t b02 = rotl(a12 ^ d2, 43);
    uint64_t b12 = rotl(a13 ^ d3, 25);
    uint64_t b22 = rotl(a14 ^ d4, 39);
    uint64_t b23 = rotl(a15 ^ d0, 41);
    uint64_t b08 = rotl(a16 ^ d1, 45);
    uint64_t b18 = rotl(a17 ^ d2, 15);
    uint64_t b03 = rotl(a18 ^ d3, 21);
    uint64_t b13 = rotl(a19 ^ d4, 8);
    uint64_t b14 = rotl(a20 ^ d0, 18);
    uint64_t b24 = rotl(a21 ^ d1, 2);
    uint64_t b09 = rotl(a22 ^ d2, 61);
    uint64_t b19 = rotl(a23 ^ d3, 56);
    uint64_t b04 = rotl(a24 ^ d4, 14);
    // chi
    a00 = b00 ^ (~b01 & b02); a01 = b01 ^ (~b02 & b03); a02 = b02 ^ (~b03 & b04);
    a03 = b03 ^ (~b04 & b00); a04 = b04 ^ (~b00 & b01);
    a05 = b05 ^ (~b06 & b07); a06 = b06 ^ (~b07 & b08); a07 = b07 ^ (~b08 & b09);
    a08 = b08 ^ (~b09 & b05); a09 = b09 ^ (~b05 & b06);
    a10 = b10 ^ (~b11 & b12); a11 = b11 ^ (~b12 & b13); a12 = b12 ^ (~b13 & b14);
    a13 = b13 ^ (~b14 & b10); a14 = b14 ^ (~b10 & b11);
    a15 = b15 ^ (~b16 & b17); a16 = b16 ^ (~b17 & b18); a17 = b17 ^ (~b18 & b19);
    a18 = b18 ^ (~b19 & b15); a19 = b19 ^ (~b15 & b16);
    a20 = b20 ^ (~b21 & b22); a21 = b21 ^ (~b22 & b23); a22 = b22 ^ (~b23 & b24);
    a23 = b23 ^ (~b24 & b20); a24 = b24 ^ (~b20 & b21);
    // iota
    a00 ^= kKeccakRoundConstants[round];
  }
  s[0] = a00; s[1] = a01; s[2] = a02; s[3] = a03; s[4] = a04;
  s[5] = a05; s[6] = a06; s[7] = a07; s[8] = a08; s[9] = a09;
  s[10] = a10; s[11] = a11; s[12] = a12; s[13] = a13; s[14] = a14;
  s[15] = a15; s[16] = a16; s[17] = a17; s[18] = a18; s[19] = a19;
  s[20] = a20; s[21] = a21; s[22] = a22; s[23] = a23; s[24] = a24;
}

Keccak256::Keccak256() noexcept { std::memset(state_, 0, sizeof(state_)); }

void Keccak256::update(ByteView data) noexcept {
  const uint8_t* p = data.data();
  size_t n = data.size();
  if (n == 0) return;  // an empty view may carry a null pointer, which memcpy must not see
  if (buf_len_ > 0) {
    size_t take = std::min(n, kRate - buf_len_);
    std::memcpy(buf_ + buf_len_, p, take);
    buf_len_ += take;
    p += take;
    n -= take;
    if (buf_len_ < kRate) return;
    absorb_block(state_, buf_);
    buf_len_ = 0;
  }
  for (; n >= kRate; n -= kRate, p += kRate) absorb_block(state_, p);
  if (n > 0) {
    std::memcpy(buf_, p, n);
    buf_len_ = n;
  }
}

Hash32 Keccak256::finalize() noexcept {
  std::memset(buf_ + buf_len_, 0, kRate - buf_len_);
  buf_[buf_len_] ^= 0x01;
  buf_[kRate - 1] ^= 0x80;
  absorb_block(state_, buf_);
  Hash32 out;
  std::memcpy(out.data(), state_, 32);
  return out;
}

Hash32 keccak256(ByteView data) noexcept {
  Keccak256 h;
  h.update(data);
  return h.finalize();
}

}  // namespace dgrid::crypto
