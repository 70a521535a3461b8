// Provider-side ticket checks: one accepted case, every refusal, win detection, max float
// and the recipient-rand derivation.
#include "market/credit.hpp"

#include <gtest/gtest.h>

#include "crypto/keccak.hpp"
#include "market/market_random.hpp"

namespace dgrid::market {
namespace {

class CreditTest : public ::testing::Test {
 protected:
  CreditTest() : rnd_(20), sender_(rnd_.key()), provider_(rnd_.key()) {
    secret_ = rnd_.hash();
    rand_ = derive_recipient_rand(secret_, 3);
    check_.me = provider_.address();
    check_.domain_separator = eth::dgrid_domain_separator(31337, rnd_.address());
    check_.current_block = 1000;
    check_.min_blocks_left = 5;
    check_.expected_win_prob = eth::win_prob_for(1, 10);
    check_.max_face_value = 1'000'000;
    check_.recipient_rand = [this](const Hash32& h) -> std::optional<u256> {
      if (h == eth::recipient_rand_hash(rand_)) return rand_;
      return std::nullopt;
    };
  }

  eth::SignedTicket ticket(u256 nonce = 1) {
    eth::SignedTicket st;
    st.ticket.recipient = provider_.address();
    st.ticket.sender = sender_.address();
    st.ticket.face_value = 500'000;
    st.ticket.win_prob = check_.expected_win_prob;
    st.ticket.sender_nonce = nonce;
    st.ticket.recipient_rand_hash = eth::recipient_rand_hash(rand_);
    st.ticket.expiration_block = 2000;
    resign(st);
    return st;
  }
  void resign(eth::SignedTicket& st) { st.sig = eth::sign_ticket(st.ticket, check_.domain_separator, sender_); }

  void expect_refused(const eth::SignedTicket& st, Errc code, std::string_view needle) {
    auto r = check_ticket(st, check_);
    ASSERT_FALSE(r.has_value()) << needle;
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  }

  test::MarketRandom rnd_;
  crypto::PrivateKey sender_, provider_;
  Hash32 secret_{};
  u256 rand_ = 0;
  TicketCheck check_;
};

TEST_F(CreditTest, AcceptsAValidTicket) {
  auto st = ticket();
  auto r = check_ticket(st, check_);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->ticket.recipient_rand, rand_);
  EXPECT_EQ(r->ticket.ticket, st.ticket);
  EXPECT_EQ(r->digest, eth::ticket_digest(st.ticket, check_.domain_separator));
  EXPECT_EQ(r->ev, ticket_ev(500'000, check_.expected_win_prob));
  EXPECT_EQ(r->winning, eth::is_winning(st.sig, rand_, st.ticket.win_prob));
}

TEST_F(CreditTest, ExactlyAtTheExpiryMarginIsAccepted) {
  auto st = ticket();
  st.ticket.expiration_block = check_.current_block + check_.min_blocks_left;
  resign(st);
  EXPECT_TRUE(check_ticket(st, check_).has_value());
}

TEST_F(CreditTest, WinningFollowsTheContractRule) {
  // Over many nonces about 1 in 10 win, and each verdict is the contract's rule.
  int wins = 0;
  for (int i = 0; i < 400; ++i) {
    auto st = ticket(i);
    auto r = check_ticket(st, check_);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->winning, eth::is_winning(st.sig, rand_, st.ticket.win_prob));
    wins += r->winning;
  }
  EXPECT_GT(wins, 15);
  EXPECT_LT(wins, 80);
  check_.expected_win_prob = ~u256(0);
  auto sure = ticket();
  sure.ticket.win_prob = ~u256(0);
  resign(sure);
  auto r = check_ticket(sure, check_);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->winning);
}

TEST_F(CreditTest, RefusesBadTickets) {
  auto st = ticket();
  st.ticket.face_value = 0;
  resign(st);
  expect_refused(st, Errc::invalid_argument, "face value is zero");

  st = ticket();
  st.ticket.recipient = rnd_.address();
  resign(st);
  expect_refused(st, Errc::invalid_argument, "not this provider " + provider_.address().checksummed());

  st = ticket();
  st.ticket.recipient_rand_hash = rnd_.hash();
  resign(st);
  expect_refused(st, Errc::invalid_argument, "unknown recipient_rand_hash");

  st = ticket();
  st.ticket.win_prob = check_.expected_win_prob + 1;
  resign(st);
  expect_refused(st, Errc::invalid_argument, "is not the advertised");

  st = ticket();
  st.ticket.expiration_block = 999;
  resign(st);
  expect_refused(st, Errc::invalid_argument, "expired at block 999 (current block 1000)");
  st.ticket.expiration_block = 1004;
  resign(st);
  expect_refused(st, Errc::invalid_argument, "expires at block 1004, fewer than 5 blocks");

  st = ticket();
  st.ticket.face_value = check_.max_face_value + 1;
  resign(st);
  expect_refused(st, Errc::invalid_argument, "exceeds what the sender's deposit and reserve cover (1000000)");

  // Signed by someone else, or changed after signing.
  st = ticket();
  st.sig = eth::sign_ticket(st.ticket, check_.domain_separator, rnd_.key());
  expect_refused(st, Errc::permission_denied, "not by its sender " + sender_.address().checksummed());
  st = ticket();
  st.ticket.sender_nonce++;
  expect_refused(st, Errc::permission_denied, "not by its sender");
  st = ticket();
  st.sig = eth::sign_ticket(st.ticket, rnd_.hash(), sender_);  // another domain
  expect_refused(st, Errc::permission_denied, "not by its sender");

  // High s: the EVM would accept it, but it is a second valid encoding of one signature.
  st = ticket();
  const u256 n("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");
  st.sig.s = to_be32(n - from_be(st.sig.s).value());
  st.sig.recid ^= 1;
  expect_refused(st, Errc::permission_denied, "bad signature");
  st = ticket();
  st.sig.r = Hash32{};
  expect_refused(st, Errc::permission_denied, "bad signature");
}

TEST_F(CreditTest, NoRandLookupRefusesEverything) {
  check_.recipient_rand = nullptr;
  expect_refused(ticket(), Errc::invalid_argument, "unknown recipient_rand_hash");
}

TEST(Credit, MaxFloat) {
  EXPECT_EQ(max_float(100, 90, 3), 130);
  EXPECT_EQ(max_float(100, 90, 0), 190);  // no registered recipients: the whole reserve
  EXPECT_EQ(max_float(0, 0, 5), 0);
  EXPECT_EQ(max_float(~u256(0), 10, 1), ~u256(0));
}

TEST(Credit, RecipientRandDerivation) {
  test::MarketRandom rnd(21);
  const auto secret = rnd.hash();
  Bytes pre(secret.begin(), secret.end());
  for (int i = 0; i < 7; ++i) pre.push_back(0);
  pre.push_back(9);
  EXPECT_EQ(to_be32(derive_recipient_rand(secret, 9)), crypto::keccak256(pre));
  EXPECT_NE(derive_recipient_rand(secret, 9), derive_recipient_rand(secret, 10));
  EXPECT_NE(derive_recipient_rand(secret, 9), derive_recipient_rand(rnd.hash(), 9));
  EXPECT_EQ(derive_recipient_rand(secret, 1ull << 40), derive_recipient_rand(secret, 1ull << 40));
}

}  // namespace
}  // namespace dgrid::market
