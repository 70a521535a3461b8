// The multi-message Keccak of src/store (segment hashing) against crypto::keccak256 for every
// variant this CPU can run, at lengths around the 136-byte rate and the sizes the segment tree
// uses (1024-byte segments, 64-byte pairs), and group counts around the lane widths.
#include "store/keccak_lanes.hpp"

#include <gtest/gtest.h>

#include <random>

#include "crypto/keccak.hpp"

namespace dgrid::store::detail {
namespace {

TEST(KeccakLanes, EveryVariantMatchesKeccak256) {
  std::mt19937_64 rng(1);
  Bytes pool(64 * 1100);
  for (auto& b : pool) b = static_cast<uint8_t>(rng());
  int ran = 0;
  for (std::string_view target : {"scalar", "avx2", "avx512"}) {
    Hash32 probe;
    const uint8_t* p0 = pool.data();
    if (!keccak256_lanes_using(target, &p0, 0, 1, &probe)) {
      std::printf("keccak lanes: %s not available on this CPU\n", std::string(target).c_str());
      continue;
    }
    ++ran;
    for (size_t len : {0, 1, 63, 64, 65, 71, 72, 135, 136, 137, 271, 272, 273, 1000, 1024}) {
      for (size_t count : {0, 1, 3, 4, 5, 7, 8, 9, 16, 17, 33}) {
        std::vector<const uint8_t*> msgs;
        for (size_t i = 0; i < count; ++i) msgs.push_back(pool.data() + (i * 977 + len) % (pool.size() - len));
        std::vector<Hash32> out(count + 1);
        out[count].fill(0xab);  // must stay untouched
        ASSERT_TRUE(keccak256_lanes_using(target, msgs.data(), len, count, out.data()));
        for (size_t i = 0; i < count; ++i)
          ASSERT_EQ(out[i], crypto::keccak256(ByteView(msgs[i], len))) << target << " len " << len << " count " << count << " #" << i;
        Hash32 untouched;
        untouched.fill(0xab);
        EXPECT_EQ(out[count], untouched);
      }
    }
  }
  EXPECT_GE(ran, 1);
  // keccak256("") from the Ethereum yellow paper, through the dispatched variant.
  const uint8_t* empty = pool.data();
  Hash32 h;
  keccak256_lanes(&empty, 0, 1, &h);
  EXPECT_EQ(to_hex(h), "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  std::printf("keccak lanes: dispatched to %s\n", keccak_lanes_target());
}

}  // namespace
}  // namespace dgrid::store::detail
