#include "crypto/keccak.hpp"

#include <gtest/gtest.h>

namespace dgrid::crypto {

TEST(Keccak256, KnownVectors) {
  EXPECT_EQ(to_hex(keccak256(std::string_view(""))),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  EXPECT_EQ(to_hex(keccak256(std::string_view("abc"))),
            "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  EXPECT_EQ(to_hex(keccak256(std::string_view("transfer(address,uint256)"))).substr(0, 10), "0xa9059cbb");
}

TEST(Keccak256, IncrementalMatchesOneShot) {
  Bytes data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 3);
  Hash32 whole = keccak256(data);
  for (size_t split : {0, 1, 135, 136, 137, 272, 999}) {
    Keccak256 h;
    h.update(ByteView(data).first(split));
    h.update(ByteView(data).subspan(split));
    EXPECT_EQ(h.finalize(), whole) << split;
  }
}

}  // namespace dgrid::crypto
