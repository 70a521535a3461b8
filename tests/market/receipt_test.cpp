// Receipts: digest against the generic EIP-712 implementation, signing, verification, the
// strict JSON codec, the openDispute tuple, job ids and vote commitments.
#include "market/receipt.hpp"

#include <gtest/gtest.h>

#include "crypto/eip712.hpp"
#include "crypto/keccak.hpp"
#include "eth/abi.hpp"
#include "eth/ticket.hpp"
#include "market/market_random.hpp"

namespace dgrid::market {
namespace {

using nlohmann::json;

// The receipt as an eth_signTypedData_v4 document, for crypto::TypedData (an independent,
// generic EIP-712 implementation) to hash.
json typed_doc(const SignedReceipt& s) {
  const Receipt& r = s.receipt;
  json types = {
      {"EIP712Domain",
       {{{"name", "name"}, {"type", "string"}},
        {{"name", "version"}, {"type", "string"}},
        {{"name", "chainId"}, {"type", "uint256"}},
        {{"name", "verifyingContract"}, {"type", "address"}}}},
      {"Receipt",
       {{{"name", "jobId"}, {"type", "bytes32"}},
        {{"name", "provider"}, {"type", "address"}},
        {{"name", "model"}, {"type", "bytes32"}},
        {{"name", "inputHash"}, {"type", "bytes32"}},
        {{"name", "outputHash"}, {"type", "bytes32"}},
        {{"name", "promptTokens"}, {"type", "uint64"}},
        {{"name", "completionTokens"}, {"type", "uint64"}},
        {{"name", "cost"}, {"type", "uint256"}},
        {{"name", "chainId"}, {"type", "uint256"}},
        {{"name", "timestamp"}, {"type", "uint64"}}}},
  };
  json message = {
      {"jobId", to_hex(r.job_id)},
      {"provider", r.provider.hex()},
      {"model", to_hex(r.model)},
      {"inputHash", to_hex(r.input_hash)},
      {"outputHash", to_hex(r.output_hash)},
      {"promptTokens", std::to_string(r.prompt_tokens)},
      {"completionTokens", std::to_string(r.completion_tokens)},
      {"cost", to_dec(r.cost)},
      {"chainId", std::to_string(r.chain_id)},
      {"timestamp", std::to_string(r.timestamp)},
  };
  json domain = {{"name", "dgrid"}, {"version", "1"}, {"chainId", std::to_string(r.chain_id)},
                 {"verifyingContract", s.verifying_contract.hex()}};
  return {{"types", types}, {"primaryType", "Receipt"}, {"domain", domain}, {"message", message}};
}

TEST(Receipt, DigestMatchesGenericEip712) {
  test::MarketRandom rnd(2);
  for (int i = 0; i < 100; ++i) {
    SignedReceipt s{rnd.receipt(), rnd.address(), {}};
    auto digest = crypto::typed_data_digest(typed_doc(s));
    ASSERT_TRUE(digest.has_value()) << digest.error().message;
    EXPECT_EQ(receipt_digest(s.receipt, s.verifying_contract), *digest);
  }
}

TEST(Receipt, SignAndVerify) {
  test::MarketRandom rnd(3);
  auto key = rnd.key();
  auto r = rnd.receipt();
  r.provider = key.address();
  const auto disputes = rnd.address();
  auto s = sign_receipt(r, disputes, key);
  EXPECT_EQ(s.verifying_contract, disputes);
  EXPECT_TRUE(verify_receipt_signature(s).has_value());
  EXPECT_EQ(crypto::recover_address(receipt_digest(r, disputes), s.signature).value(), key.address());

  // Any change to the receipt or its domain breaks it, and the message names both parties.
  auto tampered = s;
  tampered.receipt.completion_tokens++;
  auto v = verify_receipt_signature(tampered);
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code, Errc::permission_denied);
  EXPECT_NE(v.error().message.find(key.address().checksummed()), std::string::npos) << v.error().message;
  auto other_chain = s;
  other_chain.receipt.chain_id++;
  EXPECT_FALSE(verify_receipt_signature(other_chain).has_value());
  auto other_contract = s;
  other_contract.verifying_contract = rnd.address();
  EXPECT_FALSE(verify_receipt_signature(other_contract).has_value());

  // Signed by someone else on the provider's behalf.
  auto forged = sign_receipt(r, disputes, rnd.key());
  v = verify_receipt_signature(forged);
  ASSERT_FALSE(v.has_value());
  EXPECT_NE(v.error().message.find("not by its provider " + key.address().checksummed()), std::string::npos);
}

TEST(Receipt, JsonRoundTrip) {
  test::MarketRandom rnd(4);
  for (int i = 0; i < 50; ++i) {
    auto key = rnd.key();
    auto r = rnd.receipt();
    r.provider = key.address();
    auto s = sign_receipt(r, rnd.address(), key);
    json j = receipt_to_json(s);
    EXPECT_EQ(j["provider"], key.address().checksummed());
    EXPECT_EQ(j["cost"], to_dec(r.cost));
    EXPECT_EQ(j["signature"].get<std::string>().size(), 132u);
    // Through text, as a receipt store or `dgrid verify RECEIPT.json` sees it.
    auto back = receipt_from_json(json::parse(j.dump()));
    ASSERT_TRUE(back.has_value()) << back.error().message;
    EXPECT_EQ(*back, s);
    EXPECT_TRUE(verify_receipt_signature(*back).has_value());
  }
}

TEST(Receipt, JsonRejectsEveryMalformedField) {
  test::MarketRandom rnd(5);
  auto key = rnd.key();
  auto r = rnd.receipt();
  r.provider = key.address();
  const json good = receipt_to_json(sign_receipt(r, rnd.address(), key));
  ASSERT_TRUE(receipt_from_json(good).has_value());

  auto expect_error = [&](const json& bad, std::string_view needle) {
    auto res = receipt_from_json(bad);
    ASSERT_FALSE(res.has_value()) << bad.dump();
    EXPECT_EQ(res.error().code, Errc::malformed);
    EXPECT_NE(res.error().message.find(needle), std::string::npos) << res.error().message;
  };
  for (const auto& item : good.items()) {
    json missing = good;
    missing.erase(item.key());
    expect_error(missing, "missing field " + item.key());
    json wrong_type = good;
    wrong_type[item.key()] = json::array();
    expect_error(wrong_type, item.key());
    json null_value = good;
    null_value[item.key()] = nullptr;
    expect_error(null_value, item.key());
  }
  json extra = good;
  extra["gas"] = 1;
  expect_error(extra, "unknown field gas");
  expect_error(json::array(), "expected a JSON object");

  auto with = [&](std::string_view field, json value) {
    json j = good;
    j[std::string(field)] = std::move(value);
    return j;
  };
  std::string h = good["job_id"];
  expect_error(with("job_id", h.substr(0, 64)), "job_id");                 // 31 bytes
  expect_error(with("job_id", h.substr(2)), "job_id");                     // no 0x
  expect_error(with("model", "0x" + std::string(64, 'g')), "model");       // not hex
  expect_error(with("input_hash", h + "00"), "input_hash");                // 33 bytes
  expect_error(with("output_hash", 5), "output_hash");
  std::string addr = good["provider"];
  std::string bad_checksum = addr;
  for (auto& c : bad_checksum)
    if (std::isalpha(static_cast<unsigned char>(c)) && c != 'x') {
      c = std::islower(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : static_cast<char>(std::tolower(c));
      break;
    }
  if (bad_checksum != addr) expect_error(with("provider", bad_checksum), "provider");
  expect_error(with("provider", addr.substr(2)), "provider");
  expect_error(with("verifying_contract", "0x1234"), "verifying_contract");
  expect_error(with("prompt_tokens", "12"), "prompt_tokens: expected a non-negative integer");
  expect_error(with("prompt_tokens", -1), "prompt_tokens");
  expect_error(with("completion_tokens", 1.5), "completion_tokens");
  expect_error(with("chain_id", "31337"), "chain_id");
  expect_error(with("timestamp", true), "timestamp");
  expect_error(with("cost", 100), "cost: expected a decimal string");
  expect_error(with("cost", "0x64"), "cost");
  expect_error(with("cost", "-1"), "cost");
  expect_error(with("cost", "01"), "cost");
  expect_error(with("cost", ""), "cost");
  expect_error(with("cost", std::string(79, '9')), "cost");  // above 2^256
  std::string sig = good["signature"];
  expect_error(with("signature", sig.substr(0, 130)), "signature");
  std::string v0 = sig.substr(0, 130) + "00";
  expect_error(with("signature", v0), "v must be 27 or 28");
  // The same signature with s' = n - s (EIP-2 forbids it: malleable).
  auto parsed = crypto::Signature::from_rsv(*from_hex(sig)).value();
  const u256 n("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");
  const u256 high_s = n - from_be(parsed.s).value();
  Bytes high = *from_hex(sig);
  auto s_be = to_be32(high_s);
  std::copy(s_be.begin(), s_be.end(), high.begin() + 32);
  high[64] = static_cast<uint8_t>(high[64] == 27 ? 28 : 27);
  expect_error(with("signature", to_hex(high)), "signature");
}

TEST(Receipt, DisputeTupleEncodesLikeTheStruct) {
  test::MarketRandom rnd(6);
  auto r = rnd.receipt();
  auto type = eth::abi::Type::parse("(bytes32,address,bytes32,bytes32,bytes32,uint64,uint64,uint256,uint256,uint64)");
  ASSERT_TRUE(type.has_value());
  auto enc = eth::abi::encode(*type, receipt_value(r));
  ASSERT_TRUE(enc.has_value()) << enc.error().message;
  // A static tuple encodes as its words; hashStruct is keccak(typeHash || those words).
  ASSERT_EQ(enc->size(), 10 * 32u);
  Bytes preimage(32);
  const auto type_hash = crypto::keccak256(std::string_view(
      "Receipt(bytes32 jobId,address provider,bytes32 model,bytes32 inputHash,bytes32 outputHash,uint64 promptTokens,"
      "uint64 completionTokens,uint256 cost,uint256 chainId,uint64 timestamp)"));
  std::copy(type_hash.begin(), type_hash.end(), preimage.begin());
  preimage.insert(preimage.end(), enc->begin(), enc->end());
  EXPECT_EQ(crypto::keccak256(preimage), receipt_struct_hash(r));
}

TEST(Receipt, JobIdAndVoteCommitment) {
  test::MarketRandom rnd(7);
  const auto in = rnd.hash(), nonce = rnd.hash(), out = rnd.hash(), salt = rnd.hash();
  const auto provider = rnd.address(), juror = rnd.address();
  EXPECT_EQ(make_job_id(in, provider, nonce), crypto::keccak256(concat({in, provider.bytes, nonce})));
  EXPECT_NE(make_job_id(in, provider, nonce), make_job_id(in, provider, rnd.hash()));

  using eth::abi::Type;
  using eth::abi::Value;
  std::vector<Type> types = {Type::uint(), Type::fixed_bytes(32), Type::fixed_bytes(32), Type::address()};
  std::vector<Value> values = {Value::uint(42), Value::bytes(out), Value::bytes(salt), Value::address(juror)};
  auto enc = eth::abi::encode(types, values);
  ASSERT_TRUE(enc.has_value());
  EXPECT_EQ(vote_commitment(42, out, salt, juror), crypto::keccak256(*enc));
  EXPECT_NE(vote_commitment(43, out, salt, juror), vote_commitment(42, out, salt, juror));
}

}  // namespace
}  // namespace dgrid::market
