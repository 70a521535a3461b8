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

// The Keccak-f[1600] permutation (24 rounds) on a 25-lane state.
void keccak_f1600(uint64_t state[25]) noexcept;

}  // namespace dgrid::crypto
