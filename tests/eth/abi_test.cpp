#include "eth/abi.hpp"

#include <gtest/gtest.h>

#include <random>

#include "eth/abi_random.hpp"

namespace dgrid::eth::abi {
namespace {

Bytes hex(std::string_view h) { return unwrap(from_hex(h)); }
std::vector<Type> types(std::string_view list) { return unwrap(parse_type_list(list)); }
Value u(u256 v) { return Value::uint(std::move(v)); }
Value str(std::string s) { return Value::string(std::move(s)); }
Value by(std::string_view s) { return Value::bytes(as_bytes(s)); }
std::string word(std::string_view h) { return std::string(64 - h.size(), '0') + std::string(h); }

TEST(AbiType, ParsesAndPrintsCanonicalTypes) {
  for (std::string_view text : {"uint8", "uint256", "int16", "address", "bool", "bytes1", "bytes32", "bytes", "string",
                                "uint256[]", "bytes10[3]", "(uint256,bytes)[]", "((address,bool)[2],string[])[][4]",
                                "(uint8)"}) {
    auto t = Type::parse(text);
    ASSERT_TRUE(t) << text << ": " << t.error().to_string();
    EXPECT_EQ(t->canonical(), text);
  }
  EXPECT_TRUE(Type::parse("(uint256,bytes)")->is_dynamic());
  EXPECT_FALSE(Type::parse("(uint256,bool)[3]")->is_dynamic());
  EXPECT_EQ(Type::parse("(uint256,bool)[3]")->head_size(), 192u);
}

TEST(AbiType, RejectsNonCanonicalOrInvalid) {
  for (std::string_view text : {"", "uint", "int", "byte", "uint7", "uint264", "uint0", "uint08", "bytes0", "bytes33",
                                "foo", "(", "()", "(uint256,)", "(,uint256)", "uint256[", "uint256[0]", "uint256[01]",
                                "uint256[x]", "uint256]", "uint256 ", "(uint256))", "address[-1]",
                                "uint256[99999999999]", "uint256[16777216][16777216]"}) {
    EXPECT_FALSE(Type::parse(text)) << text;
  }
  std::string deep(40, '(');
  deep += "uint256" + std::string(40, ')');
  EXPECT_FALSE(Type::parse(deep));
}

TEST(AbiType, TypeLists) {
  EXPECT_EQ(types("").size(), 0u);
  EXPECT_EQ(types("()").size(), 0u);
  EXPECT_EQ(types("uint256,bytes").size(), 2u);
  EXPECT_EQ(types("(uint256,bytes)").size(), 2u);
  EXPECT_EQ(types("(uint256,bytes)[]").size(), 1u);
  EXPECT_EQ(canonical_list(types("uint256,(bool,string)")), "(uint256,(bool,string))");
}

TEST(AbiSelector, KnownValues) {
  EXPECT_EQ(to_hex(selector("transfer(address,uint256)")), "0xa9059cbb");
  EXPECT_EQ(to_hex(selector("baz(uint32,bool)")), "0xcdcd77c0");
  EXPECT_EQ(to_hex(event_topic("Transfer(address,address,uint256)")),
            "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
}

// Examples from the Solidity ABI specification ("Examples" and "Use of Dynamic Types").
TEST(AbiEncode, SolidityDocsExamples) {
  {
    auto ts = types("uint256,uint32[],bytes10,bytes");
    Values vs{u(0x123), Value::array({u(0x456), u(0x789)}), by("1234567890"), by("Hello, world!")};
    std::string expected = "0x" + word("123") + word("80") + "3132333435363738393000000000000000000000000000000000000000000000" +
                           word("e0") + word("2") + word("456") + word("789") + word("d") +
                           "48656c6c6f2c20776f726c642100000000000000000000000000000000000000";
    auto enc = encode(ts, vs);
    ASSERT_TRUE(enc) << enc.error().to_string();
    EXPECT_EQ(to_hex(*enc), expected);
    EXPECT_EQ(to_hex(selector("f(uint256,uint32[],bytes10,bytes)")), "0x8be65246");
    auto dec = decode(ts, *enc);
    ASSERT_TRUE(dec) << dec.error().to_string();
    EXPECT_EQ(*dec, vs);
  }
  {
    auto ts = types("uint256[][],string[]");
    Values vs{Value::array({Value::array({u(1), u(2)}), Value::array({u(3)})}),
              Value::array({str("one"), str("two"), str("three")})};
    std::string expected = "0x" + word("40") + word("140") + word("2") + word("40") + word("a0") + word("2") + word("1") +
                           word("2") + word("1") + word("3") + word("3") + word("60") + word("a0") + word("e0") +
                           word("3") + "6f6e650000000000000000000000000000000000000000000000000000000000" + word("3") +
                           "74776f0000000000000000000000000000000000000000000000000000000000" + word("5") +
                           "7468726565000000000000000000000000000000000000000000000000000000";
    auto enc = encode(ts, vs);
    ASSERT_TRUE(enc);
    EXPECT_EQ(to_hex(*enc), expected);
    EXPECT_EQ(to_hex(selector("g(uint256[][],string[])")), "0x2289b18c");
    EXPECT_EQ(*decode(ts, *enc), vs);
  }
  {
    auto ts = types("bytes,bool,uint256[]");
    Values vs{by("dave"), Value::boolean(true), Value::array({u(1), u(2), u(3)})};
    std::string expected = "0x" + word("60") + word("1") + word("a0") + word("4") +
                           "6461766500000000000000000000000000000000000000000000000000000000" + word("3") + word("1") +
                           word("2") + word("3");
    EXPECT_EQ(to_hex(*encode(ts, vs)), expected);
  }
}

TEST(AbiEncode, SignedIntegersAndRanges) {
  EXPECT_EQ(to_hex(*encode(Type::int_(8), Value::int_(-1))), "0x" + std::string(64, 'f'));
  i256 min = -(i256(1) << 255);
  auto enc = encode(Type::int_(256), Value::int_(min));
  ASSERT_TRUE(enc);
  EXPECT_EQ(to_hex(*enc), "0x8" + std::string(63, '0'));
  EXPECT_EQ(*decode(Type::int_(256), *enc), Value::int_(min));
  EXPECT_FALSE(encode(Type::int_(8), Value::int_(128)));
  EXPECT_FALSE(encode(Type::int_(8), Value::int_(-129)));
  EXPECT_TRUE(encode(Type::int_(8), Value::int_(-128)));
  EXPECT_FALSE(encode(Type::uint(8), u(256)));
  EXPECT_FALSE(encode(Type::uint(8), Value::int_(-1)));
  EXPECT_TRUE(encode(Type::uint(8), Value::int_(255)));  // in range: accepted from either kind
  EXPECT_FALSE(encode(Type::int_(256), Value::uint(u256(1) << 255)));
}

TEST(AbiEncode, ValueMismatchesNameThePath) {
  auto ts = types("uint256,(bool,bytes4)[]");
  auto r = encode(ts, Values{u(1), Value::array({Value::tuple({Value::boolean(true), by("abc")})})});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_EQ(r.error().message, "ABI value arg 1[0][1]: expected bytes4, got 3 bytes");
  EXPECT_FALSE(encode(ts, Values{u(1)}));
  EXPECT_FALSE(encode(types("address"), Values{u(1)}));
  EXPECT_FALSE(encode(types("uint256[2]"), Values{Value::array({u(1)})}));
}

// One malformed input per rejection class; each must fail with Errc::malformed.
TEST(AbiDecode, RejectsEveryMalformedClass) {
  struct Case {
    const char* name;
    const char* types;
    std::string data;
  };
  const std::string ones = std::string(64, 'f');
  const std::vector<Case> cases = {
      {"truncated word", "uint256", std::string(62, '0')},
      {"empty data", "uint256", ""},
      {"trailing bytes", "uint256", word("1") + "00"},
      {"trailing word", "uint256", word("1") + word("0")},
      {"dirty address", "address", "01" + std::string(62, '0')},
      {"bool 2", "bool", word("2")},
      {"uint8 high bits", "uint8", word("100")},
      {"uint32 high bits", "uint32", word("100000000")},
      {"int8 not sign-extended", "int8", word("80")},
      {"int8 bad negative", "int8", "ff" + std::string(60, '0') + "ff"},
      {"bytes4 trailing", "bytes4", "61626364" + std::string(54, '0') + "01"},
      {"offset outside", "bytes", word("40")},
      {"offset huge", "bytes", ones},
      {"offset into nothing", "bytes", word("20")},
      {"bytes length overflow", "bytes", word("20") + word("21") + word("0")},
      {"bytes length huge", "bytes", word("20") + ones},
      {"bytes padding truncated", "bytes", word("20") + word("1") + "61"},
      {"bytes dirty padding", "bytes", word("20") + word("1") + "6101" + std::string(60, '0')},
      {"array length huge", "uint256[]", word("20") + word("ffffffffffffffff")},
      {"array length exceeds data", "uint256[]", word("20") + word("3") + word("1") + word("2")},
      {"array of dynamic length exceeds", "bytes[]", word("20") + word("2") + word("40")},
      {"non-canonical offset", "bytes", word("40") + word("0") + word("0")},
      {"nested offset outside", "(uint256,bytes)[]", word("20") + word("1") + word("20") + word("1") + word("999")},
  };
  for (const auto& c : cases) {
    auto r = decode(types(c.types), hex(c.data));
    EXPECT_FALSE(r) << c.name;
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::malformed) << c.name;
    }
  }
}

TEST(AbiDecode, LenientAcceptsSolidityCompatibleVariants) {
  // A gap before the tail and trailing bytes: valid for abi.decode, not canonical.
  Bytes data = hex(word("40") + word("0") + word("1") + "61" + std::string(62, '0') + "ffff");
  EXPECT_FALSE(decode(types("bytes"), data));
  auto r = decode(types("bytes"), data, Mode::lenient);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ((*r)[0], by("a"));
  // Dirty word padding stays an error even in lenient mode.
  EXPECT_FALSE(decode(types("bool"), hex(word("2")), Mode::lenient));
}

TEST(AbiDecode, AliasedOffsetsCannotAmplify) {
  // 200 offsets all pointing at the same 3 KiB bytes value: ~600 KiB if decoded naively.
  const size_t n = 200;
  std::string data = word("20") + word("c8");
  for (size_t i = 0; i < n; ++i) data += word("1900");  // 0x1900 = 6400 = n * 32
  data += word("c00") + std::string(0xc00 * 2, 'a');
  auto r = decode(types("bytes[]"), hex(data), Mode::lenient);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("exceed"), std::string::npos) << r.error().message;
}

// Random nested types and values: encode, then decode (strict) reproduces the values.
TEST(AbiRoundTrip, RandomNestedValues) {
  RandomAbi g{std::mt19937_64(7)};
  for (int i = 0; i < 400; ++i) {
    std::vector<Type> ts(g.pick(4));
    for (auto& t : ts) t = g.type(0);
    Values vs;
    for (const auto& t : ts) vs.push_back(g.value(t));
    auto enc = encode(ts, vs);
    ASSERT_TRUE(enc) << canonical_list(ts) << ": " << enc.error().to_string();
    auto dec = decode(ts, *enc);
    ASSERT_TRUE(dec) << canonical_list(ts) << ": " << dec.error().to_string();
    ASSERT_EQ(*dec, vs) << canonical_list(ts);
    auto lenient = decode(ts, *enc, Mode::lenient);
    ASSERT_TRUE(lenient);
    ASSERT_EQ(*lenient, vs);
    // Every strict prefix is rejected (no silent truncation).
    if (!enc->empty()) {
      ByteView cut(enc->data(), enc->size() - 1 - g.pick(enc->size()));
      EXPECT_FALSE(decode(ts, cut)) << canonical_list(ts);
    }
  }
}

TEST(AbiValue, CheckedAccessors) {
  Value v = Value::uint(5);
  EXPECT_EQ(*v.as_uint(), 5);
  EXPECT_EQ(*v.as_u64(), 5u);
  auto wrong = v.as_address();
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().message, "ABI value: expected address, got uint");
  EXPECT_FALSE(Value::uint(u256(1) << 64).as_u64());
  Value t = Value::tuple({Value::boolean(true), str("x")});
  EXPECT_EQ(*t.at(1)->as_string(), "x");
  EXPECT_FALSE(t.at(2));
  EXPECT_EQ(t.to_string(), "[true, \"x\"]");
  Hash32 h{};
  h[0] = 1;
  EXPECT_EQ(*Value::bytes(h).as_fixed<32>(), h);
  EXPECT_FALSE(Value::bytes(h).as_fixed<20>());
}

}  // namespace
}  // namespace dgrid::eth::abi
