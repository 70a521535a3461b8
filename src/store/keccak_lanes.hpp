// Keccak-256 (Ethereum padding) of many equal-length messages at once, one message per SIMD
// lane: the segment Merkle tree hashes 1024 segments and 1023 pairs per MiB, independent
// messages that a single-stream hasher would take one at a time. Internal to src/store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/bytes.hpp"

namespace dgrid::store::detail {

// out[i] = keccak256(msgs[i][0 .. len)) for i < count. 8 messages per permutation with
// AVX-512, 4 with AVX2, else crypto::keccak256 one by one. Thread-safe; no allocation.
void keccak256_lanes(const uint8_t* const* msgs, size_t len, size_t count, Hash32* out) noexcept;

// The implementation this CPU runs: "avx512", "avx2" or "scalar".
const char* keccak_lanes_target() noexcept;

// For tests: the same with a named implementation; false when this CPU cannot run it.
bool keccak256_lanes_using(std::string_view target, const uint8_t* const* msgs, size_t len, size_t count,
                           Hash32* out) noexcept;

}  // namespace dgrid::store::detail
