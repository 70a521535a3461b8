// Multi-message Keccak-f[1600] on GCC/Clang vector extensions, compiled for AVX-512 and AVX2
// through target attributes and chosen at run time. Written here because no Debian library
// offers a multi-buffer Keccak (XKCP, which has one, is not packaged) and OpenSSL 3.0's
// Keccak hashes one stream at a time. The permutation is the same as crypto::keccak_f1600,
// applied to L states at once (lane l of every vector belongs to message l);
// tests/store/keccak_lanes_test.cpp checks every compiled variant against crypto::keccak256.
#include "store/keccak_lanes.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "crypto/keccak.hpp"

namespace dgrid::store::detail {

namespace {

// rho offset of lane x + 5y, and the lane pi moves it to: b[y + 5((2x + 3y) mod 5)].
constexpr int kRho[25] = {0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14};
constexpr int kPi[25] = {0, 10, 20, 5, 15, 16, 1, 11, 21, 6, 7, 17, 2, 12, 22, 23, 8, 18, 3, 13, 14, 24, 9, 19, 4};

constexpr size_t kRate = 136;
constexpr size_t kWords = kRate / 8;

typedef uint64_t V8 __attribute__((vector_size(64)));
typedef uint64_t V4 __attribute__((vector_size(32)));

inline uint64_t load_le(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);  // x86-64 is little-endian, as Keccak's lanes are
  return v;
}

// The source lane of each pi destination (the inverse of kPi).
constexpr auto kPiInverse = [] {
  std::array<int, 25> inv{};
  for (int i = 0; i < 25; ++i) inv[kPi[i]] = i;
  return inv;
}();

// One round computes the next state a row at a time: each source lane feeds exactly one b
// lane, so only the five b lanes of the current row are live beside the two states, which
// keeps the vectors in registers (AVX-512 has 32) instead of spilling a third array.
template <class V>
__attribute__((always_inline)) inline void permute(V* a) noexcept {
  for (int round = 0; round < 24; ++round) {
    V c[5], d[5], e[25];
#pragma GCC unroll 5
    for (int x = 0; x < 5; ++x) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
#pragma GCC unroll 5
    for (int x = 0; x < 5; ++x) d[x] = c[(x + 4) % 5] ^ ((c[(x + 1) % 5] << 1) | (c[(x + 1) % 5] >> 63));
#pragma GCC unroll 5
    for (int y = 0; y < 5; ++y) {
      V b[5];
#pragma GCC unroll 5
      for (int x = 0; x < 5; ++x) {
        const int i = kPiInverse[x + 5 * y];
        V t = a[i] ^ d[i % 5];
        b[x] = kRho[i] == 0 ? t : (t << kRho[i]) | (t >> (64 - kRho[i]));
      }
#pragma GCC unroll 5
      for (int x = 0; x < 5; ++x) e[x + 5 * y] = b[x] ^ (~b[(x + 1) % 5] & b[(x + 2) % 5]);
    }
    e[0] ^= crypto::kKeccakRoundConstants[round];
#pragma GCC unroll 25
    for (int i = 0; i < 25; ++i) a[i] = e[i];
  }
}

// Hashes L messages starting at msgs[0..L) (all `len` bytes long) into out[0..L).
template <class V, int L>
__attribute__((always_inline)) inline void hash_group(const uint8_t* const* msgs, size_t len, Hash32* out) noexcept {
  V a[25];
  for (auto& v : a) v = V{};
  size_t off = 0;
  for (; off + kRate <= len; off += kRate) {
    for (size_t w = 0; w < kWords; ++w) {
      V m;
      for (int l = 0; l < L; ++l) m[l] = load_le(msgs[l] + off + 8 * w);
      a[w] ^= m;
    }
    permute(a);
  }
  // The last, padded block: 0x01 after the message, 0x80 in the rate's last byte.
  uint8_t tail[L][kRate];
  for (int l = 0; l < L; ++l) {
    std::memset(tail[l], 0, kRate);
    std::memcpy(tail[l], msgs[l] + off, len - off);
    tail[l][len - off] ^= 0x01;
    tail[l][kRate - 1] ^= 0x80;
  }
  for (size_t w = 0; w < kWords; ++w) {
    V m;
    for (int l = 0; l < L; ++l) m[l] = load_le(tail[l] + 8 * w);
    a[w] ^= m;
  }
  permute(a);
  for (int l = 0; l < L; ++l)
    for (int w = 0; w < 4; ++w) {
      uint64_t v = a[w][l];
      std::memcpy(out[l].data() + 8 * w, &v, 8);
    }
}

// Whole groups of L; the rest (fewer than L) is padded with repeats of the last message.
template <class V, int L>
__attribute__((always_inline)) inline void hash_all(const uint8_t* const* msgs, size_t len, size_t count, Hash32* out) noexcept {
  size_t i = 0;
  for (; i + L <= count; i += L) hash_group<V, L>(msgs + i, len, out + i);
  if (i == count) return;
  const uint8_t* rest[L];
  Hash32 res[L];
  for (int l = 0; l < L; ++l) rest[l] = msgs[i + std::min<size_t>(static_cast<size_t>(l), count - i - 1)];
  hash_group<V, L>(rest, len, res);
  for (size_t l = 0; i + l < count; ++l) out[i + l] = res[l];
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) void hash_avx512(const uint8_t* const* msgs, size_t len, size_t count,
                                                    Hash32* out) noexcept {
  hash_all<V8, 8>(msgs, len, count, out);
}
__attribute__((target("avx2"))) void hash_avx2(const uint8_t* const* msgs, size_t len, size_t count,
                                               Hash32* out) noexcept {
  hash_all<V4, 4>(msgs, len, count, out);
}
#endif

void hash_scalar(const uint8_t* const* msgs, size_t len, size_t count, Hash32* out) noexcept {
  for (size_t i = 0; i < count; ++i) out[i] = crypto::keccak256(ByteView(msgs[i], len));
}

using Impl = void (*)(const uint8_t* const*, size_t, size_t, Hash32*) noexcept;

struct Chosen {
  Impl impl;
  const char* name;
};

Chosen choose() noexcept {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {hash_avx512, "avx512"};
  if (__builtin_cpu_supports("avx2")) return {hash_avx2, "avx2"};
#endif
  return {hash_scalar, "scalar"};
}

const Chosen& chosen() noexcept {
  static const Chosen c = choose();
  return c;
}

}  // namespace

bool keccak256_lanes_using(std::string_view target, const uint8_t* const* msgs, size_t len, size_t count,
                           Hash32* out) noexcept {
  if (target == "scalar") {
    hash_scalar(msgs, len, count, out);
    return true;
  }
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (target == "avx512" && __builtin_cpu_supports("avx512f")) {
    hash_avx512(msgs, len, count, out);
    return true;
  }
  if (target == "avx2" && __builtin_cpu_supports("avx2")) {
    hash_avx2(msgs, len, count, out);
    return true;
  }
#endif
  return false;
}

void keccak256_lanes(const uint8_t* const* msgs, size_t len, size_t count, Hash32* out) noexcept {
  chosen().impl(msgs, len, count, out);
}

const char* keccak_lanes_target() noexcept { return chosen().name; }

}  // namespace dgrid::store::detail
