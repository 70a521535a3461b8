#include "crypto/secp256k1.hpp"

#include <gtest/gtest.h>

#include "crypto/keccak.hpp"

namespace dgrid::crypto {

// anvil's first dev account (the well-known test mnemonic).
constexpr char kDevKey[] = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
constexpr char kDevAddr[] = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

TEST(Secp256k1, DevAccountAddress) {
  auto k = PrivateKey::from_hex(kDevKey);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->address().checksummed(), kDevAddr);
}

TEST(Secp256k1, SignRecoverRoundTrip) {
  auto k = PrivateKey::generate();
  Hash32 digest = keccak256(std::string_view("hello"));
  Signature sig = k.sign(digest);
  auto back = recover_address(digest, sig);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, k.address());
  auto parsed = Signature::from_rsv(sig.to_rsv());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, sig);
}

TEST(Secp256k1, RejectsBadKeysAndSignatures) {
  EXPECT_FALSE(PrivateKey::from_bytes(Bytes(32, 0)));
  EXPECT_FALSE(PrivateKey::from_bytes(Bytes(32, 0xff)));
  EXPECT_FALSE(PrivateKey::from_bytes(Bytes(31, 1)));
  EXPECT_FALSE(Signature::from_rsv(Bytes(64, 1)));
  Bytes bad_v(65, 1);
  bad_v[64] = 29;
  EXPECT_FALSE(Signature::from_rsv(bad_v));
  Bytes high_s(65, 0xff);
  high_s[0] = 1;
  high_s[64] = 27;
  EXPECT_FALSE(Signature::from_rsv(high_s));
}

TEST(Address, ChecksumRules) {
  EXPECT_TRUE(parse_address(kDevAddr));
  EXPECT_TRUE(parse_address("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"));
  EXPECT_TRUE(parse_address("0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266"));
  EXPECT_FALSE(parse_address("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92267"));
  EXPECT_FALSE(parse_address("0xF39fd6e51aad88F6F4ce6aB8827279cffFb92266"));
  EXPECT_FALSE(parse_address("0x1234"));
}

}  // namespace dgrid::crypto
