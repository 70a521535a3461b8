#include "eth/rlp.hpp"

#include <gtest/gtest.h>

#include <boost/multiprecision/cpp_int.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "support/test_env.hpp"

namespace dgrid::eth::rlp {
namespace {

using nlohmann::json;

Bytes hex(std::string_view h) { return unwrap(from_hex(h)); }

json load(const std::filesystem::path& p) {
  std::ifstream f(p);
  return json::parse(f);
}

// "#<decimal>" big integers may exceed 256 bits (the "bigint" vector is 2^256).
Bytes big_be(std::string_view dec) {
  boost::multiprecision::cpp_int v{std::string(dec)};
  Bytes out;
  while (v > 0) {
    out.insert(out.begin(), static_cast<uint8_t>(v & 0xff));
    v >>= 8;
  }
  return out;
}

void encode_json(Bytes& out, const json& in) {
  if (in.is_array()) {
    size_t mark = begin_list(out);
    for (const auto& e : in) encode_json(out, e);
    end_list(out, mark);
  } else if (in.is_number_unsigned()) {
    encode(out, in.get<uint64_t>());
  } else {
    auto s = in.get<std::string>();
    if (!s.empty() && s[0] == '#') encode(out, big_be(std::string_view(s).substr(1)));
    else encode(out, s);
  }
}

void expect_matches(const Node& node, const json& in, const std::string& name) {
  if (in.is_array()) {
    ASSERT_TRUE(node.is_list) << name;
    ASSERT_EQ(node.children.size(), in.size()) << name;
    for (size_t i = 0; i < in.size(); ++i) expect_matches(node.children[i], in[i], name);
  } else if (in.is_number_unsigned()) {
    auto v = node.as_uint();
    ASSERT_TRUE(v) << name << ": " << v.error().to_string();
    EXPECT_EQ(*v, u256(in.get<uint64_t>())) << name;
  } else {
    ASSERT_FALSE(node.is_list) << name;
    auto s = in.get<std::string>();
    if (!s.empty() && s[0] == '#') {
      EXPECT_EQ(Bytes(node.bytes.begin(), node.bytes.end()), big_be(std::string_view(s).substr(1))) << name;
    } else {
      EXPECT_EQ(as_chars(node.bytes), s) << name;
    }
  }
}

TEST(RlpVectors, ValidEncodeAndDecode) {
  DGRID_SHARED_OR_SKIP(path, "vectors/ethereum/RLPTests/rlptest.json");
  DGRID_SHARED_OR_SKIP(example, "vectors/ethereum/RLPTests/example.json");
  size_t count = 0;
  for (const auto& file : {path, example}) {
    const json doc = load(file);
    for (const auto& [name, vec] : doc.items()) {
      Bytes expected = hex(vec["out"].get<std::string>());
      const json& in = vec["in"];
      const bool structured = !(in.is_string() && in.get<std::string>() == "VALID");
      if (structured) {
        Bytes out;
        encode_json(out, in);
        EXPECT_EQ(to_hex(out), to_hex(expected)) << name;
      }
      auto node = decode(expected);
      ASSERT_TRUE(node) << name << ": " << node.error().to_string();
      if (structured) expect_matches(*node, in, name);
      Bytes again;
      encode(again, *node);
      EXPECT_EQ(again, expected) << name;
      ++count;
    }
  }
  EXPECT_EQ(count, 29u);
}

TEST(RlpVectors, InvalidRejected) {
  DGRID_SHARED_OR_SKIP(path, "vectors/ethereum/RLPTests/invalidRLPTest.json");
  size_t count = 0;
  const json doc = load(path);
  for (const auto& [name, vec] : doc.items()) {
    Bytes in = hex(vec["out"].get<std::string>());
    auto node = decode(in);
    EXPECT_FALSE(node) << name << " decoded but is invalid";
    if (!node) {
      EXPECT_EQ(node.error().code, Errc::malformed) << name;
    }
    ++count;
  }
  EXPECT_EQ(count, 26u);
}

std::string decode_error(std::string_view h) {
  auto r = decode(hex(h));
  return r ? std::string("ok") : r.error().message;
}

TEST(Rlp, ErrorMessagesNameTheProblemAndOffset) {
  // A list claiming 300 bytes with 12 left, nested at offset 5.
  Bytes in = hex("f8" "40" "c0c0c0c0c0" "f9012c" "000102030405060708090a0b");
  auto r = decode(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "RLP: list length 64 exceeds remaining 20 bytes at offset 0");
  Bytes inner = hex("c0c0c0c0c0f9012c000102030405060708090a0b");
  Reader rd(inner);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(rd.next());
  auto bad = rd.next();
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "RLP: list length 300 exceeds remaining 12 bytes at offset 5");
  EXPECT_EQ(decode_error("8100"), "RLP: single byte below 0x80 encoded as a string (non-canonical) at offset 0");
  EXPECT_EQ(decode_error("b801ff"), "RLP: string of length 1 uses the long form (non-canonical) at offset 0");
  EXPECT_EQ(decode_error("b90040"), "RLP: string length has leading zero bytes at offset 0");
  EXPECT_EQ(decode_error("8001"), "RLP: 1 trailing bytes at offset 1");
  EXPECT_EQ(decode_error(""), "RLP: unexpected end of input at offset 0");
  EXPECT_EQ(decode_error("c3c38001"), "RLP: list length 3 exceeds remaining 2 bytes at offset 1");
}

TEST(Rlp, TrailingAllowedOnRequest) {
  Bytes in = hex("83646f6701");  // the decoded views borrow `in`
  auto r = decode(in, Trailing::allow);
  ASSERT_TRUE(r);
  EXPECT_EQ(as_chars(r->bytes), "dog");
}

TEST(Rlp, IntegersMustBeCanonical) {
  EXPECT_FALSE(Reader(hex("00")).read_u256());       // zero must be 0x80
  EXPECT_FALSE(Reader(hex("820001")).read_u256());   // leading zero
  EXPECT_FALSE(Reader(hex("c0")).read_u256());       // list
  EXPECT_FALSE(Reader(hex("a1" "01" + std::string(64, '0'))).read_u256());  // 33 bytes
  EXPECT_FALSE(Reader(hex("89010000000000000000")).read_u64());  // 2^64
  EXPECT_EQ(*Reader(hex("80")).read_u64(), 0u);
  EXPECT_EQ(*Reader(hex("7f")).read_u64(), 0x7fu);
  EXPECT_EQ(*Reader(hex("8180")).read_u64(), 0x80u);
  EXPECT_EQ(*Reader(hex("88ffffffffffffffff")).read_u64(), ~uint64_t{0});
}

TEST(Rlp, EncodesIntegers) {
  EXPECT_EQ(to_hex(encoded(uint64_t{0})), "0x80");
  EXPECT_EQ(to_hex(encoded(uint8_t{0x7f})), "0x7f");
  EXPECT_EQ(to_hex(encoded(uint64_t{1024})), "0x820400");
  EXPECT_EQ(to_hex(encoded(~u256(0))), "0xa0" + std::string(64, 'f'));
  EXPECT_EQ(to_hex(encoded(u256(0))), "0x80");
}

TEST(Rlp, ReaderReadsTypedFields) {
  crypto::Address a;
  a.bytes.fill(0x35);
  Bytes enc;
  encode_list(enc, uint64_t{9}, a, std::string_view("hi"), std::vector<uint64_t>{1, 2, 3});
  Reader outer(enc);
  auto list = outer.read_list();
  ASSERT_TRUE(list);
  EXPECT_EQ(*list->read_u64(), 9u);
  EXPECT_EQ(*list->read_address(), a);
  EXPECT_EQ(as_chars(*list->read_bytes()), "hi");
  auto inner = list->read_list();
  ASSERT_TRUE(inner);
  EXPECT_EQ(*inner->read_u64(), 1u);
  EXPECT_FALSE(inner->finish());
  EXPECT_TRUE(list->finish());
  EXPECT_TRUE(outer.finish());
  EXPECT_FALSE(Reader(enc).read_bytes());  // a list is not a string
}

TEST(Rlp, DepthLimit) {
  Bytes enc = hex("c0");
  for (size_t i = 0; i < kMaxDepth; ++i) {
    Bytes wrapped;
    encode_header(wrapped, true, enc.size());
    wrapped.insert(wrapped.end(), enc.begin(), enc.end());
    enc = std::move(wrapped);
  }
  auto r = decode(enc);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("nested deeper"), std::string::npos);
}

// Random trees: encode -> decode -> re-encode is the identity, and long forms appear.
void random_tree(std::mt19937_64& rng, Bytes& out, int depth) {
  if (depth > 4 || rng() % 3 == 0) {
    size_t len = rng() % 4 == 0 ? rng() % 300 : rng() % 3;
    Bytes s(len);
    for (auto& b : s) b = static_cast<uint8_t>(rng());
    encode(out, s);
    return;
  }
  size_t mark = begin_list(out);
  size_t n = rng() % 6;
  for (size_t i = 0; i < n; ++i) random_tree(rng, out, depth + 1);
  end_list(out, mark);
}

TEST(Rlp, RandomRoundTrip) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 500; ++i) {
    Bytes enc;
    random_tree(rng, enc, 0);
    auto node = decode(enc);
    ASSERT_TRUE(node) << node.error().to_string();
    Bytes again;
    encode(again, *node);
    ASSERT_EQ(again, enc);
  }
}

}  // namespace
}  // namespace dgrid::eth::rlp
