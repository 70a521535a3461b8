// CIDs, multiformats varints and multibase against published vectors (RFC 4648, the IPFS
// empty-block and empty-directory CIDs, `ipfs add` of "hello world\n").
#include "store/cid.hpp"

#include <gtest/gtest.h>

#include <random>

#include "crypto/sha256.hpp"

namespace dgrid::store {
namespace {

Bytes hx(std::string_view s) { return unwrap(from_hex(s)); }

constexpr char kEmptyRaw[] = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
// The empty UnixFS directory (block 0a 02 08 01), as IPFS has printed it since 2015.
constexpr char kEmptyDirV0[] = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
constexpr char kEmptyDirV1[] = "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354";

TEST(Varint, EncodesLeb128) {
  const std::pair<uint64_t, std::string_view> cases[] = {
      {0, "00"}, {1, "01"}, {127, "7f"}, {128, "8001"}, {300, "ac02"}, {16384, "808001"},
      {(uint64_t{1} << 63) - 1, "ffffffffffffffff7f"}};
  for (auto [v, want] : cases) {
    Bytes out;
    put_uvarint(out, v);
    EXPECT_EQ(to_hex(out, false), want) << v;
    auto back = read_uvarint(out);
    ASSERT_TRUE(back) << v;
    EXPECT_EQ(back->first, v);
    EXPECT_EQ(back->second, out.size());
  }
}

TEST(Varint, ReadsPrefixOnly) {
  auto r = read_uvarint(hx("ac02ff"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 300u);
  EXPECT_EQ(r->second, 2u);
}

TEST(Varint, RejectsMalformed) {
  EXPECT_EQ(read_uvarint({}).error().message, "varint truncated");
  EXPECT_EQ(read_uvarint(hx("80")).error().message, "varint truncated");
  EXPECT_EQ(read_uvarint(hx("8000")).error().message, "varint not minimally encoded");
  EXPECT_EQ(read_uvarint(hx("ff00")).error().message, "varint not minimally encoded");
  EXPECT_EQ(read_uvarint(hx("ffffffffffffffffff01")).error().message, "varint longer than 9 bytes");
  EXPECT_EQ(read_uvarint(hx("8000")).error().code, Errc::malformed);
}

TEST(Base32, Rfc4648Vectors) {
  // RFC 4648 §10, lower case, padding dropped.
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"", ""}, {"f", "my"}, {"fo", "mzxq"}, {"foo", "mzxw6"}, {"foob", "mzxw6yq"},
      {"fooba", "mzxw6ytb"}, {"foobar", "mzxw6ytboi"}};
  for (auto [plain, enc] : cases) {
    EXPECT_EQ(base32_lower(as_bytes(plain)), enc);
    auto dec = base32_decode(enc);
    ASSERT_TRUE(dec) << enc;
    EXPECT_EQ(as_chars(*dec), plain);
    std::string upper(enc);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(as_chars(unwrap(base32_decode(upper))), plain);
  }
}

TEST(Base32, RejectsMalformed) {
  EXPECT_NE(base32_decode("mzxw6ytboi=").error().message.find("padding"), std::string::npos);
  EXPECT_NE(base32_decode("mzx1").error().message.find("bad character '1' at 3"), std::string::npos);
  EXPECT_NE(base32_decode("mzx!").error().message.find("'!'"), std::string::npos);
  EXPECT_NE(base32_decode("m").error().message.find("impossible length"), std::string::npos);
  EXPECT_NE(base32_decode("mzx").error().message.find("impossible length"), std::string::npos);
  // "mz" is 'f' plus two bits that must be zero; "mz" -> 0x66 with zero tail, "m3" has 0b11 left.
  EXPECT_NE(base32_decode("m3").error().message.find("trailing bits"), std::string::npos);
  EXPECT_NE(base32_decode(std::string("my\0", 3)).error().message.find("byte 0x00"), std::string::npos);
}

TEST(Base58, Vectors) {
  // From the base58 draft (draft-msporny-base58): "Hello World!" and leading zeros.
  EXPECT_EQ(base58btc(as_bytes("Hello World!")), "2NEpo7TZRRrLZSi2U");
  EXPECT_EQ(base58btc(hx("0000287fb4cd")), "11233QC4");
  EXPECT_EQ(base58btc({}), "");
  EXPECT_EQ(as_chars(unwrap(base58btc_decode("2NEpo7TZRRrLZSi2U"))), "Hello World!");
  EXPECT_EQ(to_hex(unwrap(base58btc_decode("11233QC4")), false), "0000287fb4cd");
  EXPECT_NE(base58btc_decode("0OIl").error().message.find("bad character '0'"), std::string::npos);
}

TEST(Base58, RoundTripsRandomBytes) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    Bytes b(rng() % 40);
    for (auto& x : b) x = static_cast<uint8_t>(rng() % 4 == 0 ? 0 : rng());
    EXPECT_EQ(unwrap(base58btc_decode(base58btc(b))), b);
    EXPECT_EQ(unwrap(base32_decode(base32_lower(b))), b);
  }
}

TEST(Cid, EmptyRawBlock) {
  const Cid c = Cid::of(Codec::raw, {});
  EXPECT_TRUE(c.valid());
  EXPECT_EQ(c.version(), 1);
  EXPECT_EQ(c.codec(), Codec::raw);
  EXPECT_EQ(c.to_string(), kEmptyRaw);
  EXPECT_EQ(to_hex(c.bytes(), false),
            "01551220e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto parsed = Cid::parse(kEmptyRaw);
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_EQ(*parsed, c);
  EXPECT_TRUE(c.matches({}));
  EXPECT_FALSE(c.matches(as_bytes("x")));
}

TEST(Cid, V0AndItsV1Form) {
  const Bytes empty_dir = hx("0a020801");
  const Cid v0 = Cid::v0(crypto::sha256(empty_dir));
  EXPECT_EQ(v0.to_string(), kEmptyDirV0);
  EXPECT_EQ(v0.version(), 0);
  EXPECT_EQ(v0.codec(), Codec::dag_pb);
  EXPECT_EQ(v0.bytes().size(), 34u);
  EXPECT_EQ(v0.to_v1().to_string(), kEmptyDirV1);
  EXPECT_EQ(v0.to_v1(), Cid::of(Codec::dag_pb, empty_dir));
  EXPECT_NE(v0, v0.to_v1());  // different CIDs for the same block

  auto p0 = Cid::parse(kEmptyDirV0);
  ASSERT_TRUE(p0) << p0.error().to_string();
  EXPECT_EQ(*p0, v0);
  auto p1 = Cid::parse(kEmptyDirV1);
  ASSERT_TRUE(p1);
  EXPECT_EQ(*p1, v0.to_v1());
  EXPECT_EQ(unwrap(Cid::from_bytes(v0.bytes())), v0);
}

TEST(Cid, HelloWorldAsIpfsAddsIt) {
  // `ipfs add` (v0 defaults) of "hello world\n": one dag-pb node with the bytes inline.
  const Bytes block = concat({hx("0a120802120c"), as_bytes("hello world\n"), hx("180c")});
  EXPECT_EQ(Cid::v0(crypto::sha256(block)).to_string(), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
  EXPECT_EQ(Cid::v0(crypto::sha256(block)).to_v1().to_string(),
            "bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mby");
}

TEST(Cid, TextForms) {
  const Cid c = unwrap(Cid::parse(kEmptyRaw));
  std::string upper(kEmptyRaw);
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  EXPECT_EQ(unwrap(Cid::parse(upper)), c);
  // multibase 'z' (base58btc) for v1 is read, never written.
  EXPECT_EQ(unwrap(Cid::parse("z" + base58btc(c.bytes()))), c);
}

TEST(Cid, BinaryPrefixAndTrailingBytes) {
  const Cid c = Cid::of(Codec::dag_pb, as_bytes("node"));
  Bytes buf = c.bytes();
  const size_t n = buf.size();
  buf.push_back(0xaa);
  auto pre = Cid::read_prefix(buf);
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->first, c);
  EXPECT_EQ(pre->second, n);
  auto whole = Cid::from_bytes(buf);
  ASSERT_FALSE(whole);
  EXPECT_EQ(whole.error().message, "cid: 1 trailing bytes");
  // v0 prefix inside a longer buffer
  const Cid v0 = Cid::v0(crypto::sha256(as_bytes("x")));
  Bytes b0 = v0.bytes();
  b0.push_back(1);
  EXPECT_EQ(unwrap(Cid::read_prefix(b0)).second, 34u);
}

TEST(Cid, DagCborReadButKeptApart) {
  const Cid c = Cid::v1(Codec::dag_cbor, crypto::sha256(as_bytes("{}")));
  EXPECT_EQ(unwrap(Cid::parse(c.to_string())), c);
  EXPECT_TRUE(c.to_string().starts_with("bafyrei"));
}

struct Bad {
  std::string text;
  Errc code;
  std::string says;
};

TEST(Cid, RejectsMalformedText) {
  const std::string good = kEmptyRaw;
  const Cid c = unwrap(Cid::parse(good));
  auto v1_bytes = [&](std::string_view prefix_hex) { return "b" + base32_lower(concat({hx(prefix_hex), c.digest()})); };
  const Bad cases[] = {
      {"", Errc::malformed, "empty"},
      {"f01551220", Errc::malformed, "unknown multibase prefix 'f'"},
      {"mAVUSIA", Errc::malformed, "unknown multibase prefix 'm'"},
      {good.substr(0, good.size() - 1), Errc::malformed, "impossible length"},
      {good.substr(0, good.size() - 2), Errc::malformed, "digest truncated"},
      {good + "a", Errc::malformed, "base32"},
      {"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk1", Errc::malformed, "bad character '1'"},
      {"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyKu", Errc::malformed, "mixed-case"},
      {"QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3N", Errc::malformed, "45 characters, expected 46"},
      {"QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3N0", Errc::malformed, "bad character '0'"},
      {"b", Errc::malformed, "cid: empty"},
      {std::string(300, 'b'), Errc::malformed, "too long"},
      {v1_bytes("02551220"), Errc::unsupported, "version 2 is not supported"},
      {v1_bytes("01781220"), Errc::unsupported, "codec 0x78 is not supported"},
      {v1_bytes("01551320"), Errc::unsupported, "multihash 0x13 is not supported"},
      {v1_bytes("0155a0e40220"), Errc::unsupported, "multihash 0xb220 is not supported"},  // blake2b-256
      {v1_bytes("01551221"), Errc::malformed, "digest length 33, expected 32"},
      {v1_bytes("01d5001220"), Errc::malformed, "codec varint not minimally encoded"},
      {"b" + base32_lower(Cid::v0(c.digest()).bytes()), Errc::malformed, "multibase-prefixed CIDv0"},
  };
  for (const auto& bad : cases) {
    auto r = Cid::parse(bad.text);
    ASSERT_FALSE(r) << bad.text;
    EXPECT_EQ(r.error().code, bad.code) << bad.text << ": " << r.error().message;
    EXPECT_NE(r.error().message.find(bad.says), std::string::npos) << bad.text << ": " << r.error().message;
  }
}

TEST(Cid, RejectsMalformedBinary) {
  EXPECT_EQ(Cid::from_bytes({}).error().message, "cid: empty");
  EXPECT_EQ(Cid::from_bytes(hx("12")).error().message, "cid v0: truncated multihash");
  EXPECT_EQ(Cid::from_bytes(hx("1220aa")).error().message, "cid v0: digest truncated");
  EXPECT_NE(Cid::from_bytes(hx("1214aa")).error().message.find("digest length 20"), std::string::npos);
  EXPECT_NE(Cid::from_bytes(hx("0155")).error().message.find("multihash code varint truncated"), std::string::npos);
  EXPECT_NE(Cid::from_bytes(hx("01")).error().message.find("codec varint truncated"), std::string::npos);
  EXPECT_EQ(Cid::from_bytes(hx("00551220")).error().code, Errc::unsupported);  // an explicit version 0
}

TEST(Cid, EveryTruncationOfAValidCidFails) {
  for (const Cid& c : {Cid::of(Codec::raw, as_bytes("a")), Cid::v0(crypto::sha256(as_bytes("b")))}) {
    const Bytes b = c.bytes();
    for (size_t n = 0; n < b.size(); ++n) EXPECT_FALSE(Cid::from_bytes(ByteView(b).first(n))) << n;
    const std::string t = c.to_string();
    for (size_t n = 0; n < t.size(); ++n) EXPECT_FALSE(Cid::parse(t.substr(0, n))) << t.substr(0, n);
  }
}

TEST(Cid, DefaultIsInvalidAndOrdersAndHashes) {
  EXPECT_FALSE(Cid().valid());
  const Cid a = Cid::of(Codec::raw, as_bytes("a")), b = Cid::of(Codec::raw, as_bytes("b"));
  EXPECT_NE(a, b);
  EXPECT_TRUE((a < b) != (b < a));
  EXPECT_EQ(std::hash<Cid>{}(a), std::hash<Cid>{}(unwrap(Cid::parse(a.to_string()))));
}

}  // namespace
}  // namespace dgrid::store
