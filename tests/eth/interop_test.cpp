// dgrid's RLP, ABI and transaction codecs against ethers v6 (tests/interop/eth_codecs.mjs).
// Each test batches all its cases into one node run.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "eth/abi.hpp"
#include "eth/abi_random.hpp"
#include "eth/rlp.hpp"
#include "eth/transaction.hpp"
#include "eth/tx_random.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace dgrid::eth {
namespace {

using nlohmann::json;

json run_ethers(std::string_view kind, const json& cases) {
  json req = {{"kind", kind}, {"cases", cases}};
  auto r = test::run_node_script("eth_codecs.mjs", {}, req.dump());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  if (r.exit_code != 0) return json::array();
  return json::parse(r.out);
}

// A random RLP structure as the JSON ethers takes (nested arrays of 0x-hex strings).
json random_rlp(std::mt19937_64& rng, Bytes& out, int depth) {
  if (depth > 3 || rng() % 3 == 0) {
    Bytes s(rng() % 4 == 0 ? rng() % 100 : rng() % 3);
    for (auto& b : s) b = static_cast<uint8_t>(rng() % 3 == 0 ? rng() % 0x80 : rng());
    rlp::encode(out, s);
    return to_hex(s);
  }
  json list = json::array();
  size_t mark = rlp::begin_list(out);
  for (size_t n = rng() % 5, i = 0; i < n; ++i) list.push_back(random_rlp(rng, out, depth + 1));
  rlp::end_list(out, mark);
  return list;
}

TEST(EthersInterop, Rlp) {
  DGRID_INTEROP_OR_SKIP();
  std::mt19937_64 rng(11);
  json cases = json::array();
  std::vector<Bytes> ours;
  for (int i = 0; i < 300; ++i) {
    Bytes enc;
    json value = random_rlp(rng, enc, 0);
    cases.push_back({{"value", value}, {"ours", to_hex(enc)}});
    ours.push_back(std::move(enc));
  }
  json res = run_ethers("rlp", cases);
  ASSERT_EQ(res.size(), cases.size());
  for (size_t i = 0; i < res.size(); ++i) {
    EXPECT_EQ(res[i]["enc"], to_hex(ours[i])) << cases[i]["value"].dump();
    EXPECT_EQ(res[i]["dec"], cases[i]["value"]) << i;
  }
}

// ABI values in the JSON form ethers' AbiCoder takes and plain() in the script returns.
json abi_json(const abi::Value& v) {
  struct Visitor {
    json operator()(const u256& x) const { return to_dec(x); }
    json operator()(const i256& x) const { return x.str(); }
    json operator()(const crypto::Address& a) const { return a.hex(); }
    json operator()(bool b) const { return b; }
    json operator()(const Bytes& b) const { return to_hex(b); }
    json operator()(const std::string& s) const { return s; }
    json operator()(const std::vector<abi::Value>& list) const {
      json out = json::array();
      for (const auto& x : list) out.push_back(abi_json(x));
      return out;
    }
  };
  return std::visit(Visitor{}, v.storage());
}

TEST(EthersInterop, Abi) {
  DGRID_INTEROP_OR_SKIP();
  abi::RandomAbi g{std::mt19937_64(13)};
  json cases = json::array();
  std::vector<Bytes> ours;
  for (int i = 0; i < 300; ++i) {
    std::vector<abi::Type> ts(1 + g.pick(3));
    for (auto& t : ts) t = g.type(0);
    abi::Values vs;
    for (const auto& t : ts) vs.push_back(g.value(t));
    json types = json::array(), values = json::array();
    for (size_t k = 0; k < ts.size(); ++k) {
      types.push_back(ts[k].canonical());
      values.push_back(abi_json(vs[k]));
    }
    Bytes enc = unwrap(abi::encode(ts, vs));
    cases.push_back({{"types", types}, {"values", values}, {"ours", to_hex(enc)}});
    ours.push_back(std::move(enc));
  }
  json res = run_ethers("abi", cases);
  ASSERT_EQ(res.size(), cases.size());
  for (size_t i = 0; i < res.size(); ++i) {
    EXPECT_EQ(res[i]["enc"], to_hex(ours[i])) << cases[i]["types"].dump();
    EXPECT_EQ(res[i]["dec"], cases[i]["values"]) << cases[i]["types"].dump();
  }
}

json tx_json(const Transaction& tx) {
  json j = {{"type", static_cast<int>(tx.type)},
            {"nonce", tx.nonce},
            {"gasLimit", std::to_string(tx.gas_limit)},
            {"value", to_dec(tx.value)},
            {"data", to_hex(tx.data)},
            {"to", tx.to ? json(tx.to->hex()) : json(nullptr)}};
  if (tx.type != TxType::legacy || tx.chain_id != 0) j["chainId"] = std::to_string(tx.chain_id);
  if (tx.type == TxType::eip1559) {
    j["maxPriorityFeePerGas"] = to_dec(tx.max_priority_fee_per_gas);
    j["maxFeePerGas"] = to_dec(tx.max_fee_per_gas);
  } else {
    j["gasPrice"] = to_dec(tx.gas_price);
  }
  if (tx.type != TxType::legacy) {
    json al = json::array();
    for (const auto& e : tx.access_list) {
      json keys = json::array();
      for (const auto& k : e.storage_keys) keys.push_back(to_hex(k));
      al.push_back({{"address", e.address.hex()}, {"storageKeys", keys}});
    }
    j["accessList"] = al;
  }
  return j;
}

TEST(EthersInterop, SignedTransactions) {
  DGRID_INTEROP_OR_SKIP();
  std::mt19937_64 rng(17);
  json cases = json::array();
  std::vector<SignedTx> ours;
  for (int i = 0; i < 90; ++i) {
    TxType type = i % 3 == 0 ? TxType::legacy : i % 3 == 1 ? TxType::eip1559 : TxType::access_list;
    Transaction tx = random_tx(rng, type);
    tx.nonce %= uint64_t{1} << 53;  // ethers keeps nonces as JS numbers
    auto key = crypto::PrivateKey::generate();
    SignedTx s = sign(tx, key);
    cases.push_back({{"key", to_hex(key.secret())}, {"tx", tx_json(tx)}, {"ours", to_hex(s.raw)}});
    ours.push_back(std::move(s));
  }
  json res = run_ethers("tx", cases);
  ASSERT_EQ(res.size(), cases.size());
  for (size_t i = 0; i < res.size(); ++i) {
    EXPECT_EQ(res[i]["raw"], to_hex(ours[i].raw)) << cases[i]["tx"].dump();
    EXPECT_EQ(res[i]["hash"], to_hex(ours[i].hash)) << i;
    EXPECT_EQ(res[i]["ours_hash"], to_hex(ours[i].hash)) << i;
    EXPECT_EQ(res[i]["ours_from"], ours[i].from.checksummed()) << i;
  }
}

}  // namespace
}  // namespace dgrid::eth
