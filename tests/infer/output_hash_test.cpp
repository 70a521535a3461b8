#include "infer/output_hash.hpp"

#include <gtest/gtest.h>

#include "crypto/keccak.hpp"

namespace dgrid::infer {

TEST(OutputHash, Uint32LittleEndian) {
  std::vector<uint32_t> ids = {1, 0x01020304, 0xffffffff};
  Bytes le = {1, 0, 0, 0, 4, 3, 2, 1, 0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(output_hash(ids), crypto::keccak256(le));
  EXPECT_EQ(output_hash({}), crypto::keccak256(Bytes{}));
  EXPECT_NE(output_hash(std::vector<uint32_t>{1, 2}), output_hash(std::vector<uint32_t>{2, 1}));
}

}  // namespace dgrid::infer
