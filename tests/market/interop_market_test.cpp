// dgrid's receipts, tickets and canonical requests against ethers v6 (tests/interop/market.mjs):
// the same EIP-712 digests, signers and (RFC 6979) signatures, and the same ABI encoding.
#include <gtest/gtest.h>

#include <bit>

#include "market/canonical.hpp"
#include "market/market_random.hpp"
#include "market/receipt.hpp"
#include "market/ticket_wire.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace dgrid::market {
namespace {

using nlohmann::json;

json ethers(std::string_view op, const json& cases) {
  auto r = dgrid::test::run_node_script("market.mjs", {}, json{{"op", op}, {"cases", cases}}.dump());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  if (r.exit_code != 0) return json::array();
  return json::parse(r.out);
}

TEST(MarketInterop, ReceiptsMatchEthers) {
  DGRID_INTEROP_OR_SKIP();
  test::MarketRandom rnd(50);
  json cases = json::array();
  std::vector<SignedReceipt> ours;
  std::vector<crypto::PrivateKey> keys;
  for (int i = 0; i < 60; ++i) {
    auto key = rnd.key();
    auto r = rnd.receipt();
    r.provider = key.address();
    auto s = sign_receipt(r, rnd.address(), key);
    json j = receipt_to_json(s);
    // JavaScript numbers lose integers above 2^53; the uint64 fields go over as decimal
    // strings so that the full range is compared.
    for (const char* f : {"prompt_tokens", "completion_tokens", "chain_id", "timestamp"})
      j[f] = std::to_string(j[f].get<uint64_t>());
    cases.push_back({{"receipt", j}, {"key", to_hex(key.secret())}});
    ours.push_back(s);
    keys.push_back(key);
  }
  json res = ethers("receipts", cases);
  ASSERT_EQ(res.size(), ours.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(res[i]["digest"], to_hex(receipt_digest(ours[i].receipt, ours[i].verifying_contract))) << i;
    EXPECT_EQ(res[i]["recovered"], keys[i].address().checksummed()) << i;
    EXPECT_EQ(res[i]["signature"], ours[i].signature.hex()) << i;
  }
}

TEST(MarketInterop, TicketsMatchEthers) {
  DGRID_INTEROP_OR_SKIP();
  test::MarketRandom rnd(51);
  json cases = json::array();
  std::vector<Hash32> digests;
  std::vector<eth::SignedTicket> ours;
  for (int i = 0; i < 60; ++i) {
    auto key = rnd.key();
    const uint64_t chain_id = i % 3 == 0 ? rnd.u64() % (uint64_t{1} << 53) : 31337;
    const auto broker = rnd.address();
    const Hash32 domain = eth::dgrid_domain_separator(chain_id, broker);
    eth::SignedTicket st;
    st.ticket = rnd.ticket(key.address());
    st.sig = eth::sign_ticket(st.ticket, domain, key);
    // Through the header codec, as a provider receives it.
    auto wire = decode_tickets_header(encode_tickets_header(std::span(&st, 1)));
    ASSERT_TRUE(wire.has_value()) << wire.error().message;
    cases.push_back({{"ticket", ticket_to_json(wire->at(0))},
                     {"chain_id", chain_id},
                     {"broker", broker.checksummed()},
                     {"key", to_hex(key.secret())}});
    digests.push_back(eth::ticket_digest(st.ticket, domain));
    ours.push_back(st);
  }
  json res = ethers("tickets", cases);
  ASSERT_EQ(res.size(), ours.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(res[i]["digest"], to_hex(digests[i])) << i;
    EXPECT_EQ(res[i]["recovered"], ours[i].ticket.sender.checksummed()) << i;
    EXPECT_EQ(res[i]["signature"], ours[i].sig.hex()) << i;
  }
}

TEST(MarketInterop, CanonicalRequestsMatchAbiCoder) {
  DGRID_INTEROP_OR_SKIP();
  test::MarketRandom rnd(52);
  json cases = json::array();
  std::vector<Bytes> encodings;
  std::vector<json> values;
  for (int i = 0; i < 100; ++i) {
    const auto r = rnd.request();
    json prompt = json::array(), stop = json::array();
    for (uint32_t t : r.prompt) prompt.push_back(std::to_string(t));
    for (const auto& s : r.stop) stop.push_back(s);
    json v = {to_hex(r.model),
              prompt,
              std::to_string(r.max_tokens),
              std::to_string(std::bit_cast<uint32_t>(r.temperature)),
              std::to_string(r.top_k),
              std::to_string(std::bit_cast<uint32_t>(r.top_p)),
              std::to_string(r.seed),
              stop};
    encodings.push_back(encode_canonical(r));
    values.push_back(v);
    cases.push_back({{"enc", to_hex(encodings.back())}, {"values", v}});
  }
  json res = ethers("canonical", cases);
  ASSERT_EQ(res.size(), cases.size());
  for (size_t i = 0; i < res.size(); ++i) {
    EXPECT_EQ(res[i]["dec"], values[i]) << i;
    EXPECT_EQ(res[i]["enc"], to_hex(encodings[i])) << i;
    // ethers' encoding decodes strictly here too.
    auto back = decode_canonical(*from_hex(res[i]["enc"].get<std::string>()));
    EXPECT_TRUE(back.has_value()) << (back ? "" : back.error().message);
  }
}

}  // namespace
}  // namespace dgrid::market
