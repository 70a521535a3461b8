// Test content for storage deals: seeded random bytes and the 1 KiB segments the chain proves.
#pragma once

#include <algorithm>
#include <random>

#include "core/bytes.hpp"
#include "crypto/merkle.hpp"

namespace dgrid::test {

inline Bytes random_content(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes b(size);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

// Segment `index` of `content` (the last one may be short), as StorageMarket hashes it.
inline Bytes segment_of(const Bytes& content, uint64_t index) {
  const size_t start = index * crypto::kSegmentSize;
  const size_t end = std::min(content.size(), start + crypto::kSegmentSize);
  return Bytes(content.begin() + static_cast<ptrdiff_t>(start), content.begin() + static_cast<ptrdiff_t>(end));
}

}  // namespace dgrid::test
