// Keccak-256 as Ethereum uses it (original Keccak padding 0x01, not NIST SHA3's 0x06).
#pragma once

#include <cstdint>

#include "core/bytes.hpp"

namespace dgrid::crypto {

// Incremental hasher. Not thread-safe; cheap to copy (fork a prefix state by copying).
class Keccak256 {
 public:
  Keccak256() noexcept;
  void update(ByteView data) noexcept;
  Hash32 finalize() noexcept;  // the hasher must not be updated afterwards

 private:
  uint64_t state_[25];
  uint8_t buf_[136];
  size_t buf_len_ = 0;
};

Hash32 keccak256(ByteView data) noexcept;
inline Hash32 keccak256(std::string_view text) noexcept { return keccak256(as_bytes(text)); }

// The iota step's round constants of Keccak-f[1600] (FIPS 202, 3.2.5), for every
// implementation of the permutation (this one and store's multi-lane segment hasher).
inline constexpr uint64_t kKeccakRoundConstants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};

// The Keccak-f[1600] permutation (24 rounds) on a 25-lane state.
void keccak_f1600(uint64_t state[25]) noexcept;

}  // namespace dgrid::crypto
