#include "crypto/eip712.hpp"

#include <gtest/gtest.h>

#include "crypto/keccak.hpp"

namespace dgrid::crypto {

using nlohmann::json;

namespace {

// The example from the EIP-712 specification (Example.js / Example.sol).
json mail_doc() {
  return json::parse(R"({
    "types": {
      "EIP712Domain": [
        {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
      "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
      "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"},
               {"name": "contents", "type": "string"}]
    },
    "primaryType": "Mail",
    "domain": {"name": "Ether Mail", "version": "1", "chainId": 1,
               "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
    "message": {
      "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
      "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
      "contents": "Hello, Bob!"
    }
  })");
}

// A one-field document for exercising a single type/value pair.
json single(const std::string& type, const json& value) {
  json doc = {{"types",
               {{"EIP712Domain", json::array({{{"name", "chainId"}, {"type", "uint256"}}})},
                {"T", json::array({{{"name", "v"}, {"type", type}}})}}},
              {"primaryType", "T"},
              {"domain", {{"chainId", 1}}},
              {"message", {{"v", value}}}};
  return doc;
}

Result<Hash32> single_hash(const std::string& type, const json& value) { return typed_data_digest(single(type, value)); }

std::string error_of(const json& doc) {
  auto r = typed_data_digest(doc);
  return r ? std::string("no error") : r.error().message;
}

}  // namespace

TEST(Eip712, MailExampleFromTheEip) {
  auto td = TypedData::from_json(mail_doc());
  ASSERT_TRUE(td) << td.error().to_string();
  EXPECT_EQ(*td->types.encode_type("Mail"), "Mail(Person from,Person to,string contents)Person(string name,address wallet)");
  EXPECT_EQ(to_hex(*td->types.type_hash("Mail")),
            "0xa0cedeb2dc280ba39b857546d74f5549c3a1d7bdc2dd96bf881f76108e23dac2");
  EXPECT_EQ(to_hex(*td->struct_hash()), "0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e");
  EXPECT_EQ(to_hex(*td->domain_separator()), "0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f");
  EXPECT_EQ(to_hex(*td->digest()), "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
}

TEST(Eip712, MailSignatureForCowsKey) {
  auto cow = PrivateKey::from_bytes(keccak256(std::string_view("cow")));
  ASSERT_TRUE(cow);
  EXPECT_EQ(cow->address().checksummed(), "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826");
  auto sig = sign_typed_data(*cow, mail_doc());
  ASSERT_TRUE(sig);
  EXPECT_EQ(to_hex(sig->r), "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d");
  EXPECT_EQ(to_hex(sig->s), "0x07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562");
  EXPECT_EQ(sig->to_rsv()[64], 28);
  auto signer = recover_typed_data_signer(mail_doc(), *sig);
  ASSERT_TRUE(signer);
  EXPECT_EQ(*signer, cow->address());
  json other = mail_doc();
  other["message"]["contents"] = "Hello, Eve!";
  auto wrong = recover_typed_data_signer(other, *sig);
  ASSERT_TRUE(wrong);
  EXPECT_NE(*wrong, cow->address());
}

TEST(Eip712, EncodeTypeSortsReferencedTypesTransitively) {
  auto types = Eip712Types::from_json(json::parse(R"({
    "Z": [{"name": "b", "type": "B[]"}, {"name": "a", "type": "A[2][]"}],
    "B": [{"name": "c", "type": "C"}],
    "A": [{"name": "x", "type": "uint"}],
    "C": [{"name": "y", "type": "int"}]
  })"));
  ASSERT_TRUE(types) << types.error().to_string();
  EXPECT_EQ(*types->encode_type("Z"), "Z(B[] b,A[2][] a)A(uint256 x)B(C c)C(int256 y)");
  EXPECT_EQ(*types->encode_type("B"), "B(C c)C(int256 y)");
  EXPECT_EQ(*types->type_hash("Z"), keccak256(std::string_view("Z(B[] b,A[2][] a)A(uint256 x)B(C c)C(int256 y)")));
  EXPECT_FALSE(types->encode_type("Nope"));
}

TEST(Eip712, ArraysHashElementWords) {
  auto types = Eip712Types::from_json(json::parse(R"({
    "P": [{"name": "n", "type": "uint8"}],
    "S": [{"name": "ps", "type": "P[]"}, {"name": "m", "type": "uint16[2][]"}, {"name": "e", "type": "string[]"}]
  })"));
  ASSERT_TRUE(types) << types.error().to_string();
  json v = json::parse(R"({"ps": [{"n": 1}, {"n": 2}], "m": [[1, 2], [3, 4]], "e": []})");
  auto word = [](unsigned x) {
    Hash32 w{};
    w[31] = static_cast<uint8_t>(x);
    return w;
  };
  Hash32 p_hash = *types->type_hash("P");
  Hash32 p1 = keccak256(concat({p_hash, word(1)})), p2 = keccak256(concat({p_hash, word(2)}));
  Hash32 ps = keccak256(concat({p1, p2}));
  Hash32 m = keccak256(concat({keccak256(concat({word(1), word(2)})), keccak256(concat({word(3), word(4)}))}));
  Hash32 e = keccak256(ByteView{});
  auto expected = keccak256(concat({*types->type_hash("S"), ps, m, e}));
  auto got = types->hash_struct("S", v);
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ(*got, expected);
}

TEST(Eip712, IntegerEncodings) {
  // The same value in every accepted spelling gives the same digest.
  auto ref = single_hash("int64", -5);
  ASSERT_TRUE(ref);
  EXPECT_EQ(*single_hash("int64", "-5"), *ref);
  EXPECT_EQ(*single_hash("int64", "-0x5"), *ref);
  EXPECT_EQ(*single_hash("uint256", "0x10"), *single_hash("uint256", 16));
  EXPECT_EQ(*single_hash("uint256", "16"), *single_hash("uint256", 16));
  // Two's complement: int8 -1 and int256 -1 both encode as all-ones.
  auto types = Eip712Types::from_json(json::parse(R"({"T": [{"name": "v", "type": "int8"}]})"));
  auto enc = types->encode_data("T", {{"v", -1}});
  ASSERT_TRUE(enc);
  EXPECT_EQ(Bytes(enc->begin() + 32, enc->end()), Bytes(32, 0xff));
  // Range limits.
  EXPECT_TRUE(single_hash("uint8", 255));
  EXPECT_FALSE(single_hash("uint8", 256));
  EXPECT_FALSE(single_hash("uint8", -1));
  EXPECT_TRUE(single_hash("int8", -128));
  EXPECT_TRUE(single_hash("int8", 127));
  EXPECT_FALSE(single_hash("int8", 128));
  EXPECT_FALSE(single_hash("int8", -129));
  EXPECT_TRUE(single_hash("int256", "-0x8000000000000000000000000000000000000000000000000000000000000000"));
  EXPECT_FALSE(single_hash("int256", "0x8000000000000000000000000000000000000000000000000000000000000000"));
  EXPECT_TRUE(single_hash("uint256", "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"));
  EXPECT_FALSE(single_hash("uint256", "0x1ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"));
  EXPECT_TRUE(single_hash("int64", std::numeric_limits<int64_t>::min()));
  EXPECT_TRUE(single_hash("uint64", std::numeric_limits<uint64_t>::max()));
  EXPECT_FALSE(single_hash("uint256", 1.5));
  EXPECT_FALSE(single_hash("uint256", 1e30));
  EXPECT_FALSE(single_hash("uint256", ""));
  EXPECT_FALSE(single_hash("uint256", "-"));
  EXPECT_FALSE(single_hash("uint256", "+1"));
  EXPECT_FALSE(single_hash("uint256", "1e3"));
  EXPECT_FALSE(single_hash("uint256", true));
  EXPECT_NE(error_of(single("uint8", 300)).find("out of range for uint8"), std::string::npos);
}

TEST(Eip712, AtomicValueValidation) {
  EXPECT_TRUE(single_hash("bool", true));
  EXPECT_FALSE(single_hash("bool", 1));
  EXPECT_FALSE(single_hash("bool", "true"));
  EXPECT_TRUE(single_hash("address", "0xcd2a3d9f938e13cd947ec05abc7fe734df8dd826"));
  EXPECT_FALSE(single_hash("address", "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD827"));  // bad checksum
  EXPECT_FALSE(single_hash("address", "0x1234"));
  EXPECT_FALSE(single_hash("address", 5));
  EXPECT_TRUE(single_hash("bytes4", "0x01020304"));
  EXPECT_FALSE(single_hash("bytes4", "0x010203"));
  EXPECT_FALSE(single_hash("bytes4", "0x0102030405"));
  EXPECT_FALSE(single_hash("bytes4", "01020304"));  // 0x prefix required
  EXPECT_NE(error_of(single("bytes4", "0x01")).find("bytes4 needs 4 bytes"), std::string::npos);
  EXPECT_TRUE(single_hash("bytes", "0x"));
  EXPECT_FALSE(single_hash("bytes", "0x123"));
  EXPECT_FALSE(single_hash("bytes", "0xzz"));
  EXPECT_TRUE(single_hash("string", ""));
  EXPECT_FALSE(single_hash("string", nullptr));
  EXPECT_FALSE(single_hash("uint256[]", 5));
  EXPECT_FALSE(single_hash("uint256[2]", json::array({1})));
  EXPECT_TRUE(single_hash("uint256[2]", json::array({1, 2})));
  // bytesN pads on the right, uintN on the left: the same hex gives different words.
  EXPECT_NE(*single_hash("bytes32", "0x" + std::string(62, '0') + "01"), *single_hash("bytes32", "0x01" + std::string(62, '0')));
}

TEST(Eip712, MalformedTypesAreRejectedWithClearErrors) {
  auto types_error = [](const char* text) {
    auto t = Eip712Types::from_json(json::parse(text));
    return t ? std::string("no error") : t.error().message;
  };
  EXPECT_NE(types_error(R"({"A": [{"name": "x", "type": "Nope"}]})").find("unknown type 'Nope'"), std::string::npos);
  EXPECT_NE(types_error(R"({"A": [{"name": "b", "type": "B"}], "B": [{"name": "a", "type": "A[]"}]})").find("cyclic"),
            std::string::npos);
  EXPECT_NE(types_error(R"({"A": [{"name": "a", "type": "A"}]})").find("cyclic"), std::string::npos);
  EXPECT_NE(types_error(R"({"A": [{"name": "x", "type": "uint7"}]})").find("multiple of 8"), std::string::npos);
  EXPECT_NE(types_error(R"({"A": [{"name": "x", "type": "uint264"}]})").find("multiple of 8"), std::string::npos);
  EXPECT_NE(types_error(R"({"A": [{"name": "x", "type": "bytes33"}]})").find("bytesN"), std::string::npos);
  EXPECT_NE(types_error(R"({"A": [{"name": "x", "type": "bytes0"}]})").find("bytesN"), std::string::npos);
  EXPECT_NE(types_error(R"({"A": [{"name": "x", "type": "uint8"}, {"name": "x", "type": "bool"}]})").find("duplicate"),
            std::string::npos);
  EXPECT_NE(types_error(R"({"A": [{"name": "x", "type": "uint8[0]"}]})").find("array length"), std::string::npos);
  EXPECT_NE(types_error(R"({"A": [{"name": "x", "type": "uint8]"}]})").find("unbalanced"), std::string::npos);
  EXPECT_NE(types_error(R"({"A": [{"name": "x y", "type": "uint8"}]})").find("field name"), std::string::npos);
  EXPECT_NE(types_error(R"({"uint8": [{"name": "x", "type": "bool"}]})").find("shadows"), std::string::npos);
  EXPECT_NE(types_error(R"({"A": [{"name": "x"}]})").find("each field"), std::string::npos);
  EXPECT_NE(types_error(R"({"A": {"name": "x"}})").find("array"), std::string::npos);
  EXPECT_NE(types_error(R"([])").find("object"), std::string::npos);
  // Nesting beyond the bound (a chain of 40 structs) is refused, not recursed into.
  json chain = json::object();
  for (int i = 0; i < 40; ++i)
    chain["S" + std::to_string(i)] = json::array({{{"name", "x"}, {"type", i == 39 ? "bool" : "S" + std::to_string(i + 1)}}});
  auto deep = Eip712Types::from_json(chain);
  ASSERT_FALSE(deep);
  EXPECT_NE(deep.error().message.find("deeper"), std::string::npos);
}

TEST(Eip712, MalformedDocumentsAreRejectedWithClearErrors) {
  json doc = mail_doc();
  EXPECT_EQ(error_of(doc), "no error");
  json d = doc;
  d["types"].erase("EIP712Domain");
  EXPECT_NE(error_of(d).find("no EIP712Domain"), std::string::npos);
  auto inferred = TypedData::from_json(d, {.infer_domain_type = true});
  ASSERT_TRUE(inferred) << inferred.error().to_string();
  EXPECT_EQ(*inferred->digest(), *typed_data_digest(doc));
  d = doc;
  d["domain"]["foo"] = 1;
  EXPECT_FALSE(TypedData::from_json([&] { json x = d; x["types"].erase("EIP712Domain"); return x; }(),
                                    {.infer_domain_type = true}));
  EXPECT_NE(error_of(d).find("'foo' is not declared"), std::string::npos);
  d = doc;
  d["message"]["from"].erase("wallet");
  EXPECT_NE(error_of(d).find("missing field 'wallet'"), std::string::npos);
  d = doc;
  d["message"]["to"]["wallet"] = "0x12";
  EXPECT_NE(error_of(d).find("to: wallet: address"), std::string::npos);
  d = doc;
  d["primaryType"] = "Letter";
  EXPECT_NE(error_of(d).find("primaryType 'Letter'"), std::string::npos);
  for (const char* key : {"types", "primaryType", "domain", "message"}) {
    d = doc;
    d.erase(key);
    EXPECT_NE(error_of(d).find(std::string("no '") + key + "'"), std::string::npos) << key;
  }
  d = doc;
  d["message"] = json::array();
  EXPECT_NE(error_of(d).find("expected an object"), std::string::npos);
  EXPECT_FALSE(typed_data_digest(json::array()));
  EXPECT_FALSE(TypedData::parse("{not json"));
  auto parsed = TypedData::parse(doc.dump());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed->digest(), *typed_data_digest(doc));
}

}  // namespace dgrid::crypto
