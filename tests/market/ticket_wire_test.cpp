// Ticket JSON, the X-Dgrid-Tickets header, ticket parameters, EV and the issuer.
#include "market/ticket_wire.hpp"

#include <gtest/gtest.h>

#include "market/market_random.hpp"

namespace dgrid::market {
namespace {

using nlohmann::json;

eth::SignedTicket signed_ticket(test::MarketRandom& rnd, const Hash32& domain) {
  auto key = rnd.key();
  eth::SignedTicket st;
  st.ticket = rnd.ticket(key.address());
  st.sig = eth::sign_ticket(st.ticket, domain, key);
  return st;
}

TEST(TicketWire, JsonRoundTrip) {
  test::MarketRandom rnd(10);
  const auto domain = rnd.hash();
  for (int i = 0; i < 100; ++i) {
    auto st = signed_ticket(rnd, domain);
    json j = ticket_to_json(st);
    EXPECT_EQ(j["win_prob"].get<std::string>().size(), 66u);
    EXPECT_EQ(j["sender"], st.ticket.sender.checksummed());
    auto back = ticket_from_json(json::parse(j.dump()));
    ASSERT_TRUE(back.has_value()) << back.error().message;
    EXPECT_EQ(back->ticket, st.ticket);
    EXPECT_EQ(back->sig, st.sig);
    EXPECT_EQ(back->recipient_rand, 0);
  }
}

TEST(TicketWire, ShortWinProbHexIsAccepted) {
  test::MarketRandom rnd(11);
  auto st = signed_ticket(rnd, rnd.hash());
  json j = ticket_to_json(st);
  j["win_prob"] = "0x1";
  auto back = ticket_from_json(j);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(back->ticket.win_prob, 1);
}

TEST(TicketWire, JsonRejectsEveryMalformedField) {
  test::MarketRandom rnd(12);
  const json good = ticket_to_json(signed_ticket(rnd, rnd.hash()));
  auto expect_error = [&](const json& bad, std::string_view needle) {
    auto res = ticket_from_json(bad);
    ASSERT_FALSE(res.has_value()) << bad.dump();
    EXPECT_EQ(res.error().code, Errc::malformed);
    EXPECT_NE(res.error().message.find(needle), std::string::npos) << res.error().message;
  };
  for (const auto& item : good.items()) {
    json missing = good;
    missing.erase(item.key());
    expect_error(missing, "missing field " + item.key());
    json wrong = good;
    wrong[item.key()] = 7;
    expect_error(wrong, item.key());
  }
  auto with = [&](std::string_view field, json value) {
    json j = good;
    j[std::string(field)] = std::move(value);
    return j;
  };
  expect_error(with("face_value", "1e18"), "face_value: expected a decimal string");
  expect_error(with("sender_nonce", "0x10"), "sender_nonce");
  expect_error(with("expiration_block", " 5"), "expiration_block");
  expect_error(with("win_prob", "0x"), "win_prob");
  expect_error(with("win_prob", "0x" + std::string(65, 'f')), "win_prob");
  expect_error(with("win_prob", "123"), "win_prob");
  expect_error(with("recipient_rand_hash", "0x00"), "recipient_rand_hash");
  expect_error(with("aux_data", ""), "aux_data");
  expect_error(with("recipient", "0xnothex"), "recipient");
  expect_error(with("signature", "0x" + std::string(130, '0')), "signature");
  json extra = good;
  extra["recipient_rand"] = "1";
  expect_error(extra, "unknown field recipient_rand");
}

TEST(TicketWire, HeaderRoundTripAndLimits) {
  test::MarketRandom rnd(13);
  const auto domain = rnd.hash();
  std::vector<eth::SignedTicket> tickets;
  for (size_t i = 0; i < kMaxTicketsPerHeader; ++i) tickets.push_back(signed_ticket(rnd, domain));
  const std::string header = encode_tickets_header(tickets);
  EXPECT_LE(header.size(), kMaxTicketsHeaderBytes);
  EXPECT_EQ(header.find('\n'), std::string::npos);  // one header line
  auto back = decode_tickets_header(header);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  ASSERT_EQ(back->size(), tickets.size());
  for (size_t i = 0; i < tickets.size(); ++i) {
    EXPECT_EQ((*back)[i].ticket, tickets[i].ticket);
    EXPECT_EQ((*back)[i].sig, tickets[i].sig);
  }

  auto expect_error = [](std::string_view h, std::string_view needle) {
    auto res = decode_tickets_header(h);
    ASSERT_FALSE(res.has_value()) << h.substr(0, 100);
    EXPECT_NE(res.error().message.find(needle), std::string::npos) << res.error().message;
    EXPECT_NE(res.error().message.find("X-Dgrid-Tickets"), std::string::npos) << res.error().message;
  };
  tickets.push_back(tickets[0]);
  auto too_many = json::parse(encode_tickets_header(tickets));
  expect_error(too_many.dump(), "65 tickets, more than the limit of 64");
  expect_error("[]", "empty");
  expect_error("{}", "expected a JSON array");
  expect_error("[{", "not valid JSON");
  expect_error("", "not valid JSON");
  expect_error(std::string(kMaxTicketsHeaderBytes + 1, ' '), "more than the limit");
  json second_bad = json::parse(encode_tickets_header(std::span(tickets).first(2)));
  second_bad[1]["face_value"] = "lots";
  expect_error(second_bad.dump(), "tickets[1]: ticket: face_value");
}

TEST(TicketWire, ExpectedValue) {
  const u256 max = ~u256(0);
  EXPECT_EQ(ticket_ev(1000, u256(1) << 255), 500);
  EXPECT_EQ(ticket_ev(1000, 0), 0);
  EXPECT_EQ(ticket_ev(0, max), 0);
  EXPECT_EQ(ticket_ev(max, max), max - 1);  // (2^256-1)^2 >> 256 = 2^256 - 2
  EXPECT_EQ(ticket_ev(1'000'000, eth::win_prob_for(1, 1000)), 999);  // floor of 1000 - tiny
  EXPECT_EQ(ticket_ev(u256(3) << 254, u256(1) << 255), u256(3) << 253);
}

TEST(TicketWire, ParamsJson) {
  test::MarketRandom rnd(14);
  TicketParams p{rnd.address(), rnd.hash(), rnd.below_pow2(256), rnd.below_pow2(256), rnd.u64(), rnd.address(), 31337};
  json j = ticket_params_to_json(p);
  EXPECT_EQ(j["chain_id"], 31337);
  EXPECT_TRUE(j["expiration_block"].is_string());
  auto back = ticket_params_from_json(json::parse(j.dump()));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(*back, p);
  for (const auto& item : j.items()) {
    json missing = j;
    missing.erase(item.key());
    auto res = ticket_params_from_json(missing);
    ASSERT_FALSE(res.has_value());
    EXPECT_NE(res.error().message.find("ticket_params: missing field " + item.key()), std::string::npos);
  }
  json big = j;
  big["expiration_block"] = "18446744073709551616";  // 2^64
  auto res = ticket_params_from_json(big);
  ASSERT_FALSE(res.has_value());
  EXPECT_NE(res.error().message.find("does not fit 64 bits"), std::string::npos) << res.error().message;
}

TEST(TicketWire, IssuerGivesTheFewestTicketsCoveringTheAmount) {
  test::MarketRandom rnd(15);
  auto key = rnd.key();
  const Hash32 domain = eth::dgrid_domain_separator(31337, rnd.address());
  TicketIssuer issuer(key, domain);
  EXPECT_EQ(issuer.sender(), key.address());
  TicketParams p{rnd.address(), rnd.hash(), 1'000'000, eth::win_prob_for(1, 100), 1234, rnd.address(), 31337};
  const u256 ev = ticket_ev(p.face_value, p.win_prob);  // 9999 (floor of 10000 - tiny)
  ASSERT_EQ(ev, 9999);

  u256 nonce = 7;
  auto none = issuer.issue(p, 0, nonce);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(nonce, 7);

  for (u256 amount : {u256(1), ev, ev + 1, 5 * ev, 5 * ev + 1, 64 * ev}) {
    const u256 start = nonce;
    auto tickets = issuer.issue(p, amount, nonce);
    ASSERT_TRUE(tickets.has_value()) << tickets.error().message;
    const size_t n = tickets->size();
    EXPECT_GE(ev * n, amount);
    EXPECT_LT(ev * (n - 1), amount);  // one fewer would not do
    EXPECT_EQ(nonce, start + n);
    for (size_t i = 0; i < n; ++i) {
      const auto& t = (*tickets)[i];
      EXPECT_EQ(t.ticket.sender_nonce, start + i);
      EXPECT_EQ(t.ticket.recipient, p.recipient);
      EXPECT_EQ(t.ticket.recipient_rand_hash, p.recipient_rand_hash);
      EXPECT_EQ(t.ticket.expiration_block, 1234);
      EXPECT_EQ(crypto::recover_address(eth::ticket_digest(t.ticket, domain), t.sig).value(), key.address());
    }
  }
  auto too_many = issuer.issue(p, 64 * ev + 1, nonce);
  ASSERT_FALSE(too_many.has_value());
  EXPECT_NE(too_many.error().message.find("needs 65 tickets"), std::string::npos) << too_many.error().message;
  p.win_prob = 0;
  auto zero = issuer.issue(p, 1, nonce);
  ASSERT_FALSE(zero.has_value());
  EXPECT_NE(zero.error().message.find("zero expected value"), std::string::npos);
}

}  // namespace
}  // namespace dgrid::market
