#include "eth/abi_json.hpp"

#include "crypto/keccak.hpp"

#include <gtest/gtest.h>

namespace dgrid::eth::abi {
namespace {

Bytes hex(std::string_view h) { return unwrap(from_hex(h)); }
std::string word(std::string_view h) { return std::string(64 - h.size(), '0') + std::string(h); }

// A solc-style ABI covering every entry kind, tuple components and overloads.
constexpr std::string_view kAbi = R"([
  {"type":"constructor","inputs":[{"name":"token","type":"address"},{"name":"delay","type":"uint64"}],
   "stateMutability":"nonpayable"},
  {"type":"function","name":"stake","inputs":[{"name":"amount","type":"uint256"}],"outputs":[],
   "stateMutability":"nonpayable"},
  {"type":"function","name":"stakeOf","inputs":[{"name":"who","type":"address"}],
   "outputs":[{"name":"","type":"uint256"}],"stateMutability":"view"},
  {"type":"function","name":"redeem","stateMutability":"nonpayable","outputs":[],
   "inputs":[{"name":"tickets","type":"tuple[]","internalType":"struct Ticket[]","components":[
     {"name":"recipient","type":"address"},{"name":"faceValue","type":"uint256"},
     {"name":"auxData","type":"bytes"},{"name":"sig","type":"tuple","components":[
        {"name":"r","type":"bytes32"},{"name":"s","type":"bytes32"},{"name":"v","type":"uint8"}]}]}]},
  {"type":"function","name":"ping","inputs":[],"outputs":[],"stateMutability":"pure"},
  {"type":"function","name":"ping","inputs":[{"name":"x","type":"uint8"}],"outputs":[],"stateMutability":"pure"},
  {"type":"event","name":"ProviderRegistered","anonymous":false,"inputs":[
     {"name":"provider","type":"address","indexed":true},{"name":"uri","type":"string","indexed":true},
     {"name":"stake","type":"uint256","indexed":false},{"name":"models","type":"string[]","indexed":false}]},
  {"type":"error","name":"InsufficientStake","inputs":[{"name":"amount","type":"uint256"},
     {"name":"required","type":"uint256"}]},
  {"type":"receive","stateMutability":"payable"}
])";

ContractAbi load() { return unwrap(ContractAbi::parse(kAbi)); }

crypto::Address addr(uint8_t fill) {
  crypto::Address a;
  a.bytes.fill(fill);
  return a;
}

TEST(ContractAbi, ParsesEntriesAndSignatures) {
  auto abi = load();
  EXPECT_EQ(abi.functions().size(), 5u);
  EXPECT_EQ(abi.events().size(), 1u);
  EXPECT_EQ(abi.errors().size(), 1u);
  EXPECT_EQ(abi.constructor_inputs().size(), 2u);
  auto redeem = abi.function("redeem");
  ASSERT_TRUE(redeem);
  EXPECT_EQ(redeem->signature, "redeem((address,uint256,bytes,(bytes32,bytes32,uint8))[])");
  EXPECT_EQ(abi.function("stake")->selector, selector("stake(uint256)"));
  EXPECT_EQ(abi.event("ProviderRegistered")->signature, "ProviderRegistered(address,string,uint256,string[])");
}

TEST(ContractAbi, LookupErrorsAreClear) {
  auto abi = load();
  auto missing = abi.function("unstake");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_EQ(missing.error().message, "ABI: no function named 'unstake' (have: stake, stakeOf, redeem, ping, ping)");
  auto overloaded = abi.function("ping");
  ASSERT_FALSE(overloaded);
  EXPECT_NE(overloaded.error().message.find("overloaded"), std::string::npos);
  EXPECT_TRUE(abi.function("ping(uint8)"));
  EXPECT_FALSE(abi.event("Nope"));
  EXPECT_FALSE(ContractAbi::parse("{"));
  EXPECT_FALSE(ContractAbi::parse(R"([{"type":"function","name":"f","inputs":[{"name":"a","type":"uint7"}]}])"));
  EXPECT_FALSE(ContractAbi::parse(R"([{"type":"function","name":"f","inputs":[{"name":"a","type":"tuple"}]}])"));
}

TEST(ContractAbi, EncodesCallsAndConstructor) {
  auto abi = load();
  auto call = abi.function("stake")->encode_call({Value::uint(100)});
  ASSERT_TRUE(call);
  EXPECT_EQ(to_hex(*call), to_hex(selector("stake(uint256)")) + word("64"));
  auto back = abi.function("stake")->decode_input(*call);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back->get("amount")->as_uint(), 100);
  auto bad = abi.function("stake")->encode_call({Value::boolean(true)});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "stake(uint256): ABI value arg 0: expected uint256, got bool");
  auto ctor = abi.encode_constructor({Value::address(addr(0x11)), Value::uint(3600)});
  ASSERT_TRUE(ctor);
  EXPECT_EQ(to_hex(*ctor), "0x" + word(std::string(40, '1')) + word("e10"));
  Values tickets{Value::tuple({Value::address(addr(2)), Value::uint(7), Value::bytes(Bytes{1, 2}),
                               Value::tuple({Value::bytes(Hash32{}), Value::bytes(Hash32{}), Value::uint(27)})})};
  auto r = abi.function("redeem")->encode_call({Value::array(tickets)});
  ASSERT_TRUE(r) << r.error().to_string();
  auto in = abi.function("redeem")->decode_input(*r);
  ASSERT_TRUE(in);
  EXPECT_EQ(*in->get("tickets"), Value::array(tickets));
}

TEST(ContractAbi, DecodesOutputs) {
  auto abi = load();
  auto out = abi.function("stakeOf")->decode_output(hex(word("2a")));
  ASSERT_TRUE(out);
  EXPECT_EQ(*out->values.at(0).as_uint(), 42);
  EXPECT_FALSE(abi.function("stakeOf")->decode_output(hex(word("2a") + "00")));
  auto missing = out->get("nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

TEST(ContractAbi, DecodesLogsWithIndexedParams) {
  auto abi = load();
  auto ev = unwrap(abi.event("ProviderRegistered"));
  Hash32 provider_topic{};
  std::fill(provider_topic.begin() + 12, provider_topic.end(), 0xab);
  Hash32 uri_hash = crypto::keccak256(std::string_view("https://p.example"));
  Bytes data = unwrap(encode(std::vector<Type>{Type::uint(), Type::array(Type::string())},
                             Values{Value::uint(500), Value::array({Value::string("llama-3")})}));
  std::vector<Hash32> topics{ev.topic, provider_topic, uri_hash};
  auto log = ev.decode(topics, data);
  ASSERT_TRUE(log) << log.error().to_string();
  EXPECT_EQ(log->names, (std::vector<std::string>{"provider", "uri", "stake", "models"}));
  EXPECT_EQ(*log->get("provider")->as_address(), addr(0xab));
  EXPECT_EQ(*log->get("uri")->as_fixed<32>(), uri_hash);
  EXPECT_EQ(*log->get("stake")->as_uint(), 500);
  EXPECT_EQ(*log->get("models")->at(0)->as_string(), "llama-3");

  auto by_topic = abi.decode_log(topics, data);
  ASSERT_TRUE(by_topic);
  EXPECT_EQ(by_topic->event, "ProviderRegistered");

  EXPECT_FALSE(ev.decode(std::span(topics).first(2), data));  // topic count
  auto wrong = topics;
  wrong[0][0] ^= 1;
  EXPECT_FALSE(ev.decode(wrong, data));                        // topic0
  auto dirty = topics;
  dirty[1][0] = 1;
  EXPECT_FALSE(ev.decode(dirty, data));                        // dirty indexed address
}

TEST(Revert, ErrorStringPanicCustomAndUnknown) {
  auto abi = load();
  Bytes err = concat({ByteView(selector("Error(string)")),
                      unwrap(encode(Type::string(), Value::string("insufficient balance")))});
  EXPECT_EQ(to_hex(ByteView(err).first(4)), "0x08c379a0");
  auto r = abi.decode_revert(err);
  EXPECT_EQ(r.kind, Revert::Kind::error_string);
  EXPECT_EQ(r.message, "insufficient balance");

  Bytes panic = concat({ByteView(selector("Panic(uint256)")), hex(word("11"))});
  EXPECT_EQ(to_hex(ByteView(panic).first(4)), "0x4e487b71");
  r = decode_revert(panic);
  EXPECT_EQ(r.kind, Revert::Kind::panic);
  EXPECT_EQ(r.panic_code, 0x11);
  EXPECT_EQ(r.message, "panic 0x11: arithmetic overflow or underflow");
  EXPECT_EQ(panic_meaning(0x01), "assertion failed");
  EXPECT_EQ(panic_meaning(0x12), "division or modulo by zero");
  EXPECT_EQ(panic_meaning(0x32), "array index out of bounds");

  Bytes custom = concat({ByteView(selector("InsufficientStake(uint256,uint256)")), hex(word("64") + word("c8"))});
  r = abi.decode_revert(custom);
  EXPECT_EQ(r.kind, Revert::Kind::custom);
  EXPECT_EQ(r.message, "InsufficientStake(amount=100, required=200)");
  EXPECT_EQ(*r.args.get("required")->as_uint(), 200);
  // Without the contract ABI the same data is unknown and shown as hex.
  r = decode_revert(custom);
  EXPECT_EQ(r.kind, Revert::Kind::unknown);
  EXPECT_EQ(r.message, "unknown revert data " + to_hex(ByteView(custom).first(64)) + "... (68 bytes)");

  r = abi.decode_revert({});
  EXPECT_EQ(r.kind, Revert::Kind::empty);
  r = abi.decode_revert(hex("deadbeef"));
  EXPECT_EQ(r.message, "unknown revert data 0xdeadbeef");
  // A truncated Error(string) is not trusted as a message.
  r = abi.decode_revert(ByteView(err).first(40));
  EXPECT_EQ(r.kind, Revert::Kind::unknown);
}

}  // namespace
}  // namespace dgrid::eth::abi
