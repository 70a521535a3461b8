#include "core/bytes.hpp"
#include "core/u256.hpp"

#include <gtest/gtest.h>

namespace dgrid {

TEST(Hex, RoundTrip) {
  Bytes b{0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(to_hex(b), "0x0001abff");
  EXPECT_EQ(to_hex(b, false), "0001abff");
  EXPECT_EQ(*from_hex("0x0001ABff"), b);
  EXPECT_EQ(*from_hex("0001abff"), b);
  EXPECT_TRUE(from_hex("")->empty());
}

TEST(Hex, RejectsBadInput) {
  EXPECT_EQ(from_hex("0x123").error().code, Errc::malformed);
  EXPECT_EQ(from_hex("zz").error().code, Errc::malformed);
  EXPECT_FALSE((fixed_from_hex<4>("0x010203")));
}

TEST(U256, ParseAndFormat) {
  EXPECT_EQ(*parse_u256("1000"), 1000);
  EXPECT_EQ(*parse_u256("0x3e8"), 1000);
  EXPECT_EQ(to_quantity(0), "0x0");
  EXPECT_EQ(to_quantity(255), "0xff");
  u256 max = ~u256(0);
  EXPECT_EQ(*parse_u256(to_dec(max)), max);
  EXPECT_FALSE(parse_u256("115792089237316195423570985008687907853269984665640564039457584007913129639936"));
  EXPECT_FALSE(parse_u256("0x1" + std::string(64, '0')));
  EXPECT_FALSE(parse_u256("-1"));
  EXPECT_FALSE(parse_u256(""));
  EXPECT_FALSE(parse_u256("0x"));
}

TEST(U256, BigEndian) {
  EXPECT_TRUE(to_be_min(0).empty());
  EXPECT_EQ(to_be_min(0x0102), (Bytes{1, 2}));
  Hash32 w = to_be32(0x0102);
  EXPECT_EQ(w[30], 1);
  EXPECT_EQ(w[31], 2);
  EXPECT_EQ(*from_be(w), 0x0102);
  EXPECT_FALSE(from_be(Bytes(33, 1)));
}

}  // namespace dgrid

namespace dgrid {

TEST(Units, FormatAndParse) {
  EXPECT_EQ(format_units(1500000, 6), "1.5");
  EXPECT_EQ(format_units(0, 6), "0");
  EXPECT_EQ(format_units(1, 6), "0.000001");
  EXPECT_EQ(format_units(123, 0), "123");
  EXPECT_EQ(*parse_units("1.5", 6), 1500000);
  EXPECT_EQ(*parse_units("2", 6), 2000000);
  EXPECT_EQ(*parse_units(".25", 2), 25);
  EXPECT_FALSE(parse_units("1.0000001", 6));
  EXPECT_FALSE(parse_units("1.2.3", 6));
  EXPECT_FALSE(parse_units("abc", 6));
  EXPECT_FALSE(parse_units("", 6));
  EXPECT_FALSE(parse_units("-1", 6));
}

}  // namespace dgrid
