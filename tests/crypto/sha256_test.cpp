#include "crypto/sha256.hpp"

#include <gtest/gtest.h>

#include <string>

namespace dgrid::crypto {

// FIPS 180-4 / NIST CSHA examples.
TEST(Sha256, KnownVectors) {
  EXPECT_EQ(to_hex(sha256(std::string_view(""))),
            "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256(std::string_view("abc"))),
            "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256(std::string_view("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "0x248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, MillionAs) {
  Sha256 h;
  std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(as_bytes(chunk));
  EXPECT_EQ(to_hex(h.finalize()), "0xcdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalMatchesOneShotAndResets) {
  Bytes data(777);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 13 + 1);
  Hash32 whole = sha256(data);
  Sha256 h;
  for (size_t split : {0, 1, 63, 64, 65, 776}) {
    h.update(ByteView(data).first(split));
    h.update(ByteView(data).subspan(split));
    EXPECT_EQ(h.finalize(), whole) << split;  // finalize resets, so the loop reuses h
  }
  Sha256 moved = std::move(h);
  moved.update(data);
  EXPECT_EQ(moved.finalize(), whole);
}

}  // namespace dgrid::crypto
